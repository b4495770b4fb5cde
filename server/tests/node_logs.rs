//! `tiepdan-node serve`'s output as a log collector reads it: with `--log-format json` every
//! line on stdout is a JSON record (the listening address included); in text mode written to a
//! pipe or a file, no colour codes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Starts a ward node with `format` logs, reads stdout until it says where it listens, and
/// returns the lines read.
fn lines_until_listening(format: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let mut child: Child = Command::new(env!("CARGO_BIN_EXE_tiepdan-node"))
        .args(["--log-format", format, "serve", "--unit", "09574"])
        .args(["--name", "Phường Lê Lợi", "--level", "ward"])
        .args([
            "--listen",
            "127.0.0.1:0",
            "--insecure-plaintext",
            "--data-dir",
        ])
        .arg(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let mut lines = Vec::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        let listening = line.contains("listening");
        lines.push(line);
        if listening {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no listening line: {lines:?}"
        );
    }
    child.kill().unwrap();
    child.wait().unwrap();
    lines
}

#[test]
fn json_logs_print_only_json() {
    let lines = lines_until_listening("json");
    assert!(lines.iter().any(|l| l.contains("listening")), "{lines:?}");
    for line in &lines {
        let record: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(record.get("level").is_some(), "{line}");
    }
    let listening = lines.last().unwrap();
    let record: serde_json::Value = serde_json::from_str(listening).unwrap();
    let url = record["fields"]["url"].as_str().unwrap_or_default();
    assert!(url.starts_with("http://127.0.0.1:"), "{listening}");
}

#[test]
fn text_logs_to_a_pipe_carry_no_colour() {
    let lines = lines_until_listening("text");
    assert!(
        lines
            .last()
            .unwrap()
            .starts_with("tiepdan-node listening on http://127.0.0.1:")
    );
    assert!(lines.len() > 1, "the node logged nothing: {lines:?}");
    for line in &lines {
        assert!(!line.contains('\u{1b}'), "colour codes: {line:?}");
    }
}
