//! The storage layer through its own API, on both backends: what the application relies on
//! from each table group (journal, outbox, sealing keys, request log and counters, units),
//! and that a write transaction dropped without its commit leaves nothing behind. The
//! whole-node suites check the same tables through the RPCs; these name the layer that
//! failed when one of them does.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support::on_every_backend;
use crate::support::server::journal::{self, EventRow};
use crate::support::server::records::{self, Inserts, LoggedRequest};
use crate::support::server::{Store, Unit, UnitLevel, keys, mail};
use chrono::{TimeZone, Utc};
use sha2::{Digest, Sha256};
use tiepdan_proto::v1 as pb;
use tiepdan_tests::{Backend, TestDb};

fn unit(code: &str, parent: Option<&str>) -> Unit {
    Unit {
        code: code.into(),
        name: format!("Đơn vị {code}"),
        level: UnitLevel::Ward,
        parent_code: parent.map(str::to_string),
        remote: false,
    }
}

fn change(code: &str) -> pb::journal_event::Change {
    pb::journal_event::Change::UnitRegistered(pb::Unit {
        code: code.into(),
        name: format!("Đơn vị {code}"),
        level: UnitLevel::Ward.to_wire(),
        parent_code: "269".into(),
        remote: false,
    })
}

async fn open(backend: Backend) -> (TestDb, Store) {
    let db = TestDb::new(backend).await;
    let store = Store::open(&db.url).await.unwrap();
    (db, store)
}

/// Appends chain each event to the one before; a child's events stored byte for byte keep
/// their hashes and move the head; a dropped transaction leaves the journal as it was.
async fn journal_appends_chain_and_heads_move(backend: Backend) {
    let (_db, store) = open(backend).await;
    let at = Utc.with_ymd_and_hms(2019, 3, 4, 5, 6, 7).unwrap();
    let tx = store.begin_write().await.unwrap();
    for code in ["09574", "09577", "09580"] {
        journal::append(&tx, "269", at, "RegisterUnit", change(code))
            .await
            .unwrap();
    }
    store.commit(tx).await.unwrap();
    let db = store.reader();
    assert_eq!(journal::last_sequence(db, "269").await.unwrap(), 3);
    let events = journal::read(db, "269", 0, 10).await.unwrap();
    assert_eq!(
        events.iter().map(|e| e.sequence).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert_eq!(journal::verify_chain(&[], &events), Ok(()));
    let (last, hash) = journal::head(db, "269").await.unwrap();
    assert_eq!(last, 3);
    assert_eq!(journal::hash_at(db, "269", 3).await.unwrap(), Some(hash));
    assert_eq!(journal::read(db, "269", 2, 10).await.unwrap().len(), 1);

    // A dropped transaction: nothing of it stays.
    let tx = store.begin_write().await.unwrap();
    journal::append(&tx, "269", at, "RegisterUnit", change("09583"))
        .await
        .unwrap();
    drop(tx);
    assert_eq!(journal::last_sequence(db, "269").await.unwrap(), 3);

    // A child's events, stored as received, with their head.
    let child = pb::JournalEvent {
        origin_unit: "09574".into(),
        sequence: 1,
        event_time: Some(prost_types::Timestamp {
            seconds: at.timestamp(),
            nanos: 0,
        }),
        previous_hash: Vec::new(),
        change: Some(change("09574")),
        action: "RegisterUnit".into(),
    };
    let payload = prost::Message::encode_to_vec(&child);
    let hash = Sha256::digest(&payload).to_vec();
    let row = EventRow {
        origin: "09574".into(),
        sequence: 1,
        event_us: at.timestamp_micros(),
        action: "RegisterUnit".into(),
        payload: payload.clone(),
        hash: hash.clone(),
    };
    let tx = store.begin_write().await.unwrap();
    let mut inserts = Inserts::new(store.backend());
    journal::add_events(&mut inserts, vec![row.clone()]).unwrap();
    journal::put_heads(&mut inserts, vec![("09574".into(), 1, hash.clone())]).unwrap();
    inserts.run(&tx).await.unwrap();
    store.commit(tx).await.unwrap();
    assert_eq!(
        journal::heads(db, &["09574".into(), "09599".into()])
            .await
            .unwrap(),
        [("09574".to_string(), 1, hash.clone())]
    );
    assert_eq!(journal::read(db, "09574", 0, 10).await.unwrap(), [child]);
    assert_eq!(journal::hash_at(db, "09574", 1).await.unwrap(), Some(hash));

    // The same event again is refused: the journal's key is (origin, sequence).
    let tx = store.begin_write().await.unwrap();
    let mut inserts = Inserts::new(store.backend());
    journal::add_events(&mut inserts, vec![row]).unwrap();
    assert!(inserts.run(&tx).await.is_err());
    drop(tx);
    assert_eq!(journal::read(db, "09574", 0, 10).await.unwrap().len(), 1);
}

/// Envelopes wait oldest first, decode as queued, are taken once and forgotten when
/// delivered.
async fn outbox_keeps_order_and_takes_once(backend: Backend) {
    let (_db, store) = open(backend).await;
    let at = |s| Utc.with_ymd_and_hms(2019, 5, 1, 8, 0, s).unwrap();
    let envelope = |id: &str, to: &str| pb::Mail {
        id: id.into(),
        destination_unit: to.into(),
        source_unit: "09574".into(),
        ..Default::default()
    };
    let tx = store.begin_write().await.unwrap();
    // Queued out of id order: the outbox answers in the order of queueing.
    mail::enqueue(&tx, &envelope("269-M2", "01"), at(1))
        .await
        .unwrap();
    mail::enqueue(&tx, &envelope("269-M1", "09577"), at(2))
        .await
        .unwrap();
    store.commit(tx).await.unwrap();
    let db = store.reader();
    let waiting = mail::waiting(db).await.unwrap();
    assert_eq!(
        waiting,
        [
            ("269-M2".to_string(), "01".to_string()),
            ("269-M1".to_string(), "09577".to_string())
        ]
    );
    let ids: Vec<String> = waiting.into_iter().map(|(id, _)| id).collect();
    let envelopes = mail::envelopes(db, &ids).await.unwrap();
    assert_eq!(
        envelopes,
        [envelope("269-M2", "01"), envelope("269-M1", "09577")]
    );
    let mut destinations = mail::destinations(db).await.unwrap();
    destinations.sort();
    assert_eq!(destinations, ["01", "09577"]);

    let tx = store.begin_write().await.unwrap();
    assert!(mail::take_once(&tx, "09577-M9", at(3)).await.unwrap());
    assert!(!mail::take_once(&tx, "09577-M9", at(4)).await.unwrap());
    mail::remove(&tx, "269-M2").await.unwrap();
    store.commit(tx).await.unwrap();
    assert_eq!(mail::destinations(db).await.unwrap(), ["09577"]);
    let tx = store.begin_write().await.unwrap();
    assert!(!mail::take_once(&tx, "09577-M9", at(5)).await.unwrap());
}

/// This node's key pair is kept with its secret; learnt public keys replace the public key
/// of a unit known before and never carry a secret.
async fn sealing_keys_are_kept_apart(backend: Backend) {
    let (_db, store) = open(backend).await;
    let tx = store.begin_write().await.unwrap();
    keys::put_own(
        &tx,
        keys::UnitKey {
            unit_code: "269".into(),
            public_key: vec![1; 32],
            secret_key: Some(vec![2; 32]),
        },
    )
    .await
    .unwrap();
    keys::put_public(&tx, vec![("09574".into(), vec![3; 32])])
        .await
        .unwrap();
    store.commit(tx).await.unwrap();
    let tx = store.begin_write().await.unwrap();
    keys::put_public(&tx, vec![("09574".into(), vec![4; 32])])
        .await
        .unwrap();
    store.commit(tx).await.unwrap();
    let db = store.reader();
    let own = keys::find(db, "269").await.unwrap().unwrap();
    assert_eq!(own.secret_key, Some(vec![2; 32]));
    let learnt = keys::find(db, "09574").await.unwrap().unwrap();
    assert_eq!((learnt.public_key, learnt.secret_key), (vec![4; 32], None));
    assert!(keys::find(db, "09577").await.unwrap().is_none());
    let mut known = keys::public_keys(db, ["09574".into(), "09574".into(), "09577".into()])
        .await
        .unwrap();
    known.sort();
    assert_eq!(known, [("09574".to_string(), vec![4; 32])]);
}

/// Counters grow by one per call and per name; a logged request is found as logged; units
/// are saved, found and listed, the node's own marked.
async fn request_log_counters_and_units(backend: Backend) {
    let (_db, store) = open(backend).await;
    let tx = store.begin_write().await.unwrap();
    let v: Vec<i64> = vec![
        records::next_counter(&tx, "V").await.unwrap(),
        records::next_counter(&tx, "V").await.unwrap(),
        records::next_counter(&tx, "P").await.unwrap(),
    ];
    assert_eq!(v, [1, 2, 1]);
    let logged = LoggedRequest {
        request_id: "req-1".into(),
        method: "/tiepdan.v1.ReceptionService/RecordVisit".into(),
        fingerprint: vec![7; 32],
        result: "{\"id\":\"269-V1\"}".into(),
        create_us: 1,
    };
    records::insert_request(&tx, logged.clone()).await.unwrap();
    assert!(records::insert_request(&tx, logged.clone()).await.is_err());
    drop(tx);
    let db = store.reader();
    assert!(records::find_request(db, "req-1").await.unwrap().is_none());

    let tx = store.begin_write().await.unwrap();
    records::insert_request(&tx, logged.clone()).await.unwrap();
    records::save_unit(&tx, &unit("269", Some("01")), true)
        .await
        .unwrap();
    records::save_unit(&tx, &unit("09574", Some("269")), false)
        .await
        .unwrap();
    store.commit(tx).await.unwrap();
    assert_eq!(
        records::find_request(db, "req-1").await.unwrap(),
        Some(logged)
    );
    assert_eq!(
        records::find_self(db).await.unwrap(),
        Some(unit("269", Some("01")))
    );
    assert_eq!(
        records::find_unit(db, "09574").await.unwrap(),
        Some(unit("09574", Some("269")))
    );
    let mut all: Vec<String> = records::all_units(db)
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.code)
        .collect();
    all.sort();
    assert_eq!(all, ["09574", "269"]);
}

on_every_backend!(
    journal_appends_chain_and_heads_move,
    outbox_keeps_order_and_takes_once,
    sealing_keys_are_kept_apart,
    request_log_counters_and_units,
);
