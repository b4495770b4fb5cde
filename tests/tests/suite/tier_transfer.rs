//! Transfers up the tree and their results coming back down, hop by hop: two communes
//! transfer petitions about one matter to their town, which accepts both into one case and
//! resolves it; in deeper trees petitions go up two and three tiers, and across to the other
//! district; one result is made while its commune is offline and reaches it when it comes
//! back. The petitioner's details travel only to the unit that handles the petition.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support::server::UnitLevel;
use crate::support::*;
use tiepdan_tests::TestDb;
use tonic::transport::Channel;

/// A petition transferred from `from` to `to`, handled there up to its case.
struct Handled {
    from: &'static str,
    to: &'static str,
    source: pb::Petition,
    copy: pb::Petition,
}

/// Transfers a petition from `from` to `to` and waits until it arrives; classifies it there
/// as within jurisdiction.
async fn hand_over(
    tree: &Tree,
    from: &'static str,
    to: &'static str,
    tag: &str,
    day: u32,
) -> Handled {
    let source = transfer_up(&tree.channel(from), tag, to, local(2019, 4, day, 9, 0, 0)).await;
    assert_eq!(source.status, pb::PetitionStatus::Transferred as i32);
    assert_eq!(source.transferred_to_unit, to);
    let to_ch = tree.channel(to);
    let copy = wait_transferred_in(&to_ch, to, &source.id).await;
    assert_eq!(copy.source_unit, from, "{copy:?}");
    assert_eq!(copy.channel, pb::Channel::TransferredIn as i32);
    assert_eq!(copy.summary, source.summary);
    classify(
        &to_ch,
        format!("{tag}-c"),
        &copy.id,
        class_of(pb::PetitionType::Complaint, true, true),
        local(2019, 4, day + 2, 9, 0, 0),
    )
    .await;
    Handled {
        from,
        to,
        source,
        copy,
    }
}

/// The petitioner's details are at the units that handle the petition and nowhere above.
async fn check_privacy(tree: &Tree, handled: &[Handled]) {
    let with_person = |ch: Channel, id: String| async move {
        get_petition(&ch, &id)
            .await
            .petitioner
            .is_some_and(|p| !p.full_name.is_empty())
    };
    for h in handled {
        for (holder, id) in [(h.from, &h.source.id), (h.to, &h.copy.id)] {
            assert!(
                with_person(tree.channel(holder), id.clone()).await,
                "{holder} holds petition {id} with its petitioner"
            );
            for a in tree.ancestors(holder) {
                assert!(
                    !with_person(tree.channel(a), id.clone()).await,
                    "{a} must not see the petitioner of {holder}'s petition {id}"
                );
            }
        }
    }
}

async fn transfer_and_result_round_trip(backend: Backend, depth: Depth) {
    let mut tree = Tree::start(backend, depth, Options::default()).await;
    let town = town_of(depth);
    record_everywhere(&tree, "base", 4, 4).await;

    // Two communes, one matter: one case at the town, a result for each.
    let a = hand_over(&tree, "09574", town, "ta", 1).await;
    let b = hand_over(&tree, "09577", town, "tb", 2).await;
    let town_ch = tree.channel(town);
    let case = accept_new(
        &town_ch,
        "ta-a".into(),
        &a.copy.id,
        local(2019, 4, 6, 9, 0, 0),
    )
    .await;
    accept_into(
        &town_ch,
        "tb-a".into(),
        &b.copy.id,
        &case.id,
        local(2019, 4, 6, 10, 0, 0),
    )
    .await;
    let resolved = resolve(
        &town_ch,
        "ta-d".into(),
        &case.id,
        pb::CaseOutcome::ComplaintPartlyCorrect,
        local(2019, 5, 20, 15, 0, 0),
    )
    .await;
    assert_eq!(resolved.petition_ids.len(), 2, "{resolved:?}");
    wait_result(&tree.channel(a.from), &a.source.id, &resolved).await;
    wait_result(&tree.channel(b.from), &b.source.id, &resolved).await;
    let mut handled = vec![a, b];

    // Farther up, across and down: from a commune to the province, to the national level,
    // to the other district and to a district that joins later; from the province down to
    // a commune.
    let mut far = Vec::new();
    if depth != Depth::Two {
        far.push(("09580", "01", "tc", 8));
        far.push(("09619", "269", "tx", 10));
        far.push(("01", "09580", "tw", 11));
    }
    if depth == Depth::Four {
        far.push(("09619", "00", "td", 12));
    }
    if depth != Depth::Two {
        // A district that joins later: the communes learn of it down their links (the
        // transfer is retried until they do).
        let spec = Spec {
            code: "272",
            name: "Huyện Phúc Thọ",
            level: UnitLevel::District,
            parent: Some("01"),
        };
        tree.add(spec, TestDb::new(backend).await).await;
        far.push(("09574", "272", "tn", 13));
    }
    for (from, to, tag, day) in far {
        let h = hand_over(&tree, from, to, tag, day).await;
        let ch = tree.channel(to);
        let case = accept_new(
            &ch,
            format!("{tag}-a"),
            &h.copy.id,
            local(2019, 4, day + 3, 9, 0, 0),
        )
        .await;
        let resolved = resolve(
            &ch,
            format!("{tag}-d"),
            &case.id,
            pb::CaseOutcome::ComplaintIncorrect,
            local(2019, 6, day, 9, 0, 0),
        )
        .await;
        wait_result(&tree.channel(from), &h.source.id, &resolved).await;
        handled.push(h);
    }

    // A result made while its commune is offline waits at the town and arrives after.
    let e = hand_over(&tree, "09574", town, "te", 14).await;
    let case = accept_new(
        &town_ch,
        "te-a".into(),
        &e.copy.id,
        local(2019, 4, 18, 9, 0, 0),
    )
    .await;
    tree.proxy("09574").set(Mode::Drop);
    tree.wait_unlinked("09574").await;
    let resolved = resolve(
        &town_ch,
        "te-d".into(),
        &case.id,
        pb::CaseOutcome::ComplaintCorrect,
        local(2019, 6, 28, 9, 0, 0),
    )
    .await;
    wait_for("the result to wait at the town", || {
        let ch = town_ch.clone();
        async move {
            let s = sync_status(&ch).await;
            match s.children.iter().find(|c| c.unit_code == "09574") {
                Some(c) if c.mail_pending > 0 => Ok(()),
                other => Err(format!("{other:?}")),
            }
        }
    })
    .await;
    let offline = get_petition(&tree.channel("09574"), &e.source.id).await;
    assert!(offline.result_case_id.is_empty(), "{offline:?}");
    tree.proxy("09574").set(Mode::Pass);
    wait_result(&tree.channel("09574"), &e.source.id, &resolved).await;
    handled.push(e);

    verify(&tree).await;
    check_privacy(&tree, &handled).await;
    tree.stop().await;
}

on_every_backend!(depths: transfer_and_result_round_trip);
