//! Assembling the statistical totals from maintained sums: sums over the period, sums before
//! it (for cases carried over), and the open cases' due days (for overdue counts).

use std::collections::BTreeMap;

use crate::domain::model::PetitionType;

/// An exact rate with its display percent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rate {
    pub numerator: u64,
    pub denominator: u64,
}

impl Rate {
    /// Percent rounded half up: 22 / 35 → 63; 0 when nothing was to resolve.
    pub fn percent(&self) -> u32 {
        if self.denominator == 0 {
            return 0;
        }
        let p = (self.numerator * 200 + self.denominator) / (self.denominator * 2);
        u32::try_from(p).unwrap_or(u32::MAX)
    }
}

/// The totals of one row of a report.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Totals {
    pub visits: u64,
    pub persons: u64,
    pub crowd_groups: u64,
    pub crowd_persons: u64,
    pub head_sessions: u64,
    pub matters_first: u64,
    pub matters_repeat: u64,
    pub petitions_received: u64,
    pub petitions_eligible: u64,
    pub petitions_in_jurisdiction: u64,
    pub petitions_accepted: u64,
    pub petitions_transferred: u64,
    pub petitions_guided: u64,
    pub petitions_urged: u64,
    pub petitions_returned: u64,
    pub petitions_withdrawn: u64,
    pub petitions_filed: u64,
    pub cases_carried_over: u64,
    pub cases_accepted: u64,
    pub cases_to_resolve: u64,
    pub cases_resolved: u64,
    pub cases_resolved_on_time: u64,
    pub cases_overdue: u64,
    pub outcome_correct: u64,
    pub outcome_partly_correct: u64,
    pub outcome_incorrect: u64,
    pub outcome_withdrawn: u64,
    pub outcome_answered: u64,
    pub money_to_recover_vnd: i64,
    pub money_recovered_vnd: i64,
    pub land_to_recover_m2: f64,
    pub land_recovered_m2: f64,
    pub resolution_rate: Rate,
}

fn n(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// Whether a metric's type part matches the filter (None: every type).
fn type_matches(kind: &str, filter: Option<PetitionType>) -> bool {
    filter.is_none_or(|t| t.as_str() == kind)
}

/// Prefixes of the metrics `assemble` reads from the sums before the period (carried-over
/// cases); a report reads no other metric there.
pub const CARRY_OVER_METRICS: [&str; 2] = ["case.accepted.", "case.closed."];

/// Prefixes of the metrics `assemble` reads from the sums up to the period's end (overdue).
pub const OVERDUE_METRICS: [&str; 1] = ["case.overdue."];

/// Builds the totals of one row. `period`: sums over the period's days; `before`: sums over
/// every day before it; `overdue`: sums up to the period's last day, or today if earlier
/// (the overdue count as it stood then). `only` restricts petitions and cases to one type (reception is then zero).
pub fn assemble(
    period: &BTreeMap<String, i64>,
    before: &BTreeMap<String, i64>,
    overdue: &BTreeMap<String, i64>,
    only: Option<PetitionType>,
) -> Totals {
    let mut t = Totals::default();
    for (metric, &value) in period {
        let parts: Vec<&str> = metric.split('.').collect();
        match parts.as_slice() {
            [m] if only.is_none() => match *m {
                "visits" => t.visits += n(value),
                "persons" => t.persons += n(value),
                "crowd_groups" => t.crowd_groups += n(value),
                "crowd_persons" => t.crowd_persons += n(value),
                "head_sessions" => t.head_sessions += n(value),
                "matters_first" => t.matters_first += n(value),
                "matters_repeat" => t.matters_repeat += n(value),
                _ => {}
            },
            ["petition", what, kind] if type_matches(kind, only) => {
                let slot = match *what {
                    "received" => &mut t.petitions_received,
                    "eligible" => &mut t.petitions_eligible,
                    "in_jurisdiction" => &mut t.petitions_in_jurisdiction,
                    "accepted" => &mut t.petitions_accepted,
                    "transferred" => &mut t.petitions_transferred,
                    "guided" => &mut t.petitions_guided,
                    "urged" => &mut t.petitions_urged,
                    "returned" => &mut t.petitions_returned,
                    "withdrawn" => &mut t.petitions_withdrawn,
                    "filed" => &mut t.petitions_filed,
                    _ => continue,
                };
                *slot += n(value);
            }
            ["case", what, kind] if type_matches(kind, only) => match *what {
                "accepted" => t.cases_accepted += n(value),
                "closed" => t.cases_resolved += n(value),
                "on_time" => t.cases_resolved_on_time += n(value),
                "money_to_recover_vnd" => t.money_to_recover_vnd += value,
                "money_recovered_vnd" => t.money_recovered_vnd += value,
                "land_to_recover_dm2" => t.land_to_recover_m2 += value as f64 / 100.0,
                "land_recovered_dm2" => t.land_recovered_m2 += value as f64 / 100.0,
                _ => {}
            },
            ["case", "outcome", kind, outcome] if type_matches(kind, only) => {
                let slot = match *outcome {
                    "complaint_correct" | "denunciation_founded" => &mut t.outcome_correct,
                    "complaint_partly_correct" | "denunciation_partly_founded" => {
                        &mut t.outcome_partly_correct
                    }
                    "complaint_incorrect" | "denunciation_unfounded" => &mut t.outcome_incorrect,
                    "withdrawn" => &mut t.outcome_withdrawn,
                    "recommendation_answered" => &mut t.outcome_answered,
                    _ => continue,
                };
                *slot += n(value);
            }
            _ => {}
        }
    }
    let mut accepted_before = 0i64;
    let mut closed_before = 0i64;
    for (metric, &value) in before {
        match metric.split('.').collect::<Vec<_>>().as_slice() {
            ["case", "accepted", kind] if type_matches(kind, only) => accepted_before += value,
            ["case", "closed", kind] if type_matches(kind, only) => closed_before += value,
            _ => {}
        }
    }
    for (metric, &value) in overdue {
        if let ["case", "overdue", kind] = metric.split('.').collect::<Vec<_>>().as_slice()
            && type_matches(kind, only)
        {
            t.cases_overdue += n(value);
        }
    }
    t.cases_carried_over = n(accepted_before - closed_before);
    t.cases_to_resolve = t.cases_carried_over + t.cases_accepted;
    t.resolution_rate = Rate {
        numerator: t.cases_resolved,
        denominator: t.cases_to_resolve,
    };
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_rounds_half_up() {
        let r = |a, b| {
            Rate {
                numerator: a,
                denominator: b,
            }
            .percent()
        };
        assert_eq!(r(22, 35), 63);
        assert_eq!(r(1, 8), 13); // 12.5 → 13
        assert_eq!(r(1, 3), 33);
        assert_eq!(r(2, 3), 67);
        assert_eq!(r(0, 0), 0);
        assert_eq!(r(5, 5), 100);
    }

    #[test]
    fn before_and_overdue_read_only_their_metrics() {
        let all = BTreeMap::from([
            ("case.accepted.complaint".to_string(), 10),
            ("case.closed.complaint".to_string(), 4),
            ("case.overdue.complaint".to_string(), 3),
            ("case.on_time.complaint".to_string(), 2),
            ("case.outcome.complaint.complaint_correct".to_string(), 2),
            ("case.money_recovered_vnd.complaint".to_string(), 7),
            ("petition.received.complaint".to_string(), 9),
            ("visits".to_string(), 5),
        ]);
        let only = |prefixes: &[&str]| -> BTreeMap<String, i64> {
            all.iter()
                .filter(|(m, _)| prefixes.iter().any(|p| m.starts_with(p)))
                .map(|(m, v)| (m.clone(), *v))
                .collect()
        };
        for kind in std::iter::once(None).chain(PetitionType::ALL.iter().map(|t| Some(*t))) {
            assert_eq!(
                assemble(&all, &all, &all, kind),
                assemble(
                    &all,
                    &only(&CARRY_OVER_METRICS),
                    &only(&OVERDUE_METRICS),
                    kind
                )
            );
        }
    }

    #[test]
    fn carried_over_is_accepted_minus_closed_before() {
        let before = BTreeMap::from([
            ("case.accepted.complaint".to_string(), 10),
            ("case.closed.complaint".to_string(), 4),
            ("case.accepted.denunciation".to_string(), 3),
        ]);
        let period = BTreeMap::from([
            ("case.accepted.complaint".to_string(), 29),
            ("case.closed.complaint".to_string(), 22),
        ]);
        let all = assemble(&period, &before, &BTreeMap::new(), None);
        assert_eq!(all.cases_carried_over, 9);
        let complaints = assemble(
            &period,
            &before,
            &BTreeMap::new(),
            Some(PetitionType::Complaint),
        );
        assert_eq!(complaints.cases_to_resolve, 35);
        assert_eq!(complaints.cases_resolved, 22);
        assert_eq!(complaints.resolution_rate.percent(), 63);
    }
}
