//! Two communes of a two-level tree merged into a new ward whose node starts afterwards.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

/// The new ward two communes of a two-level tree merge into.
const NEW_WARD: Spec = spec("10001", "Phường Tùng Thiện", UnitLevel::Ward, Some(CITY));

/// Two communes of a two-level tree merged into a new ward whose node starts afterwards: it
/// takes over both journals from the city and resolves an open case of one of them; the
/// merged communes stop writing (one of them offline through the change, its later visit
/// counted under the successor); earlier reports read the same.
async fn merge_two_communes_into_a_new_ward(backend: Backend) {
    let mut tree = Tree::start(backend, Depth::Two, Options::default()).await;
    let city = tree.channel(CITY);
    let mut open = Vec::new();
    for (i, code) in [KEEPER, MERGED, MOVED].iter().enumerate() {
        let ch = tree.channel(code);
        visit(&ch, local(2024, 2, 1 + i as u32, 9, 0, 0)).await;
        complaint(&ch, date(2024, 3, 1 + i as u32), false).await;
        open.push(complaint(&ch, date(2025, 4, 1 + i as u32), true).await);
    }
    settle(&tree).await;
    let codes = [CITY, KEEPER, MERGED, MOVED];
    let periods = ["2024", "2025-01-01..2025-06-30"];
    let before = snapshot(&city, &codes, &periods).await;
    // One of the merged communes is offline through the change, and records after it.
    tree.proxy(MOVED).set(Mode::Drop);
    tree.wait_unlinked(MOVED).await;

    let merger = pb::Reorganisation {
        id: "1656/NQ-UBTVQH15".into(),
        title: String::new(),
        authority_code: CITY.into(),
        effective_date: EFFECTIVE.into(),
        changes: vec![
            change(NEW_WARD.code, NEW_WARD.name, pb::UnitLevel::Ward, CITY),
            ends(MERGED, NEW_WARD.code),
            ends(MOVED, NEW_WARD.code),
        ],
    };
    let request = pb::ReorganiseRequest {
        request_id: rid(),
        reorganisation: Some(merger),
    };
    units(&city).reorganise(request.clone()).await.unwrap();
    // A retry with the same request id is answered as the first, and stores nothing twice.
    units(&city).reorganise(request).await.unwrap();
    assert_same(&snapshot(&city, &codes, &periods).await, &before, "at once");

    visit(&tree.channel(MOVED), local(2025, 8, 1, 9, 0, 0)).await;
    tree.proxy(MOVED).set(Mode::Pass);
    tree.add(NEW_WARD, TestDb::new(backend).await).await;
    let ward = tree.channel(NEW_WARD.code);
    wait_followed(&ward, NEW_WARD.code).await;
    for code in [MERGED, MOVED] {
        let ch = tree.channel(code);
        wait_followed(&ch, code).await;
        expect_precondition(
            reception(&ch)
                .record_visit(visit_req(
                    local(2026, 1, 5, 9, 0, 0),
                    pb::ReceiverRole::Staff,
                    1,
                ))
                .await,
            "RETIRED",
        );
    }
    let case = open[1].clone();
    wait_taken_over(&ward, MERGED, &case.id).await;
    resolve(
        &ward,
        rid(),
        &case.id,
        pb::CaseOutcome::ComplaintIncorrect,
        local(2026, 1, 20, 9, 0, 0),
    )
    .await;
    visit(&ward, local(2026, 1, 21, 9, 0, 0)).await;
    wait_city_holds(&tree, &[NEW_WARD.code, MERGED, MOVED, KEEPER]).await;

    assert_same(
        &snapshot(&city, &codes, &periods).await,
        &before,
        "afterwards",
    );
    let now = report_of(&city, CITY, "2026-01-01..2026-06-30")
        .await
        .unwrap();
    let rows: Vec<&str> = now
        .children
        .iter()
        .map(|r| r.unit.as_ref().unwrap().code.as_str())
        .collect();
    assert_eq!(rows, [KEEPER, NEW_WARD.code]);
    let new_row = now.children[1].totals.unwrap();
    assert_eq!((new_row.visits, new_row.cases_resolved), (1, 1));
    // The two open cases of the merged communes are carried into the new ward's row.
    assert_eq!(new_row.cases_carried_over, 2);
    let total = now.totals.unwrap();
    let sum = |f: fn(&pb::Totals) -> u64| -> u64 {
        now.children
            .iter()
            .map(|r| f(r.totals.as_ref().unwrap()))
            .sum()
    };
    assert_eq!(
        (total.visits, total.cases_carried_over, total.cases_resolved),
        (
            sum(|t| t.visits),
            sum(|t| t.cases_carried_over),
            sum(|t| t.cases_resolved)
        )
    );
    // What the offline commune recorded after its end counts under its successor.
    let half = report_of(&city, CITY, "2025-07-01..2025-12-31")
        .await
        .unwrap();
    let rows: Vec<(String, u64)> = half
        .children
        .iter()
        .map(|r| {
            (
                r.unit.as_ref().unwrap().code.clone(),
                r.totals.as_ref().unwrap().visits,
            )
        })
        .collect();
    assert_eq!(
        rows,
        [(KEEPER.to_string(), 0), (NEW_WARD.code.to_string(), 1)]
    );
    tree.stop().await;
}

on_every_backend!(merge_two_communes_into_a_new_ward);
