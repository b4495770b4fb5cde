//! Visits, schedule entries and conclusions.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::*;
use crate::domain::DomainError;
use crate::domain::model::{Conclusion, ConclusionStatus, ScheduleEntry, Visit};
use crate::storage::entities::{conclusion, schedule_entry, visit};
use crate::storage::{Read, Write};

pub async fn insert_visit(db: &impl Write, v: &Visit) -> Result<(), DomainError> {
    visit::Entity::insert(visit_active(v)).exec(db).await?;
    Ok(())
}

pub async fn find_visit(db: &impl Read, id: &str) -> Result<Option<Visit>, DomainError> {
    visit::Entity::find_by_id(id.to_string())
        .one(db)
        .await?
        .map(visit_from_row)
        .transpose()
}

/// Visits in `[start, end)`, newest first, after the page cursor `(visit_us, id)`.
pub async fn list_visits(
    db: &impl Read,
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
    after: Option<&(i64, String)>,
    limit: u64,
) -> Result<Vec<Visit>, DomainError> {
    let mut q = visit::Entity::find();
    if let Some(s) = start {
        q = q.filter(visit::Column::VisitUs.gte(to_us(s)));
    }
    if let Some(e) = end {
        q = q.filter(visit::Column::VisitUs.lt(to_us(e)));
    }
    if let Some((us, id)) = after {
        q = q.filter(
            Condition::any().add(visit::Column::VisitUs.lt(*us)).add(
                Condition::all()
                    .add(visit::Column::VisitUs.eq(*us))
                    .add(visit::Column::Id.lt(id.clone())),
            ),
        );
    }
    q.order_by_desc(visit::Column::VisitUs)
        .order_by_desc(visit::Column::Id)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(visit_from_row)
        .collect()
}

pub async fn insert_schedule(db: &impl Write, e: &ScheduleEntry) -> Result<(), DomainError> {
    schedule_entry::Entity::insert(schedule_active(e))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn find_schedule(db: &impl Read, id: &str) -> Result<Option<ScheduleEntry>, DomainError> {
    schedule_entry::Entity::find_by_id(id.to_string())
        .one(db)
        .await?
        .map(schedule_from_row)
        .transpose()
}

/// Schedule entries starting in `[start, end)`, soonest first, after the cursor.
pub async fn list_schedule(
    db: &impl Read,
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
    after: Option<&(i64, String)>,
    limit: u64,
) -> Result<Vec<ScheduleEntry>, DomainError> {
    use schedule_entry::Column as C;
    let mut q = schedule_entry::Entity::find();
    if let Some(s) = start {
        q = q.filter(C::StartUs.gte(to_us(s)));
    }
    if let Some(e) = end {
        q = q.filter(C::StartUs.lt(to_us(e)));
    }
    if let Some((us, id)) = after {
        q = q.filter(
            Condition::any().add(C::StartUs.gt(*us)).add(
                Condition::all()
                    .add(C::StartUs.eq(*us))
                    .add(C::Id.gt(id.clone())),
            ),
        );
    }
    q.order_by_asc(C::StartUs)
        .order_by_asc(C::Id)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(schedule_from_row)
        .collect()
}

pub async fn insert_conclusion(db: &impl Write, c: &Conclusion) -> Result<(), DomainError> {
    conclusion::Entity::insert(conclusion_row(c))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn update_conclusion(db: &impl Write, c: &Conclusion) -> Result<(), DomainError> {
    conclusion::Entity::update(conclusion_row(c))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn find_conclusion(db: &impl Read, id: &str) -> Result<Option<Conclusion>, DomainError> {
    conclusion::Entity::find_by_id(id.to_string())
        .one(db)
        .await?
        .map(conclusion_from_row)
        .transpose()
}

/// Conclusions, oldest first, after the cursor.
pub async fn list_conclusions(
    db: &impl Read,
    status: Option<ConclusionStatus>,
    after: Option<&(i64, String)>,
    limit: u64,
) -> Result<Vec<Conclusion>, DomainError> {
    use conclusion::Column as C;
    let mut q = conclusion::Entity::find();
    if let Some(s) = status {
        q = q.filter(C::Status.eq(s.as_str()));
    }
    if let Some((us, id)) = after {
        q = q.filter(
            Condition::any().add(C::ConclusionUs.gt(*us)).add(
                Condition::all()
                    .add(C::ConclusionUs.eq(*us))
                    .add(C::Id.gt(id.clone())),
            ),
        );
    }
    q.order_by_asc(C::ConclusionUs)
        .order_by_asc(C::Id)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(conclusion_from_row)
        .collect()
}

// ---- petitions ----
