//! Which unit owns each stored record of a batch, for the apply's check that a record never
//! changes unit.

use std::collections::HashMap;

use sea_orm::{ColumnTrait, EntityTrait, ModelTrait, Value};

use super::Read;
use super::entities::{conclusion, schedule_entry};
use super::records::find_by_ids;
use crate::domain::DomainError;

/// The unit of each stored schedule entry of `ids`.
pub async fn schedule_owners(
    db: &impl Read,
    ids: &[String],
) -> Result<HashMap<String, String>, DomainError> {
    owners(db, schedule_entry::Entity, ids).await
}

/// The unit of each stored conclusion of `ids`.
pub async fn conclusion_owners(
    db: &impl Read,
    ids: &[String],
) -> Result<HashMap<String, String>, DomainError> {
    owners(db, conclusion::Entity, ids).await
}

/// The unit of each stored record of `ids`, for an entity keyed by `id` with a `unit_code`.
async fn owners<E>(
    db: &impl Read,
    _entity: E,
    ids: &[String],
) -> Result<HashMap<String, String>, DomainError>
where
    E: EntityTrait,
    E::Column: Owned,
{
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let text = |v: Value| match v {
        Value::String(Some(s)) => Ok(s),
        _ => Err(DomainError::Storage(
            "a record's id or unit is not text".into(),
        )),
    };
    find_by_ids::<E>(db, ids)
        .await?
        .into_iter()
        .map(|m| {
            Ok((
                text(m.get(<E::Column as Owned>::ID))?,
                text(m.get(<E::Column as Owned>::UNIT))?,
            ))
        })
        .collect()
}

/// The id and unit columns of a record's table.
trait Owned: ColumnTrait {
    const ID: Self;
    const UNIT: Self;
}

impl Owned for schedule_entry::Column {
    const ID: Self = schedule_entry::Column::Id;
    const UNIT: Self = schedule_entry::Column::UnitCode;
}

impl Owned for conclusion::Column {
    const ID: Self = conclusion::Column::Id;
    const UNIT: Self = conclusion::Column::UnitCode;
}
