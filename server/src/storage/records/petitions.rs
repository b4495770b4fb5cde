//! Petitions, petitioners and cases, with the filtered listings and the overdue ones.

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::*;
use crate::domain::DomainError;
use crate::domain::model::{Case, CaseStatus, Petition, PetitionStatus, PetitionType, Petitioner};
use crate::storage::entities::{case, petition, petitioner};
use crate::storage::{Read, Write};

pub async fn insert_petition(db: &impl Write, p: &Petition) -> Result<(), DomainError> {
    petition::Entity::insert(petition_row(p)).exec(db).await?;
    Ok(())
}

pub async fn update_petition(db: &impl Write, p: &Petition) -> Result<(), DomainError> {
    petition::Entity::update(petition_row(p)).exec(db).await?;
    Ok(())
}

pub async fn find_petition(db: &impl Read, id: &str) -> Result<Option<Petition>, DomainError> {
    petition::Entity::find_by_id(id.to_string())
        .one(db)
        .await?
        .map(petition_from_row)
        .transpose()
}

pub async fn insert_petitioner(
    db: &impl Write,
    petition_id: &str,
    p: &Petitioner,
) -> Result<(), DomainError> {
    petitioner::Entity::insert(petitioner::ActiveModel {
        petition_id: Set(petition_id.to_string()),
        full_name: Set(p.full_name.clone()),
        address: Set(p.address.clone()),
        id_number: Set(p.id_number.clone()),
        phone: Set(p.phone.clone()),
        email: Set(p.email.clone()),
    })
    .exec(db)
    .await?;
    Ok(())
}

pub async fn find_petitioner(
    db: &impl Read,
    petition_id: &str,
) -> Result<Option<Petitioner>, DomainError> {
    Ok(petitioner::Entity::find_by_id(petition_id.to_string())
        .one(db)
        .await?
        .map(|r| Petitioner {
            full_name: r.full_name,
            address: r.address,
            id_number: r.id_number,
            phone: r.phone,
            email: r.email,
        }))
}

/// Filters of a petition listing.
#[derive(Debug, Default, Clone)]
pub struct PetitionFilter {
    pub status: Option<PetitionStatus>,
    pub petition_type: Option<PetitionType>,
    pub unit_code: Option<String>,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    /// Only petitions still pending whose due date is before this local day.
    pub due_before: Option<NaiveDate>,
}

pub(super) const PENDING: [&str; 2] = ["received", "classified"];

/// Petitions matching `filter`, newest first, after the cursor `(received_us, id)`.
pub async fn list_petitions(
    db: &impl Read,
    filter: &PetitionFilter,
    after: Option<&(i64, String)>,
    limit: u64,
) -> Result<Vec<Petition>, DomainError> {
    use petition::Column as C;
    let mut q = petition::Entity::find();
    if let Some(s) = filter.status {
        q = q.filter(C::Status.eq(s.as_str()));
    }
    if let Some(t) = filter.petition_type {
        q = q.filter(C::PetitionType.eq(t.as_str()));
    }
    if let Some(u) = &filter.unit_code {
        q = q.filter(C::UnitCode.eq(u.clone()));
    }
    if let Some(s) = filter.start {
        q = q.filter(C::ReceivedUs.gte(to_us(s)));
    }
    if let Some(e) = filter.end {
        q = q.filter(C::ReceivedUs.lt(to_us(e)));
    }
    if let Some(d) = filter.due_before {
        q = q.filter(C::Status.is_in(PENDING)).filter(C::DueDate.lt(d));
    }
    if let Some((us, id)) = after {
        q = q.filter(
            Condition::any().add(C::ReceivedUs.lt(*us)).add(
                Condition::all()
                    .add(C::ReceivedUs.eq(*us))
                    .add(C::Id.lt(id.clone())),
            ),
        );
    }
    q.order_by_desc(C::ReceivedUs)
        .order_by_desc(C::Id)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(petition_from_row)
        .collect()
}

/// Pending petitions due before `today`, by due date then id, after the cursor.
pub async fn overdue_petitions(
    db: &impl Read,
    today: NaiveDate,
    after: Option<&(NaiveDate, String)>,
    limit: u64,
) -> Result<Vec<Petition>, DomainError> {
    use petition::Column as C;
    let mut q = petition::Entity::find()
        .filter(C::Status.is_in(PENDING))
        .filter(C::DueDate.lt(today));
    if let Some((d, id)) = after {
        q = q.filter(
            Condition::any().add(C::DueDate.gt(*d)).add(
                Condition::all()
                    .add(C::DueDate.eq(*d))
                    .add(C::Id.gt(id.clone())),
            ),
        );
    }
    q.order_by_asc(C::DueDate)
        .order_by_asc(C::Id)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(petition_from_row)
        .collect()
}

// ---- cases ----

pub async fn insert_case(db: &impl Write, c: &Case) -> Result<(), DomainError> {
    case::Entity::insert(case_row(c)).exec(db).await?;
    Ok(())
}

pub async fn update_case(db: &impl Write, c: &Case) -> Result<(), DomainError> {
    case::Entity::update(case_row(c)).exec(db).await?;
    Ok(())
}

pub(super) async fn case_petition_ids(
    db: &impl Read,
    case_id: &str,
) -> Result<Vec<String>, DomainError> {
    Ok(petition::Entity::find()
        .select_only()
        .column(petition::Column::Id)
        .filter(petition::Column::CaseId.eq(case_id))
        .order_by_asc(petition::Column::ReceivedUs)
        .order_by_asc(petition::Column::Id)
        .into_tuple::<String>()
        .all(db)
        .await?)
}

pub async fn find_case(db: &impl Read, id: &str) -> Result<Option<Case>, DomainError> {
    match case::Entity::find_by_id(id.to_string()).one(db).await? {
        None => Ok(None),
        Some(row) => {
            let ids = case_petition_ids(db, id).await?;
            case_from_row(row, ids).map(Some)
        }
    }
}

pub(super) async fn with_petitions(
    db: &impl Read,
    rows: Vec<case::Model>,
) -> Result<Vec<Case>, DomainError> {
    let mut cases = Vec::with_capacity(rows.len());
    for row in rows {
        let ids = case_petition_ids(db, &row.id).await?;
        cases.push(case_from_row(row, ids)?);
    }
    Ok(cases)
}

/// Filters of a case listing.
#[derive(Debug, Default, Clone)]
pub struct CaseFilter {
    pub status: Option<CaseStatus>,
    pub case_type: Option<PetitionType>,
    pub owner_unit: Option<String>,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    /// Only open cases due before this local day.
    pub due_before: Option<NaiveDate>,
}

/// Cases matching `filter`, newest first, after the cursor `(accept_us, id)`.
pub async fn list_cases(
    db: &impl Read,
    filter: &CaseFilter,
    after: Option<&(i64, String)>,
    limit: u64,
) -> Result<Vec<Case>, DomainError> {
    use case::Column as C;
    let mut q = case::Entity::find();
    if let Some(s) = filter.status {
        q = q.filter(C::Status.eq(s.as_str()));
    }
    if let Some(t) = filter.case_type {
        q = q.filter(C::CaseType.eq(t.as_str()));
    }
    if let Some(u) = &filter.owner_unit {
        q = q.filter(C::OwnerUnit.eq(u.clone()));
    }
    if let Some(s) = filter.start {
        q = q.filter(C::AcceptUs.gte(to_us(s)));
    }
    if let Some(e) = filter.end {
        q = q.filter(C::AcceptUs.lt(to_us(e)));
    }
    if let Some(d) = filter.due_before {
        q = q.filter(C::Status.eq("open")).filter(C::DueDate.lt(d));
    }
    if let Some((us, id)) = after {
        q = q.filter(
            Condition::any().add(C::AcceptUs.lt(*us)).add(
                Condition::all()
                    .add(C::AcceptUs.eq(*us))
                    .add(C::Id.lt(id.clone())),
            ),
        );
    }
    let rows = q
        .order_by_desc(C::AcceptUs)
        .order_by_desc(C::Id)
        .limit(limit)
        .all(db)
        .await?;
    with_petitions(db, rows).await
}

/// Open cases due before `today`, by due date then id, after the cursor.
pub async fn overdue_cases(
    db: &impl Read,
    today: NaiveDate,
    after: Option<&(NaiveDate, String)>,
    limit: u64,
) -> Result<Vec<Case>, DomainError> {
    use case::Column as C;
    let mut q = case::Entity::find()
        .filter(C::Status.eq("open"))
        .filter(C::DueDate.lt(today));
    if let Some((d, id)) = after {
        q = q.filter(
            Condition::any().add(C::DueDate.gt(*d)).add(
                Condition::all()
                    .add(C::DueDate.eq(*d))
                    .add(C::Id.gt(id.clone())),
            ),
        );
    }
    let rows = q
        .order_by_asc(C::DueDate)
        .order_by_asc(C::Id)
        .limit(limit)
        .all(db)
        .await?;
    with_petitions(db, rows).await
}

/// Pending petitions and open cases past their due date at `today`, counted by type (a
/// petition not classified yet has none): one grouped count each, whatever their number.
pub async fn count_overdue(
    db: &impl Read,
    today: NaiveDate,
) -> Result<(Vec<(Option<String>, i64)>, Vec<(String, i64)>), DomainError> {
    use sea_orm::sea_query::{Expr, ExprTrait};
    let petitions = petition::Entity::find()
        .select_only()
        .column(petition::Column::PetitionType)
        .column_as(Expr::col(petition::Column::Id).count(), "n")
        .filter(petition::Column::Status.is_in(PENDING))
        .filter(petition::Column::DueDate.lt(today))
        .group_by(petition::Column::PetitionType)
        .into_tuple()
        .all(db)
        .await?;
    let cases = case::Entity::find()
        .select_only()
        .column(case::Column::CaseType)
        .column_as(Expr::col(case::Column::Id).count(), "n")
        .filter(case::Column::Status.eq("open"))
        .filter(case::Column::DueDate.lt(today))
        .group_by(case::Column::CaseType)
        .into_tuple()
        .all(db)
        .await?;
    Ok((petitions, cases))
}

// ---- request log and counters ----
