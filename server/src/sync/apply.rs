//! Applying a child's journal batch at the parent: one transaction per batch, idempotent on
//! (origin, sequence), refusing gaps, forged origins and broken hash chains; the events are
//! kept byte for byte in this node's journal (so they travel on up unchanged), the records'
//! copies and the maintained totals are updated, and only then is the batch acknowledged.

use std::collections::{BTreeMap, HashMap};

use prost::Message;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use sha2::{Digest, Sha256};
use tiepdan_proto::v1 as pb;

use crate::domain::DomainError;
use crate::domain::model::{Case, Conclusion, Petition, ScheduleEntry, Visit};
use crate::registry::Registry;
use crate::report::tally::{self, Delta};
use crate::report::tree::Tree;
use crate::storage::entities::{conclusion, journal_event, journal_head, schedule_entry};
use crate::storage::records::{self as repo, to_us};
use crate::wire;

/// Most units a Hello or a batch may place below a child at once.
pub const MAX_UNITS: usize = 2000;
/// Most levels of a tree, this node's included: the administrative tree has five at most
/// (national, province, district, commune, and a unit below), and the tree's walks are
/// quadratic in its depth.
pub const MAX_DEPTH: usize = 16;

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

/// A record an event carries, checked and converted, waiting to be written.
enum Record {
    Unit(crate::domain::model::Unit),
    Visit(Visit),
    Schedule(ScheduleEntry),
    Conclusion(Conclusion),
    Petition(Petition),
    Case(Case),
}

/// A batch as far as it is checked without the store (`Registry::check_batch`).
pub struct CheckedBatch {
    decoded: Vec<pb::JournalEvent>,
    checked: Vec<Checked>,
    /// The tree it was checked against.
    tree: std::sync::Arc<Tree>,
}

/// An event as far as it is checked without the store.
struct Checked {
    /// SHA-256 of the event's bytes: what the next event chains to.
    hash: Vec<u8>,
    /// Its record and journal row, or why it cannot be applied.
    fresh: Result<(Record, journal_event::ActiveModel), ApplyError>,
}

/// Latest state of each record a batch touches, with its order of first appearance.
struct Latest<T> {
    order: Vec<String>,
    by_id: HashMap<String, T>,
}

impl<T> Default for Latest<T> {
    fn default() -> Self {
        Latest {
            order: Vec::new(),
            by_id: HashMap::new(),
        }
    }
}

impl<T> Latest<T> {
    /// Makes `value` the latest state of `id`; returns the state it replaces, if the batch
    /// had one.
    fn put(&mut self, id: &str, value: T) -> Option<T> {
        let previous = self.by_id.insert(id.to_string(), value);
        if previous.is_none() {
            self.order.push(id.to_string());
        }
        previous
    }

    fn values(&self) -> Vec<&T> {
        self.order
            .iter()
            .filter_map(|id| self.by_id.get(id))
            .collect()
    }
}

impl Registry {
    /// Applies one batch of encoded events received from `child`, with the units it places
    /// below the child (registered in the batch's transaction: a refused batch leaves none):
    /// `check_batch`, then `write_batch`.
    pub async fn apply_batch(
        &self,
        child: &str,
        units: &[crate::domain::model::Unit],
        events: &[&[u8]],
    ) -> Result<Applied, ApplyError> {
        let checked = self.check_batch(child, events)?;
        self.write_batch(child, units, events, checked).await
    }

    /// Decodes a batch and checks what needs no stored state, without the write lock: each
    /// event's hash, fields and record, against the tree as it is now. Only an undecodable
    /// event fails here; the other faults are reported by `write_batch`, in event order.
    pub fn check_batch(&self, child: &str, events: &[&[u8]]) -> Result<CheckedBatch, ApplyError> {
        let decoded: Vec<pb::JournalEvent> = events
            .iter()
            .map(|bytes| {
                pb::JournalEvent::decode(*bytes)
                    .map_err(|e| ApplyError::Malformed(format!("event does not decode: {e}")))
            })
            .collect::<Result<_, _>>()?;
        let tree = self.tree();
        let checked = decoded
            .iter()
            .zip(events)
            .map(|(event, bytes)| self.check_event(&tree, child, event, bytes))
            .collect();
        Ok(CheckedBatch {
            decoded,
            checked,
            tree,
        })
    }

    /// Writes a batch `check_batch` made of `events`, in one transaction, and commits it.
    ///
    /// What depends on the store is checked first, event by event, in order, without
    /// writing: sequence and chain against the stored heads, origin and records against the
    /// tree the batch is written in (the checks are redone if units were placed since). The
    /// writes then go in a handful of statements a batch, whatever its size: one query for
    /// the heads of its origins, one for the records it replaces, multi-row inserts of its
    /// journal rows, multi-row upserts of the latest state of each record, one upsert of the
    /// heads and one of the totals.
    pub async fn write_batch(
        &self,
        child: &str,
        units: &[crate::domain::model::Unit],
        events: &[&[u8]],
        batch: CheckedBatch,
    ) -> Result<Applied, ApplyError> {
        let CheckedBatch {
            decoded,
            checked,
            tree: before,
        } = batch;
        if decoded.len() != events.len() {
            return Err(ApplyError::Storage(
                "a checked batch written with other events".into(),
            ));
        }
        let tx = self.store().begin_write().await?;
        let placed = self.place_units(&tx, child, units).await?;
        let tree = if placed {
            std::sync::Arc::new(Tree::new(&self.code(), &repo::all_units(&tx).await?))
        } else {
            self.tree()
        };
        // Units placed since (by this batch or another child's): the checks are redone
        // against the tree the batch is written in.
        let stale = !std::sync::Arc::ptr_eq(&tree, &before);
        for event in &decoded {
            if !tree.is_within(&event.origin_unit, child) || event.origin_unit == tree.root() {
                return Err(ApplyError::Forged(format!(
                    "child {child} cannot speak for unit {:?}",
                    event.origin_unit
                )));
            }
        }
        let mut origins: Vec<String> = decoded.iter().map(|e| e.origin_unit.clone()).collect();
        origins.sort_unstable();
        origins.dedup();
        let mut heads: BTreeMap<String, (u64, Vec<u8>, bool)> = origins
            .iter()
            .map(|o| (o.clone(), (0, Vec::new(), false)))
            .collect();
        for h in journal_head::Entity::find()
            .filter(journal_head::Column::OriginUnit.is_in(origins.iter().cloned()))
            .all(&tx)
            .await?
        {
            heads.insert(
                h.origin_unit,
                (
                    u64::try_from(h.last_sequence).unwrap_or(0),
                    h.last_hash,
                    true,
                ),
            );
        }
        let mut out = Applied::default();
        let mut journal_rows = Vec::new();
        let mut records = Vec::new();
        let mut replays: Vec<(String, u64, Vec<u8>)> = Vec::new();
        let mut fresh_events: Vec<(&pb::JournalEvent, &[u8])> = Vec::new();
        for ((event, bytes), checked) in decoded.iter().zip(events).zip(checked) {
            let origin = &event.origin_unit;
            let Some((last, last_hash, _)) = heads.get_mut(origin) else {
                continue;
            };
            if event.sequence <= *last {
                // Redelivered: already applied, and must be the very event applied.
                replays.push((origin.clone(), event.sequence, checked.hash));
                continue;
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
            let (record, row) = if stale {
                self.check_event(&tree, child, event, bytes).fresh?
            } else {
                checked.fresh?
            };
            records.push(record);
            journal_rows.push(row);
            fresh_events.push((event, *bytes));
            *last = event.sequence;
            *last_hash = checked.hash;
            out.applied += 1;
        }
        // A replay of an event of this very batch is held to that event; of an earlier one,
        // to the stored event.
        let fresh: HashMap<(&str, i64), &[u8]> = journal_rows
            .iter()
            .filter_map(|r: &journal_event::ActiveModel| {
                Some((
                    (
                        r.origin_unit.try_as_ref()?.as_str(),
                        *r.sequence.try_as_ref()?,
                    ),
                    r.hash.try_as_ref()?.as_slice(),
                ))
            })
            .collect();
        for (origin, sequence, hash) in &replays {
            let key = (
                origin.as_str(),
                i64::try_from(*sequence).unwrap_or(i64::MAX),
            );
            let held = match fresh.get(&key) {
                Some(h) => Some(h.to_vec()),
                None => super::journal::hash_at(&tx, origin, *sequence).await?,
            };
            if held.as_ref() != Some(hash) {
                return Err(ApplyError::Chain {
                    origin: origin.clone(),
                    sequence: *sequence,
                });
            }
        }
        // The inserts go to the database together, after the reads.
        let mut inserts = repo::Inserts::new(self.store().backend());
        let delta = self
            .write_records(&tx, &tree, records, &mut inserts, &mut out)
            .await?;
        inserts.add(journal_rows, repo::OnKey::Refuse)?;
        let mut head_rows = Vec::new();
        for (origin, (last, hash, _)) in &heads {
            if *last > 0 {
                head_rows.push(journal_head::ActiveModel {
                    origin_unit: Set(origin.clone()),
                    last_sequence: Set(i64::try_from(*last).unwrap_or(i64::MAX)),
                    last_hash: Set(hash.clone()),
                });
            }
            out.positions.insert(origin.clone(), *last);
        }
        if out.applied > 0 {
            inserts.add(head_rows, repo::OnKey::Replace)?;
        }
        repo::add_tally(&mut inserts, delta)?;
        inserts.run(&tx).await?;
        // Copied before the commit, pushed after it: the tail holds committed events only.
        let kept = self.tail().is_kept().then(|| {
            fresh_events
                .iter()
                .map(|(event, bytes)| super::journal::StoredEvent {
                    origin: event.origin_unit.clone(),
                    sequence: event.sequence,
                    payload: bytes.to_vec(),
                })
                .collect::<Vec<_>>()
        });
        self.store().commit(tx).await?;
        if let Some(kept) = kept {
            self.tail().push(kept);
        }
        if out.units_changed || placed {
            self.reload_tree().await?;
        }
        if out.applied > 0 {
            self.notify_journal();
        }
        Ok(out)
    }

    /// Hashes an event and, for it to be applied, checks its fields and its change against
    /// `tree` and makes its journal row; an error is the event's to report only if it is
    /// new (a redelivered event is held to the stored one instead).
    fn check_event(
        &self,
        tree: &Tree,
        child: &str,
        event: &pb::JournalEvent,
        bytes: &[u8],
    ) -> Checked {
        let hash = Sha256::digest(bytes).to_vec();
        let fresh = (|| {
            let event_us = event
                .event_time
                .as_ref()
                .and_then(wire::instant)
                .map(to_us)
                .ok_or_else(|| ApplyError::Malformed("event_time missing".into()))?;
            let sequence = i64::try_from(event.sequence)
                .map_err(|_| ApplyError::Malformed("sequence out of range".into()))?;
            if event.action.chars().any(char::is_control) {
                return Err(ApplyError::Malformed(
                    "action: control characters are not allowed".into(),
                ));
            }
            let record = self.check_change(tree, child, event)?;
            let row = journal_event::ActiveModel {
                origin_unit: Set(event.origin_unit.clone()),
                sequence: Set(sequence),
                event_us: Set(event_us),
                action: Set(event.action.chars().take(64).collect()),
                payload: Set(bytes.to_vec()),
                hash: Set(hash.clone()),
            };
            Ok((record, row))
        })();
        Checked { hash, fresh }
    }

    /// Checks an event's change against the child's subtree and converts its record.
    fn check_change(
        &self,
        tree: &Tree,
        child: &str,
        event: &pb::JournalEvent,
    ) -> Result<Record, ApplyError> {
        use pb::journal_event::Change;
        let origin = &event.origin_unit;
        let forged = |what: &str, unit: &str| {
            ApplyError::Forged(format!("event of {origin} carries a {what} of unit {unit}"))
        };
        Ok(match &event.change {
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
                if unit.code != child
                    && tree.knows(&unit.code)
                    && !tree.is_within(&unit.code, child)
                {
                    // A unit placed elsewhere is not the child's to move.
                    return Err(forged("unit", &unit.code));
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
                Record::Unit(unit)
            }
            Some(Change::VisitRecorded(v)) => {
                let visit = wire::inbound::visit(v)?;
                if visit.unit_code != *origin {
                    return Err(forged("visit", &visit.unit_code));
                }
                Record::Visit(visit)
            }
            Some(Change::SchedulePublished(e)) => {
                let entry = wire::inbound::schedule_entry(e)?;
                if entry.unit_code != *origin {
                    return Err(forged("schedule entry", &entry.unit_code));
                }
                Record::Schedule(entry)
            }
            Some(Change::ConclusionChanged(c)) => {
                let conclusion = wire::inbound::conclusion(c)?;
                if conclusion.unit_code != *origin {
                    return Err(forged("conclusion", &conclusion.unit_code));
                }
                Record::Conclusion(conclusion)
            }
            Some(Change::PetitionChanged(p)) => {
                let petition = wire::inbound::petition(p)?;
                if petition.unit_code != *origin {
                    return Err(forged("petition", &petition.unit_code));
                }
                Record::Petition(petition)
            }
            Some(Change::CaseChanged(c)) => {
                let case = wire::inbound::case(c)?;
                if case.owner_unit != *origin {
                    return Err(forged("case", &case.owner_unit));
                }
                Record::Case(case)
            }
            None => return Err(ApplyError::Malformed("event without a change".into())),
        })
    }

    /// Writes the records of a batch: units one by one (rare), the other records as the
    /// latest state of each, and returns the change of the totals, computed in event order
    /// against the state each record had before (stored, or earlier in the batch).
    async fn write_records(
        &self,
        tx: &sea_orm::DatabaseTransaction,
        tree: &Tree,
        records: Vec<Record>,
        inserts: &mut repo::Inserts,
        out: &mut Applied,
    ) -> Result<Delta, ApplyError> {
        let ids = |f: fn(&Record) -> Option<&str>| -> Vec<String> {
            let mut ids: Vec<String> = records.iter().filter_map(f).map(str::to_string).collect();
            ids.sort_unstable();
            ids.dedup();
            ids
        };
        let visit_ids = ids(|r| match r {
            Record::Visit(v) => Some(v.id.as_str()),
            _ => None,
        });
        let petition_ids = ids(|r| match r {
            Record::Petition(p) => Some(p.id.as_str()),
            _ => None,
        });
        let case_ids = ids(|r| match r {
            Record::Case(c) => Some(c.id.as_str()),
            _ => None,
        });
        let schedule_ids = ids(|r| match r {
            Record::Schedule(e) => Some(e.id.as_str()),
            _ => None,
        });
        let conclusion_ids = ids(|r| match r {
            Record::Conclusion(c) => Some(c.id.as_str()),
            _ => None,
        });
        let stored_schedules = owners(tx, schedule_entry::Entity, &schedule_ids).await?;
        let stored_conclusions = owners(tx, conclusion::Entity, &conclusion_ids).await?;
        let mut stored_visits = repo::visits_by_id(tx, &visit_ids).await?;
        let mut stored_petitions = repo::petitions_by_id(tx, &petition_ids).await?;
        let mut stored_cases = repo::cases_by_id(tx, &case_ids).await?;
        let mut visits: Latest<Visit> = Latest::default();
        let mut schedules: Latest<ScheduleEntry> = Latest::default();
        let mut conclusions: Latest<Conclusion> = Latest::default();
        let mut petitions: Latest<Petition> = Latest::default();
        let mut cases: Latest<Case> = Latest::default();
        let mut delta = Delta::default();
        for record in records {
            match record {
                Record::Unit(unit) => {
                    repo::save_unit(tx, &unit, false).await?;
                    out.units_changed = true;
                }
                Record::Visit(v) => {
                    let after = tally::visit(&v);
                    let (id, unit) = (v.id.clone(), v.unit_code.clone());
                    let before = visits.put(&id, v).or_else(|| stored_visits.remove(&id));
                    same_unit("visit", &id, &unit, before.as_ref().map(|b| &b.unit_code))?;
                    let before = before.map(|b| tally::visit(&b)).unwrap_or_default();
                    delta.record(tree, &before, &after);
                }
                Record::Schedule(e) => {
                    let (id, unit) = (e.id.clone(), e.unit_code.clone());
                    let before = schedules.put(&id, e).map(|b| b.unit_code);
                    let before = before.as_ref().or_else(|| stored_schedules.get(&id));
                    same_unit("schedule entry", &id, &unit, before)?;
                }
                Record::Conclusion(c) => {
                    let (id, unit) = (c.id.clone(), c.unit_code.clone());
                    let before = conclusions.put(&id, c).map(|b| b.unit_code);
                    let before = before.as_ref().or_else(|| stored_conclusions.get(&id));
                    same_unit("conclusion", &id, &unit, before)?;
                }
                Record::Petition(p) => {
                    let after = tally::petition(&p);
                    let (id, unit) = (p.id.clone(), p.unit_code.clone());
                    let before = petitions
                        .put(&id, p)
                        .or_else(|| stored_petitions.remove(&id));
                    same_unit(
                        "petition",
                        &id,
                        &unit,
                        before.as_ref().map(|b| &b.unit_code),
                    )?;
                    let before = before.map(|b| tally::petition(&b)).unwrap_or_default();
                    delta.record(tree, &before, &after);
                }
                Record::Case(c) => {
                    let after = tally::case(&c);
                    let (id, unit) = (c.id.clone(), c.owner_unit.clone());
                    let before = cases.put(&id, c).or_else(|| stored_cases.remove(&id));
                    same_unit("case", &id, &unit, before.as_ref().map(|b| &b.owner_unit))?;
                    let before = before.map(|b| tally::case(&b)).unwrap_or_default();
                    delta.record(tree, &before, &after);
                }
            }
        }
        repo::upsert_visits(inserts, &visits.values())?;
        repo::upsert_schedules(inserts, &schedules.values())?;
        repo::upsert_conclusions(inserts, &conclusions.values())?;
        repo::upsert_petitions(inserts, &petitions.values())?;
        repo::upsert_cases(inserts, &cases.values())?;
        Ok(delta)
    }

    /// Registers the units a child introduces in its Hello: the child below this node and
    /// the units of its subtree, in one transaction, so a refused subtree leaves the child
    /// unregistered too. A child placed as it says, with nothing new below it, writes nothing.
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
        let tree = self.tree();
        if tree.is_within(&root, &child.code) {
            return Err(DomainError::invalid(
                "hello.unit",
                "a node cannot be its own descendant",
            ));
        }
        check_unit_count("hello.subtree", subtree)?;
        let mut me = child.clone();
        me.parent_code = Some(root.clone());
        let placed = self.known_unit(&child.code).as_ref() == Some(&me)
            && tree.chain(&child.code).get(1) == Some(&root);
        if placed && unplaced(&tree, &child.code, subtree).is_empty() {
            return Ok(());
        }
        // The tree as it will be once the child is placed, for its subtree's checks.
        let mut prospective = Tree::clone(&tree);
        prospective.place(&child.code, &root);
        let tx = self.store().begin_write().await?;
        if !placed {
            repo::save_unit(&tx, &me, false).await?;
        }
        self.place_units_in(&tx, &prospective, &child.code, subtree, "hello.subtree")
            .await?;
        self.store().commit(tx).await?;
        self.reload_tree().await?;
        Ok(())
    }

    /// Saves, in `tx`, the units of `units` this node does not yet place where they say;
    /// returns whether it saved any. The tree is the caller's to reload after the commit.
    async fn place_units(
        &self,
        tx: &sea_orm::DatabaseTransaction,
        child: &str,
        units: &[crate::domain::model::Unit],
    ) -> Result<bool, DomainError> {
        self.place_units_in(tx, &self.tree(), child, units, "batch.units")
            .await
    }

    /// `place_units` checked against `tree`.
    async fn place_units_in(
        &self,
        tx: &sea_orm::DatabaseTransaction,
        tree: &Tree,
        child: &str,
        units: &[crate::domain::model::Unit],
        field: &str,
    ) -> Result<bool, DomainError> {
        check_unit_count(field, units)?;
        let fresh = unplaced(tree, child, units);
        if fresh.is_empty() {
            return Ok(false);
        }
        let root = self.code();
        // Each known unit of the child's subtree with its depth below this node.
        let mut known: HashMap<String, usize> = tree
            .subtree(child)
            .into_iter()
            .map(|u| {
                let depth = tree.chain(&u).len();
                (u, depth)
            })
            .collect();
        let mut pending = fresh;
        while !pending.is_empty() {
            let before = pending.len();
            let mut rest = Vec::new();
            for u in pending {
                let elsewhere = tree.knows(&u.code) && !tree.is_within(&u.code, child);
                if u.code == root || u.code == child || tree.is_within(&root, &u.code) || elsewhere
                {
                    return Err(DomainError::invalid(
                        field,
                        format!("unit {} cannot lie below child {child}", u.code),
                    ));
                }
                if let Some(depth) = u.parent_code.as_ref().and_then(|p| known.get(p)) {
                    let depth = depth + 1;
                    if depth > MAX_DEPTH {
                        return Err(DomainError::invalid(
                            field,
                            format!("unit {} lies deeper than {MAX_DEPTH} levels", u.code),
                        ));
                    }
                    repo::save_unit(tx, u, false).await?;
                    known.insert(u.code.clone(), depth);
                } else {
                    rest.push(u);
                }
            }
            if rest.len() == before {
                return Err(DomainError::invalid(
                    field,
                    "every unit's parent must be the child or a unit of its subtree",
                ));
            }
            pending = rest;
        }
        Ok(true)
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

/// At most `MAX_UNITS` units are placed at once.
fn check_unit_count(field: &str, units: &[crate::domain::model::Unit]) -> Result<(), DomainError> {
    if units.len() > MAX_UNITS {
        return Err(DomainError::invalid(
            field,
            format!("at most {MAX_UNITS} units at once"),
        ));
    }
    Ok(())
}

/// The units of `units` that `tree` does not yet place below `child` under the parent
/// they name.
fn unplaced<'a>(
    tree: &Tree,
    child: &str,
    units: &'a [crate::domain::model::Unit],
) -> Vec<&'a crate::domain::model::Unit> {
    units
        .iter()
        .filter(|u| {
            !(tree.is_within(&u.code, child)
                && tree.chain(&u.code).get(1).map(String::as_str) == u.parent_code.as_deref())
        })
        .collect()
}

/// A record never changes unit: an event that gives a record's id to another unit is forged
/// (its id names a record of another subtree, or of this node).
fn same_unit(what: &str, id: &str, unit: &str, before: Option<&String>) -> Result<(), ApplyError> {
    match before {
        Some(b) if b != unit => Err(ApplyError::Forged(format!(
            "{what} {id} belongs to unit {b}, not {unit}"
        ))),
        _ => Ok(()),
    }
}

/// The unit of each stored record of `ids`, for an entity keyed by `id` with a `unit_code`.
async fn owners<E>(
    tx: &sea_orm::DatabaseTransaction,
    _entity: E,
    ids: &[String],
) -> Result<HashMap<String, String>, ApplyError>
where
    E: EntityTrait,
    E::Column: Owned,
{
    use sea_orm::ModelTrait;
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let text = |v: sea_orm::Value| match v {
        sea_orm::Value::String(Some(s)) => Ok(s),
        _ => Err(ApplyError::Storage(
            "a record's id or unit is not text".into(),
        )),
    };
    repo::find_by_ids::<E>(tx, ids)
        .await?
        .into_iter()
        .map(|m| {
            Ok((
                text(m.get(<E::Column as Owned>::ID))?,
                text(m.get(<E::Column as Owned>::UNIT))?,
            ))
        })
        .collect()
}

/// The id and unit columns of a record's table.
trait Owned: ColumnTrait {
    const ID: Self;
    const UNIT: Self;
}

impl Owned for schedule_entry::Column {
    const ID: Self = schedule_entry::Column::Id;
    const UNIT: Self = schedule_entry::Column::UnitCode;
}

impl Owned for conclusion::Column {
    const ID: Self = conclusion::Column::Id;
    const UNIT: Self = conclusion::Column::UnitCode;
}
