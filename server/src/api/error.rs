//! The one mapping from domain errors to gRPC statuses, with standard error details
//! (`google.rpc.BadRequest` field violations, `google.rpc.ErrorInfo` reasons) so that a
//! machine client can act on them.

use std::collections::HashMap;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

use crate::domain::DomainError;

/// The `ErrorInfo.domain` of every error this node returns.
pub const ERROR_DOMAIN: &str = "tiepdan.v1";

/// How long a caller waits before retrying a write the store could not commit.
pub const STORAGE_RETRY_DELAY: std::time::Duration = std::time::Duration::from_secs(1);

impl From<DomainError> for Status {
    fn from(err: DomainError) -> Status {
        let message = err.to_string();
        match err {
            DomainError::Invalid(violations) => {
                let violations: Vec<_> = violations
                    .into_iter()
                    .map(|v| FieldViolation::new(v.field, v.description))
                    .collect();
                let mut details = ErrorDetails::with_bad_request(violations);
                details.set_error_info("INVALID_ARGUMENT", ERROR_DOMAIN, HashMap::new());
                Status::with_error_details(Code::InvalidArgument, message, details)
            }
            DomainError::NotFound { kind, id } => Status::with_error_details(
                Code::NotFound,
                message,
                ErrorDetails::with_error_info(
                    "NOT_FOUND",
                    ERROR_DOMAIN,
                    HashMap::from([
                        ("kind".to_string(), kind.to_string()),
                        ("id".to_string(), id),
                    ]),
                ),
            ),
            DomainError::Transition {
                kind,
                id,
                state,
                action,
            } => Status::with_error_details(
                Code::FailedPrecondition,
                message,
                ErrorDetails::with_error_info(
                    "TRANSITION_NOT_ALLOWED",
                    ERROR_DOMAIN,
                    HashMap::from([
                        ("kind".to_string(), kind.to_string()),
                        ("id".to_string(), id),
                        ("current_state".to_string(), state.to_string()),
                        ("action".to_string(), action.to_string()),
                    ]),
                ),
            ),
            DomainError::Precondition { reason, .. } => Status::with_error_details(
                Code::FailedPrecondition,
                message,
                ErrorDetails::with_error_info(reason, ERROR_DOMAIN, HashMap::new()),
            ),
            DomainError::RequestIdReused { .. } => {
                let mut details = ErrorDetails::with_bad_request(vec![FieldViolation::new(
                    "request_id",
                    "already used for a different request; choose a new id",
                )]);
                details.set_error_info("REQUEST_ID_REUSED", ERROR_DOMAIN, HashMap::new());
                Status::with_error_details(Code::InvalidArgument, message, details)
            }
            DomainError::Storage(detail) => {
                // Logged once per change of the write path's state by the store, not per request.
                tracing::debug!(%detail, "storage failure");
                let mut details =
                    ErrorDetails::with_error_info("STORAGE", ERROR_DOMAIN, HashMap::new());
                details.set_retry_info(Some(STORAGE_RETRY_DELAY));
                Status::with_error_details(
                    Code::Unavailable,
                    "the node's store failed; nothing was stored; retry with the same request_id",
                    details,
                )
            }
        }
    }
}
