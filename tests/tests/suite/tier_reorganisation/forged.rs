//! A reorganisation in a child's journal moves nothing out of the child's subtree: one that
//! ends a unit of another town into the child, or moves such a unit under it, is refused as
//! forged (PERMISSION_DENIED) and the parent stores nothing of the batch.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use prost::Message;
use sha2::{Digest, Sha256};

use super::*;

/// A new commune that links below the city (placed nowhere yet).
const ROGUE: &str = "09998";

/// Event `sequence` of `ROGUE`'s journal, chained to `previous`, carrying `change`.
fn event(sequence: u64, previous: &[u8], change: pb::journal_event::Change) -> Vec<u8> {
    pb::JournalEvent {
        origin_unit: ROGUE.into(),
        sequence,
        previous_hash: previous.to_vec(),
        event_time: ts(local(2026, 1, 2, 9, 0, 0)),
        action: "Reorganise".into(),
        change: Some(change),
    }
    .encode_to_vec()
}

fn takes(change: pb::UnitChange) -> pb::journal_event::Change {
    pb::journal_event::Change::Reorganised(pb::Reorganisation {
        id: "forged".into(),
        title: String::new(),
        authority_code: ROGUE.into(),
        effective_date: EFFECTIVE.into(),
        changes: vec![change],
    })
}

async fn a_forged_reorganisation_moves_nothing(backend: Backend) {
    let tree = Tree::start(backend, Depth::Three, Options::default()).await;
    settle(&tree).await;
    let city = tree.channel(CITY);
    for (what, change) in [
        (
            "a unit of another town ended into the child",
            ends(OTHER_WARD, ROGUE),
        ),
        (
            "a unit of another town moved under the child",
            change(OTHER_WARD, "Xã Tây Đằng", pb::UnitLevel::Commune, ROGUE),
        ),
        (
            "a new unit placed under another town",
            change("09997", "Xã Mới", pb::UnitLevel::Commune, "271"),
        ),
    ] {
        let (mut link, _) =
            RawLink::hello(&tree.url(CITY), ROGUE, "Xã Giả", pb::UnitLevel::Commune).await;
        let before = journal_last(&city, ROGUE).await;
        let previous = if before == 0 {
            Vec::new()
        } else {
            Sha256::digest(journal_bytes(&city, ROGUE).await.last().unwrap()).to_vec()
        };
        let refused = link
            .send(&[event(before + 1, &previous, takes(change))])
            .await;
        assert_refused(refused, Code::PermissionDenied, what);
        assert_eq!(journal_last(&city, ROGUE).await, before, "{what}: stored");
        let listed = units(&city)
            .list_reorganisations(pb::ListReorganisationsRequest {})
            .await
            .unwrap()
            .into_inner();
        assert!(listed.reorganisations.is_empty(), "{what}: {listed:?}");
    }
    // The other town's commune is where it was, and still links there.
    let placed = list_units(&city).await;
    let other = placed.iter().find(|u| u.code == OTHER_WARD).unwrap();
    assert_eq!(other.parent_code, "271");
    tree.stop().await;
}

on_every_backend!(a_forged_reorganisation_moves_nothing);
