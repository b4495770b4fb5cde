//! Case deadlines: the table, remote units, month and year ends, local days, the overdue listing.

use super::*;

/// Case limits by type, counted from the local day of acceptance.
pub(super) async fn case_deadlines_follow_the_table(backend: Backend) {
    let mut api = Api::start(backend).await;
    // 06:00 local on 15 June is 23:00 UTC on 14 June.
    let received = local(2024, 6, 14, 9, 0, 0);
    let accepted = local(2024, 6, 15, 6, 0, 0);
    assert_eq!(accepted, utc(2024, 6, 14, 23, 0, 0));
    let day = local_day(accepted);
    assert_eq!(day, date(2024, 6, 15));

    let (_, first) = api.open_case(T::Complaint, received, accepted, false).await;
    assert_deadline(
        &first.deadline,
        "resolve_first_complaint",
        plus_days(day, 30),
    );
    assert_eq!(first.deadline.as_ref().unwrap().due_date, "2024-07-15");

    let (_, complex) = api.open_case(T::Complaint, received, accepted, true).await;
    assert_deadline(
        &complex.deadline,
        "resolve_first_complaint_complex",
        plus_days(day, 45),
    );
    // Declared complex later: the same 45 days from acceptance.
    let extended = ok(api
        .cases
        .extend_case(pb::ExtendCaseRequest {
            request_id: rid(),
            case_id: first.id.clone(),
            note: "phức tạp".into(),
        })
        .await)
    .case
    .unwrap();
    assert_deadline(
        &extended.deadline,
        "resolve_first_complaint_complex",
        plus_days(day, 45),
    );

    // A second complaint: 45 days, 60 when complex.
    let mut second = class(T::Complaint, Eligible, Within);
    second.complaint_round = 2;
    let p = api.receive(received, Some(second)).await;
    let (_, c2) = api.accept_new(&p.id, accepted, false).await;
    assert_eq!(c2.complaint_round, 2);
    assert_deadline(&c2.deadline, "resolve_second_complaint", plus_days(day, 45));
    let c2 = ok(api
        .cases
        .extend_case(pb::ExtendCaseRequest {
            request_id: rid(),
            case_id: c2.id.clone(),
            note: "phức tạp".into(),
        })
        .await)
    .case
    .unwrap();
    assert_deadline(
        &c2.deadline,
        "resolve_second_complaint_complex",
        plus_days(day, 60),
    );
    let p = api.receive(received, Some(second)).await;
    let (_, c2x) = api.accept_new(&p.id, accepted, true).await;
    assert_deadline(
        &c2x.deadline,
        "resolve_second_complaint_complex",
        plus_days(day, 60),
    );

    // A denunciation: 30 days, plus 30 per extension.
    let (_, den) = api
        .open_case(T::Denunciation, received, accepted, false)
        .await;
    assert_deadline(&den.deadline, "resolve_denunciation", plus_days(day, 30));
    for n in 1..=2 {
        let c = ok(api
            .cases
            .extend_case(pb::ExtendCaseRequest {
                request_id: rid(),
                case_id: den.id.clone(),
                note: "rất phức tạp".into(),
            })
            .await)
        .case
        .unwrap();
        assert_deadline(
            &c.deadline,
            "resolve_denunciation",
            plus_days(day, 30 + 30 * n),
        );
        assert_eq!(api.get_case(&den.id).await.deadline, c.deadline);
    }
    assert_eq!(ymd(plus_days(day, 90)), "2024-09-13");

    // A recommendation: 30 days (the node's documented assumption).
    let (_, rec) = api
        .open_case(T::Recommendation, received, accepted, false)
        .await;
    assert_deadline(&rec.deadline, "resolve_recommendation", plus_days(day, 30));
    api.stop().await;
}

/// A unit in a remote area has the longer complaint limits.
pub(super) async fn remote_unit_has_longer_complaint_limits(backend: Backend) {
    let mut remote = unit("02", "Tỉnh Hà Giang", UnitLevel::Province, None);
    remote.remote = true;
    let mut api = Api::start_unit(backend, remote).await;
    let received = local(2024, 11, 20, 9, 0, 0);
    let accepted = local(2024, 12, 1, 0, 15, 0); // 30 Nov in UTC
    let day = date(2024, 12, 1);
    let (_, c) = api.open_case(T::Complaint, received, accepted, false).await;
    assert_deadline(
        &c.deadline,
        "resolve_first_complaint_remote",
        plus_days(day, 45),
    );
    assert_eq!(c.deadline.as_ref().unwrap().due_date, "2025-01-15");
    let (_, c) = api.open_case(T::Complaint, received, accepted, true).await;
    assert_deadline(
        &c.deadline,
        "resolve_first_complaint_remote_complex",
        plus_days(day, 60),
    );
    let mut second = class(T::Complaint, Eligible, Within);
    second.complaint_round = 2;
    let p = api.receive(received, Some(second)).await;
    let (_, c) = api.accept_new(&p.id, accepted, false).await;
    assert_deadline(
        &c.deadline,
        "resolve_second_complaint_remote",
        plus_days(day, 60),
    );
    let p = api.receive(received, Some(second)).await;
    let (_, c) = api.accept_new(&p.id, accepted, true).await;
    assert_deadline(
        &c.deadline,
        "resolve_second_complaint_remote_complex",
        plus_days(day, 70),
    );
    let (_, d) = api
        .open_case(T::Denunciation, received, accepted, false)
        .await;
    assert_deadline(&d.deadline, "resolve_denunciation", plus_days(day, 30));
    api.stop().await;
}

/// 30 days from 31 January land in March, on the 1st in a leap year and the 2nd otherwise;
/// acceptance just after local midnight on 1 January counts from 1 January.
pub(super) async fn case_overdue_across_month_and_year_ends(backend: Backend) {
    let mut api = Api::start(backend).await;
    let scenarios = [
        // (received, accepted, expected due date)
        (
            local(2024, 1, 30, 9, 0, 0),
            local(2024, 1, 31, 20, 0, 0),
            date(2024, 3, 1),
        ),
        (
            local(2023, 1, 30, 9, 0, 0),
            local(2023, 1, 31, 20, 0, 0),
            date(2023, 3, 2),
        ),
        (
            local(2023, 12, 28, 9, 0, 0),
            local(2024, 1, 1, 0, 30, 0),
            date(2024, 1, 31),
        ),
        (
            local(2022, 12, 20, 9, 0, 0),
            local(2022, 12, 31, 23, 30, 0),
            date(2023, 1, 30),
        ),
    ];
    for (received, accepted, expected) in scenarios {
        let (_, case) = api.open_case(T::Complaint, received, accepted, false).await;
        let due = plus_days(local_day(accepted), 30);
        assert_eq!(due, expected);
        assert_deadline(&case.deadline, "resolve_first_complaint", due);

        let due_time = instant(&case.deadline.as_ref().unwrap().due_time);
        let listed =
            |items: &[(String, i32)]| items.iter().find(|(id, _)| *id == case.id).map(|(_, d)| *d);
        let before = overdue_at(&mut api, due_time - Duration::microseconds(1)).await;
        assert_eq!(
            listed(&before),
            None,
            "{} at the last instant of {due}",
            case.id
        );
        let at_23_59 = local_midnight(due) + Duration::hours(23) + Duration::minutes(59);
        assert_eq!(listed(&overdue_at(&mut api, at_23_59).await), None);
        assert_eq!(listed(&overdue_at(&mut api, due_time).await), Some(1));
        let next_midnight = local_midnight(due.succ_opt().unwrap());
        assert_eq!(due_time, next_midnight);
        assert_eq!(
            listed(&overdue_at(&mut api, next_midnight + Duration::days(9)).await),
            Some(10)
        );
    }
    api.stop().await;
}

/// Whether a decision was on time is judged by its local day.
pub(super) async fn resolved_on_time_in_local_days(backend: Backend) {
    let mut api = Api::start(backend).await;
    let received = local(2024, 1, 31, 9, 0, 0);
    let accepted = local(2024, 2, 1, 10, 0, 0);
    let due = plus_days(local_day(accepted), 30);
    assert_eq!(due, date(2024, 3, 2));
    // 23:59:59 local on the due date and 00:00 local the next day share one UTC date.
    let last = local(2024, 3, 2, 23, 59, 59);
    let first_late = local(2024, 3, 3, 0, 0, 0);
    assert_eq!(last.date_naive(), first_late.date_naive());

    let (_, on_time) = api.open_case(T::Complaint, received, accepted, false).await;
    let c = api
        .resolve(&on_time.id, pb::CaseOutcome::ComplaintCorrect, last)
        .await;
    assert!(c.resolved_on_time, "decided on the due date");
    assert!(!c.deadline.as_ref().unwrap().overdue);

    let (_, late) = api.open_case(T::Complaint, received, accepted, false).await;
    let c = api
        .resolve(&late.id, pb::CaseOutcome::ComplaintCorrect, first_late)
        .await;
    assert!(!c.resolved_on_time, "decided the day after the due date");
    assert!(
        !c.deadline.as_ref().unwrap().overdue,
        "resolved cases are not overdue"
    );
    assert!(api.get_case(&late.id).await.resolved_on_time == c.resolved_on_time);

    // A resolved case leaves the overdue list, an open one stays.
    let (_, open) = api.open_case(T::Complaint, received, accepted, false).await;
    let now = api.get_case(&open.id).await.deadline.unwrap();
    assert!(now.overdue, "open since February 2024");
    assert_eq!(
        i64::from(now.days_overdue),
        (local_day(Utc::now()) - due).num_days()
    );
    let as_of = local(2024, 4, 1, 12, 0, 0);
    assert_eq!(
        overdue_at(&mut api, as_of).await,
        vec![(open.id.clone(), (local_day(as_of) - due).num_days() as i32)]
    );
    api.stop().await;
}

/// Overdue items are listed most overdue first, petitions and cases together.
pub(super) async fn overdue_items_most_overdue_first(backend: Backend) {
    let mut api = Api::start(backend).await;
    let mut expected: Vec<(NaiveDate, String)> = Vec::new();
    // Pending petitions, received on different local days.
    for (i, day) in [(0, 3), (1, 17), (2, 9)] {
        let at = local(2024, 5, day, 21, 0, 0) + Duration::minutes(i);
        let p = api.receive(at, None).await;
        expected.push((plus_days(local_day(at), 10), p.id));
    }
    // Open cases, accepted on different local days.
    for day in [1, 12, 20] {
        let accepted = local(2024, 4, day, 23, 30, 0);
        let (_, c) = api
            .open_case(
                T::Denunciation,
                accepted - Duration::hours(5),
                accepted,
                false,
            )
            .await;
        expected.push((plus_days(local_day(accepted), 30), c.id));
    }
    // Closed records are never overdue.
    let (_, closed) = api
        .open_case(
            T::Denunciation,
            local(2024, 3, 1, 8, 0, 0),
            local(2024, 3, 1, 9, 0, 0),
            false,
        )
        .await;
    api.resolve(
        &closed.id,
        pb::CaseOutcome::DenunciationUnfounded,
        local(2024, 6, 1, 9, 0, 0),
    )
    .await;
    let routed = api
        .receive_as(local(2024, 5, 1, 8, 0, 0), T::Complaint, Eligible, Outside)
        .await;
    ok(api
        .petitions
        .guide_petition(pb::GuidePetitionRequest {
            request_id: rid(),
            petition_id: routed.id.clone(),
            outside_body: "Tòa án".into(),
            note: String::new(),
            ..Default::default()
        })
        .await);

    let as_of = local(2024, 7, 1, 0, 0, 0);
    let today = local_day(as_of);
    expected.sort();
    let want: Vec<(String, i32)> = expected
        .iter()
        .filter(|(due, _)| *due < today)
        .map(|(due, id)| (id.clone(), (today - *due).num_days() as i32))
        .collect();
    assert_eq!(want.len(), 6);
    let got = overdue_at(&mut api, as_of).await;
    assert_eq!(got, want);
    assert!(
        got.windows(2).all(|w| w[0].1 > w[1].1),
        "most overdue first"
    );

    // Paged two at a time, the same list.
    let mut paged = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = ok(api
            .petitions
            .list_overdue_items(pb::ListOverdueItemsRequest {
                as_of_time: ts(as_of),
                page_size: 2,
                page_token: token,
            })
            .await);
        pages += 1;
        assert!(page.items.len() <= 2);
        paged.extend(page.items.into_iter().map(|i| {
            let id = match i.item.unwrap() {
                pb::overdue_item::Item::Petition(p) => p.id,
                pb::overdue_item::Item::Case(c) => c.id,
            };
            (id, i.days_overdue)
        }));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(paged, want);
    assert_eq!(pages, 3);

    // Earlier, only the earliest are overdue.
    let early = local(2024, 5, 14, 0, 0, 0);
    let want_early: Vec<(String, i32)> = expected
        .iter()
        .filter(|(due, _)| *due < local_day(early))
        .map(|(due, id)| (id.clone(), (local_day(early) - *due).num_days() as i32))
        .collect();
    assert_eq!(overdue_at(&mut api, early).await, want_early);
    assert_eq!(
        want_early.len(),
        3,
        "cases due 1 and 12 May, the petition due 13 May"
    );
    api.stop().await;
}
