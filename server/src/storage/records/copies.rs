//! The copies of the subtree's records a parent keeps, one record at a time.

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::*;
use crate::domain::DomainError;
use crate::domain::model::{Case, Conclusion, Petition, ScheduleEntry, Visit};
use crate::storage::entities::{petition, schedule_entry, visit};
use crate::storage::{Read, Write};

/// Inserts or replaces a visit; returns the one it replaced.
pub async fn upsert_visit(db: &impl Write, v: &Visit) -> Result<Option<Visit>, DomainError> {
    let before = find_visit(db, &v.id).await?;
    if before.is_some() {
        visit::Entity::delete_by_id(v.id.clone()).exec(db).await?;
    }
    insert_visit(db, v).await?;
    Ok(before)
}

/// Inserts or replaces a schedule entry.
pub async fn upsert_schedule(db: &impl Write, e: &ScheduleEntry) -> Result<(), DomainError> {
    schedule_entry::Entity::delete_by_id(e.id.clone())
        .exec(db)
        .await?;
    insert_schedule(db, e).await
}

/// Inserts or replaces a conclusion.
pub async fn upsert_conclusion(db: &impl Write, c: &Conclusion) -> Result<(), DomainError> {
    if find_conclusion(db, &c.id).await?.is_some() {
        update_conclusion(db, c).await
    } else {
        insert_conclusion(db, c).await
    }
}

/// Inserts or replaces a petition; returns the one it replaced.
pub async fn upsert_petition(
    db: &impl Write,
    p: &Petition,
) -> Result<Option<Petition>, DomainError> {
    let before = find_petition(db, &p.id).await?;
    if before.is_some() {
        update_petition(db, p).await?;
    } else {
        insert_petition(db, p).await?;
    }
    Ok(before)
}

/// Inserts or replaces a case; returns the one it replaced.
pub async fn upsert_case(db: &impl Write, c: &Case) -> Result<Option<Case>, DomainError> {
    let before = find_case(db, &c.id).await?;
    if before.is_some() {
        update_case(db, c).await?;
    } else {
        insert_case(db, c).await?;
    }
    Ok(before)
}

/// The petitions of this node that came in by transfer of `source_petition_id`.
pub async fn petitions_from_source(
    db: &impl Read,
    source_petition_id: &str,
) -> Result<Vec<Petition>, DomainError> {
    petition::Entity::find()
        .filter(petition::Column::SourcePetitionId.eq(source_petition_id))
        .all(db)
        .await?
        .into_iter()
        .map(petition_from_row)
        .collect()
}

// ---- maintained totals ----
