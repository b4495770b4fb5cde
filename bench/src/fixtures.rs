//! What the scenarios are built from: databases on either backend, units, journal events
//! encoded exactly as a commune's node encodes them (hash-chained `VisitRecorded`), backlogs
//! written straight into a commune's journal, and nodes started on `127.0.0.1:0`.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use chrono::{DateTime, TimeZone, Utc};
use prost::Message;
use sea_orm::{ActiveValue::Set, ConnectionTrait, Database, EntityTrait, Statement};
use sha2::{Digest, Sha256};
use tiepdan_proto::v1 as pb;
use tiepdan_server::app::App;
use tiepdan_server::domain::deadlines::DeadlineTable;
use tiepdan_server::domain::model::{
    MatterKind, ReceiverRole, ReceptionAction, ReceptionKind, Unit, UnitLevel, Visit,
};
use tiepdan_server::node::{self, NodeConfig, RunningNode};
use tiepdan_server::storage::Store;
use tiepdan_server::storage::entities::{journal_event, journal_head};
use tiepdan_server::sync::uplink::UplinkConfig;
use tiepdan_server::wire;
use tokio::net::TcpListener;

/// Storage backend of a node under measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }
}

/// A database created for one scenario; PostgreSQL ones are dropped by [`Db::remove`].
#[derive(Debug, Clone)]
pub struct Db {
    pub url: String,
    pub backend: Backend,
    pg: Option<(String, String)>,
}

impl Db {
    /// A new empty database: a SQLite file `name.sqlite` in `dir`, or a fresh PostgreSQL
    /// database on the server of `pg_admin`.
    pub async fn create(backend: Backend, dir: &Path, name: &str, pg_admin: &str) -> Result<Db> {
        match backend {
            Backend::Sqlite => Ok(Db {
                // A run may repeat a scenario in the same directory: every database is new.
                url: format!(
                    "sqlite://{}",
                    dir.join(format!(
                        "{name}-{}.sqlite",
                        &uuid::Uuid::new_v4().simple().to_string()[..8]
                    ))
                    .display()
                ),
                backend,
                pg: None,
            }),
            Backend::Postgres => {
                let db_name = format!("tiepdan_b_{}", uuid::Uuid::new_v4().simple());
                let admin = Database::connect(pg_admin)
                    .await
                    .with_context(|| format!("PostgreSQL at {pg_admin}"))?;
                admin
                    .execute_raw(Statement::from_string(
                        admin.get_database_backend(),
                        format!("CREATE DATABASE {db_name}"),
                    ))
                    .await?;
                let _ = admin.close().await;
                let base = pg_admin
                    .rfind('/')
                    .map(|i| &pg_admin[..i])
                    .context("PostgreSQL URL without a database")?;
                Ok(Db {
                    url: format!("{base}/{db_name}"),
                    backend,
                    pg: Some((pg_admin.to_string(), db_name)),
                })
            }
        }
    }

    /// A database created elsewhere; [`Db::remove`] leaves it alone.
    pub fn existing(url: &str) -> Db {
        Db {
            url: url.to_string(),
            backend: if url.starts_with("postgres") {
                Backend::Postgres
            } else {
                Backend::Sqlite
            },
            pg: None,
        }
    }

    /// Drops a PostgreSQL database (SQLite files go with their directory).
    pub async fn remove(&self) {
        let Some((admin_url, name)) = &self.pg else {
            return;
        };
        if let Ok(admin) = Database::connect(admin_url.as_str()).await {
            let _ = admin
                .execute_raw(Statement::from_string(
                    admin.get_database_backend(),
                    format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                ))
                .await;
            let _ = admin.close().await;
        }
    }
}

pub fn unit(code: &str, level: UnitLevel, parent: Option<&str>) -> Unit {
    Unit {
        code: code.to_string(),
        name: format!("Unit {code}"),
        level,
        parent_code: parent.map(str::to_string),
        remote: false,
    }
}

/// Code of the `i`-th benchmark commune (5 digits).
pub fn commune_code(i: usize) -> String {
    format!("{:05}", 10_000 + i)
}

pub const TOWN: &str = "269";
pub const CITY: &str = "01";

/// Records a unit receives a day, in the generated registers.
pub const RECORDS_A_DAY: u64 = 100;

/// The instant of the `n`-th generated record: in journal order, `RECORDS_A_DAY` a day
/// through 360 days of 2019 (then again from the start), as a journal grows.
pub fn record_time(n: u64) -> DateTime<Utc> {
    let base = Utc
        .with_ymd_and_hms(2019, 1, 2, 1, 0, 0)
        .single()
        .unwrap_or_default();
    base + chrono::Duration::days(((n / RECORDS_A_DAY) % 360) as i64)
        + chrono::Duration::seconds((n % RECORDS_A_DAY * 300) as i64)
}

/// A visit as a commune records it.
pub fn visit(origin: &str, n: u64) -> Visit {
    let persons = 1 + (n % 7) as u32;
    Visit {
        id: format!("{origin}-B{n}"),
        unit_code: origin.to_string(),
        visit_time: record_time(n),
        kind: ReceptionKind::Regular,
        receiver_role: if n.is_multiple_of(10) {
            ReceiverRole::CommitteeChairman
        } else {
            ReceiverRole::Staff
        },
        receiver_name: "Nguyễn Văn A".into(),
        persons,
        crowd_group: persons >= 5,
        matter: if n.is_multiple_of(3) {
            MatterKind::Repeat
        } else {
            MatterKind::First
        },
        action: ReceptionAction::Accepted,
        summary: "Kiến nghị về cấp giấy chứng nhận quyền sử dụng đất".into(),
        schedule_entry_id: None,
        create_time: record_time(n),
    }
}

/// One journal row, as stored and as shipped.
pub fn event_row(origin: &str, sequence: u64, previous_hash: Vec<u8>) -> journal_event::Model {
    let v = visit(origin, sequence);
    let event = pb::JournalEvent {
        origin_unit: origin.to_string(),
        sequence,
        event_time: Some(wire::timestamp(v.create_time)),
        previous_hash,
        change: Some(pb::journal_event::Change::VisitRecorded(wire::visit(&v))),
        action: "RecordVisit".into(),
    };
    let payload = event.encode_to_vec();
    let hash = Sha256::digest(&payload).to_vec();
    journal_event::Model {
        origin_unit: origin.to_string(),
        sequence: i64::try_from(sequence).unwrap_or(i64::MAX),
        event_us: v.create_time.timestamp_micros(),
        action: "RecordVisit".into(),
        payload,
        hash,
    }
}

/// `count` chained rows of `origin` after sequence `after` whose hash is `previous_hash`.
pub fn chain(
    origin: &str,
    after: u64,
    previous_hash: Vec<u8>,
    count: u64,
) -> Vec<journal_event::Model> {
    let mut out = Vec::with_capacity(count as usize);
    let mut prev = previous_hash;
    for sequence in after + 1..=after + count {
        let row = event_row(origin, sequence, prev);
        prev = row.hash.clone();
        out.push(row);
    }
    out
}

/// Appends a backlog of `count` visits to the journal of `origin` in `store`, continuing its
/// chain, as if the commune had recorded them while its link was down.
pub async fn append_backlog(store: &Store, origin: &str, count: u64) -> Result<()> {
    let tx = store.begin_write().await?;
    let head = journal_head::Entity::find_by_id(origin.to_string())
        .one(&tx)
        .await?
        .context("the commune has no journal yet")?;
    let after = u64::try_from(head.last_sequence)?;
    let rows = chain(origin, after, head.last_hash, count);
    let last = rows.last().map(|r| (r.sequence, r.hash.clone()));
    for chunk in rows.chunks(1000) {
        journal_event::Entity::insert_many(chunk.iter().cloned().map(|m| {
            journal_event::ActiveModel {
                origin_unit: Set(m.origin_unit),
                sequence: Set(m.sequence),
                event_us: Set(m.event_us),
                action: Set(m.action),
                payload: Set(m.payload),
                hash: Set(m.hash),
            }
        }))
        .exec(&tx)
        .await?;
    }
    if let Some((sequence, hash)) = last {
        journal_head::Entity::update(journal_head::ActiveModel {
            origin_unit: Set(origin.to_string()),
            last_sequence: Set(sequence),
            last_hash: Set(hash),
        })
        .exec(&tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Creates the database of a commune node (its unit registered, as on first start) and
/// appends a backlog of `backlog` visits to its journal.
pub async fn prepare_commune(db: &Db, code: &str, backlog: u64) -> Result<()> {
    let store = Store::open(&db.url).await?;
    let app = App::open(
        store.clone(),
        unit(code, UnitLevel::Commune, None),
        DeadlineTable::default(),
    )
    .await?;
    if backlog > 0 {
        append_backlog(&store, code, backlog).await?;
    }
    drop(app);
    store.close().await?;
    Ok(())
}

/// Runs the migrations of a node's database ahead of a measurement.
pub async fn migrate(db: &Db) -> Result<()> {
    Store::open(&db.url).await?.close().await?;
    Ok(())
}

/// Starts a node of `unit` over `db` on `listener`.
pub async fn start_node(
    db: &Db,
    unit: Unit,
    parent_url: Option<String>,
    uplink: UplinkConfig,
    listener: Option<TcpListener>,
) -> Result<RunningNode> {
    let listener = match listener {
        Some(l) => l,
        None => TcpListener::bind("127.0.0.1:0").await?,
    };
    let mut config = NodeConfig::new(unit, db.url.clone());
    config.parent_url = parent_url;
    config.uplink = uplink;
    Ok(node::start(config, listener).await?)
}

/// Uplink settings for scenarios that do not measure reconnects: retries come quickly.
pub fn eager_uplink() -> UplinkConfig {
    UplinkConfig {
        backoff_min: Duration::from_millis(10),
        backoff_max: Duration::from_millis(50),
        ..UplinkConfig::default()
    }
}

/// The highest sequence of every origin in the node's journal.
pub async fn heads(app: &App) -> Result<std::collections::BTreeMap<String, u64>> {
    Ok(journal_head::Entity::find()
        .all(app.store().reader())
        .await?
        .into_iter()
        .map(|h| (h.origin_unit, u64::try_from(h.last_sequence).unwrap_or(0)))
        .collect())
}

/// The highest sequence of `origin` in the node's journal.
pub async fn head(app: &App, origin: &str) -> Result<u64> {
    Ok(tiepdan_server::storage::journal::last_sequence(app.store().reader(), origin).await?)
}
