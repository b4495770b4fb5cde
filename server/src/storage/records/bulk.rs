//! Multi-row statements: the bulk inserts and upserts a child's batch is applied with, and
//! the reads by id of the records it replaces.

use sea_orm::{ConnectionTrait, EntityTrait};

use super::*;
use crate::domain::DomainError;
use crate::domain::model::{Case, Conclusion, Petition, ScheduleEntry, Visit};
use crate::storage::entities::{case, petition, visit};
use crate::storage::{Read, Write};

/// Inserts many new petitions with multi-row INSERTs (for loading a register at once).
pub async fn insert_petitions(db: &impl Write, ps: &[Petition]) -> Result<(), DomainError> {
    // 29 columns a row: 500 rows stay below both drivers' bind-parameter limits.
    for chunk in ps.chunks(500) {
        petition::Entity::insert_many(chunk.iter().map(petition_row))
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// Rows a multi-row statement carries: at most 29 columns a row keeps 500 rows below both
/// drivers' bind-parameter limits (SQLite 32,766; PostgreSQL 65,535).
pub(super) const BULK_ROWS: usize = 500;

/// Values one round trip of `Inserts` binds at most, below SQLite's limit of 32,766 (the
/// limit is a statement's; SQLite's driver binds each statement of a call on its own, but
/// PostgreSQL's one statement binds them all).
pub(super) const ROUND_TRIP_VALUES: usize = 32_000;

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
    db: &impl Write,
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
/// and back, in turn. Here they go in one: on SQLite as statements separated
/// by `;`, which its driver runs one after another in one call, binding the values in order;
/// on PostgreSQL as one statement whose inserts but the last are the data-modifying parts of
/// its `WITH`, run once each. Those see the same snapshot, so keys must be unique within a
/// table, as within one multi-row statement (PostgreSQL refuses to update a row twice).
/// A full multi-row statement still goes alone, its text the same every time, so the driver
/// keeps it prepared: sent with others, whose texts vary, it could not be, and PostgreSQL
/// ingest and catch-up were slower. On PostgreSQL, rows without a
/// NULL go as one array a column instead (`UNNEST`, see `unnest`), a statement whose text
/// does not change with its rows. Run them in a transaction: on SQLite the statements before
/// a refused one have run when the error comes back.
///
/// Each multi-row statement's SQL and values are written here, column by column in the
/// entity's order. sea-orm's `insert_many` builds the same statement through its query
/// builder, value by value, with copies: most of what a catch-up's apply did outside the
/// database while the writer waited.
pub struct Inserts {
    backend: sea_orm::DbBackend,
    trips: Vec<Trip>,
}

/// The statements of one round trip and their values.
pub(super) struct Trip {
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
/// a large one took longer than inserting its rows.
pub(super) fn unnest(
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
/// split into statements of 500 ids.
///
/// On PostgreSQL each id is looked up through the primary key on its own (a `LATERAL`
/// subquery with a `LIMIT` is not flattened into a join). As `"id" IN (SELECT …)`, or
/// `= ANY(…)`, the driver's prepared statement kept the plan it was first given: made on a
/// new node's empty table, a sequential scan, which then read the whole table for every
/// batch applied.
pub async fn find_by_ids<E>(db: &impl Read, ids: &[String]) -> Result<Vec<E::Model>, DomainError>
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
    db: &impl Read,
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
    db: &impl Read,
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
    db: &impl Read,
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
