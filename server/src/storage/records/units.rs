//! The known units.

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use super::*;
use crate::domain::DomainError;
use crate::domain::model::Unit;
use crate::storage::entities::unit;
use crate::storage::{Read, Write};

pub async fn find_unit(db: &impl Read, code: &str) -> Result<Option<Unit>, DomainError> {
    unit::Entity::find_by_id(code.to_string())
        .one(db)
        .await?
        .map(unit_from_row)
        .transpose()
}

/// The unit the database belongs to, once a node has started on it.
pub async fn find_self(db: &impl Read) -> Result<Option<Unit>, DomainError> {
    unit::Entity::find()
        .filter(unit::Column::IsSelf.eq(true))
        .one(db)
        .await?
        .map(unit_from_row)
        .transpose()
}

pub async fn all_units(db: &impl Read) -> Result<Vec<Unit>, DomainError> {
    unit::Entity::find()
        .order_by_asc(unit::Column::Code)
        .all(db)
        .await?
        .into_iter()
        .map(unit_from_row)
        .collect()
}

/// Inserts or replaces a unit.
pub async fn save_unit(db: &impl Write, u: &Unit, is_self: bool) -> Result<(), DomainError> {
    use sea_orm::sea_query::OnConflict;
    unit::Entity::insert(unit_row(u, is_self))
        .on_conflict(
            OnConflict::column(unit::Column::Code)
                .update_columns([
                    unit::Column::Name,
                    unit::Column::Level,
                    unit::Column::ParentCode,
                    unit::Column::Remote,
                    unit::Column::IsSelf,
                ])
                .to_owned(),
        )
        .exec(db)
        .await?;
    Ok(())
}

// ---- visits, schedule, conclusions ----
