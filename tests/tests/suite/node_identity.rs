//! One node per data directory, and a node is the unit its database holds: a second node on
//! the same database refuses to start while the first runs; a `serve` naming another unit,
//! name, level or remote flag than the database holds refuses to start and names both; a
//! deliberate change goes through `set-identity`, which journals it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use crate::support::server::ServeArgs;
use crate::support::server::UnitLevel;
use crate::support::server::{NodeConfig, node};
use crate::support::*;
use clap::Parser;
use tiepdan_tests::{TestDb, unit};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};

/// `tiepdan-node serve` flags for a ward in `dir`, with `extra` after them.
fn serve_args(dir: &Path, code: &str, name: &str, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "--unit",
        code,
        "--name",
        name,
        "--level",
        "ward",
        "--listen",
        "127.0.0.1:0",
        "--insecure-plaintext",
        "--data-dir",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.push(dir.display().to_string());
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

fn command(args: &[String]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tiepdan-test-node"));
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// Starts a node process and waits until it listens; returns it with its URL.
async fn serving(args: &[String]) -> (Child, String) {
    let mut child = command(args).spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = tokio::time::timeout(WAIT, async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(url) = line.strip_prefix("tiepdan-node listening on ") {
                return url.to_string();
            }
        }
        panic!("the node ended before it listened");
    })
    .await
    .expect("the node did not listen");
    (child, url)
}

/// Runs a node process that must refuse to start; returns what it said on stderr.
async fn refused(args: &[String]) -> String {
    let mut child = command(args).spawn().unwrap();
    let status = tokio::time::timeout(WAIT, child.wait())
        .await
        .expect("the node did not refuse to start")
        .unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .await
        .unwrap();
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .await
        .unwrap();
    assert!(!status.success(), "the node started: {stdout}");
    assert!(
        !stdout.contains("listening on"),
        "the node listened: {stdout}"
    );
    stderr
}

#[derive(Parser)]
struct SetIdentity {
    #[command(flatten)]
    serve: ServeArgs,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_node_per_data_directory_and_its_identity() {
    let dir = tempfile::tempdir().unwrap();
    let name = "Phường Lê Lợi";
    let (mut first, url) = serving(&serve_args(dir.path(), "09574", name, &[])).await;
    record_visits(&tiepdan_tests::channel(&url).await, "id", 0, 3).await;

    // A second node on the same data directory while the first runs.
    let said = refused(&serve_args(dir.path(), "09574", name, &[])).await;
    assert!(said.contains("in use by another running node"), "{said}");
    // Another unit in a directory that holds this one's database.
    let said = refused(&serve_args(dir.path(), "09577", "Phường Phú Thịnh", &[])).await;
    assert!(
        said.contains("holds the database of unit 09574") && said.contains("09577"),
        "{said}"
    );
    first.start_kill().unwrap();
    first.wait().await.unwrap();

    // The unit as the database holds it, but for one attribute.
    for (args, told) in [
        (
            serve_args(dir.path(), "09574", "Phường Sơn Lộc", &[]),
            "Phường Sơn Lộc",
        ),
        (
            serve_args(dir.path(), "09574", name, &["--remote", "true"]),
            "remote",
        ),
        (
            {
                let mut a = serve_args(dir.path(), "09574", name, &[]);
                let at = a.iter().position(|s| s == "ward").unwrap();
                a[at] = "commune".into();
                a
            },
            "commune",
        ),
    ] {
        let said = refused(&args).await;
        assert!(
            said.contains(name) && said.contains(told) && said.contains("set-identity"),
            "{told}: {said}"
        );
    }

    // A deliberate change, journaled; then the node starts as the new unit.
    let renamed = "Phường Sơn Lộc";
    let mut cli = vec!["set-identity".to_string()];
    cli.extend(serve_args(dir.path(), "09574", renamed, &[]));
    crate::support::server::set_identity(SetIdentity::parse_from(cli).serve)
        .await
        .unwrap();
    let (mut again, url) = serving(&serve_args(dir.path(), "09574", renamed, &[])).await;
    let ch = tiepdan_tests::channel(&url).await;
    let events = journal(&ch, "09574").await;
    let last = events.last().unwrap();
    match &last.change {
        Some(pb::journal_event::Change::UnitRegistered(u)) => assert_eq!(u.name, renamed),
        other => panic!("the change was not journaled: {other:?}"),
    }
    assert_eq!(all_visits(&ch).await.len(), 3, "the records stayed");
    again.start_kill().unwrap();
    again.wait().await.unwrap();
}

/// Two nodes on one database: the second refuses to start while the first runs (SQLite: a
/// lock file beside the database; PostgreSQL: an advisory lock), and starts once it stopped.
async fn one_node_per_database(backend: Backend) {
    let db = TestDb::new(backend).await;
    let ward = unit("09574", "Phường Lê Lợi", UnitLevel::Ward, None);
    let start = |url: String| {
        let ward = ward.clone();
        async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            node::start(NodeConfig::new(ward, url), listener).await
        }
    };
    let first = start(db.url.clone()).await.unwrap();
    let second = start(db.url.clone()).await;
    match second {
        Err(e) => assert!(
            e.to_string().contains("in use by another running node"),
            "{e}"
        ),
        Ok(_) => panic!("a second node started on the same database"),
    }
    first.stop().await.unwrap();
    let third = tokio::time::timeout(Duration::from_secs(30), start(db.url.clone()))
        .await
        .unwrap()
        .unwrap();
    third.stop().await.unwrap();
    drop(db);
}

on_every_backend!(one_node_per_database);
