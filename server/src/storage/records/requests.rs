//! The request log (what a retry is answered from) and the id counters.

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter};

use crate::domain::DomainError;
use crate::storage::entities::{counter, request_log};
use crate::storage::{Read, Write};

/// A request as the request log keeps it: what a retry is answered from.
pub use crate::storage::entities::request_log::Model as LoggedRequest;

pub async fn find_request(
    db: &impl Read,
    request_id: &str,
) -> Result<Option<LoggedRequest>, DomainError> {
    Ok(request_log::Entity::find_by_id(request_id.to_string())
        .one(db)
        .await?)
}

pub async fn insert_request(db: &impl Write, row: LoggedRequest) -> Result<(), DomainError> {
    request_log::Entity::insert(row.into_active_model())
        .exec(db)
        .await?;
    Ok(())
}

/// The next value of a named counter; call inside the write transaction.
pub async fn next_counter(db: &impl Write, name: &str) -> Result<i64, DomainError> {
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
