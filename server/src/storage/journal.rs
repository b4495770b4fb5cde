//! The append-only journal. Each event is stored as the encoded `tiepdan.v1.JournalEvent`
//! that will travel up the tree, byte for byte, with its SHA-256; each event names the hash
//! of the one before it from the same origin, so a rewritten or lost event breaks the chain.

use chrono::{DateTime, Utc};
use prost::Message;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use sha2::{Digest, Sha256};
use tiepdan_proto::v1 as pb;

use super::{Read, Write};
use crate::domain::DomainError;
use crate::storage::entities::{journal_event, journal_head};
use crate::storage::records::{Inserts, OnKey, to_us};
use crate::wire;

/// Appends `change` to the journal of `origin` inside the caller's write transaction and
/// returns the new sequence number. The caller's transaction serializes appends, so the
/// sequence is gapless.
pub async fn append(
    tx: &impl Write,
    origin: &str,
    at: DateTime<Utc>,
    action: &str,
    change: pb::journal_event::Change,
) -> Result<u64, DomainError> {
    let head = journal_head::Entity::find_by_id(origin.to_string())
        .one(tx)
        .await?;
    let (last, previous_hash) = head
        .as_ref()
        .map_or((0, Vec::new()), |h| (h.last_sequence, h.last_hash.clone()));
    let sequence = last + 1;
    let event = pb::JournalEvent {
        origin_unit: origin.to_string(),
        sequence: u64::try_from(sequence)
            .map_err(|_| DomainError::Storage("journal sequence out of range".into()))?,
        event_time: Some(wire::timestamp(at)),
        previous_hash,
        change: Some(change),
        action: action.to_string(),
    };
    let payload = event.encode_to_vec();
    let hash = Sha256::digest(&payload).to_vec();
    journal_event::Entity::insert(journal_event::ActiveModel {
        origin_unit: Set(origin.to_string()),
        sequence: Set(sequence),
        event_us: Set(to_us(at)),
        action: Set(action.to_string()),
        payload: Set(payload),
        hash: Set(hash.clone()),
    })
    .exec_without_returning(tx)
    .await?;
    let row = journal_head::ActiveModel {
        origin_unit: Set(origin.to_string()),
        last_sequence: Set(sequence),
        last_hash: Set(hash),
    };
    if head.is_some() {
        journal_head::Entity::update(row).exec(tx).await?;
    } else {
        journal_head::Entity::insert(row).exec(tx).await?;
    }
    Ok(event.sequence)
}

/// The highest sequence of `origin` in this journal; 0 when it has none.
pub async fn last_sequence(db: &impl Read, origin: &str) -> Result<u64, DomainError> {
    let head = journal_head::Entity::find_by_id(origin.to_string())
        .one(db)
        .await?;
    Ok(head.map_or(0, |h| u64::try_from(h.last_sequence).unwrap_or(0)))
}

/// The highest sequence of every origin in this journal, in one query.
pub async fn last_sequences(
    db: &impl Read,
) -> Result<std::collections::BTreeMap<String, u64>, DomainError> {
    let rows: Vec<(String, i64)> = journal_head::Entity::find()
        .select_only()
        .column(journal_head::Column::OriginUnit)
        .column(journal_head::Column::LastSequence)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(origin, last)| (origin, u64::try_from(last).unwrap_or(0)))
        .collect())
}

/// Up to `limit` events of `origin` after `after`, in sequence order, decoded.
pub async fn read(
    db: &impl Read,
    origin: &str,
    after: u64,
    limit: u64,
) -> Result<Vec<pb::JournalEvent>, DomainError> {
    let after = i64::try_from(after).unwrap_or(i64::MAX);
    let rows = journal_event::Entity::find()
        .filter(journal_event::Column::OriginUnit.eq(origin))
        .filter(journal_event::Column::Sequence.gt(after))
        .order_by_asc(journal_event::Column::Sequence)
        .limit(limit)
        .all(db)
        .await?;
    rows.into_iter()
        .map(|row| {
            pb::JournalEvent::decode(row.payload.as_slice()).map_err(|e| {
                DomainError::Storage(format!(
                    "journal event {origin}/{} does not decode: {e}",
                    row.sequence
                ))
            })
        })
        .collect()
}

/// Checks that `events` (in order, starting after a known `previous_hash`) form an unbroken
/// chain: each names the SHA-256 of the encoding of the one before.
pub fn verify_chain(previous_hash: &[u8], events: &[pb::JournalEvent]) -> Result<(), u64> {
    let mut expected = previous_hash.to_vec();
    for event in events {
        if event.previous_hash != expected {
            return Err(event.sequence);
        }
        expected = Sha256::digest(event.encode_to_vec()).to_vec();
    }
    Ok(())
}

/// One event as stored: its origin, sequence and encoded bytes.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub origin: String,
    pub sequence: u64,
    pub payload: Vec<u8>,
}

/// The next events to ship: for each origin of `origins` in turn, the events after its
/// position in `after` (up to its head in `heads`), until `max_events` or `max_bytes` is
/// reached.
pub async fn next_batch(
    db: &impl Read,
    origins: &[String],
    after: &std::collections::BTreeMap<String, u64>,
    heads: &std::collections::BTreeMap<String, u64>,
    max_events: u64,
    max_bytes: usize,
) -> Result<Vec<StoredEvent>, DomainError> {
    let mut out = Vec::new();
    let mut bytes = 0usize;
    // Only the origins whose head (read by the caller, in one query) is past the position are
    // asked: a town holding the journals of many communes does not query each for every batch.
    for origin in origins {
        let left = max_events.saturating_sub(out.len() as u64);
        if left == 0 || bytes >= max_bytes {
            break;
        }
        let position = after.get(origin).copied().unwrap_or(0);
        if heads.get(origin).copied().unwrap_or(0) <= position {
            continue;
        }
        let from = i64::try_from(position).unwrap_or(i64::MAX);
        // The two columns shipped, not the whole row: the driver copies each value it reads.
        let rows: Vec<(i64, Vec<u8>)> = journal_event::Entity::find()
            .select_only()
            .column(journal_event::Column::Sequence)
            .column(journal_event::Column::Payload)
            .filter(journal_event::Column::OriginUnit.eq(origin.as_str()))
            .filter(journal_event::Column::Sequence.gt(from))
            .order_by_asc(journal_event::Column::Sequence)
            .limit(left)
            .into_tuple()
            .all(db)
            .await?;
        for (sequence, payload) in rows {
            if bytes + payload.len() > max_bytes && !out.is_empty() {
                return Ok(out);
            }
            bytes += payload.len();
            out.push(StoredEvent {
                origin: origin.clone(),
                sequence: u64::try_from(sequence).unwrap_or(0),
                payload,
            });
        }
    }
    Ok(out)
}

/// One origin's digest for one local day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayDigest {
    pub origin: String,
    pub day: chrono::NaiveDate,
    pub count: u64,
    pub highest_sequence: u64,
    pub hash: Vec<u8>,
}

/// Digests of `origin`'s journal up to sequence `upto`, one per local day of the events'
/// time, in day order. An event's time is the business time of its record (a register
/// imported late carries old dates), so a day's events need not be consecutive: each day's
/// hash runs over its events' hashes in sequence order.
pub async fn digest(
    db: &impl Read,
    origin: &str,
    upto: u64,
) -> Result<Vec<DayDigest>, DomainError> {
    let upto = i64::try_from(upto).unwrap_or(i64::MAX);
    let rows: Vec<(i64, i64, Vec<u8>)> = journal_event::Entity::find()
        .select_only()
        .column(journal_event::Column::Sequence)
        .column(journal_event::Column::EventUs)
        .column(journal_event::Column::Hash)
        .filter(journal_event::Column::OriginUnit.eq(origin))
        .filter(journal_event::Column::Sequence.lte(upto))
        .order_by_asc(journal_event::Column::Sequence)
        .into_tuple()
        .all(db)
        .await?;
    let mut days: std::collections::BTreeMap<chrono::NaiveDate, (u64, u64, Sha256)> =
        std::collections::BTreeMap::new();
    for (sequence, event_us, hash) in rows {
        let day =
            crate::storage::records::from_us(event_us).map(crate::domain::deadlines::local_date)?;
        let sequence = u64::try_from(sequence).unwrap_or(0);
        let (count, highest, h) = days.entry(day).or_insert_with(|| (0, 0, Sha256::new()));
        *count += 1;
        *highest = sequence;
        h.update(&hash);
    }
    Ok(days
        .into_iter()
        .map(|(day, (count, highest_sequence, h))| DayDigest {
            origin: origin.to_string(),
            day,
            count,
            highest_sequence,
            hash: h.finalize().to_vec(),
        })
        .collect())
}

/// The stored hash of `origin`'s event `sequence`, if held.
pub async fn hash_at(
    db: &impl Read,
    origin: &str,
    sequence: u64,
) -> Result<Option<Vec<u8>>, DomainError> {
    let sequence = i64::try_from(sequence).unwrap_or(i64::MAX);
    Ok(
        journal_event::Entity::find_by_id((origin.to_string(), sequence))
            .one(db)
            .await?
            .map(|row| row.hash),
    )
}

/// This journal's head for `origin`: highest sequence and its hash.
pub async fn head(db: &impl Read, origin: &str) -> Result<(u64, Vec<u8>), DomainError> {
    let head = journal_head::Entity::find_by_id(origin.to_string())
        .one(db)
        .await?;
    Ok(head.map_or((0, Vec::new()), |h| {
        (u64::try_from(h.last_sequence).unwrap_or(0), h.last_hash)
    }))
}

/// A journal event as received from a child, checked, to be stored byte for byte.
#[derive(Debug, Clone)]
pub struct EventRow {
    pub origin: String,
    pub sequence: i64,
    pub event_us: i64,
    pub action: String,
    pub payload: Vec<u8>,
    pub hash: Vec<u8>,
}

/// The stored head (last sequence, its hash) of each of `origins` that has one.
pub async fn heads(
    db: &impl Read,
    origins: &[String],
) -> Result<Vec<(String, u64, Vec<u8>)>, DomainError> {
    Ok(journal_head::Entity::find()
        .filter(journal_head::Column::OriginUnit.is_in(origins.iter().cloned()))
        .all(db)
        .await?
        .into_iter()
        .map(|h| {
            let last = u64::try_from(h.last_sequence).unwrap_or(0);
            (h.origin_unit, last, h.last_hash)
        })
        .collect())
}

/// Queues `rows` as new journal events (a stored one with the same key refuses the batch).
pub fn add_events(inserts: &mut Inserts, rows: Vec<EventRow>) -> Result<(), DomainError> {
    let rows = rows
        .into_iter()
        .map(|r| journal_event::ActiveModel {
            origin_unit: Set(r.origin),
            sequence: Set(r.sequence),
            event_us: Set(r.event_us),
            action: Set(r.action),
            payload: Set(r.payload),
            hash: Set(r.hash),
        })
        .collect();
    Ok(inserts.add(rows, OnKey::Refuse)?)
}

/// Queues the new heads (origin, last sequence, its hash) of the origins a batch grew.
pub fn put_heads(
    inserts: &mut Inserts,
    heads: Vec<(String, u64, Vec<u8>)>,
) -> Result<(), DomainError> {
    let rows = heads
        .into_iter()
        .map(|(origin, last, hash)| journal_head::ActiveModel {
            origin_unit: Set(origin),
            last_sequence: Set(i64::try_from(last).unwrap_or(i64::MAX)),
            last_hash: Set(hash),
        })
        .collect();
    Ok(inserts.add(rows, OnKey::Replace)?)
}
