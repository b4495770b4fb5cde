//! Records as the forms' columns see them: their fields, dates and numbers by name.

use super::Fact;
use crate::domain::deadlines::local_date;
use crate::domain::model::{Case, Petition, ScheduleEntry, Visit};

/// A visit's fields as the forms name them. `head`: received by a head (in person).
pub fn visit_fact(v: &Visit) -> Fact {
    let day = local_date(v.visit_time);
    let mut f = Fact {
        kind: "visit",
        unit: v.unit_code.clone(),
        ..Default::default()
    };
    f.fields.insert("kind", v.kind.as_str().to_string());
    f.fields
        .insert("receiver", v.receiver_role.as_str().to_string());
    f.fields
        .insert("head", v.receiver_role.is_head().to_string());
    f.fields.insert("matter", v.matter.as_str().to_string());
    f.fields.insert("crowd_group", v.crowd_group.to_string());
    f.fields.insert("day", day.to_string());
    f.dates.insert("visit", day);
    f.numbers.insert("persons", f64::from(v.persons));
    f
}

/// A petition's fields: its classification's ("" while unclassified), its state, and the
/// day it was processed (its eligibility review finished and it was routed), if it was.
pub fn petition_fact(p: &Petition) -> Fact {
    let mut f = Fact {
        kind: "petition",
        unit: p.unit_code.clone(),
        source_unit: p.source_unit.clone(),
        ..Default::default()
    };
    let c = p.classification.as_ref();
    let text = |s: Option<&str>| s.unwrap_or_default().to_string();
    f.fields
        .insert("type", text(c.map(|c| c.petition_type.as_str())));
    f.fields.insert("field", text(c.map(|c| c.field.as_str())));
    f.fields.insert(
        "round",
        c.filter(|c| c.complaint_round > 0)
            .map(|c| c.complaint_round.to_string())
            .unwrap_or_default(),
    );
    f.fields
        .insert("eligibility", text(c.map(|c| c.eligibility.as_str())));
    f.fields
        .insert("jurisdiction", text(c.map(|c| c.jurisdiction.as_str())));
    f.fields.insert("status", p.status.as_str().to_string());
    f.fields.insert("channel", p.channel.as_str().to_string());
    f.fields.insert("classified", c.is_some().to_string());
    f.fields
        .insert("processed", p.processed_time.is_some().to_string());
    f.dates.insert("received", local_date(p.received_time));
    if let Some(t) = p.processed_time {
        f.dates.insert("processed", local_date(t));
    }
    f.numbers.insert("signers", f64::from(p.signers));
    f
}

/// A case's fields; money in millions of đồng (triệu đồng), as the forms print it.
pub fn case_fact(k: &Case) -> Fact {
    let mut f = Fact {
        kind: "case",
        unit: k.owner_unit.clone(),
        ..Default::default()
    };
    f.fields.insert("type", k.case_type.as_str().to_string());
    f.fields.insert("field", k.field.as_str().to_string());
    f.fields.insert(
        "round",
        if k.complaint_round > 0 {
            k.complaint_round.to_string()
        } else {
            String::new()
        },
    );
    f.fields.insert("status", k.status.as_str().to_string());
    f.fields.insert(
        "outcome",
        k.outcome
            .map(|o| o.as_str().to_string())
            .unwrap_or_default(),
    );
    f.dates.insert("accepted", local_date(k.accept_time));
    if let Some(t) = k.decision_time {
        f.dates.insert("decided", local_date(t));
    }
    if let Some(t) = k.enforced_time {
        f.dates.insert("enforced", local_date(t));
    }
    let million = |vnd: i64| vnd as f64 / 1_000_000.0;
    f.numbers.insert(
        "money_to_recover_million_vnd",
        million(k.money_to_recover_vnd),
    );
    f.numbers.insert("land_to_recover_m2", k.land_to_recover_m2);
    f.numbers.insert(
        "money_recovered_million_vnd",
        million(k.money_recovered_vnd),
    );
    f.numbers.insert("land_recovered_m2", k.land_recovered_m2);
    f
}

/// A published reception day's fields.
pub fn schedule_fact(e: &ScheduleEntry) -> Fact {
    let day = local_date(e.start_time);
    let mut f = Fact {
        kind: "schedule",
        unit: e.unit_code.clone(),
        ..Default::default()
    };
    f.fields
        .insert("receiver", e.receiver_role.as_str().to_string());
    f.fields
        .insert("head", e.receiver_role.is_head().to_string());
    f.fields.insert("day", day.to_string());
    f.dates.insert("day", day);
    f
}
