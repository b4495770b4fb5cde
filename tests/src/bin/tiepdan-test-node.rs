//! The node program's `serve`, built in this package so the tests can start a node as a
//! process of its own (`CARGO_BIN_EXE_tiepdan-test-node`) and kill it with SIGKILL, as a
//! crash or a power cut would: the same flags, the same code as `tiepdan-node serve`.

use clap::Parser;
use tiepdan_server::config::ServeArgs;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    serve: ServeArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    tiepdan_server::config::serve(Cli::parse().serve, false).await
}
