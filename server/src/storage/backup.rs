//! Copies of a node's SQLite database: an online backup (`VACUUM INTO`, a consistent snapshot
//! taken while the node runs and writes), and the restore of such a copy with the node stopped.
//! PostgreSQL databases are copied with `pg_dump` / `pg_restore`, which do the same job better.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement};

use super::lock::DataLock;
use super::{journal, records};
use crate::domain::DomainError;
use crate::domain::model::Unit;

/// What a copy holds: its unit and the last journal sequence of each origin.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub unit: Unit,
    pub heads: BTreeMap<String, u64>,
    pub bytes: u64,
}

/// Why a copy was not made or not restored; nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error(
        "a PostgreSQL database is copied with its own tools: `pg_dump --format=custom --file=FILE URL`, \
         restored with `pg_restore --clean --dbname=URL FILE` (node stopped)"
    )]
    Postgres,
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Storage(String),
}

impl From<DomainError> for CopyError {
    fn from(e: DomainError) -> Self {
        CopyError::Storage(e.to_string())
    }
}

impl From<sea_orm::DbErr> for CopyError {
    fn from(e: sea_orm::DbErr) -> Self {
        CopyError::Storage(e.to_string())
    }
}

fn file_of(url: &str) -> Result<PathBuf, CopyError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Err(CopyError::Postgres);
    }
    let path = url.strip_prefix("sqlite://").unwrap_or(url);
    Ok(PathBuf::from(path.split('?').next().unwrap_or(path)))
}

async fn open_read_only(file: &Path) -> Result<DatabaseConnection, CopyError> {
    if !file.is_file() {
        return Err(CopyError::Refused(format!(
            "{} is not a file",
            file.display()
        )));
    }
    Database::connect(format!("sqlite://{}?mode=ro", file.display()))
        .await
        .map_err(|e| {
            CopyError::Refused(format!(
                "{} is not a readable database: {e}",
                file.display()
            ))
        })
}

/// Copies the database at `url` to `out` while its node may be running; `out` must not exist.
pub async fn backup(url: &str, out: &Path) -> Result<Summary, CopyError> {
    let file = file_of(url)?;
    if out.exists() {
        return Err(CopyError::Refused(format!(
            "{} exists; a backup never overwrites a file",
            out.display()
        )));
    }
    let db = open_read_only(&file).await?;
    // One statement reading one snapshot: writes committed after it began are not in the copy.
    let copied = db
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "VACUUM INTO ?",
            [out.display().to_string().into()],
        ))
        .await;
    db.close().await?;
    copied?;
    inspect(out).await
}

/// Checks a copy (SQLite's integrity check, a unit of its own) and says what it holds.
pub async fn inspect(file: &Path) -> Result<Summary, CopyError> {
    let db = open_read_only(file).await?;
    let summary = summarize(&db, file).await;
    db.close().await?;
    summary
}

async fn summarize(db: &DatabaseConnection, file: &Path) -> Result<Summary, CopyError> {
    let unreadable = |e: sea_orm::DbErr| {
        CopyError::Refused(format!(
            "{} is not a readable database: {e}",
            file.display()
        ))
    };
    let check = db
        .query_one_raw(Statement::from_string(
            DbBackend::Sqlite,
            "PRAGMA integrity_check",
        ))
        .await
        .map_err(unreadable)?
        .map(|row| row.try_get_by_index::<String>(0))
        .transpose()
        .map_err(unreadable)?;
    if check.as_deref() != Some("ok") {
        return Err(CopyError::Refused(format!(
            "{} fails SQLite's integrity check: {}",
            file.display(),
            check.unwrap_or_default()
        )));
    }
    let unit = records::find_self(db)
        .await
        .map_err(|e| {
            CopyError::Refused(format!("{} is not a tiepdan database: {e}", file.display()))
        })?
        .ok_or_else(|| {
            CopyError::Refused(format!("{} holds no unit of its own", file.display()))
        })?;
    let heads = journal::last_sequences(db).await?;
    let bytes = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
    Ok(Summary { unit, heads, bytes })
}

/// What a restore did.
#[derive(Debug)]
pub struct Restored {
    pub summary: Summary,
    /// Where the database it replaced was moved (with its `-wal` and `-shm`), if there was one.
    pub kept: Option<PathBuf>,
}

/// Puts the copy `from` in place of the database at `url`, whose node must be stopped. The
/// replaced database is kept beside it, renamed; a copy of another unit is refused.
pub async fn restore(url: &str, from: &Path) -> Result<Restored, CopyError> {
    let file = file_of(url)?;
    let lock = DataLock::acquire(url)
        .await
        .map_err(|e| CopyError::Refused(e.to_string()))?;
    let outcome = replace(&file, from).await;
    lock.release().await;
    outcome
}

async fn replace(file: &Path, from: &Path) -> Result<Restored, CopyError> {
    let summary = inspect(from).await?;
    if file.exists() {
        let db = open_read_only(file).await?;
        let current = records::find_self(&db).await;
        db.close().await?;
        if let Ok(Some(current)) = current
            && current.code != summary.unit.code
        {
            return Err(CopyError::Refused(format!(
                "{} is a copy of unit {}, not of unit {} whose database this is",
                from.display(),
                summary.unit.code,
                current.code
            )));
        }
    }
    let io = |what: &str, e: std::io::Error| CopyError::Storage(format!("{what}: {e}"));
    // The copy goes in under a temporary name first: a crash leaves the old database whole.
    let incoming = with_suffix(file, ".restoring");
    std::fs::copy(from, &incoming).map_err(|e| io("cannot copy the backup", e))?;
    std::fs::File::open(&incoming)
        .and_then(|f| f.sync_all())
        .map_err(|e| io("cannot flush the copy", e))?;
    // Marked before it goes in: the node takes back from its parent what it lost since.
    mark_copy(&incoming, "restore").await?;
    let kept = if file.exists() {
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
        let kept = with_suffix(file, &format!(".replaced-{stamp}"));
        // The database with its write-ahead log: the log may hold committed writes.
        for ext in ["", "-wal", "-shm"] {
            let part = with_suffix(file, ext);
            if part.exists() {
                std::fs::rename(&part, with_suffix(&kept, ext))
                    .map_err(|e| io("cannot move the replaced database aside", e))?;
            }
        }
        Some(kept)
    } else {
        None
    };
    std::fs::rename(&incoming, file).map_err(|e| io("cannot put the copy in place", e))?;
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io("cannot flush the data directory", e))?;
    }
    Ok(Restored { summary, kept })
}

/// Marks the SQLite database `file` (made when missing) to recover from its parent.
async fn mark_copy(file: &Path, reason: &str) -> Result<(), CopyError> {
    let store = super::Store::open(&format!("sqlite://{}", file.display()))
        .await
        .map_err(|e| CopyError::Storage(e.to_string()))?;
    let tx = store.begin_write().await.map_err(DomainError::from)?;
    super::recovery::mark(&tx, reason, chrono::Utc::now()).await?;
    store.commit(tx).await.map_err(DomainError::from)?;
    store
        .close()
        .await
        .map_err(|e| CopyError::Storage(e.to_string()))?;
    // The lock file beside the copy's temporary name would outlive it.
    let _ = std::fs::remove_file(with_suffix(file, ".lock"));
    Ok(())
}

/// Marks the database at `url` (made empty when missing) to take back from its parent the
/// journal it lost before it writes anything: after a PostgreSQL restore, or a lost disk.
pub async fn mark_for_recovery(url: &str) -> Result<(), CopyError> {
    let store = super::Store::open(url)
        .await
        .map_err(|e| CopyError::Refused(e.to_string()))?;
    let tx = store.begin_write().await.map_err(DomainError::from)?;
    super::recovery::mark(&tx, "recover", chrono::Utc::now()).await?;
    store.commit(tx).await.map_err(DomainError::from)?;
    store
        .close()
        .await
        .map_err(|e| CopyError::Storage(e.to_string()))?;
    Ok(())
}

fn with_suffix(file: &Path, suffix: &str) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}
