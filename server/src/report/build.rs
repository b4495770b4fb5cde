//! Building a report from the maintained totals: a few grouped sums per unit, so the cost
//! grows with the number of children and days, not with the number of records.

use chrono::{DateTime, Duration, Utc};

use super::period::Period;
use super::totals::{Totals, assemble};
use crate::domain::DomainError;
use crate::domain::deadlines::local_date;
use crate::domain::model::{PetitionType, Unit};
use crate::registry::Registry;
use crate::storage::records::sum_tally;

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

impl Registry {
    async fn totals_of(
        &self,
        unit: &str,
        subtree: bool,
        period: Period,
        now: DateTime<Utc>,
        only: &[Option<PetitionType>],
    ) -> Result<Vec<Totals>, DomainError> {
        let db = self.store().reader();
        let within = sum_tally(db, subtree, unit, Some(period.start), Some(period.end)).await?;
        let before = sum_tally(db, subtree, unit, None, Some(period.day_before())).await?;
        // An open case is overdue once the day after its due date begins.
        let last_due = period.end.min(local_date(now) - Duration::days(1));
        let overdue = sum_tally(db, subtree, unit, None, Some(last_due)).await?;
        Ok(only
            .iter()
            .map(|t| assemble(&within, &before, &overdue, *t))
            .collect())
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
        let mut all = self
            .totals_of(unit_code, subtree, period, now, &kinds)
            .await?;
        let totals = all.remove(0);
        let by_type = PetitionType::ALL.iter().copied().zip(all).collect();
        let mut children = Vec::new();
        if subtree {
            for code in tree.children(unit_code) {
                let mut t = self.totals_of(&code, true, period, now, &[None]).await?;
                children.push(Row {
                    unit: find(&code)?,
                    totals: t.remove(0),
                });
            }
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
