//! A record's fields into a typed record: each field read once, its problems noted by name,
//! the record refused whole when any is wrong.

use tiepdan_proto::v1 as pb;

use super::fields::Fields;
use super::{
    AcceptTarget, Action, Decision, Destination, Enforcement, FIELDS, Petition, Resolution, Visit,
};

pub(super) fn visit(f: &mut Fields) -> Option<Visit> {
    let visit_time = f.time("visit_time", true);
    let kind = f.word::<pb::ReceptionKind>("kind", true);
    let receiver_role = f.word::<pb::ReceiverRole>("receiver_role", true);
    let receiver_name = f.text("receiver_name").unwrap_or_default();
    let persons = f.count("persons");
    if persons.is_none() {
        f.problem("persons: required, a whole number");
    }
    let matter = f.word::<pb::MatterKind>("matter", true);
    let action = f.word::<pb::ReceptionAction>("action", true);
    let summary = f.text("summary").unwrap_or_default();
    Some(Visit {
        visit_time: visit_time?,
        kind: kind?,
        receiver_role: receiver_role?,
        receiver_name,
        persons: persons?,
        matter: matter?,
        action: action?,
        summary,
    })
}

pub(super) fn petition(f: &mut Fields) -> Option<Petition> {
    let received_time = f.time("received_time", true);
    let channel = f.word::<pb::Channel>("channel", true);
    let summary = f.required("summary");
    let visit = f.key("visit", false);
    let signers = f.count("signers").unwrap_or(0);
    let petitioner = petitioner(f);
    let classification = classification(f);
    let decision = decision(f);
    Some(Petition {
        received_time: received_time?,
        channel: channel?,
        summary: summary?,
        visit,
        signers,
        petitioner: petitioner?,
        classification: classification?,
        decision: decision?,
    })
}

/// `Some(None)`: no petitioner, an anonymous petition; `None`: a problem was recorded.
fn petitioner(f: &mut Fields) -> Option<Option<pb::Petitioner>> {
    if !f.has_group("petitioner") {
        return Some(None);
    }
    let full_name = f.required("petitioner.full_name");
    let address = f.text("petitioner.address").unwrap_or_default();
    let id_number = f.text("petitioner.id_number").unwrap_or_default();
    let phone = f.text("petitioner.phone").unwrap_or_default();
    let email = f.text("petitioner.email").unwrap_or_default();
    Some(Some(pb::Petitioner {
        full_name: full_name?,
        address,
        id_number,
        phone,
        email,
    }))
}

fn classification(f: &mut Fields) -> Option<Option<pb::Classification>> {
    if !f.has_group("classification") {
        return Some(None);
    }
    let petition_type = f.word::<pb::PetitionType>("classification.type", true);
    let field = f.word::<pb::Field>("classification.field", true);
    let complaint_round = f.count("classification.complaint_round").unwrap_or(0);
    let eligibility = f.word::<pb::Eligibility>("classification.eligibility", true);
    let jurisdiction = f.word::<pb::Jurisdiction>("classification.jurisdiction", true);
    let has_evidence = f.flag("classification.has_evidence").unwrap_or(false);
    Some(Some(pb::Classification {
        r#type: petition_type? as i32,
        field: field? as i32,
        complaint_round,
        eligibility: eligibility? as i32,
        jurisdiction: jurisdiction? as i32,
        has_evidence,
    }))
}

/// The `decision.*` fields other than the action, in the order the format lists them.
fn every_decision_field() -> impl Iterator<Item = &'static str> {
    FIELDS
        .iter()
        .copied()
        .filter(|name| name.starts_with("decision.") && *name != "decision.action")
}

/// The fields each decision uses; any other `decision.*` field is refused rather than
/// silently dropped.
fn decision_fields(action: &str) -> Option<&'static [&'static str]> {
    Some(match action {
        "accept" => &["decision.time", "decision.complex", "decision.join"],
        "guide" | "urge" => &["decision.time", "decision.outside_body", "decision.note"],
        "transfer" => &[
            "decision.time",
            "decision.unit",
            "decision.outside_body",
            "decision.note",
        ],
        "return" | "withdraw" => &["decision.time", "decision.note"],
        "file" => &["decision.time", "decision.reason", "decision.note"],
        _ => return None,
    })
}

fn decision(f: &mut Fields) -> Option<Option<Decision>> {
    if !f.has_group("decision") {
        return Some(None);
    }
    let action = f.text("decision.action").map(|a| a.to_lowercase());
    let allowed = action.as_deref().and_then(decision_fields);
    let (Some(action), Some(allowed)) = (action.clone(), allowed) else {
        f.problem(match action {
            None => "decision.action: required".to_string(),
            Some(a) => format!(
                "decision.action: {a:?} is not one of: accept, guide, transfer, urge, return, \
                 withdraw, file"
            ),
        });
        for name in every_decision_field() {
            f.text(name);
        }
        return None;
    };
    for name in every_decision_field() {
        if !allowed.contains(&name) && f.text(name).is_some() {
            f.problem(format!("{name}: not used by a decision to {action}"));
        }
    }
    let time = f.time("decision.time", action == "accept");
    let note = f.text("decision.note").unwrap_or_default();
    let action = match action.as_str() {
        "accept" => {
            let complex = f.flag("decision.complex");
            let join = f.key("decision.join", false);
            let target = match (join, complex) {
                (Some(_), Some(_)) => {
                    f.problem(
                        "decision.complex: a petition joining another's case takes that case \
                         as it is",
                    );
                    return None;
                }
                (Some(key), None) => AcceptTarget::Join(key),
                (None, complex) => AcceptTarget::NewCase {
                    complex: complex.unwrap_or(false),
                },
            };
            time?;
            Action::Accept { target }
        }
        "guide" | "urge" => {
            let outside_body = f.required("decision.outside_body")?;
            if action == "guide" {
                Action::Guide { outside_body, note }
            } else {
                Action::Urge { outside_body, note }
            }
        }
        "transfer" => {
            let destination = match (f.text("decision.unit"), f.text("decision.outside_body")) {
                (Some(unit), None) => Destination::Unit(unit),
                (None, Some(body)) => Destination::Outside(body),
                _ => {
                    f.problem(
                        "decision.unit, decision.outside_body: a transfer goes to exactly one \
                         of a unit code or an outside body",
                    );
                    return None;
                }
            };
            Action::Transfer { destination, note }
        }
        "return" => Action::Return { note },
        "withdraw" => Action::Withdraw { note },
        _ => {
            let reason = f.word::<pb::FileReason>("decision.reason", true)?;
            Action::File { reason, note }
        }
    };
    Some(Some(Decision { time, action }))
}

pub(super) fn resolution(f: &mut Fields) -> Option<Resolution> {
    let petition = f.key("petition", true);
    let outcome = f.word::<pb::CaseOutcome>("outcome", true);
    let decision_number = f.text("decision_number").unwrap_or_default();
    let decision_time = f.time("decision_time", true);
    let money_to_recover_vnd = f.money("money_to_recover_vnd").unwrap_or(0);
    let land_to_recover_m2 = f.area("land_to_recover_m2").unwrap_or(0.0);
    let effective_time = f.time("effective_time", false);
    let enforcement = if f.has_group("enforcement") {
        let time = f.time("enforcement.time", true);
        let money_recovered_vnd = f.money("enforcement.money_recovered_vnd").unwrap_or(0);
        let land_recovered_m2 = f.area("enforcement.land_recovered_m2").unwrap_or(0.0);
        let completed = f.flag("enforcement.completed").unwrap_or(false);
        if effective_time.is_none() {
            f.problem("enforcement: a decision is enforced once in force: give effective_time");
        }
        Some(Enforcement {
            time: time?,
            money_recovered_vnd,
            land_recovered_m2,
            completed,
        })
    } else {
        None
    };
    Some(Resolution {
        petition: petition?,
        outcome: outcome?,
        decision_number,
        decision_time: decision_time?,
        money_to_recover_vnd,
        land_to_recover_m2,
        effective_time,
        enforcement,
    })
}
