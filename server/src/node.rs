//! A running node: the store, the application and the gRPC server with health and reflection,
//! started on a listener and stopped by a cancellation token.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tiepdan_proto::v1 as pb;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic::transport::Server;
use tonic_health::ServingStatus;

use crate::api::limits::UnreadableLayer;
use crate::api::rpc_metrics::RpcMetricsLayer;
use crate::api::{CaseApi, JournalApi, PetitionApi, ReceptionApi, ReportApi, UnitApi};
use crate::app::App;
use crate::app::links::SyncStatus;
use crate::auth::layer::AuthLayer;
use crate::auth::{Authorizer, Secret};
use crate::domain::deadlines::DeadlineTable;
use crate::domain::model::Unit;
use crate::net::{self, CallsLayer, ConnectionLimits, Connections};
use crate::storage::Store;
use crate::sync::SyncHub;
use crate::sync::link::SyncApi;
use crate::sync::metrics::{self, NodeMetrics};
use crate::sync::uplink::{self, UplinkConfig};
use crate::tls::NodeTls;
use crate::web;

pub use crate::wire::MAX_MESSAGE_BYTES;

/// What a node needs to start.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// The unit this node serves.
    pub unit: Unit,
    /// Database URL: `sqlite://PATH` or `postgres://…`.
    pub database_url: String,
    /// Parent node's URL (used by the tier link).
    pub parent_url: Option<String>,
    /// The deadline table.
    pub deadlines: DeadlineTable,
    /// Tunables of the link to the parent.
    pub uplink: UplinkConfig,
    /// Where to serve Prometheus metrics, if anywhere.
    pub metrics_listen: Option<SocketAddr>,
    /// Where to serve the dashboard and its gRPC-Web reads, if anywhere.
    pub http_listen: Option<SocketAddr>,
    /// Report-form definitions replacing or adding to the built-in ones.
    pub forms_dir: Option<std::path::PathBuf>,
    /// Mutual TLS; without it the node serves and links in plaintext, on loopback only.
    pub tls: Option<NodeTls>,
    /// The secret operator tokens are signed with; with it every call but health, reflection
    /// and the tier link needs a token whose role may make it (see [`crate::auth`]). Without
    /// it the node checks nothing, which is allowed on loopback only.
    pub auth: Option<Secret>,
    /// Serve a non-loopback address without checking tokens, asked for explicitly.
    pub insecure_no_auth: bool,
    /// Bounds on the connections the node accepts.
    pub connections: ConnectionLimits,
    /// Longest lifetime, in days, of a token the node accepts (expiry minus issue time).
    pub token_max_days: u32,
}

impl NodeConfig {
    /// A node of `unit` over `database_url` with default settings.
    pub fn new(unit: Unit, database_url: impl Into<String>) -> NodeConfig {
        NodeConfig {
            unit,
            database_url: database_url.into(),
            parent_url: None,
            deadlines: DeadlineTable::default(),
            uplink: UplinkConfig::default(),
            metrics_listen: None,
            http_listen: None,
            forms_dir: None,
            tls: None,
            auth: None,
            insecure_no_auth: false,
            connections: ConnectionLimits::default(),
            token_max_days: crate::auth::DEFAULT_TOKEN_MAX_DAYS,
        }
    }
}

/// Errors starting a node.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("database: {0}")]
    Database(#[from] crate::storage::StorageError),
    #[error("application: {0}")]
    App(#[from] crate::domain::DomainError),
    #[error("reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    #[error("listener: {0}")]
    Io(#[from] std::io::Error),
    #[error("transport: {0}")]
    Transport(#[from] tonic::transport::Error),
    #[error("{0}")]
    Insecure(String),
    #[error("report forms: {0}")]
    Forms(String),
}

/// The built-in forms with the definitions of `dir` (`*.toml`) replacing or adding to them.
fn read_forms(dir: &std::path::Path) -> Result<crate::domain::forms::FormSet, StartError> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "toml") {
            let text = std::fs::read_to_string(&path)?;
            files.push((path.display().to_string(), text));
        }
    }
    files.sort();
    let set = crate::domain::forms::FormSet::with(&files)
        .map_err(|e| StartError::Forms(e.to_string()))?;
    tracing::info!(dir = %dir.display(), files = files.len(), "report forms read");
    Ok(set)
}

fn is_loopback_url(url: &str) -> bool {
    let rest = url.strip_prefix("http://").unwrap_or("");
    let host = rest.split(['/', '?']).next().unwrap_or("");
    let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
    host == "localhost"
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A node serving on a bound address until its token is cancelled.
pub struct RunningNode {
    /// The address the server listens on.
    pub addr: SocketAddr,
    /// The node's application, for in-process callers.
    pub app: App,
    /// Link states.
    pub status: Arc<SyncStatus>,
    /// Where metrics are served, when they are.
    pub metrics_addr: Option<SocketAddr>,
    /// Where the dashboard is served, when it is.
    pub page_addr: Option<SocketAddr>,
    shutdown: CancellationToken,
    task: JoinHandle<Result<(), tonic::transport::Error>>,
    background: Vec<JoinHandle<()>>,
}

/// The health-check name of the node's write path: NOT_SERVING while writes cannot commit
/// (reads and the other services go on).
pub const WRITES_HEALTH: &str = "tiepdan.v1.Writes";

const SERVICES: &[&str] = &[
    "tiepdan.v1.UnitService",
    "tiepdan.v1.ReceptionService",
    "tiepdan.v1.PetitionService",
    "tiepdan.v1.CaseService",
    "tiepdan.v1.JournalService",
    "tiepdan.v1.SyncService",
    "tiepdan.v1.ReportService",
];

/// Opens the store, runs migrations and serves on `listener`.
pub async fn start(config: NodeConfig, listener: TcpListener) -> Result<RunningNode, StartError> {
    let addr = listener.local_addr()?;
    if config.tls.is_none() {
        if !addr.ip().is_loopback() {
            return Err(StartError::Insecure(format!(
                "plaintext is allowed on loopback only; {addr} needs TLS"
            )));
        }
        if let Some(parent) = &config.parent_url
            && !is_loopback_url(parent)
        {
            return Err(StartError::Insecure(format!(
                "a plaintext link to {parent} leaves loopback; configure TLS"
            )));
        }
    }
    if config.auth.is_none() && !addr.ip().is_loopback() {
        if !config.insecure_no_auth {
            return Err(StartError::Insecure(format!(
                "calls from other machines need operator tokens: give {addr} an auth secret \
                 (see `tiepdan-node token`), or --insecure-no-auth"
            )));
        }
        tracing::warn!(%addr, "serving off loopback without checking tokens (--insecure-no-auth)");
    }
    // Bound before anything starts, so that a taken port fails the start with nothing running.
    let page_listener = match config.http_listen {
        Some(listen) => {
            web::check_address(
                listen,
                config.tls.is_some(),
                config.auth.is_some(),
                config.insecure_no_auth,
            )
            .map_err(StartError::Insecure)?;
            Some(TcpListener::bind(listen).await?)
        }
        None => None,
    };
    let (health, health_service) = tonic_health::server::health_reporter();
    for service in SERVICES.iter().chain(std::iter::once(&"")) {
        health
            .set_service_status(*service, ServingStatus::NotServing)
            .await;
    }
    let store = Store::open(&config.database_url).await?;
    let app = App::open(store, config.unit.clone(), config.deadlines.clone()).await?;
    if let Some(dir) = &config.forms_dir {
        app.set_forms(read_forms(dir)?);
    }
    if app.is_recovering() && config.parent_url.is_none() {
        // A node without a parent has no one to take its lost events back from.
        tracing::warn!(
            unit = %config.unit.code,
            "the database was marked to recover from its parent, but this node has none; \
             it serves what its copy holds"
        );
        app.finish_recovery(0).await?;
    }

    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(tiepdan_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(tiepdan_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()?;

    macro_rules! limited {
        ($server:expr) => {
            $server
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES)
        };
    }
    let connections = Connections::default();
    let incoming = net::incoming(listener, config.connections.clone(), connections.clone());
    let shutdown = CancellationToken::new();
    let status = app.links().clone();
    let hub = SyncHub {
        app: app.clone(),
        shutdown: shutdown.clone(),
        require_certificate: config.tls.is_some(),
        directories: Arc::new(tokio::sync::Semaphore::new(crate::sync::DIRECTORY_BUILDERS)),
        appliers: Arc::new(tokio::sync::Semaphore::new(crate::sync::APPLIERS)),
    };
    let r = || app.clone();
    let node_metrics = Arc::new(NodeMetrics::new(
        app.clone(),
        &[
            tiepdan_proto::FILE_DESCRIPTOR_SET,
            tonic_health::pb::FILE_DESCRIPTOR_SET,
            tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
            tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
        ],
    ));
    let mut builder = Server::builder();
    if let Some(tls) = &config.tls {
        builder = builder.tls_config(tls.server.clone())?;
    }
    let authorizer = || {
        config.auth.clone().map(|secret| {
            Authorizer::new(secret, config.unit.code.clone())
                .with_token_max_days(config.token_max_days)
        })
    };
    let auth = authorizer();
    let router = builder
        .max_concurrent_streams(config.connections.max_streams_per_connection)
        .layer(CallsLayer::new(connections))
        .layer(RpcMetricsLayer::new(node_metrics.rpc()))
        .layer(AuthLayer::new(auth))
        .layer(UnreadableLayer)
        .http2_keepalive_interval(Some(Duration::from_secs(10)))
        .http2_keepalive_timeout(Some(Duration::from_secs(5)))
        .timeout(Duration::from_secs(60))
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(limited!(pb::unit_service_server::UnitServiceServer::new(
            UnitApi { app: r() }
        )))
        .add_service(limited!(
            pb::reception_service_server::ReceptionServiceServer::new(ReceptionApi { app: r() })
        ))
        .add_service(limited!(
            pb::petition_service_server::PetitionServiceServer::new(PetitionApi { app: r() })
        ))
        .add_service(limited!(pb::case_service_server::CaseServiceServer::new(
            CaseApi { app: r() }
        )))
        .add_service(limited!(
            pb::journal_service_server::JournalServiceServer::new(JournalApi { app: r() })
        ))
        .add_service(limited!(pb::sync_service_server::SyncServiceServer::new(
            SyncApi { hub: hub.clone() }
        )))
        .add_service(limited!(
            pb::report_service_server::ReportServiceServer::new(ReportApi {
                app: r(),
                shutdown: shutdown.clone(),
            })
        ));

    let stop = shutdown.clone();
    let stopping_health = health.clone();
    let task = tokio::spawn(async move {
        router
            .serve_with_incoming_shutdown(incoming, async move {
                stop.cancelled().await;
                for service in SERVICES.iter().chain(std::iter::once(&"")) {
                    stopping_health
                        .set_service_status(*service, ServingStatus::NotServing)
                        .await;
                }
            })
            .await
    });
    for service in SERVICES.iter().chain(std::iter::once(&"")) {
        health
            .set_service_status(*service, ServingStatus::Serving)
            .await;
    }
    let mut background = Vec::new();
    background.push(tokio::spawn(report_writes(
        health.clone(),
        app.store().writable(),
        shutdown.clone(),
    )));
    if let Some(parent) = config.parent_url.clone() {
        background.push(tokio::spawn(uplink::run(
            hub.clone(),
            parent,
            config.uplink.clone(),
            config.tls.as_ref().map(|t| t.client.clone()),
        )));
    }
    let mut metrics_addr = None;
    if let Some(listen) = config.metrics_listen {
        let listener = TcpListener::bind(listen).await?;
        metrics_addr = Some(listener.local_addr()?);
        background.push(tokio::spawn(metrics::serve(
            listener,
            node_metrics,
            shutdown.clone(),
        )));
    }
    let mut page_addr = None;
    if let Some(listener) = page_listener {
        let bound = listener.local_addr()?;
        page_addr = Some(bound);
        let services = web::PageServices {
            reports: ReportApi {
                app: r(),
                shutdown: shutdown.clone(),
            },
            petitions: PetitionApi { app: r() },
            sync: SyncApi { hub: hub.clone() },
        };
        let page = web::serve(
            listener,
            config.tls.as_ref().map(|t| t.server.clone()),
            authorizer(),
            config.connections.clone(),
            services,
            shutdown.clone(),
        );
        background.push(tokio::spawn(async move {
            if let Err(e) = page.await {
                tracing::error!(error = %e, "the page's server failed");
            }
        }));
        let scheme = if config.tls.is_some() {
            "https"
        } else {
            "http"
        };
        tracing::info!(url = %format!("{scheme}://{bound}/"), "dashboard serving");
    }
    tracing::info!(
        unit = %config.unit.code,
        name = %config.unit.name,
        %addr,
        tokens = config.auth.is_some(),
        "node serving"
    );
    Ok(RunningNode {
        addr,
        app,
        status,
        metrics_addr,
        page_addr,
        shutdown,
        task,
        background,
    })
}

/// Keeps the write path's health status in step with whether writes commit.
async fn report_writes(
    health: tonic_health::server::HealthReporter,
    mut writable: tokio::sync::watch::Receiver<bool>,
    shutdown: CancellationToken,
) {
    loop {
        let status = if *writable.borrow_and_update() {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        health.set_service_status(WRITES_HEALTH, status).await;
        tokio::select! {
            _ = shutdown.cancelled() => {
                health.set_service_status(WRITES_HEALTH, ServingStatus::NotServing).await;
                return;
            }
            changed = writable.changed() => if changed.is_err() { return },
        }
    }
}

impl RunningNode {
    /// The URL clients connect to.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A token that stops the node when cancelled.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Stops serving (letting calls in flight finish) and closes the store.
    pub async fn stop(self) -> Result<(), tonic::transport::Error> {
        self.shutdown.cancel();
        for task in self.background {
            let _ = task.await;
        }
        // Calls in flight get a grace period; a client holding a stream open past it (a
        // health watch, say) does not keep the node from stopping.
        let mut task = self.task;
        let result = match tokio::time::timeout(Duration::from_secs(10), &mut task).await {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => {
                tracing::error!(error = %e, "server task failed");
                Ok(())
            }
            Err(_) => {
                tracing::warn!("streams still open after 10 s; closing them");
                task.abort();
                Ok(())
            }
        };
        if let Err(e) = self.app.store().clone().close().await {
            tracing::warn!(error = %e, "closing the store");
        }
        result
    }

    /// Stops the node abruptly, as a crash would: tasks are aborted mid-flight, streams are
    /// cut without a goodbye, open transactions are rolled back by the database. For tests.
    pub fn kill(self) {
        self.shutdown.cancel();
        self.task.abort();
        for task in self.background {
            task.abort();
        }
        // A process that dies loses its database handles; an in-process node must drop them
        // too, or a write transaction cut off mid-flight keeps SQLite's write lock in an idle
        // pooled connection and the restarted node waits on it.
        let app = self.app;
        tokio::spawn(async move { app.store().release().await });
    }

    /// Waits until the node stops (its token was cancelled elsewhere).
    pub async fn wait(self) -> Result<(), tonic::transport::Error> {
        self.shutdown.cancelled().await;
        self.stop().await
    }
}
