//! The one error type of the domain and the application above it; the API maps it once to a
//! gRPC status.

/// One invalid field of a request: the path of the field and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// Path of the field in the request, e.g. `classification.type`.
    pub field: String,
    /// What is wrong, for a person.
    pub description: String,
}

/// Why a request could not be carried out. Whatever the variant, nothing was stored.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// Malformed input: one entry per invalid field.
    #[error("invalid request: {}", describe(.0))]
    Invalid(Vec<FieldViolation>),
    /// The named record does not exist at this node.
    #[error("{kind} {id:?} not found")]
    NotFound { kind: &'static str, id: String },
    /// The lifecycle does not allow this action in the record's current state.
    #[error("{kind} {id} is {state}: {action} is not allowed")]
    Transition {
        kind: &'static str,
        id: String,
        state: &'static str,
        action: &'static str,
    },
    /// A rule of the domain other than the lifecycle refuses the action.
    #[error("{message}")]
    Precondition {
        reason: &'static str,
        message: String,
    },
    /// The same request id was used earlier for a different request.
    #[error("request_id {request_id:?} was already used for a different request ({method})")]
    RequestIdReused { request_id: String, method: String },
    /// The store failed; the request may be retried with the same request id.
    #[error("storage: {0}")]
    Storage(String),
}

fn describe(violations: &[FieldViolation]) -> String {
    violations
        .iter()
        .map(|v| format!("{}: {}", v.field, v.description))
        .collect::<Vec<_>>()
        .join("; ")
}

impl DomainError {
    /// An `Invalid` error with a single field violation.
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        DomainError::Invalid(vec![FieldViolation {
            field: field.into(),
            description: description.into(),
        }])
    }

    /// A `Precondition` error.
    pub fn precondition(reason: &'static str, message: impl Into<String>) -> Self {
        DomainError::Precondition {
            reason,
            message: message.into(),
        }
    }
}
