//! Reused request ids, retries after later changes and restarts, concurrent requests.

use super::*;

/// Asserts the refusal of a reused request id.
#[track_caller]
pub(super) fn expect_reused<T: std::fmt::Debug>(r: Result<tonic::Response<T>, tonic::Status>) {
    let status = err(r);
    assert_invalid(&status, &["request_id"]);
    assert_eq!(reason(&status), "REQUEST_ID_REUSED", "{}", status.message());
}

pub(super) async fn reused_request_id_is_refused(backend: Backend) {
    let mut api = Api::start(backend).await;
    let t0 = ago(5);
    let first = receive_req(t0, Some(class(T::Complaint, Eligible, Within)));
    let p = ok(api.petitions.receive_petition(first.clone()).await)
        .petition
        .unwrap();
    let seq = api.last_seq().await;

    // Same id, different body: every difference counts, however small.
    let mut other = first.clone();
    other.summary.push('.');
    expect_reused(api.petitions.receive_petition(other).await);
    let mut other = first.clone();
    other.received_time = ts(t0 + Duration::seconds(1));
    expect_reused(api.petitions.receive_petition(other).await);
    let mut other = first.clone();
    other.petitioner = None;
    other.classification = None;
    expect_reused(api.petitions.receive_petition(other).await);
    // Same id on another method.
    expect_reused(
        api.petitions
            .withdraw_petition(pb::WithdrawPetitionRequest {
                request_id: first.request_id.clone(),
                petition_id: p.id.clone(),
                note: String::new(),
                ..Default::default()
            })
            .await,
    );
    expect_reused(
        api.reception
            .record_visit(pb::RecordVisitRequest {
                request_id: first.request_id.clone(),
                ..visit_req(t0, pb::ReceiverRole::Staff, 1)
            })
            .await,
    );
    assert_eq!(api.last_seq().await, seq);
    assert_eq!(count_petitions(&mut api).await, 1);
    assert_eq!(
        api.get_petition(&p.id).await.status,
        pb::PetitionStatus::Classified as i32
    );
    // The original request is still answered.
    let again = ok(api.petitions.receive_petition(first).await)
        .petition
        .unwrap();
    assert_eq!(again, p);

    // The same on a state change: a reused id does not extend the case a second time.
    let (_, case) = api
        .open_case(T::Denunciation, t0, t0 + Duration::hours(1), false)
        .await;
    let extend = pb::ExtendCaseRequest {
        request_id: rid(),
        case_id: case.id.clone(),
        note: "lần 1".into(),
    };
    ok(api.cases.extend_case(extend.clone()).await);
    let seq = api.last_seq().await;
    expect_reused(
        api.cases
            .extend_case(pb::ExtendCaseRequest {
                note: "lần 2".into(),
                ..extend.clone()
            })
            .await,
    );
    assert_eq!(api.last_seq().await, seq);
    assert_eq!(api.get_case(&case.id).await.extensions, 1);
    api.stop().await;
}

/// A retry that arrives after the record moved on still gets the first answer and changes
/// nothing.
pub(super) async fn retry_after_later_change_returns_first_answer(backend: Backend) {
    let mut api = Api::start(backend).await;
    let p = api.receive(ago(4), None).await;
    let classify = pb::ClassifyPetitionRequest {
        request_id: rid(),
        petition_id: p.id.clone(),
        classification: Some(class(T::Complaint, Eligible, Within)),
        ..Default::default()
    };
    let first = ok(api.petitions.classify_petition(classify.clone()).await);
    ok(api
        .petitions
        .withdraw_petition(pb::WithdrawPetitionRequest {
            request_id: rid(),
            petition_id: p.id.clone(),
            note: String::new(),
            ..Default::default()
        })
        .await);
    let seq = api.last_seq().await;
    let retry = ok(api.petitions.classify_petition(classify).await);
    assert_eq!(retry, first);
    assert_eq!(
        retry.petition.unwrap().status,
        pb::PetitionStatus::Classified as i32
    );
    assert_eq!(api.last_seq().await, seq);
    let now = api.get_petition(&p.id).await;
    assert_eq!(now.status, pb::PetitionStatus::Withdrawn as i32);
    assert_eq!(now.version, 3);
    api.stop().await;
}

/// The request log is durable: a retry after a restart is still answered from it.
pub(super) async fn retry_after_restart(backend: Backend) {
    let mut api = Api::start(backend).await;
    let req = receive_req(ago(2), None);
    let first = ok(api.petitions.receive_petition(req.clone()).await);
    let seq = api.last_seq().await;
    let Api { node, .. } = api;
    let db = node.stop().await;
    let node = TestNode::start_on(db, home_unit()).await;
    let mut api = Api::connect(node).await;
    assert_eq!(
        api.last_seq().await,
        seq,
        "a restart with the same unit adds nothing"
    );
    let again = ok(api.petitions.receive_petition(req).await);
    assert_eq!(again, first);
    assert_eq!(api.last_seq().await, seq);
    assert_eq!(count_petitions(&mut api).await, 1);
    api.stop().await;
}

pub(super) const CONCURRENCY: usize = 8;

/// Identical requests sent at once create one record and all get the same answer.
pub(super) async fn concurrent_identical_requests(backend: Backend) {
    let mut api = Api::start(backend).await;
    let t0 = ago(6);

    // ReceivePetition
    let seq = api.last_seq().await;
    let req = receive_req(t0, Some(class(T::Complaint, Eligible, Within)));
    let mut tasks = Vec::new();
    for _ in 0..CONCURRENCY {
        let mut client = api.petitions.clone();
        let req = req.clone();
        tasks.push(tokio::spawn(
            async move { client.receive_petition(req).await },
        ));
    }
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(ok(t.await.unwrap()));
    }
    assert!(answers.iter().all(|a| *a == answers[0]), "{answers:?}");
    assert_eq!(count_petitions(&mut api).await, 1);
    assert_eq!(api.last_seq().await, seq + 1);
    let p = answers[0].petition.clone().unwrap();

    // AcceptPetition into a new case
    let seq = api.last_seq().await;
    let req = accept_req(&p.id, t0 + Duration::hours(1), false);
    let mut tasks = Vec::new();
    for _ in 0..CONCURRENCY {
        let mut client = api.petitions.clone();
        let req = req.clone();
        tasks.push(tokio::spawn(
            async move { client.accept_petition(req).await },
        ));
    }
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(ok(t.await.unwrap()));
    }
    assert!(answers.iter().all(|a| *a == answers[0]));
    let cases = ok(api.cases.list_cases(pb::ListCasesRequest::default()).await).cases;
    assert_eq!(cases.len(), 1);
    assert_eq!(api.last_seq().await, seq + 2);

    // RecordVisit
    let seq = api.last_seq().await;
    let req = visit_req(t0, pb::ReceiverRole::Staff, 3);
    let mut tasks = Vec::new();
    for _ in 0..CONCURRENCY {
        let mut client = api.reception.clone();
        let req = req.clone();
        tasks.push(tokio::spawn(async move { client.record_visit(req).await }));
    }
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(ok(t.await.unwrap()));
    }
    assert!(answers.iter().all(|a| *a == answers[0]));
    let visits = ok(api
        .reception
        .list_visits(pb::ListVisitsRequest::default())
        .await)
    .visits;
    assert_eq!(visits.len(), 1);
    assert_eq!(api.last_seq().await, seq + 1);
    api.stop().await;
}

/// Different requests at once are serialized: each gets its own record, the journal stays
/// gapless, and of competing decisions on one petition exactly one wins.
pub(super) async fn concurrent_distinct_requests(backend: Backend) {
    let mut api = Api::start(backend).await;
    let t0 = ago(6);
    let seq = api.last_seq().await;
    let mut tasks = Vec::new();
    for i in 0..CONCURRENCY {
        let mut client = api.petitions.clone();
        let req = receive_req(t0 + Duration::minutes(i as i64), None);
        tasks.push(tokio::spawn(
            async move { client.receive_petition(req).await },
        ));
    }
    let mut ids = BTreeSet::new();
    for t in tasks {
        ids.insert(ok(t.await.unwrap()).petition.unwrap().id);
    }
    assert_eq!(ids.len(), CONCURRENCY);
    let events = api.grew_by(seq, CONCURRENCY as u64).await;
    let seqs: Vec<u64> = events.iter().map(|e| e.sequence).collect();
    assert_eq!(
        seqs,
        (seq + 1..=seq + CONCURRENCY as u64).collect::<Vec<_>>()
    );

    // Competing decisions: withdrawals and returns of one classified petition.
    let p = api.receive_as(t0, T::Complaint, Eligible, Within).await;
    let seq = api.last_seq().await;
    let mut tasks = Vec::new();
    for i in 0..CONCURRENCY {
        let mut client = api.petitions.clone();
        let id = p.id.clone();
        tasks.push(tokio::spawn(async move {
            if i % 2 == 0 {
                client
                    .withdraw_petition(pb::WithdrawPetitionRequest {
                        request_id: rid(),
                        petition_id: id,
                        note: String::new(),
                        ..Default::default()
                    })
                    .await
                    .map(|r| r.into_inner().petition)
            } else {
                client
                    .return_petition(pb::ReturnPetitionRequest {
                        request_id: rid(),
                        petition_id: id,
                        note: "trả lại".into(),
                        ..Default::default()
                    })
                    .await
                    .map(|r| r.into_inner().petition)
            }
        }));
    }
    let mut won = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            Ok(p) => won.push(p.unwrap()),
            Err(status) => {
                assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
                assert_eq!(reason(&status), "TRANSITION_NOT_ALLOWED");
            }
        }
    }
    assert_eq!(won.len(), 1, "exactly one decision wins");
    let stored = api.get_petition(&p.id).await;
    assert_eq!(stored.status, won[0].status);
    assert_eq!(stored.version, 2);
    api.grew_by(seq, 1).await;
    api.stop().await;
}
