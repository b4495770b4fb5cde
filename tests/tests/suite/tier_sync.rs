//! Whole trees of real nodes (two, three and four tiers, several communes) on SQLite and on
//! PostgreSQL: a seed-shaped register recorded at the communes and their town, records at
//! every other tier, and the same batch delivered twice over a link opened by hand. After
//! each: no event lost, none applied twice, every tier's totals equal a recount.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support::server::UnitLevel;
use crate::support::server::{Shape, Target, generator};
use crate::support::*;
use tiepdan_tests::TestDb;
use tokio::net::TcpListener;

/// A small register shaped like the seed, over the town (or the province of a two-tier tree)
/// and its communes, with records at every other unit too.
async fn whole_tree_syncs(backend: Backend, depth: Depth) {
    let tree = Tree::start(backend, depth, Options::default()).await;
    let town = town_of(depth);
    let shape = Shape {
        seed: 11,
        year: 2019,
        visits: 60,
        petitions: 16,
        complaint_cases_to_resolve: 8,
        complaint_cases_resolved: 5,
        carried_over: 2,
        transferred_up: 2,
    };
    let targets: Vec<Target> = COMMUNES
        .iter()
        .map(|c| Target {
            code: c.to_string(),
            channel: tree.channel(c),
        })
        .collect();
    let town_target = Target {
        code: town.to_string(),
        channel: tree.channel(town),
    };
    let ledger = generator::generate(&shape, &town_target, &targets)
        .await
        .unwrap_or_else(|e| panic!("generate: {e}"));
    let generated = tree.subtree(town);
    for code in tree.codes() {
        if !generated.contains(&code) {
            record_mix(&tree.channel(code), &format!("mix-{code}"), 15, 12).await;
        }
    }
    let world = verify(&tree).await;
    assert!(world.events() > 100, "only {} events", world.events());

    // The generator's own count of what it recorded agrees with each unit's report.
    for (code, l) in &ledger.units {
        let report = reports(&tree.channel(code))
            .get_report(pb::GetReportRequest {
                unit_code: code.clone(),
                period: "2018-12-15..2019-09-14".into(),
                scope: pb::ReportScope::Unit as i32,
                calendar: 0,
            })
            .await
            .unwrap()
            .into_inner()
            .report
            .unwrap();
        let t = report.totals.unwrap();
        assert_eq!(
            (t.visits, t.persons, t.crowd_groups),
            (l.visits, l.persons, l.crowd_groups),
            "reception at {code}"
        );
        assert_eq!(
            t.petitions_received,
            l.petitions_received + l.petitions_transferred_in,
            "petitions received at {code}"
        );
        let complaints = report
            .by_type
            .iter()
            .find(|r| r.r#type == pb::PetitionType::Complaint as i32)
            .and_then(|r| r.totals)
            .unwrap();
        assert_eq!(
            (complaints.cases_to_resolve, complaints.cases_resolved),
            (l.complaint_cases_to_resolve, l.complaint_cases_resolved),
            "complaint cases at {code}"
        );
    }
    tree.stop().await;
}

/// A commune that never linked: its journal is sent by hand, the same batch twice, then
/// overlapping batches; the parent acknowledges the same positions and changes nothing.
/// Then the commune links for real, resumes where the parent is and goes on.
async fn same_batch_delivered_twice(backend: Backend, depth: Depth) {
    let mut tree = Tree::start(backend, depth, Options::default()).await;
    let town = town_of(depth);
    record_everywhere(&tree, "base", 6, 4).await;
    let spec = Spec {
        code: "09583",
        name: "Phường Quang Trung",
        level: UnitLevel::Ward,
        parent: Some(town),
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let lone = start_node(
        TestDb::new(backend).await,
        &spec,
        None,
        &tree.options,
        listener,
    )
    .await;
    let lone_ch = lone.channel().await;
    record_mix(&lone_ch, "lone", 12, 10).await;
    let events = journal_bytes(&lone_ch, spec.code).await;
    let n = events.len() as u64;
    let half = events.len() / 2;

    let town_ch = tree.channel(town);
    let snapshot = || {
        let ch = town_ch.clone();
        async move {
            let records = records_of(&ch, spec.code, town).await;
            let journal = journal_bytes(&ch, spec.code).await;
            let report = subtree_report(&ch, town).await;
            (records, journal, report.totals, report.by_type)
        }
    };

    let (mut link, welcome) =
        RawLink::hello(&tree.url(town), spec.code, spec.name, pb::UnitLevel::Ward).await;
    assert!(
        welcome
            .positions
            .iter()
            .all(|p| p.origin_unit != spec.code || p.sequence == 0),
        "{welcome:?}"
    );
    let ack = link.send(&events[..half]).await.unwrap();
    assert_eq!(ack.get(spec.code), Some(&(half as u64)), "first delivery");
    let once = snapshot().await;
    assert_eq!(once.1, events[..half], "the town keeps the bytes as sent");
    let ack = link.send(&events[..half]).await.unwrap();
    assert_eq!(ack.get(spec.code), Some(&(half as u64)), "second delivery");
    assert!(
        once == snapshot().await,
        "a redelivered batch changed the town"
    );

    let ack = link.send(&events[half / 2..]).await.unwrap();
    assert_eq!(ack.get(spec.code), Some(&n), "overlapping batch");
    let all = snapshot().await;
    assert_eq!(all.1, events);
    for chunk in [&events[..], &events[1..], &events[events.len() - 1..]] {
        let ack = link.send(chunk).await.unwrap();
        assert_eq!(ack.get(spec.code), Some(&n), "redelivery of the tail");
    }
    assert!(
        all == snapshot().await,
        "redelivered batches changed the town"
    );
    drop(link);
    let status = sync_status(&town_ch).await;
    let row = status
        .children
        .iter()
        .find(|c| c.unit_code == spec.code)
        .unwrap_or_else(|| panic!("{status:?}"));
    assert_eq!(row.events_applied, n, "events applied through the link");

    // The commune links for real: it resumes at the town's position.
    let db = lone.stop().await;
    tree.add(spec, db).await;
    record_visits(&tree.channel(spec.code), "lone", 100, 5).await;
    verify(&tree).await;
    tree.stop().await;
}

on_every_backend!(depths: whole_tree_syncs, same_batch_delivered_twice);
