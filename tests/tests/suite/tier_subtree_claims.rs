//! A child speaks only for its own subtree: it cannot claim a unit that its parent already
//! places elsewhere in the tree (a sibling commune, the town itself), whether through a unit
//! registered in its journal, the subtree of its Hello, or the units of a batch. A claim
//! that succeeded would move the sibling's records and totals under the claimant and route
//! the sibling's mail — petitions with personal data — to it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support::*;
use tonic::transport::Channel;

const CLAIMANT: &str = "09574";
const SIBLING: &str = "09577";

/// The parent code of `code` as the node of `ch` knows it.
async fn parent_of(ch: &Channel, code: &str) -> Option<String> {
    let mut client = pb::unit_service_client::UnitServiceClient::new(ch.clone());
    let mut token = String::new();
    loop {
        let page = client
            .list_units(pb::ListUnitsRequest {
                page_size: 1000,
                page_token: token,
            })
            .await
            .unwrap()
            .into_inner();
        if let Some(u) = page.units.iter().find(|u| u.code == code) {
            return Some(u.parent_code.clone());
        }
        if page.next_page_token.is_empty() {
            return None;
        }
        token = page.next_page_token;
    }
}

/// Where the tiers above the claimant place the sibling, if not where it is.
async fn misplaced(tree: &Tree, what: &str) -> Vec<String> {
    let mut out = Vec::new();
    for a in tree.ancestors(CLAIMANT) {
        let parent = parent_of(&tree.channel(a), SIBLING).await;
        if parent.as_deref() != tree.member(SIBLING).spec.parent {
            out.push(format!("{what}: {a} now places {SIBLING} below {parent:?}"));
        }
    }
    out
}

/// Every tier above the claimant still places the sibling where it is.
async fn assert_sibling_in_place(tree: &Tree, what: &str) {
    let wrong = misplaced(tree, what).await;
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// A commune registers a unit below itself under its sibling's code (the API lets a node
/// register units of its own subtree); the registration travels up in its journal.
async fn sibling_claimed_in_journal(backend: Backend, depth: Depth) {
    let tree = Tree::start(backend, depth, Options::default()).await;
    record_everywhere(&tree, "base", 4, 3).await;
    settle(&tree).await;
    let claimant = tree.channel(CLAIMANT);
    let registered = pb::unit_service_client::UnitServiceClient::new(claimant.clone())
        .register_unit(pb::RegisterUnitRequest {
            request_id: "claim".into(),
            unit: Some(pb::Unit {
                code: SIBLING.into(),
                name: "Tổ dân phố".into(),
                level: pb::UnitLevel::Ward as i32,
                parent_code: CLAIMANT.into(),
                remote: false,
            }),
        })
        .await;
    eprintln!("RegisterUnit at {CLAIMANT}: {registered:?}");
    // Whatever the commune did locally, let its journal cross and look at every tier.
    record_visits(&claimant, "after-claim", 0, 3).await;
    let parent = tree.member(CLAIMANT).spec.parent.unwrap();
    let want = journal_last(&claimant, CLAIMANT).await;
    let parent_ch = tree.channel(parent);
    wait_for("the claimant's journal to cross or be refused", || {
        let ch = parent_ch.clone();
        let claimant = claimant.clone();
        async move {
            let got = journal_last(&ch, CLAIMANT).await;
            let s = sync_status(&claimant).await;
            let refused = s.parent.as_ref().is_some_and(|p| !p.last_error.is_empty());
            if got == want || refused {
                Ok(())
            } else {
                Err(format!("{got}/{want}, {s:?}"))
            }
        }
    })
    .await;
    assert_sibling_in_place(&tree, "after a unit registered under the sibling's code").await;
    tree.stop().await;
}

/// A link opened as the commune whose Hello, then whose batch, places the sibling below it.
async fn sibling_claimed_on_the_link(backend: Backend, depth: Depth) {
    let tree = Tree::start(backend, depth, Options::default()).await;
    record_everywhere(&tree, "base", 4, 3).await;
    settle(&tree).await;
    let parent = tree.member(CLAIMANT).spec.parent.unwrap();
    tree.proxy(CLAIMANT).set(Mode::Drop);
    tree.wait_unlinked(CLAIMANT).await;
    let sibling = pb::Unit {
        code: SIBLING.into(),
        name: "Tổ dân phố".into(),
        level: pb::UnitLevel::Ward as i32,
        parent_code: CLAIMANT.into(),
        remote: false,
    };

    let mut wrong = Vec::new();
    let mut hello = hello(CLAIMANT, "Phường Lê Lợi", pb::UnitLevel::Ward);
    if let Some(pb::link_request::Message::Hello(h)) = &mut hello.message {
        h.subtree = vec![sibling.clone()];
    }
    let outcome = match RawLink::open(&tree.url(parent), hello).await {
        Err(status) => Err(status),
        Ok(mut link) => link.next().await,
    };
    eprintln!("Hello claiming {SIBLING}: {outcome:?}");
    wrong.extend(misplaced(&tree, "after a Hello claiming the sibling").await);
    // Put the sibling back (its own Hello does) before the next claim.
    tree.proxy(SIBLING).reset();
    tree.wait_linked(SIBLING).await;

    let (mut link, _) = RawLink::hello(
        &tree.url(parent),
        CLAIMANT,
        "Phường Lê Lợi",
        pb::UnitLevel::Ward,
    )
    .await;
    link.tx
        .send(pb::LinkRequest {
            message: Some(pb::link_request::Message::Batch(pb::EventBatch {
                events: Vec::new(),
                remaining: 0,
                units: vec![sibling],
            })),
        })
        .await
        .unwrap();
    let outcome = link.next().await;
    eprintln!("batch claiming {SIBLING}: {outcome:?}");
    wrong.extend(misplaced(&tree, "after a batch claiming the sibling").await);
    drop(link);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));

    tree.proxy(CLAIMANT).set(Mode::Pass);
    verify(&tree).await;
    tree.stop().await;
}

on_every_backend!(depths: sibling_claimed_in_journal, sibling_claimed_on_the_link);
