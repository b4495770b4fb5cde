//! Petitions and cases: receive and classify, the decisions, the listings, and a case's
//! resolution and enforcement.

// Requests end in `..Default::default()`: the API only ever adds fields, and a field added
// later must keep its default here rather than break the build.
#![allow(clippy::needless_update)]

use chrono::{DateTime, Utc};
use tiepdan_client::{Client, Error, PetitionDecision, json};
use tiepdan_proto::v1 as pb;

use super::listing::collect;
use super::{ts, ts_opt};
use crate::cli::args::{CaseCommand, Output, PetitionCommand, Range};
use crate::cli::show;

pub async fn petition(
    client: &Client,
    format: Output,
    c: PetitionCommand,
    rid: String,
) -> Result<(), Error> {
    let answer = match c {
        PetitionCommand::Receive {
            time,
            channel,
            summary,
            name,
            address,
            id_number,
            phone,
            email,
            signers,
            visit,
            classify,
        } => {
            client
                .receive_petition(pb::ReceivePetitionRequest {
                    request_id: rid,
                    received_time: ts(time),
                    channel: channel as i32,
                    summary,
                    petitioner: name.map(|full_name| pb::Petitioner {
                        full_name,
                        address,
                        id_number,
                        phone,
                        email,
                    }),
                    signers,
                    visit_id: visit,
                    classification: classify.classification(),
                    ..Default::default()
                })
                .await?
        }
        PetitionCommand::Classify { id, classify, time } => {
            client
                .classify_petition(pb::ClassifyPetitionRequest {
                    request_id: rid,
                    petition_id: id,
                    classification: Some(classify.classification().unwrap_or_default()),
                    decision_time: ts_opt(time),
                    ..Default::default()
                })
                .await?
        }
        PetitionCommand::Get { id, reason } => {
            client
                .get_petition(pb::GetPetitionRequest {
                    petition_id: id,
                    reason,
                    ..Default::default()
                })
                .await?
        }
        PetitionCommand::List {
            status,
            petition_type,
            unit,
            range,
            overdue,
            limit,
        } => {
            let Range { from, to } = range;
            let request = pb::ListPetitionsRequest {
                status: status.map_or(0, |s| s as i32),
                r#type: petition_type.map_or(0, |t| t as i32),
                unit_code: unit,
                start_time: ts_opt(from),
                end_time: ts_opt(to),
                overdue_only: overdue,
                ..Default::default()
            };
            let list = collect(limit, request, |r| client.list_petitions(r)).await?;
            show::list(
                format,
                &list,
                show::PETITION,
                show::petition,
                json::petition,
            );
            return Ok(());
        }
        PetitionCommand::Overdue { as_of, limit } => {
            let request = pb::ListOverdueItemsRequest {
                as_of_time: ts_opt(as_of),
                ..Default::default()
            };
            let items = collect(limit, request, |r| client.list_overdue_items(r)).await?;
            show::list(
                format,
                &items,
                show::OVERDUE,
                show::overdue_item,
                json::overdue_item,
            );
            return Ok(());
        }
        PetitionCommand::Accept {
            id,
            time,
            case_id,
            complex,
        } => {
            let target = match case_id {
                Some(case_id) => pb::accept_petition_request::Target::CaseId(case_id),
                None => pb::accept_petition_request::Target::NewCase(pb::NewCase { complex }),
            };
            let decision = PetitionDecision::Accept(target);
            return decide(client, format, &rid, &id, Some(time), &decision).await;
        }
        PetitionCommand::Guide {
            id,
            body,
            note,
            time,
        } => {
            let decision = PetitionDecision::Guide {
                outside_body: body,
                note,
            };
            return decide(client, format, &rid, &id, time, &decision).await;
        }
        PetitionCommand::Transfer {
            id,
            unit,
            body,
            note,
            time,
        } => {
            let destination = match (unit, body) {
                (Some(code), _) => pb::transfer_petition_request::Destination::UnitCode(code),
                (None, body) => pb::transfer_petition_request::Destination::OutsideBody(
                    body.unwrap_or_default(),
                ),
            };
            let decision = PetitionDecision::Transfer { destination, note };
            return decide(client, format, &rid, &id, time, &decision).await;
        }
        PetitionCommand::Urge {
            id,
            body,
            note,
            time,
        } => {
            let decision = PetitionDecision::Urge {
                outside_body: body,
                note,
            };
            return decide(client, format, &rid, &id, time, &decision).await;
        }
        PetitionCommand::Return { id, note, time } => {
            let decision = PetitionDecision::Return { note };
            return decide(client, format, &rid, &id, time, &decision).await;
        }
        PetitionCommand::Withdraw { id, note, time } => {
            let decision = PetitionDecision::Withdraw { note };
            return decide(client, format, &rid, &id, time, &decision).await;
        }
        PetitionCommand::File {
            id,
            reason,
            note,
            time,
        } => {
            let decision = PetitionDecision::File { reason, note };
            return decide(client, format, &rid, &id, time, &decision).await;
        }
    };
    show::one(format, &json::petition(&answer));
    Ok(())
}

/// Sends a decision and prints the petition after it, with its case for an acceptance.
async fn decide(
    client: &Client,
    format: Output,
    rid: &str,
    id: &str,
    time: Option<DateTime<Utc>>,
    decision: &PetitionDecision,
) -> Result<(), Error> {
    let (petition, case) = client.decide(rid, id, time, decision).await?;
    match case {
        Some(case) => show::one(format, &json::accepted(&petition, &case)),
        None => show::one(format, &json::petition(&petition)),
    }
    Ok(())
}

pub async fn case(
    client: &Client,
    format: Output,
    c: CaseCommand,
    rid: String,
) -> Result<(), Error> {
    let answer = match c {
        CaseCommand::Get { id } => {
            client
                .get_case(pb::GetCaseRequest {
                    case_id: id,
                    ..Default::default()
                })
                .await?
        }
        CaseCommand::List {
            status,
            petition_type,
            owner,
            range,
            overdue,
            limit,
        } => {
            let Range { from, to } = range;
            let request = pb::ListCasesRequest {
                status: status.map_or(0, |s| s as i32),
                r#type: petition_type.map_or(0, |t| t as i32),
                owner_unit: owner,
                start_time: ts_opt(from),
                end_time: ts_opt(to),
                overdue_only: overdue,
                ..Default::default()
            };
            let list = collect(limit, request, |r| client.list_cases(r)).await?;
            show::list(format, &list, show::CASE, show::case, json::case);
            return Ok(());
        }
        CaseCommand::Extend { id, note } => {
            client
                .extend_case(pb::ExtendCaseRequest {
                    request_id: rid,
                    case_id: id,
                    note,
                    ..Default::default()
                })
                .await?
        }
        CaseCommand::Resolve {
            id,
            outcome,
            decision_number,
            time,
            money,
            land,
        } => {
            client
                .resolve_case(pb::ResolveCaseRequest {
                    request_id: rid,
                    case_id: id,
                    outcome: outcome as i32,
                    decision_number,
                    decision_time: ts(time),
                    money_to_recover_vnd: money,
                    land_to_recover_m2: land,
                    ..Default::default()
                })
                .await?
        }
        CaseCommand::InForce { id, time } => {
            client
                .record_case_in_force(pb::RecordCaseInForceRequest {
                    request_id: rid,
                    case_id: id,
                    effective_time: ts(time),
                    ..Default::default()
                })
                .await?
        }
        CaseCommand::Enforce {
            id,
            money,
            land,
            completed,
            time,
        } => {
            client
                .record_enforcement(pb::RecordEnforcementRequest {
                    request_id: rid,
                    case_id: id,
                    money_recovered_vnd: money,
                    land_recovered_m2: land,
                    completed,
                    enforcement_time: ts(time),
                    ..Default::default()
                })
                .await?
        }
    };
    show::one(format, &json::case(&answer));
    Ok(())
}
