//! Interoperability with an independent client: `tests/python/interop.py` drives a real node
//! from Python's grpcio with message classes built from server reflection (no generated code),
//! on SQLite and on PostgreSQL. Needs `python3` with `tests/python/requirements.txt` installed.

use crate::support::on_every_backend;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::support::server::UnitLevel;
use tiepdan_tests::{Backend, TestNode, unit};

async fn python_interop(backend: Backend) {
    let node = TestNode::start(
        backend,
        unit("00196", "Phường Ngô Quyền", UnitLevel::Ward, Some("007")),
    )
    .await;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/interop.py");
    // The script bounds its own run time (an alarm ends it), so a blocking wait is safe.
    let mut command = Command::new("python3");
    command
        .arg(&script)
        .arg(node.url())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null());
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap_or_else(|e| panic!("python3 task: {e}"))
        .unwrap_or_else(|e| panic!("cannot run python3 {}: {e}", script.display()));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let hint = if stderr.contains("ModuleNotFoundError") {
        "; install its dependencies with `pip install -r tests/python/requirements.txt`"
    } else {
        ""
    };
    assert!(
        output.status.success(),
        "tests/python/interop.py {} failed ({}){hint}\n--- stdout\n{stdout}--- stderr\n{stderr}",
        node.url(),
        output.status,
    );
    println!("{stdout}");
    node.stop().await;
}

on_every_backend!(python_interop);
