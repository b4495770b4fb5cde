//! Statutory deadlines in local time (Asia/Ho_Chi_Minh, UTC+7) across month and year ends,
//! and the moment an item becomes overdue. Expected dates are computed here from the inputs
//! with a fixed +07:00 offset, independently of the server.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support::server::UnitLevel;
use crate::support::*;
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc, Weekday};
use tiepdan_tests::{Backend, unit};

use pb::Eligibility::Eligible;
use pb::Jurisdiction::{Outside, Within};
use pb::PetitionType as T;

fn ymd(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// `days` working days (Monday to Friday) after the local day of `start`.
fn working_days_after(start: DateTime<Utc>, days: u32) -> NaiveDate {
    let mut d = local_day(start);
    let mut left = days;
    while left > 0 {
        d = d.succ_opt().unwrap();
        if !matches!(d.weekday(), Weekday::Sat | Weekday::Sun) {
            left -= 1;
        }
    }
    d
}

/// Asserts a deadline: its step, due date and due instant (local midnight after the due date).
#[track_caller]
fn assert_deadline(d: &Option<pb::Deadline>, step: &str, due: NaiveDate) {
    let d = d.as_ref().expect("deadline");
    assert_eq!(d.step, step);
    assert_eq!(d.due_date, ymd(due), "{step}");
    assert_eq!(
        instant(&d.due_time),
        local_midnight(due.succ_opt().unwrap()),
        "{step}: due_time is 00:00 local after the due date"
    );
}

/// The overdue items at `as_of`, all pages, as (id, days overdue).
async fn overdue_at(api: &mut Api, as_of: DateTime<Utc>) -> Vec<(String, i32)> {
    let mut out = Vec::new();
    let mut token = String::new();
    loop {
        let page = ok(api
            .petitions
            .list_overdue_items(pb::ListOverdueItemsRequest {
                as_of_time: ts(as_of),
                page_size: 1000,
                page_token: token,
            })
            .await);
        for item in page.items {
            let (id, deadline) = match item.item.unwrap() {
                pb::overdue_item::Item::Petition(p) => (p.id, p.deadline.unwrap()),
                pb::overdue_item::Item::Case(c) => (c.id, c.deadline.unwrap()),
            };
            // The record's deadline is judged at as_of too.
            assert!(deadline.overdue, "{id} listed but not overdue");
            assert_eq!(deadline.days_overdue, item.days_overdue, "{id}");
            out.push((id, item.days_overdue));
        }
        if page.next_page_token.is_empty() {
            return out;
        }
        token = page.next_page_token;
    }
}

async fn deadline_table_is_served(backend: Backend) {
    let mut api = Api::start(backend).await;
    let table = ok(api
        .petitions
        .get_deadline_table(pb::GetDeadlineTableRequest {})
        .await);
    assert_eq!(table.time_zone, "Asia/Ho_Chi_Minh");
    let rule = |step: &str| {
        let r = table
            .rules
            .iter()
            .find(|r| r.step == step)
            .unwrap_or_else(|| panic!("no rule {step}"));
        (r.days, r.working_days)
    };
    // DOMAIN.md's table.
    assert_eq!(rule("notify_petitioner"), (10, true));
    assert_eq!(rule("process_petition"), (10, false));
    assert_eq!(rule("accept_first_complaint"), (10, false));
    assert_eq!(rule("resolve_first_complaint"), (30, false));
    assert_eq!(rule("resolve_first_complaint_complex"), (45, false));
    assert_eq!(rule("resolve_first_complaint_remote"), (45, false));
    assert_eq!(rule("resolve_first_complaint_remote_complex"), (60, false));
    assert_eq!(rule("resolve_second_complaint"), (45, false));
    assert_eq!(rule("resolve_second_complaint_complex"), (60, false));
    assert_eq!(rule("resolve_second_complaint_remote"), (60, false));
    assert_eq!(rule("resolve_second_complaint_remote_complex"), (70, false));
    assert_eq!(rule("resolve_denunciation"), (30, false));
    assert_eq!(rule("extend_denunciation"), (30, false));
    assert_eq!(rule("transfer_denunciation"), (5, true));
    api.stop().await;
}

/// The processing limit counts 10 local days from the local day of receipt, across the year
/// end; the item becomes overdue at 00:00 local after the due date.
async fn petition_deadline_across_year_end(backend: Backend) {
    let mut api = Api::start(backend).await;
    // 23:30 local on 31 December is 16:30 UTC the same day.
    let late_evening = local(2023, 12, 31, 23, 30, 0);
    assert_eq!(late_evening, utc(2023, 12, 31, 16, 30, 0));
    // 00:30 local on 1 January is still 31 December in UTC.
    let after_midnight = local(2024, 1, 1, 0, 30, 0);
    assert_eq!(after_midnight, utc(2023, 12, 31, 17, 30, 0));

    let p1 = api.receive(late_evening, None).await;
    let p2 = api.receive(after_midnight, None).await;
    let due1 = plus_days(local_day(late_evening), 10);
    let due2 = plus_days(local_day(after_midnight), 10);
    assert_eq!(due1, date(2024, 1, 10));
    assert_eq!(due2, date(2024, 1, 11));
    assert_deadline(&p1.deadline, "process_petition", due1);
    assert_deadline(&p2.deadline, "process_petition", due2);
    assert_eq!(
        instant(&p1.deadline.as_ref().unwrap().due_time),
        utc(2024, 1, 10, 17, 0, 0)
    );
    // Read back the same.
    assert_eq!(
        api.get_petition(&p1.id).await.deadline,
        p1.deadline.clone().map(|mut d| {
            d.overdue = true;
            d.days_overdue = (local_day(Utc::now()) - due1).num_days() as i32;
            d
        })
    );

    // Last second of the due date: on time. Nanoseconds do not round it up.
    let last_second = local(2024, 1, 10, 23, 59, 59);
    assert!(overdue_at(&mut api, last_second).await.is_empty());
    let mut last_instant = ts(last_second).unwrap();
    last_instant.nanos = 999_999_999;
    let page = ok(api
        .petitions
        .list_overdue_items(pb::ListOverdueItemsRequest {
            as_of_time: Some(last_instant),
            ..Default::default()
        })
        .await);
    assert!(page.items.is_empty(), "{page:?}");
    // 00:00 local on 11 January (17:00 UTC on the 10th): one day overdue.
    assert_eq!(
        overdue_at(&mut api, local(2024, 1, 11, 0, 0, 0)).await,
        vec![(p1.id.clone(), 1)]
    );
    assert_eq!(
        overdue_at(&mut api, local(2024, 1, 11, 23, 59, 59)).await,
        vec![(p1.id.clone(), 1)]
    );
    // 00:00 local on 12 January: the second is one day overdue, the first two, listed first.
    assert_eq!(
        overdue_at(&mut api, local(2024, 1, 12, 0, 0, 0)).await,
        vec![(p1.id.clone(), 2), (p2.id.clone(), 1)]
    );
    // Far later: whole local days.
    let as_of = local(2024, 3, 1, 6, 0, 0);
    assert_eq!(
        overdue_at(&mut api, as_of).await,
        vec![
            (p1.id.clone(), (local_day(as_of) - due1).num_days() as i32),
            (p2.id.clone(), (local_day(as_of) - due2).num_days() as i32),
        ]
    );
    assert_eq!(
        overdue_at(&mut api, as_of).await[0].1,
        51,
        "10 Jan to 1 Mar 2024 (leap year)"
    );

    // A routed petition is no longer overdue, whenever it was routed.
    ok(api
        .petitions
        .withdraw_petition(pb::WithdrawPetitionRequest {
            request_id: rid(),
            petition_id: p1.id.clone(),
            note: String::new(),
            ..Default::default()
        })
        .await);
    let withdrawn = api.get_petition(&p1.id).await;
    assert!(!withdrawn.deadline.as_ref().unwrap().overdue);
    assert_eq!(withdrawn.deadline.as_ref().unwrap().days_overdue, 0);
    assert_eq!(
        overdue_at(&mut api, as_of).await,
        vec![(p2.id.clone(), (local_day(as_of) - due2).num_days() as i32)]
    );
    api.stop().await;
}

/// The routing step depends on the classification: a first complaint must be accepted
/// within 10 days, a denunciation that is not ours transferred within 5 working days.
async fn petition_step_follows_classification(backend: Backend) {
    let mut api = Api::start(backend).await;
    // Friday 29 December 2023, 10:00 local.
    let friday = local(2023, 12, 29, 10, 0, 0);
    assert_eq!(local_day(friday).weekday(), Weekday::Fri);

    let complaint = api.receive_as(friday, T::Complaint, Eligible, Within).await;
    assert_deadline(
        &complaint.deadline,
        "accept_first_complaint",
        plus_days(local_day(friday), 10),
    );

    let denunciation = api
        .receive_as(friday, T::Denunciation, Eligible, Outside)
        .await;
    let five = working_days_after(friday, 5);
    assert_eq!(five, date(2024, 1, 5), "Mon 1 Jan .. Fri 5 Jan");
    assert_deadline(&denunciation.deadline, "transfer_denunciation", five);

    // Saturday 18:00 UTC is already Sunday locally: 5 working days run Mon..Fri.
    let saturday_utc = utc(2024, 3, 2, 18, 0, 0);
    assert_eq!(local_day(saturday_utc), date(2024, 3, 3));
    let d = api
        .receive_as(saturday_utc, T::Denunciation, Eligible, Outside)
        .await;
    assert_deadline(
        &d.deadline,
        "transfer_denunciation",
        working_days_after(saturday_utc, 5),
    );
    assert_eq!(working_days_after(saturday_utc, 5), date(2024, 3, 8));

    // Reclassifying moves the deadline.
    let p = api.receive(friday, None).await;
    assert_deadline(
        &p.deadline,
        "process_petition",
        plus_days(local_day(friday), 10),
    );
    let classified = ok(api
        .petitions
        .classify_petition(pb::ClassifyPetitionRequest {
            request_id: rid(),
            petition_id: p.id.clone(),
            classification: Some(class(T::Denunciation, Eligible, Outside)),
            ..Default::default()
        })
        .await)
    .petition
    .unwrap();
    assert_deadline(&classified.deadline, "transfer_denunciation", five);
    let back = api.get_petition(&p.id).await;
    assert_eq!(back.deadline.as_ref().unwrap().due_date, ymd(five));
    // ... and the overdue listing follows the new date.
    let as_of = local_midnight(five.succ_opt().unwrap());
    let listed = overdue_at(&mut api, as_of).await;
    assert!(listed.contains(&(p.id.clone(), 1)), "{listed:?}");
    assert!(listed.contains(&(denunciation.id.clone(), 1)));
    assert!(
        !listed.iter().any(|(id, _)| *id == complaint.id),
        "due 8 Jan"
    );
    api.stop().await;
}

mod cases;

use cases::*;
on_every_backend!(
    deadline_table_is_served,
    petition_deadline_across_year_end,
    petition_step_follows_classification,
    case_deadlines_follow_the_table,
    remote_unit_has_longer_complaint_limits,
    case_overdue_across_month_and_year_ends,
    resolved_on_time_in_local_days,
    overdue_items_most_overdue_first,
);
