//! The tree through time: reorganisations (a resolution's units created, renamed, moved and
//! ended on one day), the versions they give each unit, and who took over a unit that ended.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use chrono::NaiveDate;

use crate::domain::DomainError;
use crate::domain::model::Unit;

/// Most units one reorganisation may involve.
pub const MAX_CHANGES: usize = 2000;

/// One unit's part in a reorganisation.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct UnitChange {
    /// The unit from the effective day (for a unit that ends, its state before).
    pub unit: Unit,
    /// The unit that takes it over, when it ends.
    pub successor: Option<String>,
}

/// A reorganisation, as issued by the authority above every unit it involves.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Reorganisation {
    pub id: String,
    pub title: String,
    pub authority: String,
    pub effective: NaiveDate,
    pub changes: Vec<UnitChange>,
}

/// A unit as it is from `from` (from before any reorganisation when `None`) until its
/// next version.
#[derive(Debug, Clone, PartialEq)]
pub struct Version {
    pub unit: Unit,
    pub from: Option<NaiveDate>,
    /// Set on the version that ends the unit.
    pub successor: Option<String>,
    /// The reorganisation that began it; empty for the first version.
    pub reorganisation: String,
}

/// Every version of every reorganised unit, oldest first.
#[derive(Debug, Clone, Default)]
pub struct History {
    by_unit: BTreeMap<String, Vec<Version>>,
}

impl History {
    /// The history of `versions`, in any order.
    pub fn new(versions: Vec<Version>) -> History {
        let mut by_unit: BTreeMap<String, Vec<Version>> = BTreeMap::new();
        for v in versions {
            by_unit.entry(v.unit.code.clone()).or_default().push(v);
        }
        for list in by_unit.values_mut() {
            list.sort_by_key(|v| v.from);
        }
        History { by_unit }
    }

    /// How many versions it holds: a new reorganisation makes it grow.
    pub fn len(&self) -> usize {
        self.by_unit.values().map(Vec::len).sum()
    }

    /// Whether no unit was ever reorganised.
    pub fn is_empty(&self) -> bool {
        self.by_unit.is_empty()
    }

    /// The days a reorganisation took (or takes) effect, earliest first.
    pub fn dates(&self) -> Vec<NaiveDate> {
        let set: BTreeSet<NaiveDate> = self
            .by_unit
            .values()
            .flatten()
            .filter_map(|v| v.from)
            .collect();
        set.into_iter().collect()
    }

    /// The last day a reorganisation takes effect, if any.
    pub fn last_date(&self) -> Option<NaiveDate> {
        self.dates().last().copied()
    }

    /// Whether `code` was ever reorganised.
    pub fn is_versioned(&self, code: &str) -> bool {
        self.by_unit.contains_key(code)
    }

    /// Every version of `code`, oldest first.
    pub fn versions(&self, code: &str) -> &[Version] {
        self.by_unit
            .get(code)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// Every reorganised unit's code.
    pub fn codes(&self) -> impl Iterator<Item = &String> {
        self.by_unit.keys()
    }

    /// The version of `code` in force on `day` (`None`: the latest), or `None` for a unit
    /// not yet created then.
    pub fn version_at(&self, code: &str, day: Option<NaiveDate>) -> Option<&Version> {
        let list = self.by_unit.get(code)?;
        match day {
            None => list.last(),
            Some(day) => list.iter().rev().find(|v| v.from.is_none_or(|f| f <= day)),
        }
    }

    /// Where `code` sits on `day` (`None`: the latest): `Some(parent)` for a versioned unit
    /// (an ended unit sits under its successor), `None` for a unit never reorganised.
    /// `Some(None)` is a unit that did not exist yet.
    pub fn placement(&self, code: &str, day: Option<NaiveDate>) -> Option<Option<String>> {
        let list = self.by_unit.get(code)?;
        let version = match day {
            None => list.last(),
            Some(day) => list.iter().rev().find(|v| v.from.is_none_or(|f| f <= day)),
        };
        Some(version.and_then(|v| v.successor.clone().or_else(|| v.unit.parent_code.clone())))
    }

    /// When `code` ended and who took it over, if it did by `day` (`None`: ever).
    pub fn ended(&self, code: &str, day: Option<NaiveDate>) -> Option<(NaiveDate, String)> {
        let v = self.version_at(code, day)?;
        Some((v.from?, v.successor.clone()?))
    }

    /// The live unit holding `code`'s records now: `code` itself, or the successor its
    /// successors lead to.
    pub fn custodian(&self, code: &str) -> String {
        let mut current = code.to_string();
        let mut seen = HashSet::new();
        while let Some((_, next)) = self.ended(&current, None) {
            if !seen.insert(current.clone()) {
                break;
            }
            current = next;
        }
        current
    }

    /// The versions that ended a unit in favour of `code`.
    pub fn predecessors(&self, code: &str) -> Vec<&Version> {
        self.by_unit
            .values()
            .flatten()
            .filter(|v| v.successor.as_deref() == Some(code))
            .collect()
    }
}

/// The versions a reorganisation adds for `before` (the units as this node knows them now,
/// `None` for one it does not know): a first version for each unit involved that has none
/// yet, then its version from the effective day.
pub fn versions_of(
    reorganisation: &Reorganisation,
    history: &History,
    before: impl Fn(&str) -> Option<Unit>,
) -> Vec<Version> {
    let mut out = Vec::new();
    for change in &reorganisation.changes {
        let code = &change.unit.code;
        if !history.is_versioned(code)
            && let Some(known) = before(code)
        {
            out.push(Version {
                unit: known,
                from: None,
                successor: None,
                reorganisation: String::new(),
            });
        }
        out.push(Version {
            unit: change.unit.clone(),
            from: Some(reorganisation.effective),
            successor: change.successor.clone(),
            reorganisation: reorganisation.id.clone(),
        });
    }
    out
}

/// Checks a reorganisation against the tree it changes, as `authority`'s node sees it:
/// every unit involved lies below the authority (the authority itself is not changed), each
/// is named once, a unit that ends names a successor that lives on (involved or not) and is
/// not itself, a new unit names a parent, and no unit ends up below itself.
pub fn check(
    reorganisation: &Reorganisation,
    tree: &crate::domain::tree::Tree,
) -> Result<(), DomainError> {
    let mut v = crate::domain::validate::Violations::default();
    let r = reorganisation;
    if r.id.trim().is_empty() || r.id.chars().count() > 64 || r.id.chars().any(char::is_control) {
        v.add(
            "reorganisation.id",
            "1 to 64 characters, no control characters",
        );
    }
    if r.title.chars().count() > 500 || r.title.chars().any(char::is_control) {
        v.add(
            "reorganisation.title",
            "at most 500 characters, no control characters",
        );
    }
    if r.changes.is_empty() || r.changes.len() > MAX_CHANGES {
        v.add(
            "reorganisation.changes",
            format!("1 to {MAX_CHANGES} units, not {}", r.changes.len()),
        );
    }
    let mut named = HashSet::new();
    let ending: HashSet<&str> = r
        .changes
        .iter()
        .filter(|c| c.successor.is_some())
        .map(|c| c.unit.code.as_str())
        .collect();
    let involved: HashSet<&str> = r.changes.iter().map(|c| c.unit.code.as_str()).collect();
    // The tree as it will be from the effective day, for the cycle check.
    let mut after = tree.clone();
    for (i, c) in r.changes.iter().enumerate() {
        let field = format!("reorganisation.changes[{i}]");
        let code = c.unit.code.as_str();
        if !crate::domain::validate::is_unit_code(code) {
            v.add(format!("{field}.unit.code"), "a unit code is 2 to 5 digits");
            continue;
        }
        if !named.insert(code) {
            v.add(format!("{field}.unit.code"), "named twice");
        }
        if code == r.authority {
            v.add(
                format!("{field}.unit.code"),
                "the authority does not reorganise itself",
            );
        }
        let known = tree.knows(code);
        if known && !tree.is_within(code, &r.authority) {
            v.add(
                format!("{field}.unit.code"),
                format!("unit {code} does not lie below {}", r.authority),
            );
        }
        match &c.successor {
            Some(s) => {
                if !known {
                    v.add(format!("{field}.unit.code"), "an unknown unit cannot end");
                }
                if s == code {
                    v.add(
                        format!("{field}.successor_code"),
                        "a unit does not succeed itself",
                    );
                } else if ending.contains(s.as_str()) {
                    v.add(
                        format!("{field}.successor_code"),
                        format!("successor {s} ends too"),
                    );
                } else if !involved.contains(s.as_str()) && !tree.is_within(s, &r.authority) {
                    v.add(
                        format!("{field}.successor_code"),
                        format!(
                            "successor {s} is neither created here nor below {}",
                            r.authority
                        ),
                    );
                } else {
                    after.place(code, s);
                }
            }
            None => {
                if c.unit.name.trim().is_empty() {
                    v.add(
                        format!("{field}.unit.name"),
                        "a unit that lives on has a name",
                    );
                }
                match c.unit.parent_code.as_deref() {
                    None | Some("") => {
                        v.add(format!("{field}.unit.parent_code"), "a parent is required")
                    }
                    Some(p) if ending.contains(p) => v.add(
                        format!("{field}.unit.parent_code"),
                        format!("parent {p} ends on the same day"),
                    ),
                    Some(p)
                        if p != r.authority
                            && !involved.contains(p)
                            && !tree.is_within(p, &r.authority) =>
                    {
                        v.add(
                            format!("{field}.unit.parent_code"),
                            format!("parent {p} does not lie below {}", r.authority),
                        )
                    }
                    Some(p) => after.place(code, p),
                }
            }
        }
    }
    for c in &r.changes {
        if !after.is_within(&c.unit.code, &r.authority) {
            v.add(
                "reorganisation.changes",
                format!("unit {} would end up below itself", c.unit.code),
            );
            break;
        }
    }
    v.finish()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::domain::model::UnitLevel;
    use crate::domain::tree::Tree;

    fn u(code: &str, parent: Option<&str>) -> Unit {
        Unit {
            code: code.into(),
            name: format!("Unit {code}"),
            level: UnitLevel::Ward,
            parent_code: parent.map(Into::into),
            remote: false,
        }
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn units() -> Vec<Unit> {
        vec![
            u("01", None),
            u("269", Some("01")),
            u("09574", Some("269")),
            u("09577", Some("269")),
            u("09580", Some("269")),
        ]
    }

    /// Sơn Tây's shape: the town ends into a merged ward, one ward merges into another,
    /// one moves straight under the city.
    fn merger() -> Reorganisation {
        Reorganisation {
            id: "1656/NQ-UBTVQH15".into(),
            title: String::new(),
            authority: "01".into(),
            effective: day("2025-07-01"),
            changes: vec![
                UnitChange {
                    unit: u("10001", Some("01")),
                    successor: None,
                },
                UnitChange {
                    unit: u("269", Some("01")),
                    successor: Some("10001".into()),
                },
                UnitChange {
                    unit: u("09574", Some("269")),
                    successor: Some("10001".into()),
                },
                UnitChange {
                    unit: u("09577", Some("269")),
                    successor: Some("10001".into()),
                },
                UnitChange {
                    unit: u("09580", Some("01")),
                    successor: None,
                },
            ],
        }
    }

    #[test]
    fn the_tree_at_each_day() {
        let units = units();
        let tree = Tree::new("01", &units);
        let r = merger();
        check(&r, &tree).unwrap();
        let history = History::new(versions_of(&r, &History::default(), |c| {
            units.iter().find(|u| u.code == c).cloned()
        }));
        let tree = Tree::with_history("01", &units, std::sync::Arc::new(history));
        let old = tree.at(day("2025-06-30"));
        assert_eq!(old.subtree("269"), ["269", "09574", "09577", "09580"]);
        assert!(!old.knows("10001"));
        let new = tree.at(day("2025-07-01"));
        assert_eq!(new.children("01"), ["09580", "10001"]);
        assert_eq!(new.subtree("10001"), ["10001", "09574", "09577", "269"]);
        assert_eq!(tree.children("01"), new.children("01"));
        assert!(tree.ever_within("09580", "269"));
        assert!(!tree.is_within("09580", "269"));
        assert!(!tree.ever_within("09580", "10001"));
        assert_eq!(tree.history().custodian("09574"), "10001");
        assert_eq!(
            tree.history().ended("269", None),
            Some((day("2025-07-01"), "10001".into()))
        );
        assert_eq!(tree.history().ended("269", Some(day("2025-06-30"))), None);
    }

    #[test]
    fn refusals() {
        let tree = Tree::new("01", &units());
        let mut r = merger();
        r.changes[1].successor = Some("09574".into());
        assert!(check(&r, &tree).is_err(), "a successor that ends too");
        let mut r = merger();
        r.authority = "269".into();
        let tree269 = Tree::new("269", &units());
        assert!(
            check(&r, &tree269).is_err(),
            "the authority reorganises itself"
        );
        let mut r = merger();
        r.changes[4].unit.parent_code = Some("09580".into());
        assert!(check(&r, &tree).is_err(), "below itself");
        let mut r = merger();
        r.changes[4].unit.parent_code = Some("09574".into());
        assert!(check(&r, &tree).is_err(), "below a unit that ends");
        let mut r = merger();
        r.changes.push(r.changes[4].clone());
        assert!(check(&r, &tree).is_err(), "named twice");
    }
}
