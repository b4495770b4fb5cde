//! Times as people write them at a Vietnamese reception desk — local time, Asia/Ho_Chi_Minh —
//! and as the API carries them: UTC timestamps.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use prost_types::Timestamp;

/// The time zone every local time is in.
pub const LOCAL_TZ: Tz = chrono_tz::Asia::Ho_Chi_Minh;

const DATE_TIME_FORMATS: &[&str] = &[
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
];

const DATE_FORMATS: &[&str] = &["%Y-%m-%d", "%d/%m/%Y"];

/// Parses a time: RFC 3339 with an offset, or a local date and time (`2019-09-14 23:30`,
/// `14/09/2019 23:30`, as spreadsheets in Vietnam write it), or a local date alone, which
/// means 00:00 of that day. Deterministic: the same text is always the same instant, which
/// an idempotent import depends on.
pub fn parse_time(input: &str) -> Result<DateTime<Utc>, String> {
    let s = input.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    let naive = DATE_TIME_FORMATS
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
        .or_else(|| {
            DATE_FORMATS
                .iter()
                .find_map(|f| NaiveDate::parse_from_str(s, f).ok())
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })
        .ok_or_else(|| {
            format!("{s:?} is not a time: write 2019-09-14 23:30, 2019-09-14 or 14/09/2019")
        })?;
    LOCAL_TZ
        .from_local_datetime(&naive)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| format!("{s:?} does not exist in local time"))
}

/// Parses a time on the command line: like [`parse_time`], or `now`.
pub fn parse_cli_time(input: &str) -> Result<DateTime<Utc>, String> {
    if input.trim().eq_ignore_ascii_case("now") {
        return Ok(Utc::now());
    }
    parse_time(input)
}

/// The wire timestamp of an instant.
pub fn timestamp(t: DateTime<Utc>) -> Timestamp {
    Timestamp {
        seconds: t.timestamp(),
        nanos: i32::try_from(t.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

/// The instant of a wire timestamp; `None` when out of range.
pub fn instant(ts: &Timestamp) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(ts.seconds, u32::try_from(ts.nanos).ok()?)
}

/// RFC 3339 in local time, e.g. `2019-09-14T23:30:00+07:00`, for JSON output.
pub fn rfc3339(ts: Option<&Timestamp>) -> Option<String> {
    let t = instant(ts?)?;
    Some(
        t.with_timezone(&LOCAL_TZ)
            .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false),
    )
}

/// A short local time, e.g. `2019-09-14 23:30`, for tables.
pub fn short(ts: Option<&Timestamp>) -> String {
    ts.and_then(instant)
        .map(|t| {
            t.with_timezone(&LOCAL_TZ)
                .format("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn local_times_are_utc_plus_seven() {
        let expected = utc("2019-09-14T16:30:00Z");
        for s in [
            "2019-09-14 23:30",
            "2019-09-14 23:30:00",
            "2019-09-14T23:30",
            "14/09/2019 23:30",
            "2019-09-14T23:30:00+07:00",
        ] {
            assert_eq!(parse_time(s), Ok(expected), "{s}");
        }
        assert_eq!(parse_time("2019-09-14"), Ok(utc("2019-09-13T17:00:00Z")));
        assert_eq!(parse_time("14/09/2019"), Ok(utc("2019-09-13T17:00:00Z")));
        assert!(parse_time("14.09.2019").is_err());
        assert!(parse_time("").is_err());
    }

    #[test]
    fn output_is_local() {
        let ts = timestamp(utc("2019-09-14T16:30:00Z"));
        assert_eq!(
            rfc3339(Some(&ts)).as_deref(),
            Some("2019-09-14T23:30:00+07:00")
        );
        assert_eq!(short(Some(&ts)), "2019-09-14 23:30");
        assert_eq!(short(None), "");
        assert_eq!(rfc3339(None), None);
    }
}
