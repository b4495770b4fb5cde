//! The `tiepdan` binary against a real node: JSON for scripts, tables for people, the exit
//! status and message of a refusal, a safe retry with `--request-id`, and `import`.

mod common;

use std::process::Output;

use serde_json::Value;
use tiepdan_server::domain::model::UnitLevel;
use tiepdan_tests::{Backend, TestNode, unit};

use common::text;

/// Runs `tiepdan --node URL ARGS…`.
async fn tiepdan(url: &str, args: &[&str]) -> Output {
    common::tiepdan(url, &[], args).await
}

fn json(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "tiepdan failed: {}",
        text(&output.stderr)
    );
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&output.stdout)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_against_a_node() {
    let node = TestNode::start(
        Backend::Sqlite,
        unit("269", "Thị xã Sơn Tây", UnitLevel::District, Some("01")),
    )
    .await;
    let url = node.url();

    let import = json(
        &tiepdan(
            &url,
            &[
                "--format",
                "json",
                "import",
                "../examples/register-son-tay.jsonl",
                "--no-state",
            ],
        )
        .await,
    );
    assert_eq!(import["records"], 26);
    assert_eq!(import["imported"], 26);
    assert_eq!(import["failed"], 0);

    // JSON: enum words, local times.
    let accepted = json(
        &tiepdan(
            &url,
            &[
                "--format", "json", "petition", "list", "--status", "accepted",
            ],
        )
        .await,
    );
    let accepted = accepted.as_array().cloned().unwrap_or_default();
    assert_eq!(accepted.len(), 8);
    for p in &accepted {
        assert_eq!(p["status"], "accepted");
        assert!(
            p["received_time"]
                .as_str()
                .is_some_and(|t| t.ends_with("+07:00")),
            "{p}"
        );
    }
    let first = json(&tiepdan(&url, &["--format", "json", "petition", "get", "269-P1"]).await);
    assert_eq!(first["type"], "complaint");
    assert_eq!(first["field"], "land_housing");
    assert_eq!(first["received_time"], "2019-01-08T08:45:00+07:00");
    assert_eq!(first["petitioner"]["full_name"], "Lê Văn Minh");

    // A table: a header and one line per case.
    let cases = tiepdan(&url, &["case", "list"]).await;
    assert!(cases.status.success());
    let lines: Vec<String> = text(&cases.stdout).lines().map(str::to_string).collect();
    assert_eq!(lines.len(), 1 + 7, "{lines:#?}");
    assert!(lines[0].starts_with("ID "), "{}", lines[0]);
    assert!(lines.iter().any(|l| l.contains("269-P2, 269-P3")));

    // A refusal: non-zero exit, the node's field violations on one line.
    let refused = tiepdan(
        &url,
        &["visit", "record", "--action", "accepted", "--persons", "0"],
    )
    .await;
    assert_eq!(refused.status.code(), Some(1));
    assert_eq!(
        text(&refused.stderr).trim(),
        "error: INVALID_ARGUMENT: persons: between 1 and 10000"
    );

    // A retry with the same request id answers the first visit and records nothing new.
    let args = [
        "--format",
        "json",
        "--request-id",
        "desk-2019-09-14-1",
        "visit",
        "record",
        "--time",
        "2019-09-14 08:00",
        "--action",
        "accepted",
        "--persons",
        "6",
    ];
    let once = json(&tiepdan(&url, &args).await);
    let twice = json(&tiepdan(&url, &args).await);
    assert_eq!(once["id"], "269-V6");
    assert_eq!(once["crowd_group"], true);
    assert_eq!(once["visit_time"], "2019-09-14T08:00:00+07:00");
    assert_eq!(twice, once);
    let journal = json(
        &tiepdan(
            &url,
            &["--format", "json", "journal", "list", "--limit", "1"],
        )
        .await,
    );
    // The node itself, the register's 54 changes, the visit.
    assert_eq!(journal["last_sequence"], 1 + 54 + 1);

    // A Vietnamese name is a word too, with or without diacritics.
    let vi = json(
        &tiepdan(
            &url,
            &[
                "--format",
                "json",
                "petition",
                "list",
                "--type",
                "khieu-nai",
            ],
        )
        .await,
    );
    let en = json(
        &tiepdan(
            &url,
            &[
                "--format",
                "json",
                "petition",
                "list",
                "--type",
                "complaint",
            ],
        )
        .await,
    );
    assert_eq!(vi, en);
    // A bad word is refused by the command line itself, listing the words in both languages.
    let bad = tiepdan(&url, &["petition", "list", "--type", "khieu-nai-gi"]).await;
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        text(&bad.stderr).contains("complaint (khiếu nại), denunciation (tố cáo)"),
        "{}",
        text(&bad.stderr)
    );
    node.stop().await;
}

/// `tiepdan sync verify` at a town with one commune: the journals agree (exit 0, every
/// event of the commune compared); an unknown child is refused; a child that is down
/// cannot be verified (exit 1).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_verify_at_a_town() {
    let town = TestNode::start(
        Backend::Sqlite,
        unit("269", "Thị xã Sơn Tây", UnitLevel::District, None),
    )
    .await;
    let commune = TestNode::start_with(
        tiepdan_tests::TestDb::new(Backend::Sqlite).await,
        unit("09574", "Phường Lê Lợi", UnitLevel::Ward, None),
        Some(town.url()),
        |_| {},
    )
    .await;
    for i in 0..5 {
        let time = format!("2019-09-{:02} 08:00", 10 + i);
        let visit = tiepdan(
            &commune.url(),
            &[
                "visit",
                "record",
                "--action",
                "accepted",
                "--persons",
                "2",
                "--time",
                &time,
            ],
        )
        .await;
        assert!(visit.status.success(), "{}", text(&visit.stderr));
    }
    let held = json(
        &tiepdan(
            &commune.url(),
            &["--format", "json", "journal", "list", "--origin", "09574"],
        )
        .await,
    );
    let events = held["last_sequence"].as_u64().unwrap_or_default();
    assert!(events >= 5, "{held}");

    // Verify until the town has taken everything (it pulls what it lacks meanwhile).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let report = loop {
        let out = tiepdan(&town.url(), &["--format", "json", "sync", "verify"]).await;
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        if out.status.success() {
            break doc;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never in agreement: {doc} {}",
            text(&out.stderr)
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(report["in_agreement"], true, "{report}");
    let child = &report["children"][0];
    assert_eq!(child["unit"], "09574");
    assert_eq!(child["events"].as_u64(), Some(events), "{report}");
    assert_eq!(child["remaining"].as_array().map(Vec::len), Some(0));

    let table = tiepdan(&town.url(), &["sync", "verify"]).await;
    assert!(table.status.success());
    assert!(
        text(&table.stdout).contains("in agreement"),
        "{}",
        text(&table.stdout)
    );

    let refused = tiepdan(&town.url(), &["sync", "verify", "--child", "09999"]).await;
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        text(&refused.stderr).contains("child_units[0]"),
        "{}",
        text(&refused.stderr)
    );

    let db = commune.stop().await;
    let down = loop {
        let out = tiepdan(&town.url(), &["--format", "json", "sync", "verify"]).await;
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        if doc["children"][0]["reached"] == false {
            assert_eq!(out.status.code(), Some(1));
            break doc;
        }
        assert!(std::time::Instant::now() < deadline, "{doc}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(down["in_agreement"], false);
    drop(db);
    town.stop().await;
}
