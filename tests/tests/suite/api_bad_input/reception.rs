//! RegisterUnit and the reception RPCs.

use chrono::Duration;

use super::*;

/// The unit a RegisterUnit request registers.
fn unit(r: &mut pb::RegisterUnitRequest) -> &mut pb::Unit {
    r.unit.as_mut().unwrap()
}

pub(super) async fn register_unit_refuses_bad_input(backend: Backend) {
    let mut api = Api::start(backend).await;
    let base = pb::RegisterUnitRequest {
        request_id: rid(),
        unit: Some(pb::Unit {
            code: "09574".into(),
            name: "Phường Ngô Quyền".into(),
            level: pb::UnitLevel::Ward as i32,
            parent_code: HOME.into(),
            remote: false,
        }),
    };
    let codes = strings(&["", "1", "123456", "12a", "０１", " 269", "-12"]);
    let table = Table::of(&base)
        .request_ids()
        .row(&["unit"], |r| r.unit = None)
        .each("unit.code", codes.clone(), |r, c| unit(r).code = c)
        .each("unit.parent_code", codes, |r, c| unit(r).parent_code = c)
        .each("unit.level", [0, 7, 99, -1], |r, v| unit(r).level = v)
        .each("unit.name", bad_names(&["", "   "]), |r, n| {
            unit(r).name = n
        })
        // Every violation at once.
        .row(
            &[
                "request_id",
                "unit.code",
                "unit.name",
                "unit.parent_code",
                "unit.level",
            ],
            |r| {
                r.request_id = String::new();
                r.unit = Some(pb::Unit::default());
            },
        )
        // What needs the database: an unknown parent, the node's own unit, a cycle.
        .row(&["unit.parent_code"], |r| unit(r).parent_code = "27".into())
        .row(&["unit.code"], |r| unit(r).code = HOME.into())
        .row(&["unit.parent_code"], |r| {
            unit(r).parent_code = "09574".into()
        });
    refuses(&mut api, &base, table).await;
    let units = ok(api.units.list_units(pb::ListUnitsRequest::default()).await).units;
    assert_eq!(units.len(), 1, "nothing registered");
    let unit = accepted(&mut api, &base).await.unit.unwrap();
    assert_eq!(unit.code, "09574");
    // Re-parenting a unit below its own child is refused.
    api.register_unit("09575", "09574", "Tổ dân phố").await;
    let table = Table::of(&base).row(&["unit.parent_code"], |r: &mut pb::RegisterUnitRequest| {
        r.unit.as_mut().unwrap().parent_code = "09575".into()
    });
    refuses(&mut api, &base, table).await;
    api.stop().await;
}

pub(super) async fn reception_rpcs_refuse_bad_input(backend: Backend) {
    let mut api = Api::start(backend).await;
    let t0 = ago(10);

    // RecordVisit
    let base = visit_req(t0, pb::ReceiverRole::Staff, 2);
    let seq = api.last_seq().await;
    let table = Table::of(&base)
        .request_ids()
        .each("visit_time", bad_past_times(), |r, t| r.visit_time = t)
        .each("kind", [0, 4, 99, -7], |r, v| r.kind = v)
        .each("matter", [0, 4, 99, -7], |r, v| r.matter = v)
        .each("action", [0, 4, 99, -7], |r, v| r.action = v)
        .each("receiver_role", [0, 5, 99, -1], |r, v| r.receiver_role = v)
        .each("persons", [0, 10_001, u32::MAX], |r, v| r.persons = v)
        .each("receiver_name", bad_names(&[]), |r, v| r.receiver_name = v)
        .each("summary", bad_texts(&[]), |r, v| r.summary = v)
        .each(
            "schedule_entry_id",
            strings(&["has space", "a/b", "../x", &"v".repeat(65)]),
            |r, v| r.schedule_entry_id = v,
        )
        // A periodic reception is a head's session.
        .row(&["receiver_role"], |r| {
            r.kind = pb::ReceptionKind::Periodic as i32
        })
        .empty(&[
            "request_id",
            "visit_time",
            "kind",
            "receiver_role",
            "matter",
            "action",
            "persons",
        ]);
    refuses(&mut api, &base, table).await;
    let mut unknown = base.clone();
    unknown.request_id = rid();
    unknown.schedule_entry_id = "269-S999".into();
    expect_not_found(api.reception.record_visit(unknown).await);
    assert_eq!(api.last_seq().await, seq);
    let visits = ok(api
        .reception
        .list_visits(pb::ListVisitsRequest::default())
        .await)
    .visits;
    assert!(visits.is_empty(), "no visit stored: {visits:?}");
    // Text limits count characters, not bytes; newlines and tabs are text.
    let mut fine = base.clone();
    fine.summary = format!("{}\n\t", long(3998));
    let visit = accepted(&mut api, &fine).await.visit.unwrap();
    assert_eq!(visit.summary.chars().count(), 4000);

    // PublishScheduleEntry
    let start = local(2031, 4, 7, 8, 0, 0);
    let base = pb::PublishScheduleEntryRequest {
        request_id: rid(),
        receiver_role: pb::ReceiverRole::CommitteeChairman as i32,
        receiver_name: "Nguyễn Văn C".into(),
        start_time: ts(start),
        end_time: ts(start + Duration::hours(3)),
        location: "Trụ sở tiếp công dân thị xã".into(),
    };
    let broken = [
        None,
        ts_raw(1_900_000_000, -5),
        ts_raw(1_900_000_000, 1_000_000_000),
        ts_raw(i64::MAX, 0),
    ];
    // The end must follow the start on the same local day.
    let ends = [
        start,
        start - Duration::minutes(1),
        local(2031, 4, 8, 0, 0, 0),
        local(2031, 4, 8, 9, 0, 0),
    ];
    let table = Table::of(&base)
        .request_ids()
        .each(
            "receiver_role",
            [0, 99, -2, pb::ReceiverRole::Staff as i32],
            |r, v| r.receiver_role = v,
        )
        .each("start_time", broken, |r, t| r.start_time = t)
        .each("end_time", broken, |r, t| r.end_time = t)
        .each("end_time", ends, |r, t| r.end_time = ts(t))
        .each("receiver_name", bad_names(&[""]), |r, v| {
            r.receiver_name = v
        })
        .each("location", bad_names(&[""]), |r, v| r.location = v)
        .empty(&[
            "request_id",
            "receiver_role",
            "start_time",
            "end_time",
            "receiver_name",
            "location",
        ]);
    refuses(&mut api, &base, table).await;
    let entries = ok(api
        .reception
        .list_schedule_entries(pb::ListScheduleEntriesRequest::default())
        .await)
    .entries;
    assert!(entries.is_empty());
    accepted(&mut api, &base).await;

    // RecordConclusion
    let head = api.visit(t0, pb::ReceiverRole::CouncilDelegate, 1).await;
    let base = pb::RecordConclusionRequest {
        request_id: rid(),
        visit_id: head.id.clone(),
        text: "Đề nghị UBND xã kiểm tra".into(),
        assignee: "UBND xã Đường Lâm".into(),
        conclusion_time: ts(t0 + Duration::hours(1)),
    };
    let table = Table::of(&base)
        .request_ids()
        .each(
            "visit_id",
            strings(&["", "has space", "a/b", "ý"]),
            |r, v| r.visit_id = v,
        )
        .each("text", bad_texts(&["", " \n "]), |r, v| r.text = v)
        .each("assignee", bad_names(&[""]), |r, v| r.assignee = v)
        .each("conclusion_time", bad_past_times(), |r, t| {
            r.conclusion_time = t
        })
        .empty(&[
            "request_id",
            "visit_id",
            "text",
            "assignee",
            "conclusion_time",
        ]);
    refuses(&mut api, &base, table).await;
    let conclusions = ok(api
        .reception
        .list_conclusions(pb::ListConclusionsRequest::default())
        .await)
    .conclusions;
    assert!(conclusions.is_empty());
    let conclusion = accepted(&mut api, &base).await.conclusion.unwrap();

    // UpdateConclusion
    let base = pb::UpdateConclusionRequest {
        request_id: rid(),
        conclusion_id: conclusion.id.clone(),
        status: pb::ConclusionStatus::InProgress as i32,
        progress_note: "đang kiểm tra".into(),
        update_time: ts(t0 + Duration::hours(2)),
    };
    let table = Table::of(&base)
        .request_ids()
        .each(
            "conclusion_id",
            strings(&["", "has space", "a;b"]),
            |r, v| r.conclusion_id = v,
        )
        .each(
            "status",
            [0, 4, 99, -1, pb::ConclusionStatus::Pending as i32],
            |r, v| r.status = v,
        )
        .each("progress_note", bad_texts(&[]), |r, v| r.progress_note = v)
        .each("update_time", bad_past_times(), |r, t| r.update_time = t)
        .empty(&["request_id", "conclusion_id", "status", "update_time"]);
    refuses(&mut api, &base, table).await;
    let listed = ok(api
        .reception
        .list_conclusions(pb::ListConclusionsRequest::default())
        .await)
    .conclusions;
    assert_eq!(listed, vec![conclusion], "conclusion unchanged");
    let updated = accepted(&mut api, &base).await.conclusion.unwrap();
    assert_eq!(updated.status, pb::ConclusionStatus::InProgress as i32);
    api.stop().await;
}
