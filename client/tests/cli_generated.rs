//! Shell completions and manual pages generated from the command line's own definition, so
//! they never drift from it: every command is in both.

mod common;

use common::text;

#[tokio::test]
async fn completions_and_manual_pages_cover_every_command() {
    let commands = ["report", "petition", "visit", "case", "import", "sync"];
    for shell in ["bash", "zsh", "fish"] {
        let out = common::tiepdan("http://127.0.0.1:1", &[], &["completions", shell]).await;
        assert!(out.status.success(), "{}", text(&out.stderr));
        let script = text(&out.stdout);
        for c in commands {
            assert!(script.contains(c), "{shell} completion lacks {c}");
        }
        assert!(
            script.contains("--form"),
            "{shell} completion lacks report --form"
        );
    }
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let out = common::tiepdan(
        "http://127.0.0.1:1",
        &[],
        &["man", "--out-dir", &dir.path().display().to_string()],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    for c in commands {
        let page = dir.path().join(format!("tiepdan-{c}.1"));
        let troff =
            std::fs::read_to_string(&page).unwrap_or_else(|e| panic!("{}: {e}", page.display()));
        assert!(troff.contains(".TH"), "{} is a manual page", page.display());
    }
    let report = std::fs::read_to_string(dir.path().join("tiepdan-report.1")).unwrap_or_default();
    assert!(report.contains("xlsx"), "the report page documents --xlsx");
}
