//! Case lifecycles: complaints, denunciations with extensions, recommendations and mixed cases, withdrawal.

use super::*;

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

pub(super) fn extend_req(case_id: &str) -> pb::ExtendCaseRequest {
    pb::ExtendCaseRequest {
        request_id: rid(),
        case_id: case_id.into(),
        note: "vụ việc phức tạp".into(),
    }
}

pub(super) fn resolve_req(case_id: &str, outcome: O, at: DateTime<Utc>) -> pb::ResolveCaseRequest {
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

pub(super) fn in_force_req(case_id: &str, at: DateTime<Utc>) -> pb::RecordCaseInForceRequest {
    pb::RecordCaseInForceRequest {
        request_id: rid(),
        case_id: case_id.into(),
        effective_time: ts(at),
    }
}

pub(super) fn enforce_req(
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
pub(super) fn case_transition<R: std::fmt::Debug>(
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

pub(super) async fn one_change(api: &mut Api, seq: u64, case: &pb::Case, method: &str) {
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

pub(super) async fn complaint_case_lifecycle(backend: Backend) {
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

pub(super) async fn denunciation_extensions(backend: Backend) {
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

pub(super) async fn recommendation_and_mixed_cases(backend: Backend) {
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

pub(super) async fn withdrawn_case(backend: Backend) {
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
