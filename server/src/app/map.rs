//! Reorganisations: issued at the authority's node, applied wherever they arrive (in a
//! child's journal, or in the Welcome of a parent), with the subtree totals counted again
//! on the tree they make; the custody of an ended unit's records; a retired node.

use chrono::{DateTime, NaiveDate, Utc};
use prost::Message;
use tiepdan_proto::v1 as pb;

use super::write::{Begun, RequestKey};
use super::{App, now_us};
use crate::domain::DomainError;
use crate::domain::deadlines::local_date;
use crate::domain::map::{self, History, Reorganisation, Version};
use crate::domain::model::Unit;
use crate::domain::tally::Delta;
use crate::domain::tree::Tree;
use crate::storage::records as repo;
use crate::storage::{Tx, map as stored};
use crate::wire;

impl App {
    /// Issues a reorganisation at this node, the authority above every unit it involves:
    /// checked against the tree, journaled, and in force for this node's reports at once.
    pub async fn reorganise(
        &self,
        key: &RequestKey,
        r: Reorganisation,
    ) -> Result<Reorganisation, DomainError> {
        let tx = match self.begin(key).await? {
            Begun::Replay(v) => return Ok(v),
            Begun::Fresh(tx) => tx,
        };
        let mut r = r;
        if r.authority.is_empty() {
            r.authority = self.code();
        }
        if r.authority != self.code() {
            return Err(DomainError::invalid(
                "reorganisation.authority_code",
                format!(
                    "a reorganisation is issued at its authority's node; this is unit {}",
                    self.code()
                ),
            ));
        }
        for change in &mut r.changes {
            // A unit that ends keeps what it was: only its successor is new.
            if change.successor.is_some()
                && let Some(known) = self.known_unit(&change.unit.code)
            {
                change.unit = known;
            }
        }
        map::check(&r, &self.tree())?;
        if stored::has_reorganisation(&tx, &r.authority, &r.id).await? {
            return Err(DomainError::precondition(
                "REORGANISATION_EXISTS",
                format!(
                    "unit {} already issued reorganisation {:?}",
                    r.authority, r.id
                ),
            ));
        }
        let now = now_us();
        self.store_reorganisation(&tx, &r).await?;
        self.log(
            &tx,
            now,
            key.method,
            pb::journal_event::Change::Reorganised(wire::reorganisation(&r)),
        )
        .await?;
        let recount = self.recount_subtrees(&tx).await?;
        self.finish(tx, key, &r, now, recount).await?;
        self.reload_tree().await?;
        self.notify_downlink();
        tracing::info!(id = %r.id, effective = %r.effective, units = r.changes.len(), "reorganisation issued");
        Ok(r)
    }

    /// Stores a reorganisation and the versions it gives its units, and brings the rows of
    /// the units to their latest state (this node's own unit is configured, not taken from
    /// it). Returns false, storing nothing, for one already stored.
    pub(super) async fn store_reorganisation(
        &self,
        tx: &Tx,
        r: &Reorganisation,
    ) -> Result<bool, DomainError> {
        let bytes = wire::reorganisation(r).encode_to_vec();
        if !stored::save_reorganisation(tx, &r.authority, &r.id, r.effective, bytes).await? {
            return Ok(false);
        }
        let history = History::new(stored::versions(tx).await?);
        let units = repo::all_units(tx).await?;
        let versions = map::versions_of(r, &history, |code| {
            units.iter().find(|u| u.code == code).cloned()
        });
        stored::save_versions(tx, &versions).await?;
        let me = self.code();
        for change in &r.changes {
            let known = units.iter().find(|u| u.code == change.unit.code);
            if change.unit.code != me && (change.successor.is_none() || known.is_none()) {
                repo::save_unit(tx, &change.unit, false).await?;
            }
        }
        Ok(true)
    }

    /// Every subtree sum counted again from the records held, on the tree as it is after
    /// the reorganisations stored in `tx`: the change to flush with the transaction.
    pub(super) async fn recount_subtrees(&self, tx: &Tx) -> Result<Delta, DomainError> {
        repo::clear_subtree_tally(tx).await?;
        let tree = self.tree_in(tx).await?;
        let (visits, petitions, cases) = crate::storage::reports::all_records(tx).await?;
        let mut delta = Delta::of_records(&tree, &visits, &petitions, &cases);
        // The units' own sums did not move.
        delta.sums.retain(|(subtree, ..), _| *subtree);
        Ok(delta)
    }

    /// The tree as `tx` holds it.
    pub(super) async fn tree_in(&self, tx: &Tx) -> Result<Tree, DomainError> {
        let units = repo::all_units(tx).await?;
        let history = History::new(stored::versions(tx).await?);
        Ok(Tree::with_history(
            &self.code(),
            &units,
            std::sync::Arc::new(history),
        ))
    }

    /// Follows the reorganisations a parent sent: those not stored yet are stored (not
    /// journaled: they are their authority's events), and the subtree sums counted again.
    pub async fn follow(&self, reorganisations: &[pb::Reorganisation]) -> Result<(), DomainError> {
        let mut fresh = Vec::new();
        for r in reorganisations {
            let r = wire::inbound::reorganisation(r)?;
            if !stored::has_reorganisation(self.store().reader(), &r.authority, &r.id).await? {
                fresh.push(r);
            }
        }
        if fresh.is_empty() {
            return Ok(());
        }
        let tx = self.store().begin_write().await?;
        for r in &fresh {
            self.store_reorganisation(&tx, r).await?;
        }
        let recount = self.recount_subtrees(&tx).await?;
        repo::flush_tally(&tx, recount).await?;
        self.store().commit(tx).await?;
        self.reload_tree().await?;
        self.notify_downlink();
        for r in &fresh {
            tracing::info!(id = %r.id, authority = %r.authority, effective = %r.effective, "reorganisation followed");
        }
        self.notify_changed();
        Ok(())
    }

    /// The reorganisations this node holds, as journaled.
    pub async fn reorganisations(&self) -> Result<Vec<pb::Reorganisation>, DomainError> {
        stored::reorganisations(self.store().reader())
            .await?
            .iter()
            .map(|bytes| {
                pb::Reorganisation::decode(bytes.as_slice())
                    .map_err(|e| DomainError::Storage(format!("stored reorganisation: {e}")))
            })
            .collect()
    }

    /// The reorganisations that involve a unit that is, or was, in the subtree of `child`.
    pub async fn reorganisations_for(
        &self,
        child: &str,
    ) -> Result<Vec<pb::Reorganisation>, DomainError> {
        let tree = self.tree();
        Ok(self
            .reorganisations()
            .await?
            .into_iter()
            .filter(|r| {
                r.changes.iter().any(|c| {
                    let unit = c.unit.as_ref().map(|u| u.code.as_str()).unwrap_or_default();
                    tree.ever_within(unit, child)
                        || (!c.successor_code.is_empty()
                            && tree.ever_within(&c.successor_code, child))
                })
            })
            .collect())
    }

    /// A unit's versions, oldest first, each with the day the next one begins; one version
    /// for a unit never reorganised. `None` for a unit this node never knew.
    pub fn unit_history(&self, code: &str) -> Option<Vec<(Version, Option<NaiveDate>)>> {
        let tree = self.tree();
        let versions = tree.history().versions(code);
        if versions.is_empty() {
            let unit = self.known_unit(code)?;
            return Some(vec![(
                Version {
                    unit,
                    from: None,
                    successor: None,
                    reorganisation: String::new(),
                },
                None,
            )]);
        }
        Some(
            versions
                .iter()
                .enumerate()
                .map(|(i, v)| (v.clone(), versions.get(i + 1).and_then(|n| n.from)))
                .collect(),
        )
    }

    /// The unit as it was on `day` (its latest state if never reorganised).
    pub fn unit_on(&self, code: &str, day: NaiveDate) -> Option<Unit> {
        let tree = self.tree();
        match tree.history().version_at(code, Some(day)) {
            Some(v) => Some(v.unit.clone()),
            None => self.known_unit(code),
        }
    }

    /// Whether this node handles the records of `unit`: its own, or those of a unit that
    /// ended in its favour (directly or through other successors).
    pub fn holds(&self, unit: &str) -> bool {
        let me = self.code();
        unit == me || self.tree().history().custodian(unit) == me
    }

    /// Refuses a write at a node whose unit has ended: it serves reads and names its
    /// successor.
    pub(super) fn refuse_if_retired(&self, now: DateTime<Utc>) -> Result<(), DomainError> {
        let me = self.code();
        match self.tree().history().ended(&me, Some(local_date(now))) {
            None => Ok(()),
            Some((day, successor)) => Err(DomainError::precondition(
                "RETIRED",
                format!(
                    "unit {me} ended on {day}; its records are handled by unit {successor}, \
                     this node serves reads only"
                ),
            )),
        }
    }
}
