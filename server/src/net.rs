//! The node's accepted connections, bounded: at most `max_connections` at once (one more is
//! closed at once, not left waiting), each must send its first bytes (a TLS ClientHello or the
//! HTTP/2 preface) within `handshake_timeout`, and one with no call in progress for
//! `idle_timeout` is closed. Thousands of sockets that connect and say nothing cannot hold
//! the node's memory or file descriptors.
//!
//! A connection counts its calls through [`CallsLayer`], which finds the connection by the
//! peer address tonic puts in each request (the connect info must stay tonic's own
//! `TcpConnectInfo`: the tier link reads the client certificate through it).

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::Stream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Sleep;
use tonic::body::Body;
use tonic::codegen::Service;
use tonic::codegen::http::{Request, Response};
use tonic::transport::server::{Connected, TcpConnectInfo};

/// Bounds on the connections a node accepts.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    /// Connections open at once; one more is closed as soon as it is accepted.
    pub max_connections: usize,
    /// Concurrent calls (HTTP/2 streams) on one connection.
    pub max_streams_per_connection: u32,
    /// Time for a new connection to send its first bytes.
    pub handshake_timeout: Duration,
    /// A connection with no call in progress this long is closed.
    pub idle_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            // A province takes 100–170 communes' links plus its operators and reporters.
            max_connections: 4096,
            max_streams_per_connection: 256,
            handshake_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(300),
        }
    }
}

/// Bytes that mark a connection as more than a silent socket: the HTTP/2 preface's length,
/// less than any TLS ClientHello.
const FIRST_BYTES: u64 = 24;

/// How often a refused connection is logged at most.
const REFUSAL_LOG_EVERY: Duration = Duration::from_secs(60);

#[derive(Debug, Default)]
struct ConnState {
    calls: AtomicUsize,
    /// When the last call ended (or the connection opened).
    quiet_since: Mutex<Option<Instant>>,
}

impl ConnState {
    fn begin(&self) {
        self.calls.fetch_add(1, Ordering::AcqRel);
    }

    fn end(&self) {
        if self.calls.fetch_sub(1, Ordering::AcqRel) == 1 {
            *lock(&self.quiet_since) = Some(Instant::now());
        }
    }

    /// How long the connection has had no call, if it has none now.
    fn idle_for(&self) -> Option<Duration> {
        if self.calls.load(Ordering::Acquire) > 0 {
            return None;
        }
        lock(&self.quiet_since).map(|t| t.elapsed())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The open connections by peer address, shared by the accept loop and the calls layer.
#[derive(Debug, Clone, Default)]
pub struct Connections {
    open: Arc<Mutex<HashMap<SocketAddr, Arc<ConnState>>>>,
}

impl Connections {
    /// Connections open now.
    pub fn len(&self) -> usize {
        lock(&self.open).len()
    }

    /// Whether no connection is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn of(&self, peer: SocketAddr) -> Option<Arc<ConnState>> {
        lock(&self.open).get(&peer).cloned()
    }
}

/// Accepts connections on `listener` within `limits`, as a stream for tonic's
/// `serve_with_incoming_shutdown`.
pub fn incoming(
    listener: TcpListener,
    limits: ConnectionLimits,
    connections: Connections,
) -> impl Stream<Item = io::Result<Guarded>> {
    let acceptor = Acceptor {
        permits: Arc::new(Semaphore::new(limits.max_connections)),
        listener,
        limits,
        connections,
        last_refusal: None,
        refused: 0,
    };
    futures::stream::unfold(acceptor, |mut acceptor| async move {
        let next = acceptor.next().await;
        Some((next, acceptor))
    })
}

struct Acceptor {
    listener: TcpListener,
    permits: Arc<Semaphore>,
    limits: ConnectionLimits,
    connections: Connections,
    last_refusal: Option<Instant>,
    refused: u64,
}

impl Acceptor {
    async fn next(&mut self) -> io::Result<Guarded> {
        loop {
            let (stream, peer) = match self.listener.accept().await {
                Ok(accepted) => accepted,
                // A connection reset before it was accepted, or descriptors exhausted for a
                // moment: the listener itself is fine.
                Err(e) => {
                    tracing::debug!(error = %e, "accept");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            };
            let Ok(permit) = self.permits.clone().try_acquire_owned() else {
                self.refused += 1;
                if self
                    .last_refusal
                    .is_none_or(|t| t.elapsed() >= REFUSAL_LOG_EVERY)
                {
                    tracing::warn!(
                        limit = self.limits.max_connections,
                        refused = self.refused,
                        "connection limit reached; closing new connections"
                    );
                    self.last_refusal = Some(Instant::now());
                }
                drop(stream);
                continue;
            };
            // Small request/response exchanges must not wait for Nagle's algorithm.
            let _ = stream.set_nodelay(true);
            let state = Arc::new(ConnState::default());
            *lock(&state.quiet_since) = Some(Instant::now());
            lock(&self.connections.open).insert(peer, state.clone());
            return Ok(Guarded {
                deadline: Box::pin(tokio::time::sleep(self.limits.handshake_timeout)),
                stream,
                peer,
                state,
                connections: self.connections.clone(),
                read: 0,
                limits: self.limits.clone(),
                _permit: permit,
            });
        }
    }
}

/// An accepted connection within the node's limits.
pub struct Guarded {
    stream: TcpStream,
    peer: SocketAddr,
    state: Arc<ConnState>,
    connections: Connections,
    /// Until the first bytes: the handshake's end; then the next idle check.
    deadline: Pin<Box<Sleep>>,
    read: u64,
    limits: ConnectionLimits,
    _permit: OwnedSemaphorePermit,
}

impl Drop for Guarded {
    fn drop(&mut self) {
        let mut open = lock(&self.connections.open);
        // The peer's address may already belong to a newer connection.
        if open
            .get(&self.peer)
            .is_some_and(|s| Arc::ptr_eq(s, &self.state))
        {
            open.remove(&self.peer);
        }
    }
}

impl Guarded {
    /// Whether the connection must be closed now; re-arms the deadline otherwise.
    fn expired(&mut self, cx: &mut Context<'_>) -> Option<io::Error> {
        while self.deadline.as_mut().poll(cx).is_ready() {
            if self.read < FIRST_BYTES {
                return Some(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "no handshake within the handshake timeout",
                ));
            }
            let next = match self.state.idle_for() {
                Some(idle) if idle >= self.limits.idle_timeout => {
                    return Some(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "connection idle past the idle timeout",
                    ));
                }
                Some(idle) => self.limits.idle_timeout - idle,
                None => self.limits.idle_timeout,
            };
            let at = tokio::time::Instant::now() + next;
            self.deadline.as_mut().reset(at);
        }
        None
    }
}

impl AsyncRead for Guarded {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.stream).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let got = (buf.filled().len() - before) as u64;
                let was = self.read;
                self.read = self.read.saturating_add(got);
                if was < FIRST_BYTES && self.read >= FIRST_BYTES {
                    let at = tokio::time::Instant::now() + self.limits.idle_timeout;
                    self.deadline.as_mut().reset(at);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => match self.expired(cx) {
                Some(e) => Poll::Ready(Err(e)),
                None => Poll::Pending,
            },
        }
    }
}

impl AsyncWrite for Guarded {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

impl Connected for Guarded {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> TcpConnectInfo {
        self.stream.connect_info()
    }
}

/// Counts each connection's calls in progress, from a call's start to the end of its
/// response body, for the idle check.
#[derive(Debug, Clone)]
pub struct CallsLayer {
    connections: Connections,
}

impl CallsLayer {
    pub fn new(connections: Connections) -> CallsLayer {
        CallsLayer { connections }
    }
}

impl<S> tower_layer::Layer<S> for CallsLayer {
    type Service = CallsService<S>;

    fn layer(&self, inner: S) -> CallsService<S> {
        CallsService {
            inner,
            connections: self.connections.clone(),
        }
    }
}

/// The routes behind the count.
#[derive(Debug, Clone)]
pub struct CallsService<S> {
    inner: S,
    connections: Connections,
}

/// Ends a call when dropped: the response body is dropped when the stream ends or is reset.
struct CallGuard(Arc<ConnState>);

impl Drop for CallGuard {
    fn drop(&mut self) {
        self.0.end();
    }
}

fn peer_of<B>(request: &Request<B>) -> Option<SocketAddr> {
    let ext = request.extensions();
    ext.get::<TcpConnectInfo>()
        .and_then(TcpConnectInfo::remote_addr)
        .or_else(|| {
            ext.get::<tonic::transport::server::TlsConnectInfo<TcpConnectInfo>>()
                .and_then(|i| i.get_ref().remote_addr())
        })
}

impl<S, B> Service<Request<B>> for CallsService<S>
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
        let state = peer_of(&request).and_then(|peer| self.connections.of(peer));
        let guard = state.map(|s| {
            s.begin();
            CallGuard(s)
        });
        let future = self.inner.call(request);
        Box::pin(async move {
            let response = future.await?;
            Ok(match guard {
                Some(guard) => response.map(|body| {
                    Body::new(Counted {
                        body,
                        _guard: guard,
                    })
                }),
                None => response,
            })
        })
    }
}

/// A response body that holds its call's guard.
struct Counted {
    body: Body,
    _guard: CallGuard,
}

impl http_body::Body for Counted {
    type Data = <Body as http_body::Body>::Data;
    type Error = <Body as http_body::Body>::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}
