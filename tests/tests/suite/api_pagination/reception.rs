//! Visits, schedule entries and conclusions.

use super::*;

pub(super) async fn visits_newest_first(backend: Backend) {
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

pub(super) async fn schedule_soonest_first(backend: Backend) {
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

pub(super) async fn conclusions_oldest_first(backend: Backend) {
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
