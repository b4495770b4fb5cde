//! A parent refuses what a child must not send over the link — no Hello first, a gap in the
//! sequences, an event from outside the child's subtree, a tampered event, a Hello whose
//! journal heads contradict what was applied — and stores nothing of a refused batch; the
//! child's genuine journal is accepted afterwards.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support::*;
use prost::Message;
use tiepdan_tests::{TestDb, TestNode};
use tokio::net::TcpListener;
use tonic::{Code, Status};

/// A town and two communes that never linked, each with records of its own.
struct Setup {
    nodes: Vec<TestNode>,
    child_events: Vec<Vec<u8>>,
    other_events: Vec<Vec<u8>>,
}

impl Setup {
    async fn start(backend: Backend) -> Setup {
        let mut set = tokio::task::JoinSet::new();
        for (i, spec) in [TOWN, CHILD, OTHER].into_iter().enumerate() {
            set.spawn(async move {
                let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
                let db = TestDb::new(backend).await;
                (
                    i,
                    start_node(db, &spec, None, &Options::default(), listener).await,
                )
            });
        }
        let mut started = Vec::new();
        while let Some(done) = set.join_next().await {
            started.push(done.unwrap());
        }
        started.sort_by_key(|(i, _)| *i);
        let nodes: Vec<TestNode> = started.into_iter().map(|(_, n)| n).collect();
        let child = nodes[1].channel().await;
        record_mix(&child, "child", 8, 10).await;
        let other = nodes[2].channel().await;
        record_visits(&other, "other", 0, 4).await;
        Setup {
            child_events: journal_bytes(&child, CHILD.code).await,
            other_events: journal_bytes(&other, OTHER.code).await,
            nodes,
        }
    }

    fn url(&self) -> String {
        self.nodes[0].url()
    }

    async fn town(&self) -> tonic::transport::Channel {
        self.nodes[0].channel().await
    }

    async fn link(&self) -> RawLink {
        RawLink::hello(&self.url(), CHILD.code, CHILD.name, pb::UnitLevel::Ward)
            .await
            .0
    }

    /// What the town holds of the child and the other commune, and its totals.
    async fn held(&self) -> (Vec<Vec<u8>>, Vec<Vec<u8>>, Records, Records, pb::Totals) {
        let ch = self.town().await;
        let report = subtree_report(&ch, "").await;
        (
            journal_bytes(&ch, CHILD.code).await,
            journal_bytes(&ch, OTHER.code).await,
            records_of(&ch, CHILD.code, TOWN.code).await,
            records_of(&ch, OTHER.code, TOWN.code).await,
            report.totals.unwrap(),
        )
    }

    /// Asserts that the town holds nothing of either commune.
    async fn assert_empty(&self, what: &str) {
        let (child, other, child_records, other_records, totals) = self.held().await;
        assert!(child.is_empty(), "{what}: the town stored child events");
        assert!(other.is_empty(), "{what}: the town stored other events");
        assert_eq!(child_records, Records::default(), "{what}");
        assert_eq!(other_records, Records::default(), "{what}");
        assert_eq!(Count::of(&totals), Count::default(), "{what}");
    }

    /// The child's genuine journal is accepted whole, byte for byte.
    async fn assert_genuine_accepted(&self) {
        let mut link = self.link().await;
        let n = self.child_events.len() as u64;
        let ack = link.send(&self.child_events).await.unwrap();
        assert_eq!(ack.get(CHILD.code), Some(&n));
        let (child, _, records, _, _) = self.held().await;
        assert_eq!(child, self.child_events);
        let own = records_of(&self.nodes[1].channel().await, CHILD.code, CHILD.code).await;
        assert_eq!(records, own);
    }

    async fn stop(self) {
        let mut dbs = Vec::new();
        for n in self.nodes {
            dbs.push(n.stop().await);
        }
        drop_all(dbs);
    }
}

/// Decodes, changes and re-encodes one event.
fn rewrite(bytes: &[u8], change: impl FnOnce(&mut pb::JournalEvent)) -> Vec<u8> {
    let mut event = pb::JournalEvent::decode(bytes).unwrap();
    change(&mut event);
    event.encode_to_vec()
}

/// Index of the first event recording a visit.
fn first_visit(events: &[Vec<u8>]) -> usize {
    events
        .iter()
        .position(|b| {
            matches!(
                pb::JournalEvent::decode(b.as_slice()).unwrap().change,
                Some(pb::journal_event::Change::VisitRecorded(_))
            )
        })
        .unwrap()
}

async fn hello_comes_first(backend: Backend) {
    let s = Setup::start(backend).await;
    assert_refused(
        RawLink::open(&s.url(), batch(&s.child_events))
            .await
            .map(|_| ()),
        Code::FailedPrecondition,
        "a batch before Hello",
    );
    let mut old = hello(CHILD.code, CHILD.name, pb::UnitLevel::Ward);
    if let Some(pb::link_request::Message::Hello(h)) = &mut old.message {
        h.protocol_version = 2;
    }
    assert_refused(
        RawLink::open(&s.url(), old).await.map(|_| ()),
        Code::FailedPrecondition,
        "an unknown protocol version",
    );
    s.assert_empty("after links without a proper Hello").await;
    s.assert_genuine_accepted().await;
    s.stop().await;
}

async fn gap_is_refused(backend: Backend) {
    let s = Setup::start(backend).await;
    let e = &s.child_events;
    let mut link = s.link().await;
    let gapped = [e[0].clone(), e[1].clone(), e[3].clone()];
    assert_refused(link.send(&gapped).await, Code::OutOfRange, "1, 2, 4");
    s.assert_empty("after a batch with a gap").await;

    let mut link = s.link().await;
    let ack = link.send(&e[..3]).await.unwrap();
    assert_eq!(ack.get(CHILD.code), Some(&3));
    assert_refused(link.send(&e[4..6]).await, Code::OutOfRange, "5, 6 after 3");
    let (child, ..) = s.held().await;
    assert_eq!(child, e[..3], "the refused batch left nothing");
    s.assert_genuine_accepted().await;
    s.stop().await;
}

async fn forged_origin_is_refused(backend: Backend) {
    let s = Setup::start(backend).await;
    let mut link = s.link().await;
    assert_refused(
        link.send(&s.other_events).await,
        Code::PermissionDenied,
        "another commune's journal",
    );
    s.assert_empty("after another commune's journal").await;

    let mut link = s.link().await;
    let mut mixed = s.child_events[..3].to_vec();
    mixed.push(s.other_events[0].clone());
    assert_refused(
        link.send(&mixed).await,
        Code::PermissionDenied,
        "own events, then another commune's",
    );
    s.assert_empty("after a batch ending in another commune's event")
        .await;

    // The child's own journal, its last event a visit claimed for another unit: the chain
    // holds (nothing follows it), the record does not belong to the child.
    let i = first_visit(&s.child_events);
    let mut forged = s.child_events[..=i].to_vec();
    forged[i] = rewrite(&forged[i], |e| {
        if let Some(pb::journal_event::Change::VisitRecorded(v)) = &mut e.change {
            v.unit_code = OTHER.code.into();
        }
    });
    let mut link = s.link().await;
    assert_refused(
        link.send(&forged).await,
        Code::PermissionDenied,
        "a visit of another unit",
    );
    s.assert_empty("after a visit of another unit").await;
    s.assert_genuine_accepted().await;
    s.stop().await;
}

async fn tampered_event_is_refused(backend: Backend) {
    let s = Setup::start(backend).await;
    let e = &s.child_events;
    let i = first_visit(e);
    assert!(i + 1 < e.len());

    // A byte of a visit's summary changed: the next event no longer chains to it.
    let mut tampered = e.clone();
    tampered[i] = rewrite(&e[i], |ev| {
        if let Some(pb::journal_event::Change::VisitRecorded(v)) = &mut ev.change {
            v.summary = v.summary.replacen('V', "W", 1);
        }
    });
    assert_ne!(tampered[i], e[i]);
    let mut link = s.link().await;
    assert_refused(
        link.send(&tampered).await,
        Code::DataLoss,
        "a changed summary",
    );
    s.assert_empty("after a changed summary").await;

    // An event that names another predecessor.
    let mut tampered = e.clone();
    tampered[i] = rewrite(&e[i], |ev| ev.previous_hash[0] ^= 1);
    let mut link = s.link().await;
    assert_refused(link.send(&tampered).await, Code::DataLoss, "a broken chain");
    s.assert_empty("after a broken chain").await;

    // After a genuine prefix, a tampered continuation changes nothing.
    let mut link = s.link().await;
    let ack = link.send(&e[..i]).await.unwrap();
    assert_eq!(ack.get(CHILD.code), Some(&(i as u64)));
    let before = s.held().await;
    let next = rewrite(&e[i], |ev| ev.previous_hash = vec![0; 32]);
    assert_refused(
        link.send(&[next]).await,
        Code::DataLoss,
        "a continuation that does not chain",
    );
    assert!(
        before == s.held().await,
        "the refused batch changed the town"
    );

    // A Hello whose journal head contradicts what the town applied.
    let applied = i as u64;
    for (sequence, what) in [(applied, "a rewritten head"), (applied - 1, "a lost tail")] {
        let mut h = hello(CHILD.code, CHILD.name, pb::UnitLevel::Ward);
        if let Some(pb::link_request::Message::Hello(h)) = &mut h.message {
            h.heads = vec![pb::OriginHead {
                origin_unit: CHILD.code.into(),
                sequence,
                hash: vec![7; 32],
            }];
        }
        let result = match RawLink::open(&s.url(), h).await {
            Err(status) => Err(status),
            Ok(mut link) => link.next().await,
        };
        assert_refused(result, Code::DataLoss, what);
    }
    s.assert_genuine_accepted().await;
    s.stop().await;
}

/// The acknowledged position of the child in each BatchAck until the link ends; the status
/// it ended with.
async fn acks_until_end(link: &mut RawLink) -> (Vec<u64>, Status) {
    let mut acks = Vec::new();
    loop {
        match link.next().await {
            Ok(Some(pb::link_response::Message::BatchAck(ack))) => acks.push(
                ack.positions
                    .iter()
                    .find(|p| p.origin_unit == CHILD.code)
                    .map_or(0, |p| p.sequence),
            ),
            Ok(Some(
                pb::link_response::Message::Mail(_) | pb::link_response::Message::Directory(_),
            )) => {}
            Ok(other) => panic!("expected BatchAck or the end, got {other:?}"),
            Err(status) => return (acks, status),
        }
    }
}

/// Batches sent back to back, before any is acknowledged, may be applied together: each is
/// still acknowledged, every event applied once, and a refused one leaves the batches before
/// it applied and nothing of its own.
async fn batches_back_to_back(backend: Backend) {
    let s = Setup::start(backend).await;
    let e = &s.child_events;
    assert!(e.len() >= 12, "the child recorded too little");
    let mut link = s.link().await;
    for part in [&e[0..3], &e[3..6], &e[6..9], &e[10..12]] {
        link.tx.send(batch(part)).await.unwrap();
    }
    let (acks, status) = acks_until_end(&mut link).await;
    assert_refused(Err::<(), _>(status), Code::OutOfRange, "11, 12 after 9");
    assert_eq!(
        acks.len(),
        3,
        "one acknowledgement a genuine batch: {acks:?}"
    );
    for (i, at) in acks.iter().enumerate() {
        let own = 3 * (i as u64 + 1);
        assert!(
            (own..=9).contains(at),
            "acknowledgement {i} at {at}, before its batch or past what was sent"
        );
    }
    let (child, ..) = s.held().await;
    assert_eq!(
        child,
        e[..9],
        "the batches before the refused one, and only they"
    );

    // Everything again, back to back in batches of four, the first nine redelivered.
    let mut link = s.link().await;
    let parts: Vec<&[Vec<u8>]> = e.chunks(4).collect();
    for part in &parts {
        link.tx.send(batch(part)).await.unwrap();
    }
    let mut acks = Vec::new();
    while acks.len() < parts.len() {
        match link.next().await {
            Ok(Some(pb::link_response::Message::BatchAck(ack))) => acks.push(ack),
            Ok(Some(
                pb::link_response::Message::Mail(_) | pb::link_response::Message::Directory(_),
            )) => {}
            other => panic!("expected BatchAck, got {other:?}"),
        }
    }
    let last = acks
        .last()
        .unwrap()
        .positions
        .iter()
        .find(|p| p.origin_unit == CHILD.code);
    assert_eq!(last.map(|p| p.sequence), Some(e.len() as u64));
    let (child, _, records, _, totals) = s.held().await;
    assert_eq!(child, *e, "each event applied once, in order");
    let own_channel = s.nodes[1].channel().await;
    assert_eq!(
        records,
        records_of(&own_channel, CHILD.code, CHILD.code).await
    );
    let own = subtree_report(&own_channel, "").await;
    assert_eq!(
        Count::of(&totals),
        Count::of(own.totals.as_ref().unwrap()),
        "the town counts each event once"
    );
    s.stop().await;
}

/// The units the town knows, by code.
async fn known_units(s: &Setup) -> Vec<String> {
    list_units(&s.town().await)
        .await
        .into_iter()
        .map(|u| u.code)
        .collect()
}

/// The child's Hello, changed by `change`.
fn hello_with(change: impl FnOnce(&mut pb::Hello)) -> pb::LinkRequest {
    let mut first = hello(CHILD.code, CHILD.name, pb::UnitLevel::Ward);
    if let Some(pb::link_request::Message::Hello(h)) = &mut first.message {
        change(h);
    }
    first
}

fn ward(code: &str, parent: &str) -> pb::Unit {
    pb::Unit {
        code: code.into(),
        name: format!("Tổ dân phố {code}"),
        level: pb::UnitLevel::Ward as i32,
        parent_code: parent.into(),
        remote: false,
    }
}

/// A Hello refused for its subtree, its heads or the length of its lists registers nothing:
/// neither the child nor any unit it brings.
async fn refused_hello_registers_nothing(backend: Backend) {
    let s = Setup::start(backend).await;
    let before = known_units(&s).await;
    assert!(!before.iter().any(|c| c == CHILD.code));
    let refusals = [
        (
            hello_with(|h| h.subtree = vec![ward("10000", CHILD.code), ward("10001", "99999")]),
            Code::InvalidArgument,
            "hello.subtree",
            "a subtree unit whose parent is nowhere",
        ),
        (
            hello_with(|h| {
                h.subtree = vec![ward("10000", CHILD.code)];
                h.heads = vec![pb::OriginHead {
                    origin_unit: OTHER.code.into(),
                    sequence: 1,
                    hash: vec![0; 32],
                }];
            }),
            Code::PermissionDenied,
            "",
            "a head of a unit outside the child's subtree",
        ),
        (
            hello_with(|h| {
                h.subtree = vec![ward("10000", CHILD.code)];
                h.sealing_keys = (0..=crate::support::server::MAX_UNITS + 1)
                    .map(|i| pb::UnitKey {
                        unit_code: format!("{:05}", 20_000 + i),
                        public_key: vec![7; 32],
                    })
                    .collect();
            }),
            Code::InvalidArgument,
            "hello.sealing_keys",
            "more sealing keys than units a child can speak for",
        ),
    ];
    for (first, code, field, what) in refusals {
        let refused = RawLink::open(&s.url(), first).await.map(|_| ());
        if let Err(status) = &refused
            && !field.is_empty()
        {
            assert_eq!(
                crate::support::violated_fields(status),
                [field.to_string()].into(),
                "{what}: {}",
                status.message()
            );
        }
        assert_refused(refused, code, what);
        assert_eq!(known_units(&s).await, before, "{what}: units registered");
    }
    s.assert_empty("after refused Hellos").await;
    s.assert_genuine_accepted().await;
    assert!(known_units(&s).await.iter().any(|c| c == CHILD.code));
    s.stop().await;
}

/// Keys a child sends after its Hello are learnt for units of its subtree only; a list longer
/// than any subtree ends the link.
async fn keys_after_hello_only_for_the_subtree(backend: Backend) {
    let s = Setup::start(backend).await;
    let app = s.nodes[0].running().app.clone();
    let codes = [CHILD.code.to_string(), OTHER.code.to_string()];
    let mut link = s.link().await;
    let keys = |key: u8| {
        codes
            .iter()
            .map(|c| pb::UnitKey {
                unit_code: c.clone(),
                public_key: vec![key; 32],
            })
            .collect::<Vec<_>>()
    };
    let message = |keys| pb::LinkRequest {
        message: Some(pb::link_request::Message::SealingKeys(pb::SealingKeys {
            keys,
        })),
    };
    link.tx.send(message(keys(9))).await.unwrap();
    // A batch after the keys: once it is acknowledged, the keys were taken.
    let ack = link.send(&s.child_events[..1]).await.unwrap();
    assert_eq!(ack.get(CHILD.code), Some(&1));
    let known = app.sealing_keys(&codes).await.unwrap();
    assert_eq!(
        known
            .iter()
            .map(|k| (k.unit_code.as_str(), k.public_key[0]))
            .collect::<Vec<_>>(),
        [(CHILD.code, 9)],
        "only the child's own key is learnt"
    );

    let many = (0..=crate::support::server::MAX_UNITS + 1)
        .map(|i| pb::UnitKey {
            unit_code: format!("{:05}", 20_000 + i),
            public_key: vec![7; 32],
        })
        .collect();
    link.tx.send(message(many)).await.unwrap();
    let ended = loop {
        match link.next().await {
            Ok(Some(_)) => {}
            other => break other,
        }
    };
    assert_refused(
        ended,
        Code::InvalidArgument,
        "more keys than a subtree holds",
    );
    s.stop().await;
}

on_every_backend!(
    keys_after_hello_only_for_the_subtree,
    refused_hello_registers_nothing,
    hello_comes_first,
    gap_is_refused,
    forged_origin_is_refused,
    tampered_event_is_refused,
    batches_back_to_back
);
