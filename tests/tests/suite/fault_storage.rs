//! Storage faults on purpose: a full disk under a SQLite node, I/O errors from SQLite's writes,
//! and commits that fail at the database (a deferred constraint that fails at COMMIT, on both
//! backends; PostgreSQL's backends killed under the node). Whatever fails, a write is acknowledged only once it is
//! committed: while writes cannot commit they answer UNAVAILABLE with a `RetryInfo`, the
//! write path's health is NOT_SERVING and reads go on; the node recovers by itself once a
//! write commits again. Checked every time, across a restart: acknowledged ⊆ stored, nothing
//! stored twice, no id handed out twice, a retried request answered as the first time, and
//! the totals equal a recount.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::server::UnitLevel;
use crate::support::server::WRITES_HEALTH;
use crate::support::*;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use tiepdan_tests::{TestDb, TestNode, unit};
use tonic::Code;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_types::StatusExt;

const CODE: &str = "09574";

fn ward() -> crate::support::server::Unit {
    unit(CODE, "Phường Lê Lợi", UnitLevel::Ward, None)
}

/// What a client was told: request id → visit id, for every acknowledged visit.
#[derive(Default)]
struct Told {
    acknowledged: BTreeMap<String, String>,
    refused: BTreeSet<String>,
}

impl Told {
    /// Records visit `i` of `tag` once; a refusal must be the store's, said as such.
    async fn record(&mut self, ch: &Channel, tag: &str, i: u32) -> bool {
        let request = visit_request(tag, i);
        let id = request.request_id.clone();
        match reception(ch).record_visit(request).await {
            Ok(r) => {
                let visit = r.into_inner().visit.unwrap();
                self.refused.remove(&id);
                self.acknowledged.insert(id, visit.id);
                true
            }
            Err(status) => {
                assert_store_refusal(&status);
                self.refused.insert(id);
                false
            }
        }
    }

    /// Retries every refused request until each is acknowledged.
    async fn retry_refused(&mut self, ch: &Channel) {
        let pending: Vec<String> = self.refused.iter().cloned().collect();
        for id in pending {
            let (tag, i) = id.rsplit_once("-v").unwrap();
            let i: u32 = i.parse().unwrap();
            let done = std::sync::Mutex::new(None);
            wait_for(&format!("{id} to be recorded on retry"), || {
                let ch = ch.clone();
                let request = visit_request(tag, i);
                let done = &done;
                async move {
                    match reception(&ch).record_visit(request).await {
                        Ok(r) => {
                            *done.lock().unwrap() = Some(r.into_inner().visit.unwrap().id);
                            Ok(())
                        }
                        Err(status) => {
                            assert_store_refusal(&status);
                            Err(status.message().to_string())
                        }
                    }
                }
            })
            .await;
            self.refused.remove(&id);
            let visit = done.into_inner().unwrap().unwrap();
            self.acknowledged.insert(id, visit);
        }
    }

    /// The invariants, against what the node holds now.
    async fn check(&self, ch: &Channel, what: &str) {
        let held = all_visits(ch).await;
        let ids: Vec<&String> = held.iter().map(|(_, id)| id).collect();
        let distinct: BTreeSet<&String> = ids.iter().copied().collect();
        assert_eq!(distinct.len(), ids.len(), "{what}: a visit id stored twice");
        let summaries: BTreeSet<&String> = held.iter().map(|(s, _)| s).collect();
        assert_eq!(summaries.len(), held.len(), "{what}: a visit stored twice");
        let by_summary: BTreeMap<&String, &String> = held.iter().map(|(s, id)| (s, id)).collect();
        for (request, id) in &self.acknowledged {
            let (tag, i) = request.rsplit_once("-v").unwrap();
            let summary = visit_request(tag, i.parse().unwrap()).summary;
            assert_eq!(
                by_summary.get(&summary).copied(),
                Some(id),
                "{what}: acknowledged {request} as {id}, not stored as such"
            );
        }
        let told: BTreeSet<&String> = self.acknowledged.values().collect();
        assert_eq!(
            told.len(),
            self.acknowledged.len(),
            "{what}: one id told twice"
        );
        assert_eq!(
            held.len(),
            self.acknowledged.len(),
            "{what}: the node holds visits nobody was told of"
        );
        let report = subtree_report(ch, "").await;
        assert_eq!(
            report.totals.unwrap().visits,
            held.len() as u64,
            "{what}: the totals do not recount"
        );
        // A retry of anything acknowledged gets the first answer.
        let mut client = reception(ch);
        for (request, id) in &self.acknowledged {
            let (tag, i) = request.rsplit_once("-v").unwrap();
            let again = client
                .record_visit(visit_request(tag, i.parse().unwrap()))
                .await
                .unwrap()
                .into_inner()
                .visit
                .unwrap();
            assert_eq!(&again.id, id, "{what}: retry of {request}");
        }
    }
}

/// UNAVAILABLE, reason STORAGE, with a RetryInfo.
#[track_caller]
fn assert_store_refusal(status: &tonic::Status) {
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert_eq!(reason(status), "STORAGE", "{status:?}");
    assert!(
        status.get_error_details().retry_info().is_some(),
        "no RetryInfo: {status:?}"
    );
}

async fn writes_health(ch: &Channel) -> ServingStatus {
    let status = HealthClient::new(ch.clone())
        .check(HealthCheckRequest {
            service: WRITES_HEALTH.to_string(),
        })
        .await
        .unwrap()
        .into_inner()
        .status;
    ServingStatus::try_from(status).unwrap()
}

async fn wait_health(ch: &Channel, want: ServingStatus) {
    wait_for(&format!("write health {want:?}"), || async move {
        match writes_health(ch).await {
            s if s == want => Ok(()),
            s => Err(format!("{s:?}")),
        }
    })
    .await;
}

// ---- a full disk ----

/// A tmpfs of a few MiB mounted for the test, unmounted when dropped.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(bytes: u64) -> SmallDisk {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}")])
            .arg("tiepdan-full-disk")
            .arg(dir.path())
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "the full-disk test mounts a small tmpfs and needs root (CI runs as root): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        SmallDisk { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Fills the disk but for about `leave` bytes; returns the filler's path.
    fn fill(&self, leave: u64) -> PathBuf {
        let free = free_bytes(self.path());
        let filler = self.path().join("filler");
        let size = free.saturating_sub(leave);
        std::fs::write(&filler, vec![0x5a; size as usize]).unwrap();
        filler
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

fn free_bytes(path: &Path) -> u64 {
    let out = Command::new("df")
        .args(["--output=avail", "-B1"])
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .nth(1)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// Another connection can take SQLite's write lock: no writer was left in a transaction.
async fn assert_lock_free(url: &str) {
    let path = url.strip_prefix("sqlite://").unwrap();
    let outside = Database::connect(format!("sqlite://{path}?mode=rw"))
        .await
        .unwrap();
    outside
        .execute_unprepared("PRAGMA busy_timeout = 5000")
        .await
        .unwrap();
    outside
        .execute_unprepared("BEGIN IMMEDIATE")
        .await
        .expect("the database's write lock is held: a writer was left in a transaction");
    outside.execute_unprepared("ROLLBACK").await.unwrap();
    outside.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_loses_no_acknowledged_write() {
    let disk = SmallDisk::mount(4 << 20);
    let url = format!("sqlite://{}", disk.path().join("node.sqlite").display());
    let node = TestNode::start_on(TestDb::sqlite_at(&url), ward()).await;
    let ch = node.channel().await;
    let mut told = Told::default();
    for i in 0..5 {
        assert!(told.record(&ch, "before", i).await);
    }
    let filler = disk.fill(48 << 10);

    // Write until the disk has refused a good number of writes.
    let mut i = 0;
    while told.refused.len() < 20 {
        told.record(&ch, "full", i).await;
        i += 1;
        assert!(i < 20_000, "the disk never filled");
    }
    wait_health(&ch, ServingStatus::NotServing).await;
    // Reads go on.
    let held = all_visits(&ch).await;
    assert!(held.len() >= told.acknowledged.len());
    // A retry while the disk is still full is refused again, never acknowledged.
    let again: Vec<String> = told.refused.iter().take(3).cloned().collect();
    for id in again {
        let (tag, n) = id.rsplit_once("-v").unwrap();
        let status = reception(&ch)
            .record_visit(visit_request(tag, n.parse().unwrap()))
            .await;
        if let Err(status) = status {
            assert_store_refusal(&status);
        } else {
            // A checkpoint may have freed a few pages of the log; then it is simply done.
            told.refused.remove(&id);
            told.acknowledged
                .insert(id, status.unwrap().into_inner().visit.unwrap().id);
        }
    }

    std::fs::remove_file(filler).unwrap();
    told.retry_refused(&ch).await;
    for n in 0..5 {
        assert!(told.record(&ch, "freed", n).await);
    }
    wait_health(&ch, ServingStatus::Serving).await;
    assert_lock_free(&url).await;
    told.check(&ch, "after space was freed").await;

    let db = node.stop().await;
    let node = TestNode::start_on(db, ward()).await;
    let ch = node.channel().await;
    told.check(&ch, "after a restart").await;
    for n in 0..5 {
        assert!(told.record(&ch, "restarted", n).await);
    }
    told.check(&ch, "with new writes after the restart").await;
    drop(node.stop().await);
    drop(disk);
}

// ---- I/O errors ----

/// Sets this process's file size limit (soft), as `prlimit` does: a write past it fails with
/// EFBIG, which SQLite reports as an I/O error.
fn limit_file_size(bytes: Option<u64>) {
    let soft = bytes.map_or("unlimited".to_string(), |b| b.to_string());
    let status = Command::new("prlimit")
        .arg("--pid")
        .arg(std::process::id().to_string())
        .arg(format!("--fsize={soft}:"))
        .status()
        .expect("run prlimit (util-linux)");
    assert!(status.success(), "prlimit failed");
}

fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// SQLite's writes fail with I/O errors (a file size limit on this test's process: nextest
/// runs each test in a process of its own) while a client keeps writing; the same
/// invariants hold once the limit is lifted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn io_errors_lose_no_acknowledged_write() {
    // A write past the limit raises SIGXFSZ, which would end the process: it is caught.
    let _sigxfsz = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::from_raw(25))
        .expect("catch SIGXFSZ");
    let db = TestDb::new(Backend::Sqlite).await;
    let dir = db.dir().unwrap().to_path_buf();
    let url = db.url.clone();
    let node = TestNode::start_on(db, ward()).await;
    let ch = node.channel().await;
    let mut told = Told::default();
    for i in 0..5 {
        assert!(told.record(&ch, "before", i).await);
    }
    let largest = ["node.sqlite", "node.sqlite-wal"]
        .iter()
        .map(|f| file_size(&dir.join(f)))
        .max()
        .unwrap();
    limit_file_size(Some(largest + (16 << 10)));
    let mut i = 0;
    while told.refused.len() < 20 && i < 20_000 {
        told.record(&ch, "ioerr", i).await;
        i += 1;
    }
    let refused = told.refused.len();
    let health = writes_health(&ch).await;
    limit_file_size(None);
    assert!(refused >= 20, "the file size limit never failed a write");
    assert_eq!(health, ServingStatus::NotServing);

    told.retry_refused(&ch).await;
    wait_health(&ch, ServingStatus::Serving).await;
    assert_lock_free(&url).await;
    told.check(&ch, "after the I/O errors").await;
    let db = node.stop().await;
    let node = TestNode::start_on(db, ward()).await;
    let ch = node.channel().await;
    told.check(&ch, "after a restart").await;
    drop(node.stop().await);
}

// ---- commits that fail at the database ----

/// A switch in the node's database that makes every commit of a write fail: a deferred
/// constraint checked at COMMIT (SQLite: a deferred foreign key; PostgreSQL: a deferred
/// constraint trigger that raises).
struct CommitFault {
    db: DatabaseConnection,
}

impl CommitFault {
    async fn install(url: &str, backend: Backend) -> CommitFault {
        let db = Database::connect(url.to_string()).await.unwrap();
        let setup = match backend {
            Backend::Sqlite => vec![
                "CREATE TABLE fault_switch (armed INTEGER NOT NULL)",
                "INSERT INTO fault_switch VALUES (0)",
                "CREATE TABLE fault_parent (id INTEGER PRIMARY KEY)",
                "CREATE TABLE fault_child (parent INTEGER REFERENCES fault_parent(id) \
                 DEFERRABLE INITIALLY DEFERRED)",
                "CREATE TRIGGER fault_at_commit AFTER INSERT ON request_log \
                 WHEN (SELECT armed FROM fault_switch) = 1 \
                 BEGIN INSERT INTO fault_child VALUES (-1); END",
            ],
            Backend::Postgres => vec![
                "CREATE TABLE fault_switch (armed INTEGER NOT NULL)",
                "INSERT INTO fault_switch VALUES (0)",
                "CREATE FUNCTION fault_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$ \
                 BEGIN IF (SELECT armed FROM fault_switch) = 1 THEN \
                 RAISE EXCEPTION 'injected commit failure'; END IF; RETURN NULL; END $$",
                "CREATE CONSTRAINT TRIGGER fault_at_commit AFTER INSERT ON request_log \
                 DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION fault_at_commit()",
            ],
        };
        for statement in setup {
            db.execute_unprepared(statement).await.unwrap();
        }
        CommitFault { db }
    }

    async fn arm(&self, armed: bool) {
        self.db
            .execute_unprepared(&format!(
                "UPDATE fault_switch SET armed = {}",
                u8::from(armed)
            ))
            .await
            .unwrap();
    }

    /// PostgreSQL: ends every other session on the node's database, as a server restart or a
    /// dropped connection would.
    async fn kill_backends(&self) -> u64 {
        let killed = self
            .db
            .query_all_raw(sea_orm::Statement::from_string(
                self.db.get_database_backend(),
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = current_database() AND pid <> pg_backend_pid()",
            ))
            .await
            .unwrap();
        killed.len() as u64
    }
}

async fn failed_commits_are_never_acknowledged(backend: Backend) {
    let db = TestDb::new(backend).await;
    let url = db.url.clone();
    let node = TestNode::start_on(db, ward()).await;
    let ch = node.channel().await;
    let fault = CommitFault::install(&url, backend).await;
    let mut told = Told::default();
    for i in 0..5 {
        assert!(told.record(&ch, "before", i).await);
    }

    fault.arm(true).await;
    for i in 0..10 {
        assert!(
            !told.record(&ch, "failing", i).await,
            "a write whose commit failed was acknowledged"
        );
    }
    wait_health(&ch, ServingStatus::NotServing).await;
    assert_eq!(
        all_visits(&ch).await.len(),
        5,
        "reads go on, and see no failed write"
    );
    fault.arm(false).await;
    told.retry_refused(&ch).await;
    wait_health(&ch, ServingStatus::Serving).await;
    if backend == Backend::Sqlite {
        assert_lock_free(&url).await;
    }

    // Armed and disarmed while four clients write at once.
    let mut writers = tokio::task::JoinSet::new();
    for w in 0..4u32 {
        let ch = ch.clone();
        writers.spawn(async move {
            let mut told = Told::default();
            for i in 0..40 {
                told.record(&ch, &format!("busy{w}"), i).await;
            }
            told
        });
    }
    // The sleeps pace the fault windows under test.
    for _ in 0..3 {
        fault.arm(true).await;
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
        fault.arm(false).await;
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    }
    while let Some(done) = writers.join_next().await {
        let part = done.unwrap();
        told.acknowledged.extend(part.acknowledged);
        told.refused.extend(part.refused);
    }
    told.retry_refused(&ch).await;

    if backend == Backend::Postgres {
        // Sessions cut under the node: writes fail or succeed, never acknowledged and lost.
        for round in 0..3 {
            assert!(fault.kill_backends().await > 0);
            for i in 0..5 {
                told.record(&ch, &format!("cut{round}"), i).await;
            }
        }
        told.retry_refused(&ch).await;
        wait_health(&ch, ServingStatus::Serving).await;
    }
    told.check(&ch, "after the faults").await;

    drop(fault);
    let db = node.stop().await;
    let node = TestNode::start_on(db, ward()).await;
    let ch = node.channel().await;
    told.check(&ch, "after a restart").await;
    drop(node.stop().await);
}

on_every_backend!(failed_commits_are_never_acknowledged);
