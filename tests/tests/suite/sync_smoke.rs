//! Two tiers, one commune: what the commune records reaches the town.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support::server::UnitLevel;
use tiepdan_proto::v1 as pb;
use tiepdan_tests::{Backend, TestDb, TestNode, unit};

use crate::support::{journal_last, ts, unix, wait_for};

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
                visit_time: ts(unix(1_560_000_000 + i)),
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
    let town_ch = town.channel().await;
    wait_for("the town to hold the commune's 7 events", || async {
        // unit registered, adopt parent, 5 visits
        match journal_last(&town_ch, "09574").await {
            7 => Ok(()),
            last => Err(format!("town has {last} events of the commune")),
        }
    })
    .await;
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
