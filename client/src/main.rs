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
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
