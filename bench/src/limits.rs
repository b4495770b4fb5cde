//! The two baselines every ingest figure is held against, measured in the same run:
//!
//! - the storage limit: the same journal rows written by the fastest batched insert of the
//!   driver tiepdan uses (sqlx), 1,000 rows a transaction, into a database opened exactly as
//!   a node opens it (SQLite: WAL, synchronous=FULL; PostgreSQL: default durability);
//! - the transport limit: a bare tonic bidirectional stream of the same `SyncService.Link`
//!   messages, with the same batching and window, each batch acknowledged by a server that
//!   decodes it and does nothing else.

use std::pin::Pin;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use sea_orm::ConnectionTrait;
use tiepdan_proto::v1::{
    self as pb, sync_service_client::SyncServiceClient, sync_service_server::SyncService,
    sync_service_server::SyncServiceServer,
};
use tiepdan_server::domain::model::Visit;
use tiepdan_server::node::MAX_MESSAGE_BYTES;
use tiepdan_server::storage::Store;
use tiepdan_server::storage::entities::journal_event;
use tiepdan_server::storage::records::to_us;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
use tokio_stream::{Stream, StreamExt};
use tokio_util::sync::CancellationToken;
use tonic::transport::{Endpoint, Server};
use tonic::{Request, Response, Status, Streaming};

use crate::fixtures::{Backend, Db};

/// Rows a transaction in the storage baseline.
const ROWS_PER_TX: usize = 1000;

/// The storage limit: rows/s of the fastest batched insert, and how it was done.
#[derive(Debug, Clone)]
pub struct StorageLimit {
    pub rows_per_s: f64,
    pub method: &'static str,
    /// Every method tried, with its rate.
    pub tried: Vec<(&'static str, f64)>,
    /// Median time of a durable commit of one row: the floor of every hop's latency.
    pub commit: Duration,
}

/// Writes `rows` into a fresh database on `db` with every batched insert the driver offers
/// and keeps the fastest.
pub async fn storage(db: &Db, rows: &[journal_event::Model]) -> Result<StorageLimit> {
    let store = Store::open(&db.url).await?;
    let conn = store.reader();
    let mut tried = Vec::new();
    match db.backend {
        Backend::Sqlite => {
            let pool = conn.get_sqlite_connection_pool();
            // Every shape sqlx offers for a batch, each writing the same rows (under an origin
            // of its own) 1,000 a transaction: multi-row statements of several sizes, with
            // numbered or anonymous placeholders, and one cached single-row statement run once
            // a row.
            for (method, per_statement, numbered) in [
                ("multi-row INSERT ?NNN, 1000 a statement", 1000, true),
                ("multi-row INSERT ?, 1000 a statement", 1000, false),
                ("multi-row INSERT ?, 500 a statement", 500, false),
                ("multi-row INSERT ?, 100 a statement", 100, false),
                ("multi-row INSERT ?, 20 a statement", 20, false),
                ("prepared single-row INSERT", 1, false),
            ] {
                let t = Instant::now();
                for (i, chunk) in rows.chunks(ROWS_PER_TX).enumerate() {
                    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                    for part in chunk.chunks(per_statement) {
                        let sql = if numbered {
                            multi_row_sql(part.len(), |n| format!("?{n}"))
                        } else {
                            multi_row_sql(part.len(), |_| "?".to_string())
                        };
                        let mut q = sea_orm::sqlx::query(sea_orm::sqlx::AssertSqlSafe(sql));
                        for r in part {
                            q = q
                                .bind(format!("{per_statement}{numbered}{i}-{}", r.origin_unit))
                                .bind(r.sequence)
                                .bind(r.event_us)
                                .bind(r.action.as_str())
                                .bind(r.payload.as_slice())
                                .bind(r.hash.as_slice());
                        }
                        q.execute(&mut *tx).await?;
                    }
                    tx.commit().await?;
                }
                tried.push((method, rate(rows.len(), t.elapsed())));
            }
        }
        Backend::Postgres => {
            let pool = conn.get_postgres_connection_pool();
            for (method, per_statement) in [
                ("multi-row INSERT, 1000 a statement", 1000),
                ("multi-row INSERT, 100 a statement", 100),
                ("prepared single-row INSERT", 1),
            ] {
                let t = Instant::now();
                for (i, chunk) in rows.chunks(ROWS_PER_TX).enumerate() {
                    let mut tx = pool.begin().await?;
                    for part in chunk.chunks(per_statement) {
                        let sql = multi_row_sql(part.len(), |n| format!("${n}"));
                        let mut q = sea_orm::sqlx::query(sea_orm::sqlx::AssertSqlSafe(sql));
                        for r in part {
                            q = q
                                .bind(format!("m{per_statement}-{i}-{}", r.origin_unit))
                                .bind(r.sequence)
                                .bind(r.event_us)
                                .bind(r.action.as_str())
                                .bind(r.payload.as_slice())
                                .bind(r.hash.as_slice());
                        }
                        q.execute(&mut *tx).await?;
                    }
                    tx.commit().await?;
                }
                tried.push((method, rate(rows.len(), t.elapsed())));
            }
            let t = Instant::now();
            for (i, chunk) in rows.chunks(ROWS_PER_TX).enumerate() {
                let mut tx = pool.begin().await?;
                unnest_journal(&mut tx, chunk, |r| format!("u{i}-{}", r.origin_unit)).await?;
                tx.commit().await?;
            }
            tried.push(("UNNEST INSERT", rate(rows.len(), t.elapsed())));
        }
    }
    let mut commits = Vec::new();
    for (i, r) in rows.iter().take(100).enumerate() {
        let t = Instant::now();
        let tx = store.begin_write().await?;
        tx.execute_raw(sea_orm::Statement::from_sql_and_values(
            tx.get_database_backend(),
            match db.backend {
                Backend::Sqlite => "INSERT INTO journal_event (origin_unit, sequence, event_us, action, payload, hash) VALUES (?, ?, ?, ?, ?, ?)",
                Backend::Postgres => "INSERT INTO journal_event (origin_unit, sequence, event_us, action, payload, hash) VALUES ($1, $2, $3, $4, $5, $6)",
            },
            [
                format!("c{i}").into(),
                r.sequence.into(),
                r.event_us.into(),
                r.action.clone().into(),
                r.payload.clone().into(),
                r.hash.clone().into(),
            ],
        ))
        .await?;
        tx.commit().await?;
        commits.push(t.elapsed());
    }
    let commit = crate::stats::Percentiles::of(commits).p50;
    store.close().await?;
    let (method, rows_per_s) = tried
        .iter()
        .copied()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .context("no insert method tried")?;
    Ok(StorageLimit {
        rows_per_s,
        method,
        tried,
        commit,
    })
}

/// The storage limit of the rows an applied event writes: its journal row and the copy of its
/// record (a visit row, the table's two indexes included), events/s. Written as the fastest
/// journal insert above writes them (SQLite: multi-row INSERTs of 500 rows; PostgreSQL:
/// UNNEST), 1,000 events a transaction, into a database opened as a node opens it. No lookup,
/// no check, no totals: what the storage alone allows for the rows tiepdan must keep.
pub async fn storage_applied(db: &Db, rows: &[journal_event::Model]) -> Result<f64> {
    use prost::Message;
    let visits: Vec<Visit> = rows
        .iter()
        .map(|r| {
            let event = pb::JournalEvent::decode(r.payload.as_slice())?;
            match event.change {
                Some(pb::journal_event::Change::VisitRecorded(v)) => {
                    Ok(tiepdan_server::wire::inbound::visit(&v)?)
                }
                _ => anyhow::bail!("the fixture's events are visits"),
            }
        })
        .collect::<Result<_>>()?;
    let store = Store::open(&db.url).await?;
    let conn = store.reader();
    let t = Instant::now();
    match db.backend {
        Backend::Sqlite => {
            let pool = conn.get_sqlite_connection_pool();
            for (chunk, vchunk) in rows.chunks(ROWS_PER_TX).zip(visits.chunks(ROWS_PER_TX)) {
                let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                for (part, vpart) in chunk.chunks(500).zip(vchunk.chunks(500)) {
                    let sql = multi_row_sql(part.len(), |_| "?".to_string());
                    let mut q = sea_orm::sqlx::query(sea_orm::sqlx::AssertSqlSafe(sql));
                    for r in part {
                        q = q
                            .bind(r.origin_unit.as_str())
                            .bind(r.sequence)
                            .bind(r.event_us)
                            .bind(r.action.as_str())
                            .bind(r.payload.as_slice())
                            .bind(r.hash.as_slice());
                    }
                    q.execute(&mut *tx).await?;
                    let mut sql = format!("INSERT INTO visit ({VISIT_COLUMNS}) VALUES ");
                    for i in 0..vpart.len() {
                        sql.push_str(if i == 0 { "(" } else { ",(" });
                        sql.push_str(&["?"; 13].join(","));
                        sql.push(')');
                    }
                    let mut q = sea_orm::sqlx::query(sea_orm::sqlx::AssertSqlSafe(sql));
                    for v in vpart {
                        q = q
                            .bind(v.id.as_str())
                            .bind(v.unit_code.as_str())
                            .bind(to_us(v.visit_time))
                            .bind(v.kind.as_str())
                            .bind(v.receiver_role.as_str())
                            .bind(v.receiver_name.as_str())
                            .bind(i64::from(v.persons))
                            .bind(v.crowd_group)
                            .bind(v.matter.as_str())
                            .bind(v.action.as_str())
                            .bind(v.summary.as_str())
                            .bind(v.schedule_entry_id.as_deref())
                            .bind(to_us(v.create_time));
                    }
                    q.execute(&mut *tx).await?;
                }
                tx.commit().await?;
            }
        }
        Backend::Postgres => {
            let pool = conn.get_postgres_connection_pool();
            for (chunk, vchunk) in rows.chunks(ROWS_PER_TX).zip(visits.chunks(ROWS_PER_TX)) {
                let mut tx = pool.begin().await?;
                unnest_journal(&mut tx, chunk, |r| r.origin_unit.clone()).await?;
                sea_orm::sqlx::query(sea_orm::sqlx::AssertSqlSafe(format!(
                    "INSERT INTO visit ({VISIT_COLUMNS}) SELECT * FROM UNNEST($1::text[], \
                     $2::text[], $3::int8[], $4::text[], $5::text[], $6::text[], $7::int8[], \
                     $8::bool[], $9::text[], $10::text[], $11::text[], $12::text[], $13::int8[])"
                )))
                .bind(column(vchunk, |v| v.id.as_str()))
                .bind(column(vchunk, |v| v.unit_code.as_str()))
                .bind(column(vchunk, |v| to_us(v.visit_time)))
                .bind(column(vchunk, |v| v.kind.as_str()))
                .bind(column(vchunk, |v| v.receiver_role.as_str()))
                .bind(column(vchunk, |v| v.receiver_name.as_str()))
                .bind(column(vchunk, |v| i64::from(v.persons)))
                .bind(column(vchunk, |v| v.crowd_group))
                .bind(column(vchunk, |v| v.matter.as_str()))
                .bind(column(vchunk, |v| v.action.as_str()))
                .bind(column(vchunk, |v| v.summary.as_str()))
                .bind(column(vchunk, |v| v.schedule_entry_id.as_deref()))
                .bind(column(vchunk, |v| to_us(v.create_time)))
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
            }
        }
    }
    let events_per_s = rate(rows.len(), t.elapsed());
    store.close().await?;
    Ok(events_per_s)
}

/// Inserts `rows` into the journal in one UNNEST statement (PostgreSQL), each under the origin
/// `origin` gives it.
async fn unnest_journal(
    tx: &mut sea_orm::sqlx::PgConnection,
    rows: &[journal_event::Model],
    origin: impl Fn(&journal_event::Model) -> String,
) -> Result<()> {
    sea_orm::sqlx::query(
        "INSERT INTO journal_event (origin_unit, sequence, event_us, action, payload, hash) \
         SELECT * FROM UNNEST($1::text[], $2::int8[], $3::int8[], $4::text[], $5::bytea[], $6::bytea[])",
    )
    .bind(column(rows, origin))
    .bind(column(rows, |r| r.sequence))
    .bind(column(rows, |r| r.event_us))
    .bind(column(rows, |r| r.action.as_str()))
    .bind(column(rows, |r| r.payload.as_slice()))
    .bind(column(rows, |r| r.hash.as_slice()))
    .execute(tx)
    .await?;
    Ok(())
}

/// One column of `rows`, as an array to bind.
fn column<'a, T, U>(rows: &'a [T], f: impl Fn(&'a T) -> U) -> Vec<U> {
    rows.iter().map(f).collect()
}

/// The visit table's columns, in the order `storage_applied` binds them.
const VISIT_COLUMNS: &str = "id, unit_code, visit_us, kind, receiver_role, receiver_name, \
    persons, crowd_group, matter, action, summary, schedule_entry_id, create_us";

fn multi_row_sql(rows: usize, placeholder: impl Fn(usize) -> String) -> String {
    let mut sql = String::from(
        "INSERT INTO journal_event (origin_unit, sequence, event_us, action, payload, hash) VALUES ",
    );
    for r in 0..rows {
        if r > 0 {
            sql.push(',');
        }
        sql.push('(');
        for c in 0..6 {
            if c > 0 {
                sql.push(',');
            }
            sql.push_str(&placeholder(r * 6 + c + 1));
        }
        sql.push(')');
    }
    sql
}

pub fn rate(n: usize, elapsed: Duration) -> f64 {
    n as f64 / elapsed.as_secs_f64().max(1e-9)
}

/// A link service that acknowledges every batch after decoding it, and stores nothing.
struct BareLink;

type LinkStream = Pin<Box<dyn Stream<Item = Result<pb::LinkResponse, Status>> + Send>>;

#[tonic::async_trait]
impl SyncService for BareLink {
    type LinkStream = LinkStream;

    async fn link(
        &self,
        request: Request<Streaming<pb::LinkRequest>>,
    ) -> Result<Response<Self::LinkStream>, Status> {
        let mut inbound = request.into_inner();
        let (tx, rx) = mpsc::channel(32);
        tokio::spawn(async move {
            while let Some(Ok(message)) = inbound.next().await {
                let reply = match message.message {
                    Some(pb::link_request::Message::Hello(_)) => {
                        pb::link_response::Message::Welcome(pb::Welcome {
                            protocol_version: 1,
                            ..Default::default()
                        })
                    }
                    Some(pb::link_request::Message::Batch(batch)) => {
                        let last = batch.events.len() as u64;
                        pb::link_response::Message::BatchAck(pb::BatchAck {
                            positions: vec![pb::OriginPosition {
                                origin_unit: String::new(),
                                sequence: last,
                            }],
                        })
                    }
                    _ => continue,
                };
                let response = pb::LinkResponse {
                    message: Some(reply),
                };
                if tx.send(Ok(response)).await.is_err() {
                    return;
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn get_sync_status(
        &self,
        _request: Request<pb::GetSyncStatusRequest>,
    ) -> Result<Response<pb::GetSyncStatusResponse>, Status> {
        Ok(Response::new(pb::GetSyncStatusResponse::default()))
    }

    async fn get_journal_digest(
        &self,
        _request: Request<pb::GetJournalDigestRequest>,
    ) -> Result<Response<pb::GetJournalDigestResponse>, Status> {
        Err(Status::unimplemented("a bare link keeps no journal"))
    }

    async fn reconcile(
        &self,
        _request: Request<pb::ReconcileRequest>,
    ) -> Result<Response<pb::ReconcileResponse>, Status> {
        Err(Status::unimplemented("a bare link keeps no journal"))
    }
}

/// The transport limit: events/s and batches/s over `streams` bare links carrying `rows`
/// split between them, `batch_events` a batch (also bounded by `batch_bytes`), `window`
/// batches unacknowledged.
pub async fn transport(
    rows: &[journal_event::Model],
    streams: usize,
    batch_events: usize,
    batch_bytes: usize,
    window: usize,
) -> Result<(f64, f64)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let stop = CancellationToken::new();
    let token = stop.clone();
    let server = tokio::spawn(
        Server::builder()
            .add_service(
                SyncServiceServer::new(BareLink)
                    .max_decoding_message_size(MAX_MESSAGE_BYTES)
                    .max_encoding_message_size(MAX_MESSAGE_BYTES),
            )
            .serve_with_incoming_shutdown(TcpListenerStream::new(listener), async move {
                token.cancelled().await
            }),
    );
    let per = rows.len().div_ceil(streams.max(1));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for part in rows.chunks(per.max(1)) {
        let batches = batches(part, batch_events, batch_bytes);
        let url = format!("http://{addr}");
        tasks.push(tokio::spawn(async move {
            send_batches(&url, batches, window).await
        }));
    }
    let mut sent_batches = 0usize;
    for t in tasks {
        sent_batches += t.await??;
    }
    let elapsed = started.elapsed();
    stop.cancel();
    let _ = server.await;
    Ok((rate(rows.len(), elapsed), rate(sent_batches, elapsed)))
}

/// Splits rows into batches the way the uplink does: by count, then by bytes.
pub fn batches(
    rows: &[journal_event::Model],
    max_events: usize,
    max_bytes: usize,
) -> Vec<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    let mut current: Vec<Vec<u8>> = Vec::new();
    let mut bytes = 0usize;
    for r in rows {
        if !current.is_empty()
            && (current.len() >= max_events || bytes + r.payload.len() > max_bytes)
        {
            out.push(std::mem::take(&mut current));
            bytes = 0;
        }
        bytes += r.payload.len();
        current.push(r.payload.clone());
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

async fn send_batches(url: &str, batches: Vec<Vec<Vec<u8>>>, window: usize) -> Result<usize> {
    let channel = Endpoint::from_shared(url.to_string())?
        .tcp_nodelay(true)
        .connect()
        .await?;
    let mut client = SyncServiceClient::new(channel)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);
    let (tx, rx) = mpsc::channel(window + 8);
    tx.send(request(pb::link_request::Message::Hello(pb::Hello {
        protocol_version: 1,
        ..Default::default()
    })))
    .await?;
    let mut inbound = client.link(ReceiverStream::new(rx)).await?.into_inner();
    inbound.message().await?.context("no Welcome")?;
    let total = batches.len();
    let mut pending = batches.into_iter();
    let mut in_flight = 0usize;
    let mut acked = 0usize;
    while acked < total {
        while in_flight < window {
            let Some(events) = pending.next() else { break };
            tx.send(request(pb::link_request::Message::Batch(pb::EventBatch {
                events,
                remaining: 0,
                units: Vec::new(),
            })))
            .await?;
            in_flight += 1;
        }
        inbound.message().await?.context("link closed")?;
        in_flight -= 1;
        acked += 1;
    }
    Ok(total)
}

fn request(message: pb::link_request::Message) -> pb::LinkRequest {
    pb::LinkRequest {
        message: Some(message),
    }
}
