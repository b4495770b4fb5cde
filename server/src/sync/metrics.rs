//! The node's Prometheus metrics (`--metrics-listen`), in the OpenMetrics text format: a
//! registry the node owns, holding the gRPC call series, the store's commit latency, the
//! links, the write path, overdue items by type and the build. Served over HTTP/1.1 by hyper:
//! `GET /metrics` answers, any other path is 404.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::{Registry, Unit};
use tokio::net::TcpListener;
use tokio::sync::{Mutex, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::api::rpc_metrics::RpcMetrics;
use crate::app::App;
use crate::app::links::SyncStatus;
use crate::domain::model::PetitionType;
use crate::storage::Store;

/// The content type of the answer: OpenMetrics 1.0 text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Scrapes answered at once; a connection over this is closed unanswered.
const MAX_CONNECTIONS: usize = 16;
/// A request head larger than this is refused (hyper's smallest buffer).
const MAX_HEAD_BYTES: usize = 8 * 1024;
/// How long a client may take to send its request head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the overdue counts may take before a scrape answers without refreshing them.
const OVERDUE_TIMEOUT: Duration = Duration::from_secs(5);

type OverdueLabels = [(&'static str, &'static str); 2];

/// The node's metrics: its registry and what a scrape refreshes first.
pub struct NodeMetrics {
    registry: Registry,
    rpc: RpcMetrics,
    overdue: Family<OverdueLabels, Gauge>,
    app: App,
    /// One scrape at a time: each runs the overdue counts against the database.
    scraping: Mutex<()>,
}

impl NodeMetrics {
    /// The metrics of the node running `app`, serving the methods in `descriptor_sets`.
    pub fn new(app: App, descriptor_sets: &[&[u8]]) -> NodeMetrics {
        let mut registry = Registry::default();
        let rpc = RpcMetrics::new(&mut registry, descriptor_sets);
        registry.register_with_unit(
            "tiepdan_store_commit",
            "Time each write transaction's COMMIT took, failed ones included",
            Unit::Seconds,
            app.store().commit_seconds(),
        );
        let overdue = Family::<OverdueLabels, Gauge>::default();
        registry.register(
            "tiepdan_overdue_items",
            "Pending petitions and open cases past their due date, by kind and type",
            overdue.clone(),
        );
        registry.register(
            "tiepdan_build",
            "The build of this node",
            Info::new([("version", env!("CARGO_PKG_VERSION"))]),
        );
        registry.register_collector(Box::new(LinkCollector {
            status: app.links().clone(),
            store: app.store().clone(),
        }));
        NodeMetrics {
            registry,
            rpc,
            overdue,
            app,
            scraping: Mutex::new(()),
        }
    }

    /// The call series, for the layer in front of the routes.
    pub fn rpc(&self) -> RpcMetrics {
        self.rpc.clone()
    }

    /// The metrics text, the overdue counts refreshed first.
    pub async fn render(&self) -> String {
        let _one = self.scraping.lock().await;
        self.refresh_overdue().await;
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::warn!(error = %e, "encoding the metrics");
        }
        out
    }

    /// Sets the overdue gauges, every type present (0 when none is overdue); on a failure
    /// or a timeout they keep the last values.
    async fn refresh_overdue(&self) {
        let counts =
            tokio::time::timeout(OVERDUE_TIMEOUT, self.app.overdue_counts(chrono::Utc::now()))
                .await;
        let counts = match counts {
            Ok(Ok(counts)) => counts,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "counting overdue items for the metrics");
                return;
            }
            Err(_) => {
                tracing::warn!("counting overdue items for the metrics timed out");
                return;
            }
        };
        self.overdue.clear();
        let petition_types = PetitionType::ALL.iter().map(|t| t.as_str());
        for (kind, t) in petition_types
            .clone()
            .chain(std::iter::once("unclassified"))
            .map(|t| ("petition", t))
            .chain(petition_types.map(|t| ("case", t)))
        {
            self.overdue
                .get_or_create(&[("kind", kind), ("type", t)])
                .set(0);
        }
        for c in counts {
            self.overdue
                .get_or_create(&[("kind", c.kind), ("type", c.petition_type)])
                .set(i64::try_from(c.count).unwrap_or(i64::MAX));
        }
    }

    async fn answer(&self, request: Request<Incoming>) -> Response<String> {
        let reply = |status: StatusCode, body: &str| {
            let mut response = Response::new(body.to_string());
            *response.status_mut() = status;
            response
        };
        if request.uri().path() != "/metrics" {
            return reply(
                StatusCode::NOT_FOUND,
                "not found; metrics are at /metrics\n",
            );
        }
        if request.method() != Method::GET {
            let mut response = reply(StatusCode::METHOD_NOT_ALLOWED, "GET only\n");
            response.headers_mut().insert(
                hyper::header::ALLOW,
                hyper::header::HeaderValue::from_static("GET"),
            );
            return response;
        }
        let mut response = Response::new(self.render().await);
        response.headers_mut().insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static(CONTENT_TYPE),
        );
        response
    }
}

/// What a scrape reads from the links and the write path as they are now.
#[derive(Debug)]
struct LinkCollector {
    status: Arc<SyncStatus>,
    store: Store,
}

fn gauge(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: i64,
) -> Result<(), std::fmt::Error> {
    let g = ConstGauge::new(value);
    g.encode(encoder.encode_descriptor(name, help, None, g.metric_type())?)
}

fn counter(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: u64,
) -> Result<(), std::fmt::Error> {
    let c = ConstCounter::new(value);
    c.encode(encoder.encode_descriptor(name, help, None, c.metric_type())?)
}

fn as_gauge(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Collector for LinkCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let children = self.status.child_states();
        let per_child = [
            (
                "tiepdan_child_connected",
                "Whether a child's link is open now.",
            ),
            (
                "tiepdan_child_lag_events",
                "Events a child still holds that this node lacks.",
            ),
        ];
        for (i, (name, help)) in per_child.into_iter().enumerate() {
            let mut family =
                encoder.encode_descriptor(name, help, None, ConstGauge::new(0i64).metric_type())?;
            for c in &children {
                let value = if i == 0 {
                    i64::from(c.connected)
                } else {
                    as_gauge(c.events_behind)
                };
                let labels = [("child", c.unit_code.as_str())];
                ConstGauge::new(value).encode(family.encode_family(&labels)?)?;
            }
        }
        let mut applied = encoder.encode_descriptor(
            "tiepdan_events_applied",
            "Journal events applied from a child's link.",
            None,
            ConstCounter::new(0u64).metric_type(),
        )?;
        for c in &children {
            let labels = [("child", c.unit_code.as_str())];
            ConstCounter::new(c.events_applied).encode(applied.encode_family(&labels)?)?;
        }
        gauge(
            &mut encoder,
            "tiepdan_open_streams",
            "Child streams open now.",
            as_gauge(self.status.open_streams() as u64),
        )?;
        if let Some(p) = self.status.parent_state() {
            gauge(
                &mut encoder,
                "tiepdan_parent_connected",
                "Whether the link to the parent is open.",
                i64::from(p.connected),
            )?;
            gauge(
                &mut encoder,
                "tiepdan_parent_lag_events",
                "Events not yet sent to the parent.",
                as_gauge(p.events_behind),
            )?;
        }
        gauge(
            &mut encoder,
            "tiepdan_store_writable",
            "Whether the node's writes commit (0 from a failed write until one commits).",
            i64::from(*self.store.writable().borrow()),
        )?;
        counter(
            &mut encoder,
            "tiepdan_store_failed_commits",
            "Write transactions whose commit failed.",
            self.store.failed_commits(),
        )?;
        gauge(
            &mut encoder,
            "tiepdan_store_writers_waiting",
            "Writers waiting now for the node's one write transaction.",
            as_gauge(self.store.writers_waiting()),
        )
    }
}

/// Serves `metrics` on `listener` until `shutdown`.
pub async fn serve(listener: TcpListener, metrics: Arc<NodeMetrics>, shutdown: CancellationToken) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let socket = match accepted {
            Ok((socket, _)) => socket,
            Err(e) => {
                // Out of descriptors, say: retrying at once would spin.
                tracing::warn!(error = %e, "accepting a metrics connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            continue;
        };
        let metrics = metrics.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let service = service_fn(move |request| {
                let metrics = metrics.clone();
                async move { Ok::<_, Infallible>(metrics.answer(request).await) }
            });
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEAD_TIMEOUT)
                .max_buf_size(MAX_HEAD_BYTES)
                .serve_connection(TokioIo::new(socket), service);
            tokio::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                _ = shutdown.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(HEAD_TIMEOUT, connection).await;
                }
            }
        });
    }
}
