//! Reorganisations and unit versions: the tree through time. A reorganisation is kept as
//! its journaled bytes (what the children are sent); its versions as rows the tree is
//! built from.

use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, EntityTrait, QueryOrder};

use super::entities::{reorganisation as reorg, unit_version as version};
use super::{Read, Write};
use crate::domain::DomainError;
use crate::domain::map::Version;
use crate::domain::model::{Unit, UnitLevel};

/// Stores a reorganisation's bytes; returns false when it was already stored.
pub async fn save_reorganisation(
    db: &impl Write,
    authority: &str,
    id: &str,
    effective: chrono::NaiveDate,
    payload: Vec<u8>,
) -> Result<bool, DomainError> {
    let inserted = reorg::Entity::insert(reorg::ActiveModel {
        authority_code: Set(authority.to_string()),
        id: Set(id.to_string()),
        effective_date: Set(effective.to_string()),
        payload: Set(payload),
    })
    .on_conflict(
        OnConflict::columns([reorg::Column::AuthorityCode, reorg::Column::Id])
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(inserted > 0)
}

/// Whether `authority` already issued a reorganisation named `id`.
pub async fn has_reorganisation(
    db: &impl Read,
    authority: &str,
    id: &str,
) -> Result<bool, DomainError> {
    Ok(
        reorg::Entity::find_by_id((authority.to_string(), id.to_string()))
            .one(db)
            .await?
            .is_some(),
    )
}

/// Every stored reorganisation's bytes, by effective day.
pub async fn reorganisations(db: &impl Read) -> Result<Vec<Vec<u8>>, DomainError> {
    Ok(reorg::Entity::find()
        .order_by_asc(reorg::Column::EffectiveDate)
        .order_by_asc(reorg::Column::AuthorityCode)
        .order_by_asc(reorg::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|r| r.payload)
        .collect())
}

/// Stores versions (a version already stored for the unit and day is replaced).
pub async fn save_versions(db: &impl Write, versions: &[Version]) -> Result<(), DomainError> {
    for v in versions {
        version::Entity::insert(version::ActiveModel {
            code: Set(v.unit.code.clone()),
            valid_from: Set(v.from.map(|d| d.to_string()).unwrap_or_default()),
            name: Set(v.unit.name.clone()),
            level: Set(v.unit.level.as_str().to_string()),
            parent_code: Set(v.unit.parent_code.clone()),
            remote: Set(v.unit.remote),
            successor_code: Set(v.successor.clone()),
            reorganisation_id: Set(v.reorganisation.clone()),
        })
        .on_conflict(
            OnConflict::columns([version::Column::Code, version::Column::ValidFrom])
                .update_columns([
                    version::Column::Name,
                    version::Column::Level,
                    version::Column::ParentCode,
                    version::Column::Remote,
                    version::Column::SuccessorCode,
                    version::Column::ReorganisationId,
                ])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    }
    Ok(())
}

/// Every stored version.
pub async fn versions(db: &impl Read) -> Result<Vec<Version>, DomainError> {
    version::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|r| {
            let from = if r.valid_from.is_empty() {
                None
            } else {
                Some(r.valid_from.parse().map_err(|_| {
                    DomainError::Storage(format!("unit_version.valid_from {:?}", r.valid_from))
                })?)
            };
            Ok(Version {
                unit: Unit {
                    level: UnitLevel::parse(&r.level).ok_or_else(|| {
                        DomainError::Storage(format!("unit_version.level {:?}", r.level))
                    })?,
                    code: r.code,
                    name: r.name,
                    parent_code: r.parent_code,
                    remote: r.remote,
                },
                from,
                successor: r.successor_code,
                reorganisation: r.reorganisation_id,
            })
        })
        .collect()
}
