//! A resolution file: a reorganisation as a province receives it — the new and changed
//! units, each with the units it takes over — read into the `Reorganisation` the node checks.
//!
//! ```toml
//! id = "1656/NQ-UBTVQH15"
//! title = "Sắp xếp đơn vị hành chính cấp xã của thành phố Hà Nội"
//! effective = "2025-07-01"
//!
//! [[unit]]
//! code = "10001"
//! name = "Phường Sơn Tây"
//! level = "phường"
//! parent = "01"
//! predecessors = ["269", "09574", "09577"]
//!
//! [[dissolved]]
//! code = "09583"
//! successor = "10001"
//! ```

use serde::Deserialize;
use tiepdan_proto::v1 as pb;

use crate::words;

/// The file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    id: String,
    #[serde(default)]
    title: String,
    effective: String,
    #[serde(default)]
    unit: Vec<NewUnit>,
    #[serde(default)]
    dissolved: Vec<Dissolved>,
}

/// A unit the resolution creates or changes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUnit {
    code: String,
    name: String,
    level: String,
    parent: String,
    #[serde(default)]
    remote: bool,
    /// Units that end and pass to this one; a unit named under several (a split) passes to
    /// the first, which takes its records.
    #[serde(default)]
    predecessors: Vec<String>,
}

/// A unit that ends without being named as a predecessor.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Dissolved {
    code: String,
    successor: String,
}

/// Reads a resolution file's text into a reorganisation issued by the node it is sent to.
pub fn parse(text: &str) -> Result<pb::Reorganisation, String> {
    let file: File = toml::from_str(text).map_err(|e| e.to_string())?;
    let mut changes: Vec<pb::UnitChange> = Vec::new();
    let mut ending: Vec<(String, String)> = Vec::new();
    for u in &file.unit {
        let level = words::parse::<pb::UnitLevel>(&u.level)
            .map_err(|e| format!("unit {}: level: {e}", u.code))?;
        changes.push(pb::UnitChange {
            unit: Some(pb::Unit {
                code: u.code.clone(),
                name: u.name.clone(),
                level: level as i32,
                parent_code: u.parent.clone(),
                remote: u.remote,
            }),
            successor_code: String::new(),
        });
        for p in &u.predecessors {
            // A unit that lives on under its own code is renamed or moved, not ended.
            if *p != u.code && !ending.iter().any(|(code, _)| code == p) {
                ending.push((p.clone(), u.code.clone()));
            }
        }
    }
    for d in &file.dissolved {
        if ending.iter().any(|(code, _)| *code == d.code) {
            return Err(format!(
                "unit {} is both a predecessor and dissolved on its own",
                d.code
            ));
        }
        ending.push((d.code.clone(), d.successor.clone()));
    }
    changes.extend(ending.into_iter().map(|(code, successor)| pb::UnitChange {
        unit: Some(pb::Unit {
            code,
            ..Default::default()
        }),
        successor_code: successor,
    }));
    Ok(pb::Reorganisation {
        id: file.id,
        title: file.title,
        authority_code: String::new(),
        effective_date: file.effective,
        changes,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn merges_splits_and_dissolutions() {
        let r = parse(
            r#"
            id = "R1"
            effective = "2025-07-01"
            [[unit]]
            code = "10001"
            name = "Phường Sơn Tây"
            level = "phường"
            parent = "01"
            predecessors = ["269", "09574", "10001"]
            [[unit]]
            code = "10002"
            name = "Xã Đoài Phương"
            level = "commune"
            parent = "01"
            predecessors = ["269"]
            [[dissolved]]
            code = "09583"
            successor = "10002"
            "#,
        )
        .unwrap();
        let ends: Vec<(String, String)> = r
            .changes
            .iter()
            .filter(|c| !c.successor_code.is_empty())
            .map(|c| (c.unit.clone().unwrap().code, c.successor_code.clone()))
            .collect();
        assert_eq!(
            ends,
            [
                ("269".to_string(), "10001".to_string()),
                ("09574".into(), "10001".into()),
                ("09583".into(), "10002".into())
            ]
        );
        assert_eq!(r.changes.len(), 5);
        assert_eq!(
            r.changes[0].unit.as_ref().unwrap().level,
            pb::UnitLevel::Ward as i32
        );
        let example = parse(include_str!("../../examples/resolution-son-tay-2025.toml")).unwrap();
        assert_eq!(example.changes.len(), 4, "two units, two predecessors");
        assert!(parse("id = 1").is_err());
        assert!(
            parse(
                "id = \"R\"\neffective = \"2025-07-01\"\n[[unit]]\ncode = \"1\"\nname = \"x\"\nlevel = \"castle\"\nparent = \"01\"\n"
            )
            .is_err()
        );
    }
}
