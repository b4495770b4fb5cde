//! Recovery from the parent: a node restored from an older copy of its database, or rebuilt
//! on an empty one, is behind its parent's copy of its own journal. Until the parent has
//! given that tail back (byte for byte, each event chained to the one before), the node
//! writes nothing of its own: a new event would fork its journal for good.

use std::sync::atomic::Ordering;

use super::App;
use super::apply::{Applied, ApplyError};
use crate::domain::DomainError;
use crate::domain::model::Unit;
use crate::storage::recovery::{self, Recovery};

impl App {
    /// Whether the node still waits for its parent to give back the events it lost.
    pub fn is_recovering(&self) -> bool {
        self.inner.recovering.load(Ordering::SeqCst)
    }

    /// Refuses a write of this node's own while it recovers.
    pub(crate) fn refuse_while_recovering(&self) -> Result<(), DomainError> {
        if self.is_recovering() {
            return Err(DomainError::precondition(
                "RECOVERING",
                format!(
                    "unit {} is taking back from its parent the journal events its database \
                     lost; writes resume once the parent has answered",
                    self.code()
                ),
            ));
        }
        Ok(())
    }

    /// The last recovery of this node's database, if it was ever marked.
    pub async fn recovery(&self) -> Result<Option<Recovery>, DomainError> {
        recovery::load(self.store().reader()).await
    }

    /// Marks the database to recover (a node that found itself behind its parent without a
    /// mark), so that nothing is written of its own until the recovery ends.
    pub async fn begin_recovery(&self, reason: &str) -> Result<(), DomainError> {
        if self.is_recovering() {
            return Ok(());
        }
        self.inner.recovering.store(true, Ordering::SeqCst);
        let tx = self.store().begin_write().await?;
        recovery::mark(&tx, reason, super::now_us()).await?;
        self.store().commit(tx).await?;
        Ok(())
    }

    /// Applies events of this node's subtree that its parent gave back: checked as a child's
    /// batch is (sequence, hash chain, origin of every record), with this node speaking for
    /// its own unit; `units` places origins below this node that it no longer knows.
    pub async fn apply_recovered(
        &self,
        units: &[Unit],
        events: &[&[u8]],
    ) -> Result<Applied, ApplyError> {
        let me = self.code();
        let mut checked = self.check_batch(&me, events)?;
        checked.own = true;
        let applied = self.write_batch(&me, units, events, checked).await?;
        if applied.applied > 0 && self.is_recovering() {
            let tx = self.store().begin_write().await?;
            recovery::add_events(&tx, applied.applied).await?;
            self.store().commit(tx).await?;
        }
        Ok(applied)
    }

    /// Ends the recovery: the id counters are raised past every id the recovered records
    /// use (and past the envelopes the parent took, `mail_taken_through`), what could not be
    /// given back is recorded, and writes resume. Returns the outcome.
    pub async fn finish_recovery(&self, mail_taken_through: u64) -> Result<Recovery, DomainError> {
        let me = self.code();
        let tx = self.store().begin_write().await?;
        for (prefix, floor) in recovery::id_floors(&tx, &me).await? {
            recovery::raise_counter(&tx, &prefix, floor).await?;
        }
        let mail = i64::try_from(mail_taken_through).unwrap_or(i64::MAX);
        recovery::raise_counter(&tx, "M", mail).await?;
        let missing = recovery::petitions_without_details(&tx, &me).await?;
        recovery::finish(&tx, &missing, super::now_us()).await?;
        let outcome = recovery::load(&tx).await?;
        self.store().commit(tx).await?;
        self.inner.recovering.store(false, Ordering::SeqCst);
        self.notify_changed();
        let outcome = outcome.ok_or_else(|| {
            DomainError::Storage("the recovery mark vanished while it finished".into())
        })?;
        if outcome.petitions_without_details.is_empty() {
            tracing::info!(events = outcome.events, "journal recovered from the parent");
        } else {
            tracing::warn!(
                events = outcome.events,
                petitions = ?outcome.petitions_without_details,
                "journal recovered from the parent; these petitions' personal details never \
                 left this node and could not be given back"
            );
        }
        Ok(outcome)
    }
}
