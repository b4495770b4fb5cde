//! The domain: units, receptions, petitions, cases, their lifecycle, deadlines and the rules
//! that keep input honest. Pure Rust: nothing here knows about gRPC or the database, so every
//! rule is testable with plain unit and property tests.

pub mod deadlines;
pub mod error;
pub mod forms;
pub mod lifecycle;
pub mod map;
pub mod model;
pub mod period;
pub mod span;
pub mod tally;
pub mod totals;
pub mod tree;
pub mod validate;

pub use error::{DomainError, FieldViolation};
