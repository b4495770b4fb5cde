//! The personal-data audit trail: one row per read of a petitioner's personal details, at the
//! node that holds them. Rows are only ever inserted (the migration's triggers refuse updates
//! and deletes) and never journaled, so they never leave the node.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::entities::personal_data_access as row;
use super::records::{from_us, to_us};
use super::{Read, Write};
use crate::domain::DomainError;

/// One recorded read of a petitioner's personal details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    /// Position in the trail; 0 for one not stored yet.
    pub id: i64,
    pub at: DateTime<Utc>,
    pub subject: String,
    pub role: String,
    pub petition_id: String,
    pub action: String,
    pub reason: String,
}

/// Appends `access` to the trail, in the write transaction that must commit before the
/// details are answered.
pub async fn insert(tx: &impl Write, access: &Access) -> Result<(), DomainError> {
    row::Entity::insert(row::ActiveModel {
        id: NotSet,
        at_us: Set(to_us(access.at)),
        subject: Set(access.subject.clone()),
        role: Set(access.role.clone()),
        petition_id: Set(access.petition_id.clone()),
        action: Set(access.action.clone()),
        reason: Set(access.reason.clone()),
    })
    .exec(tx)
    .await?;
    Ok(())
}

/// Up to `limit` rows after `after` (an id), oldest first, only of `petition_id` if given.
pub async fn list(
    db: &impl Read,
    petition_id: Option<&str>,
    after: Option<i64>,
    limit: u64,
) -> Result<Vec<Access>, DomainError> {
    let mut query = row::Entity::find();
    if let Some(id) = petition_id {
        query = query.filter(row::Column::PetitionId.eq(id));
    }
    if let Some(after) = after {
        query = query.filter(row::Column::Id.gt(after));
    }
    let rows = query
        .order_by_asc(row::Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    rows.into_iter()
        .map(|r| {
            Ok(Access {
                id: r.id,
                at: from_us(r.at_us)?,
                subject: r.subject,
                role: r.role,
                petition_id: r.petition_id,
                action: r.action,
                reason: r.reason,
            })
        })
        .collect()
}
