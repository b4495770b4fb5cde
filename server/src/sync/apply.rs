//! Applying a child's journal batch at the parent: one transaction per batch, idempotent on
//! (origin, sequence), refusing gaps, forged origins and broken hash chains; the events are
//! kept byte for byte in this node's journal (so they travel on up unchanged), the records'
//! copies and the maintained totals are updated, and only then is the batch acknowledged.

use std::collections::BTreeMap;

use prost::Message;
use sea_orm::{ActiveValue::Set, EntityTrait};
use sha2::{Digest, Sha256};
use tiepdan_proto::v1 as pb;

use crate::domain::DomainError;
use crate::registry::Registry;
use crate::report::tally::{self, Delta};
use crate::storage::entities::{journal_event, journal_head};
use crate::storage::records::{self as repo, to_us};
use crate::wire;

/// Why a batch was refused. Nothing of it was stored.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// An event does not decode or a record in it is malformed.
    #[error("malformed event: {0}")]
    Malformed(String),
    /// An event's origin is outside the child's subtree, or a record does not belong to it.
    #[error("forged origin: {0}")]
    Forged(String),
    /// Sequences skip a number.
    #[error("gap in the journal of {origin}: expected {expected}, got {got}")]
    Gap {
        origin: String,
        expected: u64,
        got: u64,
    },
    /// An event does not chain to the one before it.
    #[error("broken hash chain of {origin} at {sequence}")]
    Chain { origin: String, sequence: u64 },
    /// The store failed.
    #[error("storage: {0}")]
    Storage(String),
}

impl From<DomainError> for ApplyError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::Storage(s) => ApplyError::Storage(s),
            other => ApplyError::Malformed(other.to_string()),
        }
    }
}

impl From<sea_orm::DbErr> for ApplyError {
    fn from(e: sea_orm::DbErr) -> Self {
        ApplyError::Storage(e.to_string())
    }
}

/// The outcome of a batch.
#[derive(Debug, Default)]
pub struct Applied {
    /// Per origin touched, the highest contiguous sequence now applied.
    pub positions: BTreeMap<String, u64>,
    /// Events newly applied (redelivered ones not counted).
    pub applied: u64,
    /// Whether a unit was registered (the tree must be reloaded).
    pub units_changed: bool,
}

impl Registry {
    /// Applies one batch of encoded events received from `child`.
    pub async fn apply_batch(
        &self,
        child: &str,
        events: &[Vec<u8>],
    ) -> Result<Applied, ApplyError> {
        let tree = self.tree();
        let decoded: Vec<pb::JournalEvent> = events
            .iter()
            .map(|bytes| {
                pb::JournalEvent::decode(bytes.as_slice())
                    .map_err(|e| ApplyError::Malformed(format!("event does not decode: {e}")))
            })
            .collect::<Result<_, _>>()?;
        for event in &decoded {
            if !tree.is_within(&event.origin_unit, child) || event.origin_unit == tree.root() {
                return Err(ApplyError::Forged(format!(
                    "child {child} cannot speak for unit {:?}",
                    event.origin_unit
                )));
            }
        }
        let tx = self.store().begin_write().await?;
        let mut heads: BTreeMap<String, (u64, Vec<u8>, bool)> = BTreeMap::new();
        let mut out = Applied::default();
        let mut delta = Delta::default();
        for (event, bytes) in decoded.iter().zip(events) {
            let origin = &event.origin_unit;
            if !heads.contains_key(origin) {
                let head = journal_head::Entity::find_by_id(origin.clone())
                    .one(&tx)
                    .await?;
                let entry = head.map_or((0, Vec::new(), false), |h| {
                    (
                        u64::try_from(h.last_sequence).unwrap_or(0),
                        h.last_hash,
                        true,
                    )
                });
                heads.insert(origin.clone(), entry);
            }
            let Some((last, last_hash, _)) = heads.get_mut(origin) else {
                continue;
            };
            if event.sequence <= *last {
                continue; // redelivered: already applied
            }
            if event.sequence != *last + 1 {
                return Err(ApplyError::Gap {
                    origin: origin.clone(),
                    expected: *last + 1,
                    got: event.sequence,
                });
            }
            if event.previous_hash != *last_hash {
                return Err(ApplyError::Chain {
                    origin: origin.clone(),
                    sequence: event.sequence,
                });
            }
            let hash = Sha256::digest(bytes).to_vec();
            let event_us = event
                .event_time
                .as_ref()
                .and_then(wire::instant)
                .map(to_us)
                .ok_or_else(|| ApplyError::Malformed("event_time missing".into()))?;
            let sequence = i64::try_from(event.sequence)
                .map_err(|_| ApplyError::Malformed("sequence out of range".into()))?;
            self.apply_change(&tx, child, event, &mut delta, &mut out)
                .await?;
            journal_event::Entity::insert(journal_event::ActiveModel {
                origin_unit: Set(origin.clone()),
                sequence: Set(sequence),
                event_us: Set(event_us),
                action: Set(event.action.chars().take(64).collect()),
                payload: Set(bytes.clone()),
                hash: Set(hash.clone()),
            })
            .exec(&tx)
            .await?;
            *last = event.sequence;
            *last_hash = hash;
            out.applied += 1;
        }
        for (origin, (last, hash, existed)) in &heads {
            let row = journal_head::ActiveModel {
                origin_unit: Set(origin.clone()),
                last_sequence: Set(i64::try_from(*last).unwrap_or(i64::MAX)),
                last_hash: Set(hash.clone()),
            };
            if *existed {
                journal_head::Entity::update(row).exec(&tx).await?;
            } else if *last > 0 {
                journal_head::Entity::insert(row).exec(&tx).await?;
            }
            out.positions.insert(origin.clone(), *last);
        }
        repo::flush_tally(&tx, delta).await?;
        tx.commit().await?;
        if out.units_changed {
            self.reload_tree().await?;
        }
        if out.applied > 0 {
            self.notify_changed();
        }
        Ok(out)
    }

    async fn apply_change(
        &self,
        tx: &sea_orm::DatabaseTransaction,
        child: &str,
        event: &pb::JournalEvent,
        delta: &mut Delta,
        out: &mut Applied,
    ) -> Result<(), ApplyError> {
        use pb::journal_event::Change;
        let origin = &event.origin_unit;
        let forged = |what: &str, unit: &str| {
            ApplyError::Forged(format!("event of {origin} carries a {what} of unit {unit}"))
        };
        let tree = self.tree();
        match &event.change {
            Some(Change::UnitRegistered(u)) => {
                let mut unit = wire::inbound::unit(u)?;
                if !tree.is_within(&unit.code, child) && unit.code != child {
                    // A child registers units of its own subtree only.
                    let parent_ok = unit
                        .parent_code
                        .as_deref()
                        .is_some_and(|p| tree.is_within(p, child));
                    if !parent_ok {
                        return Err(forged("unit", &unit.code));
                    }
                }
                if unit.code == child {
                    unit.parent_code = Some(tree.root().to_string());
                } else if unit.code == tree.root() {
                    return Err(forged("unit", &unit.code));
                } else if let Some(parent) = &unit.parent_code {
                    if !tree.is_within(parent, child) {
                        return Err(forged("parent", parent));
                    }
                } else {
                    // A unit that did not know its parent yet keeps the place it has here.
                    unit.parent_code = tree.chain(&unit.code).get(1).cloned();
                }
                repo::save_unit(tx, &unit, false).await?;
                out.units_changed = true;
            }
            Some(Change::VisitRecorded(v)) => {
                let visit = wire::inbound::visit(v)?;
                if visit.unit_code != *origin {
                    return Err(forged("visit", &visit.unit_code));
                }
                let before = repo::upsert_visit(tx, &visit).await?;
                let before = before.map(|b| tally::visit(&b)).unwrap_or_default();
                delta.record(&tree, &before, &tally::visit(&visit));
            }
            Some(Change::SchedulePublished(e)) => {
                let entry = wire::inbound::schedule_entry(e)?;
                if entry.unit_code != *origin {
                    return Err(forged("schedule entry", &entry.unit_code));
                }
                repo::upsert_schedule(tx, &entry).await?;
            }
            Some(Change::ConclusionChanged(c)) => {
                let conclusion = wire::inbound::conclusion(c)?;
                if conclusion.unit_code != *origin {
                    return Err(forged("conclusion", &conclusion.unit_code));
                }
                repo::upsert_conclusion(tx, &conclusion).await?;
            }
            Some(Change::PetitionChanged(p)) => {
                let petition = wire::inbound::petition(p)?;
                if petition.unit_code != *origin {
                    return Err(forged("petition", &petition.unit_code));
                }
                let before = repo::upsert_petition(tx, &petition).await?;
                let before = before.map(|b| tally::petition(&b)).unwrap_or_default();
                delta.record(&tree, &before, &tally::petition(&petition));
            }
            Some(Change::CaseChanged(c)) => {
                let case = wire::inbound::case(c)?;
                if case.owner_unit != *origin {
                    return Err(forged("case", &case.owner_unit));
                }
                let before = repo::upsert_case(tx, &case).await?;
                let before = before.map(|b| tally::case(&b)).unwrap_or_default();
                delta.record(&tree, &before, &tally::case(&case));
            }
            None => return Err(ApplyError::Malformed("event without a change".into())),
        }
        Ok(())
    }

    /// Registers the units a child introduces in its Hello: the child below this node.
    pub async fn register_child(
        &self,
        child: &crate::domain::model::Unit,
        subtree: &[crate::domain::model::Unit],
    ) -> Result<(), DomainError> {
        let root = self.code();
        if child.code == root {
            return Err(DomainError::invalid(
                "hello.unit",
                "a node cannot be its own child",
            ));
        }
        if self.tree().is_within(&root, &child.code) {
            return Err(DomainError::invalid(
                "hello.unit",
                "a node cannot be its own descendant",
            ));
        }
        let tx = self.store().begin_write().await?;
        let mut me = child.clone();
        me.parent_code = Some(root);
        repo::save_unit(&tx, &me, false).await?;
        tx.commit().await?;
        self.reload_tree().await?;
        self.register_subtree(&child.code, subtree).await
    }

    /// Registers units a child vouches for below itself: each unit's parent must be the
    /// child or a unit of its subtree (given before it or already known).
    pub async fn register_subtree(
        &self,
        child: &str,
        units: &[crate::domain::model::Unit],
    ) -> Result<(), DomainError> {
        let tree = self.tree();
        let fresh: Vec<&crate::domain::model::Unit> = units
            .iter()
            .filter(|u| {
                !(tree.is_within(&u.code, child)
                    && tree.chain(&u.code).get(1).map(String::as_str) == u.parent_code.as_deref())
            })
            .collect();
        if fresh.is_empty() {
            return Ok(());
        }
        let root = self.code();
        let mut known: Vec<String> = tree.subtree(child);
        let tx = self.store().begin_write().await?;
        let mut pending = fresh;
        while !pending.is_empty() {
            let before = pending.len();
            let mut rest = Vec::new();
            for u in pending {
                if u.code == root || u.code == child || tree.is_within(&root, &u.code) {
                    return Err(DomainError::invalid(
                        "units",
                        format!("unit {} cannot lie below child {child}", u.code),
                    ));
                }
                if u.parent_code.as_ref().is_some_and(|p| known.contains(p)) {
                    repo::save_unit(&tx, u, false).await?;
                    if !known.contains(&u.code) {
                        known.push(u.code.clone());
                    }
                } else {
                    rest.push(u);
                }
            }
            if rest.len() == before {
                return Err(DomainError::invalid(
                    "units",
                    "every unit's parent must be the child or a unit of its subtree",
                ));
            }
            pending = rest;
        }
        tx.commit().await?;
        self.reload_tree().await
    }

    /// Positions of this node's journal for every origin in the subtree of `unit`.
    pub async fn positions(&self, unit: &str) -> Result<BTreeMap<String, u64>, DomainError> {
        let tree = self.tree();
        let mut out = BTreeMap::new();
        for origin in tree.subtree(unit) {
            let last = super::journal::last_sequence(self.store().reader(), &origin).await?;
            out.insert(origin, last);
        }
        Ok(out)
    }
}
