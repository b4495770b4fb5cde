//! Reconciliation (`SyncService.Reconcile`, `tiepdan sync verify`): a parent asks each
//! connected child over its link for per-origin, per-day digests of its journal, compares them
//! with its own, pulls what it lacks and reports what differed.
//!
//! The expected digests, counts and differences are computed here, from the events the
//! nodes hold, by an implementation of the digest independent of the server's.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use crate::support::*;
use chrono::NaiveDate;
use prost::Message;
use sea_orm::ConnectionTrait;
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tonic::transport::Channel;

async fn reconcile(ch: &Channel, children: &[&str], wait_seconds: u32) -> pb::ReconcileResponse {
    sync(ch)
        .reconcile(pb::ReconcileRequest {
            child_units: children.iter().map(|c| c.to_string()).collect(),
            wait_seconds,
        })
        .await
        .unwrap()
        .into_inner()
}

/// Waits until `parent` has an open session with `child` (the child may see its Welcome a
/// moment before).
async fn wait_session(tree: &Tree, parent: &str, child: &str) {
    let ch = tree.channel(parent);
    wait_for(&format!("{parent} holding a session with {child}"), || {
        let ch = ch.clone();
        async move {
            let s = sync_status(&ch).await;
            match s.children.iter().find(|c| c.unit_code == child) {
                Some(c) if c.connected => Ok(()),
                other => Err(format!("{other:?}")),
            }
        }
    })
    .await;
}

/// Per local day: (count, highest sequence, SHA-256 over the events' SHA-256 in sequence
/// order) of encoded events.
fn digests(events: &[Vec<u8>]) -> BTreeMap<NaiveDate, (u64, u64, Vec<u8>)> {
    let mut days: BTreeMap<NaiveDate, (u64, u64, Sha256)> = BTreeMap::new();
    for bytes in events {
        let e = pb::JournalEvent::decode(bytes.as_slice()).unwrap();
        let d = days
            .entry(local_day(instant(&e.event_time)))
            .or_insert_with(|| (0, 0, Sha256::new()));
        d.0 += 1;
        d.1 = d.1.max(e.sequence);
        d.2.update(Sha256::digest(bytes));
    }
    days.into_iter()
        .map(|(day, (n, high, h))| (day, (n, high, h.finalize().to_vec())))
        .collect()
}

/// A reconciliation that found the child and this node in agreement, having compared
/// `origins` whose events the child holds as `journals`.
fn assert_agreement(c: &pb::ChildReconciliation, journals: &BTreeMap<String, Vec<Vec<u8>>>) {
    assert!(c.reached, "{}: not reached: {}", c.unit_code, c.error);
    assert!(
        c.differences.is_empty(),
        "{}: {:?}",
        c.unit_code,
        c.differences
    );
    assert!(c.remaining.is_empty(), "{}: {:?}", c.unit_code, c.remaining);
    assert_eq!(c.events_pulled, 0, "{}", c.unit_code);
    assert_eq!(c.origins_compared, journals.len() as u64, "{}", c.unit_code);
    let events: usize = journals.values().map(Vec::len).sum();
    assert_eq!(c.events_compared, events as u64, "{}", c.unit_code);
    let days: usize = journals.values().map(|j| digests(j).len()).sum();
    assert_eq!(c.days_compared, days as u64, "{}", c.unit_code);
}

/// The journals a child holds of every unit of its subtree.
async fn journals_of(tree: &Tree, child: &str) -> BTreeMap<String, Vec<Vec<u8>>> {
    let ch = tree.channel(child);
    let mut out = BTreeMap::new();
    for origin in tree.subtree(child) {
        out.insert(origin.to_string(), journal_bytes(&ch, origin).await);
    }
    out
}

/// After a sync, every parent finds every child in agreement, over every origin of the
/// child's subtree (the town's communes too, when the city reconciles with the town).
async fn synced_tree_agrees(backend: Backend, depth: Depth) {
    let tree = Tree::start(backend, depth, Options::default()).await;
    record_everywhere(&tree, "a", 6, 5).await;
    settle(&tree).await;
    for parent in tree.codes() {
        let children = tree.children(parent);
        if children.is_empty() {
            continue;
        }
        for c in &children {
            wait_session(&tree, parent, c).await;
        }
        let answer = reconcile(&tree.channel(parent), &[], 0).await;
        assert_eq!(answer.unit_code, parent);
        let mut reached: Vec<&str> = answer
            .children
            .iter()
            .map(|c| c.unit_code.as_str())
            .collect();
        reached.sort_unstable();
        let mut expected = children.clone();
        expected.sort_unstable();
        assert_eq!(reached, expected, "{parent} reconciles with every child");
        for c in &answer.children {
            assert_agreement(c, &journals_of(&tree, &c.unit_code).await);
        }
    }
    tree.stop().await;
}

/// A commune that recorded while cut off is verified as soon as it is back: whatever the
/// town lacked is named by day and pulled, and nothing differs afterwards.
async fn missing_events_are_pulled(backend: Backend) {
    let depth = Depth::Three;
    // One event a batch, one batch in flight: the backlog takes a while to cross.
    let tree = Tree::start(
        backend,
        depth,
        Options {
            batch_events: 1,
            window: 1,
        },
    )
    .await;
    let town = town_of(depth);
    let commune = "09577";
    record_mix(&tree.channel(commune), "before", 3, 2).await;
    settle(&tree).await;
    tree.proxy(commune).set(Mode::Drop);
    tree.wait_unlinked(commune).await;
    record_mix(&tree.channel(commune), "offline", 60, 20).await;
    let head = journal_last(&tree.channel(commune), commune).await;
    tree.proxy(commune).set(Mode::Pass);
    tree.wait_linked(commune).await;
    wait_session(&tree, town, commune).await;

    let answer = reconcile(&tree.channel(town), &[commune], 120).await;
    let c = &answer.children[0];
    assert!(c.reached, "not reached: {}", c.error);
    assert!(c.remaining.is_empty(), "{:?}", c.remaining);
    // Everything found missing was missing at the town, and was pulled.
    let missing: u64 = c
        .differences
        .iter()
        .map(|d| {
            assert_eq!(d.kind, pb::DifferenceKind::MissingAtParent as i32, "{d:?}");
            assert_eq!(d.origin_unit, commune);
            d.child_count - d.parent_count
        })
        .sum();
    assert_eq!(missing, c.events_pulled, "{c:?}");
    match c.pulled_after.as_slice() {
        [] => assert_eq!(c.events_pulled, 0),
        [p] => {
            assert_eq!(p.origin_unit, commune);
            assert_eq!(p.sequence + c.events_pulled, head, "{c:?}");
        }
        more => panic!("pulled from several origins: {more:?}"),
    }
    assert_eq!(journal_last(&tree.channel(town), commune).await, head);
    assert_eq!(
        journal_bytes(&tree.channel(town), commune).await,
        journal_bytes(&tree.channel(commune), commune).await
    );
    verify(&tree).await;
    tree.stop().await;
}

/// The town's copy of one commune event is altered behind its back (its stored hash
/// rewritten in the database while the node is down): the link's checks cannot see it, the
/// digests do — the day is named, the difference remains, and the link shows as tampered.
async fn rewritten_copy_is_detected(backend: Backend) {
    let mut tree = Tree::start(backend, Depth::Two, Options::default()).await;
    let town = town_of(Depth::Two);
    let commune = "09580";
    record_mix(&tree.channel(commune), "a", 8, 6).await;
    settle(&tree).await;
    let events = journal(&tree.channel(commune), commune).await;
    let victim = &events[events.len() / 2];
    let day = local_day(instant(&victim.event_time));

    tree.kill(town);
    let url = tree.member(town).db.as_ref().unwrap().url.clone();
    let db = sea_orm::Database::connect(&url).await.unwrap();
    let sql = match backend {
        Backend::Sqlite => format!(
            "UPDATE journal_event SET hash = X'{}' WHERE origin_unit = '{commune}' AND sequence = {}",
            "00".repeat(32),
            victim.sequence
        ),
        Backend::Postgres => format!(
            "UPDATE journal_event SET hash = '\\x{}'::bytea WHERE origin_unit = '{commune}' AND sequence = {}",
            "00".repeat(32),
            victim.sequence
        ),
    };
    let changed = db.execute_unprepared(&sql).await.unwrap();
    assert_eq!(changed.rows_affected(), 1);
    db.close().await.unwrap();
    tree.restart(town).await;
    for c in tree.children(town) {
        tree.wait_linked(c).await;
        wait_session(&tree, town, c).await;
    }

    let answer = reconcile(&tree.channel(town), &[], 0).await;
    for c in &answer.children {
        if c.unit_code != commune {
            assert_agreement(c, &journals_of(&tree, &c.unit_code).await);
            continue;
        }
        assert!(c.reached, "not reached: {}", c.error);
        let expected = digests(&journal_bytes(&tree.channel(commune), commune).await)[&day].clone();
        let found: Vec<_> = c
            .differences
            .iter()
            .map(|d| {
                (
                    d.origin_unit.as_str(),
                    d.day.clone(),
                    d.kind,
                    d.child_count,
                    d.parent_count,
                    d.child_highest_sequence,
                )
            })
            .collect();
        assert_eq!(
            found,
            vec![(
                commune,
                day.format("%Y-%m-%d").to_string(),
                pb::DifferenceKind::ContentDiffers as i32,
                expected.0,
                expected.0,
                expected.1,
            )]
        );
        assert_eq!(
            c.remaining, c.differences,
            "a rewritten copy cannot be pulled again"
        );
        assert_eq!(c.events_pulled, 0);
    }
    let status = sync_status(&tree.channel(town)).await;
    let link = status
        .children
        .iter()
        .find(|c| c.unit_code == commune)
        .unwrap();
    assert!(link.tampered, "{link:?}");
    assert!(link.last_error.contains(commune), "{link:?}");
    tree.stop().await;
}

/// The reconciliation exchange, step by step, with a child played by the test: the town asks
/// for heads, then for the digests of each origin; it names exactly the days it lacks, asks
/// for the events after its own head, waits for them and reports them pulled. A reply naming
/// an origin outside the child's subtree ends the link.
async fn exchange_with_a_scripted_child(backend: Backend) {
    let mut nodes = Vec::new();
    for spec in [TOWN, CHILD] {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let db = tiepdan_tests::TestDb::new(backend).await;
        nodes.push(start_node(db, &spec, None, &Options::default(), listener).await);
    }
    let town = nodes[0].channel().await;
    let commune = nodes[1].channel().await;
    record_mix(&commune, "c", 12, 10).await;
    let events = journal_bytes(&commune, CHILD.code).await;
    let n = events.len();
    let k = n / 3;

    let mut hello = hello(CHILD.code, CHILD.name, pb::UnitLevel::Ward);
    if let Some(pb::link_request::Message::Hello(h)) = &mut hello.message {
        h.features = vec!["reconcile".into()];
    }
    let mut link = RawLink::open(&nodes[0].url(), hello).await.unwrap();
    assert!(matches!(
        link.next().await,
        Ok(Some(pb::link_response::Message::Welcome(_)))
    ));
    let ack = link.send(&events[..k]).await.unwrap();
    assert_eq!(ack[CHILD.code], k as u64);

    let call = tokio::spawn({
        let town = town.clone();
        async move { reconcile(&town, &[CHILD.code], 60).await }
    });
    let next_request = |m: Option<pb::link_response::Message>| match m {
        Some(pb::link_response::Message::DigestRequest(r)) => Some(r),
        _ => None,
    };
    // Heads first.
    let heads = loop {
        if let Some(r) = next_request(link.next().await.unwrap()) {
            break r;
        }
    };
    assert!(heads.origin_units.is_empty(), "{heads:?}");
    let position = |sequence: u64| pb::OriginPosition {
        origin_unit: CHILD.code.into(),
        sequence,
    };
    link.tx
        .send(pb::LinkRequest {
            message: Some(pb::link_request::Message::DigestReply(pb::DigestReply {
                request_id: heads.request_id,
                digests: Vec::new(),
                heads: vec![position(n as u64)],
            })),
        })
        .await
        .unwrap();
    // Then the digests of the one origin.
    let asked = loop {
        if let Some(r) = next_request(link.next().await.unwrap()) {
            break r;
        }
    };
    assert_eq!(asked.origin_units, vec![CHILD.code.to_string()]);
    let ours = digests(&events);
    link.tx
        .send(pb::LinkRequest {
            message: Some(pb::link_request::Message::DigestReply(pb::DigestReply {
                request_id: asked.request_id,
                digests: ours
                    .iter()
                    .map(|(day, (count, high, hash))| pb::DayDigest {
                        origin_unit: CHILD.code.into(),
                        day: day.format("%Y-%m-%d").to_string(),
                        count: *count,
                        highest_sequence: *high,
                        hash: hash.clone(),
                    })
                    .collect(),
                heads: vec![position(n as u64)],
            })),
        })
        .await
        .unwrap();
    // The town asks for what follows its head, and gets it.
    let resend = loop {
        match link.next().await.unwrap() {
            Some(pb::link_response::Message::Resend(r)) => break r,
            Some(pb::link_response::Message::DigestRequest(r)) => panic!("asked again: {r:?}"),
            _ => {}
        }
    };
    assert_eq!(resend.positions, vec![position(k as u64)]);
    let ack = link.send(&events[k..]).await.unwrap();
    assert_eq!(ack[CHILD.code], n as u64);

    let answer = call.await.unwrap();
    let c = &answer.children[0];
    assert!(c.reached, "{}", c.error);
    let held = digests(&events[..k]);
    let expected: Vec<(String, u64, u64)> = ours
        .iter()
        .filter(|(day, d)| held.get(*day) != Some(*d))
        .map(|(day, d)| {
            (
                day.format("%Y-%m-%d").to_string(),
                d.0,
                held.get(day).map_or(0, |h| h.0),
            )
        })
        .collect();
    let found: Vec<(String, u64, u64)> = c
        .differences
        .iter()
        .map(|d| {
            assert_eq!(d.kind, pb::DifferenceKind::MissingAtParent as i32);
            (d.day.clone(), d.child_count, d.parent_count)
        })
        .collect();
    assert_eq!(found, expected);
    assert_eq!(c.pulled_after, vec![position(k as u64)]);
    assert_eq!(c.events_pulled, (n - k) as u64);
    assert!(c.remaining.is_empty(), "{:?}", c.remaining);
    assert_eq!(c.events_compared, n as u64);
    assert_eq!(journal_bytes(&town, CHILD.code).await, events);

    // A reply that speaks for another unit ends the link; the call says so.
    let call = tokio::spawn({
        let town = town.clone();
        async move { reconcile(&town, &[CHILD.code], 5).await }
    });
    let heads = loop {
        if let Some(r) = next_request(link.next().await.unwrap()) {
            break r;
        }
    };
    link.tx
        .send(pb::LinkRequest {
            message: Some(pb::link_request::Message::DigestReply(pb::DigestReply {
                request_id: heads.request_id,
                digests: Vec::new(),
                heads: vec![pb::OriginPosition {
                    origin_unit: TOWN.code.into(),
                    sequence: 3,
                }],
            })),
        })
        .await
        .unwrap();
    let ended = loop {
        match link.next().await {
            Err(status) => break status,
            Ok(None) => panic!("the link ended without a status"),
            Ok(Some(_)) => {}
        }
    };
    assert_eq!(ended.code(), tonic::Code::PermissionDenied, "{ended:?}");
    let answer = call.await.unwrap();
    assert!(!answer.children[0].reached);
    assert!(!answer.children[0].error.is_empty());
    assert_eq!(journal_bytes(&town, CHILD.code).await, events);

    // Unknown children and over-long waits are refused with the fields named.
    let refused = sync(&town)
        .reconcile(pb::ReconcileRequest {
            child_units: vec!["09999".into()],
            wait_seconds: 1000,
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    let details = tonic_types::StatusExt::get_details_bad_request(&refused).unwrap();
    let fields: Vec<_> = details
        .field_violations
        .iter()
        .map(|v| v.field.as_str())
        .collect();
    assert_eq!(fields, vec!["child_units[0]", "wait_seconds"]);

    let mut dbs = Vec::new();
    for n in nodes {
        dbs.push(n.stop().await);
    }
    drop_all(dbs);
}

on_every_backend!(depths: synced_tree_agrees);
on_every_backend!(
    missing_events_are_pulled,
    rewritten_copy_is_detected,
    exchange_with_a_scripted_child
);
