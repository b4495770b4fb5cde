//! Units: registering one below this node, the subtree, the node's own identity, and the
//! parent's units it adopts when its link comes up.

use tiepdan_proto::v1 as pb;

use super::write::{Begun, RequestKey};
use super::{App, now_us};
use crate::domain::DomainError;
use crate::domain::model::Unit;
use crate::domain::tally::Delta;
use crate::storage::Store;
use crate::storage::journal;
use crate::storage::records::{self as repo};
use crate::wire;

impl App {
    /// Registers (or updates) a unit below this node.
    pub async fn register_unit(&self, key: &RequestKey, unit: Unit) -> Result<Unit, DomainError> {
        let tx = match self.begin(key).await? {
            Begun::Replay(v) => return Ok(v),
            Begun::Fresh(tx) => tx,
        };
        if unit.code == self.code() {
            return Err(DomainError::invalid(
                "unit.code",
                "this is the node's own unit; it is configured, not registered",
            ));
        }
        let parent = unit.parent_code.clone().unwrap_or_default();
        let known = repo::all_units(&tx).await?;
        if !known.iter().any(|u| u.code == parent) {
            return Err(DomainError::invalid(
                "unit.parent_code",
                format!("parent unit {parent:?} is not known to this node"),
            ));
        }
        if in_subtree(&known, &parent, &unit.code) {
            return Err(DomainError::invalid(
                "unit.parent_code",
                "a unit cannot be placed below itself",
            ));
        }
        let now = now_us();
        repo::save_unit(&tx, &unit, false).await?;
        self.log(
            &tx,
            now,
            key.method,
            pb::journal_event::Change::UnitRegistered(wire::unit(&unit)),
        )
        .await?;
        self.finish(tx, key, &unit, now, Delta::default()).await?;
        self.reload_tree().await?;
        Ok(unit)
    }

    /// This node's subtree, its own unit first, each unit before its children.
    pub async fn subtree(&self) -> Result<Vec<Unit>, DomainError> {
        let all = repo::all_units(self.store().reader()).await?;
        let mut out = Vec::with_capacity(all.len());
        let mut stack = vec![self.code()];
        while let Some(code) = stack.pop() {
            if let Some(u) = all.iter().find(|u| u.code == code) {
                out.push(u.clone());
                let mut children: Vec<_> = all
                    .iter()
                    .filter(|c| c.parent_code.as_deref() == Some(code.as_str()))
                    .map(|c| c.code.clone())
                    .collect();
                children.sort_unstable_by(|a, b| b.cmp(a));
                stack.extend(children);
            }
        }
        Ok(out)
    }
}

/// Stores the node's own unit on its first start. Later starts must name the unit the
/// database holds, as it holds it (name, level, remote flag: deadlines depend on it), unless
/// `change` asks for a deliberate change, which is journaled. Returns the unit as stored.
pub async fn save_identity(store: &Store, unit: Unit, change: bool) -> Result<Unit, DomainError> {
    let mut unit = unit;
    let tx = store.begin_write().await?;
    let known = repo::find_self(&tx).await?;
    if unit.parent_code.is_none() {
        // The parent is learnt from the link; keep what an earlier run learnt.
        unit.parent_code = known.as_ref().and_then(|k| k.parent_code.clone());
    }
    if let Some(known) = &known {
        if known.code != unit.code {
            return Err(DomainError::precondition(
                "IDENTITY_MISMATCH",
                format!(
                    "this database belongs to unit {} ({}), not {} ({}); use the data \
                     directory of unit {}",
                    known.code, known.name, unit.code, unit.name, unit.code
                ),
            ));
        }
        if *known != unit && !change {
            return Err(DomainError::precondition(
                "IDENTITY_MISMATCH",
                format!(
                    "this database holds unit {} as {}; the configuration says {}; to change \
                     it, run `tiepdan-node set-identity` with the new values",
                    unit.code,
                    describe_identity(known),
                    describe_identity(&unit)
                ),
            ));
        }
    }
    // A database waiting to recover its journal from the parent writes no event of its own:
    // the parent holds the unit's first events, and a new one would fork the journal.
    let recovering = crate::storage::recovery::load(&tx)
        .await?
        .is_some_and(|r| r.finish.is_none());
    if recovering && known.as_ref().is_some_and(|k| *k != unit) {
        return Err(DomainError::precondition(
            "RECOVERING",
            format!(
                "the database of unit {} waits to recover its journal from its parent; start                  the node with its parent reachable before changing its identity",
                unit.code
            ),
        ));
    }
    if recovering && known.is_none() {
        repo::save_unit(&tx, &unit, true).await?;
    } else if known.as_ref() != Some(&unit) {
        repo::save_unit(&tx, &unit, true).await?;
        journal::append(
            &tx,
            &unit.code,
            now_us(),
            "RegisterUnit",
            pb::journal_event::Change::UnitRegistered(wire::unit(&unit)),
        )
        .await?;
        if let Some(known) = &known {
            tracing::warn!(
                unit = %unit.code,
                before = %describe_identity(known),
                after = %describe_identity(&unit),
                "the node's identity changed"
            );
        }
    }
    store.commit(tx).await?;
    Ok(unit)
}

fn describe_identity(u: &Unit) -> String {
    format!(
        "name {:?}, level {}, {}",
        u.name,
        u.level.as_str(),
        if u.remote { "remote" } else { "not remote" }
    )
}

fn in_subtree(units: &[Unit], code: &str, root: &str) -> bool {
    let mut current = Some(code.to_string());
    let mut seen = std::collections::HashSet::new();
    while let Some(c) = current {
        if c == root {
            return true;
        }
        if !seen.insert(c.clone()) {
            return true; // a cycle: treat as inside, refuse
        }
        current = units
            .iter()
            .find(|u| u.code == c)
            .and_then(|u| u.parent_code.clone());
    }
    false
}

impl App {
    /// Every unit this node knows, inside its subtree or not.
    pub async fn known_units(&self) -> Result<Vec<Unit>, DomainError> {
        repo::all_units(self.store().reader()).await
    }

    /// Records the parent this node's link found: the parent's unit and the units it knows
    /// outside this subtree; re-parents this node's unit (journaled, so every ancestor learns
    /// where this unit sits) when the parent changed.
    pub async fn adopt_parent(&self, parent: &Unit, directory: &[Unit]) -> Result<(), DomainError> {
        let me = self.unit();
        let tree = self.tree();
        // Only what is new or changed is written: a directory repeats units already held, and
        // a returning parent is usually the same one, so the write lock (which a busy node's
        // writers queue for) is taken only when something changed.
        let fresh: Vec<&Unit> = std::iter::once(parent)
            .chain(directory)
            .filter(|u| {
                u.code != me.code
                    && !tree.is_within(&u.code, &me.code)
                    && self.known_unit(&u.code).as_ref() != Some(*u)
            })
            .collect();
        let reparented = me.parent_code.as_deref() != Some(parent.code.as_str());
        if fresh.is_empty() && !reparented {
            return Ok(());
        }
        let tx = self.store().begin_write().await?;
        for u in fresh {
            repo::save_unit(&tx, u, false).await?;
        }
        if reparented {
            let mut moved = me.clone();
            moved.parent_code = Some(parent.code.clone());
            repo::save_unit(&tx, &moved, true).await?;
            // While recovering, the journal the parent gives back says where the unit sat.
            if !self.is_recovering() {
                self.log(
                    &tx,
                    now_us(),
                    "AdoptParent",
                    pb::journal_event::Change::UnitRegistered(wire::unit(&moved)),
                )
                .await?;
            }
            match self.inner.unit.write() {
                Ok(mut u) => *u = moved,
                Err(poisoned) => *poisoned.into_inner() = moved,
            }
        }
        self.store().commit(tx).await?;
        self.reload_tree().await?;
        if reparented {
            self.notify_changed();
        }
        Ok(())
    }
}
