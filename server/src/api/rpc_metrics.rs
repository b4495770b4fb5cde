//! Counts and times every gRPC call, around every route: `tiepdan_rpc_requests_total{method,
//! code}` and `tiepdan_rpc_duration_seconds{method}`. A call is recorded once, when its status
//! is known: at the answer's headers when the answer is only a status, else at its trailers,
//! so a stream is counted and timed at its end; an answer dropped before its trailers (the
//! caller went away, or the node stopped) counts as CANCELLED.

use std::collections::HashSet;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use http_body::Frame;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};
use prost::Message as _;
use tonic::body::Body;
use tonic::codegen::http::{HeaderMap, Request, Response};
use tonic::codegen::{Bytes, Service};
use tonic::{Code, Status};

use crate::sync::uplink::code_name;

/// The `method` of a path that names no method of the node's services: callers choose paths,
/// and each distinct one must not become a series.
const OTHER_METHOD: &str = "other";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    method: String,
    code: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodLabels {
    method: String,
}

type DurationFamily = Family<MethodLabels, Histogram, fn() -> Histogram>;

fn duration_histogram() -> Histogram {
    // 1 ms to about 33 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

/// The call series, shared by every connection's stack.
#[derive(Clone, Debug)]
pub struct RpcMetrics {
    requests: Family<CallLabels, Counter>,
    duration: DurationFamily,
    /// `package.Service/Method` of every method the node serves.
    methods: Arc<HashSet<String>>,
}

impl RpcMetrics {
    /// The call series of a node serving the services in `descriptor_sets` (encoded
    /// `FileDescriptorSet`s), registered in `registry`.
    pub fn new(registry: &mut Registry, descriptor_sets: &[&[u8]]) -> RpcMetrics {
        let mut methods = HashSet::new();
        for set in descriptor_sets {
            let Ok(set) = prost_types::FileDescriptorSet::decode(*set) else {
                continue;
            };
            for file in set.file {
                let package = file.package();
                for service in &file.service {
                    for method in &service.method {
                        methods.insert(format!("{package}.{}/{}", service.name(), method.name()));
                    }
                }
            }
        }
        let metrics = RpcMetrics {
            requests: Family::default(),
            duration: Family::new_with_constructor(duration_histogram as fn() -> Histogram),
            methods: Arc::new(methods),
        };
        registry.register(
            "tiepdan_rpc_requests",
            "gRPC calls answered, by method and status code",
            metrics.requests.clone(),
        );
        registry.register_with_unit(
            "tiepdan_rpc_duration",
            "Time from a gRPC call's arrival to its status (a stream's end)",
            Unit::Seconds,
            metrics.duration.clone(),
        );
        metrics
    }

    fn method_of(&self, path: &str) -> String {
        let path = path.strip_prefix('/').unwrap_or(path);
        if self.methods.contains(path) {
            path.to_string()
        } else {
            OTHER_METHOD.to_string()
        }
    }
}

/// Installs the count in front of every route.
#[derive(Debug, Clone)]
pub struct RpcMetricsLayer {
    metrics: RpcMetrics,
}

impl RpcMetricsLayer {
    pub fn new(metrics: RpcMetrics) -> RpcMetricsLayer {
        RpcMetricsLayer { metrics }
    }
}

impl<S> tower_layer::Layer<S> for RpcMetricsLayer {
    type Service = RpcMetricsService<S>;

    fn layer(&self, inner: S) -> RpcMetricsService<S> {
        RpcMetricsService {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

/// The routes behind the count.
#[derive(Debug, Clone)]
pub struct RpcMetricsService<S> {
    inner: S,
    metrics: RpcMetrics,
}

/// One call, recorded once: by its status, or as CANCELLED when dropped unrecorded.
struct Call {
    metrics: RpcMetrics,
    method: String,
    start: Instant,
    done: bool,
}

impl Call {
    fn record(&mut self, code: Code) {
        if std::mem::replace(&mut self.done, true) {
            return;
        }
        self.metrics
            .requests
            .get_or_create(&CallLabels {
                method: self.method.clone(),
                code: code_name(code),
            })
            .inc();
        self.metrics
            .duration
            .get_or_create(&MethodLabels {
                method: self.method.clone(),
            })
            .observe(self.start.elapsed().as_secs_f64());
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        self.record(Code::Cancelled);
    }
}

fn status_in(headers: &HeaderMap) -> Option<Code> {
    headers
        .get(Status::GRPC_STATUS)
        .map(|v| Code::from_bytes(v.as_bytes()))
}

impl<S, B> Service<Request<B>> for RpcMetricsService<S>
where
    S: Service<Request<B>, Response = Response<Body>>,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let mut call = Call {
            method: self.metrics.method_of(request.uri().path()),
            metrics: self.metrics.clone(),
            start: Instant::now(),
            done: false,
        };
        let future = self.inner.call(request);
        Box::pin(async move {
            let response = match future.await {
                Ok(response) => response,
                Err(e) => {
                    call.record(Code::Unknown);
                    return Err(e);
                }
            };
            if let Some(code) = status_in(response.headers()) {
                call.record(code);
                return Ok(response);
            }
            Ok(response.map(|body| Body::new(Timed { body, call })))
        })
    }
}

/// A streamed answer, recorded at its trailers.
struct Timed {
    body: Body,
    call: Call,
}

impl http_body::Body for Timed {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let frame = std::task::ready!(Pin::new(&mut self.body).poll_frame(cx));
        match &frame {
            Some(Ok(frame)) => {
                if let Some(code) = frame.trailers_ref().and_then(status_in) {
                    self.call.record(code);
                }
            }
            Some(Err(status)) => self.call.record(status.code()),
            // An answer that ends without trailers carries no status: the caller sees an error.
            None => self.call.record(Code::Unknown),
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}
