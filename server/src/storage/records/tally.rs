//! The maintained totals: day rows and rollups.

use chrono::NaiveDate;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect,
};

use super::*;
use crate::domain::DomainError;
use crate::storage::{Read, Write};

/// Writes accumulated changes of the totals: the day rows and, in the same transaction, the
/// rollups of the spans holding each day (`domain::span`), so that every rollup row stays the
/// sum of its day rows whoever writes.
pub async fn flush_tally(
    db: &impl Write,
    delta: crate::domain::tally::Delta,
) -> Result<(), DomainError> {
    let mut inserts = Inserts::new(db.get_database_backend());
    add_tally(&mut inserts, delta)?;
    Ok(inserts.run(db).await?)
}

/// `flush_tally` as inserts to send with others.
pub fn add_tally(
    inserts: &mut Inserts,
    delta: crate::domain::tally::Delta,
) -> Result<(), sea_orm::DbErr> {
    use crate::storage::entities::tally;
    let rollups = crate::domain::tally::rollups_of(&delta.sums);
    let rows: Vec<tally::ActiveModel> = delta
        .sums
        .into_iter()
        .filter(|(_, v)| *v != 0)
        .map(
            |((subtree, unit_code, day, metric), value)| tally::ActiveModel {
                subtree: Set(subtree),
                unit_code: Set(unit_code),
                day: Set(day),
                metric: Set(metric),
                value: Set(value),
            },
        )
        .collect();
    inserts.add(rows, OnKey::Add(tally::Column::Value))?;
    add_rollups(inserts, rollups)
}

/// Adds sums to the rollup rows, creating those that are missing.
pub async fn add_to_rollups(
    db: &impl ConnectionTrait, // also the migration's connection
    sums: std::collections::BTreeMap<crate::domain::tally::RollupKey, i64>,
) -> Result<(), sea_orm::DbErr> {
    let mut inserts = Inserts::new(db.get_database_backend());
    add_rollups(&mut inserts, sums)?;
    inserts.run(db).await
}

pub(super) fn add_rollups(
    inserts: &mut Inserts,
    sums: std::collections::BTreeMap<crate::domain::tally::RollupKey, i64>,
) -> Result<(), sea_orm::DbErr> {
    use crate::storage::entities::tally_rollup;
    let rows = sums
        .into_iter()
        .filter(|(_, v)| *v != 0)
        .map(
            |((subtree, unit_code, span, day, metric), value)| tally_rollup::ActiveModel {
                subtree: Set(subtree),
                unit_code: Set(unit_code),
                span: Set(span.as_str().to_string()),
                day: Set(day),
                metric: Set(metric),
                value: Set(value),
            },
        )
        .collect();
    inserts.add(rows, OnKey::Add(tally_rollup::Column::Value))
}

/// Sums of the maintained totals of `unit` (its subtree when `subtree`) over the local days
/// `[from, to]` (either end open), per metric.
pub async fn sum_tally(
    db: &impl Read,
    subtree: bool,
    unit: &str,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> Result<std::collections::BTreeMap<String, i64>, DomainError> {
    use crate::storage::entities::tally;
    let mut q = tally::Entity::find()
        .select_only()
        .column(tally::Column::Metric)
        .column_as(Expr::cust("CAST(SUM(value) AS BIGINT)"), "total")
        .filter(tally::Column::Subtree.eq(subtree))
        .filter(tally::Column::UnitCode.eq(unit));
    if let Some(f) = from {
        q = q.filter(tally::Column::Day.gte(f));
    }
    if let Some(t) = to {
        q = q.filter(tally::Column::Day.lte(t));
    }
    let rows: Vec<(String, i64)> = q
        .group_by(tally::Column::Metric)
        .into_tuple::<(String, i64)>()
        .all(db)
        .await?;
    Ok(rows.into_iter().collect())
}

// ---- bulk writes ----

/// Removes the marker counter `name`; returns whether it was there.
pub async fn take_marker(db: &impl Write, name: &str) -> Result<bool, DomainError> {
    use crate::storage::entities::counter;
    use sea_orm::EntityTrait;
    let removed = counter::Entity::delete_by_id(name.to_string())
        .exec(db)
        .await?;
    Ok(removed.rows_affected > 0)
}

/// Removes every subtree sum (day rows and rollups): what the unit tree decides, counted
/// again after a reorganisation moved units. A unit's own sums stay.
pub async fn clear_subtree_tally(db: &impl Write) -> Result<(), DomainError> {
    use crate::storage::entities::{tally, tally_rollup};
    tally::Entity::delete_many()
        .filter(tally::Column::Subtree.eq(true))
        .exec(db)
        .await?;
    tally_rollup::Entity::delete_many()
        .filter(tally_rollup::Column::Subtree.eq(true))
        .exec(db)
        .await?;
    Ok(())
}
