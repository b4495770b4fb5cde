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

    /// Checks a text field of a new request: its length, that it holds no control characters
    /// but line breaks and tabs, and no invisible formatting characters ([`is_hidden_format`]).
    pub fn text(&mut self, field: &str, value: &str, max: usize, required: bool) {
        if self.text_of_any_age(field, value, max, required) && value.chars().any(is_hidden_format)
        {
            self.add(
                field,
                "invisible formatting characters (bidi controls, zero-width characters) are not \
                 allowed",
            );
        }
    }

    /// Checks a text field of a record made elsewhere and received over the tier link: as
    /// [`Violations::text`], but invisible formatting characters pass, since a child may
    /// have recorded them before they were refused.
    pub fn recorded_text(&mut self, field: &str, value: &str, max: usize, required: bool) {
        self.text_of_any_age(field, value, max, required);
    }

    /// The checks of text old and new; false when it recorded a violation.
    fn text_of_any_age(&mut self, field: &str, value: &str, max: usize, required: bool) -> bool {
        if required && value.trim().is_empty() {
            self.add(field, "required");
            return false;
        }
        if value.chars().count() > max {
            self.add(field, format!("at most {max} characters"));
            return false;
        }
        if value
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        {
            self.add(field, "control characters are not allowed");
            return false;
        }
        true
    }

    /// Checks a petitioner's identity number, when given: a CCCD (căn cước công dân) has
    /// exactly 12 digits, an old CMND (chứng minh nhân dân) exactly 9.
    pub fn id_number(&mut self, field: &str, value: &str) {
        let number = value.trim();
        if number.is_empty() {
            return;
        }
        if !(matches!(number.len(), 9 | 12) && number.bytes().all(|b| b.is_ascii_digit())) {
            self.add(
                field,
                "an identity number is a CCCD of 12 digits or an old CMND of 9 digits",
            );
        }
    }

    /// Checks a Vietnamese phone number, when given: spaces, dots, dashes and parentheses
    /// are dropped; then an optional `+84` or `0`, and 9 or 10 digits that do not start
    /// with 0 (a mobile number has 9 after the 0, a landline's area code and number 10).
    pub fn phone(&mut self, field: &str, value: &str) {
        if value.trim().is_empty() || !self.text_of_any_age(field, value, MAX_PHONE, false) {
            return;
        }
        if value.chars().any(is_hidden_format) || !is_phone(value) {
            self.add(
                field,
                "a Vietnamese phone number: +84 or 0, then 9 or 10 digits (spaces, dots, dashes \
                 and parentheses allowed)",
            );
        }
    }

    /// Checks an e-mail address, when given: one `@` after a non-empty local part, a domain
    /// with a dot and no empty label, no spaces, at most [`MAX_EMAIL`] characters.
    pub fn email(&mut self, field: &str, value: &str) {
        if value.is_empty() {
            return;
        }
        let before = self.0.len();
        self.text(field, value, MAX_EMAIL, false);
        if self.0.len() == before && !is_email(value) {
            self.add(field, "an e-mail address: name@domain.tld, without spaces");
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

/// Invisible formatting characters that can hide text or reorder what a reader sees: the
/// bidi embeddings, overrides, isolates and marks, and the zero-width characters. (U+200C
/// and U+200D join letters in some scripts, never in Vietnamese.)
pub fn is_hidden_format(c: char) -> bool {
    matches!(
        c,
        '\u{202a}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}'
            | '\u{200b}'..='\u{200f}'
            | '\u{061c}'
            | '\u{2060}'
            | '\u{feff}'
    )
}

/// Longest phone number as typed, separators included.
pub const MAX_PHONE: usize = 32;
/// Longest e-mail address (RFC 5321's path limit less its brackets).
pub const MAX_EMAIL: usize = 254;

/// Whether `value` is a Vietnamese phone number by the rule of [`Violations::phone`].
fn is_phone(value: &str) -> bool {
    let compact: String = value
        .chars()
        .filter(|c| !matches!(c, ' ' | '.' | '-' | '(' | ')'))
        .collect();
    let national = compact
        .strip_prefix("+84")
        .or_else(|| compact.strip_prefix('0'))
        .unwrap_or(&compact);
    matches!(national.len(), 9 | 10)
        && national.bytes().all(|b| b.is_ascii_digit())
        && !national.starts_with('0')
}

/// Whether `value` has the shape of an e-mail address by the rule of [`Violations::email`].
fn is_email(value: &str) -> bool {
    let Some((local, domain)) = value.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && !value.chars().any(char::is_whitespace)
        && domain.contains('.')
        && domain.split('.').all(|label| !label.is_empty())
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

    fn violated(check: impl FnOnce(&mut Violations)) -> Vec<String> {
        let mut v = Violations::default();
        check(&mut v);
        match v.finish() {
            Ok(()) => Vec::new(),
            Err(DomainError::Invalid(list)) => list.into_iter().map(|f| f.field).collect(),
            Err(other) => panic!("{other:?}"),
        }
    }

    #[test]
    fn invisible_formatting_is_refused_in_new_text_only() {
        let hidden = [
            '\u{202a}', '\u{202b}', '\u{202c}', '\u{202d}', '\u{202e}', '\u{2066}', '\u{2067}',
            '\u{2068}', '\u{2069}', '\u{200e}', '\u{200f}', '\u{061c}', '\u{200b}', '\u{200c}',
            '\u{200d}', '\u{2060}', '\u{feff}',
        ];
        for c in hidden {
            let value = format!("Nguyễn{c} Văn A");
            assert_eq!(
                violated(|v| v.text("name", &value, 100, true)),
                ["name"],
                "{c:?}"
            );
            assert!(violated(|v| v.recorded_text("name", &value, 100, true)).is_empty());
        }
        // Vietnamese, precomposed or with combining marks, and line breaks are text.
        for ok in ["Nguyễn Thị Hoà", "Nguye\u{302}\u{303}n", "dòng 1\ndòng 2\t"] {
            assert!(
                violated(|v| v.text("name", ok, 100, true)).is_empty(),
                "{ok:?}"
            );
        }
        // One violation per field, however much is wrong.
        assert_eq!(violated(|v| v.text("n", "\u{0}\u{202e}", 100, true)), ["n"]);
    }

    #[test]
    fn identity_numbers() {
        for ok in ["", "001078012345", "012345678", " 001078012345 "] {
            assert!(violated(|v| v.id_number("id", ok)).is_empty(), "{ok:?}");
        }
        for bad in [
            "12345678",
            "1234567890",
            "0010780123456",
            "00107801234a",
            "001 078 012 345",
            "B1234567",
            "０１２３４５６７８",
        ] {
            assert_eq!(violated(|v| v.id_number("id", bad)), ["id"], "{bad:?}");
        }
    }

    #[test]
    fn phone_numbers() {
        for ok in [
            "",
            "0912345678",
            "0912 345 678",
            "0912.345.678",
            "+84 912 345 678",
            "+84912345678",
            "(024) 3825-1234",
            "02438251234",
            "912345678",
        ] {
            assert!(violated(|v| v.phone("phone", ok)).is_empty(), "{ok:?}");
        }
        for bad in [
            "0912",
            "09123456789012",
            "+1 202 555 0100",
            "+84 0912 345 678",
            "84912345678",
            "0912 abc 678",
            "tel: 0912345678",
            "０９１２３４５６７８",
            "++84912345678",
            "0912\u{200b}345678",
            "09\u{0}12",
            "0",
            "+84",
        ] {
            assert_eq!(violated(|v| v.phone("phone", bad)), ["phone"], "{bad:?}");
        }
    }

    #[test]
    fn email_addresses() {
        for ok in [
            "",
            "a@x.vn",
            "nguyen.van-a+don@so-tay.ha-noi.gov.vn",
            "A@Example.VN",
        ] {
            assert!(violated(|v| v.email("email", ok)).is_empty(), "{ok:?}");
        }
        let long = format!("{}@x.vn", "a".repeat(250));
        for bad in [
            "a",
            "@x.vn",
            "a@",
            "a@b",
            "a@@b.vn",
            "a@b@c.vn",
            "a b@x.vn",
            "a@x .vn",
            "a@.vn",
            "a@x..vn",
            "a@x.vn.",
            &long,
            "a@x.vn\u{200b}",
        ] {
            assert_eq!(violated(|v| v.email("email", bad)), ["email"], "{bad:?}");
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
