//! Two tiers, one commune: what the commune records reaches the town.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use prost_types::Timestamp;
use tiepdan_proto::v1 as pb;
use tiepdan_server::domain::model::UnitLevel;
use tiepdan_tests::{Backend, TestDb, TestNode, unit};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commune_reaches_town() {
    let town = TestNode::start(
        Backend::Sqlite,
        unit("269", "Thị xã Sơn Tây", UnitLevel::District, None),
    )
    .await;
    let db = TestDb::new(Backend::Sqlite).await;
    let commune = TestNode::start_with(
        db,
        unit("09574", "Phường Ngô Quyền", UnitLevel::Ward, None),
        Some(town.url()),
        |_| {},
    )
    .await;
    let mut reception =
        pb::reception_service_client::ReceptionServiceClient::new(commune.channel().await);
    for i in 0..5 {
        reception
            .record_visit(pb::RecordVisitRequest {
                request_id: format!("v{i}"),
                visit_time: Some(Timestamp {
                    seconds: 1_560_000_000 + i,
                    nanos: 0,
                }),
                kind: pb::ReceptionKind::Regular as i32,
                receiver_role: pb::ReceiverRole::Staff as i32,
                persons: 1,
                matter: pb::MatterKind::First as i32,
                action: pb::ReceptionAction::Accepted as i32,
                ..Default::default()
            })
            .await
            .unwrap();
    }
    let mut journal = pb::journal_service_client::JournalServiceClient::new(town.channel().await);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let last = journal
            .list_journal_events(pb::ListJournalEventsRequest {
                origin_unit: "09574".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .last_sequence;
        // unit registered, adopt parent, 5 visits
        if last == 7 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "town has {last} events of the commune"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut visits =
        pb::reception_service_client::ReceptionServiceClient::new(town.channel().await);
    let listed = visits
        .list_visits(pb::ListVisitsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.visits.len(), 5);
    commune.stop().await;
    town.stop().await;
}
