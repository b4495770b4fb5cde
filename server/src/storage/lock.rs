//! One node per database: an exclusive lock held while the store is open. Two nodes writing
//! one database would each believe their journal sequence is the only one.
//!
//! SQLite: `flock` on a file beside the database (`NAME.sqlite.lock`), released by the kernel
//! when the process dies. PostgreSQL: a session-level advisory lock held by a connection of
//! its own, released by the server when that session ends.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use sea_orm::DbErr;
use sea_orm::sqlx::postgres::PgConnection;
use sea_orm::sqlx::{Connection, query_scalar};
use tokio::sync::Mutex;

/// Key of the PostgreSQL advisory lock a node holds on its database.
const NODE_LOCK_KEY: i64 = 0x0074_6965_7064_6e31; // "tiepdn1"

/// A node that was just stopped in this process releases its lock from a task of its own;
/// a restart waits this long for it before refusing.
const WAIT: Duration = Duration::from_secs(3);

/// The held lock; released on [`DataLock::release`] or when dropped.
#[derive(Debug)]
pub struct DataLock {
    held: Mutex<Option<Held>>,
}

#[derive(Debug)]
enum Held {
    File(File),
    Postgres(Box<PgConnection>),
}

impl DataLock {
    /// Takes the lock of the database at `url` (as [`super::Store::open`] reads it), or says
    /// which database is in use.
    pub async fn acquire(url: &str) -> Result<DataLock, DbErr> {
        let started = Instant::now();
        loop {
            let attempt = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
                try_postgres(url).await?
            } else {
                try_file(url)?
            };
            match attempt {
                Some(held) => {
                    return Ok(DataLock {
                        held: Mutex::new(Some(held)),
                    });
                }
                None if started.elapsed() < WAIT => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                None => {
                    return Err(DbErr::Custom(format!(
                        "the database {} is in use by another running node; one node per data \
                         directory",
                        redact(url)
                    )));
                }
            }
        }
    }

    /// Lets go of the lock (idempotent).
    pub async fn release(&self) {
        match self.held.lock().await.take() {
            Some(Held::Postgres(conn)) => {
                if let Err(e) = conn.close().await {
                    tracing::debug!(error = %e, "closing the lock's connection");
                }
            }
            Some(Held::File(file)) => drop(file),
            None => {}
        }
    }
}

fn try_file(url: &str) -> Result<Option<Held>, DbErr> {
    let path = PathBuf::from(format!("{}.lock", super::sqlite_path(url)?));
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| DbErr::Custom(format!("cannot open lock file {}: {e}", path.display())))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(Held::File(file))),
        Err(TryLockError::WouldBlock) => Ok(None),
        Err(TryLockError::Error(e)) => Err(DbErr::Custom(format!(
            "cannot lock {}: {e}",
            path.display()
        ))),
    }
}

async fn try_postgres(url: &str) -> Result<Option<Held>, DbErr> {
    let failed = |e: sea_orm::sqlx::Error| DbErr::Custom(format!("node lock: {e}"));
    let mut conn = PgConnection::connect(url).await.map_err(failed)?;
    let got: bool = query_scalar("SELECT pg_try_advisory_lock($1)")
        .bind(NODE_LOCK_KEY)
        .fetch_one(&mut conn)
        .await
        .map_err(failed)?;
    if got {
        Ok(Some(Held::Postgres(Box::new(conn))))
    } else {
        let _ = conn.close().await;
        Ok(None)
    }
}

/// The URL without a password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}
