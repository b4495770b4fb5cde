//! The checks of a child's batch that need no stored state: each event decoded, hashed and
//! its record converted and held to the child's subtree, before the write lock is taken.

use prost::Message;
use sha2::{Digest, Sha256};
use tiepdan_proto::v1 as pb;

use super::App;
use crate::domain::DomainError;
use crate::domain::model::{Case, Conclusion, Petition, ScheduleEntry, Visit};
use crate::domain::tree::Tree;
use crate::storage::StorageError;
use crate::storage::journal::EventRow;
use crate::storage::records::to_us;
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

impl From<StorageError> for ApplyError {
    fn from(e: StorageError) -> Self {
        ApplyError::Storage(e.to_string())
    }
}

/// A record an event carries, checked and converted, waiting to be written.
pub(super) enum Record {
    Unit(crate::domain::model::Unit),
    Visit(Visit),
    Schedule(ScheduleEntry),
    Conclusion(Conclusion),
    Petition(Petition),
    Case(Case),
    Reorganisation(crate::domain::map::Reorganisation),
}

/// A batch as far as it is checked without the store (`App::check_batch`).
pub struct CheckedBatch {
    pub(super) decoded: Vec<pb::JournalEvent>,
    pub(super) checked: Vec<Checked>,
    /// The tree it was checked against.
    pub(super) tree: std::sync::Arc<Tree>,
    /// This node's own events, given back by its parent (`recover`): the speaker is this
    /// node, and its own unit's events are its own.
    pub(super) own: bool,
}

/// An event as far as it is checked without the store.
pub(super) struct Checked {
    /// SHA-256 of the event's bytes: what the next event chains to.
    pub(super) hash: Vec<u8>,
    /// Its record and journal row, or why it cannot be applied.
    pub(super) fresh: Result<(Record, EventRow), ApplyError>,
}

impl App {
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
            own: false,
        })
    }

    /// Hashes an event and, for it to be applied, checks its fields and its change against
    /// `tree` and makes its journal row; an error is the event's to report only if it is
    /// new (a redelivered event is held to the stored one instead).
    pub(super) fn check_event(
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
            let row = EventRow {
                origin: event.origin_unit.clone(),
                sequence,
                event_us,
                action: event.action.chars().take(64).collect(),
                payload: bytes.to_vec(),
                hash: hash.clone(),
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
        // A successor handles the records of the units that ended in its favour.
        let holds = |unit: &str| unit == origin || tree.history().custodian(unit) == *origin;
        Ok(match &event.change {
            Some(Change::UnitRegistered(u)) => {
                let mut unit = wire::inbound::unit(u)?;
                if tree.history().is_versioned(&unit.code) {
                    // Reorganisations alone place a reorganised unit; its former parent may
                    // still carry what it said of it.
                    if !tree.ever_within(&unit.code, child) {
                        return Err(forged("unit", &unit.code));
                    }
                    unit.parent_code = tree.parent_of(&unit.code).map(str::to_string);
                    return Ok(Record::Unit(unit));
                }
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
                if !holds(&petition.unit_code) {
                    return Err(forged("petition", &petition.unit_code));
                }
                Record::Petition(petition)
            }
            Some(Change::CaseChanged(c)) => {
                let case = wire::inbound::case(c)?;
                if !holds(&case.owner_unit) {
                    return Err(forged("case", &case.owner_unit));
                }
                Record::Case(case)
            }
            Some(Change::Reorganised(r)) => {
                let r = wire::inbound::reorganisation(r)?;
                // Issued at its authority's node, about units below it.
                if r.authority != *origin {
                    return Err(forged("reorganisation", &r.authority));
                }
                // Every unit it names that this node knows (the unit, its new parent, its
                // successor) lies below the authority: it moves nothing out of its subtree.
                let named = r.changes.iter().flat_map(|c| {
                    [
                        Some(&c.unit.code),
                        c.unit.parent_code.as_ref(),
                        c.successor.as_ref(),
                    ]
                    .into_iter()
                    .flatten()
                });
                for code in named {
                    if tree.knew(code) && !tree.ever_within(code, origin) {
                        return Err(forged("reorganisation of a unit", code));
                    }
                }
                Record::Reorganisation(r)
            }
            None => return Err(ApplyError::Malformed("event without a change".into())),
        })
    }
}
