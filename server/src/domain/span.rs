//! Spans the maintained day totals are rolled up into, and how a range of days is covered by
//! as few stored rows as possible. Every day row is also added to the half-month, calendar
//! year and statistical year holding its day (in the same transaction), so a sum over any
//! range reads whole years and half-months from the rollups and at most 16 edge days at each
//! end from the day rows.
//!
//! Half-months (1st–14th, 15th–end) tile both calendars: a named period on either one, and
//! the day before it, are whole half-months, so a named report reads no day rows except for
//! the overdue count up to yesterday in a period still running.

use chrono::{Datelike, NaiveDate};

/// A span of days with a stored rollup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Span {
    /// 1st–14th, or 15th–end of a month.
    Half,
    /// 1 January – 31 December.
    Year,
    /// 15 December of the year before – 14 December: the statistical year.
    StatYear,
}

impl Span {
    /// Every rollup each day row is added to.
    pub const ALL: [Span; 3] = [Span::Half, Span::Year, Span::StatYear];

    /// Stable stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Span::Half => "half",
            Span::Year => "year",
            Span::StatYear => "stat_year",
        }
    }

    /// The span of a stored name.
    pub fn parse(name: &str) -> Option<Span> {
        Span::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// The first day of the span holding `day` (the key of its rollup row).
    pub fn start_of(self, day: NaiveDate) -> NaiveDate {
        let ymd = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap_or(day);
        match self {
            Span::Half if day.day() < 15 => ymd(day.year(), day.month(), 1),
            Span::Half => ymd(day.year(), day.month(), 15),
            Span::Year => ymd(day.year(), 1, 1),
            Span::StatYear if day.month() == 12 && day.day() >= 15 => ymd(day.year(), 12, 15),
            Span::StatYear => ymd(day.year() - 1, 12, 15),
        }
    }

    /// The last day of the span starting at `start`; None past the calendar's end.
    fn end_of(self, start: NaiveDate) -> Option<NaiveDate> {
        match self {
            Span::Half if start.day() == 1 => start.with_day(14),
            Span::Half => {
                let next = if start.month() == 12 {
                    NaiveDate::from_ymd_opt(start.year() + 1, 1, 1)
                } else {
                    NaiveDate::from_ymd_opt(start.year(), start.month() + 1, 1)
                };
                next?.pred_opt()
            }
            Span::Year => NaiveDate::from_ymd_opt(start.year(), 12, 31),
            Span::StatYear => NaiveDate::from_ymd_opt(start.year() + 1, 12, 14),
        }
    }

    /// The first span starting on or after `day`.
    fn first_from(self, day: NaiveDate) -> Option<NaiveDate> {
        let start = self.start_of(day);
        if start == day {
            Some(day)
        } else {
            self.end_of(start)?.succ_opt()
        }
    }

    /// The start of the last span ending on or before `day`.
    fn last_to(self, day: NaiveDate) -> Option<NaiveDate> {
        let start = self.start_of(day);
        if self.end_of(start)? == day {
            Some(start)
        } else {
            Some(self.start_of(start.pred_opt()?))
        }
    }
}

/// Rows to sum: the day rows (`span` None) or one rollup's rows whose first day lies in
/// `[from, to]` (`from` None: no lower bound).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Piece {
    pub span: Option<Span>,
    pub from: Option<NaiveDate>,
    pub to: NaiveDate,
}

/// Pieces whose rows sum exactly the days in `[from, to]` (`from` None: every day up to `to`),
/// reading whole years and half-months from the rollups. Of the two year calendars, the one
/// leaving fewer edge rows is used.
pub fn cover(from: Option<NaiveDate>, to: NaiveDate) -> Vec<Piece> {
    [Span::Year, Span::StatYear]
        .into_iter()
        .map(|year| {
            let mut out = Vec::new();
            cover_with(from, to, &[year, Span::Half], &mut out);
            out
        })
        .min_by_key(|pieces| pieces.iter().map(edge_rows).sum::<i64>())
        .unwrap_or_default()
}

/// The same days read from the day rows alone.
pub fn days_only(from: Option<NaiveDate>, to: NaiveDate) -> Vec<Piece> {
    if from.is_some_and(|f| f > to) {
        return Vec::new();
    }
    vec![Piece {
        span: None,
        from,
        to,
    }]
}

/// Rows a piece of half-months or days may read per unit and metric (years: the same on
/// either calendar, so not counted).
fn edge_rows(piece: &Piece) -> i64 {
    let days = piece.from.map_or(0, |f| (piece.to - f).num_days() + 1);
    match piece.span {
        None => days,
        Some(Span::Half) => days / 15 + 1,
        Some(_) => 0,
    }
}

fn cover_with(from: Option<NaiveDate>, to: NaiveDate, spans: &[Span], out: &mut Vec<Piece>) {
    if from.is_some_and(|f| f > to) {
        return;
    }
    let Some((&span, finer)) = spans.split_first() else {
        out.push(Piece {
            span: None,
            from,
            to,
        });
        return;
    };
    let first = match from {
        Some(f) => span.first_from(f),
        None => None,
    };
    let whole = span
        .last_to(to)
        .and_then(|last| Some((last, span.end_of(last)?)))
        .filter(|(last, _)| from.is_none() || first.is_some_and(|first| first <= *last));
    let Some((last, last_end)) = whole else {
        cover_with(from, to, finer, out);
        return;
    };
    if let Some(before) = first.and_then(|first| first.pred_opt()) {
        cover_with(from, before, finer, out);
    }
    out.push(Piece {
        span: Some(span),
        from: first,
        to: last,
    });
    if let Some(after) = last_end.succ_opt() {
        cover_with(Some(after), to, finer, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap_or_default()
    }

    /// The days each piece stands for, given every day of `universe` is a stored day.
    fn days_of(pieces: &[Piece], universe: (NaiveDate, NaiveDate)) -> Vec<NaiveDate> {
        let mut days = Vec::new();
        let mut day = universe.0;
        while day <= universe.1 {
            for p in pieces {
                let key = p.span.map_or(day, |s| s.start_of(day));
                if p.from.is_none_or(|f| f <= key) && key <= p.to {
                    days.push(day);
                }
            }
            day += Duration::days(1);
        }
        days
    }

    #[test]
    fn spans_tile_the_calendar() {
        assert_eq!(Span::Half.start_of(d(2019, 2, 14)), d(2019, 2, 1));
        assert_eq!(Span::Half.start_of(d(2019, 2, 28)), d(2019, 2, 15));
        assert_eq!(Span::Half.end_of(d(2020, 2, 15)), Some(d(2020, 2, 29)));
        assert_eq!(Span::Half.end_of(d(2019, 12, 15)), Some(d(2019, 12, 31)));
        assert_eq!(Span::StatYear.start_of(d(2019, 12, 14)), d(2018, 12, 15));
        assert_eq!(Span::StatYear.start_of(d(2019, 12, 15)), d(2019, 12, 15));
        assert_eq!(
            Span::StatYear.end_of(d(2018, 12, 15)),
            Some(d(2019, 12, 14))
        );
        for s in Span::ALL {
            assert_eq!(Span::parse(s.as_str()), Some(s));
        }
    }

    #[test]
    fn named_periods_need_no_day_rows() {
        use crate::domain::period::{Calendar, parse};
        for calendar in [Calendar::Statistical, Calendar::Plain] {
            for name in [
                "2019", "2019-Q1", "2019-Q3", "2019-6M", "2019-9M", "2019-02",
            ] {
                let p = parse(name, calendar).unwrap_or_else(|_| unreachable!());
                for pieces in [cover(Some(p.start), p.end), cover(None, p.day_before())] {
                    assert!(pieces.iter().all(|x| x.span.is_some()), "{name} {pieces:?}");
                }
            }
        }
        let year = cover(Some(d(2018, 12, 15)), d(2019, 12, 14));
        assert_eq!(year.len(), 1);
        assert_eq!(year[0].span, Some(Span::StatYear));
        let year = cover(Some(d(2019, 1, 1)), d(2019, 12, 31));
        assert_eq!(year.len(), 1);
        assert_eq!(year[0].span, Some(Span::Year));
    }

    #[test]
    fn covers_are_exact_and_small() {
        let universe = (d(2016, 11, 20), d(2021, 2, 10));
        let mut seed = 7u64;
        let mut next = |n: i64| {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((seed >> 33) as i64) % n
        };
        for _ in 0..300 {
            let a = d(2017, 1, 1) + Duration::days(next(1400));
            let b = a + Duration::days(next(900));
            for from in [Some(a), None] {
                let pieces = cover(from, b);
                let want = days_only(from, b);
                assert_eq!(
                    days_of(&pieces, universe),
                    days_of(&want, universe),
                    "{from:?}..{b}: {pieces:?}"
                );
                let rows: i64 = pieces.iter().map(edge_rows).sum();
                assert!(rows <= 2 * (16 + 24), "{from:?}..{b}: {pieces:?}");
            }
        }
    }
}
