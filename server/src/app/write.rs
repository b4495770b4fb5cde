//! The idempotent write path: each operation runs in one write transaction, with its
//! journal event and the request-log entry that makes a retry with the same request id
//! return the first answer and change nothing.

use chrono::{DateTime, Utc};
use serde::{Serialize, de::DeserializeOwned};
use tiepdan_proto::v1 as pb;

use super::App;
use crate::domain::DomainError;
use crate::domain::model::{Case, Petition};
use crate::domain::tally::Delta;
use crate::storage::Tx;
use crate::storage::journal;
use crate::storage::records::{self as repo, to_us};
use crate::wire;

/// Identifies a mutating request for idempotency: the client's id, the method, and a
/// fingerprint of the request's content.
#[derive(Debug, Clone)]
pub struct RequestKey {
    pub id: String,
    pub method: &'static str,
    pub fingerprint: Vec<u8>,
}

pub(super) enum Begun<T> {
    Replay(T),
    Fresh(Tx),
}

impl App {
    pub(super) async fn begin<T: DeserializeOwned>(
        &self,
        key: &RequestKey,
    ) -> Result<Begun<T>, DomainError> {
        // A retry is answered from the log without taking the write lock.
        if let Some(row) = repo::find_request(self.store().reader(), &key.id).await? {
            return replay(key, row).map(Begun::Replay);
        }
        self.refuse_while_recovering()?;
        self.refuse_if_retired(Utc::now())?;
        let tx = self.store().begin_write().await?;
        if let Some(row) = repo::find_request(&tx, &key.id).await? {
            return replay(key, row).map(Begun::Replay);
        }
        Ok(Begun::Fresh(tx))
    }

    pub(super) async fn finish<T: Serialize>(
        &self,
        tx: Tx,
        key: &RequestKey,
        value: &T,
        now: DateTime<Utc>,
        delta: Delta,
    ) -> Result<(), DomainError> {
        repo::flush_tally(&tx, delta).await?;
        let result = serde_json::to_string(value)
            .map_err(|e| DomainError::Storage(format!("cannot record the answer: {e}")))?;
        repo::insert_request(
            &tx,
            repo::LoggedRequest {
                request_id: key.id.clone(),
                method: key.method.to_string(),
                fingerprint: key.fingerprint.clone(),
                result,
                create_us: to_us(now),
            },
        )
        .await?;
        self.store().commit(tx).await?;
        self.notify_changed();
        Ok(())
    }

    pub(crate) async fn next_id(&self, tx: &Tx, prefix: &str) -> Result<String, DomainError> {
        let n = repo::next_counter(tx, prefix).await?;
        Ok(format!("{}-{prefix}{n}", self.code()))
    }

    pub(crate) async fn log(
        &self,
        tx: &Tx,
        at: DateTime<Utc>,
        action: &str,
        change: pb::journal_event::Change,
    ) -> Result<(), DomainError> {
        journal::append(tx, &self.code(), at, action, change).await?;
        Ok(())
    }

    pub(crate) async fn log_petition(
        &self,
        tx: &Tx,
        at: DateTime<Utc>,
        action: &str,
        p: &Petition,
    ) -> Result<(), DomainError> {
        let snapshot = wire::petition(p, self.deadlines(), None);
        self.log(
            tx,
            at,
            action,
            pb::journal_event::Change::PetitionChanged(snapshot),
        )
        .await
    }

    pub(crate) async fn log_case(
        &self,
        tx: &Tx,
        at: DateTime<Utc>,
        action: &str,
        c: &Case,
    ) -> Result<(), DomainError> {
        let snapshot = wire::case(c, self.deadlines(), self.remote(), None);
        self.log(
            tx,
            at,
            action,
            pb::journal_event::Change::CaseChanged(snapshot),
        )
        .await
    }
}

fn replay<T: DeserializeOwned>(
    key: &RequestKey,
    row: repo::LoggedRequest,
) -> Result<T, DomainError> {
    if row.method != key.method || row.fingerprint != key.fingerprint {
        return Err(DomainError::RequestIdReused {
            request_id: key.id.clone(),
            method: row.method,
        });
    }
    serde_json::from_str(&row.result)
        .map_err(|e| DomainError::Storage(format!("recorded answer does not decode: {e}")))
}
