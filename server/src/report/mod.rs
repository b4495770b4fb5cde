//! Reports: a unit's totals for a period, with one row per child, assembled from the
//! maintained totals in a few grouped sums per unit over whole years and half-months (the
//! rollups) and edge days, so the cost grows with the number of children and metrics, not
//! with the number of records, days or the length of the period.

pub mod forms;

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};

use crate::app::App;
use crate::domain::DomainError;
use crate::domain::deadlines::local_date;
use crate::domain::model::{PetitionType, Unit};
use crate::domain::period::Period;
use crate::domain::span;
use crate::domain::tally::Delta;
use crate::domain::totals::{CARRY_OVER_METRICS, OVERDUE_METRICS, Totals, assemble};
use crate::storage::reports::{self, SumQuery};
pub use crate::storage::reports::{Sums, maintained_rollups, maintained_totals};

/// One row: a unit and its totals.
#[derive(Debug, Clone)]
pub struct Row {
    pub unit: Unit,
    pub totals: Totals,
    /// The totals per petition type.
    pub by_type: Vec<(PetitionType, Totals)>,
}

/// A computed report.
#[derive(Debug, Clone)]
pub struct Report {
    pub unit: Unit,
    pub subtree: bool,
    pub totals: Totals,
    pub children: Vec<Row>,
    pub by_type: Vec<(PetitionType, Totals)>,
    /// Units of the subtree that ended by the period's end, counted under their successor:
    /// each as it last was, with its last day and its successor.
    pub predecessors: Vec<(Unit, NaiveDate, String)>,
}

/// The three sums a row of a report is assembled from.
#[derive(Debug, Default)]
struct Sums3 {
    within: BTreeMap<String, i64>,
    before: BTreeMap<String, i64>,
    overdue: BTreeMap<String, i64>,
}

/// Where a report reads its sums from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Source {
    /// Whole years and half-months from the rollups, the edge days from the day rows: the
    /// rows read do not grow with the length of the period, and grow with the history only
    /// by one year row per year (sums from the beginning, for carried-over and overdue cases).
    #[default]
    Rollups,
    /// The day rows alone: what the rollups must reproduce.
    DayRows,
}

/// The sums of each of `units` (their subtrees when `subtree`) in one query: within the
/// period, before it, and up to the last day an open case is not yet overdue. Each range
/// is covered by a few pieces (`span::cover`), each a grouped sum.
/// Before the period and up to the last due day, only the metrics `assemble` reads there.
async fn sums_of(
    app: &App,
    units: &[String],
    subtree: bool,
    period: Period,
    now: DateTime<Utc>,
    source: Source,
) -> Result<HashMap<String, Sums3>, DomainError> {
    let day_before = period.day_before();
    // The overdue count as it stood at the period's end (or today, for a period not over).
    let last_due = period.end.min(local_date(now));
    let ranges: [(Option<NaiveDate>, NaiveDate, &[&str]); 3] = [
        (Some(period.start), period.end, &[]),
        (None, day_before, &CARRY_OVER_METRICS),
        (None, last_due, &OVERDUE_METRICS),
    ];
    let mut queries = Vec::new();
    for (part, (from, to, metrics)) in ranges.into_iter().enumerate() {
        let pieces = match source {
            Source::Rollups => span::cover(from, to),
            Source::DayRows => span::days_only(from, to),
        };
        for piece in pieces {
            queries.push(SumQuery {
                piece,
                part,
                subtree,
                units,
                metrics,
            });
        }
    }
    let mut out: HashMap<String, Sums3> = HashMap::new();
    for (unit, metric, part, total) in reports::sums(app.store().reader(), &queries).await? {
        let sums = out.entry(unit).or_default();
        let map = match part {
            0 => &mut sums.within,
            1 => &mut sums.before,
            _ => &mut sums.overdue,
        };
        *map.entry(metric).or_default() += total;
    }
    Ok(out)
}

/// The report of `unit_code` (a unit of this node's subtree) for `period`.
pub async fn report(
    app: &App,
    unit_code: &str,
    period: Period,
    subtree: bool,
    now: DateTime<Utc>,
) -> Result<Report, DomainError> {
    report_from(app, unit_code, period, subtree, now, Source::Rollups).await
}

/// The report of `unit_code` read from `source`.
pub async fn report_from(
    app: &App,
    unit_code: &str,
    period: Period,
    subtree: bool,
    now: DateTime<Utc>,
    source: Source,
) -> Result<Report, DomainError> {
    // The tree as it stood at the period's end: a report of an earlier period is the same
    // before and after a reorganisation.
    let latest = app.tree();
    let tree = latest.at(period.end);
    if !tree.is_within(unit_code, tree.root()) {
        return Err(DomainError::NotFound {
            kind: "unit in this node's subtree at the period's end",
            id: unit_code.to_string(),
        });
    }
    // The maintained subtree sums follow the latest tree; an earlier one is recounted.
    let recount = subtree
        && latest
            .history()
            .last_date()
            .is_some_and(|last| period.end < last);
    // From the units in memory: a query listing every unit of a province cost more than the sums.
    let find = |code: &str| {
        app.unit_on(code, period.end)
            .ok_or_else(|| DomainError::NotFound {
                kind: "unit",
                id: code.to_string(),
            })
    };
    let unit = find(unit_code)?;
    let mut kinds = vec![None];
    kinds.extend(PetitionType::ALL.iter().map(|t| Some(*t)));
    let children_codes: Vec<String> = if subtree {
        tree.children(unit_code)
    } else {
        Vec::new()
    };
    // A subtree report sums the unit and its children alike: one query for all rows.
    let mut codes = children_codes.clone();
    codes.push(unit_code.to_string());
    let mut sums = if recount {
        recounted(app, &tree, &codes, period, now).await?
    } else {
        sums_of(app, &codes, subtree, period, now, source).await?
    };
    let own = sums.remove(unit_code).unwrap_or_default();
    let mut all: Vec<Totals> = kinds
        .iter()
        .map(|t| assemble(&own.within, &own.before, &own.overdue, *t))
        .collect();
    let totals = all.remove(0);
    let by_type = PetitionType::ALL.iter().copied().zip(all).collect();
    let mut children = Vec::new();
    for code in children_codes {
        let s = sums.remove(&code).unwrap_or_default();
        children.push(Row {
            unit: find(&code)?,
            totals: assemble(&s.within, &s.before, &s.overdue, None),
            by_type: PetitionType::ALL
                .iter()
                .map(|t| (*t, assemble(&s.within, &s.before, &s.overdue, Some(*t))))
                .collect(),
        });
    }
    let predecessors = if subtree {
        predecessors(app, &tree, unit_code, period.end)
    } else {
        Vec::new()
    };
    Ok(Report {
        unit,
        subtree,
        totals,
        children,
        by_type,
        predecessors,
    })
}

/// The units of `unit_code`'s subtree in `tree` that ended by `day`, as they last were.
fn predecessors(
    app: &App,
    tree: &crate::domain::tree::Tree,
    unit_code: &str,
    day: NaiveDate,
) -> Vec<(Unit, NaiveDate, String)> {
    tree.subtree(unit_code)
        .into_iter()
        .filter_map(|code| {
            let (ended, successor) = tree.history().ended(&code, Some(day))?;
            let last = ended.pred_opt().unwrap_or(ended);
            Some((app.unit_on(&code, last)?, last, successor))
        })
        .collect()
}

/// The subtree sums of `units` counted from the records this node holds on `tree` (a tree
/// of an earlier day than the maintained sums follow).
async fn recounted(
    app: &App,
    tree: &crate::domain::tree::Tree,
    units: &[String],
    period: Period,
    now: DateTime<Utc>,
) -> Result<HashMap<String, Sums3>, DomainError> {
    let (visits, petitions, cases) = reports::all_records(app.store().reader()).await?;
    let delta = Delta::of_records(tree, &visits, &petitions, &cases);
    let day_before = period.day_before();
    let last_due = period.end.min(local_date(now));
    let any = |list: &[&str], metric: &str| list.iter().any(|m| metric.starts_with(m));
    let mut out: HashMap<String, Sums3> = HashMap::new();
    for ((subtree, unit, day, metric), value) in delta.sums {
        if !subtree || !units.contains(&unit) || value == 0 {
            continue;
        }
        let sums = out.entry(unit).or_default();
        if period.start <= day && day <= period.end {
            *sums.within.entry(metric.clone()).or_default() += value;
        }
        if day <= day_before && any(&CARRY_OVER_METRICS, &metric) {
            *sums.before.entry(metric.clone()).or_default() += value;
        }
        if day <= last_due && any(&OVERDUE_METRICS, &metric) {
            *sums.overdue.entry(metric).or_default() += value;
        }
    }
    Ok(out)
}

/// The totals recounted from every record this node holds, with today's tree: what the
/// maintained totals must equal.
pub async fn recount_totals(app: &App) -> Result<Sums, DomainError> {
    let (visits, petitions, cases) = reports::all_records(app.store().reader()).await?;
    let delta = Delta::of_records(&app.tree(), &visits, &petitions, &cases);
    Ok(delta.sums.into_iter().filter(|(_, v)| *v != 0).collect())
}
