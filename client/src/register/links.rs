//! A register's records against each other: one register record, keys unique in the file,
//! references only to earlier records that were read without problems, one resolution a case.

use std::collections::HashMap;

use super::fields::Fields;
use super::read::RegisterError;
use super::records::{petition, resolution, visit};
use super::{AcceptTarget, Action, Entry, Problem, Record, Register};

/// What later records need to know of an earlier one.
#[derive(Debug, Clone)]
struct Seen {
    line: usize,
    kind: &'static str,
    ok: bool,
    /// For an accepted petition: the key of the record whose acceptance opened the case.
    case_root: Option<String>,
}

/// A register as its records are added, in file order.
#[derive(Default)]
pub(super) struct Builder {
    register: Register,
    register_line: Option<usize>,
    seen: HashMap<String, Seen>,
    /// Case root → line of the resolution record that resolves it.
    resolved: HashMap<String, usize>,
}

impl Builder {
    /// The register read so far.
    pub(super) fn finish(self) -> Register {
        self.register
    }

    /// Adds the record on `line`; only a second register record stops the reading.
    pub(super) fn add(
        &mut self,
        line: usize,
        row: Result<Fields, String>,
    ) -> Result<(), RegisterError> {
        let mut f = match row {
            Ok(f) => f,
            Err(message) => {
                self.refuse(line, None, message);
                return Ok(());
            }
        };
        let kind = f.text("type").unwrap_or_default().to_lowercase();
        if kind == "register" {
            if let Some(first) = self.register_line {
                return Err(RegisterError::SecondRegister { line, first });
            }
            self.register_line = Some(line);
            let id = f.key("key", true);
            self.register.unit = f.text("unit");
            self.register.title = f.text("title");
            match f.finish() {
                Ok(()) => self.register.id = id,
                Err(message) => self.refuse(line, id, message),
            }
            return Ok(());
        }
        let key = f.key("key", true);
        let record = match kind.as_str() {
            "visit" => visit(&mut f).map(Record::Visit),
            "petition" => petition(&mut f).map(Record::Petition),
            "resolution" => resolution(&mut f).map(Record::Resolution),
            "" => {
                f.problem("type: required: visit, petition or resolution");
                None
            }
            other => {
                f.problem(format!(
                    "type: {other:?} is not one of: register, visit, petition, resolution"
                ));
                None
            }
        };
        let checked = f.finish();
        let Some(key) = key else {
            self.refuse(line, None, checked.err().unwrap_or_default());
            return Ok(());
        };
        if let Some(earlier) = self.seen.get(&key) {
            let message = format!("key {key:?} is already used on line {}", earlier.line);
            self.refuse(line, Some(key), message);
            return Ok(());
        }
        let linked = match (checked, record) {
            (Ok(()), Some(record)) => self.link(line, &key, &record).map(|root| (record, root)),
            (Err(message), _) => Err(message),
            (Ok(()), None) => Err("unreadable record".to_string()),
        };
        let kind: &'static str = match kind.as_str() {
            "visit" => "visit",
            "petition" => "petition",
            _ => "resolution",
        };
        match linked {
            Ok((record, case_root)) => {
                self.seen.insert(
                    key.clone(),
                    Seen {
                        line,
                        kind,
                        ok: true,
                        case_root,
                    },
                );
                self.register.entries.push(Entry { line, key, record });
            }
            Err(message) => {
                self.seen.insert(
                    key.clone(),
                    Seen {
                        line,
                        kind,
                        ok: false,
                        case_root: None,
                    },
                );
                self.refuse(line, Some(key), message);
            }
        }
        Ok(())
    }

    fn refuse(&mut self, line: usize, key: Option<String>, message: String) {
        self.register.problems.push(Problem { line, key, message });
    }

    /// An earlier record of `kind` named by `field`.
    fn earlier(&self, field: &str, key: &str, kind: &str) -> Result<&Seen, String> {
        match self.seen.get(key) {
            None => Err(format!(
                "{field}: {key:?} is not the key of an earlier record"
            )),
            Some(s) if s.kind != kind => Err(format!(
                "{field}: {key:?} (line {}) is a {}, not a {kind}",
                s.line, s.kind
            )),
            Some(s) if !s.ok => Err(format!(
                "{field}: {key:?} (line {}) has problems of its own",
                s.line
            )),
            Some(s) => Ok(s),
        }
    }

    /// Checks a record's references; answers the case root of an accepted petition.
    fn link(&mut self, line: usize, key: &str, record: &Record) -> Result<Option<String>, String> {
        match record {
            Record::Visit(_) => Ok(None),
            Record::Petition(p) => {
                if let Some(v) = &p.visit {
                    self.earlier("visit", v, "visit")?;
                }
                match p.decision.as_ref().map(|d| &d.action) {
                    Some(Action::Accept {
                        target: AcceptTarget::Join(other),
                    }) => {
                        let s = self.earlier("decision.join", other, "petition")?;
                        s.case_root.clone().map(Some).ok_or_else(|| {
                            format!(
                                "decision.join: {other:?} (line {}) was not accepted into a case",
                                s.line
                            )
                        })
                    }
                    Some(Action::Accept { .. }) => Ok(Some(key.to_string())),
                    _ => Ok(None),
                }
            }
            Record::Resolution(r) => {
                let s = self.earlier("petition", &r.petition, "petition")?;
                let root = s.case_root.clone().ok_or_else(|| {
                    format!(
                        "petition: {:?} (line {}) was not accepted into a case",
                        r.petition, s.line
                    )
                })?;
                if let Some(earlier) = self.resolved.get(&root) {
                    return Err(format!(
                        "petition: the case of {:?} is already resolved on line {earlier}",
                        r.petition
                    ));
                }
                self.resolved.insert(root, line);
                Ok(None)
            }
        }
    }
}
