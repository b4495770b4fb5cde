//! Statutory deadlines, computed from one configurable table in local time
//! (Asia/Ho_Chi_Minh). A limit counts from the local day of the event that starts it; the
//! due date is the last local day on which the step is on time.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::model::{Case, Classification, Jurisdiction, PetitionType};

/// The time zone every period and deadline is computed in.
pub const LOCAL_TZ: Tz = chrono_tz::Asia::Ho_Chi_Minh;

/// One limit: a number of calendar or working days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limit {
    /// Number of days.
    pub days: u32,
    /// Whether they are working days (Monday–Friday less holidays).
    #[serde(default)]
    pub working_days: bool,
}

const fn calendar(days: u32) -> Limit {
    Limit {
        days,
        working_days: false,
    }
}

const fn working(days: u32) -> Limit {
    Limit {
        days,
        working_days: true,
    }
}

/// The deadline table (DOMAIN.md). Every row can be overridden in the node's configuration
/// file under `[deadlines]`; rows marked unverified there are kept configurable on purpose.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeadlineTable {
    /// Tell the visitor or petitioner what happens to the matter.
    pub notify_petitioner: Limit,
    /// Process (classify and route) a received petition.
    pub process_petition: Limit,
    /// Accept a first complaint.
    pub accept_first_complaint: Limit,
    /// Resolve a first complaint, from acceptance.
    pub resolve_first_complaint: Limit,
    /// Resolve a complex first complaint.
    pub resolve_first_complaint_complex: Limit,
    /// Resolve a first complaint in a remote area.
    pub resolve_first_complaint_remote: Limit,
    /// Resolve a complex first complaint in a remote area.
    pub resolve_first_complaint_remote_complex: Limit,
    /// Resolve a second complaint.
    pub resolve_second_complaint: Limit,
    /// Resolve a complex second complaint.
    pub resolve_second_complaint_complex: Limit,
    /// Resolve a second complaint in a remote area.
    pub resolve_second_complaint_remote: Limit,
    /// Resolve a complex second complaint in a remote area.
    pub resolve_second_complaint_remote_complex: Limit,
    /// Resolve a denunciation.
    pub resolve_denunciation: Limit,
    /// One extension of a denunciation's limit.
    pub extend_denunciation: Limit,
    /// How many extensions a denunciation may get (complex: 1, very complex: 2).
    pub max_denunciation_extensions: u32,
    /// Transfer a denunciation that is not ours (unverified in DOMAIN.md).
    pub transfer_denunciation: Limit,
    /// Answer a recommendation or feedback (not in DOMAIN.md; an assumption, configurable).
    pub resolve_recommendation: Limit,
    /// Public holidays, which working-day limits skip.
    pub holidays: Vec<NaiveDate>,
}

impl Default for DeadlineTable {
    fn default() -> Self {
        DeadlineTable {
            notify_petitioner: working(10),
            process_petition: calendar(10),
            accept_first_complaint: calendar(10),
            resolve_first_complaint: calendar(30),
            resolve_first_complaint_complex: calendar(45),
            resolve_first_complaint_remote: calendar(45),
            resolve_first_complaint_remote_complex: calendar(60),
            resolve_second_complaint: calendar(45),
            resolve_second_complaint_complex: calendar(60),
            resolve_second_complaint_remote: calendar(60),
            resolve_second_complaint_remote_complex: calendar(70),
            resolve_denunciation: calendar(30),
            extend_denunciation: calendar(30),
            max_denunciation_extensions: 2,
            transfer_denunciation: working(5),
            resolve_recommendation: calendar(30),
            holidays: Vec::new(),
        }
    }
}

/// One row of the table, for display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub step: &'static str,
    pub description: &'static str,
    pub limit: Limit,
}

/// The local calendar day of an instant.
pub fn local_date(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&LOCAL_TZ).date_naive()
}

/// The first instant of a local day.
pub fn local_day_start(date: NaiveDate) -> DateTime<Utc> {
    let naive = date.and_time(NaiveTime::MIN);
    // Asia/Ho_Chi_Minh has no daylight saving since 1975, so local midnight always exists;
    // fall back to +07:00 should a zone database ever say otherwise.
    LOCAL_TZ
        .from_local_datetime(&naive)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| Utc.from_utc_datetime(&(naive - Duration::hours(7))))
}

/// The first instant after a due date: local midnight of the next day.
pub fn due_instant(due_date: NaiveDate) -> DateTime<Utc> {
    local_day_start(due_date + Duration::days(1))
}

/// Whole local days past `due_date` at `now`; zero or less when not late.
pub fn days_late(due_date: NaiveDate, now: DateTime<Utc>) -> i64 {
    (local_date(now) - due_date).num_days()
}

impl DeadlineTable {
    /// The rows of the table with their names, in the order of DOMAIN.md.
    pub fn rules(&self) -> Vec<Rule> {
        let row = |step, description, limit| Rule {
            step,
            description,
            limit,
        };
        vec![
            row(
                "notify_petitioner",
                "tell the visitor or petitioner what happens to the matter",
                self.notify_petitioner,
            ),
            row(
                "process_petition",
                "process (classify and route) a received petition",
                self.process_petition,
            ),
            row(
                "accept_first_complaint",
                "accept a first complaint",
                self.accept_first_complaint,
            ),
            row(
                "resolve_first_complaint",
                "resolve a first complaint, from acceptance",
                self.resolve_first_complaint,
            ),
            row(
                "resolve_first_complaint_complex",
                "resolve a complex first complaint",
                self.resolve_first_complaint_complex,
            ),
            row(
                "resolve_first_complaint_remote",
                "resolve a first complaint, remote area",
                self.resolve_first_complaint_remote,
            ),
            row(
                "resolve_first_complaint_remote_complex",
                "resolve a complex first complaint, remote area",
                self.resolve_first_complaint_remote_complex,
            ),
            row(
                "resolve_second_complaint",
                "resolve a second complaint",
                self.resolve_second_complaint,
            ),
            row(
                "resolve_second_complaint_complex",
                "resolve a complex second complaint",
                self.resolve_second_complaint_complex,
            ),
            row(
                "resolve_second_complaint_remote",
                "resolve a second complaint, remote area",
                self.resolve_second_complaint_remote,
            ),
            row(
                "resolve_second_complaint_remote_complex",
                "resolve a complex second complaint, remote area",
                self.resolve_second_complaint_remote_complex,
            ),
            row(
                "resolve_denunciation",
                "resolve a denunciation",
                self.resolve_denunciation,
            ),
            row(
                "extend_denunciation",
                "each extension of a complex denunciation",
                self.extend_denunciation,
            ),
            row(
                "transfer_denunciation",
                "transfer a denunciation that is not ours (unverified)",
                self.transfer_denunciation,
            ),
            row(
                "resolve_recommendation",
                "answer a recommendation or feedback (assumption)",
                self.resolve_recommendation,
            ),
        ]
    }

    /// The last on-time day of a step that starts on `start`.
    pub fn due(&self, start: DateTime<Utc>, limit: Limit) -> NaiveDate {
        let first = local_date(start);
        if !limit.working_days {
            return first + Duration::days(i64::from(limit.days));
        }
        let mut day = first;
        let mut left = limit.days;
        while left > 0 {
            day += Duration::days(1);
            if self.is_working_day(day) {
                left -= 1;
            }
        }
        day
    }

    fn is_working_day(&self, day: NaiveDate) -> bool {
        !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) && !self.holidays.contains(&day)
    }

    /// The step and due date for routing a petition received at `received`, given its
    /// classification so far: a denunciation that is not ours must be transferred sooner; a
    /// first complaint must be accepted within its own limit.
    pub fn petition_due(
        &self,
        received: DateTime<Utc>,
        classification: Option<&Classification>,
    ) -> (&'static str, NaiveDate) {
        let process = self.due(received, self.process_petition);
        match classification {
            Some(c)
                if c.petition_type == PetitionType::Denunciation
                    && c.jurisdiction == Jurisdiction::Outside =>
            {
                let transfer = self.due(received, self.transfer_denunciation);
                ("transfer_denunciation", transfer.min(process))
            }
            Some(c)
                if c.petition_type == PetitionType::Complaint
                    && c.complaint_round == 1
                    && c.jurisdiction == Jurisdiction::Within =>
            {
                let accept = self.due(received, self.accept_first_complaint);
                ("accept_first_complaint", accept.min(process))
            }
            _ => ("process_petition", process),
        }
    }

    /// The step and due date for resolving a case of a unit (`remote` when the owning unit
    /// lies in a remote area).
    pub fn case_due(&self, case: &Case, remote: bool) -> (&'static str, NaiveDate) {
        let start = case.accept_time;
        let (step, limit) = match (case.case_type, case.complaint_round, case.complex, remote) {
            (PetitionType::Denunciation, ..) => ("resolve_denunciation", self.resolve_denunciation),
            (PetitionType::Recommendation, ..) => {
                ("resolve_recommendation", self.resolve_recommendation)
            }
            (_, 2, false, false) => ("resolve_second_complaint", self.resolve_second_complaint),
            (_, 2, true, false) => (
                "resolve_second_complaint_complex",
                self.resolve_second_complaint_complex,
            ),
            (_, 2, false, true) => (
                "resolve_second_complaint_remote",
                self.resolve_second_complaint_remote,
            ),
            (_, 2, true, true) => (
                "resolve_second_complaint_remote_complex",
                self.resolve_second_complaint_remote_complex,
            ),
            (_, _, false, false) => ("resolve_first_complaint", self.resolve_first_complaint),
            (_, _, true, false) => (
                "resolve_first_complaint_complex",
                self.resolve_first_complaint_complex,
            ),
            (_, _, false, true) => (
                "resolve_first_complaint_remote",
                self.resolve_first_complaint_remote,
            ),
            (_, _, true, true) => (
                "resolve_first_complaint_remote_complex",
                self.resolve_first_complaint_remote_complex,
            ),
        };
        let mut due = self.due(start, limit);
        if case.case_type == PetitionType::Denunciation {
            for _ in 0..case.extensions {
                due = self.due(local_day_start(due), self.extend_denunciation);
            }
        }
        (step, due)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::model::{CaseStatus, Eligibility, Field};

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0)
            .single()
            .unwrap_or_default()
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
    }

    #[test]
    fn local_day_is_utc_plus_seven() {
        // 16:59 UTC on 14 Sep is 23:59 local on 14 Sep; 17:00 UTC is already 15 Sep.
        assert_eq!(local_date(utc(2019, 9, 14, 16, 59)), date(2019, 9, 14));
        assert_eq!(local_date(utc(2019, 9, 14, 17, 0)), date(2019, 9, 15));
        assert_eq!(local_day_start(date(2019, 9, 15)), utc(2019, 9, 14, 17, 0));
    }

    #[test]
    fn calendar_limit_crosses_month_and_year_ends() {
        let table = DeadlineTable::default();
        // Received 25 Dec 2018 local (UTC evening of the 24th is already the 25th locally).
        let received = utc(2018, 12, 24, 18, 0);
        assert_eq!(
            table.due(received, table.process_petition),
            date(2019, 1, 4)
        );
        // 30 days from 31 Jan in a non-leap year lands on 2 March.
        assert_eq!(
            table.due(utc(2019, 1, 31, 2, 0), calendar(30)),
            date(2019, 3, 2)
        );
        // and on 1 March in a leap year.
        assert_eq!(
            table.due(utc(2020, 1, 31, 2, 0), calendar(30)),
            date(2020, 3, 1)
        );
    }

    #[test]
    fn working_days_skip_weekends_and_holidays() {
        let mut table = DeadlineTable::default();
        // Friday 27 Dec 2019 + 5 working days: Mon 30, Tue 31, Wed 1, Thu 2, Fri 3 Jan.
        let friday = utc(2019, 12, 27, 2, 0);
        assert_eq!(table.due(friday, working(5)), date(2020, 1, 3));
        // New Year's Day as a holiday pushes it to Monday 6 Jan.
        table.holidays.push(date(2020, 1, 1));
        assert_eq!(table.due(friday, working(5)), date(2020, 1, 6));
    }

    #[test]
    fn denunciation_outside_jurisdiction_has_the_shorter_limit() {
        let table = DeadlineTable::default();
        let c = Classification {
            petition_type: PetitionType::Denunciation,
            field: Field::Corruption,
            complaint_round: 0,
            eligibility: Eligibility::Eligible,
            jurisdiction: Jurisdiction::Outside,
            has_evidence: true,
        };
        // Monday 2 Sep 2019: 5 working days is Monday 9 Sep, before the 10-day limit (12 Sep).
        let (step, due) = table.petition_due(utc(2019, 9, 2, 2, 0), Some(&c));
        assert_eq!((step, due), ("transfer_denunciation", date(2019, 9, 9)));
    }

    fn case(case_type: PetitionType, round: u32, complex: bool, extensions: u32) -> Case {
        Case {
            id: "c".into(),
            owner_unit: "269".into(),
            case_type,
            field: Field::LandHousing,
            complaint_round: round,
            complex,
            extensions,
            status: CaseStatus::Open,
            accept_time: utc(2019, 6, 1, 2, 0),
            due_date: date(2019, 6, 1),
            petition_ids: vec![],
            outcome: None,
            decision_number: String::new(),
            decision_time: None,
            money_to_recover_vnd: 0,
            land_to_recover_m2: 0.0,
            effective_time: None,
            money_recovered_vnd: 0,
            land_recovered_m2: 0.0,
            enforced_time: None,
            version: 1,
            update_time: utc(2019, 6, 1, 2, 0),
        }
    }

    #[test]
    fn case_limits_follow_the_table() {
        let t = DeadlineTable::default();
        let c = |ty, r, cx, ex| case(ty, r, cx, ex);
        assert_eq!(
            t.case_due(&c(PetitionType::Complaint, 1, false, 0), false)
                .1,
            date(2019, 7, 1)
        );
        assert_eq!(
            t.case_due(&c(PetitionType::Complaint, 1, true, 0), false).1,
            date(2019, 7, 16)
        );
        assert_eq!(
            t.case_due(&c(PetitionType::Complaint, 1, false, 0), true).1,
            date(2019, 7, 16)
        );
        assert_eq!(
            t.case_due(&c(PetitionType::Complaint, 2, false, 0), false)
                .1,
            date(2019, 7, 16)
        );
        assert_eq!(
            t.case_due(&c(PetitionType::Complaint, 2, true, 0), true).1,
            date(2019, 8, 10)
        );
        assert_eq!(
            t.case_due(&c(PetitionType::Denunciation, 0, false, 0), false)
                .1,
            date(2019, 7, 1)
        );
        assert_eq!(
            t.case_due(&c(PetitionType::Denunciation, 0, true, 2), false)
                .1,
            date(2019, 8, 30)
        );
    }

    #[test]
    fn lateness_is_counted_in_local_days() {
        let due = date(2019, 9, 14);
        assert_eq!(days_late(due, utc(2019, 9, 14, 16, 59)), 0);
        assert_eq!(days_late(due, utc(2019, 9, 14, 17, 0)), 1);
        assert_eq!(due_instant(due), utc(2019, 9, 14, 17, 0));
    }
}
