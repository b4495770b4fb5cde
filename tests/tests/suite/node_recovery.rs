//! Recovery from the parent: a commune restored from an older copy of its database, or
//! rebuilt on an empty one after its disk was lost, takes back from its town the journal
//! events the town holds beyond its copy — byte for byte, each chained to the one before —
//! and refuses writes until it has; afterwards its new records reach every tier, nothing
//! is lost or stored twice anywhere, and the petitioners' details that never left it are
//! named as lost.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use crate::support::server::{DatabaseArgs, backup, mark_for_recovery, restore};
use crate::support::*;
use tonic::transport::Channel;

const WARD: &str = "09574";

fn args_for(url: &str) -> DatabaseArgs {
    DatabaseArgs {
        unit: None,
        db: Some(url.to_string()),
        data_dir: None,
        config: None,
    }
}

/// The ids of `WARD`'s own visits and petitions as the node at `ch` holds them.
async fn own_ids(ch: &Channel) -> (BTreeSet<String>, BTreeSet<String>) {
    let records = records_of(ch, WARD, WARD).await;
    (
        records.visits.keys().cloned().collect(),
        records.petitions.keys().cloned().collect(),
    )
}

async fn recovery_of(ch: &Channel) -> Option<pb::RecoveryStatus> {
    sync_status(ch).await.recovery
}

/// Waits until the node at `ch` has finished its recovery; returns what it says of it.
async fn wait_recovered(ch: &Channel) -> pb::RecoveryStatus {
    wait_for("the recovery to finish", || async move {
        match recovery_of(ch).await {
            Some(r) if !r.recovering && r.finish_time.is_some() => Ok(r),
            other => Err(format!("{other:?}")),
        }
    })
    .await
}

/// A write at the node at `ch` while it recovers is refused, changing nothing.
async fn writes_are_refused(ch: &Channel) {
    let before = own_ids(ch).await;
    let refused = reception(ch)
        .record_visit(visit_req(
            local(2019, 9, 20, 9, 0, 0),
            pb::ReceiverRole::Staff,
            1,
        ))
        .await;
    expect_precondition(refused, "RECOVERING");
    assert_eq!(own_ids(ch).await, before, "a refused write left nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_commune_takes_back_its_journal_from_its_town() {
    let mut tree = Tree::start(Backend::Sqlite, Depth::Three, Options::default()).await;
    let ward = tree.channel(WARD);
    record_mix(&ward, "before", 10, 4).await;
    settle(&tree).await;
    let copies = tempfile::tempdir().unwrap();
    let copy = copies.path().join("09574.sqlite");
    let (_, in_copy) = own_ids(&ward).await;
    // The copy is taken with the node running, as an operator would.
    let url = tree.member(WARD).node.as_ref().unwrap().db.url.clone();
    let summary = backup(&args_for(&url), &copy).await.unwrap();
    let copied = summary.heads[WARD];

    // After the copy: more records, and a transfer up (mail the town takes).
    record_mix(&ward, "after", 10, 3).await;
    let sent = transfer_up(&ward, "after-up", "269", local(2019, 9, 2, 8, 0, 0)).await;
    wait_transferred_in(&tree.channel("269"), "269", &sent.id).await;
    let synced = settle(&tree).await;
    let held = synced.journals[WARD].len() as u64;
    assert!(
        held >= copied + 13,
        "the ward wrote after the copy: {copied} then {held}"
    );
    let (visits, petitions) = own_ids(&ward).await;
    let (before_visits, before_petitions) = {
        let r = &synced.records[WARD];
        (
            r.visits.keys().cloned().collect::<BTreeSet<_>>(),
            r.petitions.keys().cloned().collect::<BTreeSet<_>>(),
        )
    };
    assert_eq!((&visits, &petitions), (&before_visits, &before_petitions));

    // The ward's disk is put back to the copy; it comes back with its link cut.
    tree.kill(WARD);
    let restored = restore(&args_for(&tree.db(WARD).url), &copy).await.unwrap();
    assert_eq!(restored.heads[WARD], copied);
    tree.proxy(WARD).set(Mode::Drop);
    tree.restart(WARD).await;
    let ward = tree.channel(WARD);
    let waiting = recovery_of(&ward)
        .await
        .expect("the restore marked the database");
    assert!(waiting.recovering, "{waiting:?}");
    assert_eq!(waiting.reason, "restore");
    writes_are_refused(&ward).await;

    // The link comes back: the town gives back what the copy lacks.
    tree.proxy(WARD).set(Mode::Pass);
    let outcome = wait_recovered(&ward).await;
    assert_eq!(outcome.events_recovered, held - copied, "{outcome:?}");
    let (visits_now, petitions_now) = own_ids(&ward).await;
    assert_eq!(visits_now, visits, "every visit is back, none twice");
    assert_eq!(
        petitions_now, petitions,
        "every petition is back, none twice"
    );
    // The details of the petitions received after the copy never left the ward.
    let after_copy: BTreeSet<String> = petitions.difference(&in_copy).cloned().collect();
    let lost: BTreeSet<String> = outcome
        .petitions_without_personal_details
        .iter()
        .cloned()
        .collect();
    assert!(!after_copy.is_empty());
    assert_eq!(
        lost, after_copy,
        "the petitions whose details are lost are named"
    );

    // New writes get new ids and reach every tier; a second transfer up is not taken for
    // the first (its envelope id is new too).
    record_visits(&ward, "new", 0, 5).await;
    let again = transfer_up(&ward, "new-up", "269", local(2019, 9, 25, 8, 0, 0)).await;
    wait_transferred_in(&tree.channel("269"), "269", &again.id).await;
    let (visits_after, _) = own_ids(&ward).await;
    assert_eq!(visits_after.len(), visits.len() + 5);
    assert!(visits.is_subset(&visits_after));
    let world = verify(&tree).await;
    assert_eq!(
        world.journals[WARD][..held as usize],
        synced.journals[WARD][..],
        "the ward's journal is the one it had, byte for byte, then its new events"
    );
    tree.stop().await;
}

async fn a_commune_whose_disk_is_lost_is_rebuilt_from_its_town(backend: Backend) {
    let mut tree = Tree::start(backend, Depth::Three, Options::default()).await;
    let ward = tree.channel(WARD);
    record_mix(&ward, "lost", 12, 5).await;
    let synced = settle(&tree).await;
    let (visits, petitions) = own_ids(&ward).await;
    assert!(!petitions.is_empty());

    // The disk is gone: an empty database, marked to recover, under the same node.
    tree.kill(WARD);
    let empty = TestDb::new(backend).await;
    mark_for_recovery(&empty.url).await.unwrap();
    drop(tree.replace_db(WARD, empty));
    tree.proxy(WARD).set(Mode::Drop);
    tree.restart(WARD).await;
    let ward = tree.channel(WARD);
    assert_eq!(
        recovery_of(&ward).await.map(|r| (r.recovering, r.reason)),
        Some((true, "recover".to_string()))
    );
    writes_are_refused(&ward).await;
    tree.proxy(WARD).set(Mode::Pass);
    let outcome = wait_recovered(&ward).await;
    assert_eq!(
        outcome.events_recovered,
        synced.journals[WARD].len() as u64,
        "its whole journal came back"
    );
    assert_eq!(own_ids(&ward).await, (visits.clone(), petitions.clone()));
    // No petitioner's details ever left the ward: every named petition's are lost.
    let lost: BTreeSet<String> = outcome
        .petitions_without_personal_details
        .iter()
        .cloned()
        .collect();
    assert_eq!(lost, petitions);

    record_visits(&ward, "rebuilt", 0, 4).await;
    let world = verify(&tree).await;
    assert_eq!(
        world.journals[WARD][..synced.journals[WARD].len()],
        synced.journals[WARD][..]
    );
    assert_eq!(world.records[WARD].visits.len(), visits.len() + 4);
    tree.stop().await;
}

on_every_backend!(a_commune_whose_disk_is_lost_is_rebuilt_from_its_town);

/// A town's disk is lost while its communes keep recording: the city gives back the town's
/// own events and those of its communes, placing the communes again; the communes link
/// again once the town is whole, and every tier ends with everything, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_town_whose_disk_is_lost_is_rebuilt_from_the_city() {
    let mut tree = Tree::start(Backend::Sqlite, Depth::Three, Options::default()).await;
    record_everywhere(&tree, "lost", 6, 3).await;
    let synced = settle(&tree).await;
    tree.kill("269");
    let empty = TestDb::new(Backend::Sqlite).await;
    mark_for_recovery(&empty.url).await.unwrap();
    drop(tree.replace_db("269", empty));
    // The communes keep working meanwhile.
    for code in COMMUNES {
        record_visits(&tree.channel(code), "meanwhile", 0, 3).await;
    }
    tree.restart("269").await;
    let town = tree.channel("269");
    let outcome = wait_recovered(&town).await;
    let subtree_events: usize = tree
        .subtree("269")
        .iter()
        .map(|code| synced.journals[*code].len())
        .sum();
    assert_eq!(
        outcome.events_recovered, subtree_events as u64,
        "the town's journal and its communes' came back: {outcome:?}"
    );
    for code in COMMUNES {
        tree.wait_linked(code).await;
    }
    record_visits(&town, "rebuilt", 0, 2).await;
    verify(&tree).await;
    tree.stop().await;
}
