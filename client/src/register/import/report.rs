//! What an import did: the counts, and each refused record with why.

use serde::Serialize;

use crate::error::Error;
use crate::register::Entry;

/// What an import did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportReport {
    /// The register's id.
    pub register: String,
    /// The node's unit.
    pub unit: String,
    /// Records in the file.
    pub records: usize,
    /// Records the node did not have before.
    pub imported: usize,
    /// Records the node already had (from the state file, or answered as replays).
    pub already_present: usize,
    /// Records refused, by the file's checks or by the node.
    pub failed: usize,
    /// Records not sent because the import stopped early.
    pub not_reached: usize,
    /// Why the import stopped early, if it did.
    pub stopped: Option<String>,
    /// The refused records.
    pub failures: Vec<Failure>,
    /// Things the person running the import should know.
    pub notes: Vec<String>,
}

impl ImportReport {
    /// Whether every record of the file is now at the node.
    pub fn is_complete(&self) -> bool {
        self.failed == 0 && self.not_reached == 0
    }
}

/// A refused record.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    /// Line in the file.
    pub line: usize,
    /// The record's key.
    pub key: Option<String>,
    /// The step refused (`receive`, `decide`, `resolve`…), when the node refused it.
    pub step: Option<String>,
    /// What is wrong.
    pub message: String,
    /// The node's `ErrorInfo` reason.
    pub reason: Option<String>,
    /// The node's field violations, as `field: description`.
    pub violations: Vec<String>,
}

impl Failure {
    /// A record refused before it reached the node.
    pub(super) fn unsent(line: usize, key: Option<String>, message: String) -> Failure {
        Failure {
            line,
            key,
            step: None,
            message,
            reason: None,
            violations: Vec::new(),
        }
    }

    /// A record whose `step` the node refused, or that failed on the way.
    pub(super) fn refused(entry: &Entry, step: &'static str, error: &Error) -> Failure {
        let (reason, violations) = match error.rpc() {
            Some(rpc) => (
                rpc.reason.clone(),
                rpc.violations
                    .iter()
                    .map(|v| format!("{}: {}", v.field, v.description))
                    .collect(),
            ),
            None => (None, Vec::new()),
        };
        let mut message = error.to_string();
        if reason.as_deref() == Some("REQUEST_ID_REUSED") {
            message.push_str(
                " — the node holds an earlier version of this record; a record once imported \
                 cannot be changed by importing it again",
            );
        }
        Failure {
            line: entry.line,
            key: Some(entry.key.clone()),
            step: Some(step.to_string()),
            message,
            reason,
            violations,
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}", self.line)?;
        if let Some(key) = &self.key {
            write!(f, " ({key})")?;
        }
        if let Some(step) = &self.step {
            write!(f, ", {step}")?;
        }
        write!(f, ": {}", self.message)
    }
}
