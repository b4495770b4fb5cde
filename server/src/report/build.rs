//! Building a report from the maintained totals: a few grouped sums per unit over whole
//! years and half-months (the rollups) and edge days, so the cost grows with the number of
//! children and metrics, not with the number of records, days or the length of the period.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Condition, Expr, Func, Query, SelectStatement, UnionType};

use super::period::Period;
use super::span::{self, Piece};
use super::tally::RollupKey;
use super::totals::{CARRY_OVER_METRICS, OVERDUE_METRICS, Totals, assemble};
use crate::domain::DomainError;
use crate::domain::deadlines::local_date;
use crate::domain::model::{PetitionType, Unit};
use crate::registry::Registry;

/// One row: a unit and its totals.
#[derive(Debug, Clone)]
pub struct Row {
    pub unit: Unit,
    pub totals: Totals,
}

/// A computed report.
#[derive(Debug, Clone)]
pub struct Report {
    pub unit: Unit,
    pub subtree: bool,
    pub totals: Totals,
    pub children: Vec<Row>,
    pub by_type: Vec<(PetitionType, Totals)>,
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

/// One sum of rows: which of the three it adds to, and the rows.
fn piece_query(
    piece: Piece,
    part: usize,
    subtree: bool,
    units: &[String],
    metrics: &[&str],
) -> SelectStatement {
    use sea_orm::sea_query::ExprTrait;
    let mut filter = Condition::all()
        .add(Expr::col("subtree").eq(subtree))
        .add(Expr::col("unit_code").is_in(units.iter().cloned()));
    if let Some(span) = piece.span {
        filter = filter.add(Expr::col("span").eq(span.as_str()));
    }
    if let Some(from) = piece.from {
        filter = filter.add(Expr::col("day").gte(from));
    }
    filter = filter.add(Expr::col("day").lte(piece.to));
    if !metrics.is_empty() {
        filter = filter.add(metrics.iter().fold(Condition::any(), |any, prefix| {
            any.add(Expr::col("metric").like(format!("{prefix}%")))
        }));
    }
    Query::select()
        .column("unit_code")
        .column("metric")
        .expr_as(Expr::cust(part.to_string()), "part")
        .expr_as(
            Func::cast_as(Func::sum(Expr::col("value")), "BIGINT"),
            "total",
        )
        .from(if piece.span.is_some() {
            "tally_rollup"
        } else {
            "tally"
        })
        .cond_where(filter)
        .group_by_col("unit_code")
        .group_by_col("metric")
        .to_owned()
}

impl Registry {
    /// The sums of each of `units` (their subtrees when `subtree`) in one query: within the
    /// period, before it, and up to the last day an open case is not yet overdue. Each range
    /// is covered by a few pieces (`span::cover`), each a grouped sum, joined by UNION ALL.
    /// Before the period and up to the last due day, only the metrics `assemble` reads there.
    async fn sums_of(
        &self,
        units: &[String],
        subtree: bool,
        period: Period,
        now: DateTime<Utc>,
        source: Source,
    ) -> Result<HashMap<String, Sums3>, DomainError> {
        let day_before = period.day_before();
        // An open case is overdue once the day after its due date begins.
        let last_due = period.end.min(local_date(now) - Duration::days(1));
        let ranges: [(Option<NaiveDate>, NaiveDate, &[&str]); 3] = [
            (Some(period.start), period.end, &[]),
            (None, day_before, &CARRY_OVER_METRICS),
            (None, last_due, &OVERDUE_METRICS),
        ];
        let mut selects = Vec::new();
        for (part, (from, to, metrics)) in ranges.into_iter().enumerate() {
            let pieces = match source {
                Source::Rollups => span::cover(from, to),
                Source::DayRows => span::days_only(from, to),
            };
            for piece in pieces {
                selects.push(piece_query(piece, part, subtree, units, metrics));
            }
        }
        let mut out: HashMap<String, Sums3> = HashMap::new();
        let mut selects = selects.into_iter();
        let Some(mut query) = selects.next() else {
            return Ok(out);
        };
        query.unions(selects.map(|s| (UnionType::All, s)));
        for row in self.store().reader().query_all(&query).await? {
            let unit: String = row.try_get_by_index(0)?;
            let metric: String = row.try_get_by_index(1)?;
            let part: i32 = row.try_get_by_index(2)?;
            let total: i64 = row.try_get_by_index(3)?;
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
        &self,
        unit_code: &str,
        period: Period,
        subtree: bool,
        now: DateTime<Utc>,
    ) -> Result<Report, DomainError> {
        self.report_from(unit_code, period, subtree, now, Source::Rollups)
            .await
    }

    /// The report of `unit_code` read from `source`.
    pub async fn report_from(
        &self,
        unit_code: &str,
        period: Period,
        subtree: bool,
        now: DateTime<Utc>,
        source: Source,
    ) -> Result<Report, DomainError> {
        let tree = self.tree();
        if !tree.is_within(unit_code, tree.root()) {
            return Err(DomainError::NotFound {
                kind: "unit in this node's subtree",
                id: unit_code.to_string(),
            });
        }
        // From the units in memory, not a query: listing every unit of a province cost a
        // third of a report (BENCHMARKS.md).
        let find = |code: &str| {
            self.known_unit(code).ok_or_else(|| DomainError::NotFound {
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
        let mut sums = self.sums_of(&codes, subtree, period, now, source).await?;
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
            });
        }
        Ok(Report {
            unit,
            subtree,
            totals,
            children,
            by_type,
        })
    }
}

/// Every maintained sum, or every sum a recount gives, keyed like the store.
pub type Sums = std::collections::BTreeMap<(bool, String, chrono::NaiveDate, String), i64>;

impl Registry {
    /// The maintained totals as stored, zero sums left out.
    pub async fn maintained_totals(&self) -> Result<Sums, DomainError> {
        use crate::storage::entities::tally;
        use sea_orm::EntityTrait;
        let rows = tally::Entity::find().all(self.store().reader()).await?;
        Ok(rows
            .into_iter()
            .filter(|r| r.value != 0)
            .map(|r| ((r.subtree, r.unit_code, r.day, r.metric), r.value))
            .collect())
    }

    /// The maintained rollups as stored, zero sums left out: each must equal
    /// `tally::rollups_of` the maintained day totals.
    pub async fn maintained_rollups(&self) -> Result<BTreeMap<RollupKey, i64>, DomainError> {
        use crate::storage::entities::tally_rollup;
        use sea_orm::EntityTrait;
        let rows = tally_rollup::Entity::find()
            .all(self.store().reader())
            .await?;
        rows.into_iter()
            .filter(|r| r.value != 0)
            .map(|r| {
                let span = span::Span::parse(&r.span).ok_or_else(|| {
                    DomainError::Storage(format!("bad stored span: {:?}", r.span))
                })?;
                Ok(((r.subtree, r.unit_code, span, r.day, r.metric), r.value))
            })
            .collect()
    }

    /// The totals recounted from every record this node holds, with today's tree: what the
    /// maintained totals must equal.
    pub async fn recount_totals(&self) -> Result<Sums, DomainError> {
        use super::tally::{self, Delta};
        use crate::storage::entities::{case, petition, visit};
        use crate::storage::records as repo;
        use sea_orm::EntityTrait;
        let db = self.store().reader();
        let tree = self.tree();
        let mut delta = Delta::default();
        for row in visit::Entity::find().all(db).await? {
            delta.record(&tree, &[], &tally::visit(&repo::visit_from_row(row)?));
        }
        for row in petition::Entity::find().all(db).await? {
            delta.record(&tree, &[], &tally::petition(&repo::petition_from_row(row)?));
        }
        for row in case::Entity::find().all(db).await? {
            let k = repo::case_from_row(row, Vec::new())?;
            delta.record(&tree, &[], &tally::case(&k));
        }
        Ok(delta.sums.into_iter().filter(|(_, v)| *v != 0).collect())
    }
}
