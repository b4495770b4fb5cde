//! The part of the administrative tree a node knows: itself and its subtree.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::NaiveDate;

use crate::domain::map::History;
use crate::domain::model::Unit;

/// Parent links of the known units, rooted at this node's unit: as they are from the last
/// reorganisation on, with the trees of earlier days at hand.
#[derive(Debug, Clone, Default)]
pub struct Tree {
    root: String,
    parents: HashMap<String, Option<String>>,
    history: Arc<History>,
    /// The trees before each reorganisation's day, earliest first (empty in a tree taken
    /// `at` a day).
    eras: Arc<Vec<(NaiveDate, Tree)>>,
}

impl Tree {
    /// The tree of `units` seen from `root`.
    pub fn new(root: &str, units: &[Unit]) -> Tree {
        Tree {
            root: root.to_string(),
            parents: units
                .iter()
                .map(|u| (u.code.clone(), u.parent_code.clone()))
                .collect(),
            history: Arc::default(),
            eras: Arc::default(),
        }
    }

    /// The tree of `units` through the reorganisations of `history`: a reorganised unit sits
    /// where its versions place it (an ended unit under its successor), whatever its
    /// stored row says.
    pub fn with_history(root: &str, units: &[Unit], history: Arc<History>) -> Tree {
        let base = Tree::new(root, units);
        if history.is_empty() {
            return base;
        }
        // The first era is the tree before any reorganisation.
        let mut days: Vec<NaiveDate> = vec![NaiveDate::MIN];
        days.extend(history.dates());
        let latest = days.pop().unwrap_or(NaiveDate::MIN);
        let eras: Vec<(NaiveDate, Tree)> = days
            .iter()
            .map(|d| (*d, base.placed_at(&history, *d)))
            .collect();
        let mut tree = base.placed_at(&history, latest);
        tree.history = history;
        tree.eras = Arc::new(eras);
        tree
    }

    /// This tree with the reorganised units placed as on `day`.
    fn placed_at(&self, history: &History, day: NaiveDate) -> Tree {
        let mut parents = self.parents.clone();
        for code in history.codes() {
            match history.placement(code, Some(day)) {
                Some(Some(parent)) => {
                    parents.insert(code.clone(), Some(parent));
                }
                // Not created yet on that day.
                _ => {
                    parents.remove(code);
                }
            }
        }
        Tree {
            root: self.root.clone(),
            parents,
            history: Arc::default(),
            eras: Arc::default(),
        }
    }

    /// The tree as it stood on `day`: the latest era begun by then.
    pub fn at(&self, day: NaiveDate) -> Tree {
        let era = self.eras.iter().rev().find(|(from, _)| *from <= day);
        let mut tree = match self.history.last_date() {
            Some(last) if day < last => era.map(|(_, t)| t.clone()).unwrap_or_default(),
            _ => Tree {
                eras: Arc::default(),
                ..self.clone()
            },
        };
        tree.history = self.history.clone();
        tree
    }

    /// The reorganisations this tree went through.
    pub fn history(&self) -> &History {
        &self.history
    }

    /// Whether `unit` lies, or lay on some day, in the subtree of `ancestor`.
    pub fn ever_within(&self, unit: &str, ancestor: &str) -> bool {
        self.is_within(unit, ancestor) || self.eras.iter().any(|(_, t)| t.is_within(unit, ancestor))
    }

    /// Whether `unit` sits, or sat on some day, directly below `parent`.
    pub fn ever_below(&self, unit: &str, parent: &str) -> bool {
        self.parent_of(unit) == Some(parent)
            || self
                .eras
                .iter()
                .any(|(_, t)| t.parent_of(unit) == Some(parent))
    }

    /// Units that lie or lay in the subtree of `unit`, itself first, today's subtree before
    /// the units of earlier days.
    pub fn ever_subtree(&self, unit: &str) -> Vec<String> {
        let mut out = self.subtree(unit);
        for (_, era) in self.eras.iter() {
            for u in era.subtree(unit) {
                if !out.contains(&u) {
                    out.push(u);
                }
            }
        }
        out
    }

    /// Whether this tree or an earlier one knows `unit`.
    pub fn knew(&self, unit: &str) -> bool {
        self.knows(unit) || self.eras.iter().any(|(_, t)| t.knows(unit))
    }

    /// Places `unit` below `parent` (moving it if it was elsewhere).
    pub fn place(&mut self, unit: &str, parent: &str) {
        self.parents
            .insert(unit.to_string(), Some(parent.to_string()));
    }

    /// The node's own unit.
    pub fn root(&self) -> &str {
        &self.root
    }

    /// `unit` and its ancestors up to and including the root, nearest first. A unit not
    /// known to lie below the root yields only itself.
    pub fn chain(&self, unit: &str) -> Vec<String> {
        let mut chain = vec![unit.to_string()];
        let mut current = unit.to_string();
        while current != self.root {
            match self.parents.get(&current).cloned().flatten() {
                Some(parent) if !chain.contains(&parent) => {
                    chain.push(parent.clone());
                    current = parent;
                }
                _ => return vec![unit.to_string()],
            }
        }
        chain
    }

    /// The parent this node's stored tree gives `unit`, wherever it lies.
    pub fn parent_of(&self, unit: &str) -> Option<&str> {
        self.parents.get(unit).and_then(|p| p.as_deref())
    }

    /// Whether this node knows `unit` (its own unit or one it stored).
    pub fn knows(&self, unit: &str) -> bool {
        unit == self.root || self.parents.contains_key(unit)
    }

    /// Whether `unit` lies in the subtree of `ancestor` (itself included): whether
    /// `ancestor` is on `unit`'s chain, walked without building it (this runs for every
    /// event of every batch).
    pub fn is_within(&self, unit: &str, ancestor: &str) -> bool {
        if unit == ancestor {
            return true;
        }
        let mut found = false;
        let mut current = unit;
        // A chain visits each known unit once; a longer walk is a cycle, which `chain`
        // also treats as a unit outside the tree.
        for _ in 0..=self.parents.len() {
            if current == self.root {
                return found;
            }
            match self.parents.get(current) {
                Some(Some(parent)) => {
                    found |= parent == ancestor;
                    current = parent;
                }
                _ => return false,
            }
        }
        false
    }

    /// The child of the root whose subtree holds `unit`, if any.
    pub fn child_towards(&self, unit: &str) -> Option<String> {
        let chain = self.chain(unit);
        if chain.len() < 2 {
            return None;
        }
        chain.get(chain.len() - 2).cloned()
    }

    /// Units whose parent is `unit`.
    pub fn children(&self, unit: &str) -> Vec<String> {
        let mut children: Vec<String> = self
            .parents
            .iter()
            .filter(|(_, p)| p.as_deref() == Some(unit))
            .map(|(c, _)| c.clone())
            .collect();
        children.sort();
        children
    }

    /// Units of the subtree of `unit`, itself first.
    pub fn subtree(&self, unit: &str) -> Vec<String> {
        let mut out = vec![unit.to_string()];
        let mut i = 0;
        while let Some(u) = out.get(i).cloned() {
            out.extend(self.children(&u));
            i += 1;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::model::UnitLevel;

    fn u(code: &str, parent: Option<&str>) -> Unit {
        Unit {
            code: code.into(),
            name: code.into(),
            level: UnitLevel::Commune,
            parent_code: parent.map(Into::into),
            remote: false,
        }
    }

    #[test]
    fn chains_and_subtrees() {
        let t = Tree::new(
            "01",
            &[
                u("01", None),
                u("269", Some("01")),
                u("09574", Some("269")),
                u("09577", Some("269")),
            ],
        );
        assert_eq!(t.chain("09574"), ["09574", "269", "01"]);
        assert!(t.is_within("09574", "269"));
        assert!(!t.is_within("269", "09574"));
        assert_eq!(t.child_towards("09577").as_deref(), Some("269"));
        assert_eq!(t.child_towards("01"), None);
        assert_eq!(t.subtree("269"), ["269", "09574", "09577"]);
        assert_eq!(t.chain("99999"), ["99999"]);
    }

    #[test]
    fn is_within_agrees_with_the_chain() {
        let units = [
            u("town", None),
            u("a", Some("town")),
            u("b", Some("a")),
            u("c", Some("b")),
            u("loop1", Some("loop2")),
            u("loop2", Some("loop1")),
            u("orphan", Some("nowhere")),
            u("cut", None),
            u("below_cut", Some("cut")),
        ];
        let tree = Tree::new("town", &units);
        let names = [
            "town",
            "a",
            "b",
            "c",
            "loop1",
            "loop2",
            "orphan",
            "nowhere",
            "cut",
            "below_cut",
            "x",
        ];
        for unit in names {
            for ancestor in names {
                assert_eq!(
                    tree.is_within(unit, ancestor),
                    tree.chain(unit).iter().any(|x| x == ancestor),
                    "{unit} within {ancestor}"
                );
            }
        }
        assert!(tree.is_within("c", "a"));
        assert!(!tree.is_within("a", "c"));
        assert!(!tree.is_within("loop1", "loop2"));
    }
}
