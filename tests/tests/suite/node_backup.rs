//! `tiepdan-node backup` and `restore`: a copy taken while the node runs and writes holds
//! every write acknowledged before it began, and restored (node stopped) the node serves
//! exactly that; a copy never overwrites a file, and a restore refuses a running node, a copy
//! of another unit and a damaged copy, changing nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::support::server::{DatabaseArgs, UnitLevel, backup, restore};
use crate::support::*;
use tiepdan_tests::{TestDb, TestNode};

fn args_for(url: &str) -> DatabaseArgs {
    DatabaseArgs {
        unit: None,
        db: Some(url.to_string()),
        data_dir: None,
        config: None,
    }
}

async fn record(node: &TestNode, n: u32, day: u32) -> BTreeSet<String> {
    let ch = node.channel().await;
    let mut ids = BTreeSet::new();
    for i in 0..n {
        let at = local(2019, 3, day, 8, i, 0);
        let visit = reception(&ch)
            .record_visit(visit_req(at, pb::ReceiverRole::Staff, 1))
            .await
            .unwrap()
            .into_inner()
            .visit
            .unwrap();
        ids.insert(visit.id);
    }
    ids
}

async fn visit_ids(node: &TestNode) -> BTreeSet<String> {
    visits_at(&node.channel().await)
        .await
        .into_iter()
        .map(|v| v.id)
        .collect()
}

fn file_bytes(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_writing_restores_what_it_held() {
    let node = TestNode::start(Backend::Sqlite, home_unit()).await;
    let before = record(&node, 10, 4).await;
    let copies = tempfile::tempdir().unwrap();
    let out = copies.path().join("269.backup.sqlite");

    // Taken while another task keeps writing: the copy is one snapshot, whole.
    let writer = {
        let ch = node.channel().await;
        tokio::spawn(async move {
            for i in 0..20 {
                let at = local(2019, 3, 5, 9, i, 0);
                reception(&ch)
                    .record_visit(visit_req(at, pb::ReceiverRole::Staff, 1))
                    .await
                    .unwrap();
            }
        })
    };
    let summary = backup(&args_for(&node.db.url), &out).await.unwrap();
    writer.await.unwrap();
    assert_eq!(summary.unit.code, HOME);
    let held = summary.heads[HOME];
    assert!(held >= 10, "the copy holds the acknowledged visits: {held}");

    // A second backup to the same file is refused and leaves the first as it was.
    let first = file_bytes(&out);
    let again = backup(&args_for(&node.db.url), &out).await;
    assert!(again.unwrap_err().to_string().contains("never overwrites"));
    assert_eq!(file_bytes(&out), first);

    // Restoring under a running node is refused.
    let refused = restore(&args_for(&node.db.url), &out).await.unwrap_err();
    assert!(refused.to_string().contains("in use"), "{refused}");

    let after_copy = record(&node, 5, 6).await;
    let all = visit_ids(&node).await;
    assert_eq!(all.len(), 10 + 20 + 5);
    let db = node.stop().await;
    let restored = restore(&args_for(&db.url), &out).await.unwrap();
    assert_eq!(restored.heads[HOME], held);

    let node = TestNode::start_on(db, home_unit()).await;
    let now = visit_ids(&node).await;
    assert!(
        before.is_subset(&now),
        "every visit before the copy is back"
    );
    assert!(
        now.is_disjoint(&after_copy),
        "nothing written after the copy"
    );
    assert!(now.is_subset(&all));
    // The journal ends where the copy's did: one event per visit (the unit's own first).
    let mut api = Api::connect(node).await;
    assert_eq!(api.last_seq().await, held);
    // The replaced database is kept beside it, whole.
    let dir = Path::new(api.node.db.url.strip_prefix("sqlite://").unwrap())
        .parent()
        .unwrap()
        .to_path_buf();
    let kept: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.to_string_lossy().contains(".replaced-")
                && !p.to_string_lossy().ends_with("-wal")
                && !p.to_string_lossy().ends_with("-shm")
        })
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    let old = TestDb::sqlite_at(&format!("sqlite://{}", kept[0].display()));
    let old = TestNode::start_on(old, home_unit()).await;
    assert_eq!(visit_ids(&old).await, all);
    drop(old.stop().await);
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_refuses_another_units_copy_and_a_damaged_one() {
    let home = TestNode::start(Backend::Sqlite, home_unit()).await;
    let other = TestNode::start(
        Backend::Sqlite,
        tiepdan_tests::unit("09574", "Phường Ngô Quyền", UnitLevel::Ward, Some(HOME)),
    )
    .await;
    record(&home, 3, 4).await;
    record(&other, 2, 4).await;
    let copies = tempfile::tempdir().unwrap();
    let other_copy = copies.path().join("09574.sqlite");
    backup(&args_for(&other.db.url), &other_copy).await.unwrap();
    let home_copy = copies.path().join("269.sqlite");
    backup(&args_for(&home.db.url), &home_copy).await.unwrap();
    let ids = visit_ids(&home).await;
    let db = home.stop().await;
    let file = PathBuf::from(db.url.strip_prefix("sqlite://").unwrap());
    let original = file_bytes(&file);

    let wrong = restore(&args_for(&db.url), &other_copy).await.unwrap_err();
    assert!(
        wrong
            .to_string()
            .contains("copy of unit 09574, not of unit 269"),
        "{wrong}"
    );
    // A damaged copy: every page but the first (the schema) overwritten.
    let damaged = copies.path().join("damaged.sqlite");
    let mut bytes = file_bytes(&home_copy);
    bytes[4096..].fill(0xA5);
    std::fs::write(&damaged, &bytes).unwrap();
    let refused = restore(&args_for(&db.url), &damaged).await.unwrap_err();
    assert!(
        refused.to_string().contains("integrity") || refused.to_string().contains("not a"),
        "{refused}"
    );
    let not_a_db = copies.path().join("notes.txt");
    std::fs::write(&not_a_db, "sổ tiếp công dân").unwrap();
    assert!(restore(&args_for(&db.url), &not_a_db).await.is_err());
    // Nothing changed: the database is byte for byte the one the node left.
    assert_eq!(file_bytes(&file), original);
    let home = TestNode::start_on(db, home_unit()).await;
    assert_eq!(visit_ids(&home).await, ids);
    drop(home.stop().await);
    drop(other.stop().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_is_copied_with_its_own_tools() {
    let db = TestDb::new(Backend::Postgres).await;
    let copies = tempfile::tempdir().unwrap();
    let out = copies.path().join("x");
    let said = backup(&args_for(&db.url), &out).await.unwrap_err();
    assert!(said.to_string().contains("pg_dump"), "{said}");
    assert!(!out.exists());
    let said = restore(&args_for(&db.url), &out).await.unwrap_err();
    assert!(said.to_string().contains("pg_restore"), "{said}");
}
