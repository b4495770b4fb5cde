//! A parent refuses what a child must not send over the link — no Hello first, a gap in the
//! sequences, an event from outside the child's subtree, a tampered event, a Hello whose
//! journal heads contradict what was applied — and stores nothing of a refused batch; the
//! child's genuine journal is accepted afterwards.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod tier_common;

use prost::Message;
use tiepdan_tests::{TestDb, TestNode};
use tier_common::*;
use tokio::net::TcpListener;
use tonic::Code;

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
        let report = reports(&ch)
            .get_report(pb::GetReportRequest {
                unit_code: String::new(),
                period: PERIOD_ALL.into(),
                scope: pb::ReportScope::Subtree as i32,
                calendar: 0,
            })
            .await
            .unwrap()
            .into_inner()
            .report
            .unwrap();
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

backend_tests!(
    hello_comes_first,
    gap_is_refused,
    forged_origin_is_refused,
    tampered_event_is_refused
);
