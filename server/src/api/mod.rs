//! gRPC handlers: convert the request (refusing malformed input with field violations),
//! call the application, convert the answer. Nothing else happens here.

mod cases;
pub mod error;
mod journal;
pub mod limits;
mod petitions;
mod reception;
mod reports;
pub mod rpc_metrics;
mod units;

use chrono::{DateTime, Utc};
use prost::Message;
use prost_types::Timestamp;
use sha2::{Digest, Sha256};

pub use cases::CaseApi;
pub use journal::JournalApi;
pub use petitions::PetitionApi;
pub use reception::ReceptionApi;
pub use reports::ReportApi;
pub use units::UnitApi;

use crate::app::RequestKey;
use crate::domain::DomainError;
use crate::domain::validate::Violations;
use crate::wire::{self, WireEnum};

/// Default page size of every listing.
pub const DEFAULT_PAGE_SIZE: u64 = 100;
/// Largest page size of every listing.
pub const MAX_PAGE_SIZE: u64 = 1000;

/// Checks a request field by field, collecting every violation.
pub(crate) struct Check {
    pub v: Violations,
    pub now: DateTime<Utc>,
}

impl Check {
    pub fn new() -> Check {
        Check {
            v: Violations::default(),
            now: Utc::now(),
        }
    }

    /// The idempotency key of a mutating request.
    pub fn key<M: Message>(
        &mut self,
        method: &'static str,
        request_id: &str,
        request: &M,
    ) -> RequestKey {
        self.v.request_id(request_id);
        RequestKey {
            id: request_id.to_string(),
            method,
            fingerprint: Sha256::digest(request.encode_to_vec()).to_vec(),
        }
    }

    /// A required enum value.
    pub fn required<T: WireEnum>(&mut self, field: &str, value: i32) -> Option<T> {
        if value == 0 {
            self.v.add(field, "required");
            return None;
        }
        let parsed = T::from_wire(value);
        if parsed.is_none() {
            self.v.add(field, format!("unknown value {value}"));
        }
        parsed
    }

    /// An optional enum value used as a filter: 0 means none.
    pub fn optional<T: WireEnum>(&mut self, field: &str, value: i32) -> Option<T> {
        if value == 0 {
            return None;
        }
        self.required(field, value)
    }

    /// A required time that has already happened.
    pub fn past(&mut self, field: &str, ts: Option<&Timestamp>) -> Option<DateTime<Utc>> {
        match ts {
            None => {
                self.v.add(field, "required");
                None
            }
            Some(ts) => match wire::instant(ts) {
                None => {
                    self.v.add(field, "not a valid timestamp");
                    None
                }
                Some(t) => self.v.past_time(field, Some(t), self.now),
            },
        }
    }

    /// An optional time that has already happened: `None` when absent.
    pub fn optional_past(&mut self, field: &str, ts: Option<&Timestamp>) -> Option<DateTime<Utc>> {
        ts?;
        self.past(field, ts)
    }

    /// A required time that may lie in the future (a published schedule).
    pub fn any_time(&mut self, field: &str, ts: Option<&Timestamp>) -> Option<DateTime<Utc>> {
        match ts.map(wire::instant) {
            None => {
                self.v.add(field, "required");
                None
            }
            Some(None) => {
                self.v.add(field, "not a valid timestamp");
                None
            }
            Some(Some(t)) => self.v.any_time(field, t),
        }
    }

    /// An optional time bound of a listing.
    pub fn bound(&mut self, field: &str, ts: Option<&Timestamp>) -> Option<DateTime<Utc>> {
        let t = ts?;
        let parsed = wire::instant(t);
        if parsed.is_none() {
            self.v.add(field, "not a valid timestamp");
        }
        parsed
    }

    /// Page size and decoded page token of a listing.
    pub fn page(&mut self, page_size: i32, page_token: &str) -> (u64, Option<String>) {
        let size = match page_size {
            0 => DEFAULT_PAGE_SIZE,
            n if n < 0 => {
                self.v.add("page_size", "must not be negative");
                DEFAULT_PAGE_SIZE
            }
            n => u64::try_from(n).unwrap_or(MAX_PAGE_SIZE).min(MAX_PAGE_SIZE),
        };
        let token = if page_token.is_empty() {
            None
        } else {
            let decoded = decode_token(page_token);
            if decoded.is_none() {
                self.v.add("page_token", "not a page token of this listing");
            }
            decoded
        };
        (size, token)
    }

    /// Refuses the request when anything was wrong.
    pub fn finish(self) -> Result<(), DomainError> {
        self.v.finish()
    }
}

/// Page tokens are opaque to clients: the application's cursor, hex-encoded.
pub(crate) fn encode_token(cursor: Option<String>) -> String {
    cursor.map_or_else(String::new, |c| {
        c.bytes().map(|b| format!("{b:02x}")).collect()
    })
}

fn decode_token(token: &str) -> Option<String> {
    if !token.len().is_multiple_of(2) || token.len() > 512 {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..token.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(token.get(i..i + 2)?, 16).ok())
        .collect();
    String::from_utf8(bytes?).ok()
}

fn opt_string(s: String) -> Option<String> {
    if s.is_empty() { None } else { Some(s) }
}

/// A value that `Check` has vouched for; only `None` when a violation was already recorded,
/// which `finish` turned into an error first.
pub(crate) fn checked<T>(value: Option<T>, field: &str) -> Result<T, DomainError> {
    value.ok_or_else(|| DomainError::invalid(field, "required"))
}
