//! Conversion between domain records and the `tiepdan.v1` wire messages, in one place for the
//! API and the tier link.

use chrono::{DateTime, Utc};
use prost_types::Timestamp;
use tiepdan_proto::v1 as pb;

use crate::domain::deadlines::{self, DeadlineTable};
use crate::domain::map::{Reorganisation, UnitChange, Version};
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
    National => National, SpecialZone => SpecialZone,
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

pub fn reorganisation(r: &Reorganisation) -> pb::Reorganisation {
    pb::Reorganisation {
        id: r.id.clone(),
        title: r.title.clone(),
        authority_code: r.authority.clone(),
        effective_date: r.effective.to_string(),
        changes: r
            .changes
            .iter()
            .map(|c| pb::UnitChange {
                unit: Some(unit(&c.unit)),
                successor_code: c.successor.clone().unwrap_or_default(),
            })
            .collect(),
    }
}

/// A version of a unit, lasting until the day before `next` begins (the next version's day).
pub fn unit_version(v: &Version, next: Option<chrono::NaiveDate>) -> pb::UnitVersion {
    pb::UnitVersion {
        unit: Some(unit(&v.unit)),
        valid_from: v.from.map(|d| d.to_string()).unwrap_or_default(),
        valid_until: next
            .and_then(|d| d.pred_opt())
            .map(|d| d.to_string())
            .unwrap_or_default(),
        successor_code: v.successor.clone().unwrap_or_default(),
        reorganisation_id: v.reorganisation.clone(),
    }
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

/// Conversion of records received from another node (a child's journal, a transfer). The
/// sender is not trusted: every field is checked and a violation names it.
pub mod inbound;

#[cfg(test)]
mod tests;
