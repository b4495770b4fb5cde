//! A child links only where the tree places it. A ward's Hello sent straight to the city, or
//! to a sibling ward, is refused with PERMISSION_DENIED (`UNIT_PLACED_ELSEWHERE`), stores
//! nothing, and leaves the real links working: the town keeps syncing the ward's journal.
//! A node refused for good does not retry every second: it waits minutes, and its sync
//! status says why; a parent that is merely unreachable is still retried at once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support::server::UnitLevel;
use crate::support::*;
use chrono::Utc;
use tiepdan_tests::{TestDb, TestNode, unit};
use tokio::net::TcpListener;
use tonic::Code;

/// The units `ch`'s node stores, with their parents.
async fn placed(ch: &tonic::transport::Channel) -> Vec<(String, String)> {
    list_units(ch)
        .await
        .into_iter()
        .map(|u| (u.code, u.parent_code))
        .collect()
}

async fn a_unit_placed_elsewhere_is_refused(backend: Backend) {
    let tree = Tree::start(backend, Depth::Three, Options::default()).await;
    record_everywhere(&tree, "before", 3, 2).await;
    verify(&tree).await;
    let ward = CHILD.code;
    let sibling = OTHER.code;

    for target in ["01", sibling] {
        let ch = tree.channel(target);
        let before = placed(&ch).await;
        let journal_before = journal_last(&ch, ward).await;
        for attempt in 0..2 {
            let refused = RawLink::open(
                &tree.url(target),
                hello(ward, CHILD.name, pb::UnitLevel::Ward),
            )
            .await
            .map(|_| ());
            let status = match refused {
                Err(status) => status,
                Ok(()) => panic!("{target} accepted {ward}'s link (attempt {attempt})"),
            };
            assert_eq!(
                status.code(),
                Code::PermissionDenied,
                "{target}: {}",
                status.message()
            );
            assert_eq!(reason(&status), "UNIT_PLACED_ELSEWHERE", "{target}");
            assert!(
                status.message().contains("269"),
                "the refusal names where the unit is placed: {}",
                status.message()
            );
        }
        assert_eq!(placed(&ch).await, before, "{target}'s stored tree changed");
        assert_eq!(
            journal_last(&ch, ward).await,
            journal_before,
            "{target} applied something of {ward}"
        );
    }

    // The real links carry on: new records of both wards reach the town and the city.
    record_visits(&tree.channel(ward), "after", 100, 4).await;
    record_visits(&tree.channel(sibling), "after", 100, 4).await;
    verify(&tree).await;
    let status = sync_status(&tree.channel(ward)).await;
    assert!(
        status
            .parent
            .is_some_and(|p| p.connected && p.unit_code == "269")
    );
    tree.stop().await;
}

/// A unit the parent has never placed anywhere is still welcomed (a new commune joining).
async fn a_new_unit_is_welcomed(backend: Backend) {
    let tree = Tree::start(backend, Depth::Two, Options::default()).await;
    let (link, welcome) =
        RawLink::hello(&tree.url("01"), "09999", "Xã Mới", pb::UnitLevel::Commune).await;
    assert_eq!(welcome.parent.unwrap().code, "01");
    let units = placed(&tree.channel("01")).await;
    assert!(
        units.contains(&("09999".to_string(), "01".to_string())),
        "{units:?}"
    );
    drop(link);
    tree.stop().await;
}

/// Registers `code` under `parent` at the node of `ch`.
async fn register(ch: &tonic::transport::Channel, code: &str, level: pb::UnitLevel, parent: &str) {
    pb::unit_service_client::UnitServiceClient::new(ch.clone())
        .register_unit(pb::RegisterUnitRequest {
            request_id: format!("register-{code}"),
            unit: Some(pb::Unit {
                code: code.into(),
                name: format!("Đơn vị {code}"),
                level: level as i32,
                parent_code: parent.into(),
                remote: false,
            }),
        })
        .await
        .unwrap();
}

/// A ward the city places under a town links to the city itself: refused, it waits at least
/// half the refusal backoff's minimum (30 s) before trying again and says why; a ward whose
/// parent cannot be reached at all keeps trying within a second.
async fn a_refused_link_backs_off_and_says_why(backend: Backend) {
    let city = TestNode::start(
        backend,
        unit("01", "Thành phố Hà Nội", UnitLevel::Province, None),
    )
    .await;
    let city_ch = city.channel().await;
    register(&city_ch, "269", pb::UnitLevel::District, "01").await;
    register(&city_ch, CHILD.code, pb::UnitLevel::Ward, "269").await;
    let ward = TestNode::start_with(
        TestDb::new(backend).await,
        unit(CHILD.code, CHILD.name, UnitLevel::Ward, None),
        Some(city.url()),
        |_| {},
    )
    .await;
    let ch = ward.channel().await;
    wait_for("the ward to be refused", || {
        let ch = ch.clone();
        async move {
            match sync_status(&ch).await.parent {
                Some(p) if p.refused => Ok(()),
                other => Err(format!("{other:?}")),
            }
        }
    })
    .await;
    let parent = sync_status(&ch).await.parent.unwrap();
    assert!(!parent.connected);
    assert_eq!(parent.last_error_code, "PERMISSION_DENIED", "{parent:?}");
    assert!(parent.last_error.contains("placed under 269"), "{parent:?}");
    assert_eq!(parent.failed_attempts, 1, "{parent:?}");
    let next = parent.next_attempt_time.unwrap();
    let wait = next.seconds - Utc::now().timestamp();
    assert!(
        wait >= 14,
        "the next attempt is due in {wait} s: {parent:?}"
    );
    // The city stored nothing of the ward's journal.
    assert_eq!(journal_last(&city_ch, CHILD.code).await, 0);

    // An unreachable parent is not a refusal: attempts follow each other quickly.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let nowhere = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let lonely = TestNode::start_with(
        TestDb::new(backend).await,
        unit(OTHER.code, OTHER.name, UnitLevel::Ward, None),
        Some(nowhere),
        |_| {},
    )
    .await;
    let lonely_ch = lonely.channel().await;
    wait_for("several quick attempts at an unreachable parent", || {
        let ch = lonely_ch.clone();
        async move {
            match sync_status(&ch).await.parent {
                Some(p) if !p.refused && p.failed_attempts >= 3 => Ok(()),
                other => Err(format!("{other:?}")),
            }
        }
    })
    .await;
    let p = sync_status(&lonely_ch).await.parent.unwrap();
    let wait = p.next_attempt_time.unwrap().seconds - Utc::now().timestamp();
    assert!(
        wait <= 1,
        "an unreachable parent is retried within a second: {p:?}"
    );
    drop(lonely.stop().await);
    drop(ward.stop().await);
    drop(city.stop().await);
}

on_every_backend!(
    a_unit_placed_elsewhere_is_refused,
    a_new_unit_is_welcomed,
    a_refused_link_backs_off_and_says_why
);
