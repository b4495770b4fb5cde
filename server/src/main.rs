//! `tiepdan-node`: runs one node of the tiepdan tree.

use std::io::IsTerminal;

use clap::{Parser, Subcommand, ValueEnum};
use tiepdan_server::auth::{self, Claims, Role, Secret};
use tiepdan_server::config::ServeArgs;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::writer::BoxMakeWriter;

/// mimalloc rather than glibc's malloc: applying a batch allocates and frees many small
/// strings, and glibc's malloc, free and consolidation were a large part of an apply.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "tiepdan-node",
    version,
    about = "A tiepdan node: citizen reception and petitions for one unit"
)]
struct Cli {
    /// Log format.
    #[arg(
        long,
        global = true,
        env = "TIEPDAN_LOG_FORMAT",
        default_value = "text"
    )]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Serve one unit.
    Serve(Box<ServeArgs>),
    /// Change the unit's stored name, level or remote flag (journaled) to the values given,
    /// with the node stopped; `serve` refuses to start while they differ.
    SetIdentity(Box<ServeArgs>),
    /// Copy the unit's database to a file while the node runs (SQLite; PostgreSQL: pg_dump).
    Backup {
        #[command(flatten)]
        database: tiepdan_server::maintenance::DatabaseArgs,
        /// The file to write; it must not exist.
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// Put a backup in place of the unit's database, with the node stopped; the replaced
    /// database is kept beside it.
    Restore {
        #[command(flatten)]
        database: tiepdan_server::maintenance::DatabaseArgs,
        /// The backup to restore.
        #[arg(long)]
        from: std::path::PathBuf,
    },
    /// Mark the unit's database (made empty if it is missing) to take back from its parent
    /// the journal events it lost before it writes anything: after a PostgreSQL restore or a
    /// lost disk (`restore` marks a SQLite copy itself).
    Recover {
        #[command(flatten)]
        database: tiepdan_server::maintenance::DatabaseArgs,
    },
    /// Make a tree's certificate authority and node certificates for mutual TLS.
    Certs {
        #[command(subcommand)]
        command: CertsCommand,
    },
    /// Make a node's auth secret and issue operator tokens signed with it.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Run a whole tree on this machine: today's map (a city, its communes) or the seed's
    /// (a city, a town, its communes); a 9-month register; one commune cut off and reconnected;
    /// the subtree totals, checked against what was recorded.
    Demo {
        /// Keep the nodes' SQLite files here (default: a temporary directory).
        #[arg(long)]
        data_dir: Option<std::path::PathBuf>,
        /// Number of wards and communes (at least 3, at most the map's list).
        #[arg(long, default_value_t = 3)]
        communes: usize,
        /// Seed of the register generator.
        #[arg(long, default_value_t = 2019)]
        seed: u64,
        /// Serve the dashboard of the communes' parent (the city today, the town in 2019) on
        /// this address (e.g. 127.0.0.1:8080) and keep the tree running until Ctrl-C.
        #[arg(long)]
        http_listen: Option<std::net::SocketAddr>,
        /// Which map: 2025 or 2026, today's (communes straight under the city, a register of
        /// 2026); 2019, the seed's three-level tree (city, town, communes).
        #[arg(long, default_value_t = 2026)]
        year: i32,
        /// Carry the seed's three-level tree through the 1 July 2025 reorganisation on its
        /// running nodes, one commune offline; print every earlier period's report before and
        /// after; fail if one moved or a record was lost or counted twice.
        #[arg(long, conflicts_with_all = ["year", "http_listen"])]
        reorganise: bool,
    },
}

#[derive(Subcommand)]
enum CertsCommand {
    /// Create the CA (ca.pem, ca.key) in a directory.
    Init {
        /// Directory for the CA files.
        #[arg(long)]
        dir: std::path::PathBuf,
        /// Name of the CA.
        #[arg(long, default_value = "tiepdan tree CA")]
        name: String,
    },
    /// Issue a node certificate (UNIT.pem, UNIT.key) signed by the CA in the directory.
    Issue {
        /// Directory holding the CA.
        #[arg(long)]
        dir: std::path::PathBuf,
        /// The node's unit code.
        #[arg(long)]
        unit: String,
        /// Host names or addresses the node is reached at (repeatable).
        #[arg(long)]
        host: Vec<String>,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Write a new random secret (32 bytes, mode 0600) for `serve --auth-secret-file`.
    Secret {
        /// The file to create; an existing file is never overwritten.
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// Print a token for one person or program at one unit.
    Issue {
        /// The node's secret file.
        #[arg(long)]
        secret_file: std::path::PathBuf,
        /// The unit whose node accepts the token.
        #[arg(long)]
        unit: String,
        /// reception, head, auditor or reporter.
        #[arg(long)]
        role: Role,
        /// Who holds the token (appears in the node's logs).
        #[arg(long)]
        subject: String,
        /// Days until the token expires (1 to 366).
        #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u16).range(1..=366))]
        days: u16,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // The demo prints its own story; its nodes only log errors unless RUST_LOG says more.
    let default = match cli.command {
        Command::Demo { .. } => "error",
        Command::Serve(_)
        | Command::SetIdentity(_)
        | Command::Certs { .. }
        | Command::Backup { .. }
        | Command::Restore { .. }
        | Command::Recover { .. } => "info",
        Command::Token { .. } => "warn",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    // `token issue` prints the token alone on stdout, for `TOKEN=$(…)`; its warnings go aside.
    let (writer, terminal) = match cli.command {
        Command::Token { .. } => (
            BoxMakeWriter::new(std::io::stderr),
            std::io::stderr().is_terminal(),
        ),
        _ => (
            BoxMakeWriter::new(std::io::stdout),
            std::io::stdout().is_terminal(),
        ),
    };
    let json = matches!(cli.log_format, LogFormat::Json);
    match cli.log_format {
        // Colour only for a person at a terminal, never into a file or a journal.
        LogFormat::Text => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(writer)
            .with_ansi(terminal)
            .init(),
        LogFormat::Json => tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .with_writer(writer)
            .init(),
    }
    match cli.command {
        Command::Serve(args) => tiepdan_server::config::serve(*args, json).await,
        Command::SetIdentity(args) => tiepdan_server::config::set_identity(*args).await,
        Command::Backup { database, out } => tiepdan_server::maintenance::backup(&database, &out)
            .await
            .map(drop),
        Command::Restore { database, from } => {
            tiepdan_server::maintenance::restore(&database, &from)
                .await
                .map(drop)
        }
        Command::Recover { database } => tiepdan_server::maintenance::recover(&database).await,
        Command::Certs { command } => match command {
            CertsCommand::Init { dir, name } => {
                tiepdan_server::tls::init_ca(&dir, &name)?;
                println!("CA written to {}", dir.display());
                Ok(())
            }
            CertsCommand::Issue { dir, unit, host } => {
                let files = tiepdan_server::tls::issue(&dir, &unit, &host)?;
                println!(
                    "certificate for unit {unit}: --tls-cert {} --tls-key {} --tls-ca {}",
                    files.cert.display(),
                    files.key.display(),
                    files.ca.display()
                );
                Ok(())
            }
        },
        Command::Token { command } => token(command),
        Command::Demo {
            data_dir,
            communes,
            seed,
            http_listen,
            year,
            reorganise,
        } => {
            tiepdan_server::demo::run(tiepdan_server::demo::DemoOptions {
                data_dir,
                communes,
                seed,
                http_listen,
                year,
                reorganise,
            })
            .await
        }
    }
}

fn token(command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::Secret { out } => {
            Secret::write_new(&out)?;
            eprintln!(
                "secret written to {}; serve with --auth-secret-file {0}",
                out.display()
            );
        }
        TokenCommand::Issue {
            secret_file,
            unit,
            role,
            subject,
            days,
        } => {
            let secret = Secret::read(&secret_file)?;
            let now = chrono::Utc::now();
            let expires = now + chrono::Duration::days(i64::from(days));
            let token = auth::issue(
                &secret,
                &Claims {
                    subject,
                    role,
                    unit,
                    issued_at: now.timestamp(),
                    expires_at: expires.timestamp(),
                },
            )?;
            eprintln!("expires {}", expires.format("%Y-%m-%d %H:%M UTC"));
            println!("{token}");
        }
    }
    Ok(())
}
