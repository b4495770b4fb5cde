//! Instants written in local time (a fixed +07:00 offset, computed here independently of the
//! server), their wire form, and request ids.

use super::*;
use chrono::Duration;

/// Vietnam's offset: UTC+7 all year.
pub fn vn() -> FixedOffset {
    FixedOffset::east_opt(7 * 3600).unwrap()
}

/// An instant given in local (UTC+7) wall-clock time.
pub fn local(y: i32, m: u32, d: u32, h: u32, min: u32, s: u32) -> DateTime<Utc> {
    vn().with_ymd_and_hms(y, m, d, h, min, s)
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

/// An instant given in UTC.
pub fn utc(y: i32, m: u32, d: u32, h: u32, min: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, s).single().unwrap()
}

/// A calendar date.
pub fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// The local calendar day of an instant.
pub fn local_day(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&vn()).date_naive()
}

/// Local midnight at the start of `d`.
pub fn local_midnight(d: NaiveDate) -> DateTime<Utc> {
    vn().from_local_datetime(&d.and_hms_opt(0, 0, 0).unwrap())
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

/// `d + days` calendar days.
pub fn plus_days(d: NaiveDate, days: i64) -> NaiveDate {
    d + Duration::days(days)
}

/// The wire form of an instant.
pub fn ts(t: DateTime<Utc>) -> Option<Timestamp> {
    Some(Timestamp {
        seconds: t.timestamp(),
        nanos: i32::try_from(t.timestamp_subsec_nanos()).unwrap(),
    })
}

/// The instant `seconds` after the Unix epoch.
pub fn unix(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(seconds, 0).unwrap()
}

/// The instant of a wire timestamp that must be present.
pub fn instant(t: &Option<Timestamp>) -> DateTime<Utc> {
    let t = t.as_ref().expect("timestamp present");
    DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).unwrap()).unwrap()
}

/// A time in the recent past, whole seconds (the server stores microseconds).
pub fn ago(hours: i64) -> DateTime<Utc> {
    let now = Utc::now() - Duration::hours(hours);
    DateTime::from_timestamp(now.timestamp(), 0).unwrap()
}

/// A fresh client request id.
pub fn rid() -> String {
    format!("rq-{}", uuid::Uuid::new_v4().simple())
}

/// `day` at `h:min` local time.
pub fn on(day: NaiveDate, h: u32, min: u32) -> DateTime<Utc> {
    vn().from_local_datetime(&day.and_hms_opt(h, min, 0).unwrap())
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

/// Parses `YYYY-MM-DD..YYYY-MM-DD`.
pub fn period(text: &str) -> (NaiveDate, NaiveDate) {
    let (a, b) = text.split_once("..").unwrap();
    (
        NaiveDate::parse_from_str(a, "%Y-%m-%d").unwrap(),
        NaiveDate::parse_from_str(b, "%Y-%m-%d").unwrap(),
    )
}
