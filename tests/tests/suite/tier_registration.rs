//! A child registered is placed below the node in its tree however many reloads of the tree
//! run beside the registration. Every registration, and every applied batch that carried a
//! unit, reloads the tree after its commit; two reloads that finished in the other order once
//! stored the older units last and left the new child out of the tree. The child's first
//! batch was then counted as if the commune lay below no one: missing from the town's subtree
//! totals, which differed from a recount (`tiepdan-bench --quick`, 16 communes, 2 of 38 runs,
//! three at a time).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support::on_every_backend;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::support::server::UnitLevel;
use tiepdan_tests::{Backend, TestNode, unit};

const TOWN: &str = "269";
const CHILDREN: usize = 40;
/// Tasks reloading the tree in a loop, as other children's sessions do.
const RELOADERS: usize = 6;

async fn a_registered_child_stays_in_the_tree(backend: Backend) {
    let town = TestNode::start(backend, unit(TOWN, "Thị xã", UnitLevel::District, None)).await;
    let app = town.running().app.clone();
    let stop = Arc::new(AtomicBool::new(false));
    let reloaders: Vec<_> = (0..RELOADERS)
        .map(|_| {
            let app = app.clone();
            let stop = stop.clone();
            tokio::spawn(async move {
                while !stop.load(Ordering::Acquire) {
                    app.reload_tree().await.unwrap();
                }
            })
        })
        .collect();
    let mut registered: Vec<String> = Vec::new();
    let mut lost = Vec::new();
    for i in 0..CHILDREN {
        let code = format!("{:05}", 10_000 + i);
        // A child knows no parent before it links, as a new commune does.
        let child = unit(&code, "Xã", UnitLevel::Commune, None);
        app.register_child(&child, &[]).await.unwrap();
        registered.push(code);
        // Every child registered so far, now and after the reloads running beside.
        for _ in 0..3 {
            let tree = app.tree();
            for code in &registered {
                if tree.chain(code) != vec![code.clone(), TOWN.to_string()] {
                    lost.push(format!(
                        "after {i}: {code} placed as {:?}",
                        tree.chain(code)
                    ));
                }
            }
            tokio::task::yield_now().await;
        }
    }
    stop.store(true, Ordering::Release);
    for r in reloaders {
        r.await.unwrap();
    }
    lost.dedup();
    assert!(
        lost.is_empty(),
        "{} losses:\n{}",
        lost.len(),
        lost.join("\n")
    );
    town.stop().await;
}

on_every_backend!(a_registered_child_stays_in_the_tree);

/// A child that links again, placed where it says with nothing new below it, writes nothing:
/// the tree, reloaded after every write of units, stays the one it was. A renamed child or a
/// new unit below it is written.
async fn a_child_linking_again_writes_nothing_new(backend: Backend) {
    let town = TestNode::start(backend, unit(TOWN, "Thị xã", UnitLevel::District, None)).await;
    let app = town.running().app.clone();
    let child = unit("09574", "Phường Lê Lợi", UnitLevel::Ward, None);
    let below = [unit("10000", "Tổ 1", UnitLevel::Ward, Some("09574"))];
    app.register_child(&child, &below).await.unwrap();
    let tree = app.tree();
    assert_eq!(tree.chain("10000"), ["10000", "09574", TOWN]);
    app.register_child(&child, &below).await.unwrap();
    assert!(
        Arc::ptr_eq(&tree, &app.tree()),
        "an unchanged child was written again"
    );

    let more = [
        below[0].clone(),
        unit("10001", "Tổ 2", UnitLevel::Ward, Some("10000")),
    ];
    app.register_child(&child, &more).await.unwrap();
    let tree = app.tree();
    assert_eq!(tree.chain("10001"), ["10001", "10000", "09574", TOWN]);

    let renamed = unit("09574", "Phường Lê Lợi mới", UnitLevel::Ward, None);
    app.register_child(&renamed, &more).await.unwrap();
    assert!(!Arc::ptr_eq(&tree, &app.tree()));
    assert_eq!(
        app.known_unit("09574").map(|u| u.name),
        Some(renamed.name.clone())
    );
    town.stop().await;
}

on_every_backend!(a_child_linking_again_writes_nothing_new);
