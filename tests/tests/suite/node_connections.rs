//! A node's connections are bounded: sockets that connect and never speak are closed after
//! the handshake timeout, connections over the cap are closed at once, a connection with no
//! call in progress is closed after the idle timeout while one carrying a long stream stays
//! open — and through it all, a real client is served.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use crate::support::server::ConnectionLimits;
use crate::support::server::UnitLevel;
use crate::support::*;
use tiepdan_tests::{Backend, TestDb, TestNode, unit};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const SILENT: usize = 600;
const CAP: usize = 100;

async fn node() -> TestNode {
    TestNode::start_with(
        TestDb::new(Backend::Sqlite).await,
        unit("09574", "Phường Lê Lợi", UnitLevel::Ward, None),
        None,
        |c| {
            c.connections = ConnectionLimits {
                max_connections: CAP,
                max_streams_per_connection: 16,
                handshake_timeout: Duration::from_secs(1),
                idle_timeout: Duration::from_secs(2),
            }
        },
    )
    .await
}

/// Reads until the server closes the socket; fails the test if it stays open past `WAIT`.
async fn closed_by_server(mut socket: TcpStream) {
    let mut buf = [0u8; 4096];
    tokio::time::timeout(WAIT, async {
        loop {
            match socket.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .expect("the node kept a connection open");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_sockets_cannot_exhaust_the_node() {
    let node = node().await;
    let addr = node.running().addr;
    let mut sockets = Vec::with_capacity(SILENT);
    for _ in 0..SILENT {
        sockets.push(TcpStream::connect(addr).await.unwrap());
    }
    // Every one is closed by the node: over the cap at once, the rest at the handshake timeout.
    let mut closing = tokio::task::JoinSet::new();
    for socket in sockets {
        closing.spawn(closed_by_server(socket));
    }
    while let Some(done) = closing.join_next().await {
        done.unwrap();
    }
    // The node serves a real client afterwards, with its slots free again.
    let ch = node.channel().await;
    record_visits(&ch, "after", 0, 3).await;
    assert_eq!(all_visits(&ch).await.len(), 3);
    drop(node.stop().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_close_and_streams_stay() {
    let node = node().await;
    let ch = node.channel().await;
    // A long-lived call: a report watch, on its own connection.
    let watch_ch = tiepdan_tests::channel(&node.url()).await;
    let mut watch = reports(&watch_ch)
        .watch_report(pb::WatchReportRequest {
            report: Some(pb::GetReportRequest {
                unit_code: String::new(),
                period: PERIOD_ALL.into(),
                scope: pb::ReportScope::Subtree as i32,
                calendar: 0,
            }),
        })
        .await
        .unwrap()
        .into_inner();
    let first = watch.message().await.unwrap().unwrap();
    let visits =
        |r: &pb::WatchReportResponse| r.report.as_ref().unwrap().totals.as_ref().unwrap().visits;
    assert_eq!(visits(&first), 0);

    // A connection that opens HTTP/2 and then makes no call is closed after the idle timeout.
    let mut idle = TcpStream::connect(node.running().addr).await.unwrap();
    idle.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .await
        .unwrap();
    idle.write_all(&[0, 0, 0, 4, 0, 0, 0, 0, 0]).await.unwrap();
    closed_by_server(idle).await;

    // The watch, idle on the wire as long but with its call in progress, still delivers.
    record_visits(&ch, "watched", 0, 2).await;
    let seen = tokio::time::timeout(WAIT, async {
        loop {
            let update = watch.message().await.unwrap().expect("the watch ended");
            if visits(&update) == 2 {
                return update;
            }
        }
    })
    .await
    .expect("the watch delivered nothing");
    assert_eq!(visits(&seen), 2);
    drop(watch);
    drop(node.stop().await);
}
