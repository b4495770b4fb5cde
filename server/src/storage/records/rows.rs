//! Conversion between stored rows and domain records.

use chrono::{DateTime, Utc};
use sea_orm::ActiveValue::Set;

use crate::domain::DomainError;
use crate::domain::model::{
    Case, CaseOutcome, CaseStatus, Channel, Classification, Conclusion, ConclusionStatus,
    Eligibility, Field, FileReason, Jurisdiction, MatterKind, Petition, PetitionResult,
    PetitionStatus, PetitionType, ReceiverRole, ReceptionAction, ReceptionKind, ScheduleEntry,
    Unit, UnitLevel, Visit,
};
use crate::storage::entities::{case, conclusion, petition, schedule_entry, unit, visit};

/// Microseconds since the epoch, as stored.
pub fn to_us(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

/// The instant of a stored microsecond count.
pub fn from_us(us: i64) -> Result<DateTime<Utc>, DomainError> {
    DateTime::from_timestamp_micros(us)
        .ok_or_else(|| DomainError::Storage(format!("stored time {us} out of range")))
}

pub(super) fn opt_us(us: Option<i64>) -> Result<Option<DateTime<Utc>>, DomainError> {
    us.map(from_us).transpose()
}

pub(super) fn parse<T>(
    parse: fn(&str) -> Option<T>,
    column: &str,
    value: &str,
) -> Result<T, DomainError> {
    parse(value).ok_or_else(|| DomainError::Storage(format!("bad stored {column}: {value:?}")))
}

pub(super) fn parse_opt<T>(
    f: fn(&str) -> Option<T>,
    column: &str,
    value: Option<&str>,
) -> Result<Option<T>, DomainError> {
    value.map(|v| parse(f, column, v)).transpose()
}

pub(super) fn count(n: u32) -> i64 {
    i64::from(n)
}

pub(super) fn to_count(n: i64, column: &str) -> Result<u32, DomainError> {
    u32::try_from(n).map_err(|_| DomainError::Storage(format!("bad stored {column}: {n}")))
}

// ---- units ----

pub fn unit_from_row(row: unit::Model) -> Result<Unit, DomainError> {
    Ok(Unit {
        level: parse(UnitLevel::parse, "unit.level", &row.level)?,
        code: row.code,
        name: row.name,
        parent_code: row.parent_code,
        remote: row.remote,
    })
}

pub fn unit_row(u: &Unit, is_self: bool) -> unit::ActiveModel {
    unit::ActiveModel {
        code: Set(u.code.clone()),
        name: Set(u.name.clone()),
        level: Set(u.level.as_str().to_string()),
        parent_code: Set(u.parent_code.clone()),
        remote: Set(u.remote),
        is_self: Set(is_self),
    }
}

pub fn visit_from_row(r: visit::Model) -> Result<Visit, DomainError> {
    Ok(Visit {
        visit_time: from_us(r.visit_us)?,
        kind: parse(ReceptionKind::parse, "visit.kind", &r.kind)?,
        receiver_role: parse(ReceiverRole::parse, "visit.receiver_role", &r.receiver_role)?,
        persons: to_count(r.persons, "visit.persons")?,
        matter: parse(MatterKind::parse, "visit.matter", &r.matter)?,
        action: parse(ReceptionAction::parse, "visit.action", &r.action)?,
        create_time: from_us(r.create_us)?,
        id: r.id,
        unit_code: r.unit_code,
        receiver_name: r.receiver_name,
        crowd_group: r.crowd_group,
        summary: r.summary,
        schedule_entry_id: r.schedule_entry_id,
    })
}

pub fn schedule_from_row(r: schedule_entry::Model) -> Result<ScheduleEntry, DomainError> {
    Ok(ScheduleEntry {
        receiver_role: parse(
            ReceiverRole::parse,
            "schedule.receiver_role",
            &r.receiver_role,
        )?,
        start_time: from_us(r.start_us)?,
        end_time: from_us(r.end_us)?,
        id: r.id,
        unit_code: r.unit_code,
        receiver_name: r.receiver_name,
        location: r.location,
    })
}

pub fn conclusion_from_row(r: conclusion::Model) -> Result<Conclusion, DomainError> {
    Ok(Conclusion {
        conclusion_time: from_us(r.conclusion_us)?,
        status: parse(ConclusionStatus::parse, "conclusion.status", &r.status)?,
        done_time: opt_us(r.done_us)?,
        id: r.id,
        unit_code: r.unit_code,
        visit_id: r.visit_id,
        text: r.text,
        assignee: r.assignee,
        progress_note: r.progress_note,
    })
}

pub(super) fn conclusion_row(c: &Conclusion) -> conclusion::ActiveModel {
    conclusion::ActiveModel {
        id: Set(c.id.clone()),
        unit_code: Set(c.unit_code.clone()),
        visit_id: Set(c.visit_id.clone()),
        text: Set(c.text.clone()),
        assignee: Set(c.assignee.clone()),
        conclusion_us: Set(to_us(c.conclusion_time)),
        status: Set(c.status.as_str().into()),
        progress_note: Set(c.progress_note.clone()),
        done_us: Set(c.done_time.map(to_us)),
    }
}

pub fn petition_from_row(r: petition::Model) -> Result<Petition, DomainError> {
    let petition_type = parse_opt(
        PetitionType::parse,
        "petition.type",
        r.petition_type.as_deref(),
    )?;
    let field = parse_opt(Field::parse, "petition.field", r.field.as_deref())?;
    let eligibility = parse_opt(
        Eligibility::parse,
        "petition.eligibility",
        r.eligibility.as_deref(),
    )?;
    let jurisdiction = parse_opt(
        Jurisdiction::parse,
        "petition.jurisdiction",
        r.jurisdiction.as_deref(),
    )?;
    let classification = match (petition_type, field, eligibility, jurisdiction) {
        (Some(petition_type), Some(field), Some(eligibility), Some(jurisdiction)) => {
            Some(Classification {
                petition_type,
                field,
                complaint_round: to_count(r.complaint_round, "petition.complaint_round")?,
                eligibility,
                jurisdiction,
                has_evidence: r.has_evidence,
            })
        }
        _ => None,
    };
    Ok(Petition {
        received_time: from_us(r.received_us)?,
        channel: parse(Channel::parse, "petition.channel", &r.channel)?,
        status: parse(PetitionStatus::parse, "petition.status", &r.status)?,
        signers: to_count(r.signers, "petition.signers")?,
        file_reason: parse_opt(
            FileReason::parse,
            "petition.file_reason",
            r.file_reason.as_deref(),
        )?,
        processed_time: opt_us(r.processed_us)?,
        version: to_count(r.version, "petition.version")?,
        update_time: from_us(r.update_us)?,
        classification,
        id: r.id,
        unit_code: r.unit_code,
        summary: r.summary,
        anonymous: r.anonymous,
        visit_id: r.visit_id,
        case_id: r.case_id,
        transferred_to_unit: r.transferred_to_unit,
        outside_body: r.outside_body,
        note: r.note,
        due_date: r.due_date,
        result: match (r.result_case_id, r.result_outcome, r.result_us) {
            (Some(case_id), Some(outcome), Some(us)) => Some(PetitionResult {
                case_id,
                outcome: parse(CaseOutcome::parse, "petition.result_outcome", &outcome)?,
                decision_time: from_us(us)?,
            }),
            _ => None,
        },
        source_petition_id: r.source_petition_id,
        source_unit: r.source_unit,
    })
}

pub(super) fn petition_row(p: &Petition) -> petition::ActiveModel {
    let c = p.classification.as_ref();
    petition::ActiveModel {
        id: Set(p.id.clone()),
        unit_code: Set(p.unit_code.clone()),
        received_us: Set(to_us(p.received_time)),
        channel: Set(p.channel.as_str().into()),
        summary: Set(p.summary.clone()),
        status: Set(p.status.as_str().into()),
        anonymous: Set(p.anonymous),
        signers: Set(count(p.signers)),
        visit_id: Set(p.visit_id.clone()),
        petition_type: Set(c.map(|c| c.petition_type.as_str().into())),
        field: Set(c.map(|c| c.field.as_str().into())),
        complaint_round: Set(c.map_or(0, |c| count(c.complaint_round))),
        eligibility: Set(c.map(|c| c.eligibility.as_str().into())),
        jurisdiction: Set(c.map(|c| c.jurisdiction.as_str().into())),
        has_evidence: Set(c.is_some_and(|c| c.has_evidence)),
        case_id: Set(p.case_id.clone()),
        transferred_to_unit: Set(p.transferred_to_unit.clone()),
        outside_body: Set(p.outside_body.clone()),
        file_reason: Set(p.file_reason.map(|r| r.as_str().into())),
        note: Set(p.note.clone()),
        due_date: Set(p.due_date),
        processed_us: Set(p.processed_time.map(to_us)),
        version: Set(count(p.version)),
        update_us: Set(to_us(p.update_time)),
        source_petition_id: Set(p.source_petition_id.clone()),
        source_unit: Set(p.source_unit.clone()),
        result_case_id: Set(p.result.as_ref().map(|r| r.case_id.clone())),
        result_outcome: Set(p.result.as_ref().map(|r| r.outcome.as_str().to_string())),
        result_us: Set(p.result.as_ref().map(|r| to_us(r.decision_time))),
    }
}

pub fn case_from_row(r: case::Model, petition_ids: Vec<String>) -> Result<Case, DomainError> {
    Ok(Case {
        case_type: parse(PetitionType::parse, "case.type", &r.case_type)?,
        field: parse(Field::parse, "case.field", &r.field)?,
        complaint_round: to_count(r.complaint_round, "case.complaint_round")?,
        extensions: to_count(r.extensions, "case.extensions")?,
        status: parse(CaseStatus::parse, "case.status", &r.status)?,
        accept_time: from_us(r.accept_us)?,
        outcome: parse_opt(CaseOutcome::parse, "case.outcome", r.outcome.as_deref())?,
        decision_time: opt_us(r.decision_us)?,
        effective_time: opt_us(r.effective_us)?,
        enforced_time: opt_us(r.enforced_us)?,
        version: to_count(r.version, "case.version")?,
        update_time: from_us(r.update_us)?,
        petition_ids,
        id: r.id,
        owner_unit: r.owner_unit,
        complex: r.complex,
        due_date: r.due_date,
        decision_number: r.decision_number,
        money_to_recover_vnd: r.money_to_recover_vnd,
        land_to_recover_m2: r.land_to_recover_m2,
        money_recovered_vnd: r.money_recovered_vnd,
        land_recovered_m2: r.land_recovered_m2,
    })
}

pub(super) fn case_row(c: &Case) -> case::ActiveModel {
    case::ActiveModel {
        id: Set(c.id.clone()),
        owner_unit: Set(c.owner_unit.clone()),
        case_type: Set(c.case_type.as_str().into()),
        field: Set(c.field.as_str().into()),
        complaint_round: Set(count(c.complaint_round)),
        complex: Set(c.complex),
        extensions: Set(count(c.extensions)),
        status: Set(c.status.as_str().into()),
        accept_us: Set(to_us(c.accept_time)),
        due_date: Set(c.due_date),
        outcome: Set(c.outcome.map(|o| o.as_str().into())),
        decision_number: Set(c.decision_number.clone()),
        decision_us: Set(c.decision_time.map(to_us)),
        money_to_recover_vnd: Set(c.money_to_recover_vnd),
        land_to_recover_m2: Set(c.land_to_recover_m2),
        effective_us: Set(c.effective_time.map(to_us)),
        money_recovered_vnd: Set(c.money_recovered_vnd),
        land_recovered_m2: Set(c.land_recovered_m2),
        enforced_us: Set(c.enforced_time.map(to_us)),
        version: Set(count(c.version)),
        update_us: Set(to_us(c.update_time)),
    }
}

pub(super) fn visit_active(v: &Visit) -> visit::ActiveModel {
    visit::ActiveModel {
        id: Set(v.id.clone()),
        unit_code: Set(v.unit_code.clone()),
        visit_us: Set(to_us(v.visit_time)),
        kind: Set(v.kind.as_str().into()),
        receiver_role: Set(v.receiver_role.as_str().into()),
        receiver_name: Set(v.receiver_name.clone()),
        persons: Set(count(v.persons)),
        crowd_group: Set(v.crowd_group),
        matter: Set(v.matter.as_str().into()),
        action: Set(v.action.as_str().into()),
        summary: Set(v.summary.clone()),
        schedule_entry_id: Set(v.schedule_entry_id.clone()),
        create_us: Set(to_us(v.create_time)),
    }
}

pub(super) fn schedule_active(e: &ScheduleEntry) -> schedule_entry::ActiveModel {
    schedule_entry::ActiveModel {
        id: Set(e.id.clone()),
        unit_code: Set(e.unit_code.clone()),
        receiver_role: Set(e.receiver_role.as_str().into()),
        receiver_name: Set(e.receiver_name.clone()),
        start_us: Set(to_us(e.start_time)),
        end_us: Set(to_us(e.end_time)),
        location: Set(e.location.clone()),
    }
}
