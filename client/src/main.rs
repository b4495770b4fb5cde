//! `tiepdan`: the command-line tool of a reception desk — record visits and petitions, follow
//! cases, import an office's register files — talking to one node over gRPC.

mod cli;

use std::process::ExitCode;

use clap::Parser;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = cli::args::Cli::parse();
    match cli::run::run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", describe(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, each said once: transport errors repeat
/// themselves down their chain.
fn describe(e: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !parts.last().is_some_and(|last| last.contains(&text)) {
            parts.push(text);
        }
    }
    let mut line = parts.join(": ");
    let reason = e
        .downcast_ref::<tiepdan_client::Error>()
        .and_then(tiepdan_client::Error::rpc)
        .and_then(|r| r.reason.as_deref());
    if matches!(reason, Some("TOKEN_MISSING" | "TOKEN_EXPIRED")) {
        line.push_str("\n(the node needs a valid operator token: --token or TIEPDAN_TOKEN, from `tiepdan-node token issue`)");
    }
    if reason == Some("REQUEST_ID_REUSED") {
        line.push_str(
            "\n(a retry with --request-id must repeat the same arguments, --time included: \
             times default to now)",
        );
    }
    line
}
