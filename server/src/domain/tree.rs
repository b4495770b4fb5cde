//! The part of the administrative tree a node knows: itself and its subtree.

use std::collections::HashMap;

use crate::domain::model::Unit;

/// Parent links of the known units, rooted at this node's unit.
#[derive(Debug, Clone, Default)]
pub struct Tree {
    root: String,
    parents: HashMap<String, Option<String>>,
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
        }
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
