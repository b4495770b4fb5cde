//! A running node: the store, the registry and the gRPC server with health and reflection,
//! started on a listener and stopped by a cancellation token.

use std::net::SocketAddr;
use std::time::Duration;

use tiepdan_proto::v1 as pb;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::TcpListenerStream;
use tokio_util::sync::CancellationToken;
use tonic::transport::Server;
use tonic_health::ServingStatus;

use crate::api::{CaseApi, JournalApi, PetitionApi, ReceptionApi, UnitApi};
use crate::domain::deadlines::DeadlineTable;
use crate::domain::model::Unit;
use crate::registry::Registry;
use crate::storage::Store;

/// Largest message a node accepts or sends.
pub const MAX_MESSAGE_BYTES: usize = 4 * 1024 * 1024;

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
}

/// Errors starting a node.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("database: {0}")]
    Database(#[from] sea_orm::DbErr),
    #[error("registry: {0}")]
    Registry(#[from] crate::domain::DomainError),
    #[error("reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    #[error("listener: {0}")]
    Io(#[from] std::io::Error),
}

/// A node serving on a bound address until its token is cancelled.
pub struct RunningNode {
    /// The address the server listens on.
    pub addr: SocketAddr,
    /// The node's registry, for in-process callers.
    pub registry: Registry,
    shutdown: CancellationToken,
    task: JoinHandle<Result<(), tonic::transport::Error>>,
}

const SERVICES: &[&str] = &[
    "tiepdan.v1.UnitService",
    "tiepdan.v1.ReceptionService",
    "tiepdan.v1.PetitionService",
    "tiepdan.v1.CaseService",
    "tiepdan.v1.JournalService",
];

/// Opens the store, runs migrations and serves on `listener`.
pub async fn start(config: NodeConfig, listener: TcpListener) -> Result<RunningNode, StartError> {
    let addr = listener.local_addr()?;
    let (health, health_service) = tonic_health::server::health_reporter();
    for service in SERVICES.iter().chain(std::iter::once(&"")) {
        health
            .set_service_status(*service, ServingStatus::NotServing)
            .await;
    }
    let store = Store::open(&config.database_url).await?;
    let registry = Registry::open(store, config.unit.clone(), config.deadlines.clone()).await?;

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
    let r = || registry.clone();
    let router = Server::builder()
        .http2_keepalive_interval(Some(Duration::from_secs(10)))
        .http2_keepalive_timeout(Some(Duration::from_secs(5)))
        .timeout(Duration::from_secs(60))
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(limited!(pb::unit_service_server::UnitServiceServer::new(
            UnitApi { registry: r() }
        )))
        .add_service(limited!(
            pb::reception_service_server::ReceptionServiceServer::new(ReceptionApi {
                registry: r()
            })
        ))
        .add_service(limited!(
            pb::petition_service_server::PetitionServiceServer::new(PetitionApi { registry: r() })
        ))
        .add_service(limited!(pb::case_service_server::CaseServiceServer::new(
            CaseApi { registry: r() }
        )))
        .add_service(limited!(
            pb::journal_service_server::JournalServiceServer::new(JournalApi { registry: r() })
        ));

    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    let stopping_health = health.clone();
    let task = tokio::spawn(async move {
        router
            .serve_with_incoming_shutdown(TcpListenerStream::new(listener), async move {
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
    tracing::info!(unit = %config.unit.code, name = %config.unit.name, %addr, "node serving");
    Ok(RunningNode {
        addr,
        registry,
        shutdown,
        task,
    })
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
        let result = match self.task.await {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "server task failed");
                Ok(())
            }
        };
        if let Err(e) = self.registry.store().clone().close().await {
            tracing::warn!(error = %e, "closing the store");
        }
        result
    }

    /// Waits until the node stops (its token was cancelled elsewhere).
    pub async fn wait(self) -> Result<(), tonic::transport::Error> {
        self.shutdown.cancelled().await;
        self.stop().await
    }
}
