//! The metrics endpoint: a real node's `/metrics`, scraped over TCP and parsed by the
//! Prometheus project's own OpenMetrics parser (`tests/python/metrics_parse.py`), counts the
//! calls made by method and code, times them, shows the build and the write path; any other
//! path is 404; a town sees its child's link open and then closed. Needs `python3` with
//! `tests/python/requirements.txt` installed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::support::server::{NodeConfig, UnitLevel};
use crate::support::{on_every_backend, ts, unix, wait_for};
use tiepdan_proto::v1 as pb;
use tiepdan_tests::{Backend, TestDb, TestNode, unit};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tonic::Code;

const RECORD_VISIT: &str = "tiepdan.v1.ReceptionService/RecordVisit";

/// An HTTP answer: status code, headers (lower-cased names) and body.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 GET of `path`, over a connection of its own.
async fn get(addr: SocketAddr, path: &str) -> Answer {
    let mut socket = TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n");
    socket.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(crate::support::WAIT, socket.read_to_end(&mut raw))
        .await
        .expect("the metrics endpoint did not answer")
        .unwrap();
    let raw = String::from_utf8(raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").expect("an HTTP answer");
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Answer {
        status,
        headers,
        body: body.to_string(),
    }
}

/// What the parser found: families with their types, and samples.
struct Parsed {
    families: Vec<(String, String)>,
    samples: Vec<(String, String, f64)>,
}

impl Parsed {
    /// The value of the sample `name` with exactly `labels` (`k=v` sorted, comma-joined).
    fn value(&self, name: &str, labels: &str) -> Option<f64> {
        self.samples
            .iter()
            .find(|(n, l, _)| n == name && l == labels)
            .map(|(_, _, v)| *v)
    }

    fn family_type(&self, name: &str) -> Option<&str> {
        self.families
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t.as_str())
    }
}

/// Parses `text` with Python's `prometheus_client` OpenMetrics parser.
async fn parse(text: String) -> Parsed {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/metrics_parse.py");
    let shown = script.display().to_string();
    let output = tokio::task::spawn_blocking(move || {
        let mut child = Command::new("python3")
            .arg(&script)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), text.as_bytes())?;
        child.wait_with_output()
    })
    .await
    .unwrap()
    .unwrap_or_else(|e| panic!("cannot run python3 {shown}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let hint = if stderr.contains("ModuleNotFoundError") {
        "; install its dependencies with `pip install -r tests/python/requirements.txt`"
    } else {
        ""
    };
    assert!(
        output.status.success(),
        "{shown} failed ({}){hint}\n--- stderr\n{stderr}",
        output.status
    );
    let mut parsed = Parsed {
        families: Vec::new(),
        samples: Vec::new(),
    };
    for line in stdout.lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        match fields.as_slice() {
            ["family", name, kind] => parsed.families.push((name.to_string(), kind.to_string())),
            ["sample", name, labels, value] => parsed.samples.push((
                name.to_string(),
                labels.to_string(),
                value
                    .parse()
                    .unwrap_or_else(|e| panic!("value {value}: {e}")),
            )),
            _ => panic!("unexpected parser output line {line:?}"),
        }
    }
    parsed
}

/// Scrapes `/metrics` at `addr` and parses it, checking the answer's status and type.
async fn scrape(addr: SocketAddr) -> Parsed {
    let answer = get(addr, "/metrics").await;
    assert_eq!(answer.status, 200, "GET /metrics: {}", answer.body);
    assert_eq!(
        answer.header("content-type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    parse(answer.body).await
}

fn visit(request_id: &str, persons: u32) -> pb::RecordVisitRequest {
    pb::RecordVisitRequest {
        request_id: request_id.to_string(),
        visit_time: ts(unix(1_560_000_000)),
        kind: pb::ReceptionKind::Regular as i32,
        receiver_role: pb::ReceiverRole::Staff as i32,
        persons,
        matter: pb::MatterKind::First as i32,
        action: pb::ReceptionAction::Accepted as i32,
        ..Default::default()
    }
}

async fn calls_are_counted_and_parsed(backend: Backend) {
    let node = TestNode::start_with(
        TestDb::new(backend).await,
        unit("00196", "Phường Ngô Quyền", UnitLevel::Ward, None),
        None,
        |c| c.metrics_listen = Some("127.0.0.1:0".parse().unwrap()),
    )
    .await;
    let addr = node.running().metrics_addr.expect("metrics served");
    let mut reception =
        pb::reception_service_client::ReceptionServiceClient::new(node.channel().await);
    for i in 0..3 {
        reception
            .record_visit(visit(&format!("ok-{i}"), 1))
            .await
            .unwrap();
    }
    for i in 0..2 {
        let refused = reception
            .record_visit(visit(&format!("bad-{i}"), 0))
            .await
            .expect_err("a visit of no one is refused");
        assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
    }

    let parsed = scrape(addr).await;
    let calls = |code: &str| {
        parsed.value(
            "tiepdan_rpc_requests_total",
            &format!("code={code},method={RECORD_VISIT}"),
        )
    };
    assert_eq!(parsed.family_type("tiepdan_rpc_requests"), Some("counter"));
    assert_eq!(calls("OK"), Some(3.0));
    assert_eq!(calls("INVALID_ARGUMENT"), Some(2.0));
    assert_eq!(
        parsed.family_type("tiepdan_rpc_duration_seconds"),
        Some("histogram")
    );
    let method = format!("method={RECORD_VISIT}");
    assert_eq!(
        parsed.value("tiepdan_rpc_duration_seconds_count", &method),
        Some(5.0)
    );
    assert_eq!(
        parsed.value(
            "tiepdan_rpc_duration_seconds_bucket",
            &format!("le=+Inf,{method}")
        ),
        Some(5.0)
    );
    assert_eq!(
        parsed.value(
            "tiepdan_build_info",
            &format!("version={}", env!("CARGO_PKG_VERSION"))
        ),
        Some(1.0)
    );
    assert_eq!(parsed.value("tiepdan_store_writable", ""), Some(1.0));
    assert_eq!(
        parsed.value("tiepdan_store_failed_commits_total", ""),
        Some(0.0)
    );
    assert_eq!(parsed.value("tiepdan_store_writers_waiting", ""), Some(0.0));
    // Three visits, and the unit registering itself at its first start, each committed once.
    let commits = parsed
        .value("tiepdan_store_commit_seconds_count", "")
        .expect("commit latency");
    assert!(commits >= 3.0, "{commits} commits timed");
    assert_eq!(
        parsed.value("tiepdan_overdue_items", "kind=petition,type=complaint"),
        Some(0.0)
    );
    assert_eq!(
        parsed.value("tiepdan_overdue_items", "kind=case,type=denunciation"),
        Some(0.0)
    );
    // The scrape made no gRPC call: the counts are the calls made above, and no others.
    let rpc_total: f64 = parsed
        .samples
        .iter()
        .filter(|(n, _, _)| n == "tiepdan_rpc_requests_total")
        .map(|(_, _, v)| v)
        .sum();
    assert_eq!(rpc_total, 5.0);

    let other = get(addr, "/other").await;
    assert_eq!(other.status, 404);
    let root = get(addr, "/").await;
    assert_eq!(root.status, 404);
    node.stop().await;
}

on_every_backend!(calls_are_counted_and_parsed);

/// A path that names no method is counted under `other`: callers cannot mint series.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_methods_share_one_series() {
    let node = TestNode::start_with(
        TestDb::new(Backend::Sqlite).await,
        unit("00196", "Phường Ngô Quyền", UnitLevel::Ward, None),
        None,
        |c| c.metrics_listen = Some("127.0.0.1:0".parse().unwrap()),
    )
    .await;
    let addr = node.running().metrics_addr.expect("metrics served");
    let mut grpc = tonic::client::Grpc::new(node.channel().await);
    for name in ["/tiepdan.v1.ReceptionService/NoSuchMethod", "/x.Y/Z"] {
        grpc.ready().await.unwrap();
        let refused = grpc
            .unary::<pb::RecordVisitRequest, pb::RecordVisitResponse, _>(
                tonic::Request::new(visit("u", 1)),
                name.parse().unwrap(),
                tonic_prost::ProstCodec::default(),
            )
            .await
            .expect_err("no such method");
        assert_eq!(refused.code(), Code::Unimplemented, "{refused:?}");
    }
    let parsed = scrape(addr).await;
    assert_eq!(
        parsed.value(
            "tiepdan_rpc_requests_total",
            "code=UNIMPLEMENTED,method=other"
        ),
        Some(2.0)
    );
    node.stop().await;
}

/// A town's metrics show its child's link open, then closed once the child stops; the child's
/// show its parent link open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_link_state_follows_the_child() {
    let with_metrics = |c: &mut NodeConfig| c.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    let town = TestNode::start_with(
        TestDb::new(Backend::Sqlite).await,
        unit("269", "Thị xã Sơn Tây", UnitLevel::District, None),
        None,
        with_metrics,
    )
    .await;
    let commune = TestNode::start_with(
        TestDb::new(Backend::Sqlite).await,
        unit("09574", "Phường Ngô Quyền", UnitLevel::Ward, None),
        Some(town.url()),
        with_metrics,
    )
    .await;
    let town_addr = town.running().metrics_addr.expect("metrics served");
    let commune_addr = commune.running().metrics_addr.expect("metrics served");
    let connected = |want: f64| async move {
        let parsed = scrape(town_addr).await;
        match parsed.value("tiepdan_child_connected", "child=09574") {
            Some(v) if v == want => Ok(()),
            other => Err(format!(
                "tiepdan_child_connected{{child=09574}} is {other:?}"
            )),
        }
    };
    wait_for("the town to show the commune connected", || connected(1.0)).await;
    wait_for("the commune to show its parent connected", || async {
        match scrape(commune_addr)
            .await
            .value("tiepdan_parent_connected", "")
        {
            Some(1.0) => Ok(()),
            other => Err(format!("tiepdan_parent_connected is {other:?}")),
        }
    })
    .await;
    let parsed = scrape(town_addr).await;
    assert!(
        parsed
            .value("tiepdan_child_lag_events", "child=09574")
            .is_some()
    );
    assert!(
        parsed
            .value("tiepdan_events_applied_total", "child=09574")
            .is_some()
    );

    commune.stop().await;
    wait_for("the town to show the commune disconnected", || {
        connected(0.0)
    })
    .await;
    town.stop().await;
}

/// Petitions past their due date are counted by type at the scrape; the other types show 0.
async fn overdue_items_are_counted_by_type(backend: Backend) {
    use crate::support::{Api, class, home_unit};
    let node = TestNode::start_with(TestDb::new(backend).await, home_unit(), None, |c| {
        c.metrics_listen = Some("127.0.0.1:0".parse().unwrap())
    })
    .await;
    let addr = node.running().metrics_addr.expect("metrics served");
    let mut api = Api::connect(node).await;
    // Received in 2019: long past any limit, and still pending.
    let long_ago = unix(1_560_000_000);
    api.receive(long_ago, None).await;
    for ty in [
        pb::PetitionType::Complaint,
        pb::PetitionType::Complaint,
        pb::PetitionType::Denunciation,
    ] {
        let classified = class(ty, pb::Eligibility::Eligible, pb::Jurisdiction::Within);
        api.receive(long_ago, Some(classified)).await;
    }
    let parsed = scrape(addr).await;
    let overdue = |kind: &str, ty: &str| {
        parsed.value("tiepdan_overdue_items", &format!("kind={kind},type={ty}"))
    };
    assert_eq!(overdue("petition", "unclassified"), Some(1.0));
    assert_eq!(overdue("petition", "complaint"), Some(2.0));
    assert_eq!(overdue("petition", "denunciation"), Some(1.0));
    assert_eq!(overdue("petition", "recommendation"), Some(0.0));
    assert_eq!(overdue("case", "complaint"), Some(0.0));
    api.stop().await;
}

on_every_backend!(overdue_items_are_counted_by_type);
