//! The 1 July 2025 shape on a three-level tree: the town dissolved, a ward merged into
//! another, a third moved under the city while offline.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

async fn reorganise_a_running_three_level_tree(backend: Backend) {
    let mut tree = Tree::start(backend, Depth::Three, Options::default()).await;
    let open = record_history(&tree).await;
    // A complaint the merged ward sent up to the town, which opened a case on it.
    let sent = transfer_up(
        &tree.channel(MERGED),
        "up",
        TOWN,
        local(2025, 2, 3, 9, 0, 0),
    )
    .await;
    let town = tree.channel(TOWN);
    let arrived = wait_transferred_in(&town, TOWN, &sent.id).await;
    let when = local(2025, 2, 10, 9, 0, 0);
    classify(
        &town,
        rid(),
        &arrived.id,
        class_of(pb::PetitionType::Complaint, true, true),
        when,
    )
    .await;
    let town_case = accept_new(&town, rid(), &arrived.id, when).await;
    settle(&tree).await;
    let city = tree.channel(CITY);
    let all = [CITY, TOWN, "271", KEEPER, MERGED, MOVED, OTHER_WARD];
    let city_before = snapshot(&city, &all, &EARLIER).await;
    let town_before = snapshot(
        &tree.channel(TOWN),
        &[TOWN, KEEPER, MERGED, MOVED],
        &EARLIER,
    )
    .await;

    // The moved ward goes offline and records on both sides of the change.
    tree.proxy(MOVED).set(Mode::Drop);
    tree.wait_unlinked(MOVED).await;
    let moved = tree.channel(MOVED);
    visit(&moved, local(2025, 5, 20, 9, 0, 0)).await;
    visit(&moved, local(2025, 8, 20, 9, 0, 0)).await;
    // The merged ward too, before the change: its visit reaches the city later, through the
    // town that no longer holds it.
    tree.proxy(MERGED).set(Mode::Drop);
    tree.wait_unlinked(MERGED).await;
    visit(&tree.channel(MERGED), local(2025, 6, 10, 9, 0, 0)).await;

    // Refused, changing nothing: the town cannot move what lies above it, nor the city
    // end a unit into one that ends too.
    let mut bad = resolution();
    bad.changes[2].successor_code = TOWN.into();
    expect_invalid(
        units(&city)
            .reorganise(pb::ReorganiseRequest {
                request_id: rid(),
                reorganisation: Some(bad),
            })
            .await,
        &["reorganisation.changes[2].successor_code"],
    );
    let at_town = units(&tree.channel(TOWN))
        .reorganise(pb::ReorganiseRequest {
            request_id: rid(),
            reorganisation: Some(resolution()),
        })
        .await;
    assert_eq!(err(at_town).code(), Code::InvalidArgument);
    assert_same(
        &snapshot(&city, &all, &EARLIER).await,
        &city_before,
        "refusals",
    );

    let issued = units(&city)
        .reorganise(pb::ReorganiseRequest {
            request_id: rid(),
            reorganisation: Some(resolution()),
        })
        .await
        .unwrap()
        .into_inner()
        .reorganisation
        .unwrap();
    assert_eq!(issued.authority_code, CITY);
    // At once, at the city: every earlier report as it was.
    assert_same(
        &snapshot(&city, &all, &EARLIER).await,
        &city_before,
        "at the city at once",
    );

    // The town and the merged ward follow through their links; the ended units write no
    // more. The keeper, which lives on, is told where it sits now.
    tree.proxy(MERGED).set(Mode::Pass);
    for code in [TOWN, MERGED] {
        wait_followed(&tree.channel(code), code).await;
    }
    let keeper = tree.channel(KEEPER);
    wait_for("the town to send the keeper to the city", || {
        let keeper = keeper.clone();
        async move {
            match sync_status(&keeper).await.parent {
                Some(p) if p.refused && p.last_error_code == "FAILED_PRECONDITION" => {
                    Ok(p.last_error)
                }
                other => Err(format!("{other:?}")),
            }
        }
    })
    .await;
    visit(&keeper, local(2026, 2, 3, 9, 0, 0)).await;
    for code in [TOWN, MERGED] {
        expect_precondition(
            reception(&tree.channel(code))
                .record_visit(visit_req(
                    local(2026, 1, 5, 9, 0, 0),
                    pb::ReceiverRole::Staff,
                    1,
                ))
                .await,
            "RETIRED",
        );
    }
    // (The merged ward's June visit now counts in the first half of 2025.)
    assert_same(
        &snapshot(
            &tree.channel(TOWN),
            &[TOWN, KEEPER, MERGED, MOVED],
            &EARLIER[..3],
        )
        .await,
        &only(&town_before, &EARLIER[..3]),
        "the town's own reports of earlier periods",
    );

    // Pointed at the city, the keeper takes over the merged ward's and the town's records
    // and resolves the open case.
    tree.kill(KEEPER);
    tree.repoint(KEEPER, CITY, Mode::Pass).await;
    tree.restart(KEEPER).await;
    let keeper = tree.channel(KEEPER);
    wait_followed(&keeper, KEEPER).await;
    wait_taken_over(&keeper, MERGED, &open.id).await;
    let resolved = resolve(
        &keeper,
        rid(),
        &open.id,
        pb::CaseOutcome::ComplaintPartlyCorrect,
        local(2026, 3, 2, 9, 0, 0),
    )
    .await;
    assert_eq!(
        resolved.owner_unit, MERGED,
        "the case keeps the unit it was opened at"
    );
    // The town's case too; its result reaches the petition the merged ward sent up, now the
    // keeper's to tell the citizen.
    let town_resolved = resolve(
        &keeper,
        rid(),
        &town_case.id,
        pb::CaseOutcome::ComplaintCorrect,
        local(2026, 3, 5, 9, 0, 0),
    )
    .await;
    wait_result(&keeper, &sent.id, &town_resolved).await;

    // The moved ward is pointed at the city and brings what it recorded offline.
    tree.kill(MOVED);
    tree.repoint(MOVED, CITY, Mode::Pass).await;
    tree.restart(MOVED).await;
    let moved = tree.channel(MOVED);
    visit(&moved, local(2026, 2, 4, 9, 0, 0)).await;
    wait_city_holds(&tree, &[TOWN, KEEPER, MERGED, MOVED, OTHER_WARD, "271"]).await;
    wait_result(&city, &sent.id, &town_resolved).await;
    let status = sync_status(&moved).await;
    assert!(
        status
            .parent
            .as_ref()
            .is_some_and(|p| p.connected && p.unit_code == CITY),
        "{status:?}"
    );

    // Earlier periods: the same at the city, except what the moved and the merged wards
    // recorded offline before the change, which now counts where it was recorded.
    assert_same(
        &snapshot(&city, &all, &EARLIER[..3]).await,
        &only(&city_before, &EARLIER[..3]),
        "reports of periods before the change",
    );
    let half = report_of(&city, TOWN, EARLIER[3]).await.unwrap();
    let was = &city_before[&(TOWN.to_string(), EARLIER[3].to_string())];
    assert_eq!(
        half.totals.as_ref().unwrap().visits,
        was.totals.as_ref().unwrap().visits + 2,
        "the offline visits of May and June 2025 count in the town as it was"
    );

    // After the change: the city's rows are today's units, and add up to its total.
    let period = "2025-07-01..2026-06-30";
    let span = crate::support::period(period);
    let now = report_of(&city, CITY, period).await.unwrap();
    let rows: Vec<&str> = now
        .children
        .iter()
        .map(|r| r.unit.as_ref().unwrap().code.as_str())
        .collect();
    assert_eq!(rows, ["09574", "09580", "271"]);
    let names: Vec<&str> = now
        .children
        .iter()
        .map(|r| r.unit.as_ref().unwrap().name.as_str())
        .collect();
    assert_eq!(names[..2], ["Phường Sơn Tây", "Xã Đoài Phương"]);
    let total = now.totals.as_ref().unwrap();
    let sum = |f: fn(&pb::Totals) -> u64| -> u64 {
        now.children
            .iter()
            .map(|r| f(r.totals.as_ref().unwrap()))
            .sum()
    };
    assert_eq!(total.visits, sum(|t| t.visits));
    assert_eq!(total.cases_resolved, sum(|t| t.cases_resolved));
    // Counted from the records the city holds.
    let visits = visits_at(&city)
        .await
        .into_iter()
        .filter(|v| within(&v.visit_time, span))
        .count() as u64;
    assert_eq!(total.visits, visits);
    assert_eq!(
        visits, 3,
        "the moved ward's two after the change, the keeper's one"
    );
    let keeper_row = &now.children[0];
    // Carried over into the period: the cases of the keeper and of its predecessors accepted
    // before it and not decided by then, counted from the cases the city holds.
    let mut carried = 0;
    for unit in [KEEPER, MERGED, TOWN] {
        carried += cases_of(&city, unit)
            .await
            .iter()
            .filter(|c| local_day(instant(&c.accept_time)) < span.0)
            .filter(|c| c.decision_time.is_none() || local_day(instant(&c.decision_time)) >= span.0)
            .count() as u64;
    }
    assert_eq!(
        carried, 4,
        "the three complaints of 2024 left open, and the case the town opened in 2025"
    );
    assert_eq!(
        keeper_row.totals.as_ref().unwrap().cases_carried_over,
        carried
    );
    assert_eq!(
        keeper_row.totals.as_ref().unwrap().cases_resolved,
        2,
        "the merged ward's case and the town's, resolved by their successor, each counted once"
    );
    let mut predecessors: Vec<(String, String, String)> = now
        .predecessors
        .iter()
        .map(|p| {
            (
                p.unit.as_ref().unwrap().code.clone(),
                p.valid_until.clone(),
                p.successor_code.clone(),
            )
        })
        .collect();
    predecessors.sort();
    assert_eq!(
        predecessors,
        [
            (MERGED.into(), "2025-06-30".into(), KEEPER.into()),
            (TOWN.into(), "2025-06-30".into(), KEEPER.into())
        ]
    );
    // A period across the change: the keeper's report counts its predecessors' records.
    let year = report_of(&city, KEEPER, "2025").await.unwrap();
    let expected = visits_at(&city)
        .await
        .into_iter()
        .filter(|v| [KEEPER, MERGED, TOWN].contains(&v.unit_code.as_str()))
        .filter(|v| {
            let span = (
                year.start_date.parse().unwrap(),
                year.end_date.parse().unwrap(),
            );
            within(&v.visit_time, span)
        })
        .count() as u64;
    assert_eq!(year.totals.as_ref().unwrap().visits, expected);
    let cases = cases_of(&city, MERGED).await;
    assert_eq!(
        cases.iter().filter(|c| c.id == open.id).count(),
        1,
        "one copy of the case"
    );

    // Moving a unit without a reorganisation is still refused.
    let refused = RawLink::open(
        &tree.url(CITY),
        hello(OTHER_WARD, "Xã Tây Đằng", pb::UnitLevel::Commune),
    )
    .await
    .map(|_| ());
    let status = refused.expect_err("the city took a unit placed elsewhere");
    assert_eq!(status.code(), Code::PermissionDenied);
    assert_eq!(reason(&status), "UNIT_PLACED_ELSEWHERE");
    tree.stop().await;
}

on_every_backend!(reorganise_a_running_three_level_tree);
