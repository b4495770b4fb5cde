//! A parent tells each child every unit outside the child's subtree, with the units' sealing
//! keys, so the child can address them. A long directory goes in several messages, none
//! larger than `DIRECTORY_CHUNK` units; the child learns every unit and key all the same.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use crate::support::server::DIRECTORY_CHUNK;
use crate::support::*;
use tiepdan_tests::{TestDb, TestNode};
use tokio::net::TcpListener;

/// Units the first child vouches for below itself: more than two directory messages' worth.
const BELOW: usize = 2 * DIRECTORY_CHUNK + 45;

fn unit(code: &str, name: &str, parent: &str) -> pb::Unit {
    pb::Unit {
        code: code.into(),
        name: name.into(),
        level: pb::UnitLevel::Ward as i32,
        parent_code: parent.into(),
        remote: false,
    }
}

/// A key that differs per unit, so a key paired with the wrong unit is seen.
fn key_of(code: &str) -> Vec<u8> {
    let mut key = vec![0u8; 32];
    for (k, b) in key.iter_mut().zip(code.bytes().cycle()) {
        *k = b.wrapping_mul(7);
    }
    key[31] = code.len() as u8;
    key
}

/// Adds one directory message's units and keys to those received; a unit must come once.
fn take(
    units: &mut BTreeMap<String, String>,
    keys: &mut BTreeMap<String, Vec<u8>>,
    list: Vec<pb::Unit>,
    unit_keys: Vec<pb::UnitKey>,
) {
    for u in list {
        assert!(
            units.insert(u.code.clone(), u.parent_code).is_none(),
            "unit {} sent twice",
            u.code
        );
    }
    for k in unit_keys {
        keys.insert(k.unit_code, k.public_key);
    }
}

async fn long_directory_arrives_whole(backend: Backend) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let town: TestNode = start_node(
        TestDb::new(backend).await,
        &TOWN,
        None,
        &Options::default(),
        listener,
    )
    .await;

    // The first child brings a long subtree, every unit of it with a sealing key.
    let below: Vec<pb::Unit> = (0..BELOW)
        .map(|i| unit(&format!("{}", 10000 + i), &format!("Tổ {i}"), CHILD.code))
        .collect();
    let mut first = hello(CHILD.code, CHILD.name, pb::UnitLevel::Ward);
    if let Some(pb::link_request::Message::Hello(h)) = &mut first.message {
        h.subtree = below.clone();
        h.sealing_keys = below
            .iter()
            .map(|u| pb::UnitKey {
                unit_code: u.code.clone(),
                public_key: key_of(&u.code),
            })
            .collect();
    }
    let mut child = RawLink::open(&town.url(), first).await.unwrap();
    match child.next().await {
        Ok(Some(pb::link_response::Message::Welcome(_))) => {}
        other => panic!("expected Welcome, got {other:?}"),
    }

    // The second child must learn all of them, and the first child itself.
    let (mut other, welcome) =
        RawLink::hello(&town.url(), OTHER.code, OTHER.name, pb::UnitLevel::Ward).await;
    let mut units: BTreeMap<String, String> = BTreeMap::new();
    let mut keys: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut sizes = vec![welcome.directory.len()];
    take(
        &mut units,
        &mut keys,
        welcome.directory,
        welcome.sealing_keys,
    );
    let expected: BTreeMap<String, String> = below
        .iter()
        .map(|u| (u.code.clone(), CHILD.code.to_string()))
        .chain([(CHILD.code.to_string(), TOWN.code.to_string())])
        .collect();
    while expected.keys().any(|c| !units.contains_key(c)) {
        match other.next().await {
            Ok(Some(pb::link_response::Message::Directory(d))) => {
                sizes.push(d.units.len());
                take(&mut units, &mut keys, d.units, d.sealing_keys);
            }
            Ok(Some(pb::link_response::Message::Mail(_))) => {}
            other => panic!(
                "expected the rest of the directory ({} of {} units so far), got {other:?}",
                units.len(),
                expected.len()
            ),
        }
    }
    for (code, parent) in &expected {
        assert_eq!(units.get(code), Some(parent), "unit {code}");
    }
    for u in &below {
        assert_eq!(
            keys.get(&u.code),
            Some(&key_of(&u.code)),
            "key of {}",
            u.code
        );
    }
    assert!(
        sizes.iter().all(|&n| n <= DIRECTORY_CHUNK),
        "directory messages of {sizes:?} units; at most {DIRECTORY_CHUNK} each"
    );

    // The link works on: the second child's (empty) batch is acknowledged.
    other.send(&[]).await.unwrap();
    drop(other);
    drop(child);
    drop_all(vec![town.stop().await]);
}

on_every_backend!(long_directory_arrives_whole);
