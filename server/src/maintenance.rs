//! `tiepdan-node backup` and `restore`: a copy of a node's database taken while it runs, and
//! put back with the node stopped.

use std::path::PathBuf;

use clap::Args;

use crate::config::{ConfigError, default_sqlite, read_file};
use crate::domain::validate::is_unit_code;
use crate::storage::backup::{self, Summary};

/// Which database: `--db`, or the unit's SQLite file in `--data-dir` (as `serve` finds it).
#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// The unit whose database it is (its SQLite file is `DATA_DIR/UNIT.sqlite`).
    #[arg(long, env = "TIEPDAN_UNIT")]
    pub unit: Option<String>,
    /// Database URL (`sqlite://PATH` or `postgres://…`), instead of the data directory.
    #[arg(long, env = "TIEPDAN_DB")]
    pub db: Option<String>,
    /// Data directory holding the unit's SQLite file.
    #[arg(long, env = "TIEPDAN_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Optional TOML configuration file (the node's `node.toml`).
    #[arg(long, env = "TIEPDAN_CONFIG")]
    pub config: Option<PathBuf>,
}

impl DatabaseArgs {
    /// The database URL, found as `serve` finds it.
    pub fn url(&self) -> Result<String, ConfigError> {
        let file = match &self.config {
            Some(path) => read_file(path)?,
            None => Default::default(),
        };
        if let Some(url) = self.db.clone().or(file.db) {
            return Ok(url);
        }
        let unit = self
            .unit
            .clone()
            .or(file.unit)
            .ok_or_else(|| ConfigError::Invalid("--unit or --db is required".into()))?;
        if !is_unit_code(&unit) {
            return Err(ConfigError::Invalid(format!(
                "--unit {unit:?}: a unit code is 2 to 5 digits"
            )));
        }
        let data_dir = self
            .data_dir
            .clone()
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("data"));
        Ok(default_sqlite(&data_dir, &unit))
    }
}

/// Copies the database to `out` (the node may be running); says what the copy holds.
pub async fn backup(args: &DatabaseArgs, out: &std::path::Path) -> anyhow::Result<Summary> {
    let summary = backup::backup(&args.url()?, out).await?;
    println!("backup          {}", out.display());
    describe(&summary);
    Ok(summary)
}

/// Puts the copy `from` in place (the node must be stopped); says what it holds and where the
/// replaced database went.
pub async fn restore(args: &DatabaseArgs, from: &std::path::Path) -> anyhow::Result<Summary> {
    let restored = backup::restore(&args.url()?, from).await?;
    println!("restored        {}", from.display());
    describe(&restored.summary);
    if let Some(kept) = &restored.kept {
        println!("replaced        kept as {}", kept.display());
    }
    Ok(restored.summary)
}

fn describe(s: &Summary) {
    println!("unit            {} {}", s.unit.code, s.unit.name);
    println!("size            {} bytes", s.bytes);
    for (origin, last) in &s.heads {
        println!("journal {origin:<7} events 1..{last}");
    }
}

/// Marks the unit's database (made empty when it is missing: a lost disk) to take back from
/// its parent the journal events it lost before it writes anything new.
pub async fn recover(args: &DatabaseArgs) -> anyhow::Result<()> {
    let url = args.url()?;
    backup::mark_for_recovery(&url).await?;
    println!("marked          {url}");
    println!(
        "next            start the node with its parent reachable: it takes back its journal \
         from the parent before it accepts writes (see GetSyncStatus.recovery)"
    );
    Ok(())
}
