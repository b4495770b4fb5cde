//! Reception of citizens: visits and crowd groups, the heads' published schedule, periodic
//! sessions, petitions handed in at a visit, and the units of the node's subtree.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support::server::UnitLevel;
use crate::support::*;
use chrono::Duration;
use tiepdan_tests::{Backend, unit};

async fn crowd_group_from_five_persons(backend: Backend) {
    let mut api = Api::start(backend).await;
    let t0 = ago(6);
    let mut recorded = Vec::new();
    for (i, persons) in [1u32, 4, 5, 6, 10_000].into_iter().enumerate() {
        let seq = api.last_seq().await;
        let v = api
            .visit(
                t0 + Duration::minutes(i as i64),
                pb::ReceiverRole::Staff,
                persons,
            )
            .await;
        assert_eq!(v.persons, persons);
        assert_eq!(v.crowd_group, persons >= 5, "{persons} persons");
        assert_eq!(v.unit_code, HOME);
        assert_eq!(instant(&v.visit_time), t0 + Duration::minutes(i as i64));
        let events = api.grew_by(seq, 1).await;
        assert_eq!(events[0].action, "RecordVisit");
        assert!(matches!(
            &events[0].change,
            Some(pb::journal_event::Change::VisitRecorded(snapshot)) if *snapshot == v
        ));
        recorded.push(v);
    }
    let listed = ok(api
        .reception
        .list_visits(pb::ListVisitsRequest::default())
        .await)
    .visits;
    recorded.reverse(); // newest first
    let strip = |mut v: pb::Visit| {
        if let Some(t) = v.create_time.as_mut() {
            t.nanos -= t.nanos % 1000;
        }
        v
    };
    assert_eq!(
        listed.into_iter().map(strip).collect::<Vec<_>>(),
        recorded.into_iter().map(strip).collect::<Vec<_>>()
    );
    api.stop().await;
}

fn session(
    role: pb::ReceiverRole,
    start: chrono::DateTime<chrono::Utc>,
    end: chrono::DateTime<chrono::Utc>,
) -> pb::PublishScheduleEntryRequest {
    pb::PublishScheduleEntryRequest {
        request_id: rid(),
        receiver_role: role as i32,
        receiver_name: "Đỗ Văn D".into(),
        start_time: ts(start),
        end_time: ts(end),
        location: "Phòng tiếp công dân, UBND thị xã".into(),
    }
}

async fn schedule_is_of_heads_on_one_local_day(backend: Backend) {
    let mut api = Api::start(backend).await;
    let seq = api.last_seq().await;

    // Staff sessions are not published.
    let start = local(2030, 5, 6, 8, 0, 0);
    expect_invalid(
        api.reception
            .publish_schedule_entry(session(
                pb::ReceiverRole::Staff,
                start,
                start + Duration::hours(2),
            ))
            .await,
        &["receiver_role"],
    );
    // The end precedes or equals the start.
    for end in [start - Duration::hours(1), start] {
        expect_invalid(
            api.reception
                .publish_schedule_entry(session(pb::ReceiverRole::CommitteeChairman, start, end))
                .await,
            &["end_time"],
        );
    }
    // 23:00 to 00:30 local crosses the local midnight, though it is one UTC day (16:00 to
    // 17:30 UTC).
    let late = local(2030, 5, 6, 23, 0, 0);
    let after_midnight = local(2030, 5, 7, 0, 30, 0);
    assert_eq!(late.date_naive(), after_midnight.date_naive());
    expect_invalid(
        api.reception
            .publish_schedule_entry(session(
                pb::ReceiverRole::PartySecretary,
                late,
                after_midnight,
            ))
            .await,
        &["end_time"],
    );
    assert_eq!(api.last_seq().await, seq, "nothing published");

    // 00:30 to 08:00 local on one day spans two UTC days, and is fine.
    let early = local(2030, 5, 8, 0, 30, 0);
    let morning = local(2030, 5, 8, 8, 0, 0);
    assert_ne!(early.date_naive(), morning.date_naive());
    let mut published = Vec::new();
    for (role, s, e) in [
        (pb::ReceiverRole::CouncilDelegate, early, morning),
        (
            pb::ReceiverRole::CommitteeChairman,
            start,
            start + Duration::hours(4),
        ),
        (
            pb::ReceiverRole::PartySecretary,
            local(2020, 1, 2, 14, 0, 0),
            local(2020, 1, 2, 17, 0, 0),
        ),
    ] {
        let e = ok(api
            .reception
            .publish_schedule_entry(session(role, s, e))
            .await)
        .entry
        .unwrap();
        assert_eq!(e.receiver_role, role as i32);
        assert_eq!(e.unit_code, HOME);
        assert_eq!(e.receiver_name, "Đỗ Văn D");
        assert_eq!(instant(&e.start_time), s);
        published.push(e);
    }
    api.grew_by(seq, 3).await;
    let listed = ok(api
        .reception
        .list_schedule_entries(pb::ListScheduleEntriesRequest::default())
        .await)
    .entries;
    // Soonest first: 2020, 6 May 2030, 8 May 2030.
    assert_eq!(
        listed,
        vec![
            published[2].clone(),
            published[1].clone(),
            published[0].clone()
        ]
    );
    api.stop().await;
}

async fn periodic_sessions(backend: Backend) {
    let mut api = Api::start(backend).await;
    let start = local(2024, 6, 3, 8, 0, 0);
    let entry = ok(api
        .reception
        .publish_schedule_entry(session(
            pb::ReceiverRole::CommitteeChairman,
            start,
            start + Duration::hours(3),
        ))
        .await);
    let entry = entry.entry.unwrap();
    let seq = api.last_seq().await;

    // A periodic reception by staff is refused, with or without a schedule entry.
    for entry_id in [String::new(), entry.id.clone()] {
        let mut req = visit_req(start, pb::ReceiverRole::Staff, 2);
        req.kind = pb::ReceptionKind::Periodic as i32;
        req.schedule_entry_id = entry_id;
        expect_invalid(api.reception.record_visit(req).await, &["receiver_role"]);
    }
    // An unknown schedule entry.
    let mut req = visit_req(start, pb::ReceiverRole::CommitteeChairman, 2);
    req.kind = pb::ReceptionKind::Periodic as i32;
    req.schedule_entry_id = "269-S77".into();
    expect_not_found(api.reception.record_visit(req.clone()).await);
    assert_eq!(api.last_seq().await, seq);

    // The head's periodic session, linked to its published day.
    req.request_id = rid();
    req.schedule_entry_id = entry.id.clone();
    let v = ok(api.reception.record_visit(req).await).visit.unwrap();
    assert_eq!(v.kind, pb::ReceptionKind::Periodic as i32);
    assert_eq!(v.receiver_role, pb::ReceiverRole::CommitteeChairman as i32);
    assert_eq!(v.schedule_entry_id, entry.id);
    assert!(!v.crowd_group);
    // Every head may hold a periodic session; staff hold regular and unscheduled ones.
    for role in [
        pb::ReceiverRole::PartySecretary,
        pb::ReceiverRole::CouncilDelegate,
    ] {
        let mut req = visit_req(start, role, 1);
        req.kind = pb::ReceptionKind::Periodic as i32;
        ok(api.reception.record_visit(req).await);
    }
    for kind in [pb::ReceptionKind::Regular, pb::ReceptionKind::Unscheduled] {
        let mut req = visit_req(start, pb::ReceiverRole::Staff, 1);
        req.kind = kind as i32;
        let v = ok(api.reception.record_visit(req).await).visit.unwrap();
        assert_eq!(v.kind, kind as i32);
    }
    api.grew_by(seq, 5).await;
    api.stop().await;
}

async fn petition_handed_in_at_a_visit(backend: Backend) {
    let mut api = Api::start(backend).await;
    let t0 = ago(3);
    let v = api.visit(t0, pb::ReceiverRole::Staff, 1).await;
    let mut req = receive_req(t0 + Duration::minutes(5), None);
    req.channel = pb::Channel::InPerson as i32;
    req.visit_id = v.id.clone();
    req.signers = 3;
    let p = ok(api.petitions.receive_petition(req).await)
        .petition
        .unwrap();
    assert_eq!(p.visit_id, v.id);
    assert_eq!(p.channel, pb::Channel::InPerson as i32);
    assert_eq!(p.signers, 3);
    assert!(!p.anonymous);
    assert_eq!(p.status, pb::PetitionStatus::Received as i32);
    let got = api.get_petition(&p.id).await;
    assert_eq!(got.visit_id, v.id);
    let person = got.petitioner.unwrap();
    assert_eq!(person.full_name, "Nguyễn Văn A");
    assert_eq!(person.address, "Sơn Tây, Hà Nội");

    // Signers default to one for a named petitioner.
    let mut req = receive_req(t0, None);
    req.signers = 0;
    let p = ok(api.petitions.receive_petition(req).await)
        .petition
        .unwrap();
    assert_eq!(p.signers, 1);
    // An unknown visit is refused and nothing stored.
    let seq = api.last_seq().await;
    let mut req = receive_req(t0, None);
    req.visit_id = "269-V12345".into();
    expect_not_found(api.petitions.receive_petition(req).await);
    assert_eq!(api.last_seq().await, seq);
    api.stop().await;
}

async fn units_register_and_update(backend: Backend) {
    let mut api = Api::start(backend).await;
    let own = ok(api.units.get_unit(pb::GetUnitRequest {}).await)
        .unit
        .unwrap();
    assert_eq!(own.code, HOME);
    assert_eq!(own.parent_code, "01");
    let seq = api.last_seq().await;
    let u = api
        .register_unit("09574", HOME, "  Phường Ngô Quyền ")
        .await;
    assert_eq!(u.name, "Phường Ngô Quyền", "names are trimmed");
    assert_eq!(u.parent_code, HOME);
    let events = api.grew_by(seq, 1).await;
    assert_eq!(events[0].action, "RegisterUnit");
    assert!(matches!(
        &events[0].change,
        Some(pb::journal_event::Change::UnitRegistered(snapshot)) if *snapshot == u
    ));
    // Registered again under a new request: the unit is updated, not duplicated.
    let renamed = ok(api
        .units
        .register_unit(pb::RegisterUnitRequest {
            request_id: rid(),
            unit: Some(pb::Unit {
                code: "09574".into(),
                name: "Phường Sơn Tây".into(),
                level: pb::UnitLevel::Ward as i32,
                parent_code: HOME.into(),
                remote: true,
            }),
        })
        .await)
    .unit
    .unwrap();
    assert_eq!(renamed.name, "Phường Sơn Tây");
    assert!(renamed.remote);
    let units = ok(api.units.list_units(pb::ListUnitsRequest::default()).await).units;
    assert_eq!(units.len(), 2);
    assert_eq!(units[1], renamed);
    api.stop().await;
}

/// A node's own unit normally has a parent the node's database does not hold (Sơn Tây's
/// node knows no Hà Nội until its link reaches the parent). Units below it must still be
/// registrable.
async fn register_below_a_unit_whose_parent_is_unknown(backend: Backend) {
    let mut api = Api::start_unit(
        backend,
        unit(HOME, "Thị xã Sơn Tây", UnitLevel::District, Some("01")),
    )
    .await;
    let seq = api.last_seq().await;
    let u = api.register_unit("09574", HOME, "Phường Ngô Quyền").await;
    assert_eq!(u.parent_code, HOME);
    api.register_unit("09577", HOME, "Phường Lê Lợi").await;
    api.register_unit("95741", "09574", "Tổ dân phố 1").await;
    api.grew_by(seq, 3).await;
    let units = ok(api.units.list_units(pb::ListUnitsRequest::default()).await).units;
    let codes: Vec<&str> = units.iter().map(|u| u.code.as_str()).collect();
    assert_eq!(codes.len(), 4);
    assert_eq!(codes[0], HOME);
    let at = |c: &str| codes.iter().position(|x| *x == c).unwrap();
    assert!(at("09574") < at("95741"), "{codes:?}");
    assert!(at("09577") > 0);
    api.stop().await;
}

on_every_backend!(register_below_a_unit_whose_parent_is_unknown,);

on_every_backend!(
    crowd_group_from_five_persons,
    schedule_is_of_heads_on_one_local_day,
    periodic_sessions,
    petition_handed_in_at_a_visit,
    units_register_and_update,
);
