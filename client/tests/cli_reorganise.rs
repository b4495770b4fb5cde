//! `tiepdan unit reorganise FILE`, `unit history`, `unit reorganisations`: the example
//! resolution (Sơn Tây, 1 July 2025) issued at a province's node from its file, the unit
//! histories it makes, and the refusals of a second issue and of a malformed file.

mod common;

use serde_json::Value;
use tiepdan_server::domain::model::UnitLevel;
use tiepdan_tests::{Backend, TestNode, unit};

use common::{text, tiepdan};

fn json(out: &std::process::Output) -> Value {
    assert!(
        out.status.success(),
        "tiepdan failed: {}",
        text(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out.stdout)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resolution_file_reorganises_the_province() {
    let province = TestNode::start(
        Backend::Sqlite,
        unit("01", "Thành phố Hà Nội", UnitLevel::Province, None),
    )
    .await;
    let url = province.url();
    for (code, name, level, parent) in [
        ("269", "Thị xã Sơn Tây", "district", "01"),
        ("09574", "Phường Lê Lợi", "phường", "269"),
        ("09577", "Phường Phú Thịnh", "ward", "269"),
        ("09580", "Xã Đường Lâm", "xa", "269"),
    ] {
        let out = tiepdan(
            &url,
            &[],
            &[
                "unit", "register", "--code", code, "--name", name, "--level", level, "--parent",
                parent,
            ],
        )
        .await;
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let file = "../examples/resolution-son-tay-2025.toml";
    let issued = json(&tiepdan(&url, &[], &["--format", "json", "unit", "reorganise", file]).await);
    assert_eq!(issued["authority_code"], "01");
    assert_eq!(issued["effective_date"], "2025-07-01");

    let history =
        json(&tiepdan(&url, &[], &["--format", "json", "unit", "history", "09574"]).await);
    let rows: Vec<(String, String, String, String)> = history
        .as_array()
        .unwrap_or_else(|| panic!("{history}"))
        .iter()
        .map(|v| {
            let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
            (
                s("name"),
                s("valid_from"),
                s("valid_until"),
                s("successor_code"),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (
                "Phường Lê Lợi".into(),
                "".into(),
                "2025-06-30".into(),
                "".into()
            ),
            (
                "Phường Sơn Tây".into(),
                "2025-07-01".into(),
                "".into(),
                "".into()
            ),
            (
                "Phường Phú Thịnh".into(),
                "".into(),
                "2025-06-30".into(),
                "09574".into()
            ),
            (
                "Thị xã Sơn Tây".into(),
                "".into(),
                "2025-06-30".into(),
                "09574".into()
            ),
        ],
        "its two versions, then the two units it took over"
    );
    let table = text(
        &tiepdan(&url, &[], &["unit", "history", "09580"])
            .await
            .stdout,
    );
    assert!(
        table.contains("Xã Đoài Phương") && table.contains("2025-07-01"),
        "{table}"
    );

    // The same resolution again is refused and changes nothing; so is a malformed file.
    let again = tiepdan(&url, &[], &["unit", "reorganise", file]).await;
    assert!(!again.status.success());
    assert!(
        text(&again.stderr).contains("REORGANISATION_EXISTS")
            || text(&again.stderr).contains("already issued"),
        "{}",
        text(&again.stderr)
    );
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "id = \"X\"\neffective = \"2025-07-01\"\n[[unit]]\ncode = \"1\"\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let refused = tiepdan(
        &url,
        &[],
        &["unit", "reorganise", bad.to_str().unwrap_or("")],
    )
    .await;
    assert!(!refused.status.success());
    assert!(
        text(&refused.stderr).contains("bad.toml"),
        "{}",
        text(&refused.stderr)
    );
    let list = text(
        &tiepdan(&url, &[], &["--format", "json", "unit", "reorganisations"])
            .await
            .stdout,
    );
    assert_eq!(list.matches("1656/NQ-UBTVQH15").count(), 1, "{list}");
}
