//! What each record contributes to the totals, per unit, local day and metric; the store
//! keeps the sums for each unit alone ("self") and for each unit's subtree ("tree"), per day
//! and rolled up over half-months and years (`span`), so a report reads a handful of rows
//! per unit and metric instead of recounting records.
//!
//! The rules of DOMAIN.md live here: a visit counts at the unit where it happened; a petition
//! counts once in every subtree that holds it (a petition transferred in from a unit of the
//! same subtree is not received again there); a case counts at its owning unit.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use crate::domain::deadlines::local_date;
use crate::domain::model::{
    Case, CaseStatus, Eligibility, Jurisdiction, Petition, PetitionStatus, Visit,
};
use crate::domain::span::Span;
use crate::domain::tree::Tree;

/// One contribution of a record.
#[derive(Debug, Clone, PartialEq)]
pub struct Contribution {
    pub unit: String,
    pub day: NaiveDate,
    pub metric: String,
    pub value: i64,
    /// For a petition transferred in: the unit it came from; subtrees holding that unit
    /// already counted it.
    pub source_unit: Option<String>,
}

fn c(unit: &str, day: NaiveDate, metric: impl Into<String>, value: i64) -> Contribution {
    Contribution {
        unit: unit.to_string(),
        day,
        metric: metric.into(),
        value,
        source_unit: None,
    }
}

/// Metric names (stable: they are stored).
pub mod metric {
    pub const VISITS: &str = "visits";
    pub const PERSONS: &str = "persons";
    pub const CROWD_GROUPS: &str = "crowd_groups";
    pub const CROWD_PERSONS: &str = "crowd_persons";
    pub const HEAD_SESSIONS: &str = "head_sessions";
    pub const MATTERS_FIRST: &str = "matters_first";
    pub const MATTERS_REPEAT: &str = "matters_repeat";
}

/// What a visit contributes.
pub fn visit(v: &Visit) -> Vec<Contribution> {
    use metric::*;
    let day = local_date(v.visit_time);
    let persons = i64::from(v.persons);
    let mut out = vec![
        c(&v.unit_code, day, VISITS, 1),
        c(&v.unit_code, day, PERSONS, persons),
    ];
    if v.crowd_group {
        out.push(c(&v.unit_code, day, CROWD_GROUPS, 1));
        out.push(c(&v.unit_code, day, CROWD_PERSONS, persons));
    }
    if v.receiver_role.is_head() {
        out.push(c(&v.unit_code, day, HEAD_SESSIONS, 1));
    }
    let matter = match v.matter {
        crate::domain::model::MatterKind::First => MATTERS_FIRST,
        crate::domain::model::MatterKind::Repeat => MATTERS_REPEAT,
    };
    out.push(c(&v.unit_code, day, matter, 1));
    out
}

/// What a petition contributes: received, type, eligibility and jurisdiction on the day it
/// was received; its routing on the day it was processed. Metric names carry the type
/// (`petition.received.complaint`, …; `unclassified` before classification).
pub fn petition(p: &Petition) -> Vec<Contribution> {
    let u = &p.unit_code;
    let day = local_date(p.received_time);
    let kind = p
        .classification
        .map_or("unclassified", |c| c.petition_type.as_str());
    let mut out = vec![c(u, day, format!("petition.received.{kind}"), 1)];
    if let Some(cl) = p.classification {
        if cl.eligibility == Eligibility::Eligible {
            out.push(c(u, day, format!("petition.eligible.{kind}"), 1));
        }
        if cl.jurisdiction == Jurisdiction::Within {
            out.push(c(u, day, format!("petition.in_jurisdiction.{kind}"), 1));
        }
    }
    if let Some(processed) = p.processed_time {
        let routed = match p.status {
            PetitionStatus::Accepted => Some("accepted"),
            PetitionStatus::Guided => Some("guided"),
            PetitionStatus::Transferred => Some("transferred"),
            PetitionStatus::Urged => Some("urged"),
            PetitionStatus::Returned => Some("returned"),
            PetitionStatus::Withdrawn => Some("withdrawn"),
            PetitionStatus::Filed => Some("filed"),
            PetitionStatus::Received | PetitionStatus::Classified => None,
        };
        if let Some(routed) = routed {
            out.push(c(
                u,
                local_date(processed),
                format!("petition.{routed}.{kind}"),
                1,
            ));
        }
    }
    for contribution in &mut out {
        contribution.source_unit = p.source_unit.clone();
    }
    out
}

/// What a case contributes: accepted on its acceptance day; closed (resolved or withdrawn),
/// its outcome, whether on time, and the amounts to recover and recovered on its decision
/// day; overdue as a count that changes: +1 the day after its due date (unless it was closed
/// by then), −1 the day it is closed late, so the count at any day's end is the cases overdue
/// then, whatever happened after. Names carry the type.
pub fn case(k: &Case) -> Vec<Contribution> {
    let u = &k.owner_unit;
    let kind = k.case_type.as_str();
    let mut out = vec![c(
        u,
        local_date(k.accept_time),
        format!("case.accepted.{kind}"),
        1,
    )];
    let overdue_from = k.due_date.succ_opt().unwrap_or(k.due_date);
    match (k.status, k.decision_time) {
        (CaseStatus::Open, _) => out.push(c(u, overdue_from, format!("case.overdue.{kind}"), 1)),
        (_, Some(decided)) => {
            let day = local_date(decided);
            if day > k.due_date {
                out.push(c(u, overdue_from, format!("case.overdue.{kind}"), 1));
                out.push(c(u, day, format!("case.overdue.{kind}"), -1));
            }
            out.push(c(u, day, format!("case.closed.{kind}"), 1));
            if local_date(decided) <= k.due_date {
                out.push(c(u, day, format!("case.on_time.{kind}"), 1));
            }
            if let Some(outcome) = k.outcome {
                out.push(c(
                    u,
                    day,
                    format!("case.outcome.{kind}.{}", outcome.as_str()),
                    1,
                ));
            }
            for (name, value) in [
                ("money_to_recover_vnd", k.money_to_recover_vnd),
                ("land_to_recover_dm2", to_dm2(k.land_to_recover_m2)),
                ("money_recovered_vnd", k.money_recovered_vnd),
                ("land_recovered_dm2", to_dm2(k.land_recovered_m2)),
            ] {
                if value != 0 {
                    out.push(c(u, day, format!("case.{name}.{kind}"), value));
                }
            }
        }
        (_, None) => {}
    }
    out
}

/// Areas are summed exactly as whole square decimetres (0.01 m²).
fn to_dm2(m2: f64) -> i64 {
    // Inputs are validated finite and at most 1e12 m², so this never saturates.
    (m2 * 100.0).round() as i64
}

/// Key of one stored sum: whether it is a subtree sum, the unit, the day, the metric.
pub type TallyKey = (bool, String, NaiveDate, String);

/// A key looked up without building its strings (it hashes as the key it stands for).
#[derive(Hash)]
struct KeyRef<'a>(bool, &'a str, NaiveDate, &'a str);

impl hashbrown::Equivalent<TallyKey> for KeyRef<'_> {
    fn equivalent(&self, key: &TallyKey) -> bool {
        self.0 == key.0 && self.1 == key.1 && self.2 == key.2 && self.3 == key.3
    }
}

/// Sums of changes, accumulated over a transaction and written once.
#[derive(Debug, Default)]
pub struct Delta {
    pub sums: hashbrown::HashMap<TallyKey, i64>,
}

impl Delta {
    /// What `visits`, `petitions` and `cases` contribute on `tree`, counted from nothing.
    pub fn of_records(
        tree: &Tree,
        visits: &[Visit],
        petitions: &[Petition],
        cases: &[Case],
    ) -> Delta {
        let mut delta = Delta::default();
        for v in visits {
            delta.record(tree, &[], &visit(v));
        }
        for p in petitions {
            delta.record(tree, &[], &petition(p));
        }
        for c in cases {
            delta.record(tree, &[], &case(c));
        }
        delta
    }

    /// Adds `after` and takes away `before`, for every scope each contribution counts in.
    /// The scopes of a unit are walked once per distinct unit and source, not per item.
    pub fn record(&mut self, tree: &Tree, before: &[Contribution], after: &[Contribution]) {
        let mut scopes: Option<(&str, Option<&str>, Vec<String>)> = None;
        for (sign, list) in [(-1, before), (1, after)] {
            for item in list {
                let source = item.source_unit.as_deref();
                let known = scopes
                    .as_ref()
                    .is_some_and(|(u, s, _)| *u == item.unit && *s == source);
                if !known {
                    scopes = Some((&item.unit, source, Self::scopes(tree, item)));
                }
                if let Some((_, _, list)) = &scopes {
                    self.bump(false, &item.unit, item, sign);
                    for scope in list {
                        self.bump(true, scope, item, sign);
                    }
                }
            }
        }
    }

    /// The subtrees a contribution counts in: every unit on the way up from its unit, less
    /// those that already hold its source.
    fn scopes(tree: &Tree, item: &Contribution) -> Vec<String> {
        let source_chain = item
            .source_unit
            .as_deref()
            .map(|s| tree.chain(s))
            .unwrap_or_default();
        tree.chain(&item.unit)
            .into_iter()
            .filter(|scope| !source_chain.contains(scope))
            .collect()
    }

    fn bump(&mut self, subtree: bool, unit: &str, item: &Contribution, sign: i64) {
        let change = sign * item.value;
        let key = KeyRef(subtree, unit, item.day, &item.metric);
        if let Some(sum) = self.sums.get_mut(&key) {
            *sum += change;
        } else {
            self.sums.insert(
                (subtree, unit.to_string(), item.day, item.metric.clone()),
                change,
            );
        }
    }

    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.sums.values().all(|v| *v == 0)
    }
}

/// Key of one stored rollup: whether it is a subtree sum, the unit, the span, the span's
/// first day, the metric.
pub type RollupKey = (bool, String, Span, NaiveDate, String);

/// What day sums add to the rollups: each day's sum goes to every span holding the day.
/// Zero sums are left out.
pub fn rollups_of<'a>(
    days: impl IntoIterator<Item = (&'a TallyKey, &'a i64)>,
) -> BTreeMap<RollupKey, i64> {
    let mut out: BTreeMap<RollupKey, i64> = BTreeMap::new();
    for ((subtree, unit, day, metric), value) in days {
        if *value == 0 {
            continue;
        }
        for span in Span::ALL {
            let key = (
                *subtree,
                unit.clone(),
                span,
                span.start_of(*day),
                metric.clone(),
            );
            *out.entry(key).or_default() += value;
        }
    }
    out.retain(|_, v| *v != 0);
    out
}
