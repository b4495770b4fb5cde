//! Petition transitions, allowed and refused, and the refusals of the petition domain.

use super::*;

pub(super) async fn petition_transitions_allowed(backend: Backend) {
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

pub(super) async fn petition_transitions_refused(backend: Backend) {
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

pub(super) async fn petition_domain_refusals(backend: Backend) {
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
