//! Fan-in: many commune streams connected to one town at once. The town runs in a process of
//! its own (this binary's `serve-town`), so its peak resident memory is its own; the
//! communes are lightweight link clients here, each on its own HTTP/2 connection, each
//! speaking the link protocol (Hello, chained batches, waiting for acknowledgements) and
//! holding its stream open until every stream has finished.

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use futures::StreamExt;
use tiepdan_proto::v1::{self as pb, sync_service_client::SyncServiceClient};
use tiepdan_server::domain::model::UnitLevel;
use tiepdan_server::node::MAX_MESSAGE_BYTES;
use tiepdan_server::wire;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::{Barrier, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Endpoint;

use crate::fixtures::{self, Backend, Db, commune_code, unit};

/// The outcome of a fan-in run.
pub struct FanIn {
    pub streams: usize,
    pub progressed: usize,
    pub events: u64,
    pub idle_rss_kb: u64,
    pub peak_rss_kb: u64,
    pub elapsed: Duration,
}

fn status_kb(pid: u32, field: &str) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .with_context(|| format!("{field} of process {pid}"))
}

/// `streams` communes each send `batches` batches of `per_batch` events, `pace` apart.
pub async fn fan_in(
    backend: Backend,
    dir: &Path,
    pg_admin: &str,
    streams: usize,
    batches: usize,
    per_batch: usize,
    pace: Duration,
) -> Result<FanIn> {
    let db = Db::create(backend, dir, "fanin-town", pg_admin).await?;
    fixtures::migrate(&db).await?;
    let exe = std::env::current_exe()?;
    // TIEPDAN_BENCH_TOWN_WRAPPER runs the town under a profiler, e.g. "heaptrack -o /tmp/town".
    let wrapper = std::env::var("TIEPDAN_BENCH_TOWN_WRAPPER").unwrap_or_default();
    let mut words = wrapper.split_whitespace();
    let mut command = match words.next() {
        Some(program) => {
            let mut c = tokio::process::Command::new(program);
            c.args(words).arg(exe);
            c
        }
        None => tokio::process::Command::new(exe),
    };
    let mut child = command
        .arg("serve-town")
        .arg("--database")
        .arg(&db.url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let pid = child.id().context("town process id")?;
    let stdout = child.stdout.take().context("town stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    // (A profiler wrapping the town may print lines of its own first.)
    let mut addr = None;
    while let Some(line) = lines.next_line().await? {
        if let Some(a) = line.strip_prefix("listening ") {
            addr = Some(a.to_string());
            break;
        }
    }
    let addr = addr.context("the town process did not say where it listens")?;
    let url = format!("http://{addr}");
    let idle_rss_kb = status_kb(pid, "VmRSS:")?;

    let acked = Arc::new(AtomicU64::new(0));
    let all_done = Arc::new(Barrier::new(streams + 1));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(streams);
    for i in 0..streams {
        let url = url.clone();
        let acked = acked.clone();
        let all_done = all_done.clone();
        tasks.push(tokio::spawn(async move {
            let result = commune_stream(&url, i, batches, per_batch, pace, &acked).await;
            // Every stream stays open until all have finished.
            all_done.wait().await;
            result.map(|(done, _open)| done)
        }));
    }
    all_done.wait().await;
    let elapsed = started.elapsed();
    let peak_rss_kb = status_kb(pid, "VmHWM:")?;
    let mut progressed = 0;
    let mut failures = Vec::new();
    for t in futures::stream::iter(tasks)
        .buffered(64)
        .collect::<Vec<_>>()
        .await
    {
        match t? {
            Ok(n) if n == (batches * per_batch) as u64 => progressed += 1,
            Ok(_) => {}
            Err(e) => failures.push(e.to_string()),
        }
    }
    drop(child.stdin.take());
    let _ = tokio::time::timeout(Duration::from_secs(10), child.wait()).await;
    let _ = child.kill().await;
    db.remove().await;
    if let Some(first) = failures.first() {
        eprintln!("  {} streams failed; first: {first}", failures.len());
    }
    Ok(FanIn {
        streams,
        progressed,
        events: acked.load(Ordering::Acquire),
        idle_rss_kb,
        peak_rss_kb,
        elapsed,
    })
}

async fn commune_stream(
    url: &str,
    i: usize,
    batches: usize,
    per_batch: usize,
    pace: Duration,
    acked: &AtomicU64,
) -> Result<(u64, OpenLink)> {
    let code = commune_code(i);
    let rows = fixtures::chain(&code, 0, Vec::new(), (batches * per_batch) as u64);
    // Spread the connects over a second, as restarts of a whole district would be.
    tokio::time::sleep(Duration::from_millis(i as u64 % 1000)).await;
    let channel = Endpoint::from_shared(url.to_string())?
        .connect_timeout(Duration::from_secs(30))
        .tcp_nodelay(true)
        .connect()
        .await?;
    let mut client = SyncServiceClient::new(channel)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);
    let (tx, rx) = mpsc::channel(4);
    let request = |m| pb::LinkRequest { message: Some(m) };
    tx.send(request(pb::link_request::Message::Hello(pb::Hello {
        protocol_version: 1,
        unit: Some(wire::unit(&unit(&code, UnitLevel::Commune, None))),
        ..Default::default()
    })))
    .await?;
    let mut inbound = client.link(ReceiverStream::new(rx)).await?.into_inner();
    match inbound.message().await?.and_then(|m| m.message) {
        Some(pb::link_response::Message::Welcome(_)) => {}
        other => bail!("{code}: expected Welcome, got {other:?}"),
    }
    let mut done = 0u64;
    for chunk in rows.chunks(per_batch) {
        tx.send(request(pb::link_request::Message::Batch(pb::EventBatch {
            events: chunk.iter().map(|r| r.payload.clone()).collect(),
            remaining: 0,
            units: Vec::new(),
        })))
        .await?;
        loop {
            match inbound.message().await?.and_then(|m| m.message) {
                Some(pb::link_response::Message::BatchAck(ack)) => {
                    let position = ack
                        .positions
                        .iter()
                        .find(|p| p.origin_unit == code)
                        .map_or(0, |p| p.sequence);
                    acked.fetch_add(position.saturating_sub(done), Ordering::AcqRel);
                    done = position;
                    break;
                }
                Some(_) => continue,
                None => bail!("{code}: link closed"),
            }
        }
        tokio::time::sleep(pace).await;
    }
    // A commune keeps reading its link (directories of the units that joined after it):
    // a stream left unread would make the town buffer what it sends.
    let reader = tokio::spawn(async move { while let Ok(Some(_)) = inbound.message().await {} });
    Ok((done, (tx, reader)))
}

/// A link held open: its sending half, and the task reading what the town sends.
type OpenLink = (mpsc::Sender<pb::LinkRequest>, tokio::task::JoinHandle<()>);
