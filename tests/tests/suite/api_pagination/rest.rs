//! Cases, overdue items, units and the journal.

use super::*;

pub(super) async fn cases_newest_first(backend: Backend) {
    let mut api = Api::start(backend).await;
    let received = local(2024, 2, 1, 8, 0, 0);
    let base = local(2024, 2, 2, 8, 0, 0);
    let types = [T::Complaint, T::Denunciation, T::Recommendation];
    // (id, accept time, type, status)
    let mut made: Vec<(String, DateTime<Utc>, i32, i32)> = Vec::new();
    for i in 0..22 {
        let accepted = base + Duration::hours(i / 2);
        let ty = types[(i % 3) as usize];
        let (_, c) = api.open_case(ty, received, accepted, false).await;
        let mut status = c.status;
        if i % 4 == 1 {
            let outcome = match ty {
                T::Complaint => pb::CaseOutcome::ComplaintCorrect,
                T::Denunciation => pb::CaseOutcome::DenunciationFounded,
                _ => pb::CaseOutcome::RecommendationAnswered,
            };
            status = api
                .resolve(&c.id, outcome, accepted + Duration::days(5))
                .await
                .status;
        }
        made.push((c.id, accepted, c.r#type, status));
    }
    for i in 0..3 {
        let accepted = ago(2) + Duration::minutes(i);
        let (_, c) = api.open_case(T::Complaint, ago(3), accepted, false).await;
        made.push((c.id, accepted, c.r#type, c.status));
    }
    let all: BTreeSet<String> = made.iter().map(|m| m.0.clone()).collect();
    let (items, sizes) = pages!(
        api,
        cases.list_cases,
        pb::ListCasesRequest {
            page_size: 7,
            ..Default::default()
        },
        cases
    );
    assert_eq!(sizes, vec![7, 7, 7, 4]);
    assert_once(items.iter().map(|c| &c.id), &all);
    let times: Vec<_> = items.iter().map(|c| instant(&c.accept_time)).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first");
    assert!(items.iter().all(|c| c.petition_ids.len() == 1));

    let today = local_day(Utc::now());
    let start = base + Duration::hours(3);
    let end = base + Duration::hours(8);
    let open = pb::CaseStatus::Open as i32;
    let overdue = move |m: &(String, DateTime<Utc>, i32, i32)| {
        m.3 == open && plus_days(local_day(m.1), 30) < today
    };
    type Pred = Box<dyn Fn(&(String, DateTime<Utc>, i32, i32)) -> bool>;
    let filters: Vec<(pb::ListCasesRequest, Pred)> = vec![
        (
            pb::ListCasesRequest {
                status: pb::CaseStatus::Resolved as i32,
                ..Default::default()
            },
            Box::new(|m| m.3 == pb::CaseStatus::Resolved as i32),
        ),
        (
            pb::ListCasesRequest {
                r#type: T::Denunciation as i32,
                ..Default::default()
            },
            Box::new(|m| m.2 == T::Denunciation as i32),
        ),
        (
            pb::ListCasesRequest {
                status: open,
                r#type: T::Complaint as i32,
                ..Default::default()
            },
            Box::new(move |m| m.3 == open && m.2 == T::Complaint as i32),
        ),
        (
            pb::ListCasesRequest {
                start_time: ts(start),
                end_time: ts(end),
                ..Default::default()
            },
            Box::new(move |m| m.1 >= start && m.1 < end),
        ),
        (
            pb::ListCasesRequest {
                start_time: ts(start),
                end_time: ts(end),
                r#type: T::Recommendation as i32,
                ..Default::default()
            },
            Box::new(move |m| m.1 >= start && m.1 < end && m.2 == T::Recommendation as i32),
        ),
        (
            pb::ListCasesRequest {
                overdue_only: true,
                ..Default::default()
            },
            Box::new(overdue),
        ),
        (
            pb::ListCasesRequest {
                overdue_only: true,
                r#type: T::Complaint as i32,
                end_time: ts(end),
                ..Default::default()
            },
            Box::new(move |m| overdue(m) && m.2 == T::Complaint as i32 && m.1 < end),
        ),
        (
            pb::ListCasesRequest {
                owner_unit: HOME.into(),
                ..Default::default()
            },
            Box::new(|_| true),
        ),
        (
            pb::ListCasesRequest {
                owner_unit: "01".into(),
                ..Default::default()
            },
            Box::new(|_| false),
        ),
    ];
    for (mut req, pred) in filters {
        req.page_size = 3;
        let label = format!("{req:?}");
        let (got, _) = pages!(api, cases.list_cases, req, cases);
        let expected: BTreeSet<String> = made
            .iter()
            .filter(|m| pred(m))
            .map(|m| m.0.clone())
            .collect();
        assert_once(got.iter().map(|c| &c.id), &expected);
        let in_order: Vec<&String> = items
            .iter()
            .filter(|c| expected.contains(&c.id))
            .map(|c| &c.id)
            .collect();
        assert_eq!(
            got.iter().map(|c| &c.id).collect::<Vec<_>>(),
            in_order,
            "{label}"
        );
    }
    api.stop().await;
}

/// Overdue items with many ties on the due date, paged by 7.
pub(super) async fn overdue_items_paged(backend: Backend) {
    let mut api = Api::start(backend).await;
    let mut expected = Vec::new();
    // 15 petitions on 5 local days, and 10 cases on 5 local days, due dates interleaved.
    for i in 0..15 {
        let at = local(2024, 3, 1 + (i % 5) as u32, 22, 0, 0) + Duration::minutes(i);
        let p = api.receive(at, None).await;
        expected.push((plus_days(local_day(at), 10), p.id));
    }
    for i in 0..10 {
        let accepted = local(2024, 2, 10 + (i % 5) as u32, 12, 0, 0);
        let (_, c) = api
            .open_case(T::Complaint, accepted - Duration::hours(1), accepted, false)
            .await;
        expected.push((plus_days(local_day(accepted), 30), c.id));
    }
    let as_of = local(2024, 6, 1, 0, 0, 0);
    let (items, sizes) = pages!(
        api,
        petitions.list_overdue_items,
        pb::ListOverdueItemsRequest {
            as_of_time: ts(as_of),
            page_size: 7,
            ..Default::default()
        },
        items
    );
    assert_eq!(sizes, vec![7, 7, 7, 4]);
    let got: Vec<(String, i32)> = items
        .iter()
        .map(|i| {
            let id = match i.item.as_ref().unwrap() {
                pb::overdue_item::Item::Petition(p) => p.id.clone(),
                pb::overdue_item::Item::Case(c) => c.id.clone(),
            };
            (id, i.days_overdue)
        })
        .collect();
    let all: BTreeSet<String> = expected.iter().map(|e| e.1.clone()).collect();
    assert_once(got.iter().map(|g| &g.0), &all);
    // Earliest due date first, with the days counted from each due date.
    let days = |id: &str| {
        let due = expected.iter().find(|e| e.1 == id).unwrap().0;
        (local_day(as_of) - due).num_days() as i32
    };
    for (id, d) in &got {
        assert_eq!(*d, days(id), "{id}");
    }
    assert!(
        got.windows(2).all(|w| w[0].1 >= w[1].1),
        "most overdue first: {got:?}"
    );
    api.stop().await;
}

pub(super) async fn units_in_tree_order(backend: Backend) {
    let mut api = Api::start(backend).await;
    let tree = [
        ("9003", HOME),
        ("9001", HOME),
        ("90012", "9001"),
        ("9002", HOME),
        ("90033", "9003"),
        ("90011", "9001"),
        ("90021", "9002"),
        ("90031", "9003"),
        ("90032", "9003"),
    ];
    for (code, parent) in tree {
        api.register_unit(code, parent, &format!("Đơn vị {code}"))
            .await;
    }
    let (units, sizes) = pages!(
        api,
        units.list_units,
        pb::ListUnitsRequest {
            page_size: 4,
            ..Default::default()
        },
        units
    );
    assert_eq!(sizes, vec![4, 4, 2]);
    assert_eq!(units[0].code, HOME, "the node's own unit first");
    let codes: Vec<&str> = units.iter().map(|u| u.code.as_str()).collect();
    let expected: BTreeSet<String> = tree
        .iter()
        .map(|t| t.0.to_string())
        .chain([HOME.to_string()])
        .collect();
    assert_once(units.iter().map(|u| &u.code), &expected);
    for (code, parent) in tree {
        let at = codes.iter().position(|c| *c == code).unwrap();
        let parent_at = codes.iter().position(|c| *c == parent).unwrap();
        assert!(
            parent_at < at,
            "{parent} before its child {code}: {codes:?}"
        );
        assert_eq!(units[at].parent_code, parent);
    }
    let whole = ok(api.units.list_units(pb::ListUnitsRequest::default()).await);
    assert!(whole.next_page_token.is_empty());
    assert_eq!(whole.units, units);
    let own = ok(api.units.get_unit(pb::GetUnitRequest {}).await)
        .unit
        .unwrap();
    assert_eq!(own, units[0]);
    assert_eq!(own.level, pb::UnitLevel::District as i32);
    api.stop().await;
}

pub(super) async fn journal_pages_in_sequence(backend: Backend) {
    let mut api = Api::start(backend).await;
    for i in 0..10 {
        api.receive(ago(5) + Duration::minutes(i), None).await;
    }
    let last = api.last_seq().await;
    assert_eq!(last, 11, "the unit itself and 10 petitions");
    let mut seen = Vec::new();
    let mut after = 0;
    loop {
        let page = ok(api
            .journal
            .list_journal_events(pb::ListJournalEventsRequest {
                after_sequence: after,
                page_size: 3,
                ..Default::default()
            })
            .await);
        assert_eq!(page.last_sequence, last);
        assert!(page.events.len() <= 3);
        let Some(tail) = page.events.last() else {
            break;
        };
        after = tail.sequence;
        seen.extend(page.events.iter().map(|e| e.sequence));
        assert!(page.events.iter().all(|e| e.origin_unit == HOME));
    }
    assert_eq!(seen, (1..=last).collect::<Vec<_>>());
    let first = api.events_after(0).await;
    assert!(first[0].previous_hash.is_empty());
    assert!(first[1..].iter().all(|e| e.previous_hash.len() == 32));
    assert_eq!(first[0].action, "RegisterUnit");
    // Another origin this node has no events of.
    let other = ok(api
        .journal
        .list_journal_events(pb::ListJournalEventsRequest {
            origin_unit: "01".into(),
            ..Default::default()
        })
        .await);
    assert_eq!(other.last_sequence, 0);
    assert!(other.events.is_empty());
    api.stop().await;
}
