//! Assertions on calls' results: success, failure, and error statuses with their standard
//! details (`BadRequest` field violations, `ErrorInfo` reasons).

use super::*;

/// The answer of a call that must succeed.
#[track_caller]
pub fn ok<T>(r: Result<Response<T>, Status>) -> T {
    match r {
        Ok(r) => r.into_inner(),
        Err(s) => panic!(
            "call failed: {:?} {}; details {:?}",
            s.code(),
            s.message(),
            s.get_error_details()
        ),
    }
}

/// The status of a call that must fail.
#[track_caller]
pub fn err<T: Debug>(r: Result<Response<T>, Status>) -> Status {
    match r {
        Ok(r) => panic!("call should have failed, got {:?}", r.into_inner()),
        Err(s) => s,
    }
}

/// Field names of the status's `google.rpc.BadRequest`.
pub fn violated_fields(status: &Status) -> BTreeSet<String> {
    status
        .get_error_details()
        .bad_request()
        .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect())
        .unwrap_or_default()
}

/// `google.rpc.ErrorInfo` reason of a status.
pub fn reason(status: &Status) -> String {
    status
        .get_error_details()
        .error_info()
        .map(|i| i.reason.clone())
        .unwrap_or_default()
}

/// Asserts INVALID_ARGUMENT with field violations naming exactly `fields`.
#[track_caller]
pub fn assert_invalid(status: &Status, fields: &[&str]) {
    assert_eq!(
        status.code(),
        Code::InvalidArgument,
        "expected INVALID_ARGUMENT for {fields:?}, got {:?}: {}",
        status.code(),
        status.message()
    );
    let expected: BTreeSet<String> = fields.iter().map(|f| f.to_string()).collect();
    assert_eq!(
        violated_fields(status),
        expected,
        "field violations of: {}",
        status.message()
    );
}

/// Asserts that a call failed with INVALID_ARGUMENT naming exactly `fields`.
#[track_caller]
pub fn expect_invalid<T: Debug>(r: Result<Response<T>, Status>, fields: &[&str]) {
    assert_invalid(&err(r), fields);
}

/// Asserts FAILED_PRECONDITION refusing a lifecycle transition from `state`.
#[track_caller]
pub fn assert_transition(status: &Status, kind: &str, state: &str) {
    assert_eq!(
        status.code(),
        Code::FailedPrecondition,
        "expected FAILED_PRECONDITION, got {:?}: {}",
        status.code(),
        status.message()
    );
    let details = status.get_error_details();
    let info = details
        .error_info()
        .unwrap_or_else(|| panic!("no ErrorInfo on {}", status.message()));
    assert_eq!(
        info.reason,
        "TRANSITION_NOT_ALLOWED",
        "{}",
        status.message()
    );
    assert_eq!(info.domain, "tiepdan.v1");
    assert_eq!(
        info.metadata.get("current_state").map(String::as_str),
        Some(state),
        "{}",
        status.message()
    );
    assert_eq!(info.metadata.get("kind").map(String::as_str), Some(kind));
    assert!(
        status.message().contains(&format!(" is {state}:")),
        "message should name the current state {state}: {}",
        status.message()
    );
}

/// Asserts a failed call refused a lifecycle transition from `state`.
#[track_caller]
pub fn expect_transition<T: Debug>(r: Result<Response<T>, Status>, kind: &str, state: &str) {
    assert_transition(&err(r), kind, state);
}

/// Asserts FAILED_PRECONDITION with ErrorInfo reason `why`.
#[track_caller]
pub fn expect_precondition<T: Debug>(r: Result<Response<T>, Status>, why: &str) {
    let status = err(r);
    assert_eq!(
        status.code(),
        Code::FailedPrecondition,
        "expected FAILED_PRECONDITION {why}, got {:?}: {}",
        status.code(),
        status.message()
    );
    assert_eq!(reason(&status), why, "{}", status.message());
}

/// Asserts NOT_FOUND.
#[track_caller]
pub fn expect_not_found<T: Debug>(r: Result<Response<T>, Status>) {
    let status = err(r);
    assert_eq!(
        status.code(),
        Code::NotFound,
        "expected NOT_FOUND, got {:?}: {}",
        status.code(),
        status.message()
    );
    assert_eq!(reason(&status), "NOT_FOUND");
}

/// Every method of every tiepdan service in the descriptor, as `/package.Service/Method`.
pub fn described_methods() -> Vec<String> {
    use prost::Message;
    let set = prost_types::FileDescriptorSet::decode(tiepdan_proto::FILE_DESCRIPTOR_SET)
        .unwrap_or_else(|e| panic!("the descriptor set: {e}"));
    let mut methods = Vec::new();
    for file in &set.file {
        for service in &file.service {
            for method in &service.method {
                methods.push(format!(
                    "/{}.{}/{}",
                    file.package(),
                    service.name(),
                    method.name()
                ));
            }
        }
    }
    methods
}

/// Asserts that `result` is a refusal with `code` and `google.rpc.ErrorInfo` reason `why` in
/// the `tiepdan.v1` domain.
#[track_caller]
pub fn assert_refused_with<T: Debug>(
    result: Result<T, Status>,
    code: Code,
    why: &str,
    context: &str,
) {
    let status = match result {
        Ok(v) => panic!("{context}: let through ({v:?}), expected {code:?} {why}"),
        Err(s) => s,
    };
    assert_eq!(
        status.code(),
        code,
        "{context}: {:?} {}",
        status.code(),
        status.message()
    );
    let info = status.get_error_details().error_info().cloned();
    let info = info.unwrap_or_else(|| panic!("{context}: no ErrorInfo in {status:?}"));
    assert_eq!(info.reason, why, "{context}: {status:?}");
    assert_eq!(info.domain, "tiepdan.v1", "{context}");
}
