//! Conversion between domain records and the `tiepdan.v1` wire messages, in one place for the
//! API and the tier link.

use chrono::{DateTime, Utc};
use prost_types::Timestamp;
use tiepdan_proto::v1 as pb;

use crate::domain::deadlines::{self, DeadlineTable};
use crate::domain::model::{
    Case, CaseOutcome, CaseStatus, Channel, ConclusionStatus, Eligibility, Field, FileReason,
    Jurisdiction, MatterKind, PetitionStatus, PetitionType, ReceiverRole, ReceptionAction,
    ReceptionKind, UnitLevel,
};
use crate::domain::model::{Conclusion, Petition, Petitioner, ScheduleEntry, Unit, Visit};

/// Largest message a node accepts or sends, on the API and the tier link.
pub const MAX_MESSAGE_BYTES: usize = 4 * 1024 * 1024;

/// A domain enum with a wire counterpart.
pub trait WireEnum: Sized {
    /// The domain value of a wire number; `None` for unspecified or unknown numbers.
    fn from_wire(value: i32) -> Option<Self>;
}

/// Pairs each domain enum with its wire enum. `from_wire` gives `None` for `*_UNSPECIFIED`
/// and for numbers this release does not know (sent by a newer node).
macro_rules! enum_map {
    ($domain:ident, $wire:ident, { $($d:ident => $w:ident),+ $(,)? }) => {
        impl WireEnum for $domain {
            fn from_wire(value: i32) -> Option<Self> {
                $domain::from_wire(value)
            }
        }

        impl $domain {
            /// The wire value.
            pub fn to_wire(self) -> i32 {
                match self { $($domain::$d => pb::$wire::$w as i32,)+ }
            }

            /// The domain value of a wire number.
            pub fn from_wire(value: i32) -> Option<Self> {
                match pb::$wire::try_from(value).ok()? {
                    $(pb::$wire::$w => Some($domain::$d),)+
                    #[allow(unreachable_patterns)]
                    _ => None,
                }
            }
        }
    };
}

enum_map!(UnitLevel, UnitLevel, {
    Commune => Commune, Ward => Ward, District => District, Province => Province,
    National => National,
});
enum_map!(ReceptionKind, ReceptionKind, {
    Regular => Regular, Periodic => Periodic, Unscheduled => Unscheduled,
});
enum_map!(ReceiverRole, ReceiverRole, {
    Staff => Staff, PartySecretary => PartySecretary, CommitteeChairman => CommitteeChairman,
    CouncilDelegate => CouncilDelegate,
});
enum_map!(MatterKind, MatterKind, { First => First, Repeat => Repeat });
enum_map!(ReceptionAction, ReceptionAction, {
    Accepted => Accepted, Guided => Guided, Transferred => Transferred,
});
enum_map!(ConclusionStatus, ConclusionStatus, {
    Pending => Pending, InProgress => InProgress, Done => Done,
});
enum_map!(Channel, Channel, {
    InPerson => InPerson, Post => Post, Online => Online, TransferredIn => TransferredIn,
});
enum_map!(PetitionType, PetitionType, {
    Complaint => Complaint, Denunciation => Denunciation, Recommendation => Recommendation,
    Mixed => Mixed,
});
enum_map!(Field, Field, {
    LandHousing => LandHousing, Administration => Administration, Justice => Justice,
    Party => Party, Corruption => Corruption, Other => Other,
});
enum_map!(PetitionStatus, PetitionStatus, {
    Received => Received, Classified => Classified, Accepted => Accepted, Guided => Guided,
    Transferred => Transferred, Urged => Urged, Returned => Returned, Withdrawn => Withdrawn,
    Filed => Filed,
});
enum_map!(Eligibility, Eligibility, { Eligible => Eligible, Ineligible => Ineligible });
enum_map!(Jurisdiction, Jurisdiction, { Within => Within, Outside => Outside });
enum_map!(FileReason, FileReason, {
    Ineligible => Ineligible, Duplicate => Duplicate, AlreadyDecided => AlreadyDecided,
    Other => Other,
});
enum_map!(CaseStatus, CaseStatus, {
    Open => Open, Resolved => Resolved, InForce => InForce, Enforced => Enforced,
    Withdrawn => Withdrawn,
});
enum_map!(CaseOutcome, CaseOutcome, {
    ComplaintCorrect => ComplaintCorrect, ComplaintPartlyCorrect => ComplaintPartlyCorrect,
    ComplaintIncorrect => ComplaintIncorrect, DenunciationFounded => DenunciationFounded,
    DenunciationPartlyFounded => DenunciationPartlyFounded,
    DenunciationUnfounded => DenunciationUnfounded,
    RecommendationAnswered => RecommendationAnswered, Withdrawn => Withdrawn,
});

/// A wire timestamp of an instant.
pub fn timestamp(t: DateTime<Utc>) -> Timestamp {
    Timestamp {
        seconds: t.timestamp(),
        nanos: i32::try_from(t.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

/// The instant of a wire timestamp, or `None` when it is out of range or malformed.
pub fn instant(ts: &Timestamp) -> Option<DateTime<Utc>> {
    if !(0..1_000_000_000).contains(&ts.nanos) {
        return None;
    }
    let nanos = u32::try_from(ts.nanos).ok()?;
    // Stored with microsecond precision; truncate so a replay compares equal.
    DateTime::from_timestamp(ts.seconds, nanos - nanos % 1000)
}

fn opt_ts(t: Option<DateTime<Utc>>) -> Option<Timestamp> {
    t.map(timestamp)
}

pub fn unit(u: &Unit) -> pb::Unit {
    pb::Unit {
        code: u.code.clone(),
        name: u.name.clone(),
        level: u.level.to_wire(),
        parent_code: u.parent_code.clone().unwrap_or_default(),
        remote: u.remote,
    }
}

pub fn visit(v: &Visit) -> pb::Visit {
    pb::Visit {
        id: v.id.clone(),
        unit_code: v.unit_code.clone(),
        visit_time: Some(timestamp(v.visit_time)),
        kind: v.kind.to_wire(),
        receiver_role: v.receiver_role.to_wire(),
        receiver_name: v.receiver_name.clone(),
        persons: v.persons,
        crowd_group: v.crowd_group,
        matter: v.matter.to_wire(),
        action: v.action.to_wire(),
        summary: v.summary.clone(),
        schedule_entry_id: v.schedule_entry_id.clone().unwrap_or_default(),
        create_time: Some(timestamp(v.create_time)),
    }
}

pub fn schedule_entry(e: &ScheduleEntry) -> pb::ScheduleEntry {
    pb::ScheduleEntry {
        id: e.id.clone(),
        unit_code: e.unit_code.clone(),
        receiver_role: e.receiver_role.to_wire(),
        receiver_name: e.receiver_name.clone(),
        start_time: Some(timestamp(e.start_time)),
        end_time: Some(timestamp(e.end_time)),
        location: e.location.clone(),
    }
}

pub fn conclusion(c: &Conclusion) -> pb::Conclusion {
    pb::Conclusion {
        id: c.id.clone(),
        unit_code: c.unit_code.clone(),
        visit_id: c.visit_id.clone(),
        text: c.text.clone(),
        assignee: c.assignee.clone(),
        conclusion_time: Some(timestamp(c.conclusion_time)),
        status: c.status.to_wire(),
        progress_note: c.progress_note.clone(),
        done_time: opt_ts(c.done_time),
    }
}

pub fn petitioner(p: &Petitioner) -> pb::Petitioner {
    pb::Petitioner {
        full_name: p.full_name.clone(),
        address: p.address.clone(),
        id_number: p.id_number.clone(),
        phone: p.phone.clone(),
        email: p.email.clone(),
    }
}

/// A deadline as the wire shows it; `now = None` leaves the time-dependent fields unset
/// (journal snapshots carry facts, not judgements of the moment).
fn deadline(
    step: &str,
    due: chrono::NaiveDate,
    running: bool,
    now: Option<DateTime<Utc>>,
) -> pb::Deadline {
    let late = now.map_or(0, |n| deadlines::days_late(due, n));
    pb::Deadline {
        step: step.to_string(),
        due_date: due.format("%Y-%m-%d").to_string(),
        due_time: Some(timestamp(deadlines::due_instant(due))),
        overdue: running && late > 0,
        days_overdue: if running && late > 0 {
            i32::try_from(late).unwrap_or(i32::MAX)
        } else {
            0
        },
    }
}

/// A petition without personal details.
pub fn petition(p: &Petition, table: &DeadlineTable, now: Option<DateTime<Utc>>) -> pb::Petition {
    let c = p.classification.as_ref();
    let (step, _) = table.petition_due(p.received_time, c);
    pb::Petition {
        id: p.id.clone(),
        unit_code: p.unit_code.clone(),
        received_time: Some(timestamp(p.received_time)),
        channel: p.channel.to_wire(),
        r#type: c.map_or(0, |c| c.petition_type.to_wire()),
        field: c.map_or(0, |c| c.field.to_wire()),
        complaint_round: c.map_or(0, |c| c.complaint_round),
        summary: p.summary.clone(),
        status: p.status.to_wire(),
        eligibility: c.map_or(0, |c| c.eligibility.to_wire()),
        jurisdiction: c.map_or(0, |c| c.jurisdiction.to_wire()),
        anonymous: p.anonymous,
        has_evidence: c.is_some_and(|c| c.has_evidence),
        signers: p.signers,
        visit_id: p.visit_id.clone().unwrap_or_default(),
        case_id: p.case_id.clone().unwrap_or_default(),
        transferred_to_unit: p.transferred_to_unit.clone().unwrap_or_default(),
        outside_body: p.outside_body.clone().unwrap_or_default(),
        file_reason: p.file_reason.map_or(0, FileReason::to_wire),
        note: p.note.clone(),
        deadline: Some(deadline(step, p.due_date, p.status.is_pending(), now)),
        processed_time: opt_ts(p.processed_time),
        petitioner: None,
        version: p.version,
        update_time: Some(timestamp(p.update_time)),
        source_petition_id: p.source_petition_id.clone().unwrap_or_default(),
        source_unit: p.source_unit.clone().unwrap_or_default(),
        result_case_id: p
            .result
            .as_ref()
            .map(|r| r.case_id.clone())
            .unwrap_or_default(),
        result_outcome: p.result.as_ref().map_or(0, |r| r.outcome.to_wire()),
        result_time: p.result.as_ref().map(|r| timestamp(r.decision_time)),
    }
}

/// A case; `remote` says whether its owning unit is in a remote area.
pub fn case(c: &Case, table: &DeadlineTable, remote: bool, now: Option<DateTime<Utc>>) -> pb::Case {
    let (step, _) = table.case_due(c, remote);
    let on_time = c
        .decision_time
        .is_some_and(|d| deadlines::local_date(d) <= c.due_date);
    pb::Case {
        id: c.id.clone(),
        owner_unit: c.owner_unit.clone(),
        r#type: c.case_type.to_wire(),
        field: c.field.to_wire(),
        complaint_round: c.complaint_round,
        complex: c.complex,
        extensions: c.extensions,
        status: c.status.to_wire(),
        accept_time: Some(timestamp(c.accept_time)),
        deadline: Some(deadline(step, c.due_date, c.is_open(), now)),
        petition_ids: c.petition_ids.clone(),
        outcome: c.outcome.map_or(0, CaseOutcome::to_wire),
        decision_number: c.decision_number.clone(),
        decision_time: opt_ts(c.decision_time),
        money_to_recover_vnd: c.money_to_recover_vnd,
        land_to_recover_m2: c.land_to_recover_m2,
        effective_time: opt_ts(c.effective_time),
        money_recovered_vnd: c.money_recovered_vnd,
        land_recovered_m2: c.land_recovered_m2,
        enforced_time: opt_ts(c.enforced_time),
        resolved_on_time: on_time,
        version: c.version,
        update_time: Some(timestamp(c.update_time)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_from_the_link_keep_text_the_api_now_refuses() {
        // A child may have journaled a name with a bidi mark before the API refused them.
        let recorded = pb::Unit {
            code: "09574".into(),
            name: "Phường\u{200f} Ngô Quyền".into(),
            level: UnitLevel::Ward.to_wire(),
            parent_code: "269".into(),
            remote: false,
        };
        let unit = inbound::unit(&recorded).map(|u| u.name);
        assert_eq!(unit.ok().as_deref(), Some("Phường\u{200f} Ngô Quyền"));
    }

    #[test]
    fn every_enum_round_trips_and_unspecified_is_none() {
        for &v in PetitionStatus::ALL {
            assert_eq!(PetitionStatus::from_wire(v.to_wire()), Some(v));
        }
        for &v in CaseOutcome::ALL {
            assert_eq!(CaseOutcome::from_wire(v.to_wire()), Some(v));
        }
        for &v in Field::ALL {
            assert_eq!(Field::from_wire(v.to_wire()), Some(v));
        }
        assert_eq!(PetitionType::from_wire(0), None);
        assert_eq!(PetitionType::from_wire(99), None);
    }

    #[test]
    fn malformed_timestamps_are_refused() {
        assert!(
            instant(&Timestamp {
                seconds: 0,
                nanos: -1
            })
            .is_none()
        );
        assert!(
            instant(&Timestamp {
                seconds: 0,
                nanos: 1_000_000_000
            })
            .is_none()
        );
        assert!(
            instant(&Timestamp {
                seconds: i64::MAX,
                nanos: 0
            })
            .is_none()
        );
        assert!(
            instant(&Timestamp {
                seconds: 1,
                nanos: 1500
            })
            .is_some()
        );
    }
}

/// Conversion of records received from another node (a child's journal, a transfer). The
/// sender is not trusted: every field is checked and a violation names it.
pub mod inbound {
    use super::*;
    use crate::domain::model::{Classification, PetitionResult};
    use crate::domain::validate::{MAX_NAME, MAX_TEXT, Violations, is_unit_code};

    fn time(v: &mut Violations, field: &str, ts: Option<&Timestamp>) -> Option<DateTime<Utc>> {
        match ts.map(instant) {
            Some(Some(t)) => Some(t),
            _ => {
                v.add(field, "missing or malformed");
                None
            }
        }
    }

    fn opt_time(
        v: &mut Violations,
        field: &str,
        ts: Option<&Timestamp>,
    ) -> Option<Option<DateTime<Utc>>> {
        match ts {
            None => Some(None),
            Some(t) => match instant(t) {
                Some(t) => Some(Some(t)),
                None => {
                    v.add(field, "malformed");
                    None
                }
            },
        }
    }

    fn req<T: WireEnum>(v: &mut Violations, field: &str, value: i32) -> Option<T> {
        let parsed = T::from_wire(value);
        if parsed.is_none() {
            v.add(field, format!("unknown value {value}"));
        }
        parsed
    }

    fn opt<T: WireEnum>(v: &mut Violations, field: &str, value: i32) -> Option<Option<T>> {
        if value == 0 {
            return Some(None);
        }
        req(v, field, value).map(Some)
    }

    fn code(v: &mut Violations, field: &str, value: &str) {
        if !is_unit_code(value) {
            v.add(field, "not a unit code");
        }
    }

    fn opt_s(s: &str) -> Option<String> {
        (!s.is_empty()).then(|| s.to_string())
    }

    fn date(v: &mut Violations, field: &str, s: &str) -> Option<chrono::NaiveDate> {
        let parsed = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
        if parsed.is_none() {
            v.add(field, "not a date");
        }
        parsed
    }

    type R<T> = Result<T, crate::domain::DomainError>;

    fn done<T>(v: Violations, value: Option<T>) -> R<T> {
        v.finish()?;
        value.ok_or_else(|| crate::domain::DomainError::invalid("record", "incomplete"))
    }

    pub fn unit(u: &pb::Unit) -> R<Unit> {
        let mut v = Violations::default();
        code(&mut v, "unit.code", &u.code);
        if !u.parent_code.is_empty() {
            code(&mut v, "unit.parent_code", &u.parent_code);
        }
        v.recorded_text("unit.name", &u.name, MAX_NAME, true);
        let level = req::<UnitLevel>(&mut v, "unit.level", u.level);
        let value = level.map(|level| Unit {
            code: u.code.clone(),
            name: u.name.clone(),
            level,
            parent_code: opt_s(&u.parent_code),
            remote: u.remote,
        });
        done(v, value)
    }

    pub fn visit(x: &pb::Visit) -> R<Visit> {
        let mut v = Violations::default();
        v.id("visit.id", &x.id, true);
        v.id("visit.schedule_entry_id", &x.schedule_entry_id, false);
        code(&mut v, "visit.unit_code", &x.unit_code);
        v.recorded_text("visit.summary", &x.summary, MAX_TEXT, false);
        v.recorded_text("visit.receiver_name", &x.receiver_name, MAX_NAME, false);
        let t = time(&mut v, "visit.visit_time", x.visit_time.as_ref());
        let c = time(&mut v, "visit.create_time", x.create_time.as_ref());
        let kind = req(&mut v, "visit.kind", x.kind);
        let role = req(&mut v, "visit.receiver_role", x.receiver_role);
        let matter = req(&mut v, "visit.matter", x.matter);
        let action = req(&mut v, "visit.action", x.action);
        let value = (|| {
            Some(Visit {
                id: x.id.clone(),
                unit_code: x.unit_code.clone(),
                visit_time: t?,
                kind: kind?,
                receiver_role: role?,
                receiver_name: x.receiver_name.clone(),
                persons: x.persons,
                crowd_group: x.crowd_group,
                matter: matter?,
                action: action?,
                summary: x.summary.clone(),
                schedule_entry_id: opt_s(&x.schedule_entry_id),
                create_time: c?,
            })
        })();
        done(v, value)
    }

    pub fn schedule_entry(x: &pb::ScheduleEntry) -> R<ScheduleEntry> {
        let mut v = Violations::default();
        v.id("entry.id", &x.id, true);
        code(&mut v, "entry.unit_code", &x.unit_code);
        v.recorded_text("entry.receiver_name", &x.receiver_name, MAX_NAME, false);
        v.recorded_text("entry.location", &x.location, MAX_NAME, false);
        let role = req(&mut v, "entry.receiver_role", x.receiver_role);
        let s = time(&mut v, "entry.start_time", x.start_time.as_ref());
        let e = time(&mut v, "entry.end_time", x.end_time.as_ref());
        let value = (|| {
            Some(ScheduleEntry {
                id: x.id.clone(),
                unit_code: x.unit_code.clone(),
                receiver_role: role?,
                receiver_name: x.receiver_name.clone(),
                start_time: s?,
                end_time: e?,
                location: x.location.clone(),
            })
        })();
        done(v, value)
    }

    pub fn conclusion(x: &pb::Conclusion) -> R<Conclusion> {
        let mut v = Violations::default();
        v.id("conclusion.id", &x.id, true);
        v.id("conclusion.visit_id", &x.visit_id, true);
        code(&mut v, "conclusion.unit_code", &x.unit_code);
        v.recorded_text("conclusion.text", &x.text, MAX_TEXT, false);
        v.recorded_text("conclusion.assignee", &x.assignee, MAX_NAME, false);
        v.recorded_text(
            "conclusion.progress_note",
            &x.progress_note,
            MAX_TEXT,
            false,
        );
        let t = time(
            &mut v,
            "conclusion.conclusion_time",
            x.conclusion_time.as_ref(),
        );
        let done_t = opt_time(&mut v, "conclusion.done_time", x.done_time.as_ref());
        let status = req(&mut v, "conclusion.status", x.status);
        let value = (|| {
            Some(Conclusion {
                id: x.id.clone(),
                unit_code: x.unit_code.clone(),
                visit_id: x.visit_id.clone(),
                text: x.text.clone(),
                assignee: x.assignee.clone(),
                conclusion_time: t?,
                status: status?,
                progress_note: x.progress_note.clone(),
                done_time: done_t?,
            })
        })();
        done(v, value)
    }

    pub fn petition(x: &pb::Petition) -> R<Petition> {
        let mut v = Violations::default();
        v.id("petition.id", &x.id, true);
        code(&mut v, "petition.unit_code", &x.unit_code);
        v.recorded_text("petition.summary", &x.summary, MAX_TEXT, false);
        v.recorded_text("petition.note", &x.note, MAX_TEXT, false);
        v.recorded_text("petition.outside_body", &x.outside_body, MAX_NAME, false);
        v.id("petition.visit_id", &x.visit_id, false);
        v.id("petition.case_id", &x.case_id, false);
        v.id("petition.source_petition_id", &x.source_petition_id, false);
        v.id("petition.result_case_id", &x.result_case_id, false);
        for (field, value) in [
            ("petition.transferred_to_unit", &x.transferred_to_unit),
            ("petition.source_unit", &x.source_unit),
        ] {
            if !value.is_empty() {
                code(&mut v, field, value);
            }
        }
        if x.petitioner.is_some() {
            v.add(
                "petition.petitioner",
                "personal details never travel in a snapshot",
            );
        }
        let received = time(&mut v, "petition.received_time", x.received_time.as_ref());
        let updated = time(&mut v, "petition.update_time", x.update_time.as_ref());
        let processed = opt_time(&mut v, "petition.processed_time", x.processed_time.as_ref());
        let channel = req(&mut v, "petition.channel", x.channel);
        let status = req(&mut v, "petition.status", x.status);
        let ptype = opt::<crate::domain::model::PetitionType>(&mut v, "petition.type", x.r#type);
        let field = opt::<Field>(&mut v, "petition.field", x.field);
        let elig = opt::<Eligibility>(&mut v, "petition.eligibility", x.eligibility);
        let juris = opt::<Jurisdiction>(&mut v, "petition.jurisdiction", x.jurisdiction);
        let reason = opt::<FileReason>(&mut v, "petition.file_reason", x.file_reason);
        let outcome = opt::<CaseOutcome>(&mut v, "petition.result_outcome", x.result_outcome);
        let result_time = opt_time(&mut v, "petition.result_time", x.result_time.as_ref());
        let due = x
            .deadline
            .as_ref()
            .and_then(|d| date(&mut v, "petition.deadline.due_date", &d.due_date));
        if x.deadline.is_none() {
            v.add("petition.deadline", "missing");
        }
        let value = (|| {
            let classification = match (ptype?, field?, elig?, juris?) {
                (Some(petition_type), Some(field), Some(eligibility), Some(jurisdiction)) => {
                    Some(Classification {
                        petition_type,
                        field,
                        complaint_round: x.complaint_round,
                        eligibility,
                        jurisdiction,
                        has_evidence: x.has_evidence,
                    })
                }
                _ => None,
            };
            let result = match (opt_s(&x.result_case_id), outcome?, result_time?) {
                (Some(case_id), Some(outcome), Some(decision_time)) => Some(PetitionResult {
                    case_id,
                    outcome,
                    decision_time,
                }),
                _ => None,
            };
            Some(Petition {
                id: x.id.clone(),
                unit_code: x.unit_code.clone(),
                received_time: received?,
                channel: channel?,
                summary: x.summary.clone(),
                status: status?,
                anonymous: x.anonymous,
                signers: x.signers,
                visit_id: opt_s(&x.visit_id),
                classification,
                case_id: opt_s(&x.case_id),
                transferred_to_unit: opt_s(&x.transferred_to_unit),
                outside_body: opt_s(&x.outside_body),
                file_reason: reason?,
                note: x.note.clone(),
                due_date: due?,
                processed_time: processed?,
                version: x.version,
                update_time: updated?,
                source_petition_id: opt_s(&x.source_petition_id),
                source_unit: opt_s(&x.source_unit),
                result,
            })
        })();
        done(v, value)
    }

    pub fn case(x: &pb::Case) -> R<Case> {
        let mut v = Violations::default();
        v.id("case.id", &x.id, true);
        code(&mut v, "case.owner_unit", &x.owner_unit);
        v.recorded_text("case.decision_number", &x.decision_number, MAX_NAME, false);
        let accept = time(&mut v, "case.accept_time", x.accept_time.as_ref());
        let updated = time(&mut v, "case.update_time", x.update_time.as_ref());
        let decision = opt_time(&mut v, "case.decision_time", x.decision_time.as_ref());
        let effective = opt_time(&mut v, "case.effective_time", x.effective_time.as_ref());
        let enforced = opt_time(&mut v, "case.enforced_time", x.enforced_time.as_ref());
        let ctype = req(&mut v, "case.type", x.r#type);
        let field = req(&mut v, "case.field", x.field);
        let status = req(&mut v, "case.status", x.status);
        let outcome = opt::<CaseOutcome>(&mut v, "case.outcome", x.outcome);
        for (name, value) in [
            ("case.land_to_recover_m2", x.land_to_recover_m2),
            ("case.land_recovered_m2", x.land_recovered_m2),
        ] {
            if !(value.is_finite() && (0.0..=1e12).contains(&value)) {
                v.add(name, "not a valid area");
            }
        }
        if x.money_to_recover_vnd < 0 || x.money_recovered_vnd < 0 {
            v.add("case.money", "negative");
        }
        let due = x
            .deadline
            .as_ref()
            .and_then(|d| date(&mut v, "case.deadline.due_date", &d.due_date));
        if x.deadline.is_none() {
            v.add("case.deadline", "missing");
        }
        let value = (|| {
            Some(Case {
                id: x.id.clone(),
                owner_unit: x.owner_unit.clone(),
                case_type: ctype?,
                field: field?,
                complaint_round: x.complaint_round,
                complex: x.complex,
                extensions: x.extensions,
                status: status?,
                accept_time: accept?,
                due_date: due?,
                petition_ids: x.petition_ids.clone(),
                outcome: outcome?,
                decision_number: x.decision_number.clone(),
                decision_time: decision?,
                money_to_recover_vnd: x.money_to_recover_vnd,
                land_to_recover_m2: x.land_to_recover_m2,
                effective_time: effective?,
                money_recovered_vnd: x.money_recovered_vnd,
                land_recovered_m2: x.land_recovered_m2,
                enforced_time: enforced?,
                version: x.version,
                update_time: updated?,
            })
        })();
        done(v, value)
    }
}
