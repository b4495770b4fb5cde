//! The units children bring: a child registered by its Hello with its subtree, and the units
//! a batch places below it, each checked against the tree (no unit below itself, none moved
//! from elsewhere, no deeper than `MAX_DEPTH`).

use std::collections::HashMap;

use super::App;
use crate::domain::DomainError;
use crate::domain::tree::Tree;
use crate::storage::Tx;
use crate::storage::records as repo;

/// Most units a Hello or a batch may place below a child at once.
pub const MAX_UNITS: usize = 2000;
/// Most levels of a tree, this node's included: the administrative tree has five at most
/// (national, province, district, commune, and a unit below), and the tree's walks are
/// quadratic in its depth.
pub const MAX_DEPTH: usize = 16;

impl App {
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
    pub(super) async fn place_units(
        &self,
        tx: &Tx,
        child: &str,
        units: &[crate::domain::model::Unit],
    ) -> Result<bool, DomainError> {
        self.place_units_in(tx, &self.tree(), child, units, "batch.units")
            .await
    }

    /// `place_units` checked against `tree`.
    async fn place_units_in(
        &self,
        tx: &Tx,
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
            // A unit reorganised away from a former parent is not the former parent's to place.
            let moved = tree.history().is_versioned(&u.code) && tree.ever_within(&u.code, child);
            let placed = tree.is_within(&u.code, child)
                && tree.chain(&u.code).get(1).map(String::as_str) == u.parent_code.as_deref();
            !(moved || placed)
        })
        .collect()
}
