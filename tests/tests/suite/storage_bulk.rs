//! The multi-row statements the apply writes with (`records::insert_rows`), on both
//! backends: every row lands across statement boundaries with its values in their columns,
//! a duplicate key is refused and leaves nothing, a replace takes the new row's columns, an
//! add sums, and a row with a column not set is refused before anything is sent. Inserts
//! into several tables sent together (`records::Inserts`: one call of statements on SQLite,
//! one statement with data-modifying `WITH` parts on PostgreSQL) each land, across round
//! trips, and one refused insert takes its transaction's others with it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support::on_every_backend;
use crate::support::server::Store;
use crate::support::server::{Inserts, OnKey, insert_rows};
use crate::support::server::{journal_event, journal_head, tally};
use sea_orm::{
    ActiveValue::NotSet, ActiveValue::Set, DbErr, EntityTrait, PaginatorTrait, QueryOrder, SqlErr,
};
use tiepdan_tests::{Backend, TestDb};

/// More rows than one statement carries (500), and not a multiple of it.
const ROWS: i64 = 1203;

fn journal_rows(range: std::ops::Range<i64>, action: &str) -> Vec<journal_event::ActiveModel> {
    range
        .map(|i| journal_event::ActiveModel {
            origin_unit: Set(format!("u{}", i % 3)),
            sequence: Set(i),
            event_us: Set(i * 7 + 1),
            action: Set(format!("{action}{i}")),
            payload: Set(i.to_be_bytes().to_vec()),
            hash: Set(vec![u8::try_from(i % 251).unwrap(); 32]),
        })
        .collect()
}

fn tally_row(unit: &str, day: u32, metric: &str, value: i64) -> tally::ActiveModel {
    tally::ActiveModel {
        subtree: Set(true),
        unit_code: Set(unit.to_string()),
        day: Set(chrono::NaiveDate::from_ymd_opt(2019, 3, day).unwrap()),
        metric: Set(metric.to_string()),
        value: Set(value),
    }
}

async fn journal(store: &Store) -> Vec<journal_event::Model> {
    journal_event::Entity::find()
        .order_by_asc(journal_event::Column::Sequence)
        .all(store.reader())
        .await
        .unwrap()
}

async fn bulk_rows_insert_replace_and_add(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = Store::open(&db.url).await.unwrap();
    let tx = store.begin_write().await.unwrap();
    insert_rows(&tx, journal_rows(0..ROWS, "a"), OnKey::Refuse)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let rows = journal(&store).await;
    assert_eq!(rows.len() as i64, ROWS);
    for (i, row) in (0..ROWS).zip(&rows) {
        assert_eq!(row.sequence, i);
        assert_eq!(row.origin_unit, format!("u{}", i % 3));
        assert_eq!(row.event_us, i * 7 + 1, "row {i}");
        assert_eq!(row.action, format!("a{i}"));
        assert_eq!(row.payload, i.to_be_bytes().to_vec());
        assert_eq!(row.hash.len(), 32);
    }

    // A key stored already: the whole statement is refused, its new rows too.
    let tx = store.begin_write().await.unwrap();
    let refused = insert_rows(&tx, journal_rows(ROWS - 2..ROWS + 5, "b"), OnKey::Refuse)
        .await
        .expect_err("a duplicate key was accepted");
    assert_unique_violation(&refused);
    drop(tx);
    assert_eq!(journal(&store).await.len() as i64, ROWS);

    // Replace: the stored rows take the new columns, the new rows are added.
    let tx = store.begin_write().await.unwrap();
    insert_rows(&tx, journal_rows(ROWS - 2..ROWS + 5, "c"), OnKey::Replace)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let rows = journal(&store).await;
    assert_eq!(rows.len() as i64, ROWS + 5);
    for (i, row) in (0..ROWS + 5).zip(&rows) {
        let action = if i >= ROWS - 2 { "c" } else { "a" };
        assert_eq!(row.action, format!("{action}{i}"));
    }

    // Add: the stored value grows by the new one; a new key starts at its value.
    let tx = store.begin_write().await.unwrap();
    let add = || OnKey::Add(tally::Column::Value);
    insert_rows(
        &tx,
        vec![
            tally_row("x", 1, "visits", 2),
            tally_row("x", 2, "visits", 3),
        ],
        add(),
    )
    .await
    .unwrap();
    insert_rows(
        &tx,
        vec![
            tally_row("x", 1, "visits", 5),
            tally_row("y", 1, "visits", -4),
        ],
        add(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let mut tallies: Vec<(String, u32, i64)> = tally::Entity::find()
        .all(store.reader())
        .await
        .unwrap()
        .into_iter()
        .map(|t| (t.unit_code, chrono::Datelike::day(&t.day), t.value))
        .collect();
    tallies.sort();
    assert_eq!(
        tallies,
        vec![("x".into(), 1, 7), ("x".into(), 2, 3), ("y".into(), 1, -4)]
    );

    // A column not set: refused before anything is written.
    let mut rows = journal_rows(ROWS + 5..ROWS + 8, "d");
    rows[2].hash = NotSet;
    let tx = store.begin_write().await.unwrap();
    let refused = insert_rows(&tx, rows, OnKey::Refuse).await;
    let message = refused
        .expect_err("a row without its hash was accepted")
        .to_string();
    assert!(message.contains("journal_event.hash"), "{message}");
    tx.commit().await.unwrap();
    assert_eq!(
        journal_event::Entity::find()
            .count(store.reader())
            .await
            .unwrap() as i64,
        ROWS + 5
    );
    drop(store);
}

/// Asserts that `e` is the database refusing a key stored already.
#[track_caller]
fn assert_unique_violation(e: &DbErr) {
    assert!(
        matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))),
        "refused for another reason: {e}"
    );
}

on_every_backend!(bulk_rows_insert_replace_and_add);

async fn inserts_of_several_tables_go_together(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = Store::open(&db.url).await.unwrap();
    // 6,000 journal rows are 36,000 values: more than one round trip carries (32,000).
    const MANY: i64 = 6000;
    let head = |origin: &str, sequence: i64| journal_head::ActiveModel {
        origin_unit: Set(origin.to_string()),
        last_sequence: Set(sequence),
        last_hash: Set(vec![7; 32]),
    };
    let tx = store.begin_write().await.unwrap();
    insert_rows(
        &tx,
        vec![tally_row("x", 1, "visits", 2)],
        OnKey::Add(tally::Column::Value),
    )
    .await
    .unwrap();
    insert_rows(&tx, vec![head("u0", 1)], OnKey::Replace)
        .await
        .unwrap();
    let mut inserts = Inserts::new(store.backend());
    inserts
        .add(journal_rows(0..MANY, "a"), OnKey::Refuse)
        .unwrap();
    inserts
        .add(vec![head("u0", MANY), head("u1", 5)], OnKey::Replace)
        .unwrap();
    inserts
        .add(
            vec![
                tally_row("x", 1, "visits", 5),
                tally_row("x", 2, "visits", 1),
            ],
            OnKey::Add(tally::Column::Value),
        )
        .unwrap();
    inserts.run(&tx).await.unwrap();
    tx.commit().await.unwrap();
    let rows = journal(&store).await;
    assert_eq!(rows.len() as i64, MANY);
    for (i, row) in (0..MANY).zip(&rows) {
        assert_eq!((row.sequence, row.event_us), (i, i * 7 + 1), "row {i}");
        assert_eq!(row.action, format!("a{i}"));
    }
    let mut heads: Vec<(String, i64)> = journal_head::Entity::find()
        .all(store.reader())
        .await
        .unwrap()
        .into_iter()
        .map(|h| (h.origin_unit, h.last_sequence))
        .collect();
    heads.sort();
    assert_eq!(heads, vec![("u0".into(), MANY), ("u1".into(), 5)]);
    let mut tallies: Vec<(u32, i64)> = tally::Entity::find()
        .all(store.reader())
        .await
        .unwrap()
        .into_iter()
        .map(|t| (chrono::Datelike::day(&t.day), t.value))
        .collect();
    tallies.sort();
    assert_eq!(tallies, vec![(1, 7), (2, 1)]);

    // The last insert refused (a journal row stored already): the transaction keeps none of
    // the inserts sent with it.
    let tx = store.begin_write().await.unwrap();
    let mut inserts = Inserts::new(store.backend());
    inserts
        .add(
            vec![tally_row("x", 1, "visits", 100)],
            OnKey::Add(tally::Column::Value),
        )
        .unwrap();
    inserts.add(vec![head("u1", 9)], OnKey::Replace).unwrap();
    inserts
        .add(journal_rows(MANY - 1..MANY + 3, "b"), OnKey::Refuse)
        .unwrap();
    let refused = inserts
        .run(&tx)
        .await
        .expect_err("a duplicate key was accepted");
    assert_unique_violation(&refused);
    drop(tx);
    assert_eq!(journal(&store).await.len() as i64, MANY);
    let value = tally::Entity::find()
        .all(store.reader())
        .await
        .unwrap()
        .into_iter()
        .find(|t| chrono::Datelike::day(&t.day) == 1)
        .map(|t| t.value);
    assert_eq!(value, Some(7));
    let u1 = journal_head::Entity::find_by_id("u1".to_string())
        .one(store.reader())
        .await
        .unwrap()
        .map(|h| h.last_sequence);
    assert_eq!(u1, Some(5));
    drop(store);
}

on_every_backend!(inserts_of_several_tables_go_together);

/// Values that are awkward in transit keep exactly what they were: text with quotes,
/// backslashes, control characters, Vietnamese and characters outside the BMP; every byte
/// value; NULL beside a set value in the same column; `false`, zero and the extreme integers.
/// On PostgreSQL rows with a NULL go as multi-row `VALUES`, the others as arrays (`UNNEST`):
/// the visits are written both ways.
async fn bulk_values_keep_text_bytes_and_nulls(backend: Backend) {
    use crate::support::server::visit;
    let db = TestDb::new(backend).await;
    let store = Store::open(&db.url).await.unwrap();
    let texts = [
        String::new(),
        r#"say "xin chào" \ back\slash \\x00ff"#.to_string(),
        "Tiếp công dân định kỳ, phường Quang Trung\n\tdòng hai \u{1F600} \u{7f}".to_string(),
        "null".to_string(),
    ];
    // "v…" with NULL in some rows, "w…" with none.
    let visits = |prefix: &str, nulls: bool| -> Vec<visit::ActiveModel> {
        texts
            .iter()
            .enumerate()
            .map(|(i, text)| visit::ActiveModel {
                id: Set(format!("{prefix}{i}")),
                unit_code: Set(text.clone()),
                visit_us: Set([i64::MIN, -1, 0, i64::MAX][i]),
                kind: Set("regular".into()),
                receiver_role: Set(text.clone()),
                receiver_name: Set(text.clone()),
                persons: Set(i as i64),
                crowd_group: Set(i % 2 == 0),
                matter: Set(text.clone()),
                action: Set(text.clone()),
                summary: Set(text.repeat(50)),
                schedule_entry_id: Set((!nulls || i % 2 == 1).then(|| text.clone())),
                create_us: Set(i as i64),
            })
            .collect()
    };
    let bytes: Vec<u8> = (0..=255).collect();
    let mut journal = journal_rows(0..2, "a");
    journal[0].payload = Set(bytes.clone());
    journal[1].payload = Set(Vec::new());
    let tx = store.begin_write().await.unwrap();
    let mut inserts = Inserts::new(store.backend());
    inserts.add(visits("v", true), OnKey::Replace).unwrap();
    inserts.add(visits("w", false), OnKey::Replace).unwrap();
    inserts.add(journal, OnKey::Refuse).unwrap();
    inserts.run(&tx).await.unwrap();
    tx.commit().await.unwrap();

    let mut stored = visit::Entity::find().all(store.reader()).await.unwrap();
    stored.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(stored.len(), 2 * texts.len());
    let texts2 = texts.iter().chain(&texts);
    for (n, (v, text)) in stored.iter().zip(texts2).enumerate() {
        let (i, nulls) = (n % texts.len(), n < texts.len());
        assert_eq!(v.unit_code, *text, "visit {}", v.id);
        assert_eq!(v.receiver_role, *text);
        assert_eq!(v.matter, *text);
        assert_eq!(v.summary, text.repeat(50));
        assert_eq!(v.visit_us, [i64::MIN, -1, 0, i64::MAX][i]);
        assert_eq!(v.crowd_group, i % 2 == 0);
        let schedule = (!nulls || i % 2 == 1).then(|| text.clone());
        assert_eq!(v.schedule_entry_id, schedule, "visit {}", v.id);
    }
    let payloads: Vec<Vec<u8>> = self::journal(&store)
        .await
        .into_iter()
        .map(|r| r.payload)
        .collect();
    assert_eq!(payloads, vec![bytes, Vec::new()]);
    drop(store);
}

on_every_backend!(bulk_values_keep_text_bytes_and_nulls);
