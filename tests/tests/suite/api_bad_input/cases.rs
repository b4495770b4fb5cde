//! The case RPCs: ExtendCase, ResolveCase, RecordCaseInForce, RecordEnforcement. Each shares
//! the rows of a step on a case (request id, case id) and has rows of its own.

use chrono::Duration;

use super::*;

use pb::PetitionType as T;

/// A step on a case: it names the case.
trait Step: Rpc {
    fn case_id(&mut self) -> &mut String;
}

macro_rules! step {
    ($($req:ident),+) => {
        $(
            impl Step for pb::$req {
                fn case_id(&mut self) -> &mut String {
                    &mut self.case_id
                }
            }
        )+
    };
}

step!(
    ExtendCaseRequest,
    ResolveCaseRequest,
    RecordCaseInForceRequest,
    RecordEnforcementRequest
);

/// The rows every step on a case has: malformed request ids and `case_ids`.
fn step_rows<R: Step>(base: &R, case_ids: &[&str]) -> Table<R> {
    Table::of(base)
        .request_ids()
        .each("case_id", strings(case_ids), |r: &mut R, v| {
            *r.case_id() = v
        })
}

/// Refuses `table`, checks the case `id` is unchanged, then takes the step `base`.
async fn step<R: Step>(api: &mut Api, id: &str, base: &R, table: Table<R>) -> R::Reply {
    let before = api.get_case(id).await;
    refuses(api, base, table).await;
    assert_eq!(api.get_case(id).await, before);
    accepted(api, base).await
}

pub(super) async fn case_rpcs_refuse_bad_input(backend: Backend) {
    let mut api = Api::start(backend).await;
    let received = local(2024, 4, 1, 9, 0, 0);
    let accepted_at = local(2024, 4, 2, 9, 0, 0);
    let (_, case) = api
        .open_case(T::Denunciation, received, accepted_at, false)
        .await;
    let id = case.id.clone();

    // ExtendCase
    let base = pb::ExtendCaseRequest {
        request_id: rid(),
        case_id: id.clone(),
        note: "cần xác minh thêm".into(),
    };
    let table = step_rows(&base, &["", "a b", "c\u{0}"])
        .each("note", bad_texts(&[""]), |r, v| r.note = v)
        .empty(&["request_id", "case_id", "note"]);
    step(&mut api, &id, &base, table).await;

    // ResolveCase
    let decided = local(2024, 5, 20, 9, 0, 0);
    let base = pb::ResolveCaseRequest {
        request_id: rid(),
        case_id: id.clone(),
        outcome: pb::CaseOutcome::DenunciationPartlyFounded as i32,
        decision_number: "33/KL-CT".into(),
        decision_time: ts(decided),
        money_to_recover_vnd: 25_000_000,
        land_to_recover_m2: 80.0,
    };
    let table = step_rows(&base, &["", "a b"])
        .each("outcome", [0, 9, 99, -1], |r, v| r.outcome = v)
        .each("decision_number", bad_names(&[""]), |r, v| {
            r.decision_number = v
        })
        .each("decision_time", bad_past_times(), |r, t| {
            r.decision_time = t
        })
        .each("money_to_recover_vnd", [-1, i64::MIN], |r, v| {
            r.money_to_recover_vnd = v
        })
        .each(
            "land_to_recover_m2",
            [f64::NAN, -0.5, f64::INFINITY, f64::NEG_INFINITY, 1e13],
            |r, v| r.land_to_recover_m2 = v,
        )
        .row(&["money_to_recover_vnd", "land_to_recover_m2"], |r| {
            r.money_to_recover_vnd = -5;
            r.land_to_recover_m2 = f64::NAN;
        })
        .empty(&[
            "request_id",
            "case_id",
            "outcome",
            "decision_number",
            "decision_time",
        ]);
    step(&mut api, &id, &base, table).await;

    // RecordCaseInForce
    let base = pb::RecordCaseInForceRequest {
        request_id: rid(),
        case_id: id.clone(),
        effective_time: ts(decided + Duration::days(15)),
    };
    let table = step_rows(&base, &["", "a b"])
        .each("effective_time", bad_past_times(), |r, t| {
            r.effective_time = t
        })
        .empty(&["request_id", "case_id", "effective_time"]);
    step(&mut api, &id, &base, table).await;

    // RecordEnforcement
    let base = pb::RecordEnforcementRequest {
        request_id: rid(),
        case_id: id.clone(),
        money_recovered_vnd: 5_000_000,
        land_recovered_m2: 10.0,
        completed: false,
        enforcement_time: ts(decided + Duration::days(30)),
    };
    let table = step_rows(&base, &["", "a b"])
        .each("enforcement_time", bad_past_times(), |r, t| {
            r.enforcement_time = t
        })
        .each("money_recovered_vnd", [-1, i64::MIN], |r, v| {
            r.money_recovered_vnd = v
        })
        .each(
            "land_recovered_m2",
            [f64::NAN, -1.0, f64::INFINITY],
            |r, v| r.land_recovered_m2 = v,
        )
        .empty(&["request_id", "case_id", "enforcement_time"]);
    let done = step(&mut api, &id, &base, table).await.case.unwrap();
    assert_eq!(done.money_recovered_vnd, 5_000_000);
    // A step whose money would overflow the total is refused whole.
    let before = api.get_case(&id).await;
    let table = Table::of(&base).row(
        &["money_recovered_vnd"],
        |r: &mut pb::RecordEnforcementRequest| {
            r.money_recovered_vnd = i64::MAX;
            r.land_recovered_m2 = 1.0;
        },
    );
    refuses(&mut api, &base, table).await;
    assert_eq!(api.get_case(&id).await, before);
    api.stop().await;
}
