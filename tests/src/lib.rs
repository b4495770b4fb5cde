//! Shared helpers of the integration tests: real nodes on `127.0.0.1:0`, each with its own
//! real database — a SQLite file in a temporary directory, or a fresh PostgreSQL database
//! created for the test and dropped after it.

use std::time::Duration;

use sea_orm::{ConnectionTrait, Database, Statement};
use tiepdan_server::domain::model::{Unit, UnitLevel};
use tiepdan_server::node::{self, NodeConfig, RunningNode};
use tokio::net::TcpListener;
use tonic::transport::{Channel, Endpoint};

/// Storage backend of a test node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// URL of the PostgreSQL server's maintenance database the tests create databases from.
/// Override with `TIEPDAN_TEST_PG`.
pub fn pg_admin_url() -> String {
    std::env::var("TIEPDAN_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

/// A database that lives as long as the value.
pub struct TestDb {
    pub url: String,
    pub backend: Backend,
    dir: Option<tempfile::TempDir>,
    pg_name: Option<String>,
}

impl TestDb {
    /// A new empty database on `backend`.
    pub async fn new(backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
                let url = format!("sqlite://{}", dir.path().join("node.sqlite").display());
                TestDb {
                    url,
                    backend,
                    dir: Some(dir),
                    pg_name: None,
                }
            }
            Backend::Postgres => {
                let name = format!("tiepdan_t_{}", uuid::Uuid::new_v4().simple());
                let admin = Database::connect(pg_admin_url()).await.unwrap_or_else(|e| {
                    panic!("PostgreSQL at {} is required: {e}", pg_admin_url())
                });
                admin
                    .execute_raw(Statement::from_string(
                        admin.get_database_backend(),
                        format!("CREATE DATABASE {name}"),
                    ))
                    .await
                    .unwrap_or_else(|e| panic!("create database: {e}"));
                let _ = admin.close().await;
                let base = pg_admin_url();
                let url = match base.rfind('/') {
                    Some(i) => format!("{}/{name}", &base[..i]),
                    None => panic!("bad TIEPDAN_TEST_PG {base}"),
                };
                TestDb {
                    url,
                    backend,
                    dir: None,
                    pg_name: Some(name),
                }
            }
        }
    }

    /// A SQLite database at `url` (`sqlite://PATH`), in a directory the caller owns.
    pub fn sqlite_at(url: &str) -> TestDb {
        TestDb {
            url: url.to_string(),
            backend: Backend::Sqlite,
            dir: None,
            pg_name: None,
        }
    }

    /// The SQLite file's directory, when on SQLite.
    pub fn dir(&self) -> Option<&std::path::Path> {
        self.dir.as_ref().map(|d| d.path())
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(name) = self.pg_name.take() else {
            return;
        };
        // Drop the database from a thread of its own: Drop cannot await.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok(admin) = Database::connect(pg_admin_url()).await {
                    let _ = admin
                        .execute_raw(Statement::from_string(
                            admin.get_database_backend(),
                            format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                        ))
                        .await;
                    let _ = admin.close().await;
                }
            });
        })
        .join();
    }
}

/// A unit for tests.
pub fn unit(code: &str, name: &str, level: UnitLevel, parent: Option<&str>) -> Unit {
    Unit {
        code: code.to_string(),
        name: name.to_string(),
        level,
        parent_code: parent.map(str::to_string),
        remote: false,
    }
}

/// A node serving on `127.0.0.1:0` over its own database.
pub struct TestNode {
    pub node: Option<RunningNode>,
    pub db: TestDb,
    pub unit: Unit,
}

impl TestNode {
    /// Starts a node for `unit` on a new database on `backend`.
    pub async fn start(backend: Backend, unit: Unit) -> TestNode {
        let db = TestDb::new(backend).await;
        TestNode::start_on(db, unit).await
    }

    /// Starts a node for `unit` on an existing database (a restart).
    pub async fn start_on(db: TestDb, unit: Unit) -> TestNode {
        TestNode::start_with(db, unit, None, |_| {}).await
    }

    /// Starts a node on `db` with a parent link to `parent_url`, adjusting the configuration.
    pub async fn start_with(
        db: TestDb,
        unit: Unit,
        parent_url: Option<String>,
        adjust: impl FnOnce(&mut NodeConfig),
    ) -> TestNode {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("bind: {e}"));
        let mut config = NodeConfig::new(unit.clone(), db.url.clone());
        config.parent_url = parent_url;
        config.uplink.backoff_min = Duration::from_millis(20);
        config.uplink.backoff_max = Duration::from_millis(300);
        adjust(&mut config);
        let node = node::start(config, listener)
            .await
            .unwrap_or_else(|e| panic!("start node: {e}"));
        TestNode {
            node: Some(node),
            db,
            unit,
        }
    }

    /// The running node.
    pub fn running(&self) -> &RunningNode {
        match &self.node {
            Some(n) => n,
            None => panic!("node {} is stopped", self.unit.code),
        }
    }

    /// The node's URL.
    pub fn url(&self) -> String {
        self.node.as_ref().map(|n| n.url()).unwrap_or_default()
    }

    /// A channel to the node.
    pub async fn channel(&self) -> Channel {
        channel(&self.url()).await
    }

    /// Kills the node abruptly (no graceful shutdown), keeping its database for a restart.
    pub fn kill(mut self) -> TestDb {
        if let Some(node) = self.node.take() {
            node.kill();
        }
        self.db
    }

    /// Stops the node, keeping its database; returns it for a restart.
    pub async fn stop(mut self) -> TestDb {
        if let Some(node) = self.node.take() {
            let _ = node.stop().await;
        }
        self.db
    }
}

/// A channel to `url`, connected.
pub async fn channel(url: &str) -> Channel {
    Endpoint::from_shared(url.to_string())
        .unwrap_or_else(|e| panic!("endpoint {url}: {e}"))
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .unwrap_or_else(|e| panic!("connect {url}: {e}"))
}
