//! Mail hop by hop under stress: transfers and results crossing a link that is reset again
//! and again arrive exactly once; and a commune that is offline with many results waiting
//! for it does not hold up the mail of the other communes or the mail going up.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use crate::support::*;
use tonic::transport::Channel;

/// The petitions of `unit` transferred in from `source_unit`.
async fn transferred_in_from(ch: &Channel, unit: &str, source_unit: &str) -> Vec<pb::Petition> {
    records_of(ch, unit, unit)
        .await
        .petitions
        .into_values()
        .filter(|p| p.source_unit == source_unit)
        .collect()
}

/// Transfers `n` petitions from `from` up to `to`, waits until all arrived, classifies them
/// there and accepts them all into one case. Returns the sources and the case.
async fn many_into_one_case(
    tree: &Tree,
    from: &str,
    to: &str,
    tag: &str,
    n: u32,
) -> (Vec<pb::Petition>, pb::Case) {
    let from_ch = tree.channel(from);
    let mut sources = Vec::new();
    for i in 0..n {
        let when = local(2019, 5, 2, 8, 0, 0) + chrono::Duration::minutes(i64::from(i));
        sources.push(transfer_up(&from_ch, &format!("{tag}{i}"), to, when).await);
    }
    let to_ch = tree.channel(to);
    wait_for(&format!("{n} transfers from {from} at {to}"), || {
        let ch = to_ch.clone();
        async move {
            let got = transferred_in_from(&ch, to, from).await.len();
            if got >= n as usize {
                Ok(())
            } else {
                Err(format!("{got} arrived"))
            }
        }
    })
    .await;
    let copies = transferred_in_from(&to_ch, to, from).await;
    assert_eq!(copies.len(), n as usize, "each transfer arrived once");
    let mut case: Option<pb::Case> = None;
    for (i, p) in copies.iter().enumerate() {
        let at = local(2019, 5, 6, 8, 0, 0) + chrono::Duration::minutes(i as i64);
        classify(
            &to_ch,
            format!("{tag}-c{i}"),
            &p.id,
            class_of(pb::PetitionType::Complaint, true, true),
            at,
        )
        .await;
        case = Some(match &case {
            None => accept_new(&to_ch, format!("{tag}-a{i}"), &p.id, at).await,
            Some(c) => accept_into(&to_ch, format!("{tag}-a{i}"), &p.id, &c.id, at).await,
        });
    }
    (sources, case.unwrap())
}

/// Seventy results wait at the town for an offline commune; another commune's result, and
/// a transfer from a third commune up to the province, still go through.
async fn waiting_mail_does_not_block_other_mail(backend: Backend, depth: Depth) {
    let tree = Tree::start(backend, depth, Options::default()).await;
    let town = town_of(depth);
    let offline = "09574";
    let (sources, case) = many_into_one_case(&tree, offline, town, "many", 70).await;
    tree.proxy(offline).set(Mode::Drop);
    tree.wait_unlinked(offline).await;
    let town_ch = tree.channel(town);
    let resolved = resolve(
        &town_ch,
        "many-d".into(),
        &case.id,
        pb::CaseOutcome::ComplaintIncorrect,
        local(2019, 6, 1, 9, 0, 0),
    )
    .await;
    assert_eq!(resolved.petition_ids.len(), 70);

    // Another commune's result.
    let (other, other_case) = many_into_one_case(&tree, "09577", town, "one", 1).await;
    let other_resolved = resolve(
        &town_ch,
        "one-d".into(),
        &other_case.id,
        pb::CaseOutcome::ComplaintCorrect,
        local(2019, 6, 2, 9, 0, 0),
    )
    .await;
    // A transfer from a third commune to the province, through the town's outbox.
    let mut up = None;
    if depth != Depth::Two {
        let p = transfer_up(
            &tree.channel("09580"),
            "up",
            "01",
            local(2019, 6, 3, 9, 0, 0),
        )
        .await;
        up = Some(p);
    }
    if let Some(p) = &up {
        wait_transferred_in(&tree.channel("01"), "01", &p.id).await;
    }
    wait_result(&tree.channel("09577"), &other[0].id, &other_resolved).await;

    tree.proxy(offline).set(Mode::Pass);
    let ch = tree.channel(offline);
    for s in &sources {
        wait_result(&ch, &s.id, &resolved).await;
    }
    verify(&tree).await;
    tree.stop().await;
}

/// Transfers and results cross a link that the proxy keeps resetting: each arrives once.
async fn mail_survives_resets(backend: Backend, depth: Depth) {
    let tree = Tree::start(backend, depth, Options::default()).await;
    let town = town_of(depth);
    let commune = "09580";
    let stop = tokio_util::sync::CancellationToken::new();
    let proxy = tree.proxy(commune);
    let work = async {
        let (sources, case) = many_into_one_case(&tree, commune, town, "r", 12).await;
        let resolved = resolve(
            &tree.channel(town),
            "r-d".into(),
            &case.id,
            pb::CaseOutcome::ComplaintPartlyCorrect,
            local(2019, 6, 5, 9, 0, 0),
        )
        .await;
        let ch = tree.channel(commune);
        for s in &sources {
            wait_result(&ch, &s.id, &resolved).await;
        }
        stop.cancel();
    };
    // Resets at uneven intervals, some shorter than a session takes to open on a loaded
    // machine; bounded, so the link is left alone in the end and everything must arrive.
    let chaos = async {
        for i in 0..60u64 {
            if stop.is_cancelled() {
                break;
            }
            proxy.reset();
            // Pacing the resets, which are what is under test.
            tokio::time::sleep(Duration::from_millis(20 + (i * 37) % 130)).await;
        }
    };
    tokio::join!(work, chaos);
    let copies = transferred_in_from(&tree.channel(town), town, commune).await;
    assert_eq!(copies.len(), 12, "each transfer arrived once");
    verify(&tree).await;
    tree.stop().await;
}

on_every_backend!(depths: waiting_mail_does_not_block_other_mail, mail_survives_resets);
