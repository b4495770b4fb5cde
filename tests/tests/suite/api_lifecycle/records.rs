//! Conclusions, decision times, and answers equal to what is read back.

use super::*;

/// A conclusion from recording to done, and the refusals around it.
pub(super) async fn conclusion_lifecycle(backend: Backend) {
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
pub(super) async fn decisions_carry_their_time(backend: Backend) {
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
pub(super) async fn answers_equal_what_is_read_back(backend: Backend) {
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
