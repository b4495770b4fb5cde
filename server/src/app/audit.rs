//! The personal-data audit trail (Law 91/2025/QH15 on personal data protection): every read
//! of a petitioner's personal details is recorded at this node before the details are
//! answered, and auditors list the records. The trail is kept apart from the journal and the
//! outbox, so it never leaves the node.

use chrono::Utc;

use super::App;
use super::reads::{Page, bad_cursor, page};
use crate::domain::DomainError;
use crate::domain::model::{Petition, Petitioner};
use crate::storage::audit::{self, Access};

/// Who reads: a token's subject and role, as the API's caller proved them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reader {
    pub subject: String,
    pub role: String,
}

impl Reader {
    /// The role recorded for a caller of a node that checks no tokens.
    pub const UNAUTHENTICATED: &'static str = "unauthenticated";

    /// A caller of a node without tokens: no subject, role "unauthenticated".
    pub fn unauthenticated() -> Reader {
        Reader {
            subject: String::new(),
            role: Reader::UNAUTHENTICATED.to_string(),
        }
    }
}

impl App {
    /// One petition with its petitioner's details, read by `reader` through `action` (an
    /// RPC's name) for `reason`. When there are details, the read is recorded first: the
    /// record commits before they are returned, and if it cannot commit the read fails
    /// (`DomainError::Storage`, UNAVAILABLE) rather than hand out details no one recorded.
    /// An anonymous petition (no details stored) records nothing.
    pub async fn petition_read_by(
        &self,
        id: &str,
        reader: &Reader,
        action: &str,
        reason: &str,
    ) -> Result<(Petition, Option<Petitioner>), DomainError> {
        let (petition, person) = self.petition(id).await?;
        if person.is_some() {
            let access = Access {
                id: 0,
                at: Utc::now(),
                subject: reader.subject.clone(),
                role: reader.role.clone(),
                petition_id: petition.id.clone(),
                action: action.to_string(),
                reason: reason.to_string(),
            };
            let tx = self.store().begin_write().await?;
            audit::insert(&tx, &access).await?;
            // Committed without waking the links: nothing here is for them.
            self.store().commit(tx).await?;
        }
        Ok((petition, person))
    }

    /// A page of the audit trail, oldest first, only of `petition_id` if given.
    pub async fn personal_data_access(
        &self,
        petition_id: Option<&str>,
        cursor: Option<&str>,
        limit: u64,
    ) -> Result<Page<Access>, DomainError> {
        let after = cursor
            .map(|c| c.parse::<i64>().map_err(|_| bad_cursor()))
            .transpose()?;
        let mut items = audit::list(
            self.store().reader(),
            petition_id,
            after,
            limit.saturating_add(1),
        )
        .await?;
        Ok(page(&mut items, limit, |a| a.id.to_string()))
    }
}
