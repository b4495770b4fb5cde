//! The sealing keys: this node's key pair and the public keys of the units it has learnt.

use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};

use super::entities::unit_key;
use super::{Read, Write};
use crate::domain::DomainError;

/// A unit's stored key: its public key, and its secret one if it is this node's.
pub struct UnitKey {
    pub unit_code: String,
    pub public_key: Vec<u8>,
    pub secret_key: Option<Vec<u8>>,
}

/// The stored key of `unit`.
pub async fn find(db: &impl Read, unit: &str) -> Result<Option<UnitKey>, DomainError> {
    Ok(unit_key::Entity::find_by_id(unit.to_string())
        .one(db)
        .await?
        .map(|k| UnitKey {
            unit_code: k.unit_code,
            public_key: k.public_key,
            secret_key: k.secret_key,
        }))
}

/// The stored public keys of `units` (unit, key); a code may repeat in `units`.
pub async fn public_keys(
    db: &impl Read,
    units: impl IntoIterator<Item = String>,
) -> Result<Vec<(String, Vec<u8>)>, DomainError> {
    Ok(unit_key::Entity::find()
        .filter(unit_key::Column::UnitCode.is_in(units))
        .all(db)
        .await?
        .into_iter()
        .map(|k| (k.unit_code, k.public_key))
        .collect())
}

/// Stores this node's key pair, replacing any it had.
pub async fn put_own(tx: &impl Write, key: UnitKey) -> Result<(), DomainError> {
    unit_key::Entity::insert(unit_key::ActiveModel {
        unit_code: Set(key.unit_code),
        public_key: Set(key.public_key),
        secret_key: Set(key.secret_key),
    })
    .on_conflict(
        OnConflict::column(unit_key::Column::UnitCode)
            .update_columns([unit_key::Column::PublicKey, unit_key::Column::SecretKey])
            .to_owned(),
    )
    .exec(tx)
    .await?;
    Ok(())
}

/// Stores learnt public keys (unit, key), replacing the public key of a unit known before.
pub async fn put_public(tx: &impl Write, keys: Vec<(String, Vec<u8>)>) -> Result<(), DomainError> {
    let rows = keys.into_iter().map(|(unit, key)| unit_key::ActiveModel {
        unit_code: Set(unit),
        public_key: Set(key),
        secret_key: Set(None),
    });
    unit_key::Entity::insert_many(rows)
        .on_conflict(
            OnConflict::column(unit_key::Column::UnitCode)
                .update_column(unit_key::Column::PublicKey)
                .to_owned(),
        )
        .exec(tx)
        .await?;
    Ok(())
}
