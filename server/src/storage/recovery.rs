//! The recovery mark: a database restored from an older copy, or rebuilt empty, takes back
//! from its parent the events it lost before it writes anything new. The mark is one row;
//! it stays after the recovery with what it found, for the operator to read.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, EntityTrait, QueryFilter, QuerySelect,
    sea_query::{Expr, ExprTrait},
};

use super::entities::{case, conclusion, counter, mail_seen, petition, petitioner};
use super::entities::{recovery as row, schedule_entry, visit};
use super::records::{from_us, to_us};
use super::{Read, Write};
use crate::domain::DomainError;

/// The mark's row id: there is one.
const ID: i32 = 1;

/// The last recovery of this database, marked or done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovery {
    /// "restore" or "recover": what marked the database.
    pub reason: String,
    pub start: DateTime<Utc>,
    /// When it finished; none while the node still waits for its parent.
    pub finish: Option<DateTime<Utc>>,
    /// Events taken back from the parent.
    pub events: u64,
    /// This unit's petitions, not anonymous, whose petitioner's details are not held.
    pub petitions_without_details: Vec<String>,
}

/// Marks the database to recover from its parent (a new mark replaces the last outcome).
pub async fn mark(db: &impl Write, reason: &str, at: DateTime<Utc>) -> Result<(), DomainError> {
    row::Entity::insert(row::ActiveModel {
        id: Set(ID),
        reason: Set(reason.to_string()),
        start_us: Set(to_us(at)),
        finish_us: Set(None),
        events: Set(0),
        petitions_without_details: Set(String::new()),
    })
    .on_conflict(
        OnConflict::column(row::Column::Id)
            .update_columns([
                row::Column::Reason,
                row::Column::StartUs,
                row::Column::FinishUs,
                row::Column::Events,
                row::Column::PetitionsWithoutDetails,
            ])
            .to_owned(),
    )
    .exec(db)
    .await?;
    Ok(())
}

/// The mark and the last outcome, if the database was ever marked.
pub async fn load(db: &impl Read) -> Result<Option<Recovery>, DomainError> {
    let Some(r) = row::Entity::find_by_id(ID).one(db).await? else {
        return Ok(None);
    };
    Ok(Some(Recovery {
        reason: r.reason,
        start: from_us(r.start_us)?,
        finish: r.finish_us.map(from_us).transpose()?,
        events: u64::try_from(r.events).unwrap_or(0),
        petitions_without_details: r
            .petitions_without_details
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
    }))
}

/// Counts `n` more events taken back.
pub async fn add_events(db: &impl Write, n: u64) -> Result<(), DomainError> {
    row::Entity::update_many()
        .col_expr(
            row::Column::Events,
            Expr::col(row::Column::Events).add(i64::try_from(n).unwrap_or(i64::MAX)),
        )
        .filter(row::Column::Id.eq(ID))
        .exec(db)
        .await?;
    Ok(())
}

/// Ends the recovery: what could not be taken back is kept with the mark.
pub async fn finish(
    db: &impl Write,
    petitions_without_details: &[String],
    at: DateTime<Utc>,
) -> Result<(), DomainError> {
    row::Entity::update_many()
        .col_expr(row::Column::FinishUs, Expr::value(to_us(at)))
        .col_expr(
            row::Column::PetitionsWithoutDetails,
            Expr::value(petitions_without_details.join(",")),
        )
        .filter(row::Column::Id.eq(ID))
        .exec(db)
        .await?;
    Ok(())
}

/// Per id prefix ("V", "P", …), the highest number n of the ids `UNIT-<prefix>n` of `unit`'s
/// own records: a recovered node's counters must not give an id out twice.
pub async fn id_floors(db: &impl Read, unit: &str) -> Result<Vec<(String, i64)>, DomainError> {
    let mut ids: Vec<String> = Vec::new();
    macro_rules! own_ids {
        ($entity:ident, $column:expr) => {
            ids.extend(
                $entity::Entity::find()
                    .select_only()
                    .column($entity::Column::Id)
                    .filter($column.eq(unit))
                    .into_tuple::<String>()
                    .all(db)
                    .await?,
            )
        };
    }
    own_ids!(visit, visit::Column::UnitCode);
    own_ids!(schedule_entry, schedule_entry::Column::UnitCode);
    own_ids!(conclusion, conclusion::Column::UnitCode);
    own_ids!(petition, petition::Column::UnitCode);
    own_ids!(case, case::Column::OwnerUnit);
    let mut floors: std::collections::BTreeMap<String, i64> = Default::default();
    for id in &ids {
        if let Some((prefix, n)) = split_id(unit, id) {
            let floor = floors.entry(prefix.to_string()).or_default();
            *floor = std::cmp::max(*floor, n);
        }
    }
    Ok(floors.into_iter().collect())
}

/// The highest n of the envelopes `UNIT-Mn` taken here.
pub async fn highest_mail_taken(db: &impl Read, unit: &str) -> Result<u64, DomainError> {
    let prefix = format!("{unit}-M");
    let ids: Vec<String> = mail_seen::Entity::find()
        .select_only()
        .column(mail_seen::Column::Id)
        .filter(mail_seen::Column::Id.starts_with(&prefix))
        .into_tuple()
        .all(db)
        .await?;
    Ok(ids
        .iter()
        .filter_map(|id| split_id(unit, id))
        .filter(|(p, _)| *p == "M")
        .map(|(_, n)| u64::try_from(n).unwrap_or(0))
        .max()
        .unwrap_or(0))
}

/// `UNIT-<letters><digits>` split into its prefix and number.
fn split_id<'a>(unit: &str, id: &'a str) -> Option<(&'a str, i64)> {
    let rest = id.strip_prefix(unit)?.strip_prefix('-')?;
    let digits = rest.find(|c: char| c.is_ascii_digit())?;
    let (prefix, n) = rest.split_at(digits);
    if prefix.is_empty() || !prefix.chars().all(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    Some((prefix, n.parse().ok()?))
}

/// Raises counter `name` to at least `floor`.
pub async fn raise_counter(db: &impl Write, name: &str, floor: i64) -> Result<(), DomainError> {
    if counter::Entity::find_by_id(name.to_string())
        .one(db)
        .await?
        .is_none()
    {
        counter::Entity::insert(counter::ActiveModel {
            name: Set(name.to_string()),
            value: Set(floor),
        })
        .exec(db)
        .await?;
        return Ok(());
    }
    counter::Entity::update_many()
        .col_expr(counter::Column::Value, Expr::value(floor))
        .filter(counter::Column::Name.eq(name))
        .filter(counter::Column::Value.lt(floor))
        .exec(db)
        .await?;
    Ok(())
}

/// `unit`'s petitions that are not anonymous and have no petitioner's details held here.
pub async fn petitions_without_details(
    db: &impl Read,
    unit: &str,
) -> Result<Vec<String>, DomainError> {
    let named: Vec<String> = petition::Entity::find()
        .select_only()
        .column(petition::Column::Id)
        .filter(petition::Column::UnitCode.eq(unit))
        .filter(petition::Column::Anonymous.eq(false))
        .into_tuple()
        .all(db)
        .await?;
    let held: std::collections::HashSet<String> = petitioner::Entity::find()
        .select_only()
        .column(petitioner::Column::PetitionId)
        .into_tuple::<String>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let mut missing: Vec<String> = named.into_iter().filter(|id| !held.contains(id)).collect();
    missing.sort();
    Ok(missing)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::split_id;

    #[test]
    fn ids_split_into_prefix_and_number() {
        assert_eq!(split_id("09574", "09574-P12"), Some(("P", 12)));
        assert_eq!(split_id("09574", "09574-M1"), Some(("M", 1)));
        assert_eq!(split_id("09574", "0957-P12"), None);
        assert_eq!(split_id("09574", "09574-12"), None);
        assert_eq!(split_id("09574", "09574-P"), None);
    }
}
