//! The shortest path through a node: record a visit, receive a petition, classify, accept,
//! resolve, read back — on SQLite and on PostgreSQL.

use crate::support::server::UnitLevel;
use crate::support::{on_every_backend, ts, unix};
use tiepdan_proto::v1 as pb;
use tiepdan_tests::{Backend, TestNode, unit};

async fn smoke(backend: Backend) {
    let node = TestNode::start(
        backend,
        unit("09574", "Phường Ngô Quyền", UnitLevel::Ward, Some("269")),
    )
    .await;
    let ch = node.channel().await;
    let mut reception = pb::reception_service_client::ReceptionServiceClient::new(ch.clone());
    let mut petitions = pb::petition_service_client::PetitionServiceClient::new(ch.clone());
    let mut cases = pb::case_service_client::CaseServiceClient::new(ch.clone());

    let visit = reception
        .record_visit(pb::RecordVisitRequest {
            request_id: "v1".into(),
            visit_time: ts(unix(1_560_000_000)),
            kind: pb::ReceptionKind::Regular as i32,
            receiver_role: pb::ReceiverRole::Staff as i32,
            persons: 6,
            matter: pb::MatterKind::First as i32,
            action: pb::ReceptionAction::Accepted as i32,
            ..Default::default()
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_inner()
        .visit
        .unwrap_or_default();
    assert!(visit.crowd_group, "6 persons make a crowd group");

    let petition = petitions
        .receive_petition(pb::ReceivePetitionRequest {
            request_id: "p1".into(),
            received_time: ts(unix(1_560_000_100)),
            channel: pb::Channel::InPerson as i32,
            summary: "tranh chấp đất".into(),
            petitioner: Some(pb::Petitioner {
                full_name: "Nguyễn Văn A".into(),
                ..Default::default()
            }),
            visit_id: visit.id.clone(),
            classification: Some(pb::Classification {
                r#type: pb::PetitionType::Complaint as i32,
                field: pb::Field::LandHousing as i32,
                complaint_round: 1,
                eligibility: pb::Eligibility::Eligible as i32,
                jurisdiction: pb::Jurisdiction::Within as i32,
                has_evidence: false,
            }),
            ..Default::default()
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_inner()
        .petition
        .unwrap_or_default();
    assert_eq!(petition.status, pb::PetitionStatus::Classified as i32);

    let accepted = petitions
        .accept_petition(pb::AcceptPetitionRequest {
            request_id: "a1".into(),
            petition_id: petition.id.clone(),
            accept_time: ts(unix(1_560_100_000)),
            target: Some(pb::accept_petition_request::Target::NewCase(pb::NewCase {
                complex: false,
            })),
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_inner();
    let case = accepted.case.unwrap_or_default();
    assert_eq!(case.petition_ids, vec![petition.id.clone()]);

    let resolved = cases
        .resolve_case(pb::ResolveCaseRequest {
            request_id: "r1".into(),
            case_id: case.id.clone(),
            outcome: pb::CaseOutcome::ComplaintPartlyCorrect as i32,
            decision_number: "12/QĐ-UBND".into(),
            decision_time: ts(unix(1_561_000_000)),
            ..Default::default()
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_inner()
        .case
        .unwrap_or_default();
    assert_eq!(resolved.status, pb::CaseStatus::Resolved as i32);
    assert!(resolved.resolved_on_time);

    let got = petitions
        .get_petition(pb::GetPetitionRequest {
            petition_id: petition.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_inner()
        .petition
        .unwrap_or_default();
    assert_eq!(got.status, pb::PetitionStatus::Accepted as i32);
    assert_eq!(
        got.petitioner.map(|p| p.full_name),
        Some("Nguyễn Văn A".to_string())
    );

    let mut journal = pb::journal_service_client::JournalServiceClient::new(ch);
    let events = journal
        .list_journal_events(pb::ListJournalEventsRequest::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_inner();
    // unit registered, visit, petition received, petition accepted + case opened, case resolved
    assert_eq!(events.last_sequence, 6);
    let seqs: Vec<u64> = events.events.iter().map(|e| e.sequence).collect();
    assert_eq!(seqs, (1..=6).collect::<Vec<_>>());
    node.stop().await;
}

on_every_backend!(smoke);
