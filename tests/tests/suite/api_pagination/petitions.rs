//! Petitions, newest first, under every filter.

use super::*;

pub(super) async fn petitions_newest_first(backend: Backend) {
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
