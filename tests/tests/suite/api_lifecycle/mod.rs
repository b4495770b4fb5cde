//! Every lifecycle transition of petitions, cases and heads' conclusions through the gRPC API,
//! allowed and refused, on SQLite and PostgreSQL. After every refused call the journal and the
//! record read back unchanged.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support::*;
use chrono::{DateTime, Duration, Utc};
use tiepdan_tests::Backend;
use tonic::{Code, Status};
use tonic_types::StatusExt;

use pb::CaseOutcome as O;
use pb::CaseStatus as CS;
use pb::Eligibility::{Eligible, Ineligible};
use pb::Jurisdiction::{Outside, Within};
use pb::PetitionStatus as PS;
use pb::PetitionType as T;

mod cases;
mod petitions;
mod records;

use cases::*;
use petitions::*;
use records::*;

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
