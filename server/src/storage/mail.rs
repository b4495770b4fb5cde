//! The mail tables: the outbox of envelopes waiting for their next hop, and the ids of the
//! envelopes already taken (so a redelivered one is taken once).

use chrono::{DateTime, Utc};
use prost::Message;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use tiepdan_proto::v1 as pb;

use super::entities::{mail_outbox, mail_seen};
use super::records::to_us;
use super::{Read, Write};
use crate::domain::DomainError;

/// Every waiting envelope's id and destination, oldest first.
pub async fn waiting(db: &impl Read) -> Result<Vec<(String, String)>, DomainError> {
    Ok(mail_outbox::Entity::find()
        .select_only()
        .column(mail_outbox::Column::Id)
        .column(mail_outbox::Column::DestinationUnit)
        .order_by_asc(mail_outbox::Column::CreateUs)
        .order_by_asc(mail_outbox::Column::Id)
        .into_tuple()
        .all(db)
        .await?)
}

/// The waiting envelopes of `ids`, decoded, oldest first.
pub async fn envelopes(db: &impl Read, ids: &[String]) -> Result<Vec<pb::Mail>, DomainError> {
    mail_outbox::Entity::find()
        .filter(mail_outbox::Column::Id.is_in(ids.iter().cloned()))
        .order_by_asc(mail_outbox::Column::CreateUs)
        .order_by_asc(mail_outbox::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|row| {
            pb::Mail::decode(row.payload.as_slice()).map_err(|e| {
                DomainError::Storage(format!("outbox mail {} does not decode: {e}", row.id))
            })
        })
        .collect()
}

/// The destination of every waiting envelope.
pub async fn destinations(db: &impl Read) -> Result<Vec<String>, DomainError> {
    Ok(mail_outbox::Entity::find()
        .select_only()
        .column(mail_outbox::Column::DestinationUnit)
        .into_tuple::<String>()
        .all(db)
        .await?)
}

/// Queues `mail` for its next hop.
pub async fn enqueue(
    tx: &impl Write,
    mail: &pb::Mail,
    at: DateTime<Utc>,
) -> Result<(), DomainError> {
    mail_outbox::Entity::insert(mail_outbox::ActiveModel {
        id: Set(mail.id.clone()),
        destination_unit: Set(mail.destination_unit.clone()),
        payload: Set(mail.encode_to_vec()),
        create_us: Set(to_us(at)),
    })
    .exec(tx)
    .await?;
    Ok(())
}

/// Forgets a delivered envelope.
pub async fn remove(tx: &impl Write, id: &str) -> Result<(), DomainError> {
    mail_outbox::Entity::delete_by_id(id.to_string())
        .exec(tx)
        .await?;
    Ok(())
}

/// Records that envelope `id` was taken; false if it had been already.
pub async fn take_once(tx: &impl Write, id: &str, at: DateTime<Utc>) -> Result<bool, DomainError> {
    if mail_seen::Entity::find_by_id(id.to_string())
        .one(tx)
        .await?
        .is_some()
    {
        return Ok(false);
    }
    mail_seen::Entity::insert(mail_seen::ActiveModel {
        id: Set(id.to_string()),
        create_us: Set(to_us(at)),
    })
    .exec(tx)
    .await?;
    Ok(true)
}
