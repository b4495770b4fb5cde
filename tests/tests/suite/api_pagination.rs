//! Pagination and filters of every listing: pages of 7 hold every item exactly once, in the
//! documented order (petitions, visits and cases newest first; the schedule soonest first;
//! conclusions oldest first; overdue items earliest due date first), the last page has no
//! token, and filters combine with AND.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use common::*;
use tiepdan_tests::{Backend, on_every_backend};

use pb::Eligibility::Eligible;
use pb::Jurisdiction::Within;
use pb::PetitionStatus as PS;
use pb::PetitionType as T;

/// Pages through a listing: every item and the size of each page.
macro_rules! pages {
    ($api:expr, $svc:ident . $method:ident, $req:expr, $field:ident) => {{
        let mut req = $req;
        let mut items = Vec::new();
        let mut sizes = Vec::new();
        loop {
            let page = ok($api.$svc.$method(req.clone()).await);
            sizes.push(page.$field.len());
            items.extend(page.$field);
            if page.next_page_token.is_empty() {
                break;
            }
            assert!(sizes.len() < 200, "paging does not end");
            req.page_token = page.next_page_token;
        }
        (items, sizes)
    }};
}

#[track_caller]
fn assert_once<'a>(ids: impl IntoIterator<Item = &'a String>, expected: &BTreeSet<String>) {
    let ids: Vec<&String> = ids.into_iter().collect();
    let set: BTreeSet<String> = ids.iter().map(|s| s.to_string()).collect();
    assert_eq!(set.len(), ids.len(), "an item appears twice: {ids:?}");
    assert_eq!(&set, expected);
}

struct Made {
    id: String,
    at: DateTime<Utc>,
    ty: i32,
    status: i32,
}

async fn petitions_newest_first(backend: Backend) {
    let mut api = Api::start(backend).await;
    let base = local(2024, 10, 1, 8, 0, 0);
    let types = [
        Some(T::Complaint),
        Some(T::Denunciation),
        Some(T::Recommendation),
        Some(T::Mixed),
        None,
    ];
    let mut made = Vec::new();
    // 22 old petitions, three at each receipt time (ties), a quarter withdrawn...
    for i in 0..22 {
        let at = base + Duration::minutes(10 * (i / 3));
        let ty = types[(i % 5) as usize];
        let p = api
            .receive(at, ty.map(|t| class(t, Eligible, Within)))
            .await;
        let mut status = p.status;
        if i % 4 == 0 {
            status = ok(api
                .petitions
                .withdraw_petition(pb::WithdrawPetitionRequest {
                    request_id: rid(),
                    petition_id: p.id.clone(),
                    note: String::new(),
                    ..Default::default()
                })
                .await)
            .petition
            .unwrap()
            .status;
        }
        made.push(Made {
            id: p.id,
            at,
            ty: p.r#type,
            status,
        });
    }
    // ... and three received in the last hours, not yet due.
    for i in 0..3 {
        let at = ago(3) + Duration::minutes(i);
        let p = api.receive_as(at, T::Complaint, Eligible, Within).await;
        made.push(Made {
            id: p.id,
            at,
            ty: p.r#type,
            status: p.status,
        });
    }
    assert_eq!(made.len(), 25);
    let all: BTreeSet<String> = made.iter().map(|m| m.id.clone()).collect();

    let (items, sizes) = pages!(
        api,
        petitions.list_petitions,
        pb::ListPetitionsRequest {
            page_size: 7,
            ..Default::default()
        },
        petitions
    );
    assert_eq!(sizes, vec![7, 7, 7, 4]);
    assert_once(items.iter().map(|p| &p.id), &all);
    let times: Vec<DateTime<Utc>> = items.iter().map(|p| instant(&p.received_time)).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first");
    assert!(
        items.iter().all(|p| p.petitioner.is_none()),
        "no personal details in lists"
    );
    // One big page gives the same order; page_size is capped, not refused.
    for size in [0, 25, 26, 5000, i32::MAX] {
        let one = ok(api
            .petitions
            .list_petitions(pb::ListPetitionsRequest {
                page_size: size,
                ..Default::default()
            })
            .await);
        assert!(one.next_page_token.is_empty(), "size {size}");
        let ids: Vec<&String> = one.petitions.iter().map(|p| &p.id).collect();
        assert_eq!(
            ids,
            items.iter().map(|p| &p.id).collect::<Vec<_>>(),
            "size {size}"
        );
    }
    // Page size 1: 25 pages.
    let (one_by_one, sizes) = pages!(
        api,
        petitions.list_petitions,
        pb::ListPetitionsRequest {
            page_size: 1,
            ..Default::default()
        },
        petitions
    );
    assert_eq!(sizes, vec![1; 25]);
    assert_eq!(one_by_one, items);

    // Filters, each paged three at a time and checked against the inputs.
    let start = base + Duration::minutes(20);
    let end = base + Duration::minutes(50);
    let today = local_day(Utc::now());
    let overdue = move |m: &Made| {
        (m.status == PS::Received as i32 || m.status == PS::Classified as i32)
            && plus_days(local_day(m.at), 10) < today
    };
    type Pred = Box<dyn Fn(&Made) -> bool>;
    let cases: Vec<(pb::ListPetitionsRequest, Pred)> = vec![
        (
            pb::ListPetitionsRequest {
                status: PS::Withdrawn as i32,
                ..Default::default()
            },
            Box::new(|m: &Made| m.status == PS::Withdrawn as i32),
        ),
        (
            pb::ListPetitionsRequest {
                status: PS::Received as i32,
                ..Default::default()
            },
            Box::new(|m: &Made| m.status == PS::Received as i32),
        ),
        (
            pb::ListPetitionsRequest {
                r#type: T::Complaint as i32,
                ..Default::default()
            },
            Box::new(|m: &Made| m.ty == T::Complaint as i32),
        ),
        (
            pb::ListPetitionsRequest {
                status: PS::Classified as i32,
                r#type: T::Denunciation as i32,
                ..Default::default()
            },
            Box::new(|m: &Made| {
                m.status == PS::Classified as i32 && m.ty == T::Denunciation as i32
            }),
        ),
        (
            pb::ListPetitionsRequest {
                start_time: ts(start),
                end_time: ts(end),
                ..Default::default()
            },
            Box::new(move |m: &Made| m.at >= start && m.at < end),
        ),
        (
            pb::ListPetitionsRequest {
                start_time: ts(start),
                ..Default::default()
            },
            Box::new(move |m: &Made| m.at >= start),
        ),
        (
            pb::ListPetitionsRequest {
                end_time: ts(end),
                ..Default::default()
            },
            Box::new(move |m: &Made| m.at < end),
        ),
        (
            pb::ListPetitionsRequest {
                r#type: T::Complaint as i32,
                start_time: ts(start),
                end_time: ts(end),
                ..Default::default()
            },
            Box::new(move |m: &Made| m.ty == T::Complaint as i32 && m.at >= start && m.at < end),
        ),
        (
            pb::ListPetitionsRequest {
                overdue_only: true,
                ..Default::default()
            },
            Box::new(overdue),
        ),
        (
            pb::ListPetitionsRequest {
                overdue_only: true,
                r#type: T::Mixed as i32,
                ..Default::default()
            },
            Box::new(move |m: &Made| overdue(m) && m.ty == T::Mixed as i32),
        ),
        (
            pb::ListPetitionsRequest {
                overdue_only: true,
                status: PS::Withdrawn as i32,
                ..Default::default()
            },
            Box::new(|_: &Made| false),
        ),
        (
            pb::ListPetitionsRequest {
                unit_code: HOME.into(),
                ..Default::default()
            },
            Box::new(|_: &Made| true),
        ),
        (
            pb::ListPetitionsRequest {
                unit_code: "09574".into(),
                ..Default::default()
            },
            Box::new(|_: &Made| false),
        ),
    ];
    for (mut req, pred) in cases {
        req.page_size = 3;
        let label = format!("{req:?}");
        let (got, sizes) = pages!(api, petitions.list_petitions, req, petitions);
        let expected: BTreeSet<String> = made
            .iter()
            .filter(|m| pred(m))
            .map(|m| m.id.clone())
            .collect();
        assert_once(got.iter().map(|p| &p.id), &expected);
        // In the order of the full listing.
        let in_order: Vec<&String> = items
            .iter()
            .filter(|p| expected.contains(&p.id))
            .map(|p| &p.id)
            .collect();
        assert_eq!(
            got.iter().map(|p| &p.id).collect::<Vec<_>>(),
            in_order,
            "{label}"
        );
        assert!(sizes.iter().all(|s| *s <= 3));
        assert_eq!(sizes.iter().sum::<usize>(), expected.len(), "{label}");
    }
    // The window's own bounds: start inclusive, end exclusive.
    let at_start = made.iter().filter(|m| m.at == start).count();
    let at_end = made.iter().filter(|m| m.at == end).count();
    assert!(
        at_start > 0 && at_end > 0,
        "the window's bounds fall on petitions"
    );
    api.stop().await;
}

async fn visits_newest_first(backend: Backend) {
    let mut api = Api::start(backend).await;
    let base = local(2024, 12, 31, 20, 0, 0);
    let mut made = Vec::new();
    for i in 0..25 {
        let at = base + Duration::minutes(30 * (i / 2));
        let role = if i % 3 == 0 {
            pb::ReceiverRole::CommitteeChairman
        } else {
            pb::ReceiverRole::Staff
        };
        let v = api.visit(at, role, 1 + (i as u32 % 7)).await;
        made.push((v.id, at));
    }
    let all: BTreeSet<String> = made.iter().map(|m| m.0.clone()).collect();
    let (items, sizes) = pages!(
        api,
        reception.list_visits,
        pb::ListVisitsRequest {
            page_size: 7,
            ..Default::default()
        },
        visits
    );
    assert_eq!(sizes, vec![7, 7, 7, 4]);
    assert_once(items.iter().map(|v| &v.id), &all);
    let times: Vec<_> = items.iter().map(|v| instant(&v.visit_time)).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first");
    assert!(
        items
            .iter()
            .all(|v| v.crowd_group == (v.persons >= 5) && v.unit_code == HOME)
    );

    // The local new year as a period: [1 Jan 00:00 local, 1 Jan 03:00 local).
    let start = local(2025, 1, 1, 0, 0, 0);
    let end = local(2025, 1, 1, 3, 0, 0);
    let (got, _) = pages!(
        api,
        reception.list_visits,
        pb::ListVisitsRequest {
            start_time: ts(start),
            end_time: ts(end),
            page_size: 4,
            ..Default::default()
        },
        visits
    );
    let expected: BTreeSet<String> = made
        .iter()
        .filter(|(_, at)| *at >= start && *at < end)
        .map(|(id, _)| id.clone())
        .collect();
    assert_eq!(
        expected.len(),
        9,
        "00:00 to 02:00 local, two visits a half-hour, one at 02:00"
    );
    assert_once(got.iter().map(|v| &v.id), &expected);
    api.stop().await;
}

async fn schedule_soonest_first(backend: Backend) {
    let mut api = Api::start(backend).await;
    let base = local(2029, 12, 28, 8, 0, 0);
    let mut made = Vec::new();
    // Published out of order, across a year end, two sessions on some mornings.
    for i in [
        24, 3, 17, 0, 9, 12, 5, 21, 1, 14, 8, 19, 2, 23, 11, 6, 16, 4, 22, 10, 13, 7, 18, 15, 20,
    ] {
        let start = base + Duration::days(i / 2);
        let role = if i % 2 == 0 {
            pb::ReceiverRole::CommitteeChairman
        } else {
            pb::ReceiverRole::PartySecretary
        };
        let e = ok(api
            .reception
            .publish_schedule_entry(pb::PublishScheduleEntryRequest {
                request_id: rid(),
                receiver_role: role as i32,
                receiver_name: format!("Lãnh đạo {i}"),
                start_time: ts(start),
                end_time: ts(start + Duration::hours(3)),
                location: "Trụ sở tiếp công dân".into(),
            })
            .await)
        .entry
        .unwrap();
        made.push((e.id, start));
    }
    let all: BTreeSet<String> = made.iter().map(|m| m.0.clone()).collect();
    let (items, sizes) = pages!(
        api,
        reception.list_schedule_entries,
        pb::ListScheduleEntriesRequest {
            page_size: 7,
            ..Default::default()
        },
        entries
    );
    assert_eq!(sizes, vec![7, 7, 7, 4]);
    assert_once(items.iter().map(|e| &e.id), &all);
    let starts: Vec<_> = items.iter().map(|e| instant(&e.start_time)).collect();
    assert!(starts.windows(2).all(|w| w[0] <= w[1]), "soonest first");
    assert_eq!(starts[0], base);

    // The sessions of January 2030, local time.
    let start = local(2030, 1, 1, 0, 0, 0);
    let end = local(2030, 2, 1, 0, 0, 0);
    let (got, _) = pages!(
        api,
        reception.list_schedule_entries,
        pb::ListScheduleEntriesRequest {
            start_time: ts(start),
            end_time: ts(end),
            page_size: 7,
            ..Default::default()
        },
        entries
    );
    let expected: BTreeSet<String> = made
        .iter()
        .filter(|(_, at)| *at >= start && *at < end)
        .map(|(id, _)| id.clone())
        .collect();
    assert_eq!(expected.len(), 17, "28..31 Dec hold 8 sessions of 25");
    assert_once(got.iter().map(|e| &e.id), &expected);
    api.stop().await;
}

async fn conclusions_oldest_first(backend: Backend) {
    let mut api = Api::start(backend).await;
    let visit_at = ago(200);
    let head = api
        .visit(visit_at, pb::ReceiverRole::CommitteeChairman, 3)
        .await;
    let mut made = Vec::new();
    for i in [
        5, 0, 12, 24, 7, 3, 18, 9, 1, 20, 14, 2, 22, 11, 6, 16, 8, 23, 4, 19, 10, 13, 21, 15, 17,
    ] {
        let at = visit_at + Duration::hours(1 + i / 2);
        let k = ok(api
            .reception
            .record_conclusion(pb::RecordConclusionRequest {
                request_id: rid(),
                visit_id: head.id.clone(),
                text: format!("Kết luận số {i}"),
                assignee: "Phòng Tư pháp".into(),
                conclusion_time: ts(at),
            })
            .await)
        .conclusion
        .unwrap();
        let mut status = k.status;
        if i % 3 == 0 {
            status = ok(api
                .reception
                .update_conclusion(pb::UpdateConclusionRequest {
                    request_id: rid(),
                    conclusion_id: k.id.clone(),
                    status: pb::ConclusionStatus::Done as i32,
                    progress_note: "xong".into(),
                    update_time: ts(at + Duration::minutes(30)),
                })
                .await)
            .conclusion
            .unwrap()
            .status;
        }
        made.push((k.id, at, status));
    }
    let all: BTreeSet<String> = made.iter().map(|m| m.0.clone()).collect();
    let (items, sizes) = pages!(
        api,
        reception.list_conclusions,
        pb::ListConclusionsRequest {
            page_size: 7,
            ..Default::default()
        },
        conclusions
    );
    assert_eq!(sizes, vec![7, 7, 7, 4]);
    assert_once(items.iter().map(|k| &k.id), &all);
    let times: Vec<_> = items.iter().map(|k| instant(&k.conclusion_time)).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "oldest first");

    for status in [pb::ConclusionStatus::Done, pb::ConclusionStatus::Pending] {
        let (got, _) = pages!(
            api,
            reception.list_conclusions,
            pb::ListConclusionsRequest {
                status: status as i32,
                page_size: 2,
                ..Default::default()
            },
            conclusions
        );
        let expected: BTreeSet<String> = made
            .iter()
            .filter(|m| m.2 == status as i32)
            .map(|m| m.0.clone())
            .collect();
        assert_eq!(
            expected.len(),
            if status == pb::ConclusionStatus::Done {
                9
            } else {
                16
            }
        );
        assert_once(got.iter().map(|k| &k.id), &expected);
        assert!(got.iter().all(|k| k.status == status as i32));
    }
    api.stop().await;
}

async fn cases_newest_first(backend: Backend) {
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
async fn overdue_items_paged(backend: Backend) {
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

async fn units_in_tree_order(backend: Backend) {
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

async fn journal_pages_in_sequence(backend: Backend) {
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

on_every_backend!(
    petitions_newest_first,
    visits_newest_first,
    schedule_soonest_first,
    conclusions_oldest_first,
    cases_newest_first,
    overdue_items_paged,
    units_in_tree_order,
    journal_pages_in_sequence,
);
