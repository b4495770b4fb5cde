//! Idempotent retries: the same request with the same request_id returns the first answer and
//! changes nothing more, on every mutating RPC, after a restart, and under concurrent
//! retries; a request_id reused for another request is refused.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use crate::support::*;
use chrono::Duration;
use tiepdan_tests::{Backend, TestNode};
use tonic::Code;

use pb::Eligibility::Eligible;
use pb::Jurisdiction::{Outside, Within};
use pb::PetitionType as T;

/// Sends `req` twice; the second answer must equal the first and the journal must have grown
/// by `events` once only. Evaluates to the answer.
macro_rules! twice {
    ($api:expr, $svc:ident . $method:ident, $req:expr, $events:expr) => {{
        let req = $req;
        let seq = $api.last_seq().await;
        let first = ok($api.$svc.$method(req.clone()).await);
        assert_eq!(
            $api.last_seq().await,
            seq + $events,
            concat!(stringify!($method), ": first call")
        );
        let second = ok($api.$svc.$method(req.clone()).await);
        assert_eq!(
            second, first,
            concat!(stringify!($method), ": retry answer")
        );
        let third = ok($api.$svc.$method(req).await);
        assert_eq!(
            third, first,
            concat!(stringify!($method), ": second retry answer")
        );
        assert_eq!(
            $api.last_seq().await,
            seq + $events,
            concat!(stringify!($method), ": a retry stored an event")
        );
        first
    }};
}

async fn count_petitions(api: &mut Api) -> usize {
    ok(api
        .petitions
        .list_petitions(pb::ListPetitionsRequest::default())
        .await)
    .petitions
    .len()
}

async fn every_mutating_rpc_is_idempotent(backend: Backend) {
    let mut api = Api::start(backend).await;
    let t0 = ago(30);

    // UnitService.RegisterUnit
    let unit = twice!(
        api,
        units.register_unit,
        pb::RegisterUnitRequest {
            request_id: rid(),
            unit: Some(pb::Unit {
                code: "09574".into(),
                name: "Phường Ngô Quyền".into(),
                level: pb::UnitLevel::Ward as i32,
                parent_code: HOME.into(),
                remote: false,
            }),
        },
        1
    )
    .unit
    .unwrap();
    assert_eq!(unit.code, "09574");
    let units = ok(api.units.list_units(pb::ListUnitsRequest::default()).await).units;
    assert_eq!(units.len(), 2);

    // ReceptionService: RecordVisit, PublishScheduleEntry, RecordConclusion, UpdateConclusion
    let visit = twice!(
        api,
        reception.record_visit,
        visit_req(t0, pb::ReceiverRole::PartySecretary, 7),
        1
    )
    .visit
    .unwrap();
    assert!(visit.crowd_group);
    let visits = ok(api
        .reception
        .list_visits(pb::ListVisitsRequest::default())
        .await)
    .visits;
    assert_eq!(visits.len(), 1);
    assert_eq!(visits[0].id, visit.id);

    let entry = twice!(
        api,
        reception.publish_schedule_entry,
        pb::PublishScheduleEntryRequest {
            request_id: rid(),
            receiver_role: pb::ReceiverRole::CommitteeChairman as i32,
            receiver_name: "Nguyễn Văn C".into(),
            start_time: ts(local(2030, 3, 5, 8, 0, 0)),
            end_time: ts(local(2030, 3, 5, 11, 30, 0)),
            location: "Trụ sở tiếp công dân".into(),
        },
        1
    )
    .entry
    .unwrap();
    let entries = ok(api
        .reception
        .list_schedule_entries(pb::ListScheduleEntriesRequest::default())
        .await)
    .entries;
    assert_eq!(entries, vec![entry]);

    let conclusion = twice!(
        api,
        reception.record_conclusion,
        pb::RecordConclusionRequest {
            request_id: rid(),
            visit_id: visit.id.clone(),
            text: "Kiểm tra hồ sơ cấp giấy chứng nhận".into(),
            assignee: "Văn phòng đăng ký đất đai".into(),
            conclusion_time: ts(t0 + Duration::hours(1)),
        },
        1
    )
    .conclusion
    .unwrap();
    let progressed = twice!(
        api,
        reception.update_conclusion,
        pb::UpdateConclusionRequest {
            request_id: rid(),
            conclusion_id: conclusion.id.clone(),
            status: pb::ConclusionStatus::Done as i32,
            progress_note: "đã xong".into(),
            update_time: ts(t0 + Duration::hours(2)),
        },
        1
    )
    .conclusion
    .unwrap();
    assert_eq!(progressed.status, pb::ConclusionStatus::Done as i32);
    let conclusions = ok(api
        .reception
        .list_conclusions(pb::ListConclusionsRequest::default())
        .await)
    .conclusions;
    assert_eq!(conclusions.len(), 1);

    // PetitionService: ReceivePetition, ClassifyPetition, AcceptPetition
    let p = twice!(api, petitions.receive_petition, receive_req(t0, None), 1)
        .petition
        .unwrap();
    assert_eq!(count_petitions(&mut api).await, 1);
    let classified = twice!(
        api,
        petitions.classify_petition,
        pb::ClassifyPetitionRequest {
            request_id: rid(),
            petition_id: p.id.clone(),
            classification: Some(class(T::Denunciation, Eligible, Within)),
            ..Default::default()
        },
        1
    )
    .petition
    .unwrap();
    assert_eq!(classified.version, 2);
    assert_eq!(api.get_petition(&p.id).await.version, 2);
    let accepted = twice!(
        api,
        petitions.accept_petition,
        accept_req(&p.id, t0 + Duration::hours(3), false),
        2
    );
    let case = accepted.case.unwrap();
    let cases = ok(api.cases.list_cases(pb::ListCasesRequest::default()).await).cases;
    assert_eq!(
        cases.len(),
        1,
        "one case, however often the accept is retried"
    );

    // CaseService: ExtendCase, ResolveCase, RecordCaseInForce, RecordEnforcement
    let extended = twice!(
        api,
        cases.extend_case,
        pb::ExtendCaseRequest {
            request_id: rid(),
            case_id: case.id.clone(),
            note: "phức tạp".into(),
        },
        1
    )
    .case
    .unwrap();
    assert_eq!(extended.extensions, 1);
    assert_eq!(api.get_case(&case.id).await.extensions, 1, "extended once");
    let decided = t0 + Duration::hours(5);
    twice!(
        api,
        cases.resolve_case,
        pb::ResolveCaseRequest {
            request_id: rid(),
            case_id: case.id.clone(),
            outcome: pb::CaseOutcome::DenunciationFounded as i32,
            decision_number: "7/KL-UBND".into(),
            decision_time: ts(decided),
            money_to_recover_vnd: 500,
            land_to_recover_m2: 10.0,
        },
        1
    );
    twice!(
        api,
        cases.record_case_in_force,
        pb::RecordCaseInForceRequest {
            request_id: rid(),
            case_id: case.id.clone(),
            effective_time: ts(decided + Duration::hours(1)),
        },
        1
    );
    let enforced = twice!(
        api,
        cases.record_enforcement,
        pb::RecordEnforcementRequest {
            request_id: rid(),
            case_id: case.id.clone(),
            money_recovered_vnd: 200,
            land_recovered_m2: 2.5,
            completed: false,
            enforcement_time: ts(decided + Duration::hours(2)),
        },
        1
    )
    .case
    .unwrap();
    assert_eq!(enforced.money_recovered_vnd, 200);
    let stored = api.get_case(&case.id).await;
    assert_eq!(
        stored.money_recovered_vnd, 200,
        "a retried step counts once"
    );
    assert_eq!(stored.land_recovered_m2, 2.5);
    assert_eq!(stored.version, 5);

    // The routing decisions: Guide, Transfer, Urge, Return, Withdraw, File.
    let outside = || Some(class(T::Complaint, Eligible, Outside));
    let p = api.receive(t0, outside()).await;
    twice!(
        api,
        petitions.guide_petition,
        pb::GuidePetitionRequest {
            request_id: rid(),
            petition_id: p.id.clone(),
            outside_body: "Tòa án".into(),
            note: String::new(),
            ..Default::default()
        },
        1
    );
    let p = api.receive(t0, outside()).await;
    twice!(
        api,
        petitions.transfer_petition,
        pb::TransferPetitionRequest {
            request_id: rid(),
            petition_id: p.id.clone(),
            destination: Some(pb::transfer_petition_request::Destination::UnitCode(
                "09574".into(),
            )),
            note: String::new(),
            ..Default::default()
        },
        1
    );
    let p = api.receive(t0, outside()).await;
    twice!(
        api,
        petitions.urge_petition,
        pb::UrgePetitionRequest {
            request_id: rid(),
            petition_id: p.id.clone(),
            outside_body: "UBND xã Đường Lâm".into(),
            note: String::new(),
            ..Default::default()
        },
        1
    );
    let p = api.receive(t0, outside()).await;
    twice!(
        api,
        petitions.return_petition,
        pb::ReturnPetitionRequest {
            request_id: rid(),
            petition_id: p.id.clone(),
            note: "trả lại đơn".into(),
            ..Default::default()
        },
        1
    );
    let p = api.receive(t0, None).await;
    twice!(
        api,
        petitions.withdraw_petition,
        pb::WithdrawPetitionRequest {
            request_id: rid(),
            petition_id: p.id.clone(),
            note: String::new(),
            ..Default::default()
        },
        1
    );
    let p = api.receive(t0, outside()).await;
    let filed = twice!(
        api,
        petitions.file_petition,
        pb::FilePetitionRequest {
            request_id: rid(),
            petition_id: p.id.clone(),
            reason: pb::FileReason::Duplicate as i32,
            note: String::new(),
            ..Default::default()
        },
        1
    )
    .petition
    .unwrap();
    assert_eq!(api.get_petition(&filed.id).await.version, 2);
    api.stop().await;
}

mod concurrent;

use concurrent::*;
on_every_backend!(
    every_mutating_rpc_is_idempotent,
    reused_request_id_is_refused,
    retry_after_later_change_returns_first_answer,
    retry_after_restart,
    concurrent_identical_requests,
    concurrent_distinct_requests,
);
