//! Report periods. Named periods are read on the statistical calendar (from the 15th of the
//! month before to the 14th of the last month: Q3 = 15 Jun – 14 Sep, 9 months = 15 Dec – 14
//! Sep) or on the plain calendar; all days are local (Asia/Ho_Chi_Minh).

use chrono::{Datelike, Duration, NaiveDate};

/// Which calendar a named period is read on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Calendar {
    /// 15th of the month before to the 14th.
    #[default]
    Statistical,
    /// Plain months.
    Plain,
}

/// A period: local days from `start` to `end`, both included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub start: NaiveDate,
    pub end: NaiveDate,
}

/// Why a period was not understood.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "period {0:?}: expected 2019-Q3, 2019-6M, 2019-9M, 2019, 2019-09 or 2019-06-15..2019-09-14"
)]
pub struct BadPeriod(pub String);

fn ymd(y: i32, m: u32, d: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(y, m, d)
}

/// Months `first..=last` of `year` on `calendar`.
fn months(year: i32, first: u32, last: u32, calendar: Calendar) -> Option<Period> {
    match calendar {
        Calendar::Plain => {
            let start = ymd(year, first, 1)?;
            let end = if last == 12 {
                ymd(year, 12, 31)?
            } else {
                ymd(year, last + 1, 1)? - Duration::days(1)
            };
            Some(Period { start, end })
        }
        Calendar::Statistical => {
            let start = if first == 1 {
                ymd(year - 1, 12, 15)?
            } else {
                ymd(year, first - 1, 15)?
            };
            Some(Period {
                start,
                end: ymd(year, last, 14)?,
            })
        }
    }
}

/// Parses a period name.
pub fn parse(text: &str, calendar: Calendar) -> Result<Period, BadPeriod> {
    let bad = || BadPeriod(text.to_string());
    let text = text.trim();
    if let Some((a, b)) = text.split_once("..") {
        let start = NaiveDate::parse_from_str(a.trim(), "%Y-%m-%d").map_err(|_| bad())?;
        let end = NaiveDate::parse_from_str(b.trim(), "%Y-%m-%d").map_err(|_| bad())?;
        if end < start {
            return Err(bad());
        }
        return Ok(Period { start, end });
    }
    let (year, rest) = match text.split_once('-') {
        Some((y, r)) => (y, Some(r)),
        None => (text, None),
    };
    if year.len() != 4 {
        return Err(bad());
    }
    let year: i32 = year.parse().map_err(|_| bad())?;
    if !(1945..=9998).contains(&year) {
        return Err(bad());
    }
    let period = match rest.map(str::to_ascii_uppercase).as_deref() {
        None => months(year, 1, 12, calendar),
        Some("Q1") => months(year, 1, 3, calendar),
        Some("Q2") => months(year, 4, 6, calendar),
        Some("Q3") => months(year, 7, 9, calendar),
        Some("Q4") => months(year, 10, 12, calendar),
        Some("6M") => months(year, 1, 6, calendar),
        Some("9M") => months(year, 1, 9, calendar),
        Some(m) if m.len() == 2 => {
            let month: u32 = m.parse().map_err(|_| bad())?;
            if !(1..=12).contains(&month) {
                return Err(bad());
            }
            months(year, month, month, calendar)
        }
        _ => None,
    };
    period.ok_or_else(bad)
}

impl Period {
    /// The day before the period.
    pub fn day_before(&self) -> NaiveDate {
        self.start - Duration::days(1)
    }

    /// Whether `day` lies in the period.
    pub fn contains(&self, day: NaiveDate) -> bool {
        self.start <= day && day <= self.end
    }

    /// Number of days.
    pub fn days(&self) -> i64 {
        (self.end - self.start).num_days() + 1
    }

    /// The first day's year, for messages.
    pub fn year(&self) -> i32 {
        self.start.year()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap_or_default()
    }

    #[test]
    fn statistical_periods() {
        let s = Calendar::Statistical;
        assert_eq!(
            parse("2019-Q3", s),
            Ok(Period {
                start: d(2019, 6, 15),
                end: d(2019, 9, 14)
            })
        );
        assert_eq!(
            parse("2019-9M", s),
            Ok(Period {
                start: d(2018, 12, 15),
                end: d(2019, 9, 14)
            })
        );
        assert_eq!(
            parse("2019-6M", s),
            Ok(Period {
                start: d(2018, 12, 15),
                end: d(2019, 6, 14)
            })
        );
        assert_eq!(
            parse("2019", s),
            Ok(Period {
                start: d(2018, 12, 15),
                end: d(2019, 12, 14)
            })
        );
        assert_eq!(
            parse("2019-09", s),
            Ok(Period {
                start: d(2019, 8, 15),
                end: d(2019, 9, 14)
            })
        );
        assert_eq!(
            parse("2019-01", s),
            Ok(Period {
                start: d(2018, 12, 15),
                end: d(2019, 1, 14)
            })
        );
    }

    #[test]
    fn calendar_periods() {
        let c = Calendar::Plain;
        assert_eq!(
            parse("2019-Q3", c),
            Ok(Period {
                start: d(2019, 7, 1),
                end: d(2019, 9, 30)
            })
        );
        assert_eq!(
            parse("2020-02", c),
            Ok(Period {
                start: d(2020, 2, 1),
                end: d(2020, 2, 29)
            })
        );
        assert_eq!(
            parse("2019", c),
            Ok(Period {
                start: d(2019, 1, 1),
                end: d(2019, 12, 31)
            })
        );
    }

    #[test]
    fn explicit_ranges_and_garbage() {
        let s = Calendar::Statistical;
        assert_eq!(
            parse("2019-06-15..2019-09-14", s),
            Ok(Period {
                start: d(2019, 6, 15),
                end: d(2019, 9, 14)
            })
        );
        for bad in [
            "",
            "2019-Q5",
            "2019-13",
            "19-Q3",
            "2019-09-14..2019-06-15",
            "abcd",
            "2019-7M",
        ] {
            assert!(parse(bad, s).is_err(), "{bad}");
        }
    }
}
