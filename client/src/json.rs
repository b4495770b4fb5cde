//! JSON documents of the API's records for scripts: enum values as words, times in RFC 3339
//! local time (+07:00), absent values as `null`. prost types carry no serde, so the shape is
//! written out here, which also keeps it stable when the wire adds fields.

use prost_types::Timestamp;
use serde_json::{Value, json};
use tiepdan_proto::v1 as pb;

use crate::time::rfc3339;
use crate::words::{Word, word_of};

fn time(ts: Option<&Timestamp>) -> Value {
    rfc3339(ts).map_or(Value::Null, Value::String)
}

fn word<T: Word>(number: i32) -> Value {
    word_of::<T>(number).map_or(Value::Null, Value::String)
}

fn opt(s: &str) -> Value {
    if s.is_empty() {
        Value::Null
    } else {
        Value::String(s.to_string())
    }
}

/// A unit.
pub fn unit(u: &pb::Unit) -> Value {
    json!({
        "code": u.code,
        "name": u.name,
        "level": word::<pb::UnitLevel>(u.level),
        "parent_code": opt(&u.parent_code),
        "remote": u.remote,
    })
}

/// A reception visit.
pub fn visit(v: &pb::Visit) -> Value {
    json!({
        "id": v.id,
        "unit_code": v.unit_code,
        "visit_time": time(v.visit_time.as_ref()),
        "kind": word::<pb::ReceptionKind>(v.kind),
        "receiver_role": word::<pb::ReceiverRole>(v.receiver_role),
        "receiver_name": opt(&v.receiver_name),
        "persons": v.persons,
        "crowd_group": v.crowd_group,
        "matter": word::<pb::MatterKind>(v.matter),
        "action": word::<pb::ReceptionAction>(v.action),
        "summary": opt(&v.summary),
        "schedule_entry_id": opt(&v.schedule_entry_id),
        "create_time": time(v.create_time.as_ref()),
    })
}

/// A published reception day.
pub fn schedule_entry(e: &pb::ScheduleEntry) -> Value {
    json!({
        "id": e.id,
        "unit_code": e.unit_code,
        "receiver_role": word::<pb::ReceiverRole>(e.receiver_role),
        "receiver_name": opt(&e.receiver_name),
        "start_time": time(e.start_time.as_ref()),
        "end_time": time(e.end_time.as_ref()),
        "location": opt(&e.location),
    })
}

/// A head's conclusion.
pub fn conclusion(c: &pb::Conclusion) -> Value {
    json!({
        "id": c.id,
        "unit_code": c.unit_code,
        "visit_id": opt(&c.visit_id),
        "text": c.text,
        "assignee": opt(&c.assignee),
        "conclusion_time": time(c.conclusion_time.as_ref()),
        "status": word::<pb::ConclusionStatus>(c.status),
        "progress_note": opt(&c.progress_note),
        "done_time": time(c.done_time.as_ref()),
    })
}

/// A statutory deadline.
pub fn deadline(d: Option<&pb::Deadline>) -> Value {
    let Some(d) = d else {
        return Value::Null;
    };
    json!({
        "step": d.step,
        "due_date": opt(&d.due_date),
        "due_time": time(d.due_time.as_ref()),
        "overdue": d.overdue,
        "days_overdue": d.days_overdue,
    })
}

/// A petitioner's details.
pub fn petitioner(p: Option<&pb::Petitioner>) -> Value {
    let Some(p) = p else {
        return Value::Null;
    };
    json!({
        "full_name": p.full_name,
        "address": opt(&p.address),
        "id_number": opt(&p.id_number),
        "phone": opt(&p.phone),
        "email": opt(&p.email),
    })
}

/// A petition.
pub fn petition(p: &pb::Petition) -> Value {
    json!({
        "id": p.id,
        "unit_code": p.unit_code,
        "received_time": time(p.received_time.as_ref()),
        "channel": word::<pb::Channel>(p.channel),
        "type": word::<pb::PetitionType>(p.r#type),
        "field": word::<pb::Field>(p.field),
        "complaint_round": p.complaint_round,
        "summary": p.summary,
        "status": word::<pb::PetitionStatus>(p.status),
        "eligibility": word::<pb::Eligibility>(p.eligibility),
        "jurisdiction": word::<pb::Jurisdiction>(p.jurisdiction),
        "anonymous": p.anonymous,
        "has_evidence": p.has_evidence,
        "signers": p.signers,
        "visit_id": opt(&p.visit_id),
        "case_id": opt(&p.case_id),
        "transferred_to_unit": opt(&p.transferred_to_unit),
        "outside_body": opt(&p.outside_body),
        "file_reason": word::<pb::FileReason>(p.file_reason),
        "note": opt(&p.note),
        "deadline": deadline(p.deadline.as_ref()),
        "processed_time": time(p.processed_time.as_ref()),
        "petitioner": petitioner(p.petitioner.as_ref()),
        "version": p.version,
        "update_time": time(p.update_time.as_ref()),
    })
}

/// A case.
pub fn case(c: &pb::Case) -> Value {
    json!({
        "id": c.id,
        "owner_unit": c.owner_unit,
        "type": word::<pb::PetitionType>(c.r#type),
        "field": word::<pb::Field>(c.field),
        "complaint_round": c.complaint_round,
        "complex": c.complex,
        "extensions": c.extensions,
        "status": word::<pb::CaseStatus>(c.status),
        "accept_time": time(c.accept_time.as_ref()),
        "deadline": deadline(c.deadline.as_ref()),
        "petition_ids": c.petition_ids,
        "outcome": word::<pb::CaseOutcome>(c.outcome),
        "decision_number": opt(&c.decision_number),
        "decision_time": time(c.decision_time.as_ref()),
        "money_to_recover_vnd": c.money_to_recover_vnd,
        "land_to_recover_m2": c.land_to_recover_m2,
        "effective_time": time(c.effective_time.as_ref()),
        "money_recovered_vnd": c.money_recovered_vnd,
        "land_recovered_m2": c.land_recovered_m2,
        "enforced_time": time(c.enforced_time.as_ref()),
        "resolved_on_time": c.resolved_on_time,
        "version": c.version,
        "update_time": time(c.update_time.as_ref()),
    })
}

/// A petition and the case it was accepted into.
pub fn accepted(p: &pb::Petition, c: &pb::Case) -> Value {
    json!({ "petition": petition(p), "case": case(c) })
}

/// One overdue petition or case.
pub fn overdue_item(item: &pb::OverdueItem) -> Value {
    match &item.item {
        Some(pb::overdue_item::Item::Petition(p)) => json!({
            "kind": "petition",
            "days_overdue": item.days_overdue,
            "petition": petition(p),
        }),
        Some(pb::overdue_item::Item::Case(c)) => json!({
            "kind": "case",
            "days_overdue": item.days_overdue,
            "case": case(c),
        }),
        None => json!({ "kind": null, "days_overdue": item.days_overdue }),
    }
}

/// The deadline table.
pub fn deadline_table(t: &pb::GetDeadlineTableResponse) -> Value {
    let rules: Vec<Value> = t
        .rules
        .iter()
        .map(|r| {
            json!({
                "step": r.step,
                "description": r.description,
                "days": r.days,
                "working_days": r.working_days,
            })
        })
        .collect();
    json!({ "time_zone": t.time_zone, "rules": rules })
}

/// A journal event: its header and the changed record.
pub fn journal_event(e: &pb::JournalEvent) -> Value {
    use pb::journal_event::Change;
    let (kind, record) = match &e.change {
        Some(Change::UnitRegistered(u)) => ("unit", unit(u)),
        Some(Change::VisitRecorded(v)) => ("visit", visit(v)),
        Some(Change::SchedulePublished(s)) => ("schedule_entry", schedule_entry(s)),
        Some(Change::ConclusionChanged(c)) => ("conclusion", conclusion(c)),
        Some(Change::PetitionChanged(p)) => ("petition", petition(p)),
        Some(Change::CaseChanged(c)) => ("case", case(c)),
        Some(Change::Reorganised(r)) => ("reorganisation", reorganisation(r)),
        None => ("unknown", Value::Null),
    };
    json!({
        "origin_unit": e.origin_unit,
        "sequence": e.sequence,
        "event_time": time(e.event_time.as_ref()),
        "action": e.action,
        "kind": kind,
        "record": record,
    })
}

/// A version of a unit.
pub fn unit_version(v: &pb::UnitVersion) -> Value {
    let u = v.unit.clone().unwrap_or_default();
    json!({
        "code": u.code,
        "name": u.name,
        "level": word::<pb::UnitLevel>(u.level),
        "parent_code": opt(&u.parent_code),
        "valid_from": opt(&v.valid_from),
        "valid_until": opt(&v.valid_until),
        "successor_code": opt(&v.successor_code),
        "reorganisation_id": opt(&v.reorganisation_id),
    })
}

/// A reorganisation.
pub fn reorganisation(r: &pb::Reorganisation) -> Value {
    json!({
        "id": r.id,
        "title": r.title,
        "authority_code": r.authority_code,
        "effective_date": r.effective_date,
        "changes": r.changes.iter().map(|c| {
            let u = c.unit.clone().unwrap_or_default();
            json!({
                "code": u.code,
                "name": opt(&u.name),
                "parent_code": opt(&u.parent_code),
                "successor_code": opt(&c.successor_code),
            })
        }).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn petition_words_and_local_times() {
        let p = pb::Petition {
            id: "269-P1".into(),
            received_time: Some(Timestamp {
                seconds: 1_568_478_600, // 2019-09-14T16:30:00Z
                nanos: 0,
            }),
            r#type: pb::PetitionType::Complaint as i32,
            field: pb::Field::LandHousing as i32,
            status: pb::PetitionStatus::Accepted as i32,
            case_id: "269-C1".into(),
            ..Default::default()
        };
        let v = petition(&p);
        assert_eq!(v["type"], "complaint");
        assert_eq!(v["field"], "land_housing");
        assert_eq!(v["status"], "accepted");
        assert_eq!(v["received_time"], "2019-09-14T23:30:00+07:00");
        assert_eq!(v["channel"], Value::Null);
        assert_eq!(v["visit_id"], Value::Null);
        assert_eq!(v["case_id"], "269-C1");
    }
}
