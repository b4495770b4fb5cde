//! Storage: sea-orm entities, migrations and the queries the application needs, on SQLite (the
//! embedded default) and PostgreSQL.
//!
//! Every write runs in one serialized write transaction: on SQLite it runs on the node's one
//! writer connection, whose pool hands it out in the order writers asked for it, and begins
//! IMMEDIATE (another process writing the file is waited for on the busy timeout); on
//! PostgreSQL it takes a transaction-scoped advisory lock, whose waiters queue in order too.
//! Writers never interleave, which is what makes the per-origin journal sequence gapless;
//! readers are never blocked.
//!
//! A write that fails (a full disk, an I/O error, a lost server) leaves no writer behind in a
//! transaction: every commit goes through [`Store::commit`], which tracks whether writes
//! commit ([`Store::writable`]), and SQLite's writer connection is replaced when a rollback
//! could not end its transaction (see [`Store::open`]).

pub mod audit;
pub mod backup;
pub mod entities;
pub mod journal;
pub mod keys;
pub mod lock;
pub mod mail;
pub mod map;
pub mod migration;
pub mod owners;
pub mod records;
pub mod recovery;
pub mod reports;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    DbErr, SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
};
use sea_orm_migration::MigratorTrait;
use tokio::sync::watch;

use crate::domain::DomainError;

/// A write transaction, begun by [`Store::begin_write`] and ended by [`Store::commit`] (or
/// dropped, which rolls it back).
pub type Tx = DatabaseTransaction;

/// What the store's functions fail with.
pub type StorageError = DbErr;

/// A handle reads go through: the store's pool ([`Store::reader`]) or a write transaction,
/// which sees its own writes.
pub trait Read: ConnectionTrait {}
impl Read for DatabaseConnection {}
impl Read for DatabaseTransaction {}

/// A handle writes go through: only a write transaction, so every write is serialized and
/// commits with the journal event that records it.
pub trait Write: Read {}
impl Write for DatabaseTransaction {}

/// Key of the PostgreSQL advisory lock that serializes writers of one node's database.
const WRITE_LOCK_KEY: i64 = 0x0074_6965_7064_616e; // "tiepdan"

/// A pooled PostgreSQL connection idle this long is pinged before it is used.
const POSTGRES_IDLE_PING: Duration = Duration::from_secs(5);

/// The node's database.
#[derive(Clone, Debug)]
pub struct Store {
    db: DatabaseConnection,
    /// SQLite: a pool of one connection, the only one that writes. Writers used to race for
    /// the file's lock through SQLite's busy handler, which polls with sleeps of up to 100 ms
    /// and serves no one in order: under a steady writer another write could wait for
    /// seconds. PostgreSQL: the same pool as `db`.
    writer: DatabaseConnection,
    health: Arc<WriteHealth>,
    /// Held while the store is open: one node per data directory or database.
    lock: Arc<lock::DataLock>,
}

/// Whether writes commit: false from a failed write statement, begin or commit until the next
/// commit succeeds. Readers of the flag (health, metrics) watch it.
#[derive(Debug)]
struct WriteHealth {
    writable: watch::Sender<bool>,
    failed_commits: AtomicU64,
    /// How long each COMMIT took (the durable write), failed ones included.
    commit_seconds: Histogram,
    /// Writers waiting in [`Store::begin_write`] for the write lock.
    writers_waiting: AtomicU64,
}

/// Counts a writer waiting for the write lock until dropped (begun, failed or given up).
struct Waiting<'a>(&'a AtomicU64);

impl<'a> Waiting<'a> {
    fn new(count: &'a AtomicU64) -> Waiting<'a> {
        count.fetch_add(1, Ordering::Relaxed);
        Waiting(count)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl WriteHealth {
    fn set(&self, ok: bool, error: Option<&DbErr>) {
        let changed = self
            .writable
            .send_if_modified(|w| std::mem::replace(w, ok) != ok);
        if changed && ok {
            tracing::info!("writes commit again");
        } else if changed {
            let error = error.map(ToString::to_string).unwrap_or_default();
            tracing::error!(%error, "writes cannot commit; answering UNAVAILABLE until one does");
        }
    }
}

impl From<DbErr> for DomainError {
    fn from(err: DbErr) -> Self {
        DomainError::Storage(err.to_string())
    }
}

impl Store {
    /// Opens (creating when needed) the database at `url` and runs the migrations.
    /// `sqlite://PATH` or a bare path selects SQLite; `postgres://…` PostgreSQL.
    pub async fn open(url: &str) -> Result<Store, DbErr> {
        let lock = lock::DataLock::acquire(url).await?;
        let url = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            url.to_string()
        } else {
            let path = sqlite_path(url)?;
            format!("sqlite://{path}?mode=rwc")
        };
        // Writers are serialized anyway; PostgreSQL connections are a shared, bounded resource
        // (a server hosts many nodes' databases), SQLite readers are cheap.
        let postgres = url.starts_with("postgres");
        let mut options = ConnectOptions::new(url);
        options
            .max_connections(if postgres { 6 } else { 7 })
            .min_connections(if postgres { 0 } else { 1 })
            .connect_timeout(Duration::from_secs(10))
            .acquire_timeout(Duration::from_secs(30))
            // A SQLite connection is a local file: pinging it before every use only adds a
            // round trip to its thread to every query.
            .test_before_acquire(false)
            .sqlx_logging(false)
            .map_sqlx_sqlite_opts(|o| {
                o.journal_mode(SqliteJournalMode::Wal)
                    // Anything acknowledged to a client or another node must survive power loss.
                    .synchronous(SqliteSynchronous::Full)
                    .busy_timeout(Duration::from_secs(30))
                    .foreign_keys(true)
                    // Deleted rows (mail that carried personal details through this node) are
                    // overwritten, not left in free pages.
                    .pragma("secure_delete", "ON")
                    .create_if_missing(true)
            });
        if postgres {
            // A PostgreSQL connection idle for a while may have been dropped by the server
            // or something between: it is pinged before use. One in use is not: a ping on
            // every use added a round trip to every read and every write transaction.
            options.test_before_acquire_if_idle_for(POSTGRES_IDLE_PING);
        }
        let health = Arc::new(WriteHealth {
            writable: watch::channel(true).0,
            failed_commits: AtomicU64::new(0),
            // 0.5 ms to about 16 s: an fsync on a quiet SSD to a stalled disk.
            commit_seconds: Histogram::new(exponential_buckets(0.0005, 2.0, 16)),
            writers_waiting: AtomicU64::new(0),
        });
        let writer = if postgres {
            None
        } else {
            let mut one = options.clone();
            one.max_connections(1).min_connections(1);
            // A failed COMMIT or ROLLBACK can leave sqlx counting a transaction that SQLite
            // ended or still holds; the next BEGIN would then nest a SAVEPOINT inside it and
            // "commit" into a transaction that never ends. Such a connection is closed (which
            // rolls back) and a fresh one opened.
            one.map_sqlx_sqlite_before_acquire(|conn, _| {
                Box::pin(async move {
                    let clean = !sea_orm::sqlx::Connection::is_in_transaction(conn);
                    if !clean {
                        tracing::warn!("writer connection left in a transaction; replacing it");
                    }
                    Ok(clean)
                })
            });
            let mut writer = Database::connect(one).await?;
            watch_failures(&mut writer, &health);
            Some(writer)
        };
        let mut db = Database::connect(options).await?;
        if postgres {
            watch_failures(&mut db, &health);
        }
        let writer = writer.unwrap_or_else(|| db.clone());
        migration::Migrator::up(&writer, None).await?;
        Ok(Store {
            db,
            writer,
            health,
            lock: Arc::new(lock),
        })
    }

    /// Commits a write transaction, keeping track of whether writes commit.
    pub async fn commit(&self, tx: DatabaseTransaction) -> Result<(), DbErr> {
        let start = std::time::Instant::now();
        let committed = tx.commit().await;
        self.health
            .commit_seconds
            .observe(start.elapsed().as_secs_f64());
        match committed {
            Ok(()) => {
                self.health.set(true, None);
                Ok(())
            }
            Err(e) => {
                self.health.failed_commits.fetch_add(1, Ordering::Relaxed);
                self.health.set(false, Some(&e));
                Err(e)
            }
        }
    }

    /// Whether the last write committed (false from a failed write until one commits).
    pub fn writable(&self) -> watch::Receiver<bool> {
        self.health.writable.subscribe()
    }

    /// Commits that failed since the store was opened.
    pub fn failed_commits(&self) -> u64 {
        self.health.failed_commits.load(Ordering::Relaxed)
    }

    /// How long commits took, for the metrics (a handle on the store's own histogram).
    pub fn commit_seconds(&self) -> Histogram {
        self.health.commit_seconds.clone()
    }

    /// Writers waiting now for the write lock.
    pub fn writers_waiting(&self) -> u64 {
        self.health.writers_waiting.load(Ordering::Relaxed)
    }

    /// The connection pool, for reads.
    pub fn reader(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Which database this is.
    pub fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    /// Begins the node's one write transaction; it holds the write lock until committed or
    /// dropped (rolled back).
    pub async fn begin_write(&self) -> Result<DatabaseTransaction, DbErr> {
        let waiting = Waiting::new(&self.health.writers_waiting);
        let begun = self.begin_locked().await;
        drop(waiting);
        if let Err(e) = &begun {
            self.health.set(false, Some(e));
        }
        begun
    }

    async fn begin_locked(&self) -> Result<DatabaseTransaction, DbErr> {
        match self.backend() {
            DbBackend::Sqlite => {
                self.writer
                    .begin_with_options(TransactionOptions {
                        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                        ..Default::default()
                    })
                    .await
            }
            backend => {
                let tx = self.writer.begin().await?;
                tx.execute_raw(Statement::from_string(
                    backend,
                    format!("SELECT pg_advisory_xact_lock({WRITE_LOCK_KEY})"),
                ))
                .await?;
                Ok(tx)
            }
        }
    }

    /// Moves SQLite's write-ahead log into the database and empties it, so that deleted
    /// content does not linger in old log frames. Best effort; a no-op on PostgreSQL.
    pub async fn truncate_log(&self) {
        if self.backend() == DbBackend::Sqlite {
            let statement = Statement::from_string(
                DbBackend::Sqlite,
                "PRAGMA wal_checkpoint(TRUNCATE)".to_string(),
            );
            if let Err(e) = self.writer.execute_raw(statement).await {
                tracing::debug!(error = %e, "wal checkpoint");
            }
        }
    }

    /// Closes the pool's connections without taking the store: what a crashed process's exit
    /// does to its database handles (a transaction cut off mid-flight is rolled back and its
    /// locks released, instead of lingering in an idle pooled connection).
    pub async fn release(&self) {
        for pool in [&self.writer, &self.db] {
            if let Err(e) = pool.close_by_ref().await {
                tracing::debug!(error = %e, "closing the pool");
            }
        }
        self.lock.release().await;
    }

    /// Closes the pools, checkpointing SQLite's write-ahead log.
    pub async fn close(self) -> Result<(), DbErr> {
        if self.backend() == DbBackend::Sqlite {
            self.db.close().await?;
        }
        let closed = self.writer.close().await;
        self.lock.release().await;
        closed
    }
}

/// The file of a `sqlite://PATH` (or bare path) URL, its directory created when needed.
fn sqlite_path(url: &str) -> Result<&str, DbErr> {
    let path = url.strip_prefix("sqlite://").unwrap_or(url);
    let path = path.split('?').next().unwrap_or(path);
    if let Some(dir) = Path::new(path).parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir).map_err(|e| {
            DbErr::Custom(format!(
                "cannot create data directory {}: {e}",
                dir.display()
            ))
        })?;
    }
    Ok(path)
}

/// A failed statement on the connections writes go through means writes may not commit.
fn watch_failures(conn: &mut DatabaseConnection, health: &Arc<WriteHealth>) {
    let health = Arc::downgrade(health);
    conn.set_metric_callback(move |info| {
        if info.failed
            && let Some(health) = health.upgrade()
        {
            health.set(false, None);
        }
    });
}
