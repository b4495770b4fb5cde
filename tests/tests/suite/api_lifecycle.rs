//! Every lifecycle transition of petitions, cases and heads' conclusions through the gRPC API,
//! allowed and refused, on SQLite and PostgreSQL. After every refused call the journal and the
//! record read back unchanged.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use chrono::{DateTime, Duration, Utc};
use common::*;
use tiepdan_tests::{Backend, on_every_backend};
use tonic::{Code, Status};
use tonic_types::StatusExt;

use pb::CaseOutcome as O;
use pb::CaseStatus as CS;
use pb::Eligibility::{Eligible, Ineligible};
use pb::Jurisdiction::{Outside, Within};
use pb::PetitionStatus as PS;
use pb::PetitionType as T;

/// The petition actions of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Classify,
    Accept,
    Guide,
    Transfer,
    Urge,
    Return,
    Withdraw,
    File,
}

const ACTIONS: [Action; 8] = [
    Action::Classify,
    Action::Accept,
    Action::Guide,
    Action::Transfer,
    Action::Urge,
    Action::Return,
    Action::Withdraw,
    Action::File,
];

impl Action {
    fn name(self) -> &'static str {
        match self {
            Action::Classify => "classify",
            Action::Accept => "accept",
            Action::Guide => "guide",
            Action::Transfer => "transfer",
            Action::Urge => "urge",
            Action::Return => "return",
            Action::Withdraw => "withdraw",
            Action::File => "file",
        }
    }
}

/// The allowed petition transitions, from the table in the proto and DOMAIN.md.
fn allowed(from: PS, action: Action) -> bool {
    match from {
        PS::Received => matches!(action, Action::Classify | Action::Withdraw),
        PS::Classified => true,
        _ => false,
    }
}

/// Performs `action` on a petition with an otherwise valid request.
async fn attempt(api: &mut Api, action: Action, p: &pb::Petition) -> Result<pb::Petition, Status> {
    attempt_at(api, action, p, None).await
}

/// Performs `action` on a petition, dated `at` when given.
async fn attempt_at(
    api: &mut Api,
    action: Action,
    p: &pb::Petition,
    at: Option<DateTime<Utc>>,
) -> Result<pb::Petition, Status> {
    let id = p.id.clone();
    let received = instant(&p.received_time);
    let decision_time = at.and_then(ts);
    let r = match action {
        Action::Classify => api
            .petitions
            .classify_petition(pb::ClassifyPetitionRequest {
                request_id: rid(),
                petition_id: id,
                classification: Some(class(T::Complaint, Eligible, Within)),
                decision_time,
            })
            .await
            .map(|r| r.into_inner().petition),
        Action::Accept => api
            .petitions
            .accept_petition(accept_req(
                &id,
                at.unwrap_or(received + Duration::minutes(10)),
                false,
            ))
            .await
            .map(|r| r.into_inner().petition),
        Action::Guide => api
            .petitions
            .guide_petition(pb::GuidePetitionRequest {
                request_id: rid(),
                petition_id: id,
                outside_body: "Tòa án nhân dân thị xã Sơn Tây".into(),
                note: "thuộc thẩm quyền tòa án".into(),
                decision_time,
            })
            .await
            .map(|r| r.into_inner().petition),
        Action::Transfer => api
            .petitions
            .transfer_petition(pb::TransferPetitionRequest {
                request_id: rid(),
                petition_id: id,
                destination: Some(pb::transfer_petition_request::Destination::OutsideBody(
                    "Công an thành phố Hà Nội".into(),
                )),
                note: String::new(),
                decision_time,
            })
            .await
            .map(|r| r.into_inner().petition),
        Action::Urge => api
            .petitions
            .urge_petition(pb::UrgePetitionRequest {
                request_id: rid(),
                petition_id: id,
                outside_body: "UBND phường Ngô Quyền".into(),
                note: "quá hạn giải quyết".into(),
                decision_time,
            })
            .await
            .map(|r| r.into_inner().petition),
        Action::Return => api
            .petitions
            .return_petition(pb::ReturnPetitionRequest {
                request_id: rid(),
                petition_id: id,
                note: "đơn không ký tên".into(),
                decision_time,
            })
            .await
            .map(|r| r.into_inner().petition),
        Action::Withdraw => api
            .petitions
            .withdraw_petition(pb::WithdrawPetitionRequest {
                request_id: rid(),
                petition_id: id,
                note: "công dân rút đơn".into(),
                decision_time,
            })
            .await
            .map(|r| r.into_inner().petition),
        Action::File => api
            .petitions
            .file_petition(pb::FilePetitionRequest {
                request_id: rid(),
                petition_id: id,
                reason: pb::FileReason::Duplicate as i32,
                note: String::new(),
                decision_time,
            })
            .await
            .map(|r| r.into_inner().petition),
    };
    r.map(|p| p.unwrap())
}

/// A petition brought into `state` through the API.
async fn petition_in(api: &mut Api, state: PS) -> pb::Petition {
    let at = ago(3);
    let within = Some(class(T::Complaint, Eligible, Within));
    let outside = Some(class(T::Complaint, Eligible, Outside));
    let (start, action) = match state {
        PS::Received => return api.receive(at, None).await,
        PS::Classified => return api.receive(at, within).await,
        PS::Accepted => (within, Action::Accept),
        PS::Guided => (outside, Action::Guide),
        PS::Transferred => (outside, Action::Transfer),
        PS::Urged => (outside, Action::Urge),
        PS::Returned => (within, Action::Return),
        PS::Withdrawn => (None, Action::Withdraw),
        PS::Filed => (within, Action::File),
        PS::Unspecified => unreachable!(),
    };
    let p = api.receive(at, start).await;
    let after = attempt(api, action, &p)
        .await
        .unwrap_or_else(|e| panic!("{action:?}: {e}"));
    assert_eq!(after.status, state as i32);
    after
}

/// A petition as stored: without personal details, times at microsecond precision.
fn stored(mut p: pb::Petition) -> pb::Petition {
    p.petitioner = None;
    for t in [
        &mut p.update_time,
        &mut p.processed_time,
        &mut p.received_time,
    ]
    .into_iter()
    .flatten()
    {
        t.nanos -= t.nanos % 1000;
    }
    p
}

fn stored_case(mut c: pb::Case) -> pb::Case {
    for t in [
        &mut c.update_time,
        &mut c.accept_time,
        &mut c.decision_time,
        &mut c.effective_time,
        &mut c.enforced_time,
    ]
    .into_iter()
    .flatten()
    {
        t.nanos -= t.nanos % 1000;
    }
    c
}

/// Checks one allowed petition transition: the answer, the record read back and the journal.
async fn check_step(
    api: &mut Api,
    seq: u64,
    before: &pb::Petition,
    after: &pb::Petition,
    status: PS,
    method: &str,
) {
    assert_eq!(after.id, before.id);
    assert_eq!(after.status, status as i32, "{method}");
    assert_eq!(after.version, before.version + 1, "{method}");
    let routed = !matches!(status, PS::Received | PS::Classified);
    assert_eq!(after.processed_time.is_some(), routed, "{method}");
    assert!(!after.deadline.as_ref().unwrap().overdue);
    let got = api.get_petition(&after.id).await;
    assert_eq!(
        got.petitioner.as_ref().map(|p| p.full_name.as_str()),
        Some("Nguyễn Văn A")
    );
    assert_eq!(stored(got), stored(after.clone()), "{method}: read back");
    let events = api.grew_by(seq, 1).await;
    let event = &events[0];
    assert_eq!(event.action, method);
    assert_eq!(event.origin_unit, HOME);
    match &event.change {
        Some(pb::journal_event::Change::PetitionChanged(snapshot)) => {
            assert_eq!(snapshot.id, after.id);
            assert_eq!(snapshot.status, status as i32);
            assert_eq!(snapshot.version, after.version);
            assert!(snapshot.petitioner.is_none(), "no personal data upstream");
        }
        other => panic!("expected a petition snapshot, got {other:?}"),
    }
}

async fn petition_transitions_allowed(backend: Backend) {
    let mut api = Api::start(backend).await;
    api.register_unit("09574", HOME, "Phường Ngô Quyền").await;
    let t0 = ago(3);

    // RECEIVED -classify-> CLASSIFIED
    let p = api.receive(t0, None).await;
    assert_eq!(p.status, PS::Received as i32);
    assert_eq!(p.version, 1);
    assert_eq!(p.r#type, T::Unspecified as i32);
    let seq = api.last_seq().await;
    let after = ok(api
        .petitions
        .classify_petition(pb::ClassifyPetitionRequest {
            request_id: rid(),
            petition_id: p.id.clone(),
            classification: Some(class(T::Recommendation, Eligible, Within)),
            ..Default::default()
        })
        .await)
    .petition
    .unwrap();
    check_step(
        &mut api,
        seq,
        &p,
        &after,
        PS::Classified,
        "ClassifyPetition",
    )
    .await;
    assert_eq!(after.r#type, T::Recommendation as i32);
    assert_eq!(after.eligibility, Eligible as i32);
    assert_eq!(after.jurisdiction, Within as i32);

    // CLASSIFIED -classify-> CLASSIFIED: a new judgement replaces the old one.
    let seq = api.last_seq().await;
    let mut second = class(T::Denunciation, Ineligible, Outside);
    second.field = pb::Field::Party as i32;
    let again = ok(api
        .petitions
        .classify_petition(pb::ClassifyPetitionRequest {
            request_id: rid(),
            petition_id: p.id.clone(),
            classification: Some(second),
            ..Default::default()
        })
        .await)
    .petition
    .unwrap();
    check_step(
        &mut api,
        seq,
        &after,
        &again,
        PS::Classified,
        "ClassifyPetition",
    )
    .await;
    assert_eq!(again.r#type, T::Denunciation as i32);
    assert_eq!(again.field, pb::Field::Party as i32);
    assert_eq!(again.eligibility, Ineligible as i32);
    assert_eq!(again.jurisdiction, Outside as i32);

    // RECEIVED -withdraw-> WITHDRAWN and CLASSIFIED -withdraw-> WITHDRAWN
    for start in [None, Some(class(T::Complaint, Eligible, Within))] {
        let p = api.receive(t0, start).await;
        let seq = api.last_seq().await;
        let after = attempt(&mut api, Action::Withdraw, &p).await.unwrap();
        check_step(&mut api, seq, &p, &after, PS::Withdrawn, "WithdrawPetition").await;
        assert_eq!(after.note, "công dân rút đơn");
    }

    // CLASSIFIED -accept-> ACCEPTED into a new case
    let p1 = api.receive_as(t0, T::Complaint, Eligible, Within).await;
    let seq = api.last_seq().await;
    let accepted = ok(api
        .petitions
        .accept_petition(accept_req(&p1.id, t0 + Duration::hours(1), false))
        .await);
    let (a1, case) = (accepted.petition.unwrap(), accepted.case.unwrap());
    assert_eq!(a1.status, PS::Accepted as i32);
    assert_eq!(a1.version, 2);
    assert_eq!(a1.case_id, case.id);
    assert_eq!(case.status, CS::Open as i32);
    assert_eq!(case.owner_unit, HOME);
    assert_eq!(case.r#type, T::Complaint as i32);
    assert_eq!(case.complaint_round, 1);
    assert_eq!(case.petition_ids, vec![p1.id.clone()]);
    assert_eq!(case.version, 1);
    assert_eq!(instant(&case.accept_time), t0 + Duration::hours(1));
    let events = api.grew_by(seq, 2).await;
    assert!(events.iter().all(|e| e.action == "AcceptPetition"));
    assert!(matches!(
        &events[0].change,
        Some(pb::journal_event::Change::PetitionChanged(s)) if s.status == PS::Accepted as i32
    ));
    assert!(matches!(
        &events[1].change,
        Some(pb::journal_event::Change::CaseChanged(c)) if c.id == case.id && c.petition_ids == vec![p1.id.clone()]
    ));
    assert_eq!(stored(api.get_petition(&p1.id).await), stored(a1));
    assert_eq!(
        stored_case(api.get_case(&case.id).await),
        stored_case(case.clone())
    );

    // CLASSIFIED -accept-> ACCEPTED, attached to the open case of the same type
    let p2 = api
        .receive_as(t0 + Duration::minutes(5), T::Complaint, Eligible, Within)
        .await;
    let seq = api.last_seq().await;
    let attached = ok(api
        .petitions
        .accept_petition(pb::AcceptPetitionRequest {
            request_id: rid(),
            petition_id: p2.id.clone(),
            accept_time: ts(t0 + Duration::hours(2)),
            target: Some(pb::accept_petition_request::Target::CaseId(case.id.clone())),
        })
        .await);
    let (a2, case2) = (attached.petition.unwrap(), attached.case.unwrap());
    assert_eq!(a2.status, PS::Accepted as i32);
    assert_eq!(a2.case_id, case.id);
    assert_eq!(case2.id, case.id);
    assert_eq!(case2.petition_ids, vec![p1.id.clone(), p2.id.clone()]);
    assert_eq!(case2.version, 2);
    assert_eq!(case2.status, CS::Open as i32);
    // Attaching does not move the case's acceptance nor its deadline.
    assert_eq!(case2.accept_time, case.accept_time);
    assert_eq!(case2.deadline, case.deadline);
    api.grew_by(seq, 2).await;
    assert_eq!(
        api.get_case(&case.id).await.petition_ids,
        vec![p1.id.clone(), p2.id.clone()]
    );

    // CLASSIFIED (outside) -guide-> GUIDED
    let p = api.receive_as(t0, T::Complaint, Eligible, Outside).await;
    let seq = api.last_seq().await;
    let after = attempt(&mut api, Action::Guide, &p).await.unwrap();
    check_step(&mut api, seq, &p, &after, PS::Guided, "GuidePetition").await;
    assert_eq!(after.outside_body, "Tòa án nhân dân thị xã Sơn Tây");
    assert_eq!(after.note, "thuộc thẩm quyền tòa án");

    // CLASSIFIED (outside) -transfer-> TRANSFERRED to a unit registered with RegisterUnit
    let p = api.receive_as(t0, T::Denunciation, Eligible, Outside).await;
    let seq = api.last_seq().await;
    let after = ok(api
        .petitions
        .transfer_petition(pb::TransferPetitionRequest {
            request_id: rid(),
            petition_id: p.id.clone(),
            destination: Some(pb::transfer_petition_request::Destination::UnitCode(
                "09574".into(),
            )),
            note: "thuộc thẩm quyền phường".into(),
            ..Default::default()
        })
        .await)
    .petition
    .unwrap();
    check_step(
        &mut api,
        seq,
        &p,
        &after,
        PS::Transferred,
        "TransferPetition",
    )
    .await;
    assert_eq!(after.transferred_to_unit, "09574");
    assert_eq!(after.outside_body, "");
    assert_eq!(after.note, "thuộc thẩm quyền phường");

    // CLASSIFIED (outside) -transfer-> TRANSFERRED to an outside body
    let p = api.receive_as(t0, T::Denunciation, Eligible, Outside).await;
    let seq = api.last_seq().await;
    let after = attempt(&mut api, Action::Transfer, &p).await.unwrap();
    check_step(
        &mut api,
        seq,
        &p,
        &after,
        PS::Transferred,
        "TransferPetition",
    )
    .await;
    assert_eq!(after.transferred_to_unit, "");
    assert_eq!(after.outside_body, "Công an thành phố Hà Nội");

    // CLASSIFIED (outside) -urge-> URGED
    let p = api.receive_as(t0, T::Complaint, Eligible, Outside).await;
    let seq = api.last_seq().await;
    let after = attempt(&mut api, Action::Urge, &p).await.unwrap();
    check_step(&mut api, seq, &p, &after, PS::Urged, "UrgePetition").await;
    assert_eq!(after.outside_body, "UBND phường Ngô Quyền");

    // CLASSIFIED -return-> RETURNED
    let p = api.receive_as(t0, T::Complaint, Ineligible, Within).await;
    let seq = api.last_seq().await;
    let after = attempt(&mut api, Action::Return, &p).await.unwrap();
    check_step(&mut api, seq, &p, &after, PS::Returned, "ReturnPetition").await;
    assert_eq!(after.note, "đơn không ký tên");

    // CLASSIFIED -file-> FILED, for each reason
    for (reason, elig, note) in [
        (pb::FileReason::Duplicate, Eligible, ""),
        (pb::FileReason::Ineligible, Ineligible, ""),
        (pb::FileReason::AlreadyDecided, Eligible, "đã có quyết định"),
        (pb::FileReason::Other, Eligible, "lý do khác"),
    ] {
        let p = api.receive_as(t0, T::Complaint, elig, Within).await;
        let seq = api.last_seq().await;
        let after = ok(api
            .petitions
            .file_petition(pb::FilePetitionRequest {
                request_id: rid(),
                petition_id: p.id.clone(),
                reason: reason as i32,
                note: note.into(),
                ..Default::default()
            })
            .await)
        .petition
        .unwrap();
        check_step(&mut api, seq, &p, &after, PS::Filed, "FilePetition").await;
        assert_eq!(after.file_reason, reason as i32);
        assert_eq!(after.note, note);
    }
    api.stop().await;
}

async fn petition_transitions_refused(backend: Backend) {
    let mut api = Api::start(backend).await;
    let states = [
        (PS::Received, "received"),
        (PS::Accepted, "accepted"),
        (PS::Guided, "guided"),
        (PS::Transferred, "transferred"),
        (PS::Urged, "urged"),
        (PS::Returned, "returned"),
        (PS::Withdrawn, "withdrawn"),
        (PS::Filed, "filed"),
    ];
    let mut refused = 0;
    for (state, name) in states {
        let p = petition_in(&mut api, state).await;
        let before = api.get_petition(&p.id).await;
        let seq = api.last_seq().await;
        for action in ACTIONS {
            if allowed(state, action) {
                continue;
            }
            let status = attempt(&mut api, action, &p)
                .await
                .expect_err(&format!("{action:?} from {name} must be refused"));
            assert_transition(&status, "petition", name);
            let details = status.get_error_details();
            let info = details.error_info().unwrap();
            assert_eq!(
                info.metadata.get("action").map(String::as_str),
                Some(action.name())
            );
            assert_eq!(info.metadata.get("id"), Some(&p.id));
            refused += 1;
        }
        // The journal is append-only and the version only grows: unchanged after the last
        // refusal means unchanged after each.
        assert_eq!(
            api.last_seq().await,
            seq,
            "a refusal from {name} stored an event"
        );
        assert_eq!(
            api.get_petition(&p.id).await,
            before,
            "a refusal from {name}"
        );
    }
    // 6 refused from RECEIVED, all 8 from each of the 7 routed states.
    assert_eq!(refused, 6 + 7 * 8);
    api.stop().await;
}

/// Runs a call that must be refused, and checks the journal and the petition are unchanged.
macro_rules! refused {
    ($api:expr, $petition:expr, $call:expr) => {{
        let before = $api.get_petition($petition).await;
        let seq = $api.last_seq().await;
        let result = $call;
        assert_eq!($api.last_seq().await, seq, "a refused call stored an event");
        assert_eq!(
            $api.get_petition($petition).await,
            before,
            "a refused call changed the petition"
        );
        result
    }};
}

async fn petition_domain_refusals(backend: Backend) {
    let mut api = Api::start(backend).await;
    let t0 = ago(3);
    let accept_at = t0 + Duration::hours(1);

    // Accept an ineligible petition.
    let p = api.receive_as(t0, T::Complaint, Ineligible, Within).await;
    let r = refused!(
        api,
        &p.id,
        api.petitions
            .accept_petition(accept_req(&p.id, accept_at, false))
            .await
    );
    expect_precondition(r, "NOT_ELIGIBLE");

    // Accept a petition outside this unit's jurisdiction.
    let p = api.receive_as(t0, T::Complaint, Eligible, Outside).await;
    let r = refused!(
        api,
        &p.id,
        api.petitions
            .accept_petition(accept_req(&p.id, accept_at, false))
            .await
    );
    expect_precondition(r, "OUTSIDE_JURISDICTION");

    // Guide, transfer and urge a petition within jurisdiction.
    let p = api.receive_as(t0, T::Complaint, Eligible, Within).await;
    for action in [Action::Guide, Action::Transfer, Action::Urge] {
        let r = refused!(api, &p.id, attempt(&mut api, action, &p).await);
        let status = r.expect_err("refused");
        assert_eq!(status.code(), Code::FailedPrecondition, "{action:?}");
        assert_eq!(reason(&status), "WITHIN_JURISDICTION", "{action:?}");
    }
    // Transfer within jurisdiction to a known unit, too.
    api.register_unit("09574", HOME, "Phường Ngô Quyền").await;
    let r = refused!(
        api,
        &p.id,
        api.petitions
            .transfer_petition(pb::TransferPetitionRequest {
                request_id: rid(),
                petition_id: p.id.clone(),
                destination: Some(pb::transfer_petition_request::Destination::UnitCode(
                    "09574".into()
                )),
                note: String::new(),
                ..Default::default()
            })
            .await
    );
    expect_precondition(r, "WITHIN_JURISDICTION");

    // File an eligible petition as ineligible.
    let r = refused!(
        api,
        &p.id,
        api.petitions
            .file_petition(pb::FilePetitionRequest {
                request_id: rid(),
                petition_id: p.id.clone(),
                reason: pb::FileReason::Ineligible as i32,
                note: String::new(),
                ..Default::default()
            })
            .await
    );
    expect_precondition(r, "ELIGIBLE");

    // Accept before the petition was received.
    let r = refused!(
        api,
        &p.id,
        api.petitions
            .accept_petition(accept_req(&p.id, t0 - Duration::seconds(1), false))
            .await
    );
    expect_invalid(r, &["accept_time"]);

    // Transfer to a unit this node does not know, and to its own unit.
    let out = api.receive_as(t0, T::Denunciation, Eligible, Outside).await;
    for (code, not_found) in [("27001", true), (HOME, false)] {
        let r = refused!(
            api,
            &out.id,
            api.petitions
                .transfer_petition(pb::TransferPetitionRequest {
                    request_id: rid(),
                    petition_id: out.id.clone(),
                    destination: Some(pb::transfer_petition_request::Destination::UnitCode(
                        code.into()
                    )),
                    note: String::new(),
                    ..Default::default()
                })
                .await
        );
        if not_found {
            expect_not_found(r);
        } else {
            expect_invalid(r, &["unit_code"]);
        }
    }

    // Attach to a case of another type.
    let (_, denunciation_case) = api.open_case(T::Denunciation, t0, accept_at, false).await;
    let complaint = api.receive_as(t0, T::Complaint, Eligible, Within).await;
    let case_before = api.get_case(&denunciation_case.id).await;
    let attach = |case_id: &str| pb::AcceptPetitionRequest {
        request_id: rid(),
        petition_id: complaint.id.clone(),
        accept_time: ts(accept_at),
        target: Some(pb::accept_petition_request::Target::CaseId(
            case_id.to_string(),
        )),
    };
    let r = refused!(
        api,
        &complaint.id,
        api.petitions
            .accept_petition(attach(&denunciation_case.id))
            .await
    );
    expect_precondition(r, "TYPE_MISMATCH");
    assert_eq!(api.get_case(&denunciation_case.id).await, case_before);

    // Attach to a case that does not exist.
    let r = refused!(
        api,
        &complaint.id,
        api.petitions.accept_petition(attach("269-C999")).await
    );
    expect_not_found(r);

    // Attach to a case that is no longer open.
    let (_, closed) = api.open_case(T::Complaint, t0, accept_at, false).await;
    api.resolve(
        &closed.id,
        O::ComplaintIncorrect,
        accept_at + Duration::minutes(30),
    )
    .await;
    let closed_before = api.get_case(&closed.id).await;
    let r = refused!(
        api,
        &complaint.id,
        api.petitions.accept_petition(attach(&closed.id)).await
    );
    expect_transition(r, "case", "resolved");
    assert_eq!(api.get_case(&closed.id).await, closed_before);

    // An anonymous complaint cannot be classified eligible, at receipt or later.
    let seq = api.last_seq().await;
    let mut anonymous = receive_req(t0, Some(class(T::Complaint, Eligible, Within)));
    anonymous.petitioner = None;
    expect_invalid(
        api.petitions.receive_petition(anonymous.clone()).await,
        &["classification.eligibility"],
    );
    // ... nor as a denunciation without evidence ...
    anonymous.request_id = rid();
    anonymous.classification = Some(class(T::Denunciation, Eligible, Within));
    expect_invalid(
        api.petitions.receive_petition(anonymous.clone()).await,
        &["classification.eligibility"],
    );
    assert_eq!(api.last_seq().await, seq);
    // ... but an anonymous denunciation with concrete evidence is eligible.
    anonymous.request_id = rid();
    let mut with_evidence = class(T::Denunciation, Eligible, Within);
    with_evidence.has_evidence = true;
    anonymous.classification = Some(with_evidence);
    let ok_anonymous = ok(api.petitions.receive_petition(anonymous.clone()).await)
        .petition
        .unwrap();
    assert!(ok_anonymous.anonymous);
    assert!(ok_anonymous.has_evidence);
    assert_eq!(ok_anonymous.signers, 0);

    anonymous.request_id = rid();
    anonymous.classification = None;
    let anon = ok(api.petitions.receive_petition(anonymous).await)
        .petition
        .unwrap();
    assert!(anon.anonymous);
    let r = refused!(
        api,
        &anon.id,
        api.petitions
            .classify_petition(pb::ClassifyPetitionRequest {
                request_id: rid(),
                petition_id: anon.id.clone(),
                classification: Some(class(T::Complaint, Eligible, Within)),
                ..Default::default()
            })
            .await
    );
    expect_invalid(r, &["classification.eligibility"]);
    // Classified ineligible, it is accepted as a classification.
    let ineligible = ok(api
        .petitions
        .classify_petition(pb::ClassifyPetitionRequest {
            request_id: rid(),
            petition_id: anon.id.clone(),
            classification: Some(class(T::Complaint, Ineligible, Within)),
            ..Default::default()
        })
        .await)
    .petition
    .unwrap();
    assert_eq!(ineligible.status, PS::Classified as i32);

    // A complaint is a first or second complaint; nothing else has a round.
    let p = api.receive(t0, None).await;
    for (ty, round) in [(T::Complaint, 0), (T::Complaint, 3), (T::Denunciation, 1)] {
        let mut c = class(ty, Eligible, Within);
        c.complaint_round = round;
        let r = refused!(
            api,
            &p.id,
            api.petitions
                .classify_petition(pb::ClassifyPetitionRequest {
                    request_id: rid(),
                    petition_id: p.id.clone(),
                    classification: Some(c),
                    ..Default::default()
                })
                .await
        );
        expect_invalid(r, &["classification.complaint_round"]);
    }

    // Unknown petitions.
    let seq = api.last_seq().await;
    for action in ACTIONS {
        let ghost = pb::Petition {
            id: "269-P9999".into(),
            received_time: ts(t0),
            ..Default::default()
        };
        let status = attempt(&mut api, action, &ghost)
            .await
            .expect_err("unknown");
        assert_eq!(status.code(), Code::NotFound, "{action:?}");
    }
    assert_eq!(api.last_seq().await, seq);
    api.stop().await;
}

/// Runs a case call that must be refused, and checks the journal and the case are unchanged.
macro_rules! case_refused {
    ($api:expr, $case:expr, $call:expr) => {{
        let before = $api.get_case($case).await;
        let seq = $api.last_seq().await;
        let result = $call;
        assert_eq!($api.last_seq().await, seq, "a refused call stored an event");
        assert_eq!(
            $api.get_case($case).await,
            before,
            "a refused call changed the case"
        );
        result
    }};
}

fn extend_req(case_id: &str) -> pb::ExtendCaseRequest {
    pb::ExtendCaseRequest {
        request_id: rid(),
        case_id: case_id.into(),
        note: "vụ việc phức tạp".into(),
    }
}

fn resolve_req(case_id: &str, outcome: O, at: DateTime<Utc>) -> pb::ResolveCaseRequest {
    pb::ResolveCaseRequest {
        request_id: rid(),
        case_id: case_id.into(),
        outcome: outcome as i32,
        decision_number: "15/QĐ-UBND".into(),
        decision_time: ts(at),
        money_to_recover_vnd: 0,
        land_to_recover_m2: 0.0,
    }
}

fn in_force_req(case_id: &str, at: DateTime<Utc>) -> pb::RecordCaseInForceRequest {
    pb::RecordCaseInForceRequest {
        request_id: rid(),
        case_id: case_id.into(),
        effective_time: ts(at),
    }
}

fn enforce_req(
    case_id: &str,
    money: i64,
    land: f64,
    completed: bool,
    at: DateTime<Utc>,
) -> pb::RecordEnforcementRequest {
    pb::RecordEnforcementRequest {
        request_id: rid(),
        case_id: case_id.into(),
        money_recovered_vnd: money,
        land_recovered_m2: land,
        completed,
        enforcement_time: ts(at),
    }
}

/// Checks the action named in a refused case transition.
#[track_caller]
fn case_transition<R: std::fmt::Debug>(
    r: Result<tonic::Response<R>, Status>,
    state: &str,
    action: &str,
) {
    let status = err(r);
    assert_transition(&status, "case", state);
    let details = status.get_error_details();
    assert_eq!(
        details
            .error_info()
            .and_then(|i| i.metadata.get("action").cloned())
            .as_deref(),
        Some(action)
    );
}

async fn one_change(api: &mut Api, seq: u64, case: &pb::Case, method: &str) {
    let events = api.grew_by(seq, 1).await;
    assert_eq!(events[0].action, method);
    match &events[0].change {
        Some(pb::journal_event::Change::CaseChanged(c)) => {
            assert_eq!(c.id, case.id);
            assert_eq!(c.status, case.status);
            assert_eq!(c.version, case.version);
        }
        other => panic!("expected a case snapshot, got {other:?}"),
    }
    assert_eq!(
        stored_case(api.get_case(&case.id).await),
        stored_case(case.clone())
    );
}

async fn complaint_case_lifecycle(backend: Backend) {
    let mut api = Api::start(backend).await;
    let received = local(2024, 3, 1, 9, 0, 0);
    let accepted = local(2024, 3, 4, 10, 0, 0);
    let (_, case) = api.open_case(T::Complaint, received, accepted, false).await;
    let id = case.id.clone();
    assert_eq!(case.status, CS::Open as i32);
    assert!(!case.complex);
    let deadline = case.deadline.clone().unwrap();
    assert_eq!(deadline.step, "resolve_first_complaint");
    assert_eq!(deadline.due_date, "2024-04-03"); // 4 March + 30 days

    // Nothing but extend and resolve is allowed on an open case.
    let r = case_refused!(
        api,
        &id,
        api.cases
            .record_case_in_force(in_force_req(&id, accepted))
            .await
    );
    case_transition(r, "open", "record coming into force");
    let r = case_refused!(
        api,
        &id,
        api.cases
            .record_enforcement(enforce_req(&id, 1, 1.0, false, accepted))
            .await
    );
    case_transition(r, "open", "record enforcement");
    let r = case_refused!(
        api,
        &id,
        api.cases
            .record_enforcement(enforce_req(&id, 1, 1.0, true, accepted))
            .await
    );
    case_transition(r, "open", "complete enforcement");

    // Extend: a first complaint is declared complex once, 45 days.
    let seq = api.last_seq().await;
    let extended = ok(api.cases.extend_case(extend_req(&id)).await)
        .case
        .unwrap();
    assert!(extended.complex);
    assert_eq!(extended.extensions, 0);
    assert_eq!(extended.version, 2);
    let d = extended.deadline.clone().unwrap();
    assert_eq!(d.step, "resolve_first_complaint_complex");
    assert_eq!(d.due_date, "2024-04-18"); // 4 March + 45 days
    one_change(&mut api, seq, &extended, "ExtendCase").await;
    let r = case_refused!(api, &id, api.cases.extend_case(extend_req(&id)).await);
    expect_precondition(r, "ALREADY_COMPLEX");

    // Resolve: the outcome must fit a complaint; the decision follows acceptance.
    for outcome in [
        O::DenunciationFounded,
        O::DenunciationPartlyFounded,
        O::DenunciationUnfounded,
        O::RecommendationAnswered,
    ] {
        let r = case_refused!(
            api,
            &id,
            api.cases
                .resolve_case(resolve_req(&id, outcome, accepted + Duration::days(1)))
                .await
        );
        expect_invalid(r, &["outcome"]);
    }
    let r = case_refused!(
        api,
        &id,
        api.cases
            .resolve_case(resolve_req(
                &id,
                O::ComplaintCorrect,
                accepted - Duration::seconds(1)
            ))
            .await
    );
    expect_invalid(r, &["decision_time"]);

    let decided = local(2024, 4, 10, 15, 0, 0);
    let seq = api.last_seq().await;
    let mut req = resolve_req(&id, O::ComplaintPartlyCorrect, decided);
    req.money_to_recover_vnd = 1_000_000_000;
    req.land_to_recover_m2 = 120.5;
    let resolved = ok(api.cases.resolve_case(req).await).case.unwrap();
    assert_eq!(resolved.status, CS::Resolved as i32);
    assert_eq!(resolved.outcome, O::ComplaintPartlyCorrect as i32);
    assert_eq!(resolved.decision_number, "15/QĐ-UBND");
    assert_eq!(instant(&resolved.decision_time), decided);
    assert_eq!(resolved.money_to_recover_vnd, 1_000_000_000);
    assert_eq!(resolved.land_to_recover_m2, 120.5);
    assert!(resolved.resolved_on_time, "10 April is before 18 April");
    assert!(!resolved.deadline.as_ref().unwrap().overdue);
    assert_eq!(resolved.version, 3);
    one_change(&mut api, seq, &resolved, "ResolveCase").await;

    // Resolved: no second decision, no extension, no withdrawal, no enforcement yet.
    let r = case_refused!(
        api,
        &id,
        api.cases
            .resolve_case(resolve_req(&id, O::ComplaintCorrect, decided))
            .await
    );
    case_transition(r, "resolved", "resolve");
    let r = case_refused!(
        api,
        &id,
        api.cases
            .resolve_case(resolve_req(&id, O::Withdrawn, decided))
            .await
    );
    case_transition(r, "resolved", "withdraw");
    let r = case_refused!(api, &id, api.cases.extend_case(extend_req(&id)).await);
    case_transition(r, "resolved", "extend");
    let r = case_refused!(
        api,
        &id,
        api.cases
            .record_enforcement(enforce_req(&id, 1, 0.0, false, decided))
            .await
    );
    case_transition(r, "resolved", "record enforcement");
    let r = case_refused!(
        api,
        &id,
        api.cases
            .record_case_in_force(in_force_req(&id, decided - Duration::seconds(1)))
            .await
    );
    expect_invalid(r, &["effective_time"]);

    // In force.
    let effective = local(2024, 5, 10, 8, 0, 0);
    let seq = api.last_seq().await;
    let in_force = ok(api
        .cases
        .record_case_in_force(in_force_req(&id, effective))
        .await)
    .case
    .unwrap();
    assert_eq!(in_force.status, CS::InForce as i32);
    assert_eq!(instant(&in_force.effective_time), effective);
    one_change(&mut api, seq, &in_force, "RecordCaseInForce").await;
    let r = case_refused!(
        api,
        &id,
        api.cases
            .record_case_in_force(in_force_req(&id, effective))
            .await
    );
    case_transition(r, "in_force", "record coming into force");
    let r = case_refused!(
        api,
        &id,
        api.cases
            .resolve_case(resolve_req(&id, O::ComplaintCorrect, decided))
            .await
    );
    case_transition(r, "in_force", "resolve");
    let r = case_refused!(
        api,
        &id,
        api.cases
            .record_enforcement(enforce_req(
                &id,
                1,
                0.0,
                false,
                effective - Duration::seconds(1)
            ))
            .await
    );
    expect_invalid(r, &["enforcement_time"]);

    // Enforcement in steps, then complete.
    let step1 = local(2024, 6, 1, 9, 0, 0);
    let seq = api.last_seq().await;
    let partial = ok(api
        .cases
        .record_enforcement(enforce_req(&id, 400_000_000, 20.25, false, step1))
        .await)
    .case
    .unwrap();
    assert_eq!(partial.status, CS::InForce as i32);
    assert_eq!(partial.money_recovered_vnd, 400_000_000);
    assert_eq!(partial.land_recovered_m2, 20.25);
    assert!(partial.enforced_time.is_none());
    one_change(&mut api, seq, &partial, "RecordEnforcement").await;

    let step2 = local(2024, 7, 1, 9, 0, 0);
    let seq = api.last_seq().await;
    let done = ok(api
        .cases
        .record_enforcement(enforce_req(&id, 600_000_000, 100.25, true, step2))
        .await)
    .case
    .unwrap();
    assert_eq!(done.status, CS::Enforced as i32);
    assert_eq!(done.money_recovered_vnd, 1_000_000_000);
    assert_eq!(done.land_recovered_m2, 120.5);
    assert_eq!(instant(&done.enforced_time), step2);
    assert_eq!(done.version, 6);
    one_change(&mut api, seq, &done, "RecordEnforcement").await;

    // Enforced is final.
    let r = case_refused!(
        api,
        &id,
        api.cases
            .record_enforcement(enforce_req(&id, 1, 0.0, false, step2))
            .await
    );
    case_transition(r, "enforced", "record enforcement");
    let r = case_refused!(
        api,
        &id,
        api.cases
            .record_enforcement(enforce_req(&id, 1, 0.0, true, step2))
            .await
    );
    case_transition(r, "enforced", "complete enforcement");
    let r = case_refused!(
        api,
        &id,
        api.cases
            .record_case_in_force(in_force_req(&id, step2))
            .await
    );
    case_transition(r, "enforced", "record coming into force");
    let r = case_refused!(api, &id, api.cases.extend_case(extend_req(&id)).await);
    case_transition(r, "enforced", "extend");
    let r = case_refused!(
        api,
        &id,
        api.cases
            .resolve_case(resolve_req(&id, O::ComplaintCorrect, step2))
            .await
    );
    case_transition(r, "enforced", "resolve");

    // Unknown cases.
    let seq = api.last_seq().await;
    expect_not_found(api.cases.extend_case(extend_req("269-C404")).await);
    expect_not_found(
        api.cases
            .resolve_case(resolve_req("269-C404", O::ComplaintCorrect, decided))
            .await,
    );
    expect_not_found(
        api.cases
            .record_case_in_force(in_force_req("269-C404", effective))
            .await,
    );
    expect_not_found(
        api.cases
            .record_enforcement(enforce_req("269-C404", 0, 0.0, true, step2))
            .await,
    );
    assert_eq!(api.last_seq().await, seq);
    api.stop().await;
}

async fn denunciation_extensions(backend: Backend) {
    let mut api = Api::start(backend).await;
    let accepted = local(2024, 5, 2, 14, 0, 0);
    let (_, case) = api
        .open_case(T::Denunciation, local(2024, 5, 1, 9, 0, 0), accepted, false)
        .await;
    let id = case.id.clone();
    assert_eq!(case.deadline.as_ref().unwrap().step, "resolve_denunciation");
    assert_eq!(case.deadline.as_ref().unwrap().due_date, "2024-06-01"); // 2 May + 30
    let mut expected_due = date(2024, 6, 1);
    for n in 1..=2u32 {
        let seq = api.last_seq().await;
        let c = ok(api.cases.extend_case(extend_req(&id)).await)
            .case
            .unwrap();
        expected_due = plus_days(expected_due, 30);
        assert_eq!(c.extensions, n);
        assert!(c.complex);
        assert_eq!(c.status, CS::Open as i32);
        assert_eq!(c.version, 1 + n);
        assert_eq!(
            c.deadline.as_ref().unwrap().due_date,
            expected_due.format("%Y-%m-%d").to_string()
        );
        one_change(&mut api, seq, &c, "ExtendCase").await;
    }
    assert_eq!(expected_due, date(2024, 7, 31));
    let r = case_refused!(api, &id, api.cases.extend_case(extend_req(&id)).await);
    expect_precondition(r, "NO_EXTENSION_LEFT");

    for outcome in [
        O::ComplaintCorrect,
        O::ComplaintPartlyCorrect,
        O::ComplaintIncorrect,
        O::RecommendationAnswered,
    ] {
        let r = case_refused!(
            api,
            &id,
            api.cases
                .resolve_case(resolve_req(&id, outcome, accepted + Duration::days(3)))
                .await
        );
        expect_invalid(r, &["outcome"]);
    }
    let done = api
        .resolve(&id, O::DenunciationUnfounded, local(2024, 7, 31, 23, 59, 0))
        .await;
    assert_eq!(done.status, CS::Resolved as i32);
    assert!(
        done.resolved_on_time,
        "decided on the last day of the second extension"
    );
    api.stop().await;
}

async fn recommendation_and_mixed_cases(backend: Backend) {
    let mut api = Api::start(backend).await;
    let received = local(2024, 8, 1, 9, 0, 0);
    let accepted = local(2024, 8, 1, 10, 0, 0);
    let decided = local(2024, 8, 20, 10, 0, 0);

    // A recommendation's limit cannot be extended; only an answer fits it.
    let (_, rec) = api
        .open_case(T::Recommendation, received, accepted, false)
        .await;
    let r = case_refused!(
        api,
        &rec.id,
        api.cases.extend_case(extend_req(&rec.id)).await
    );
    expect_precondition(r, "NOT_EXTENDABLE");
    for outcome in [O::ComplaintCorrect, O::DenunciationFounded] {
        let r = case_refused!(
            api,
            &rec.id,
            api.cases
                .resolve_case(resolve_req(&rec.id, outcome, decided))
                .await
        );
        expect_invalid(r, &["outcome"]);
    }
    let answered = api
        .resolve(&rec.id, O::RecommendationAnswered, decided)
        .await;
    assert_eq!(answered.status, CS::Resolved as i32);
    assert_eq!(answered.outcome, O::RecommendationAnswered as i32);

    // A mixed petition's case takes any outcome and is declared complex once.
    for outcome in [
        O::ComplaintIncorrect,
        O::DenunciationPartlyFounded,
        O::RecommendationAnswered,
    ] {
        let (_, mixed) = api.open_case(T::Mixed, received, accepted, false).await;
        let c = ok(api.cases.extend_case(extend_req(&mixed.id)).await)
            .case
            .unwrap();
        assert!(c.complex);
        let r = case_refused!(
            api,
            &mixed.id,
            api.cases.extend_case(extend_req(&mixed.id)).await
        );
        expect_precondition(r, "ALREADY_COMPLEX");
        let done = api.resolve(&mixed.id, outcome, decided).await;
        assert_eq!(done.outcome, outcome as i32);
        assert_eq!(done.status, CS::Resolved as i32);
    }

    // A complaint opened complex cannot be declared complex again.
    let (_, complex) = api.open_case(T::Complaint, received, accepted, true).await;
    assert!(complex.complex);
    let r = case_refused!(
        api,
        &complex.id,
        api.cases.extend_case(extend_req(&complex.id)).await
    );
    expect_precondition(r, "ALREADY_COMPLEX");
    api.stop().await;
}

async fn withdrawn_case(backend: Backend) {
    let mut api = Api::start(backend).await;
    let received = local(2024, 9, 3, 9, 0, 0);
    let accepted = local(2024, 9, 4, 9, 0, 0);
    for ty in [T::Complaint, T::Denunciation, T::Recommendation] {
        let (_, case) = api.open_case(ty, received, accepted, false).await;
        let id = case.id.clone();
        let seq = api.last_seq().await;
        // A withdrawal needs no decision number.
        let mut req = resolve_req(&id, O::Withdrawn, local(2024, 9, 10, 9, 0, 0));
        req.decision_number = String::new();
        let withdrawn = ok(api.cases.resolve_case(req).await).case.unwrap();
        assert_eq!(withdrawn.status, CS::Withdrawn as i32, "{ty:?}");
        assert_eq!(withdrawn.outcome, O::Withdrawn as i32);
        assert!(!withdrawn.deadline.as_ref().unwrap().overdue);
        one_change(&mut api, seq, &withdrawn, "ResolveCase").await;

        // Withdrawn is final.
        let r = case_refused!(
            api,
            &id,
            api.cases
                .resolve_case(resolve_req(&id, O::ComplaintCorrect, accepted))
                .await
        );
        case_transition(r, "withdrawn", "resolve");
        let r = case_refused!(
            api,
            &id,
            api.cases
                .resolve_case(resolve_req(&id, O::Withdrawn, accepted))
                .await
        );
        case_transition(r, "withdrawn", "withdraw");
        let r = case_refused!(
            api,
            &id,
            api.cases
                .record_case_in_force(in_force_req(&id, accepted))
                .await
        );
        case_transition(r, "withdrawn", "record coming into force");
        let r = case_refused!(
            api,
            &id,
            api.cases
                .record_enforcement(enforce_req(&id, 0, 0.0, true, accepted))
                .await
        );
        case_transition(r, "withdrawn", "complete enforcement");
        let r = case_refused!(api, &id, api.cases.extend_case(extend_req(&id)).await);
        case_transition(r, "withdrawn", "extend");
    }
    // A resolved case cannot be withdrawn.
    let (_, case) = api.open_case(T::Complaint, received, accepted, false).await;
    api.resolve(&case.id, O::ComplaintCorrect, local(2024, 9, 10, 9, 0, 0))
        .await;
    let r = case_refused!(
        api,
        &case.id,
        api.cases
            .resolve_case(resolve_req(
                &case.id,
                O::Withdrawn,
                local(2024, 9, 11, 9, 0, 0)
            ))
            .await
    );
    case_transition(r, "resolved", "withdraw");
    api.stop().await;
}

/// A conclusion from recording to done, and the refusals around it.
async fn conclusion_lifecycle(backend: Backend) {
    let mut api = Api::start(backend).await;
    let visit_at = ago(48);
    let head = api
        .visit(visit_at, pb::ReceiverRole::CommitteeChairman, 2)
        .await;
    let staff = api.visit(visit_at, pb::ReceiverRole::Staff, 1).await;
    let concluded = visit_at + Duration::hours(2);

    let record = |visit_id: &str, at: DateTime<Utc>| pb::RecordConclusionRequest {
        request_id: rid(),
        visit_id: visit_id.to_string(),
        text: "Giao phòng Tài nguyên và Môi trường kiểm tra, trả lời trong 15 ngày".into(),
        assignee: "Phòng Tài nguyên và Môi trường".into(),
        conclusion_time: ts(at),
    };

    // A staff visit has no head's conclusion.
    let seq = api.last_seq().await;
    expect_precondition(
        api.reception
            .record_conclusion(record(&staff.id, concluded))
            .await,
        "NOT_A_HEAD_SESSION",
    );
    // Unknown visit, and a conclusion before its visit.
    expect_not_found(
        api.reception
            .record_conclusion(record("269-V999", concluded))
            .await,
    );
    expect_invalid(
        api.reception
            .record_conclusion(record(&head.id, visit_at - Duration::seconds(1)))
            .await,
        &["conclusion_time"],
    );
    assert_eq!(api.last_seq().await, seq);

    let k = ok(api
        .reception
        .record_conclusion(record(&head.id, concluded))
        .await)
    .conclusion
    .unwrap();
    assert_eq!(k.status, pb::ConclusionStatus::Pending as i32);
    assert_eq!(k.visit_id, head.id);
    assert_eq!(k.unit_code, HOME);
    assert_eq!(instant(&k.conclusion_time), concluded);
    assert!(k.done_time.is_none());
    let events = api.grew_by(seq, 1).await;
    assert_eq!(events[0].action, "RecordConclusion");

    let update =
        |status: pb::ConclusionStatus, note: &str, at: DateTime<Utc>| pb::UpdateConclusionRequest {
            request_id: rid(),
            conclusion_id: k.id.clone(),
            status: status as i32,
            progress_note: note.into(),
            update_time: ts(at),
        };
    let list = |status: pb::ConclusionStatus| pb::ListConclusionsRequest {
        status: status as i32,
        ..Default::default()
    };

    // Back to pending, or progress before the conclusion: refused.
    let seq = api.last_seq().await;
    expect_invalid(
        api.reception
            .update_conclusion(update(pb::ConclusionStatus::Pending, "", concluded))
            .await,
        &["status"],
    );
    expect_invalid(
        api.reception
            .update_conclusion(update(
                pb::ConclusionStatus::InProgress,
                "",
                concluded - Duration::seconds(1),
            ))
            .await,
        &["update_time"],
    );
    let mut ghost = update(pb::ConclusionStatus::Done, "", concluded);
    ghost.conclusion_id = "269-K999".into();
    expect_not_found(api.reception.update_conclusion(ghost).await);
    assert_eq!(api.last_seq().await, seq);

    let progress_at = concluded + Duration::hours(5);
    let in_progress = ok(api
        .reception
        .update_conclusion(update(
            pb::ConclusionStatus::InProgress,
            "đã giao phòng TN&MT",
            progress_at,
        ))
        .await)
    .conclusion
    .unwrap();
    assert_eq!(in_progress.status, pb::ConclusionStatus::InProgress as i32);
    assert_eq!(in_progress.progress_note, "đã giao phòng TN&MT");
    assert!(in_progress.done_time.is_none());
    api.grew_by(seq, 1).await;
    let listed = ok(api
        .reception
        .list_conclusions(list(pb::ConclusionStatus::InProgress))
        .await)
    .conclusions;
    assert_eq!(listed, vec![in_progress.clone()]);
    assert!(
        ok(api
            .reception
            .list_conclusions(list(pb::ConclusionStatus::Pending))
            .await)
        .conclusions
        .is_empty()
    );

    let done_at = concluded + Duration::hours(20);
    let seq = api.last_seq().await;
    let done = ok(api
        .reception
        .update_conclusion(update(
            pb::ConclusionStatus::Done,
            "đã trả lời công dân",
            done_at,
        ))
        .await)
    .conclusion
    .unwrap();
    assert_eq!(done.status, pb::ConclusionStatus::Done as i32);
    assert_eq!(instant(&done.done_time), done_at);
    api.grew_by(seq, 1).await;

    // Done is final.
    let seq = api.last_seq().await;
    for status in [pb::ConclusionStatus::InProgress, pb::ConclusionStatus::Done] {
        expect_transition(
            api.reception
                .update_conclusion(update(status, "lại", done_at))
                .await,
            "conclusion",
            "done",
        );
    }
    assert_eq!(api.last_seq().await, seq);
    let listed = ok(api
        .reception
        .list_conclusions(list(pb::ConclusionStatus::Done))
        .await)
    .conclusions;
    assert_eq!(listed, vec![done]);
    api.stop().await;
}

/// Routing decisions may carry the time they were made: the petition is processed then.
async fn decisions_carry_their_time(backend: Backend) {
    let mut api = Api::start(backend).await;
    let received = local(2024, 4, 1, 9, 0, 0);
    let decided = local(2024, 4, 3, 15, 30, 0);
    for action in ACTIONS {
        let start = match action {
            Action::Withdraw => None,
            Action::Guide | Action::Transfer | Action::Urge => {
                Some(class(T::Complaint, Eligible, Outside))
            }
            _ => Some(class(T::Complaint, Eligible, Within)),
        };
        let p = api.receive(received, start).await;
        let after = attempt_at(&mut api, action, &p, Some(decided))
            .await
            .unwrap_or_else(|e| panic!("{action:?}: {e}"));
        let got = api.get_petition(&p.id).await;
        if action == Action::Classify {
            assert_eq!(after.status, PS::Classified as i32);
            assert!(got.processed_time.is_none());
        } else {
            assert_eq!(instant(&after.processed_time), decided, "{action:?}");
            assert_eq!(instant(&got.processed_time), decided, "{action:?}");
        }
        // Not before receipt.
        let other = api.receive(received, start).await;
        let seq = api.last_seq().await;
        let status = attempt_at(
            &mut api,
            action,
            &other,
            Some(received - Duration::seconds(1)),
        )
        .await
        .expect_err("a decision before receipt");
        let field = if action == Action::Accept {
            "accept_time"
        } else {
            "decision_time"
        };
        assert_invalid(&status, &[field]);
        assert_eq!(api.last_seq().await, seq);
    }
    api.stop().await;
}

/// The answer to a write is the record as stored: reading it back gives the same message.
async fn answers_equal_what_is_read_back(backend: Backend) {
    let mut api = Api::start(backend).await;
    let t0 = ago(5);
    let visit = api.visit(t0, pb::ReceiverRole::Staff, 2).await;
    let listed = ok(api
        .reception
        .list_visits(pb::ListVisitsRequest::default())
        .await)
    .visits;
    assert_eq!(listed, vec![visit]);

    let p = api.receive(t0, None).await;
    let mut got = api.get_petition(&p.id).await;
    got.petitioner = None;
    assert_eq!(got, p, "ReceivePetition");

    let classified = attempt(&mut api, Action::Classify, &p).await.unwrap();
    let mut got = api.get_petition(&p.id).await;
    got.petitioner = None;
    assert_eq!(got, classified, "ClassifyPetition");

    let (accepted, case) = api.accept_new(&p.id, t0 + Duration::hours(1), false).await;
    let mut got = api.get_petition(&p.id).await;
    got.petitioner = None;
    assert_eq!(got, accepted, "AcceptPetition");
    assert_eq!(api.get_case(&case.id).await, case, "AcceptPetition case");
    api.stop().await;
}

on_every_backend!(answers_equal_what_is_read_back,);

on_every_backend!(
    decisions_carry_their_time,
    petition_transitions_allowed,
    petition_transitions_refused,
    petition_domain_refusals,
    complaint_case_lifecycle,
    denunciation_extensions,
    recommendation_and_mixed_cases,
    withdrawn_case,
    conclusion_lifecycle,
);
