//! Conversion of records received from another node (a child's journal, a transfer). The
//! sender is not trusted: every field is checked and a violation names it.

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

/// A reorganisation as a client or a child sends it. A unit that ends may name its code
/// alone (its other fields are filled from the tree where it is applied).
pub fn reorganisation(r: &pb::Reorganisation) -> R<Reorganisation> {
    let mut v = Violations::default();
    v.recorded_text("reorganisation.id", &r.id, 64, true);
    v.recorded_text("reorganisation.title", &r.title, 500, false);
    code(&mut v, "reorganisation.authority_code", &r.authority_code);
    let effective = date(&mut v, "reorganisation.effective_date", &r.effective_date);
    if r.changes.len() > crate::domain::map::MAX_CHANGES {
        return Err(crate::domain::DomainError::invalid(
            "reorganisation.changes",
            format!("at most {} units", crate::domain::map::MAX_CHANGES),
        ));
    }
    let mut changes = Vec::with_capacity(r.changes.len());
    for (i, c) in r.changes.iter().enumerate() {
        let f = |name: &str| format!("reorganisation.changes[{i}].{name}");
        let Some(u) = &c.unit else {
            v.add(f("unit"), "required");
            continue;
        };
        code(&mut v, &f("unit.code"), &u.code);
        let ends = !c.successor_code.is_empty();
        if ends {
            code(&mut v, &f("successor_code"), &c.successor_code);
        }
        if !u.parent_code.is_empty() {
            code(&mut v, &f("unit.parent_code"), &u.parent_code);
        }
        v.recorded_text(&f("unit.name"), &u.name, MAX_NAME, !ends);
        let level = if ends && u.level == 0 {
            Some(UnitLevel::Commune)
        } else {
            req::<UnitLevel>(&mut v, &f("unit.level"), u.level)
        };
        if let Some(level) = level {
            changes.push(UnitChange {
                unit: Unit {
                    code: u.code.clone(),
                    name: u.name.clone(),
                    level,
                    parent_code: opt_s(&u.parent_code),
                    remote: u.remote,
                },
                successor: opt_s(&c.successor_code),
            });
        }
    }
    let value = effective.map(|effective| Reorganisation {
        id: r.id.clone(),
        title: r.title.clone(),
        authority: r.authority_code.clone(),
        effective,
        changes,
    });
    done(v, value)
}
