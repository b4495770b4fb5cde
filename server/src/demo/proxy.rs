//! A small TCP proxy whose link can be cut on command: pass, drop (refuse and close), stall
//! (hold connections open and move no bytes), reset (close every connection at once). The
//! demo and the fault tests put one between a child and its parent.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// What the proxy does with traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Forward both ways.
    Pass,
    /// Refuse new connections and close open ones.
    Drop,
    /// Keep connections open but forward nothing.
    Stall,
}

/// A running proxy.
pub struct Proxy {
    /// Where children connect.
    pub addr: SocketAddr,
    mode: watch::Sender<Mode>,
    generation: Arc<watch::Sender<u64>>,
    stop: CancellationToken,
}

impl Proxy {
    /// Starts a proxy to `target` on `127.0.0.1:0`.
    pub async fn start(target: SocketAddr) -> std::io::Result<Proxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (mode, mode_rx) = watch::channel(Mode::Pass);
        let generation = Arc::new(watch::channel(0u64).0);
        let stop = CancellationToken::new();
        let gen_rx = generation.subscribe();
        let token = stop.clone();
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    _ = token.cancelled() => return,
                    a = listener.accept() => a,
                };
                let Ok((client, _)) = accepted else { continue };
                if *mode_rx.borrow() == Mode::Drop {
                    drop(client);
                    continue;
                }
                let mode_rx = mode_rx.clone();
                let gen_rx = gen_rx.clone();
                let token = token.clone();
                tokio::spawn(async move {
                    let Ok(upstream) = TcpStream::connect(target).await else {
                        return;
                    };
                    let _ = client.set_nodelay(true);
                    let _ = upstream.set_nodelay(true);
                    relay(client, upstream, mode_rx, gen_rx, token).await;
                });
            }
        });
        Ok(Proxy {
            addr,
            mode,
            generation,
            stop,
        })
    }

    /// The URL to give a child as its parent.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Switches the mode; `Drop` also closes every open connection.
    pub fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
        if mode == Mode::Drop {
            self.reset();
        }
    }

    /// Closes every open connection now (the peers see a reset or an end of stream).
    pub fn reset(&self) {
        self.generation.send_modify(|g| *g += 1);
    }

    /// Stops the proxy and its connections.
    pub fn stop(&self) {
        self.stop.cancel();
        self.reset();
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn relay(
    client: TcpStream,
    upstream: TcpStream,
    mode: watch::Receiver<Mode>,
    mut generation: watch::Receiver<u64>,
    stop: CancellationToken,
) {
    let (cr, cw) = client.into_split();
    let (ur, uw) = upstream.into_split();
    let up = pump(cr, uw, mode.clone());
    let down = pump(ur, cw, mode);
    let start = *generation.borrow_and_update();
    tokio::select! {
        _ = stop.cancelled() => {}
        _ = async { while generation.changed().await.is_ok() { if *generation.borrow() != start { break; } } } => {}
        _ = up => {}
        _ = down => {}
    }
    // Dropping both halves closes the connections.
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut mode: watch::Receiver<Mode>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        while *mode.borrow() == Mode::Stall {
            if mode.changed().await.is_err() {
                return;
            }
        }
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        // A stall that begins while bytes are in hand holds them until it ends.
        while *mode.borrow() == Mode::Stall {
            if mode.changed().await.is_err() {
                return;
            }
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
