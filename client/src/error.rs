//! The client's error type. A refused call keeps its gRPC status and the standard details the
//! node attaches (`google.rpc.BadRequest` field violations, `google.rpc.ErrorInfo` reason), so
//! a person sees `INVALID_ARGUMENT: persons: between 1 and 10000` and a program can branch on
//! the reason.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use tonic::{Code, Status};
use tonic_types::StatusExt;

/// What went wrong talking to a node.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The node URL does not parse.
    #[error("invalid node URL {url:?}")]
    InvalidUrl {
        url: String,
        #[source]
        source: tonic::transport::Error,
    },
    /// No connection could be made.
    #[error("cannot connect to {url}")]
    Connect {
        url: String,
        #[source]
        source: tonic::transport::Error,
    },
    /// A TLS file cannot be used.
    #[error("TLS: {path}: {detail}")]
    Tls { path: PathBuf, detail: String },
    /// TLS files were given for a plaintext URL.
    #[error("TLS files are given but {url} is not https://")]
    PlainWithTls { url: String },
    /// The operator token cannot be sent in a header (it is never printed).
    #[error("the token is not usable: a token is one line of ASCII text")]
    InvalidToken,
    /// The node refused or failed the call.
    #[error(transparent)]
    Rpc(#[from] RpcError),
    /// The node answered without a field the API promises.
    #[error("the node's answer has no {0}")]
    MissingField(&'static str),
    /// A file the command writes could not be written.
    #[error("{path}: {detail}")]
    File { path: PathBuf, detail: String },
}

impl From<Status> for Error {
    fn from(status: Status) -> Self {
        Error::Rpc(RpcError::from(status))
    }
}

impl Error {
    /// The decoded status, when the node answered with one.
    pub fn rpc(&self) -> Option<&RpcError> {
        match self {
            Error::Rpc(e) => Some(e),
            _ => None,
        }
    }
}

/// One invalid field of a refused request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Path of the field, e.g. `classification.type`.
    pub field: String,
    /// What is wrong with it.
    pub description: String,
}

/// A gRPC status with its standard details decoded.
#[derive(Debug, Clone)]
pub struct RpcError {
    /// The status as received.
    pub status: Status,
    /// Field violations from `google.rpc.BadRequest`.
    pub violations: Vec<Violation>,
    /// `google.rpc.ErrorInfo` reason, e.g. `TRANSITION_NOT_ALLOWED`.
    pub reason: Option<String>,
    /// `google.rpc.ErrorInfo` metadata.
    pub metadata: BTreeMap<String, String>,
}

impl From<Status> for RpcError {
    fn from(status: Status) -> Self {
        let details = status.get_error_details();
        let violations = details
            .bad_request()
            .map(|b| {
                b.field_violations
                    .iter()
                    .map(|v| Violation {
                        field: v.field.clone(),
                        description: v.description.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let (reason, metadata) = details
            .error_info()
            .map(|i| {
                (
                    Some(i.reason.clone()),
                    i.metadata
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                )
            })
            .unwrap_or_default();
        RpcError {
            status,
            violations,
            reason,
            metadata,
        }
    }
}

impl RpcError {
    /// The status code.
    pub fn code(&self) -> Code {
        self.status.code()
    }

    /// The status message.
    pub fn message(&self) -> &str {
        self.status.message()
    }

    /// Whether retrying the same request (with the same request id) may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self.code(),
            Code::Unavailable | Code::DeadlineExceeded | Code::Aborted | Code::ResourceExhausted
        )
    }
}

impl fmt::Display for RpcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", code_name(self.code()))?;
        if self.violations.is_empty() {
            return f.write_str(self.message());
        }
        let list: Vec<String> = self
            .violations
            .iter()
            .map(|v| format!("{}: {}", v.field, v.description))
            .collect();
        f.write_str(&list.join("; "))
    }
}

impl std::error::Error for RpcError {}

/// The canonical upper-case name of a code, as gRPC documents it.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use tonic_types::{ErrorDetails, FieldViolation};

    use super::*;

    #[test]
    fn violations_are_shown_field_by_field() {
        let mut details = ErrorDetails::with_bad_request(vec![
            FieldViolation::new("persons", "between 1 and 10000"),
            FieldViolation::new("kind", "required"),
        ]);
        details.set_error_info("INVALID_ARGUMENT", "tiepdan.v1", HashMap::new());
        let status = Status::with_error_details(
            Code::InvalidArgument,
            "invalid request: persons: between 1 and 10000; kind: required",
            details,
        );
        let err = RpcError::from(status);
        assert_eq!(
            err.to_string(),
            "INVALID_ARGUMENT: persons: between 1 and 10000; kind: required"
        );
        assert_eq!(err.reason.as_deref(), Some("INVALID_ARGUMENT"));
        assert_eq!(err.violations.len(), 2);
    }

    #[test]
    fn reason_and_metadata_without_violations() {
        let status = Status::with_error_details(
            Code::FailedPrecondition,
            "petition 269-P1 is accepted: guide is not allowed",
            ErrorDetails::with_error_info(
                "TRANSITION_NOT_ALLOWED",
                "tiepdan.v1",
                HashMap::from([("id".to_string(), "269-P1".to_string())]),
            ),
        );
        let err = Error::from(status);
        assert_eq!(
            err.to_string(),
            "FAILED_PRECONDITION: petition 269-P1 is accepted: guide is not allowed"
        );
        let rpc = err.rpc().cloned().unwrap_or_else(|| panic!("rpc error"));
        assert_eq!(rpc.reason.as_deref(), Some("TRANSITION_NOT_ALLOWED"));
        assert_eq!(rpc.metadata.get("id").map(String::as_str), Some("269-P1"));
        assert!(!rpc.is_transient());
        assert!(RpcError::from(Status::unavailable("down")).is_transient());
    }
}
