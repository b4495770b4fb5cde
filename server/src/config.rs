//! Layered configuration of `tiepdan-node serve`: built-in defaults, then an optional TOML
//! file (`--config`), then environment variables (`TIEPDAN_*`), then command-line flags.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use serde::Deserialize;

use crate::auth::Secret;
use crate::domain::deadlines::DeadlineTable;
use crate::domain::model::{Unit, UnitLevel};
use crate::domain::validate::is_unit_code;
use crate::net::ConnectionLimits;
use crate::node::NodeConfig;
use crate::sync::uplink::UplinkConfig;
use crate::tls::TlsFiles;

/// Most a node may be configured to accept as a token's lifetime: ten years.
const MAX_TOKEN_MAX_DAYS: i64 = 3660;

/// Flags of `serve`; each can also come from the environment and from the file.
#[derive(Debug, Clone, Default, Args)]
pub struct ServeArgs {
    /// Statistics-office code of this node's unit (01, 269, 09574, …).
    #[arg(long, env = "TIEPDAN_UNIT")]
    pub unit: Option<String>,
    /// Name of the unit.
    #[arg(long, env = "TIEPDAN_NAME")]
    pub name: Option<String>,
    /// Level: commune, ward, district, province or national.
    #[arg(long, env = "TIEPDAN_LEVEL")]
    pub level: Option<String>,
    /// Parent node's URL (for the tier link).
    #[arg(long, env = "TIEPDAN_PARENT")]
    pub parent: Option<String>,
    /// The unit lies in a remote area (longer complaint limits).
    #[arg(long, env = "TIEPDAN_REMOTE")]
    pub remote: Option<bool>,
    /// Address to listen on.
    #[arg(long, env = "TIEPDAN_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Database URL; defaults to a SQLite file in the data directory.
    #[arg(long, env = "TIEPDAN_DB")]
    pub db: Option<String>,
    /// Data directory for the default SQLite file.
    #[arg(long, env = "TIEPDAN_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// This node's certificate (PEM), for mutual TLS.
    #[arg(long, env = "TIEPDAN_TLS_CERT", requires_all = ["tls_key", "tls_ca"])]
    pub tls_cert: Option<PathBuf>,
    /// This node's private key (PEM).
    #[arg(long, env = "TIEPDAN_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// The tree's CA certificate (PEM).
    #[arg(long, env = "TIEPDAN_TLS_CA")]
    pub tls_ca: Option<PathBuf>,
    /// Serve and link without TLS: allowed on loopback addresses only.
    #[arg(long, env = "TIEPDAN_INSECURE_PLAINTEXT")]
    pub insecure_plaintext: bool,
    /// File holding the node's secret (`tiepdan-node token secret`): every call then needs an
    /// operator token signed with it (`tiepdan-node token issue`).
    #[arg(long, env = "TIEPDAN_AUTH_SECRET_FILE")]
    pub auth_secret_file: Option<PathBuf>,
    /// Serve a non-loopback address without checking operator tokens.
    #[arg(long, env = "TIEPDAN_INSECURE_NO_AUTH")]
    pub insecure_no_auth: bool,
    /// Longest lifetime, in days, of an operator token this node accepts (expiry minus issue
    /// time; default 366).
    #[arg(long, env = "TIEPDAN_TOKEN_MAX_DAYS", value_parser = clap::value_parser!(u32).range(1..=MAX_TOKEN_MAX_DAYS))]
    pub token_max_days: Option<u32>,
    /// Serve Prometheus metrics on this address.
    #[arg(long, env = "TIEPDAN_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// Serve the dashboard for people (a page at `/` and the reads it makes over gRPC-Web) on
    /// this address, with the same TLS and tokens as the gRPC port.
    #[arg(long, env = "TIEPDAN_HTTP_LISTEN")]
    pub http_listen: Option<SocketAddr>,
    /// A directory of report-form definitions (`*.toml`, as in `server/forms/`) that replace
    /// or add to the built-in ones of the same code and circular.
    #[arg(long, env = "TIEPDAN_FORMS_DIR")]
    pub forms_dir: Option<PathBuf>,
    /// Most connections open at once (default 4096); more are closed as they come.
    #[arg(long, env = "TIEPDAN_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Most concurrent calls on one connection (default 256).
    #[arg(long, env = "TIEPDAN_MAX_STREAMS_PER_CONNECTION")]
    pub max_streams_per_connection: Option<u32>,
    /// Seconds a new connection has to start its handshake (default 10).
    #[arg(long, env = "TIEPDAN_HANDSHAKE_TIMEOUT_SECS")]
    pub handshake_timeout_secs: Option<u64>,
    /// Seconds a connection with no call in progress stays open (default 300).
    #[arg(long, env = "TIEPDAN_IDLE_TIMEOUT_SECS")]
    pub idle_timeout_secs: Option<u64>,
    /// Optional TOML configuration file.
    #[arg(long, env = "TIEPDAN_CONFIG")]
    pub config: Option<PathBuf>,
}

/// The TOML file: the same keys as the flags, plus `[deadlines]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileConfig {
    pub(crate) unit: Option<String>,
    name: Option<String>,
    level: Option<String>,
    parent: Option<String>,
    remote: Option<bool>,
    listen: Option<SocketAddr>,
    pub(crate) db: Option<String>,
    pub(crate) data_dir: Option<PathBuf>,
    metrics_listen: Option<SocketAddr>,
    http_listen: Option<SocketAddr>,
    forms_dir: Option<PathBuf>,
    max_connections: Option<usize>,
    max_streams_per_connection: Option<u32>,
    handshake_timeout_secs: Option<u64>,
    idle_timeout_secs: Option<u64>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    tls_ca: Option<PathBuf>,
    insecure_plaintext: Option<bool>,
    auth_secret_file: Option<PathBuf>,
    insecure_no_auth: Option<bool>,
    token_max_days: Option<u32>,
    deadlines: Option<DeadlineTable>,
}

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Parse {
        path: PathBuf,
        source: toml::de::Error,
    },
    #[error("{0}")]
    Invalid(String),
    #[error("tls: {0}")]
    Tls(#[from] crate::tls::TlsError),
    #[error("auth: {0}")]
    Auth(#[from] crate::auth::AuthError),
}

/// The resolved configuration of a node.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub node: NodeConfig,
    pub listen: SocketAddr,
}

impl ServeArgs {
    /// Resolves flags, environment and file into a node configuration.
    pub fn resolve(&self) -> Result<Resolved, ConfigError> {
        let file = match &self.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let unit = self
            .unit
            .clone()
            .or(file.unit)
            .ok_or_else(|| ConfigError::Invalid("--unit is required".into()))?;
        if !is_unit_code(&unit) {
            return Err(ConfigError::Invalid(format!(
                "--unit {unit:?}: a unit code is 2 to 5 digits"
            )));
        }
        let name = self
            .name
            .clone()
            .or(file.name)
            .ok_or_else(|| ConfigError::Invalid("--name is required".into()))?;
        let level_text = self
            .level
            .clone()
            .or(file.level)
            .ok_or_else(|| ConfigError::Invalid("--level is required".into()))?;
        let level = UnitLevel::parse(&level_text).ok_or_else(|| {
            ConfigError::Invalid(format!(
                "--level {level_text:?}: one of commune, ward, district, province, national"
            ))
        })?;
        let listen = self
            .listen
            .or(file.listen)
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 50051)));
        let data_dir = self
            .data_dir
            .clone()
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("data"));
        let database_url = match self.db.clone().or(file.db) {
            Some(url) => url,
            None => {
                check_data_dir(&data_dir, &unit)?;
                default_sqlite(&data_dir, &unit)
            }
        };
        let tls_files = match (
            self.tls_cert.clone().or(file.tls_cert),
            self.tls_key.clone().or(file.tls_key),
            self.tls_ca.clone().or(file.tls_ca),
        ) {
            (Some(cert), Some(key), Some(ca)) => Some(TlsFiles { cert, key, ca }),
            (None, None, None) => None,
            _ => {
                return Err(ConfigError::Invalid(
                    "TLS needs all of --tls-cert, --tls-key and --tls-ca".into(),
                ));
            }
        };
        let plaintext = self.insecure_plaintext || file.insecure_plaintext.unwrap_or(false);
        if tls_files.is_none() && !plaintext {
            return Err(ConfigError::Invalid(
                "TLS is required: give --tls-cert, --tls-key and --tls-ca (see `tiepdan-node certs`), \
                 or --insecure-plaintext to serve on a loopback address without TLS"
                    .into(),
            ));
        }
        let tls = tls_files.as_ref().map(crate::tls::load).transpose()?;
        let auth = self
            .auth_secret_file
            .clone()
            .or(file.auth_secret_file)
            .map(|path| Secret::read(&path))
            .transpose()?;
        let insecure_no_auth = self.insecure_no_auth || file.insecure_no_auth.unwrap_or(false);
        let token_max_days = self
            .token_max_days
            .or(file.token_max_days)
            .unwrap_or(crate::auth::DEFAULT_TOKEN_MAX_DAYS);
        if token_max_days == 0 || i64::from(token_max_days) > MAX_TOKEN_MAX_DAYS {
            return Err(ConfigError::Invalid(format!(
                "token_max_days {token_max_days}: 1 to {MAX_TOKEN_MAX_DAYS} days"
            )));
        }
        if auth.is_none() && !insecure_no_auth && !listen.ip().is_loopback() {
            return Err(ConfigError::Invalid(format!(
                "--listen {listen} is reachable from other machines: give --auth-secret-file \
                 (see `tiepdan-node token secret`), or --insecure-no-auth to serve it without \
                 checking operator tokens"
            )));
        }
        let defaults = ConnectionLimits::default();
        let connections = ConnectionLimits {
            max_connections: self
                .max_connections
                .or(file.max_connections)
                .unwrap_or(defaults.max_connections),
            max_streams_per_connection: self
                .max_streams_per_connection
                .or(file.max_streams_per_connection)
                .unwrap_or(defaults.max_streams_per_connection),
            handshake_timeout: self
                .handshake_timeout_secs
                .or(file.handshake_timeout_secs)
                .map_or(defaults.handshake_timeout, Duration::from_secs),
            idle_timeout: self
                .idle_timeout_secs
                .or(file.idle_timeout_secs)
                .map_or(defaults.idle_timeout, Duration::from_secs),
        };
        if connections.max_connections == 0
            || connections.max_streams_per_connection == 0
            || connections.handshake_timeout.is_zero()
            || connections.idle_timeout.is_zero()
        {
            return Err(ConfigError::Invalid(
                "connection limits and timeouts must be above zero".into(),
            ));
        }
        Ok(Resolved {
            node: NodeConfig {
                connections,
                unit: Unit {
                    code: unit,
                    name,
                    level,
                    parent_code: None,
                    remote: self.remote.or(file.remote).unwrap_or(false),
                },
                database_url,
                parent_url: self.parent.clone().or(file.parent),
                deadlines: file.deadlines.unwrap_or_default(),
                uplink: UplinkConfig::default(),
                metrics_listen: self.metrics_listen.or(file.metrics_listen),
                http_listen: self.http_listen.or(file.http_listen),
                forms_dir: self.forms_dir.clone().or(file.forms_dir),
                tls,
                auth,
                insecure_no_auth,
                token_max_days,
            },
            listen,
        })
    }
}

/// A data directory is one node's: it must not hold another unit's database.
fn check_data_dir(data_dir: &Path, unit: &str) -> Result<(), ConfigError> {
    let Ok(entries) = std::fs::read_dir(data_dir) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(other) = name.to_str().and_then(|n| n.strip_suffix(".sqlite")) else {
            continue;
        };
        if other != unit && is_unit_code(other) {
            return Err(ConfigError::Invalid(format!(
                "data directory {} holds the database of unit {other} ({}), not of unit {unit}; \
                 give unit {unit} a data directory of its own",
                data_dir.display(),
                entry.path().display()
            )));
        }
    }
    Ok(())
}

pub(crate) fn default_sqlite(data_dir: &Path, unit: &str) -> String {
    format!(
        "sqlite://{}",
        data_dir.join(format!("{unit}.sqlite")).display()
    )
}

pub(crate) fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    toml::from_str(&text).map_err(|source| ConfigError::Parse {
        path: path.to_path_buf(),
        source,
    })
}

/// Changes the unit's stored identity (name, level, remote flag) to what `args` say, as a
/// journaled event, with the node stopped: `serve` refuses to start on a database that holds
/// its unit otherwise.
pub async fn set_identity(args: ServeArgs) -> anyhow::Result<()> {
    let resolved = args.resolve()?;
    let store = crate::storage::Store::open(&resolved.node.database_url).await?;
    let before = crate::storage::records::find_self(store.reader()).await?;
    let after = crate::app::save_identity(&store, resolved.node.unit, true).await?;
    store.close().await?;
    match before {
        Some(b) if b == after => println!("unit {}: unchanged", after.code),
        Some(b) => println!(
            "unit {}: {:?} ({}{}) -> {:?} ({}{})",
            after.code,
            b.name,
            b.level.as_str(),
            if b.remote { ", remote" } else { "" },
            after.name,
            after.level.as_str(),
            if after.remote { ", remote" } else { "" }
        ),
        None => println!("unit {}: stored", after.code),
    }
    Ok(())
}

/// Runs a node with `args` until SIGINT or SIGTERM, saying first where it listens: a line
/// `tiepdan-node listening on http://…` on stdout, or with `json_logs` a log record (stdout
/// then carries JSON only).
pub async fn serve(args: ServeArgs, json_logs: bool) -> anyhow::Result<()> {
    use anyhow::Context;
    let resolved = args.resolve()?;
    let listener = tokio::net::TcpListener::bind(resolved.listen)
        .await
        .with_context(|| format!("cannot listen on {}", resolved.listen))?;
    let page_scheme = if resolved.node.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let running = crate::node::start(resolved.node, listener).await?;
    if json_logs {
        tracing::info!(url = %running.url(), "tiepdan-node listening");
    } else {
        println!("tiepdan-node listening on {}", running.url());
        if let Some(page) = running.page_addr {
            println!("tiepdan-node dashboard on {page_scheme}://{page}/");
        }
    }
    let token = running.shutdown_token();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down");
        token.cancel();
    });
    running.wait().await?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {},
                    _ = term.recv() => {},
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn the_shipped_example_configuration_reads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../packaging/node.toml");
        let file = read_file(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(file.unit.as_deref(), Some("09574"));
        assert_eq!(
            file.max_connections,
            Some(ConnectionLimits::default().max_connections)
        );
        assert_eq!(
            file.token_max_days,
            Some(crate::auth::DEFAULT_TOKEN_MAX_DAYS)
        );
        assert!(file.tls_cert.is_some() && file.auth_secret_file.is_some());
    }

    #[test]
    fn flags_override_the_file_and_the_file_fills_the_rest() {
        let mut file = tempfile::NamedTempFile::new().unwrap_or_else(|e| panic!("{e}"));
        writeln!(
            file,
            "unit = \"269\"\nname = \"Thị xã Sơn Tây\"\nlevel = \"district\"\n\
             http_listen = \"127.0.0.1:8080\"\n[deadlines]\nprocess_petition = {{ days = 7 }}"
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let args = ServeArgs {
            name: Some("Sơn Tây".into()),
            config: Some(file.path().to_path_buf()),
            insecure_plaintext: true,
            ..Default::default()
        };
        let resolved = args.resolve().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(resolved.node.unit.code, "269");
        assert_eq!(resolved.node.unit.name, "Sơn Tây");
        assert_eq!(resolved.node.unit.level, UnitLevel::District);
        assert_eq!(resolved.node.deadlines.process_petition.days, 7);
        assert_eq!(
            resolved.node.http_listen,
            Some(SocketAddr::from(([127, 0, 0, 1], 8080)))
        );
        assert_eq!(resolved.node.deadlines.resolve_first_complaint.days, 30);
        assert!(resolved.node.database_url.ends_with("data/269.sqlite"));
    }

    #[test]
    fn plaintext_must_be_asked_for() {
        let args = ServeArgs {
            unit: Some("269".into()),
            name: Some("x".into()),
            level: Some("district".into()),
            ..Default::default()
        };
        assert!(args.resolve().is_err());
        let args = ServeArgs {
            insecure_plaintext: true,
            ..args
        };
        assert!(args.resolve().is_ok());
    }

    #[test]
    fn serving_off_loopback_needs_tokens_or_asking_not_to() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let secret = dir.path().join("secret");
        crate::auth::Secret::write_new(&secret).unwrap_or_else(|e| panic!("{e}"));
        let args = ServeArgs {
            unit: Some("269".into()),
            name: Some("x".into()),
            level: Some("district".into()),
            listen: Some(SocketAddr::from(([0, 0, 0, 0], 50051))),
            insecure_plaintext: true,
            ..Default::default()
        };
        assert!(args.resolve().is_err());
        let with_tokens = ServeArgs {
            auth_secret_file: Some(secret.clone()),
            ..args.clone()
        };
        assert!(with_tokens.resolve().is_ok_and(|r| r.node.auth.is_some()));
        let asked = ServeArgs {
            insecure_no_auth: true,
            ..args.clone()
        };
        assert!(asked.resolve().is_ok_and(|r| r.node.auth.is_none()));
        // From the file too.
        let mut file = tempfile::NamedTempFile::new().unwrap_or_else(|e| panic!("{e}"));
        writeln!(
            file,
            "auth_secret_file = {:?}",
            secret.display().to_string()
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let from_file = ServeArgs {
            config: Some(file.path().to_path_buf()),
            ..args
        };
        assert!(from_file.resolve().is_ok_and(|r| r.node.auth.is_some()));
        let missing = ServeArgs {
            auth_secret_file: Some(dir.path().join("no such file")),
            ..from_file
        };
        assert!(missing.resolve().is_err());
    }

    #[test]
    fn the_token_lifetime_cap_comes_from_flag_file_or_default() {
        let args = ServeArgs {
            unit: Some("269".into()),
            name: Some("x".into()),
            level: Some("district".into()),
            insecure_plaintext: true,
            ..Default::default()
        };
        let days = |a: &ServeArgs| a.resolve().map(|r| r.node.token_max_days).ok();
        assert_eq!(days(&args), Some(crate::auth::DEFAULT_TOKEN_MAX_DAYS));
        let mut file = tempfile::NamedTempFile::new().unwrap_or_else(|e| panic!("{e}"));
        writeln!(file, "token_max_days = 30").unwrap_or_else(|e| panic!("{e}"));
        let from_file = ServeArgs {
            config: Some(file.path().to_path_buf()),
            ..args.clone()
        };
        assert_eq!(days(&from_file), Some(30));
        let flag = ServeArgs {
            token_max_days: Some(7),
            ..from_file
        };
        assert_eq!(days(&flag), Some(7));
        for bad in [0, 3661] {
            let refused = ServeArgs {
                token_max_days: Some(bad),
                ..args.clone()
            };
            assert!(refused.resolve().is_err(), "{bad}");
        }
    }

    #[test]
    fn bad_values_are_refused() {
        let args = ServeArgs {
            unit: Some("26x".into()),
            name: Some("x".into()),
            level: Some("district".into()),
            ..Default::default()
        };
        assert!(args.resolve().is_err());
        let args = ServeArgs {
            unit: Some("269".into()),
            name: Some("x".into()),
            level: Some("county".into()),
            ..Default::default()
        };
        assert!(args.resolve().is_err());
    }
}
