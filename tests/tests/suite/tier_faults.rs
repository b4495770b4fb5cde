//! Faults while a commune streams a backlog to its parent in many small batches: the parent
//! killed and restarted on its database; the link cut by the proxy (drop, reset, stall).
//! Events the parent acknowledged before a crash survive it; afterwards no event is lost,
//! none is applied twice, and every tier's totals equal a recount.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support::*;

/// Small batches and a small window: a backlog crosses in dozens of batches.
const SMALL: Options = Options {
    batch_events: 5,
    window: 2,
};

/// Cuts `commune` off, records a backlog there, and lets it stream again. Returns the
/// parent's position in the commune's journal before the link came back.
async fn backlog(tree: &Tree, commune: &str, tag: &str, visits: u32, petitions: u32) -> u64 {
    tree.proxy(commune).set(Mode::Drop);
    tree.wait_unlinked(commune).await;
    let parent = tree.member(commune).spec.parent.unwrap();
    let ch = tree.channel(commune);
    record_visits(&ch, tag, 0, visits).await;
    record_petitions(&ch, tag, 0, petitions).await;
    let start = journal_last(&tree.channel(parent), commune).await;
    tree.proxy(commune).set(Mode::Pass);
    start
}

/// Waits until the parent of `commune` holds more than `after` of its events; returns how
/// many it holds.
async fn streaming(tree: &Tree, commune: &str, after: u64) -> u64 {
    let parent = tree.member(commune).spec.parent.unwrap();
    let ch = tree.channel(parent);
    wait_polling(
        &format!("{parent} to receive more than {after} events of {commune}"),
        std::time::Duration::from_millis(5),
        || async {
            match journal_last(&ch, commune).await {
                seen if seen > after => Ok(seen),
                seen => Err(format!("{seen} received")),
            }
        },
    )
    .await
}

/// The parent of a commune is killed while the commune streams a backlog, and restarted
/// on its database (on the same address). Twice: once with the commune held off while the
/// parent comes back, to see what the parent kept, and once with the commune reconnecting
/// at once.
async fn parent_killed_mid_batch(backend: Backend, depth: Depth) {
    let mut tree = Tree::start(backend, depth, SMALL).await;
    let town = town_of(depth);
    let commune = "09574";
    record_everywhere(&tree, "before", 5, 4).await;
    settle(&tree).await;

    let start = backlog(&tree, commune, "backlog", 60, 15).await;
    let total = journal_last(&tree.channel(commune), commune).await;
    let acknowledged = streaming(&tree, commune, start).await;
    tree.kill(town);
    tree.proxy(commune).set(Mode::Drop);
    tree.restart(town).await;
    let kept = journal_last(&tree.channel(town), commune).await;
    assert!(
        kept >= acknowledged,
        "{town} applied {acknowledged} events of {commune} before the crash but kept {kept}"
    );
    eprintln!(
        "first crash: {town} held {acknowledged} of {total} events of {commune}, kept {kept}"
    );
    tree.proxy(commune).set(Mode::Pass);

    // The other communes go on recording; the town is killed again mid-stream and comes
    // back at once.
    let others: Vec<_> = COMMUNES.iter().filter(|c| **c != commune).collect();
    for c in &others {
        record_visits(&tree.channel(c), "between", 0, 10).await;
    }
    let start = backlog(&tree, commune, "backlog2", 40, 5).await;
    streaming(&tree, commune, start).await;
    tree.kill(town);
    tree.restart(town).await;
    for c in &others {
        record_visits(&tree.channel(c), "after", 0, 5).await;
    }
    verify(&tree).await;
    tree.stop().await;
}

/// The proxy drops the link mid-stream (the commune keeps recording), resets every
/// connection again and again while the rest streams, then stalls it briefly.
async fn link_cut_mid_stream(backend: Backend, depth: Depth) {
    let tree = Tree::start(backend, depth, SMALL).await;
    let commune = "09580";
    record_everywhere(&tree, "before", 5, 4).await;
    settle(&tree).await;

    let start = backlog(&tree, commune, "backlog", 60, 15).await;
    let seen = streaming(&tree, commune, start).await;
    tree.proxy(commune).set(Mode::Drop);
    tree.wait_unlinked(commune).await;
    record_visits(&tree.channel(commune), "dropped", 0, 10).await;
    tree.proxy(commune).set(Mode::Pass);
    streaming(&tree, commune, seen).await;

    let recorder = {
        let ch = tree.channel(commune);
        tokio::spawn(async move { record_mix(&ch, "resets", 25, 5).await })
    };
    for _ in 0..12 {
        tree.proxy(commune).reset();
        // Pacing the resets, which are what is under test.
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    }
    recorder.await.unwrap();
    tree.proxy(commune).reset();

    // A short stall mid-stream, over before any keepalive gives up: the same connection
    // carries on (`stalled_link_recovers` lets the keepalive notice a long one).
    let start = backlog(&tree, commune, "backlog2", 30, 5).await;
    streaming(&tree, commune, start).await;
    tree.proxy(commune).set(Mode::Stall);
    record_visits(&tree.channel(commune), "short-stall", 0, 5).await;
    // The stall under test lasts this long.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    tree.proxy(commune).set(Mode::Pass);
    verify(&tree).await;
    tree.stop().await;
}

/// The proxy stalls the link mid-stream: no bytes move, nothing is closed. The commune's
/// keepalive notices; when the stall ends everything crosses.
async fn stalled_link_recovers(backend: Backend) {
    let tree = Tree::start(backend, Depth::Three, SMALL).await;
    let commune = "09574";
    record_everywhere(&tree, "before", 5, 4).await;
    settle(&tree).await;

    let start = backlog(&tree, commune, "backlog", 50, 10).await;
    streaming(&tree, commune, start).await;
    tree.proxy(commune).set(Mode::Stall);
    record_mix(&tree.channel(commune), "stalled", 10, 3).await;
    tree.wait_unlinked(commune).await;
    tree.proxy(commune).set(Mode::Pass);
    verify(&tree).await;
    tree.stop().await;
}

/// The commune itself is killed while it streams a backlog, and restarted on its database:
/// it resumes where its parent says it is.
async fn commune_killed_mid_stream(backend: Backend) {
    let mut tree = Tree::start(backend, Depth::Three, SMALL).await;
    let commune = "09577";
    record_everywhere(&tree, "before", 5, 4).await;
    settle(&tree).await;

    let start = backlog(&tree, commune, "backlog", 50, 10).await;
    streaming(&tree, commune, start).await;
    tree.kill(commune);
    tree.restart(commune).await;
    record_visits(&tree.channel(commune), "after", 0, 5).await;
    verify(&tree).await;
    tree.stop().await;
}

on_every_backend!(depths: parent_killed_mid_batch, link_cut_mid_stream);
on_every_backend!(stalled_link_recovers, commune_killed_mid_stream);
