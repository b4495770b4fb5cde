//! The report queries: grouped sums of the maintained totals (day rows and rollups), and
//! the stored totals and records as they are, for the checks that recount them.

use std::collections::BTreeMap;

use sea_orm::sea_query::{Condition, Expr, Func, Query, SelectStatement, UnionType};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::Read;
use super::entities::{case, petition, tally, tally_rollup, visit};
use super::records as repo;
use crate::domain::DomainError;
use crate::domain::model::{Case, Petition, Visit};
use crate::domain::span::{Piece, Span};
use crate::domain::tally::RollupKey;

/// One grouped sum a report needs: the range `piece` covers, of the units' own totals or
/// their subtrees', of the metrics starting with one of `metrics` (all when empty), added to
/// part `part` of the answer.
pub struct SumQuery<'a> {
    pub piece: Piece,
    pub part: usize,
    pub subtree: bool,
    pub units: &'a [String],
    pub metrics: &'a [&'a str],
}

/// Every maintained sum, or every sum a recount gives, keyed like the store.
pub type Sums = BTreeMap<(bool, String, chrono::NaiveDate, String), i64>;

/// Runs `queries` as one statement (UNION ALL); each row is (unit, metric, part, total).
pub async fn sums(
    db: &impl Read,
    queries: &[SumQuery<'_>],
) -> Result<Vec<(String, String, usize, i64)>, DomainError> {
    let mut selects = queries
        .iter()
        .map(|q| piece_query(q.piece, q.part, q.subtree, q.units, q.metrics));
    let Some(mut query) = selects.next() else {
        return Ok(Vec::new());
    };
    query.unions(selects.map(|s| (UnionType::All, s)));
    let mut out = Vec::new();
    for row in db.query_all(&query).await? {
        let part: i32 = row.try_get_by_index(2)?;
        out.push((
            row.try_get_by_index(0)?,
            row.try_get_by_index(1)?,
            usize::try_from(part).unwrap_or(usize::MAX),
            row.try_get_by_index(3)?,
        ));
    }
    Ok(out)
}

/// One sum of rows: which of the three it adds to, and the rows.
fn piece_query(
    piece: Piece,
    part: usize,
    subtree: bool,
    units: &[String],
    metrics: &[&str],
) -> SelectStatement {
    use sea_orm::sea_query::ExprTrait;
    let mut filter = Condition::all()
        .add(Expr::col("subtree").eq(subtree))
        .add(Expr::col("unit_code").is_in(units.iter().cloned()));
    if let Some(span) = piece.span {
        filter = filter.add(Expr::col("span").eq(span.as_str()));
    }
    if let Some(from) = piece.from {
        filter = filter.add(Expr::col("day").gte(from));
    }
    filter = filter.add(Expr::col("day").lte(piece.to));
    if !metrics.is_empty() {
        filter = filter.add(metrics.iter().fold(Condition::any(), |any, prefix| {
            any.add(Expr::col("metric").like(format!("{prefix}%")))
        }));
    }
    Query::select()
        .column("unit_code")
        .column("metric")
        .expr_as(Expr::cust(part.to_string()), "part")
        .expr_as(
            Func::cast_as(Func::sum(Expr::col("value")), "BIGINT"),
            "total",
        )
        .from(if piece.span.is_some() {
            "tally_rollup"
        } else {
            "tally"
        })
        .cond_where(filter)
        .group_by_col("unit_code")
        .group_by_col("metric")
        .to_owned()
}

/// The maintained totals as stored, zero sums left out.
pub async fn maintained_totals(db: &impl Read) -> Result<Sums, DomainError> {
    let rows = tally::Entity::find().all(db).await?;
    Ok(rows
        .into_iter()
        .filter(|r| r.value != 0)
        .map(|r| ((r.subtree, r.unit_code, r.day, r.metric), r.value))
        .collect())
}

/// The maintained rollups as stored, zero sums left out.
pub async fn maintained_rollups(db: &impl Read) -> Result<BTreeMap<RollupKey, i64>, DomainError> {
    let rows = tally_rollup::Entity::find().all(db).await?;
    rows.into_iter()
        .filter(|r| r.value != 0)
        .map(|r| {
            let span = Span::parse(&r.span)
                .ok_or_else(|| DomainError::Storage(format!("bad stored span: {:?}", r.span)))?;
            Ok(((r.subtree, r.unit_code, span, r.day, r.metric), r.value))
        })
        .collect()
}

/// Every stored visit, petition and case (for a recount; cases without their petitions).
pub async fn all_records(
    db: &impl Read,
) -> Result<(Vec<Visit>, Vec<Petition>, Vec<Case>), DomainError> {
    let visits = visit::Entity::find().all(db).await?;
    let petitions = petition::Entity::find().all(db).await?;
    let cases = case::Entity::find().all(db).await?;
    Ok((
        visits
            .into_iter()
            .map(repo::visit_from_row)
            .collect::<Result<_, _>>()?,
        petitions
            .into_iter()
            .map(repo::petition_from_row)
            .collect::<Result<_, _>>()?,
        cases
            .into_iter()
            .map(|row| repo::case_from_row(row, Vec::new()))
            .collect::<Result<_, _>>()?,
    ))
}

/// The records of `units` a form counts: their visits, petitions, cases and published
/// reception days (the form picks the ones of its period).
pub struct FormRecords {
    pub visits: Vec<Visit>,
    pub petitions: Vec<Petition>,
    pub cases: Vec<Case>,
    pub schedules: Vec<crate::domain::model::ScheduleEntry>,
}

/// The records of `units`, read in chunks of unit codes (a bounded statement each).
pub async fn form_records(db: &impl Read, units: &[String]) -> Result<FormRecords, DomainError> {
    use crate::storage::entities::schedule_entry;
    const CHUNK: usize = 500;
    let mut out = FormRecords {
        visits: Vec::new(),
        petitions: Vec::new(),
        cases: Vec::new(),
        schedules: Vec::new(),
    };
    for chunk in units.chunks(CHUNK) {
        let codes = chunk.iter().cloned();
        for row in visit::Entity::find()
            .filter(visit::Column::UnitCode.is_in(codes.clone()))
            .all(db)
            .await?
        {
            out.visits.push(repo::visit_from_row(row)?);
        }
        for row in petition::Entity::find()
            .filter(petition::Column::UnitCode.is_in(codes.clone()))
            .all(db)
            .await?
        {
            out.petitions.push(repo::petition_from_row(row)?);
        }
        for row in case::Entity::find()
            .filter(case::Column::OwnerUnit.is_in(codes.clone()))
            .all(db)
            .await?
        {
            out.cases.push(repo::case_from_row(row, Vec::new())?);
        }
        for row in schedule_entry::Entity::find()
            .filter(schedule_entry::Column::UnitCode.is_in(codes))
            .all(db)
            .await?
        {
            out.schedules.push(repo::schedule_from_row(row)?);
        }
    }
    Ok(out)
}
