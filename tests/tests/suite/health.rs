//! The node's `grpc.health.v1.Health`: every service reports SERVING once the node has started,
//! a watcher sees NOT_SERVING when the node's shutdown token is cancelled, and the stopped node
//! accepts no more calls.

use std::time::Duration;

use crate::support::server::UnitLevel;
use tiepdan_tests::{Backend, TestNode, unit};
use tokio::time::timeout;
use tonic::Code;
use tonic::transport::Endpoint;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// Bound on each wait, so a regression fails the test instead of hanging it.
const WAIT: Duration = Duration::from_secs(10);

const SERVICES: &[&str] = &[
    "",
    "tiepdan.v1.UnitService",
    "tiepdan.v1.ReceptionService",
    "tiepdan.v1.PetitionService",
    "tiepdan.v1.CaseService",
    "tiepdan.v1.JournalService",
];

fn request(service: &str) -> HealthCheckRequest {
    HealthCheckRequest {
        service: service.to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serving_then_stopped() {
    let node = TestNode::start(
        Backend::Sqlite,
        unit("00196", "Phường Ngô Quyền", UnitLevel::Ward, Some("007")),
    )
    .await;
    let url = node.url();
    let mut health = HealthClient::new(node.channel().await);

    for service in SERVICES {
        let status = health
            .check(request(service))
            .await
            .unwrap_or_else(|e| panic!("check {service:?}: {e}"))
            .into_inner()
            .status;
        assert_eq!(
            status,
            ServingStatus::Serving as i32,
            "service {service:?} once started"
        );
    }
    let unknown = health
        .check(request("tiepdan.v1.NoSuchService"))
        .await
        .err()
        .map(|s| s.code());
    assert_eq!(unknown, Some(Code::NotFound), "an unknown service");

    let mut watch = health
        .watch(request("tiepdan.v1.PetitionService"))
        .await
        .unwrap_or_else(|e| panic!("watch: {e}"))
        .into_inner();
    let first = timeout(WAIT, watch.message()).await;
    assert!(
        matches!(&first, Ok(Ok(Some(r))) if r.status == ServingStatus::Serving as i32),
        "watch starts at SERVING: {first:?}"
    );

    let token = node
        .node
        .as_ref()
        .map(|n| n.shutdown_token())
        .unwrap_or_else(|| panic!("the node is running"));
    token.cancel();
    let next = timeout(WAIT, watch.message()).await;
    assert!(
        matches!(&next, Ok(Ok(Some(r))) if r.status == ServingStatus::NotServing as i32),
        "watch sees NOT_SERVING on shutdown: {next:?}"
    );
    // A watch never ends by itself; the server's graceful shutdown waits for the client to go.
    drop(watch);

    let _db = timeout(WAIT, node.stop())
        .await
        .unwrap_or_else(|_| panic!("the node did not stop within {WAIT:?}"));

    let after = health.check(request("")).await;
    assert_eq!(
        after.as_ref().err().map(|s| s.code()),
        Some(Code::Unavailable),
        "a stopped node answered a health check: {after:?}"
    );
    let connect = Endpoint::from_shared(url.clone())
        .unwrap_or_else(|e| panic!("endpoint {url}: {e}"))
        .connect_timeout(Duration::from_secs(2))
        .connect()
        .await;
    let Err(refused) = connect else {
        panic!("a stopped node accepted a connection");
    };
    assert!(
        connection_refused(&refused),
        "the connection failed for another reason: {refused:?}"
    );
}

/// Whether `e` comes from a connection the peer refused (nothing listening).
fn connection_refused(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(e);
    while let Some(c) = cause {
        if let Some(io) = c.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::ConnectionRefused
        {
            return true;
        }
        cause = c.source();
    }
    false
}
