//! Workloads recorded through the public gRPC API by free functions over a channel: visits,
//! petitions through every routing, and transfers between units.

use super::*;

/// When the `i`-th visit of a workload happens: spread over 2019, some at the edges of
/// `PERIOD_PART` at hours where the local day and the UTC day differ.
fn visit_time(i: u32) -> DateTime<Utc> {
    match i % 10 {
        0 => local(2019, 3, 1, 6, 15, 0),  // 28 Feb in UTC
        1 => local(2019, 7, 1, 3, 0, 0),   // 30 Jun in UTC
        2 => local(2019, 6, 30, 22, 0, 0), // 30 Jun both ways
        _ => on(
            date(2019, 1, 3) + chrono::Duration::days(i64::from((i * 37) % 355)),
            7 + i % 10,
            (i * 7) % 60,
        ),
    }
}

/// A plain visit request of 2019, its request id and summary made of `tag` and `i`.
pub fn visit_request(tag: &str, i: u32) -> pb::RecordVisitRequest {
    pb::RecordVisitRequest {
        request_id: format!("{tag}-v{i}"),
        visit_time: ts(local(2019, 5, 1 + i % 28, 8, 0, 0)),
        kind: pb::ReceptionKind::Regular as i32,
        receiver_role: pb::ReceiverRole::Staff as i32,
        receiver_name: String::new(),
        persons: 1 + i % 4,
        matter: pb::MatterKind::First as i32,
        action: pb::ReceptionAction::Accepted as i32,
        summary: format!("{tag} visit {i}"),
        schedule_entry_id: String::new(),
    }
}

/// Every visit the node holds, as (summary, id), in the node's order.
pub async fn all_visits(ch: &Channel) -> Vec<(String, String)> {
    let visits = visits_at(ch).await;
    visits.into_iter().map(|v| (v.summary, v.id)).collect()
}

/// Records `n` visits at the node of `ch`, numbered from `from` (request ids
/// `{tag}-v{i}`): various sizes (some crowd groups), receivers (some heads) and matters.
pub async fn record_visits(ch: &Channel, tag: &str, from: u32, n: u32) {
    let mut client = reception(ch);
    for i in from..from + n {
        let persons = [1, 2, 3, 5, 1, 9, 2, 4, 15, 1][(i % 10) as usize];
        let (kind, role) = match i % 7 {
            1 => (
                pb::ReceptionKind::Periodic,
                pb::ReceiverRole::CommitteeChairman,
            ),
            3 => (
                pb::ReceptionKind::Periodic,
                pb::ReceiverRole::PartySecretary,
            ),
            5 => (
                pb::ReceptionKind::Unscheduled,
                pb::ReceiverRole::CouncilDelegate,
            ),
            _ => (pb::ReceptionKind::Regular, pb::ReceiverRole::Staff),
        };
        client
            .record_visit(pb::RecordVisitRequest {
                request_id: format!("{tag}-v{i}"),
                visit_time: ts(visit_time(i)),
                kind: kind as i32,
                receiver_role: role as i32,
                receiver_name: String::new(),
                persons,
                matter: if i % 3 == 2 {
                    pb::MatterKind::Repeat
                } else {
                    pb::MatterKind::First
                } as i32,
                action: pb::ReceptionAction::Accepted as i32,
                summary: format!("Việc {tag} số {i}"),
                schedule_entry_id: String::new(),
            })
            .await
            .unwrap_or_else(|e| panic!("record visit {tag}-v{i}: {e}"));
    }
}

/// A classification as the workloads make them: land and housing, with evidence, `eligible`
/// or not, `within` the unit's jurisdiction or not.
pub fn class_of(kind: pb::PetitionType, eligible: bool, within: bool) -> pb::Classification {
    use pb::{Eligibility, Jurisdiction};
    pb::Classification {
        field: pb::Field::LandHousing as i32,
        has_evidence: true,
        ..class(
            kind,
            if eligible {
                Eligibility::Eligible
            } else {
                Eligibility::Ineligible
            },
            if within {
                Jurisdiction::Within
            } else {
                Jurisdiction::Outside
            },
        )
    }
}

/// Receives a petition.
pub async fn receive(
    ch: &Channel,
    request_id: String,
    when: DateTime<Utc>,
    classification: Option<pb::Classification>,
) -> pb::Petition {
    petitions(ch)
        .receive_petition(pb::ReceivePetitionRequest {
            summary: format!("Đơn {request_id}"),
            request_id,
            received_time: ts(when),
            channel: pb::Channel::InPerson as i32,
            petitioner: Some(pb::Petitioner {
                full_name: "Nguyễn Văn A".into(),
                address: "Sơn Tây".into(),
                ..Default::default()
            }),
            signers: 1,
            visit_id: String::new(),
            classification,
        })
        .await
        .unwrap_or_else(|e| panic!("receive petition: {e}"))
        .into_inner()
        .petition
        .unwrap()
}

/// Accepts a petition into a new case.
pub async fn accept_new(
    ch: &Channel,
    request_id: String,
    petition_id: &str,
    when: DateTime<Utc>,
) -> pb::Case {
    petitions(ch)
        .accept_petition(pb::AcceptPetitionRequest {
            request_id,
            petition_id: petition_id.to_string(),
            accept_time: ts(when),
            target: Some(pb::accept_petition_request::Target::NewCase(pb::NewCase {
                complex: false,
            })),
        })
        .await
        .unwrap_or_else(|e| panic!("accept {petition_id}: {e}"))
        .into_inner()
        .case
        .unwrap()
}

/// Accepts a petition into an open case of the same unit.
pub async fn accept_into(
    ch: &Channel,
    request_id: String,
    petition_id: &str,
    case_id: &str,
    when: DateTime<Utc>,
) -> pb::Case {
    petitions(ch)
        .accept_petition(pb::AcceptPetitionRequest {
            request_id,
            petition_id: petition_id.to_string(),
            accept_time: ts(when),
            target: Some(pb::accept_petition_request::Target::CaseId(
                case_id.to_string(),
            )),
        })
        .await
        .unwrap_or_else(|e| panic!("accept {petition_id} into {case_id}: {e}"))
        .into_inner()
        .case
        .unwrap()
}

/// Resolves a case.
pub async fn resolve(
    ch: &Channel,
    request_id: String,
    case_id: &str,
    outcome: pb::CaseOutcome,
    when: DateTime<Utc>,
) -> pb::Case {
    cases(ch)
        .resolve_case(pb::ResolveCaseRequest {
            decision_number: format!("{request_id}/QĐ-UBND"),
            request_id,
            case_id: case_id.to_string(),
            outcome: outcome as i32,
            decision_time: ts(when),
            money_to_recover_vnd: 0,
            land_to_recover_m2: 0.0,
        })
        .await
        .unwrap_or_else(|e| panic!("resolve {case_id}: {e}"))
        .into_inner()
        .case
        .unwrap()
}

/// Classifies a petition.
pub async fn classify(
    ch: &Channel,
    request_id: String,
    petition_id: &str,
    classification: pb::Classification,
    when: DateTime<Utc>,
) {
    petitions(ch)
        .classify_petition(pb::ClassifyPetitionRequest {
            request_id,
            petition_id: petition_id.to_string(),
            classification: Some(classification),
            decision_time: ts(when),
        })
        .await
        .unwrap_or_else(|e| panic!("classify {petition_id}: {e}"));
}

/// Records `n` petitions at the node of `ch`, numbered from `from`, through every routing:
/// left received, classified, accepted (some resolved, some across `PERIOD_PART`'s edges),
/// guided, filed, transferred out of the tree, withdrawn, urged and returned.
pub async fn record_petitions(ch: &Channel, tag: &str, from: u32, n: u32) {
    use pb::PetitionType as T;
    for i in from..from + n {
        let day = date(2019, 1, 10) + chrono::Duration::days(i64::from((i * 29) % 300));
        let at = |days: i64| on(day + chrono::Duration::days(days), 9, 30);
        let id = |what: &str| format!("{tag}-p{i}-{what}");
        let route = i % 10;
        let classification = match route {
            0 | 8 => None,
            1 => Some(class_of(T::Recommendation, true, true)),
            2 | 3 => Some(class_of(T::Complaint, true, true)),
            4 => Some(class_of(T::Recommendation, true, false)),
            5 => Some(class_of(T::Denunciation, false, false)),
            6 => Some(class_of(T::Denunciation, true, false)),
            7 => Some(class_of(T::Denunciation, true, true)),
            _ => Some(class_of(T::Mixed, true, false)),
        };
        let p = receive(ch, id("r"), at(0), classification).await;
        let mut client = petitions(ch);
        match route {
            2 => {
                accept_new(ch, id("a"), &p.id, at(3)).await;
            }
            3 => {
                let case = accept_new(ch, id("a"), &p.id, at(3)).await;
                let outcome = [
                    pb::CaseOutcome::ComplaintCorrect,
                    pb::CaseOutcome::ComplaintPartlyCorrect,
                    pb::CaseOutcome::ComplaintIncorrect,
                    pb::CaseOutcome::Withdrawn,
                ][((i / 10) % 4) as usize];
                resolve(ch, id("d"), &case.id, outcome, at(40)).await;
            }
            4 => {
                client
                    .guide_petition(pb::GuidePetitionRequest {
                        request_id: id("g"),
                        petition_id: p.id,
                        outside_body: "Tòa án nhân dân".into(),
                        note: String::new(),
                        decision_time: ts(at(2)),
                    })
                    .await
                    .unwrap();
            }
            5 => {
                client
                    .file_petition(pb::FilePetitionRequest {
                        request_id: id("f"),
                        petition_id: p.id,
                        reason: pb::FileReason::Ineligible as i32,
                        note: String::new(),
                        decision_time: ts(at(2)),
                    })
                    .await
                    .unwrap();
            }
            6 => {
                client
                    .transfer_petition(pb::TransferPetitionRequest {
                        request_id: id("t"),
                        petition_id: p.id,
                        destination: Some(pb::transfer_petition_request::Destination::OutsideBody(
                            "Công an tỉnh".into(),
                        )),
                        note: String::new(),
                        decision_time: ts(at(2)),
                    })
                    .await
                    .unwrap();
            }
            7 => {
                let case = accept_new(ch, id("a"), &p.id, at(1)).await;
                let outcome = [
                    pb::CaseOutcome::DenunciationFounded,
                    pb::CaseOutcome::DenunciationPartlyFounded,
                    pb::CaseOutcome::DenunciationUnfounded,
                ][((i / 10) % 3) as usize];
                resolve(ch, id("d"), &case.id, outcome, at(20)).await;
            }
            8 => {
                client
                    .withdraw_petition(pb::WithdrawPetitionRequest {
                        request_id: id("w"),
                        petition_id: p.id,
                        note: String::new(),
                        decision_time: ts(at(5)),
                    })
                    .await
                    .unwrap();
            }
            9 if (i / 10) % 2 == 0 => {
                client
                    .urge_petition(pb::UrgePetitionRequest {
                        request_id: id("u"),
                        petition_id: p.id,
                        outside_body: "UBND xã".into(),
                        note: String::new(),
                        decision_time: ts(at(2)),
                    })
                    .await
                    .unwrap();
            }
            9 => {
                client
                    .return_petition(pb::ReturnPetitionRequest {
                        request_id: id("x"),
                        petition_id: p.id,
                        note: "Đơn không rõ nội dung".into(),
                        decision_time: ts(at(2)),
                    })
                    .await
                    .unwrap();
            }
            _ => {}
        }
    }
}

/// Records `visits` visits and `petitions` petitions at the node of `ch`.
pub async fn record_mix(ch: &Channel, tag: &str, visits: u32, petitions: u32) {
    record_visits(ch, tag, 0, visits).await;
    record_petitions(ch, tag, 0, petitions).await;
}

/// Records a small mix at every unit of the tree, concurrently.
pub async fn record_everywhere(tree: &Tree, tag: &str, visits: u32, petitions: u32) {
    let mut set = tokio::task::JoinSet::new();
    for code in tree.codes() {
        let ch = tree.channel(code);
        let tag = format!("{tag}-{code}");
        set.spawn(async move { record_mix(&ch, &tag, visits, petitions).await });
    }
    while let Some(done) = set.join_next().await {
        done.unwrap();
    }
}

/// Receives at `ch` a complaint outside its jurisdiction and transfers it to `destination`,
/// retrying while the destination is not known there yet (units far away become known as
/// directory updates come down the link). Returns the petition as the sender holds it.
pub async fn transfer_up(
    ch: &Channel,
    tag: &str,
    destination: &str,
    received: DateTime<Utc>,
) -> pb::Petition {
    let p = receive(
        ch,
        format!("{tag}-r"),
        received,
        Some(class_of(pb::PetitionType::Complaint, true, false)),
    )
    .await;
    let pid = &p.id;
    let mut attempt = 0;
    wait_for(&format!("{destination} known at the sender"), || {
        let request = pb::TransferPetitionRequest {
            request_id: format!("{tag}-t{attempt}"),
            petition_id: pid.clone(),
            destination: Some(pb::transfer_petition_request::Destination::UnitCode(
                destination.to_string(),
            )),
            note: "Không thuộc thẩm quyền".into(),
            decision_time: ts(received + chrono::Duration::days(1)),
        };
        attempt += 1;
        async move {
            match petitions(ch).transfer_petition(request).await {
                Ok(r) => Ok(r.into_inner().petition.unwrap()),
                Err(e) if e.code() == Code::NotFound => Err(e.message().to_string()),
                Err(e) => panic!("transfer {pid} to {destination}: {e}"),
            }
        }
    })
    .await
}

/// Waits until `unit` holds the petition transferred as `source_id`; returns it.
pub async fn wait_transferred_in(ch: &Channel, unit: &str, source_id: &str) -> pb::Petition {
    wait_for(
        &format!("petition {source_id} to arrive at {unit}"),
        || async move {
            let held = petitions_of(ch, unit).await;
            held.into_iter()
                .find(|p| p.source_petition_id == source_id)
                .ok_or_else(|| "not there yet".to_string())
        },
    )
    .await
}

/// A petition as the node of `ch` gives it (with personal data where it may).
pub async fn get_petition(ch: &Channel, id: &str) -> pb::Petition {
    petitions(ch)
        .get_petition(pb::GetPetitionRequest {
            petition_id: id.to_string(),
            ..Default::default()
        })
        .await
        .unwrap_or_else(|e| panic!("get petition {id}: {e}"))
        .into_inner()
        .petition
        .unwrap()
}

/// Waits until the petition `id` at the node of `ch` carries the result of `case`.
pub async fn wait_result(ch: &Channel, id: &str, case: &pb::Case) -> pb::Petition {
    let p = wait_for(
        &format!("the result of case {} to reach petition {id}", case.id),
        || async move {
            let p = get_petition(ch, id).await;
            if p.result_case_id.is_empty() {
                Err(format!("{p:?}"))
            } else {
                Ok(p)
            }
        },
    )
    .await;
    assert_eq!(p.result_case_id, case.id, "result of {id}");
    assert_eq!(p.result_outcome, case.outcome, "outcome of {id}");
    assert_eq!(p.result_time, case.decision_time, "decision time of {id}");
    p
}
