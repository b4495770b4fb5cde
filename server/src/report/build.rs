//! Building a report from the maintained totals: a few grouped sums per unit, so the cost
//! grows with the number of children and days, not with the number of records.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, Utc};

use super::period::Period;
use super::totals::{Totals, assemble};
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

impl Registry {
    /// The sums of each of `units` (their subtrees when `subtree`) in one grouped query:
    /// within the period, before it, and up to the last day an open case is not yet overdue.
    async fn sums_of(
        &self,
        units: &[String],
        subtree: bool,
        period: Period,
        now: DateTime<Utc>,
    ) -> Result<HashMap<String, Sums3>, DomainError> {
        use crate::storage::entities::tally;
        use sea_orm::sea_query::{Expr, Func};
        use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QuerySelect};
        let day_before = period.day_before();
        // An open case is overdue once the day after its due date begins.
        let last_due = period.end.min(local_date(now) - Duration::days(1));
        let upto = period.end.max(day_before).max(last_due);
        // SUM(CASE WHEN condition THEN value ELSE 0 END), as BIGINT on either backend.
        let sum_if = |condition: sea_orm::Condition| {
            Expr::from(Func::cast_as(
                Func::sum(Expr::case(condition, Expr::col(tally::Column::Value)).finally(0)),
                "BIGINT",
            ))
        };
        let rows: Vec<(String, String, i64, i64, i64)> = tally::Entity::find()
            .select_only()
            .column(tally::Column::UnitCode)
            .column(tally::Column::Metric)
            .column_as(
                sum_if(
                    Condition::all()
                        .add(tally::Column::Day.gte(period.start))
                        .add(tally::Column::Day.lte(period.end)),
                ),
                "within",
            )
            .column_as(
                sum_if(Condition::all().add(tally::Column::Day.lte(day_before))),
                "before",
            )
            .column_as(
                sum_if(Condition::all().add(tally::Column::Day.lte(last_due))),
                "overdue",
            )
            .filter(tally::Column::Subtree.eq(subtree))
            .filter(tally::Column::UnitCode.is_in(units.iter().cloned()))
            .filter(tally::Column::Day.lte(upto))
            .group_by(tally::Column::UnitCode)
            .group_by(tally::Column::Metric)
            .into_tuple()
            .all(self.store().reader())
            .await?;
        let mut out: HashMap<String, Sums3> = HashMap::new();
        for (unit, metric, within, before, overdue) in rows {
            let sums = out.entry(unit).or_default();
            sums.within.insert(metric.clone(), within);
            sums.before.insert(metric.clone(), before);
            sums.overdue.insert(metric, overdue);
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
        let tree = self.tree();
        if !tree.is_within(unit_code, tree.root()) {
            return Err(DomainError::NotFound {
                kind: "unit in this node's subtree",
                id: unit_code.to_string(),
            });
        }
        let units = self.known_units().await?;
        let find = |code: &str| {
            units
                .iter()
                .find(|u| u.code == code)
                .cloned()
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
        let mut sums = self.sums_of(&codes, subtree, period, now).await?;
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
