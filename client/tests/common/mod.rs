//! What the command-line tests share: the built `tiepdan` run against a test node.

use std::process::{Command, Output};

/// Runs `tiepdan --node URL ARGS…` from this crate's directory (paths in ARGS are relative to
/// it), with `env` set and no token but one given here, off the async runtime.
pub async fn tiepdan(url: &str, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tiepdan"));
    command
        .arg("--node")
        .arg(url)
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("TIEPDAN_TOKEN");
    for (k, v) in env {
        command.env(k, v);
    }
    tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap_or_else(|e| panic!("join: {e}"))
        .unwrap_or_else(|e| panic!("run tiepdan: {e}"))
}

/// Output as text, whatever its bytes.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
