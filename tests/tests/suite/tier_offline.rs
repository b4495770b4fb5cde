//! A commune cut off from its town records for a while and catches up when its link comes
//! back; in the three- and four-tier trees a whole district is cut off from the province at
//! the same time while its own commune keeps syncing to it. While they are cut off, every
//! tier holds exactly what crossed before the cut and its totals say so; afterwards, every
//! tier holds everything, once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support::*;

async fn offline_commune_catches_up(backend: Backend, depth: Depth) {
    let tree = Tree::start(
        backend,
        depth,
        Options {
            batch_events: 5,
            window: 4,
        },
    )
    .await;
    let town = town_of(depth);
    let commune = "09577";
    // In the deeper trees, a district goes offline too, with its commune still linked to it.
    let mut cut = vec![commune];
    if depth != Depth::Two {
        cut.push("271");
    }
    record_everywhere(&tree, "before", 8, 6).await;
    let before = settle(&tree).await;

    for c in &cut {
        tree.proxy(c).set(Mode::Drop);
    }
    for c in &cut {
        tree.wait_unlinked(c).await;
    }
    let parent_ch = tree.channel(town);
    wait_for(&format!("{town} noticing {commune} is gone"), || {
        let ch = parent_ch.clone();
        async move {
            let s = sync_status(&ch).await;
            match s.children.iter().find(|c| c.unit_code == commune) {
                Some(c) if !c.connected => Ok(()),
                other => Err(format!("{other:?}")),
            }
        }
    })
    .await;

    // Everyone records; the cut-off units and the units below them too.
    record_everywhere(&tree, "during", 10, 6).await;
    record_mix(&tree.channel(commune), "offline", 40, 15).await;
    let during = World::collect(&tree).await;
    assert!(
        during.journals[commune].len() > before.journals[commune].len() + 60,
        "the commune recorded offline"
    );
    check(
        &tree,
        &Expect {
            now: &during,
            before: Some(&before),
            cut: cut.clone(),
        },
    )
    .await;

    for c in &cut {
        tree.proxy(c).set(Mode::Pass);
    }
    record_visits(&tree.channel(commune), "after", 0, 5).await;
    verify(&tree).await;
    for c in &cut {
        let s = sync_status(&tree.channel(c)).await;
        let parent = s.parent.unwrap();
        assert!(parent.connected, "{c} linked again: {parent:?}");
    }
    tree.stop().await;
}

on_every_backend!(depths: offline_commune_catches_up);
