#![allow(clippy::unwrap_used)]
use super::*;

fn refused(message: &str) -> UplinkError {
    UplinkError::Status(tonic::Status::permission_denied(message))
}

#[test]
fn a_failure_is_logged_once_per_change() {
    let mut log = FailureLog::default();
    let second = Duration::from_secs(1);
    assert!(log.failed("p", &refused("a"), true, 1, second));
    assert!(!log.failed("p", &refused("a"), true, 2, second));
    assert!(!log.failed("p", &refused("a"), true, 3, second));
    assert!(log.failed("p", &refused("b"), true, 4, second));
    log.clear();
    assert!(log.failed("p", &refused("b"), true, 1, second));
    // The same failure again once a minute has passed.
    log.last = Some((
        refused("b").to_string(),
        Instant::now() - SAME_FAILURE_LOG_EVERY,
    ));
    assert!(log.failed("p", &refused("b"), true, 2, second));
}

#[test]
fn refusals_are_told_from_failures_retrying_can_fix() {
    for status in [
        tonic::Status::permission_denied("x"),
        tonic::Status::unauthenticated("x"),
        tonic::Status::invalid_argument("x"),
        tonic::Status::failed_precondition("x"),
        tonic::Status::data_loss("x"),
    ] {
        assert!(UplinkError::Status(status).is_refusal());
    }
    for status in [
        tonic::Status::unavailable("x"),
        tonic::Status::deadline_exceeded("x"),
        tonic::Status::cancelled("x"),
        tonic::Status::resource_exhausted("x"),
        tonic::Status::internal("x"),
    ] {
        assert!(!UplinkError::Status(status).is_refusal());
    }
    assert!(!UplinkError::Protocol("x".into()).is_refusal());
    assert_eq!(refused("x").code_name(), "PERMISSION_DENIED");
}
