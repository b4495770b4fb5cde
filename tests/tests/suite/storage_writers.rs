//! Writers of one node's database take the write lock in the order they asked for it. A
//! commune recording steadily must not starve another write (the uplink adopting a returning
//! parent, a petition received over the API): on SQLite, writers used to race for the file's
//! lock through SQLite's busy handler, which polls with growing sleeps, so a write that had
//! waited a while lost to every newcomer.
//!
//! Commit order is read from an autoincrement column written inside each write transaction
//! (writers are serialized, so its order is theirs); no timing is asserted. A probe is counted
//! from just before it asks for the lock, so a probe's task paused by a busy machine, or
//! waiting for a new pooled connection, sees the steady writers go round a few times: the
//! bound allows that, not the hundreds of overtakes of writers polling for the lock.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support::on_every_backend;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::support::server::Store;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use tiepdan_tests::{Backend, TestDb};

/// Writers that keep writing while the probes run.
const STEADY: usize = 4;
/// Probe writes, one after another.
const PROBES: usize = 20;
/// Most later writes a probe may see served first: ten rounds of the steady writers. In
/// order, a probe waits for about one round; polling for the lock, probes were overtaken
/// by up to 1,889.
const OVERTAKEN: i64 = 10 * STEADY as i64;

async fn highest(db: &DatabaseConnection, who: &str) -> i64 {
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            format!("SELECT COALESCE(MAX(n), 0) AS n FROM write_order WHERE who LIKE '{who}'"),
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

async fn write(store: &Store, who: &str) {
    let tx = store.begin_write().await.unwrap();
    tx.execute_raw(Statement::from_string(
        tx.get_database_backend(),
        format!("INSERT INTO write_order (who) VALUES ('{who}')"),
    ))
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

async fn writes_are_served_in_order(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = Store::open(&db.url).await.unwrap();
    let column = match backend {
        Backend::Sqlite => "INTEGER PRIMARY KEY AUTOINCREMENT",
        Backend::Postgres => "BIGSERIAL PRIMARY KEY",
    };
    store
        .reader()
        .execute_unprepared(&format!(
            "CREATE TABLE write_order (n {column}, who TEXT NOT NULL)"
        ))
        .await
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let steady: Vec<_> = (0..STEADY)
        .map(|_| {
            let (store, stop) = (store.clone(), stop.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    write(&store, "steady").await;
                }
            })
        })
        .collect();
    // Let every steady writer get going first.
    while highest(store.reader(), "steady").await < (STEADY * 4) as i64 {
        tokio::task::yield_now().await;
    }
    let first = highest(store.reader(), "%").await;
    let mut overtaken = Vec::new();
    for _ in 0..PROBES {
        let asked = highest(store.reader(), "%").await;
        write(&store, "probe").await;
        let served = highest(store.reader(), "probe").await;
        overtaken.push(served - asked - 1);
    }
    let last = highest(store.reader(), "%").await;
    stop.store(true, Ordering::Relaxed);
    for task in steady {
        task.await.unwrap();
    }
    // The probes did wait behind steady writes: the test exercised contention.
    let steady_during = last - first - PROBES as i64;
    assert!(
        steady_during >= PROBES as i64,
        "only {steady_during} steady writes during {PROBES} probes"
    );
    let worst = overtaken.iter().copied().max().unwrap_or_default();
    assert!(
        worst <= OVERTAKEN,
        "a write was overtaken by {worst} later ones (each probe: {overtaken:?})"
    );
    drop(store);
}

on_every_backend!(writes_are_served_in_order);
