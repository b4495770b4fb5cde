//! Applying a child's journal batch at the parent: one transaction per batch, idempotent on
//! (origin, sequence), refusing gaps, forged origins and broken hash chains; the events are
//! kept byte for byte in this node's journal (so they travel on up unchanged), the records'
//! copies and the maintained totals are updated, and only then is the batch acknowledged.

use std::collections::{BTreeMap, HashMap};

use tiepdan_proto::v1 as pb;

use super::App;
use super::check::Record;
pub use super::check::{ApplyError, CheckedBatch};
use crate::domain::DomainError;
use crate::domain::model::{Case, Conclusion, Petition, ScheduleEntry, Visit};
use crate::domain::tally::{self, Delta};
use crate::domain::tree::Tree;
use crate::storage::journal::{self, EventRow};
use crate::storage::records as repo;
use crate::storage::{Tx, owners};

/// The outcome of a batch.
#[derive(Debug, Default)]
pub struct Applied {
    /// Per origin touched, the highest contiguous sequence now applied.
    pub positions: BTreeMap<String, u64>,
    /// Events newly applied (redelivered ones not counted).
    pub applied: u64,
    /// Whether a unit was registered (the tree must be reloaded).
    pub units_changed: bool,
    /// Whether a reorganisation was stored (the subtree sums are counted again).
    pub reorganised: bool,
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

impl App {
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
            own,
        } = batch;
        if decoded.len() != events.len() {
            return Err(ApplyError::Storage(
                "a checked batch written with other events".into(),
            ));
        }
        let tx = self.store().begin_write().await?;
        let placed = self.place_units(&tx, child, units).await?;
        let tree = if placed {
            std::sync::Arc::new(self.tree_in(&tx).await?)
        } else {
            self.tree()
        };
        // Units placed since (by this batch or another child's): the checks are redone
        // against the tree the batch is written in.
        let stale = !std::sync::Arc::ptr_eq(&tree, &before);
        for event in &decoded {
            // Only a recovery speaks for this node's own unit, and only as this node.
            let own_unit = event.origin_unit == tree.root();
            // A former parent still carries the history of the units it held.
            if !tree.ever_within(&event.origin_unit, child)
                || (own_unit && !(own && child == tree.root()))
            {
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
        for (origin, last, hash) in journal::heads(&tx, &origins).await? {
            heads.insert(origin, (last, hash, true));
        }
        let mut out = Applied::default();
        let mut journal_rows: Vec<EventRow> = Vec::new();
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
            .map(|r| ((r.origin.as_str(), r.sequence), r.hash.as_slice()))
            .collect();
        for (origin, sequence, hash) in &replays {
            let key = (
                origin.as_str(),
                i64::try_from(*sequence).unwrap_or(i64::MAX),
            );
            let held = match fresh.get(&key) {
                Some(h) => Some(h.to_vec()),
                None => journal::hash_at(&tx, origin, *sequence).await?,
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
        journal::add_events(&mut inserts, journal_rows)?;
        let mut head_rows = Vec::new();
        for (origin, (last, hash, _)) in &heads {
            if *last > 0 {
                head_rows.push((origin.clone(), *last, hash.clone()));
            }
            out.positions.insert(origin.clone(), *last);
        }
        if out.applied > 0 {
            journal::put_heads(&mut inserts, head_rows)?;
        }
        repo::add_tally(&mut inserts, delta)?;
        inserts.run(&tx).await?;
        if out.reorganised {
            let recount = self.recount_subtrees(&tx).await?;
            repo::flush_tally(&tx, recount).await?;
        }
        // Copied before the commit, pushed after it: the tail holds committed events only.
        let kept = self.tail().is_kept().then(|| {
            fresh_events
                .iter()
                .map(|(event, bytes)| journal::StoredEvent {
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
        if out.reorganised {
            self.notify_downlink();
        }
        if out.applied > 0 {
            self.notify_journal();
        }
        Ok(out)
    }

    /// Writes the records of a batch: units one by one (rare), the other records as the
    /// latest state of each, and returns the change of the totals, computed in event order
    /// against the state each record had before (stored, or earlier in the batch).
    async fn write_records(
        &self,
        tx: &Tx,
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
        let stored_schedules = owners::schedule_owners(tx, &schedule_ids).await?;
        let stored_conclusions = owners::conclusion_owners(tx, &conclusion_ids).await?;
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
                // This node's own unit is configured, not taken from its journal.
                Record::Unit(unit) if unit.code == tree.root() => {}
                Record::Unit(unit) => {
                    repo::save_unit(tx, &unit, false).await?;
                    out.units_changed = true;
                }
                Record::Reorganisation(r) => {
                    out.reorganised |= self.store_reorganisation(tx, &r).await?;
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

    /// Positions of this node's journal for every origin in the subtree of `unit`.
    pub async fn positions(&self, unit: &str) -> Result<BTreeMap<String, u64>, DomainError> {
        let tree = self.tree();
        let mut out = BTreeMap::new();
        for origin in tree.ever_subtree(unit) {
            let last = journal::last_sequence(self.store().reader(), &origin).await?;
            out.insert(origin, last);
        }
        Ok(out)
    }
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
