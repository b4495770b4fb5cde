//! The import's state file: the keys already imported and the ids the node gave them, so an
//! interrupted import resumes where it stopped. It is a convenience, not a safeguard: request
//! ids are derived from the register, so losing the file costs replayed answers, never
//! duplicates.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Marks the file's format, for a later release that changes it.
pub const STATE_FORMAT: &str = "tiepdan-import-state/1";

/// What the node gave one imported record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ids {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visit_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub petition_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case_id: Option<String>,
}

/// The state of the import of one register into one node.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportState {
    /// [`STATE_FORMAT`].
    pub format: String,
    /// The register's id.
    pub register: String,
    /// The node imported into: its unit and the time of its journal's first event, which
    /// tells a node's database from a new one of the same unit.
    pub node: String,
    /// Keys imported, with the ids the node gave them.
    pub done: BTreeMap<String, Ids>,
}

/// Why the state file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// It cannot be read or written.
    #[error("state file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// It is not a state file of this release.
    #[error("state file {path} is not an import state: {detail}")]
    Format { path: PathBuf, detail: String },
}

/// The default state file of a register file: `FILE.import-state.json` beside it.
pub fn default_path(register_file: &Path) -> PathBuf {
    let mut name = register_file.as_os_str().to_os_string();
    name.push(".import-state.json");
    PathBuf::from(name)
}

impl ImportState {
    /// A fresh state.
    pub fn new(register: &str, node: &str) -> ImportState {
        ImportState {
            format: STATE_FORMAT.to_string(),
            register: register.to_string(),
            node: node.to_string(),
            done: BTreeMap::new(),
        }
    }

    /// Loads the state at `path`; `None` when there is no file.
    pub fn load(path: &Path) -> Result<Option<ImportState>, StateError> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(StateError::Io {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        let state: ImportState =
            serde_json::from_slice(&bytes).map_err(|e| StateError::Format {
                path: path.to_path_buf(),
                detail: e.to_string(),
            })?;
        if state.format != STATE_FORMAT {
            return Err(StateError::Format {
                path: path.to_path_buf(),
                detail: format!("format {:?}, expected {STATE_FORMAT:?}", state.format),
            });
        }
        Ok(Some(state))
    }

    /// Writes the state to `path` atomically: a temporary file beside it, flushed to disk,
    /// then renamed over the old one, so a crash leaves the old state or the new, never half.
    pub fn save(&self, path: &Path) -> Result<(), StateError> {
        let io = |source| StateError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut tmp_name = path.as_os_str().to_os_string();
        tmp_name.push(".tmp");
        let tmp = PathBuf::from(tmp_name);
        let json = serde_json::to_vec_pretty(self).map_err(|e| StateError::Format {
            path: path.to_path_buf(),
            detail: e.to_string(),
        })?;
        let mut file = std::fs::File::create(&tmp).map_err(io)?;
        file.write_all(&json).map_err(io)?;
        file.write_all(b"\n").map_err(io)?;
        file.sync_all().map_err(io)?;
        drop(file);
        std::fs::rename(&tmp, path).map_err(io)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_and_load() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = default_path(&dir.path().join("so.csv"));
        assert!(path.ends_with("so.csv.import-state.json"));
        assert_eq!(ImportState::load(&path).ok(), Some(None));
        let mut state = ImportState::new("son-tay-2019", "269@2019");
        state.done.insert(
            "2019/0001".into(),
            Ids {
                petition_id: Some("269-P1".into()),
                case_id: Some("269-C1".into()),
                ..Ids::default()
            },
        );
        state.save(&path).unwrap_or_else(|e| panic!("{e}"));
        state.save(&path).unwrap_or_else(|e| panic!("{e}"));
        let loaded = ImportState::load(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(loaded, Some(state));
        std::fs::write(&path, "{}").unwrap_or_else(|e| panic!("{e}"));
        assert!(ImportState::load(&path).is_err());
    }
}
