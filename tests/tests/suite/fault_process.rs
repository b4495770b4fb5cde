//! Nodes run as processes of their own (`tiepdan-test-node`, the node program's `serve`) and
//! are killed with SIGKILL, as a crash or a power cut would end them: nothing runs on the way
//! out. What a node acknowledged survives its restart, a request retried after the crash is
//! done once, and a town killed again and again while a commune streams applies every event
//! of the commune exactly once, with its totals.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::server::UnitLevel;
use crate::support::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tiepdan_tests::{TestDb, TestNode, unit};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A node process.
struct NodeProcess {
    child: Child,
    url: String,
}

impl NodeProcess {
    /// Starts a node of `code` on `db`, listening on `listen`, and waits until it listens.
    async fn start(
        db: &TestDb,
        code: &str,
        level: &str,
        listen: &str,
        parent: Option<&str>,
    ) -> NodeProcess {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tiepdan-test-node"));
        command
            .args(["--unit", code, "--name", code, "--level", level])
            .args(["--listen", listen, "--db", &db.url])
            .args(["--insecure-plaintext", "--insecure-no-auth"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .kill_on_drop(true);
        if let Some(parent) = parent {
            command.args(["--parent", parent]);
        }
        let mut child = command.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let url = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if let Some(url) = line.strip_prefix("tiepdan-node listening on ") {
                    return url.to_string();
                }
            }
            panic!("node {code} ended before it listened");
        })
        .await
        .unwrap_or_else(|_| panic!("node {code} did not listen within 60 s"));
        NodeProcess { child, url }
    }

    /// SIGKILL, and wait for the process to be gone.
    async fn kill(mut self) {
        self.child.start_kill().unwrap();
        self.child.wait().await.unwrap();
    }
}

fn visit(i: u32) -> pb::RecordVisitRequest {
    visit_request("crash", i)
}

async fn visits(url: &str) -> Vec<(String, String)> {
    all_visits(&tiepdan_tests::channel(url).await).await
}

/// A client records visits one after another while the node is killed; every visit it was
/// told was recorded is there after the restart, and retrying every request, acknowledged or
/// cut off, records each visit once.
async fn acknowledged_records_survive_sigkill(backend: Backend) {
    let db = TestDb::new(backend).await;
    let node = NodeProcess::start(&db, "09574", "ward", "127.0.0.1:0", None).await;
    let acked: Arc<Mutex<Vec<(u32, String)>>> = Arc::default();
    let writer = {
        let url = node.url.clone();
        let acked = acked.clone();
        tokio::spawn(async move {
            let mut client = reception(&tiepdan_tests::channel(&url).await);
            for i in 0.. {
                match client.record_visit(visit(i)).await {
                    Ok(r) => {
                        let id = r.into_inner().visit.unwrap().id;
                        acked.lock().unwrap().push((i, id));
                    }
                    // Cut off by the kill: this one is in doubt.
                    Err(_) => return i,
                }
            }
            unreachable!()
        })
    };
    wait_for("150 acknowledged visits", || {
        let n = acked.lock().unwrap().len();
        async move {
            if n >= 150 {
                Ok(())
            } else {
                Err(format!("{n} so far"))
            }
        }
    })
    .await;
    node.kill().await;
    let in_doubt = writer.await.unwrap();
    let acked = acked.lock().unwrap().clone();
    assert_eq!(acked.len() as u32, in_doubt, "one request at a time");

    let node = NodeProcess::start(&db, "09574", "ward", "127.0.0.1:0", None).await;
    let held: std::collections::HashMap<String, String> =
        visits(&node.url).await.into_iter().collect();
    for (i, id) in &acked {
        assert_eq!(
            held.get(&format!("crash visit {i}")),
            Some(id),
            "acknowledged visit {i} lost in the crash"
        );
    }
    // The one cut off may or may not have been committed; retried, it is there once.
    assert!(held.len() == acked.len() || held.len() == acked.len() + 1);
    let mut client = reception(&tiepdan_tests::channel(&node.url).await);
    for i in 0..=in_doubt {
        let again = client.record_visit(visit(i)).await.unwrap().into_inner();
        if let Some((_, id)) = acked.get(i as usize) {
            assert_eq!(
                &again.visit.unwrap().id,
                id,
                "retry of {i} made another visit"
            );
        }
    }
    let after = visits(&node.url).await;
    assert_eq!(after.len(), acked.len() + 1, "each request recorded once");
    node.kill().await;
}

/// A commune records without pause while its town is killed three times and restarted on
/// the same database and address. Once the commune stops, the town holds the commune's
/// journal byte for byte, its records, and totals equal to the commune's own.
async fn town_killed_while_a_commune_streams(backend: Backend) {
    let town_db = TestDb::new(backend).await;
    // The address the town comes back on each time, as a restarted server would.
    let listen = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().to_string()
    };
    let mut town = NodeProcess::start(&town_db, "269", "district", &listen, None).await;
    let url = town.url.clone();
    let commune = TestNode::start_with(
        TestDb::new(Backend::Sqlite).await,
        unit("09574", "Phường Lê Lợi", UnitLevel::Ward, None),
        Some(url.clone()),
        |_| {},
    )
    .await;
    let ch = commune.channel().await;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let recorder = {
        let ch = ch.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut round = 0;
            while !stop.load(std::sync::atomic::Ordering::Acquire) {
                record_mix(&ch, &format!("r{round}"), 20, 4).await;
                round += 1;
            }
            round
        })
    };
    // The sleeps pace the kills and restarts under test, with the commune recording throughout.
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(700)).await;
        town.kill().await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        town = NodeProcess::start(&town_db, "269", "district", &listen, None).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, std::sync::atomic::Ordering::Release);
    let rounds = recorder.await.unwrap();
    assert!(rounds >= 2, "the commune recorded {rounds} rounds");

    let town_ch = tiepdan_tests::channel(&town.url).await;
    assert_town_holds_the_commune(&town_ch, &ch).await;
    commune.stop().await;
    town.kill().await;
}

/// Once the town is current, it holds the commune's journal byte for byte, its records, and
/// totals equal to the commune's own.
async fn assert_town_holds_the_commune(
    town_ch: &tonic::transport::Channel,
    ch: &tonic::transport::Channel,
) {
    let last = journal_last(ch, "09574").await;
    wait_for("the town to be current", || {
        let town_ch = town_ch.clone();
        async move {
            let at_town = journal_last(&town_ch, "09574").await;
            if at_town == last {
                Ok(())
            } else {
                Err(format!("{at_town} of {last}"))
            }
        }
    })
    .await;
    assert_eq!(
        journal_bytes(town_ch, "09574").await,
        journal_bytes(ch, "09574").await,
        "the town's copy of the journal"
    );
    assert_eq!(
        records_of(town_ch, "09574", "269").await,
        records_of(ch, "09574", "09574").await
    );
    let own = subtree_report(ch, "").await;
    let at_town = subtree_report(town_ch, "09574").await;
    assert_eq!(
        Count::of(at_town.totals.as_ref().unwrap()),
        Count::of(own.totals.as_ref().unwrap()),
        "the town counts each event once"
    );
}

/// A seed for the kills' timing, printed so a failure can be replayed
/// (`TIEPDAN_FAULT_SEED`).
fn seeded() -> StdRng {
    let seed = std::env::var("TIEPDAN_FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::rng().random());
    eprintln!("kill timing seed: TIEPDAN_FAULT_SEED={seed}");
    StdRng::seed_from_u64(seed)
}

/// A commune that recorded a backlog while its town was down catches up while the town is
/// killed at random points of the catch-up, three times; nothing is lost or applied twice.
async fn town_killed_during_catch_up(backend: Backend) {
    let mut rng = seeded();
    let town_db = TestDb::new(backend).await;
    let listen = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().to_string()
    };
    let commune = TestNode::start_with(
        TestDb::new(Backend::Sqlite).await,
        unit("09574", "Phường Lê Lợi", UnitLevel::Ward, None),
        Some(format!("http://{listen}")),
        |_| {},
    )
    .await;
    let ch = commune.channel().await;
    record_mix(&ch, "backlog", 400, 80).await;
    for round in 0..3 {
        let town = NodeProcess::start(&town_db, "269", "district", &listen, None).await;
        let delay = Duration::from_millis(rng.random_range(0..600));
        // The kill under test comes at a random moment.
        tokio::time::sleep(delay).await;
        town.kill().await;
        // More backlog while the town is down again.
        record_visits(&ch, &format!("between{round}"), 0, 20).await;
    }
    let town = NodeProcess::start(&town_db, "269", "district", &listen, None).await;
    let town_ch = tiepdan_tests::channel(&town.url).await;
    assert_town_holds_the_commune(&town_ch, &ch).await;
    commune.stop().await;
    town.kill().await;
}

/// A register of `visits` visits and `petitions` petitions, every other one accepted.
fn big_register(visits: u32, petitions: u32) -> String {
    let mut out = String::from(r#"{"type": "register", "key": "big-2019", "unit": "269"}"#);
    out.push('\n');
    for i in 0..visits {
        out.push_str(&format!(
            r#"{{"type": "visit", "key": "V{i}", "visit_time": "2019-{:02}-{:02} 08:30", "kind": "regular", "receiver_role": "staff", "persons": {}, "matter": "first", "action": "accepted", "summary": "visit {i}"}}"#,
            1 + i % 9,
            1 + i % 28,
            1 + i % 6
        ));
        out.push('\n');
    }
    for i in 0..petitions {
        let decision = if i % 2 == 0 {
            r#", "decision": {"action": "accept", "time": "2019-10-01 09:00"}"#
        } else {
            ""
        };
        out.push_str(&format!(
            r#"{{"type": "petition", "key": "P{i}", "received_time": "2019-{:02}-{:02} 10:00", "channel": "post", "summary": "petition {i}", "petitioner": {{"full_name": "Người {i}"}}, "classification": {{"type": "complaint", "field": "land_housing", "complaint_round": 1, "eligibility": "eligible", "jurisdiction": "within"}}{decision}}}"#,
            1 + i % 9,
            1 + i % 28
        ));
        out.push('\n');
    }
    out
}

/// An import into a node killed at random points, three times, then resumed to the end,
/// leaves the node holding what a node that took the register in one go holds, with the
/// same totals.
async fn node_killed_during_import(backend: Backend) {
    use tiepdan_client::register::{self, ImportOptions};
    let mut rng = seeded();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("big.jsonl");
    std::fs::write(&file, big_register(300, 120)).unwrap();
    let book = register::read_file(&file, None).unwrap();
    let options = ImportOptions {
        state_path: Some(dir.path().join("state.json")),
        checkpoint_every: 16,
        ..ImportOptions::default()
    };
    let db = TestDb::new(backend).await;
    for _ in 0..3 {
        let node = NodeProcess::start(&db, "269", "district", "127.0.0.1:0", None).await;
        let client = tiepdan_client::Client::from_channel(tiepdan_tests::channel(&node.url).await);
        let delay = Duration::from_millis(rng.random_range(0..1500));
        let import = {
            let (book, options) = (book.clone(), options.clone());
            tokio::spawn(async move { register::import(&client, &book, &options).await })
        };
        // The kill under test comes at a random moment.
        tokio::time::sleep(delay).await;
        node.kill().await;
        // Cut off (or, if it was quick, done): either way the import says so, and stops.
        let _ = import.await.unwrap();
    }
    let node = NodeProcess::start(&db, "269", "district", "127.0.0.1:0", None).await;
    let client = tiepdan_client::Client::from_channel(tiepdan_tests::channel(&node.url).await);
    let done = register::import(&client, &book, &options).await.unwrap();
    assert!(done.is_complete(), "{done:#?}");
    let killed = crate::cli_import::holdings(&client).await;

    let whole = TestNode::start(backend, unit("269", "269", UnitLevel::District, None)).await;
    let whole_client = tiepdan_client::Client::from_channel(whole.channel().await);
    register::import(&whole_client, &book, &ImportOptions::default())
        .await
        .unwrap();
    assert_eq!(
        killed,
        crate::cli_import::holdings(&whole_client).await,
        "what the killed node holds"
    );
    let report = |ch: tonic::transport::Channel| async move {
        Count::of(subtree_report(&ch, "").await.totals.as_ref().unwrap())
    };
    assert_eq!(
        report(tiepdan_tests::channel(&node.url).await).await,
        report(whole.channel().await).await,
        "the totals"
    );
    whole.stop().await;
    node.kill().await;
}

on_every_backend!(
    acknowledged_records_survive_sigkill,
    town_killed_while_a_commune_streams,
    town_killed_during_catch_up,
    node_killed_during_import
);
