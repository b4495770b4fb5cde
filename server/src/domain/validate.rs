//! Input checks shared by every request: collect every violation of a request, then refuse
//! it whole, so a client learns all that is wrong at once.

use chrono::{DateTime, Duration, Utc};

use super::error::{DomainError, FieldViolation};

/// Longest free-text field, in characters.
pub const MAX_TEXT: usize = 4000;
/// Longest name-like field (person, body, location, decision number), in characters.
pub const MAX_NAME: usize = 300;
/// Longest client request id.
pub const MAX_REQUEST_ID: usize = 128;
/// How far in the future a client's clock may be before a time is refused.
pub const CLOCK_SKEW: Duration = Duration::minutes(5);

/// The violations of one request, collected field by field.
#[derive(Debug, Default)]
pub struct Violations(Vec<FieldViolation>);

impl Violations {
    /// Records a violation.
    pub fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.0.push(FieldViolation {
            field: field.into(),
            description: description.into(),
        });
    }

    /// Records a violation when `ok` is false.
    pub fn check(&mut self, ok: bool, field: &str, description: &str) {
        if !ok {
            self.add(field, description);
        }
    }

    /// Checks a request id: required, printable ASCII, at most [`MAX_REQUEST_ID`] characters.
    pub fn request_id(&mut self, value: &str) {
        if value.is_empty() {
            self.add("request_id", "required: a client-chosen idempotency key");
        } else if value.len() > MAX_REQUEST_ID || !value.bytes().all(|b| b.is_ascii_graphic()) {
            self.add(
                "request_id",
                format!("at most {MAX_REQUEST_ID} printable ASCII characters without spaces"),
            );
        }
    }

    /// Checks a text field: its length and that it holds no control characters but line
    /// breaks and tabs.
    pub fn text(&mut self, field: &str, value: &str, max: usize, required: bool) {
        if required && value.trim().is_empty() {
            self.add(field, "required");
            return;
        }
        if value.chars().count() > max {
            self.add(field, format!("at most {max} characters"));
        } else if value
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        {
            self.add(field, "control characters are not allowed");
        }
    }

    /// Checks an identifier of a record: required when `required`, and of a sane shape.
    pub fn id(&mut self, field: &str, value: &str, required: bool) {
        if value.is_empty() {
            if required {
                self.add(field, "required");
            }
        } else if value.len() > 64
            || !value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_')
        {
            self.add(field, "not an identifier");
        }
    }

    /// Checks a unit code: 2 to 5 digits, as the statistics office assigns them.
    pub fn unit_code(&mut self, field: &str, value: &str) {
        if !is_unit_code(value) {
            self.add(field, "a unit code is 2 to 5 digits");
        }
    }

    /// Checks a time that has happened: present, not before 1945, not in the future.
    pub fn past_time(
        &mut self,
        field: &str,
        value: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        match value {
            None => {
                self.add(field, "required");
                None
            }
            Some(t) if t > now + CLOCK_SKEW => {
                self.add(field, "is in the future");
                None
            }
            Some(t) if t.timestamp() < EARLIEST => {
                self.add(field, "is before 1945");
                None
            }
            Some(t) => Some(t),
        }
    }

    /// Checks a time that may lie in the future (a published schedule): not before 1945.
    pub fn any_time(&mut self, field: &str, value: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if value.timestamp() < EARLIEST {
            self.add(field, "is before 1945");
            None
        } else {
            Some(value)
        }
    }

    /// Refuses the request when anything was recorded.
    pub fn finish(self) -> Result<(), DomainError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(DomainError::Invalid(self.0))
        }
    }
}

/// 1945-09-02T00:00:00Z: no record of this system can be older.
const EARLIEST: i64 = -767_836_800;

/// Whether `code` has the shape of a statistics-office unit code.
pub fn is_unit_code(code: &str) -> bool {
    (2..=5).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collects_every_violation() {
        let mut v = Violations::default();
        v.request_id("");
        v.text("summary", "a\u{0}b", 10, false);
        v.text("name", "", 10, true);
        v.unit_code("unit.code", "12a");
        match v.finish() {
            Err(DomainError::Invalid(list)) => {
                let fields: Vec<_> = list.iter().map(|f| f.field.as_str()).collect();
                assert_eq!(fields, ["request_id", "summary", "name", "unit.code"]);
            }
            other => panic!("expected invalid, got {other:?}"),
        }
    }

    #[test]
    fn unit_codes() {
        assert!(is_unit_code("01"));
        assert!(is_unit_code("269"));
        assert!(is_unit_code("09574"));
        assert!(!is_unit_code("1"));
        assert!(!is_unit_code("123456"));
        assert!(!is_unit_code("2a9"));
    }
}
