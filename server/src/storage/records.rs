//! Repositories: conversion between stored rows and domain records, and the queries the
//! registry runs. Functions take any connection, so the same code reads from the pool and
//! inside the write transaction.

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder, QuerySelect,
};

use super::entities::{
    case, conclusion, counter, petition, petitioner, request_log, schedule_entry, unit, visit,
};
use crate::domain::DomainError;
use crate::domain::model::{
    Case, CaseOutcome, CaseStatus, Channel, Classification, Conclusion, ConclusionStatus,
    Eligibility, Field, FileReason, Jurisdiction, MatterKind, Petition, PetitionResult,
    PetitionStatus, PetitionType, Petitioner, ReceiverRole, ReceptionAction, ReceptionKind,
    ScheduleEntry, Unit, UnitLevel, Visit,
};

/// Microseconds since the epoch, as stored.
pub fn to_us(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

/// The instant of a stored microsecond count.
pub fn from_us(us: i64) -> Result<DateTime<Utc>, DomainError> {
    DateTime::from_timestamp_micros(us)
        .ok_or_else(|| DomainError::Storage(format!("stored time {us} out of range")))
}

fn opt_us(us: Option<i64>) -> Result<Option<DateTime<Utc>>, DomainError> {
    us.map(from_us).transpose()
}

fn parse<T>(parse: fn(&str) -> Option<T>, column: &str, value: &str) -> Result<T, DomainError> {
    parse(value).ok_or_else(|| DomainError::Storage(format!("bad stored {column}: {value:?}")))
}

fn parse_opt<T>(
    f: fn(&str) -> Option<T>,
    column: &str,
    value: Option<&str>,
) -> Result<Option<T>, DomainError> {
    value.map(|v| parse(f, column, v)).transpose()
}

fn count(n: u32) -> i64 {
    i64::from(n)
}

fn to_count(n: i64, column: &str) -> Result<u32, DomainError> {
    u32::try_from(n).map_err(|_| DomainError::Storage(format!("bad stored {column}: {n}")))
}

// ---- units ----

pub fn unit_from_row(row: unit::Model) -> Result<Unit, DomainError> {
    Ok(Unit {
        level: parse(UnitLevel::parse, "unit.level", &row.level)?,
        code: row.code,
        name: row.name,
        parent_code: row.parent_code,
        remote: row.remote,
    })
}

pub fn unit_row(u: &Unit, is_self: bool) -> unit::ActiveModel {
    unit::ActiveModel {
        code: Set(u.code.clone()),
        name: Set(u.name.clone()),
        level: Set(u.level.as_str().to_string()),
        parent_code: Set(u.parent_code.clone()),
        remote: Set(u.remote),
        is_self: Set(is_self),
    }
}

pub async fn find_unit(db: &impl ConnectionTrait, code: &str) -> Result<Option<Unit>, DomainError> {
    unit::Entity::find_by_id(code.to_string())
        .one(db)
        .await?
        .map(unit_from_row)
        .transpose()
}

/// The unit the database belongs to, once a node has started on it.
pub async fn find_self(db: &impl ConnectionTrait) -> Result<Option<Unit>, DomainError> {
    unit::Entity::find()
        .filter(unit::Column::IsSelf.eq(true))
        .one(db)
        .await?
        .map(unit_from_row)
        .transpose()
}

pub async fn all_units(db: &impl ConnectionTrait) -> Result<Vec<Unit>, DomainError> {
    unit::Entity::find()
        .order_by_asc(unit::Column::Code)
        .all(db)
        .await?
        .into_iter()
        .map(unit_from_row)
        .collect()
}

/// Inserts or replaces a unit.
pub async fn save_unit(
    db: &impl ConnectionTrait,
    u: &Unit,
    is_self: bool,
) -> Result<(), DomainError> {
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

pub fn visit_from_row(r: visit::Model) -> Result<Visit, DomainError> {
    Ok(Visit {
        visit_time: from_us(r.visit_us)?,
        kind: parse(ReceptionKind::parse, "visit.kind", &r.kind)?,
        receiver_role: parse(ReceiverRole::parse, "visit.receiver_role", &r.receiver_role)?,
        persons: to_count(r.persons, "visit.persons")?,
        matter: parse(MatterKind::parse, "visit.matter", &r.matter)?,
        action: parse(ReceptionAction::parse, "visit.action", &r.action)?,
        create_time: from_us(r.create_us)?,
        id: r.id,
        unit_code: r.unit_code,
        receiver_name: r.receiver_name,
        crowd_group: r.crowd_group,
        summary: r.summary,
        schedule_entry_id: r.schedule_entry_id,
    })
}

pub async fn insert_visit(db: &impl ConnectionTrait, v: &Visit) -> Result<(), DomainError> {
    visit::Entity::insert(visit::ActiveModel {
        id: Set(v.id.clone()),
        unit_code: Set(v.unit_code.clone()),
        visit_us: Set(to_us(v.visit_time)),
        kind: Set(v.kind.as_str().into()),
        receiver_role: Set(v.receiver_role.as_str().into()),
        receiver_name: Set(v.receiver_name.clone()),
        persons: Set(count(v.persons)),
        crowd_group: Set(v.crowd_group),
        matter: Set(v.matter.as_str().into()),
        action: Set(v.action.as_str().into()),
        summary: Set(v.summary.clone()),
        schedule_entry_id: Set(v.schedule_entry_id.clone()),
        create_us: Set(to_us(v.create_time)),
    })
    .exec(db)
    .await?;
    Ok(())
}

pub async fn find_visit(db: &impl ConnectionTrait, id: &str) -> Result<Option<Visit>, DomainError> {
    visit::Entity::find_by_id(id.to_string())
        .one(db)
        .await?
        .map(visit_from_row)
        .transpose()
}

/// Visits in `[start, end)`, newest first, after the page cursor `(visit_us, id)`.
pub async fn list_visits(
    db: &impl ConnectionTrait,
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

pub fn schedule_from_row(r: schedule_entry::Model) -> Result<ScheduleEntry, DomainError> {
    Ok(ScheduleEntry {
        receiver_role: parse(
            ReceiverRole::parse,
            "schedule.receiver_role",
            &r.receiver_role,
        )?,
        start_time: from_us(r.start_us)?,
        end_time: from_us(r.end_us)?,
        id: r.id,
        unit_code: r.unit_code,
        receiver_name: r.receiver_name,
        location: r.location,
    })
}

pub async fn insert_schedule(
    db: &impl ConnectionTrait,
    e: &ScheduleEntry,
) -> Result<(), DomainError> {
    schedule_entry::Entity::insert(schedule_entry::ActiveModel {
        id: Set(e.id.clone()),
        unit_code: Set(e.unit_code.clone()),
        receiver_role: Set(e.receiver_role.as_str().into()),
        receiver_name: Set(e.receiver_name.clone()),
        start_us: Set(to_us(e.start_time)),
        end_us: Set(to_us(e.end_time)),
        location: Set(e.location.clone()),
    })
    .exec(db)
    .await?;
    Ok(())
}

pub async fn find_schedule(
    db: &impl ConnectionTrait,
    id: &str,
) -> Result<Option<ScheduleEntry>, DomainError> {
    schedule_entry::Entity::find_by_id(id.to_string())
        .one(db)
        .await?
        .map(schedule_from_row)
        .transpose()
}

/// Schedule entries starting in `[start, end)`, soonest first, after the cursor.
pub async fn list_schedule(
    db: &impl ConnectionTrait,
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

pub fn conclusion_from_row(r: conclusion::Model) -> Result<Conclusion, DomainError> {
    Ok(Conclusion {
        conclusion_time: from_us(r.conclusion_us)?,
        status: parse(ConclusionStatus::parse, "conclusion.status", &r.status)?,
        done_time: opt_us(r.done_us)?,
        id: r.id,
        unit_code: r.unit_code,
        visit_id: r.visit_id,
        text: r.text,
        assignee: r.assignee,
        progress_note: r.progress_note,
    })
}

fn conclusion_row(c: &Conclusion) -> conclusion::ActiveModel {
    conclusion::ActiveModel {
        id: Set(c.id.clone()),
        unit_code: Set(c.unit_code.clone()),
        visit_id: Set(c.visit_id.clone()),
        text: Set(c.text.clone()),
        assignee: Set(c.assignee.clone()),
        conclusion_us: Set(to_us(c.conclusion_time)),
        status: Set(c.status.as_str().into()),
        progress_note: Set(c.progress_note.clone()),
        done_us: Set(c.done_time.map(to_us)),
    }
}

pub async fn insert_conclusion(
    db: &impl ConnectionTrait,
    c: &Conclusion,
) -> Result<(), DomainError> {
    conclusion::Entity::insert(conclusion_row(c))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn update_conclusion(
    db: &impl ConnectionTrait,
    c: &Conclusion,
) -> Result<(), DomainError> {
    conclusion::Entity::update(conclusion_row(c))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn find_conclusion(
    db: &impl ConnectionTrait,
    id: &str,
) -> Result<Option<Conclusion>, DomainError> {
    conclusion::Entity::find_by_id(id.to_string())
        .one(db)
        .await?
        .map(conclusion_from_row)
        .transpose()
}

/// Conclusions, oldest first, after the cursor.
pub async fn list_conclusions(
    db: &impl ConnectionTrait,
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

pub fn petition_from_row(r: petition::Model) -> Result<Petition, DomainError> {
    let petition_type = parse_opt(
        PetitionType::parse,
        "petition.type",
        r.petition_type.as_deref(),
    )?;
    let field = parse_opt(Field::parse, "petition.field", r.field.as_deref())?;
    let eligibility = parse_opt(
        Eligibility::parse,
        "petition.eligibility",
        r.eligibility.as_deref(),
    )?;
    let jurisdiction = parse_opt(
        Jurisdiction::parse,
        "petition.jurisdiction",
        r.jurisdiction.as_deref(),
    )?;
    let classification = match (petition_type, field, eligibility, jurisdiction) {
        (Some(petition_type), Some(field), Some(eligibility), Some(jurisdiction)) => {
            Some(Classification {
                petition_type,
                field,
                complaint_round: to_count(r.complaint_round, "petition.complaint_round")?,
                eligibility,
                jurisdiction,
                has_evidence: r.has_evidence,
            })
        }
        _ => None,
    };
    Ok(Petition {
        received_time: from_us(r.received_us)?,
        channel: parse(Channel::parse, "petition.channel", &r.channel)?,
        status: parse(PetitionStatus::parse, "petition.status", &r.status)?,
        signers: to_count(r.signers, "petition.signers")?,
        file_reason: parse_opt(
            FileReason::parse,
            "petition.file_reason",
            r.file_reason.as_deref(),
        )?,
        processed_time: opt_us(r.processed_us)?,
        version: to_count(r.version, "petition.version")?,
        update_time: from_us(r.update_us)?,
        classification,
        id: r.id,
        unit_code: r.unit_code,
        summary: r.summary,
        anonymous: r.anonymous,
        visit_id: r.visit_id,
        case_id: r.case_id,
        transferred_to_unit: r.transferred_to_unit,
        outside_body: r.outside_body,
        note: r.note,
        due_date: r.due_date,
        result: match (r.result_case_id, r.result_outcome, r.result_us) {
            (Some(case_id), Some(outcome), Some(us)) => Some(PetitionResult {
                case_id,
                outcome: parse(CaseOutcome::parse, "petition.result_outcome", &outcome)?,
                decision_time: from_us(us)?,
            }),
            _ => None,
        },
        source_petition_id: r.source_petition_id,
        source_unit: r.source_unit,
    })
}

fn petition_row(p: &Petition) -> petition::ActiveModel {
    let c = p.classification.as_ref();
    petition::ActiveModel {
        id: Set(p.id.clone()),
        unit_code: Set(p.unit_code.clone()),
        received_us: Set(to_us(p.received_time)),
        channel: Set(p.channel.as_str().into()),
        summary: Set(p.summary.clone()),
        status: Set(p.status.as_str().into()),
        anonymous: Set(p.anonymous),
        signers: Set(count(p.signers)),
        visit_id: Set(p.visit_id.clone()),
        petition_type: Set(c.map(|c| c.petition_type.as_str().into())),
        field: Set(c.map(|c| c.field.as_str().into())),
        complaint_round: Set(c.map_or(0, |c| count(c.complaint_round))),
        eligibility: Set(c.map(|c| c.eligibility.as_str().into())),
        jurisdiction: Set(c.map(|c| c.jurisdiction.as_str().into())),
        has_evidence: Set(c.is_some_and(|c| c.has_evidence)),
        case_id: Set(p.case_id.clone()),
        transferred_to_unit: Set(p.transferred_to_unit.clone()),
        outside_body: Set(p.outside_body.clone()),
        file_reason: Set(p.file_reason.map(|r| r.as_str().into())),
        note: Set(p.note.clone()),
        due_date: Set(p.due_date),
        processed_us: Set(p.processed_time.map(to_us)),
        version: Set(count(p.version)),
        update_us: Set(to_us(p.update_time)),
        source_petition_id: Set(p.source_petition_id.clone()),
        source_unit: Set(p.source_unit.clone()),
        result_case_id: Set(p.result.as_ref().map(|r| r.case_id.clone())),
        result_outcome: Set(p.result.as_ref().map(|r| r.outcome.as_str().to_string())),
        result_us: Set(p.result.as_ref().map(|r| to_us(r.decision_time))),
    }
}

pub async fn insert_petition(db: &impl ConnectionTrait, p: &Petition) -> Result<(), DomainError> {
    petition::Entity::insert(petition_row(p)).exec(db).await?;
    Ok(())
}

pub async fn update_petition(db: &impl ConnectionTrait, p: &Petition) -> Result<(), DomainError> {
    petition::Entity::update(petition_row(p)).exec(db).await?;
    Ok(())
}

pub async fn find_petition(
    db: &impl ConnectionTrait,
    id: &str,
) -> Result<Option<Petition>, DomainError> {
    petition::Entity::find_by_id(id.to_string())
        .one(db)
        .await?
        .map(petition_from_row)
        .transpose()
}

pub async fn insert_petitioner(
    db: &impl ConnectionTrait,
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
    db: &impl ConnectionTrait,
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

const PENDING: [&str; 2] = ["received", "classified"];

/// Petitions matching `filter`, newest first, after the cursor `(received_us, id)`.
pub async fn list_petitions(
    db: &impl ConnectionTrait,
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
    db: &impl ConnectionTrait,
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

pub fn case_from_row(r: case::Model, petition_ids: Vec<String>) -> Result<Case, DomainError> {
    Ok(Case {
        case_type: parse(PetitionType::parse, "case.type", &r.case_type)?,
        field: parse(Field::parse, "case.field", &r.field)?,
        complaint_round: to_count(r.complaint_round, "case.complaint_round")?,
        extensions: to_count(r.extensions, "case.extensions")?,
        status: parse(CaseStatus::parse, "case.status", &r.status)?,
        accept_time: from_us(r.accept_us)?,
        outcome: parse_opt(CaseOutcome::parse, "case.outcome", r.outcome.as_deref())?,
        decision_time: opt_us(r.decision_us)?,
        effective_time: opt_us(r.effective_us)?,
        enforced_time: opt_us(r.enforced_us)?,
        version: to_count(r.version, "case.version")?,
        update_time: from_us(r.update_us)?,
        petition_ids,
        id: r.id,
        owner_unit: r.owner_unit,
        complex: r.complex,
        due_date: r.due_date,
        decision_number: r.decision_number,
        money_to_recover_vnd: r.money_to_recover_vnd,
        land_to_recover_m2: r.land_to_recover_m2,
        money_recovered_vnd: r.money_recovered_vnd,
        land_recovered_m2: r.land_recovered_m2,
    })
}

fn case_row(c: &Case) -> case::ActiveModel {
    case::ActiveModel {
        id: Set(c.id.clone()),
        owner_unit: Set(c.owner_unit.clone()),
        case_type: Set(c.case_type.as_str().into()),
        field: Set(c.field.as_str().into()),
        complaint_round: Set(count(c.complaint_round)),
        complex: Set(c.complex),
        extensions: Set(count(c.extensions)),
        status: Set(c.status.as_str().into()),
        accept_us: Set(to_us(c.accept_time)),
        due_date: Set(c.due_date),
        outcome: Set(c.outcome.map(|o| o.as_str().into())),
        decision_number: Set(c.decision_number.clone()),
        decision_us: Set(c.decision_time.map(to_us)),
        money_to_recover_vnd: Set(c.money_to_recover_vnd),
        land_to_recover_m2: Set(c.land_to_recover_m2),
        effective_us: Set(c.effective_time.map(to_us)),
        money_recovered_vnd: Set(c.money_recovered_vnd),
        land_recovered_m2: Set(c.land_recovered_m2),
        enforced_us: Set(c.enforced_time.map(to_us)),
        version: Set(count(c.version)),
        update_us: Set(to_us(c.update_time)),
    }
}

pub async fn insert_case(db: &impl ConnectionTrait, c: &Case) -> Result<(), DomainError> {
    case::Entity::insert(case_row(c)).exec(db).await?;
    Ok(())
}

pub async fn update_case(db: &impl ConnectionTrait, c: &Case) -> Result<(), DomainError> {
    case::Entity::update(case_row(c)).exec(db).await?;
    Ok(())
}

async fn case_petition_ids(
    db: &impl ConnectionTrait,
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

pub async fn find_case(db: &impl ConnectionTrait, id: &str) -> Result<Option<Case>, DomainError> {
    match case::Entity::find_by_id(id.to_string()).one(db).await? {
        None => Ok(None),
        Some(row) => {
            let ids = case_petition_ids(db, id).await?;
            case_from_row(row, ids).map(Some)
        }
    }
}

async fn with_petitions(
    db: &impl ConnectionTrait,
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
    db: &impl ConnectionTrait,
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
    db: &impl ConnectionTrait,
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

// ---- request log and counters ----

pub async fn find_request(
    db: &impl ConnectionTrait,
    request_id: &str,
) -> Result<Option<request_log::Model>, DomainError> {
    Ok(request_log::Entity::find_by_id(request_id.to_string())
        .one(db)
        .await?)
}

pub async fn insert_request(
    db: &impl ConnectionTrait,
    row: request_log::Model,
) -> Result<(), DomainError> {
    request_log::Entity::insert(row.into_active_model())
        .exec(db)
        .await?;
    Ok(())
}

/// The next value of a named counter; call inside the write transaction.
pub async fn next_counter(db: &impl ConnectionTrait, name: &str) -> Result<i64, DomainError> {
    let updated = counter::Entity::update_many()
        .col_expr(
            counter::Column::Value,
            Expr::col(counter::Column::Value).add(1),
        )
        .filter(counter::Column::Name.eq(name))
        .exec(db)
        .await?;
    if updated.rows_affected == 0 {
        counter::Entity::insert(counter::ActiveModel {
            name: Set(name.to_string()),
            value: Set(1),
        })
        .exec(db)
        .await?;
        return Ok(1);
    }
    let row = counter::Entity::find_by_id(name.to_string())
        .one(db)
        .await?
        .ok_or_else(|| DomainError::Storage(format!("counter {name} vanished")))?;
    Ok(row.value)
}

// ---- copies of records from the subtree ----

/// Inserts or replaces a visit; returns the one it replaced.
pub async fn upsert_visit(
    db: &impl ConnectionTrait,
    v: &Visit,
) -> Result<Option<Visit>, DomainError> {
    let before = find_visit(db, &v.id).await?;
    if before.is_some() {
        visit::Entity::delete_by_id(v.id.clone()).exec(db).await?;
    }
    insert_visit(db, v).await?;
    Ok(before)
}

/// Inserts or replaces a schedule entry.
pub async fn upsert_schedule(
    db: &impl ConnectionTrait,
    e: &ScheduleEntry,
) -> Result<(), DomainError> {
    schedule_entry::Entity::delete_by_id(e.id.clone())
        .exec(db)
        .await?;
    insert_schedule(db, e).await
}

/// Inserts or replaces a conclusion.
pub async fn upsert_conclusion(
    db: &impl ConnectionTrait,
    c: &Conclusion,
) -> Result<(), DomainError> {
    if find_conclusion(db, &c.id).await?.is_some() {
        update_conclusion(db, c).await
    } else {
        insert_conclusion(db, c).await
    }
}

/// Inserts or replaces a petition; returns the one it replaced.
pub async fn upsert_petition(
    db: &impl ConnectionTrait,
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
pub async fn upsert_case(db: &impl ConnectionTrait, c: &Case) -> Result<Option<Case>, DomainError> {
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
    db: &impl ConnectionTrait,
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

/// Writes accumulated changes of the totals: the day rows and, in the same transaction, the
/// rollups of the spans holding each day (`report::span`), so that every rollup row stays the
/// sum of its day rows whoever writes.
pub async fn flush_tally(
    db: &impl ConnectionTrait,
    delta: crate::report::tally::Delta,
) -> Result<(), DomainError> {
    let mut inserts = Inserts::new(db.get_database_backend());
    add_tally(&mut inserts, delta)?;
    Ok(inserts.run(db).await?)
}

/// `flush_tally` as inserts to send with others.
pub fn add_tally(
    inserts: &mut Inserts,
    delta: crate::report::tally::Delta,
) -> Result<(), sea_orm::DbErr> {
    use super::entities::tally;
    let rollups = crate::report::tally::rollups_of(&delta.sums);
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
    db: &impl ConnectionTrait,
    sums: std::collections::BTreeMap<crate::report::tally::RollupKey, i64>,
) -> Result<(), sea_orm::DbErr> {
    let mut inserts = Inserts::new(db.get_database_backend());
    add_rollups(&mut inserts, sums)?;
    inserts.run(db).await
}

fn add_rollups(
    inserts: &mut Inserts,
    sums: std::collections::BTreeMap<crate::report::tally::RollupKey, i64>,
) -> Result<(), sea_orm::DbErr> {
    use super::entities::tally_rollup;
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
    db: &impl ConnectionTrait,
    subtree: bool,
    unit: &str,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> Result<std::collections::BTreeMap<String, i64>, DomainError> {
    use super::entities::tally;
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

/// Inserts many new petitions with multi-row INSERTs (for loading a register at once).
pub async fn insert_petitions(
    db: &impl ConnectionTrait,
    ps: &[Petition],
) -> Result<(), DomainError> {
    // 29 columns a row: 500 rows stay below both drivers' bind-parameter limits.
    for chunk in ps.chunks(500) {
        petition::Entity::insert_many(chunk.iter().map(petition_row))
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

fn visit_active(v: &Visit) -> visit::ActiveModel {
    visit::ActiveModel {
        id: Set(v.id.clone()),
        unit_code: Set(v.unit_code.clone()),
        visit_us: Set(to_us(v.visit_time)),
        kind: Set(v.kind.as_str().into()),
        receiver_role: Set(v.receiver_role.as_str().into()),
        receiver_name: Set(v.receiver_name.clone()),
        persons: Set(count(v.persons)),
        crowd_group: Set(v.crowd_group),
        matter: Set(v.matter.as_str().into()),
        action: Set(v.action.as_str().into()),
        summary: Set(v.summary.clone()),
        schedule_entry_id: Set(v.schedule_entry_id.clone()),
        create_us: Set(to_us(v.create_time)),
    }
}

fn schedule_active(e: &ScheduleEntry) -> schedule_entry::ActiveModel {
    schedule_entry::ActiveModel {
        id: Set(e.id.clone()),
        unit_code: Set(e.unit_code.clone()),
        receiver_role: Set(e.receiver_role.as_str().into()),
        receiver_name: Set(e.receiver_name.clone()),
        start_us: Set(to_us(e.start_time)),
        end_us: Set(to_us(e.end_time)),
        location: Set(e.location.clone()),
    }
}

/// Rows a multi-row statement carries: at most 29 columns a row keeps 500 rows below both
/// drivers' bind-parameter limits (SQLite 32,766; PostgreSQL 65,535).
const BULK_ROWS: usize = 500;

/// Values one round trip of `Inserts` binds at most, below SQLite's limit of 32,766 (the
/// limit is a statement's; SQLite's driver binds each statement of a call on its own, but
/// PostgreSQL's one statement binds them all).
const ROUND_TRIP_VALUES: usize = 32_000;

/// What a bulk insert does with a row whose primary key is stored already.
pub enum OnKey<C> {
    /// Refuses it: the rows are new.
    Refuse,
    /// The stored row takes every other column of the new one.
    Replace,
    /// The stored row's column grows by the new row's.
    Add(C),
}

/// Inserts `rows` in multi-row statements of `BULK_ROWS` rows (see `Inserts`).
pub async fn insert_rows<A>(
    db: &impl ConnectionTrait,
    rows: Vec<A>,
    on_key: OnKey<<A::Entity as EntityTrait>::Column>,
) -> Result<(), sea_orm::DbErr>
where
    A: sea_orm::ActiveModelTrait + Send,
{
    let mut inserts = Inserts::new(db.get_database_backend());
    inserts.add(rows, on_key)?;
    inserts.run(db).await
}

/// Bulk inserts into several tables, sent to the database together. Each round trip to the
/// connection cost an apply more than the statement it carried: a live batch of one event
/// at a town made five inserts (its record, its journal row, the head, the day totals, the
/// rollups), each handed to SQLite's connection thread and back, or to PostgreSQL's backend
/// and back, in turn (BENCHMARKS.md). Here they go in one: on SQLite as statements separated
/// by `;`, which its driver runs one after another in one call, binding the values in order;
/// on PostgreSQL as one statement whose inserts but the last are the data-modifying parts of
/// its `WITH`, run once each. Those see the same snapshot, so keys must be unique within a
/// table, as within one multi-row statement (PostgreSQL refuses to update a row twice).
/// A full multi-row statement still goes alone, its text the same every time, so the driver
/// keeps it prepared: sent with others, whose texts vary, it could not be, and PostgreSQL
/// ingest and catch-up were 11–30 % slower (BENCHMARKS.md). On PostgreSQL, rows without a
/// NULL go as one array a column instead (`UNNEST`, see `unnest`), a statement whose text
/// does not change with its rows. Run them in a transaction: on SQLite the statements before
/// a refused one have run when the error comes back.
///
/// Each multi-row statement's SQL and values are written here, column by column in the
/// entity's order. sea-orm's `insert_many` builds the same statement through its query
/// builder, value by value, with copies: that was half of what a catch-up's apply did outside
/// the database while the writer waited (perf, BENCHMARKS.md).
pub struct Inserts {
    backend: sea_orm::DbBackend,
    trips: Vec<Trip>,
}

/// The statements of one round trip and their values.
struct Trip {
    statements: Vec<String>,
    values: Vec<sea_orm::Value>,
    /// One full statement that goes alone.
    alone: bool,
}

impl Inserts {
    pub fn new(backend: sea_orm::DbBackend) -> Inserts {
        Inserts {
            backend,
            trips: Vec::new(),
        }
    }

    /// Adds the inserts of `rows`, every column set (a row with a column not set is refused
    /// here, before anything is sent).
    pub fn add<A>(
        &mut self,
        rows: Vec<A>,
        on_key: OnKey<<A::Entity as EntityTrait>::Column>,
    ) -> Result<(), sea_orm::DbErr>
    where
        A: sea_orm::ActiveModelTrait + Send,
    {
        use sea_orm::{ActiveValue, DbBackend, EntityName, IdenStatic, Iterable};
        use std::fmt::Write;
        let table = <A::Entity as Default>::default().table_name();
        let columns: Vec<_> = <A::Entity as EntityTrait>::Column::iter().collect();
        let list = |cs: &[<A::Entity as EntityTrait>::Column]| {
            cs.iter()
                .map(|c| format!("\"{}\"", c.as_str()))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let key: Vec<_> = <A::Entity as EntityTrait>::PrimaryKey::iter()
            .map(sea_orm::PrimaryKeyToColumn::into_column)
            .collect();
        let head = format!("INSERT INTO \"{table}\" ({})", list(&columns));
        let tail = match &on_key {
            OnKey::Refuse => String::new(),
            OnKey::Replace => {
                let others: Vec<String> = columns
                    .iter()
                    .filter(|c| !key.iter().any(|k| k.as_str() == c.as_str()))
                    .map(|c| format!("\"{0}\" = \"excluded\".\"{0}\"", c.as_str()))
                    .collect();
                if others.is_empty() {
                    format!(" ON CONFLICT ({}) DO NOTHING", list(&key))
                } else {
                    format!(
                        " ON CONFLICT ({}) DO UPDATE SET {}",
                        list(&key),
                        others.join(", ")
                    )
                }
            }
            OnKey::Add(column) => format!(
                " ON CONFLICT ({}) DO UPDATE SET \"{c}\" = \"{table}\".\"{c}\" + \"excluded\".\"{c}\"",
                list(&key),
                c = column.as_str()
            ),
        };
        // Every value, row after row, taken before anything is added: a row with a column not
        // set leaves the inserts as they were.
        let width = columns.len();
        let mut all = Vec::with_capacity(rows.len() * width);
        for mut row in rows {
            for column in &columns {
                match row.take(*column) {
                    ActiveValue::Set(v) | ActiveValue::Unchanged(v) => all.push(v),
                    ActiveValue::NotSet => {
                        return Err(sea_orm::DbErr::Custom(format!(
                            "{table}.{}: not set in a bulk insert",
                            column.as_str()
                        )));
                    }
                }
            }
        }
        if all.is_empty() {
            return Ok(());
        }
        let postgres = self.backend == DbBackend::Postgres;
        if postgres && let Some(statement) = unnest(&head, &tail, width, &mut all) {
            // One parameter a column, whatever the number of rows.
            let Trip {
                statements, values, ..
            } = self.trip(width, false);
            let first = values.len();
            values.append(&mut all);
            statements.push(statement(first));
            return Ok(());
        }
        let mut all = all.into_iter().peekable();
        while all.peek().is_some() {
            let count = (all.len() / width).min(BULK_ROWS);
            let size = count * width;
            // A full statement goes alone: its text is the same every time, so the driver
            // keeps it prepared. The others, whose texts vary with their rows, go together.
            let Trip {
                statements, values, ..
            } = self.trip(size, count == BULK_ROWS);
            let mut sql = format!("{head} VALUES ");
            for i in 0..count {
                sql.push_str(if i == 0 { "(" } else { ", (" });
                for j in 0..width {
                    if j > 0 {
                        sql.push_str(", ");
                    }
                    values.extend(all.next());
                    if postgres {
                        let _ = write!(sql, "${}", values.len());
                    } else {
                        sql.push('?');
                    }
                }
                sql.push(')');
            }
            sql.push_str(&tail);
            statements.push(sql);
        }
        Ok(())
    }

    /// The round trip a statement of `size` values goes in: the last one if it has room and
    /// neither goes alone, else a new one.
    fn trip(&mut self, size: usize, alone: bool) -> &mut Trip {
        if alone
            || self
                .trips
                .last()
                .is_none_or(|t| t.alone || t.values.len() + size > ROUND_TRIP_VALUES)
        {
            self.trips.push(Trip {
                statements: Vec::new(),
                values: Vec::with_capacity(size),
                alone,
            });
        }
        let last = self.trips.len() - 1;
        &mut self.trips[last]
    }

    /// Sends the inserts: each full statement alone, the others together, `ROUND_TRIP_VALUES`
    /// values a round trip at most.
    pub async fn run(self, db: &impl ConnectionTrait) -> Result<(), sea_orm::DbErr> {
        use sea_orm::{DbBackend, Statement};
        for Trip {
            statements, values, ..
        } in self.trips
        {
            let sql = match self.backend {
                DbBackend::Postgres if statements.len() > 1 => {
                    let mut sql = String::from("WITH ");
                    let last = statements.len() - 1;
                    for (i, statement) in statements[..last].iter().enumerate() {
                        if i > 0 {
                            sql.push_str(", ");
                        }
                        sql.push_str(&format!("\"insert_{i}\" AS ({statement})"));
                    }
                    sql.push(' ');
                    sql.push_str(&statements[last]);
                    sql
                }
                _ => statements.join(";\n"),
            };
            db.execute_raw(Statement::from_sql_and_values(self.backend, sql, values))
                .await?;
        }
        Ok(())
    }
}

/// PostgreSQL: the statement inserting `values` (`width` columns a row, row after row) as one
/// array a column, `INSERT … SELECT * FROM UNNEST($1::text[], $2::bigint[], …)`, and `values`
/// turned into those arrays; `None`, `values` untouched, if a value is NULL or of a type that
/// has no array here (the driver binds arrays of non-NULL elements only). Its text does not
/// change with the number of rows, so the driver keeps one prepared statement and PostgreSQL
/// one plan: a multi-row `VALUES` statement's text changes with its row count, and planning
/// one of 1,000 rows took 8–9 ms in `psql`, more than inserting them (BENCHMARKS.md).
fn unnest(
    head: &str,
    tail: &str,
    width: usize,
    values: &mut Vec<sea_orm::Value>,
) -> Option<impl FnOnce(usize) -> String + use<>> {
    use sea_orm::Value;
    use sea_orm::sea_query::ArrayType;
    let kind = |v: &Value| -> Option<(ArrayType, &'static str)> {
        Some(match v {
            Value::Bool(Some(_)) => (ArrayType::Bool, "boolean[]"),
            Value::Int(Some(_)) => (ArrayType::Int, "integer[]"),
            Value::BigInt(Some(_)) => (ArrayType::BigInt, "bigint[]"),
            Value::String(Some(_)) => (ArrayType::String, "text[]"),
            Value::Bytes(Some(_)) => (ArrayType::Bytes, "bytea[]"),
            Value::ChronoDate(Some(_)) => (ArrayType::ChronoDate, "date[]"),
            _ => return None,
        })
    };
    if width == 0 || !values.len().is_multiple_of(width) {
        return None;
    }
    let kinds: Vec<(ArrayType, &'static str)> =
        values[..width].iter().map(kind).collect::<Option<_>>()?;
    let uniform = values
        .iter()
        .enumerate()
        .all(|(i, v)| kind(v).is_some_and(|(_, name)| name == kinds[i % width].1));
    if !uniform {
        return None;
    }
    let rows = values.len() / width;
    let mut columns: Vec<Vec<Value>> = (0..width).map(|_| Vec::with_capacity(rows)).collect();
    for (i, v) in values.drain(..).enumerate() {
        columns[i % width].push(v);
    }
    values.extend(
        columns
            .into_iter()
            .zip(&kinds)
            .map(|(column, (ty, _))| Value::Array(ty.clone(), Some(Box::new(column)))),
    );
    let (head, tail) = (head.to_string(), tail.to_string());
    let casts: Vec<&'static str> = kinds.iter().map(|(_, name)| *name).collect();
    Some(move |first: usize| {
        let arrays: Vec<String> = casts
            .iter()
            .enumerate()
            .map(|(i, name)| format!("CAST(${} AS {name})", first + i + 1))
            .collect();
        format!("{head} SELECT * FROM UNNEST({}){tail}", arrays.join(", "))
    })
}

/// Inserts or replaces visits (ids unique within the call).
pub fn upsert_visits(inserts: &mut Inserts, vs: &[&Visit]) -> Result<(), DomainError> {
    Ok(inserts.add(vs.iter().map(|v| visit_active(v)).collect(), OnKey::Replace)?)
}

/// Inserts or replaces schedule entries (ids unique within the call).
pub fn upsert_schedules(inserts: &mut Inserts, es: &[&ScheduleEntry]) -> Result<(), DomainError> {
    Ok(inserts.add(
        es.iter().map(|e| schedule_active(e)).collect(),
        OnKey::Replace,
    )?)
}

/// Inserts or replaces conclusions (ids unique within the call).
pub fn upsert_conclusions(inserts: &mut Inserts, cs: &[&Conclusion]) -> Result<(), DomainError> {
    Ok(inserts.add(
        cs.iter().map(|c| conclusion_row(c)).collect(),
        OnKey::Replace,
    )?)
}

/// Inserts or replaces petitions (ids unique within the call).
pub fn upsert_petitions(inserts: &mut Inserts, ps: &[&Petition]) -> Result<(), DomainError> {
    Ok(inserts.add(ps.iter().map(|p| petition_row(p)).collect(), OnKey::Replace)?)
}

/// Inserts or replaces cases (ids unique within the call).
pub fn upsert_cases(inserts: &mut Inserts, cs: &[&Case]) -> Result<(), DomainError> {
    Ok(inserts.add(cs.iter().map(|c| case_row(c)).collect(), OnKey::Replace)?)
}

/// The rows of the record table `E` (keyed by `"id"`) whose id is one of `ids`, with one
/// statement whose text does not change however many ids there are: the ids go as one JSON
/// array. An `IN` list with a parameter for each id was built and bound value by value, and
/// split into statements of 500 ids (a catch-up's 2,000 events made four reads).
///
/// On PostgreSQL each id is looked up through the primary key on its own (a `LATERAL`
/// subquery with a `LIMIT` is not flattened into a join). As `"id" IN (SELECT …)`, or
/// `= ANY(…)`, the driver's prepared statement kept the plan it was first given: made on a
/// new node's empty table, a sequential scan, which then read the whole table for every
/// batch applied (1,100–1,200 scans at each node reading 4.7–5.2 million rows in a 10-second
/// propagation run, 1.5–2.3 ms a read at 9,000 visits; BENCHMARKS.md).
pub async fn find_by_ids<E>(
    db: &impl ConnectionTrait,
    ids: &[String],
) -> Result<Vec<E::Model>, DomainError>
where
    E: EntityTrait,
{
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let backend = db.get_database_backend();
    let table = E::default().table_name();
    let json = serde_json::to_string(ids).map_err(|e| DomainError::Storage(e.to_string()))?;
    let sql = by_ids_sql(backend, table);
    Ok(E::find()
        .from_raw_sql(sea_orm::Statement::from_sql_and_values(
            backend,
            sql,
            [json.into()],
        ))
        .all(db)
        .await?)
}

/// The statement of `find_by_ids` for `table`: its one parameter is the ids as a JSON array.
pub fn by_ids_sql(backend: sea_orm::DbBackend, table: &str) -> String {
    match backend {
        sea_orm::DbBackend::Postgres => format!(
            r#"SELECT "r".* FROM json_array_elements_text(CAST($1 AS json)) AS "k"("key"), LATERAL (SELECT * FROM "{table}" WHERE "{table}"."id" = "k"."key" LIMIT 1) AS "r""#
        ),
        _ => format!(r#"SELECT * FROM "{table}" WHERE "id" IN (SELECT "value" FROM json_each(?))"#),
    }
}

/// The visits of `ids` that exist, by id.
pub async fn visits_by_id(
    db: &impl ConnectionTrait,
    ids: &[String],
) -> Result<std::collections::HashMap<String, Visit>, DomainError> {
    let mut out = std::collections::HashMap::new();
    if !ids.is_empty() {
        for row in find_by_ids::<visit::Entity>(db, ids).await? {
            out.insert(row.id.clone(), visit_from_row(row)?);
        }
    }
    Ok(out)
}

/// The petitions of `ids` that exist, by id.
pub async fn petitions_by_id(
    db: &impl ConnectionTrait,
    ids: &[String],
) -> Result<std::collections::HashMap<String, Petition>, DomainError> {
    let mut out = std::collections::HashMap::new();
    if !ids.is_empty() {
        for row in find_by_ids::<petition::Entity>(db, ids).await? {
            out.insert(row.id.clone(), petition_from_row(row)?);
        }
    }
    Ok(out)
}

/// The cases of `ids` that exist, by id, without their petition ids (what the totals need).
pub async fn cases_by_id(
    db: &impl ConnectionTrait,
    ids: &[String],
) -> Result<std::collections::HashMap<String, Case>, DomainError> {
    let mut out = std::collections::HashMap::new();
    if !ids.is_empty() {
        for row in find_by_ids::<case::Entity>(db, ids).await? {
            out.insert(row.id.clone(), case_from_row(row, Vec::new())?);
        }
    }
    Ok(out)
}
