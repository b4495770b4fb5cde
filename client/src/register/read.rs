//! Reading a register file: JSON Lines or CSV into [`Fields`], fields into typed records,
//! then the records against each other (unique keys, references to earlier records). A bad
//! record is set aside with its line number; the rest of the file still imports.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use tiepdan_proto::v1 as pb;

use super::fields::Fields;
use super::{
    AcceptTarget, Action, Decision, Destination, Enforcement, Entry, FIELDS, Petition, Problem,
    Record, Register, Resolution, Visit,
};

/// The syntax of a register file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One JSON object per line.
    Jsonl,
    /// A header row of field names, then one row per record.
    Csv,
}

impl Format {
    /// The format a file name implies: `.jsonl`, `.ndjson` or `.json`; `.csv`.
    pub fn from_path(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "jsonl" | "ndjson" | "json" => Some(Format::Jsonl),
            "csv" => Some(Format::Csv),
            _ => None,
        }
    }
}

/// Why a register file cannot be read at all.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file is not UTF-8 text.
    #[error("{path} is not UTF-8 text; save the spreadsheet as CSV UTF-8")]
    NotUtf8 { path: PathBuf },
    /// The format cannot be told from the name.
    #[error("cannot tell the format of {0} from its name: pass --input-format jsonl or csv")]
    UnknownFormat(PathBuf),
    /// The CSV header row is unreadable.
    #[error("CSV header: {0}")]
    Header(String),
    /// The CSV header names columns the format does not have.
    #[error(
        "unknown columns: {}; rename them, or start their name with # to keep them as notes",
        .0.join(", ")
    )]
    UnknownColumns(Vec<String>),
    /// More than one register record.
    #[error("line {line}: a second register record (the first is on line {first})")]
    SecondRegister { line: usize, first: usize },
}

/// Reads a register file; `format` `None` means by the file's extension.
pub fn read_file(path: &Path, format: Option<Format>) -> Result<Register, RegisterError> {
    let format = format
        .or_else(|| Format::from_path(path))
        .ok_or_else(|| RegisterError::UnknownFormat(path.to_path_buf()))?;
    let bytes = std::fs::read(path).map_err(|source| RegisterError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let text = String::from_utf8(bytes).map_err(|_| RegisterError::NotUtf8 {
        path: path.to_path_buf(),
    })?;
    parse_str(&text, format)
}

/// Parses register text.
pub fn parse_str(text: &str, format: Format) -> Result<Register, RegisterError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let rows = match format {
        Format::Jsonl => jsonl_rows(text),
        Format::Csv => csv_rows(text)?,
    };
    let mut builder = Builder::default();
    for (line, row) in rows {
        builder.add(line, row)?;
    }
    Ok(builder.register)
}

/// A record's line and its fields, or why its text is unreadable.
type Row = (usize, Result<Fields, String>);

fn jsonl_rows(text: &str) -> Vec<Row> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            let fields = serde_json::from_str::<serde_json::Value>(l)
                .map_err(|e| format!("not JSON: {e}"))
                .and_then(Fields::from_json);
            (i + 1, fields)
        })
        .collect()
}

fn csv_rows(text: &str) -> Result<Vec<Row>, RegisterError> {
    // Spreadsheets set to Vietnamese write `;` between cells, as `,` is their decimal comma.
    let first = text.lines().next().unwrap_or("");
    let delimiter = if first.matches(';').count() > first.matches(',').count() {
        b';'
    } else {
        b','
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| RegisterError::Header(e.to_string()))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let unknown: Vec<String> = header
        .iter()
        .filter(|h| !h.is_empty() && !h.starts_with('#') && !FIELDS.contains(&h.as_str()))
        .cloned()
        .collect();
    if !unknown.is_empty() {
        return Err(RegisterError::UnknownColumns(unknown));
    }
    // Lines are counted here from byte offsets: the csv crate miscounts after CRLF endings.
    let mut counted = (0usize, 1usize);
    let mut line_at = |byte: u64| {
        let mut byte = usize::try_from(byte).unwrap_or(usize::MAX).min(text.len());
        // After CRLF a record's position is that of the LF ending the line before.
        while text
            .as_bytes()
            .get(byte)
            .is_some_and(|b| *b == b'\r' || *b == b'\n')
        {
            byte += 1;
        }
        let (from, line) = counted;
        let upto = text.get(from..byte.max(from)).unwrap_or("");
        counted = (byte.max(from), line + upto.matches('\n').count());
        counted.1
    };
    let mut rows = Vec::new();
    for result in reader.records() {
        let row = match result {
            Ok(record) => {
                let line = record.position().map_or(0, |p| line_at(p.byte()));
                if record.iter().all(|c| c.trim().is_empty()) {
                    continue;
                }
                let mut fields = Fields::default();
                if record.len() > header.len() {
                    fields.problem(format!(
                        "{} cells, but the header has {} columns",
                        record.len(),
                        header.len()
                    ));
                }
                for (name, cell) in header.iter().zip(record.iter()) {
                    if !name.is_empty() {
                        fields.insert(name.clone(), cell.to_string());
                    }
                }
                (line, Ok(fields))
            }
            Err(e) => {
                let line = e.position().map_or(0, |p| line_at(p.byte()));
                (line, Err(e.to_string()))
            }
        };
        rows.push(row);
    }
    Ok(rows)
}

/// What later records need to know of an earlier one.
#[derive(Debug, Clone)]
struct Seen {
    line: usize,
    kind: &'static str,
    ok: bool,
    /// For an accepted petition: the key of the record whose acceptance opened the case.
    case_root: Option<String>,
}

#[derive(Default)]
struct Builder {
    register: Register,
    register_line: Option<usize>,
    seen: HashMap<String, Seen>,
    /// Case root → line of the resolution record that resolves it.
    resolved: HashMap<String, usize>,
}

impl Builder {
    fn add(&mut self, line: usize, row: Result<Fields, String>) -> Result<(), RegisterError> {
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

fn visit(f: &mut Fields) -> Option<Visit> {
    let visit_time = f.time("visit_time", true);
    let kind = f.word::<pb::ReceptionKind>("kind", true);
    let receiver_role = f.word::<pb::ReceiverRole>("receiver_role", true);
    let receiver_name = f.text("receiver_name").unwrap_or_default();
    let persons = f.count("persons");
    if persons.is_none() {
        f.problem("persons: required, a whole number");
    }
    let matter = f.word::<pb::MatterKind>("matter", true);
    let action = f.word::<pb::ReceptionAction>("action", true);
    let summary = f.text("summary").unwrap_or_default();
    Some(Visit {
        visit_time: visit_time?,
        kind: kind?,
        receiver_role: receiver_role?,
        receiver_name,
        persons: persons?,
        matter: matter?,
        action: action?,
        summary,
    })
}

fn petition(f: &mut Fields) -> Option<Petition> {
    let received_time = f.time("received_time", true);
    let channel = f.word::<pb::Channel>("channel", true);
    let summary = f.required("summary");
    let visit = f.key("visit", false);
    let signers = f.count("signers").unwrap_or(0);
    let petitioner = petitioner(f);
    let classification = classification(f);
    let decision = decision(f);
    Some(Petition {
        received_time: received_time?,
        channel: channel?,
        summary: summary?,
        visit,
        signers,
        petitioner: petitioner?,
        classification: classification?,
        decision: decision?,
    })
}

/// `Some(None)`: no petitioner, an anonymous petition; `None`: a problem was recorded.
fn petitioner(f: &mut Fields) -> Option<Option<pb::Petitioner>> {
    if !f.has_group("petitioner") {
        return Some(None);
    }
    let full_name = f.required("petitioner.full_name");
    let address = f.text("petitioner.address").unwrap_or_default();
    let id_number = f.text("petitioner.id_number").unwrap_or_default();
    let phone = f.text("petitioner.phone").unwrap_or_default();
    let email = f.text("petitioner.email").unwrap_or_default();
    Some(Some(pb::Petitioner {
        full_name: full_name?,
        address,
        id_number,
        phone,
        email,
    }))
}

fn classification(f: &mut Fields) -> Option<Option<pb::Classification>> {
    if !f.has_group("classification") {
        return Some(None);
    }
    let petition_type = f.word::<pb::PetitionType>("classification.type", true);
    let field = f.word::<pb::Field>("classification.field", true);
    let complaint_round = f.count("classification.complaint_round").unwrap_or(0);
    let eligibility = f.word::<pb::Eligibility>("classification.eligibility", true);
    let jurisdiction = f.word::<pb::Jurisdiction>("classification.jurisdiction", true);
    let has_evidence = f.flag("classification.has_evidence").unwrap_or(false);
    Some(Some(pb::Classification {
        r#type: petition_type? as i32,
        field: field? as i32,
        complaint_round,
        eligibility: eligibility? as i32,
        jurisdiction: jurisdiction? as i32,
        has_evidence,
    }))
}

const DECISION_FIELDS: [&str; 7] = [
    "decision.time",
    "decision.complex",
    "decision.join",
    "decision.unit",
    "decision.outside_body",
    "decision.reason",
    "decision.note",
];

/// The fields each decision uses; any other `decision.*` field is refused rather than
/// silently dropped.
fn decision_fields(action: &str) -> Option<&'static [&'static str]> {
    Some(match action {
        "accept" => &["decision.time", "decision.complex", "decision.join"],
        "guide" | "urge" => &["decision.time", "decision.outside_body", "decision.note"],
        "transfer" => &[
            "decision.time",
            "decision.unit",
            "decision.outside_body",
            "decision.note",
        ],
        "return" | "withdraw" => &["decision.time", "decision.note"],
        "file" => &["decision.time", "decision.reason", "decision.note"],
        _ => return None,
    })
}

fn decision(f: &mut Fields) -> Option<Option<Decision>> {
    if !f.has_group("decision") {
        return Some(None);
    }
    let action = f.text("decision.action").map(|a| a.to_lowercase());
    let allowed = action.as_deref().and_then(decision_fields);
    let (Some(action), Some(allowed)) = (action.clone(), allowed) else {
        f.problem(match action {
            None => "decision.action: required".to_string(),
            Some(a) => format!(
                "decision.action: {a:?} is not one of: accept, guide, transfer, urge, return, \
                 withdraw, file"
            ),
        });
        for name in DECISION_FIELDS {
            f.text(name);
        }
        return None;
    };
    for name in DECISION_FIELDS {
        if !allowed.contains(&name) && f.text(name).is_some() {
            f.problem(format!("{name}: not used by a decision to {action}"));
        }
    }
    let time = f.time("decision.time", action == "accept");
    let note = f.text("decision.note").unwrap_or_default();
    let action = match action.as_str() {
        "accept" => {
            let complex = f.flag("decision.complex");
            let join = f.key("decision.join", false);
            let target = match (join, complex) {
                (Some(_), Some(_)) => {
                    f.problem(
                        "decision.complex: a petition joining another's case takes that case \
                         as it is",
                    );
                    return None;
                }
                (Some(key), None) => AcceptTarget::Join(key),
                (None, complex) => AcceptTarget::NewCase {
                    complex: complex.unwrap_or(false),
                },
            };
            time?;
            Action::Accept { target }
        }
        "guide" | "urge" => {
            let outside_body = f.required("decision.outside_body")?;
            if action == "guide" {
                Action::Guide { outside_body, note }
            } else {
                Action::Urge { outside_body, note }
            }
        }
        "transfer" => {
            let destination = match (f.text("decision.unit"), f.text("decision.outside_body")) {
                (Some(unit), None) => Destination::Unit(unit),
                (None, Some(body)) => Destination::Outside(body),
                _ => {
                    f.problem(
                        "decision.unit, decision.outside_body: a transfer goes to exactly one \
                         of a unit code or an outside body",
                    );
                    return None;
                }
            };
            Action::Transfer { destination, note }
        }
        "return" => Action::Return { note },
        "withdraw" => Action::Withdraw { note },
        _ => {
            let reason = f.word::<pb::FileReason>("decision.reason", true)?;
            Action::File { reason, note }
        }
    };
    Some(Some(Decision { time, action }))
}

fn resolution(f: &mut Fields) -> Option<Resolution> {
    let petition = f.key("petition", true);
    let outcome = f.word::<pb::CaseOutcome>("outcome", true);
    let decision_number = f.text("decision_number").unwrap_or_default();
    let decision_time = f.time("decision_time", true);
    let money_to_recover_vnd = f.money("money_to_recover_vnd").unwrap_or(0);
    let land_to_recover_m2 = f.area("land_to_recover_m2").unwrap_or(0.0);
    let effective_time = f.time("effective_time", false);
    let enforcement = if f.has_group("enforcement") {
        let time = f.time("enforcement.time", true);
        let money_recovered_vnd = f.money("enforcement.money_recovered_vnd").unwrap_or(0);
        let land_recovered_m2 = f.area("enforcement.land_recovered_m2").unwrap_or(0.0);
        let completed = f.flag("enforcement.completed").unwrap_or(false);
        if effective_time.is_none() {
            f.problem("enforcement: a decision is enforced once in force: give effective_time");
        }
        Some(Enforcement {
            time: time?,
            money_recovered_vnd,
            land_recovered_m2,
            completed,
        })
    } else {
        None
    };
    Some(Resolution {
        petition: petition?,
        outcome: outcome?,
        decision_number,
        decision_time: decision_time?,
        money_to_recover_vnd,
        land_to_recover_m2,
        effective_time,
        enforcement,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, format: Format) -> Register {
        parse_str(text, format).unwrap_or_else(|e| panic!("{e}"))
    }

    fn examples() -> (Register, Register) {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
        let read = |name: &str, format| {
            read_file(&dir.join(name), format).unwrap_or_else(|e| panic!("{name}: {e}"))
        };
        (
            read("register-son-tay.jsonl", None),
            read("register-son-tay.csv", None),
        )
    }

    #[test]
    fn the_examples_read_the_same_in_both_formats() {
        let (jsonl, csv) = examples();
        assert_eq!(jsonl.problems, vec![], "problems in the JSONL example");
        assert_eq!(csv.problems, vec![], "problems in the CSV example");
        assert_eq!(jsonl.id.as_deref(), Some("son-tay-2019"));
        assert_eq!(jsonl.unit.as_deref(), Some("269"));
        assert_eq!((&jsonl.id, &jsonl.unit), (&csv.id, &csv.unit));
        assert_eq!(jsonl.entries.len(), 26);
        let strip = |r: &Register| -> Vec<(String, Record)> {
            r.entries
                .iter()
                .map(|e| (e.key.clone(), e.record.clone()))
                .collect()
        };
        assert_eq!(strip(&jsonl), strip(&csv));
        // Records keep their line: the CSV's header is line 1.
        assert_eq!(jsonl.entries[0].line, 2);
        assert_eq!(csv.entries[0].line, 3);
    }

    #[test]
    fn records_are_typed() {
        let (jsonl, _) = examples();
        let by_key = |k: &str| {
            jsonl
                .entries
                .iter()
                .find(|e| e.key == k)
                .map(|e| e.record.clone())
                .unwrap_or_else(|| panic!("no {k}"))
        };
        let Record::Petition(p) = by_key("D-2019/003") else {
            panic!("D-2019/003 is a petition");
        };
        assert_eq!(p.signers, 5);
        assert_eq!(
            p.decision,
            Some(Decision {
                time: crate::time::parse_time("2019-01-25 08:00").ok(),
                action: Action::Accept {
                    target: AcceptTarget::Join("D-2019/002".into()),
                },
            })
        );
        let Record::Petition(p) = by_key("D-2019/006") else {
            panic!("D-2019/006 is a petition");
        };
        assert_eq!(p.petitioner, None, "an anonymous denunciation");
        assert!(p.classification.is_some_and(|c| c.has_evidence));
        let Record::Resolution(r) = by_key("KQ-2019/003") else {
            panic!("KQ-2019/003 is a resolution");
        };
        assert_eq!(r.money_to_recover_vnd, 36_500_000);
        assert_eq!(r.enforcement.map(|e| e.completed), Some(true));
    }

    #[test]
    fn bad_records_are_set_aside_with_their_line() {
        let text = r#"{"type": "register", "key": "r1"}
{"type": "visit", "key": "v1", "visit_time": "2019-01-08 08:30", "kind": "regular", "receiver_role": "staff", "persons": 1, "matter": "first", "action": "accepted"}
{"type": "visit", "key": "v2", "visit_time": "yesterday", "kind": "regulr", "receiver_role": "staff", "matter": "first", "action": "accepted"}
not json

{"type": "petition", "key": "p1", "received_time": "2019-01-09", "channel": "post", "summary": "x", "visit": "v2"}
{"type": "petition", "key": "p2", "received_time": "2019-01-09", "channel": "post", "summary": "x", "visit": "v1", "decision": {"action": "accept", "time": "2019-01-10", "join": "p9"}}
{"type": "petition", "key": "v1", "received_time": "2019-01-09", "channel": "post", "summary": "x"}
{"type": "resolution", "key": "r1", "petition": "p3", "outcome": "withdrawn", "decision_time": "2019-02-01"}
{"type": "petition", "key": "p3", "received_time": "2019-01-09", "channel": "post", "summary": "x", "decision": {"action": "accept", "time": "2019-01-10", "note": "n"}}
{"type": "petition", "key": "p4", "received_time": "2019-01-09", "channel": "post", "summary": "x", "decision": {"action": "accept", "time": "2019-01-10"}}
{"type": "resolution", "key": "r2", "petition": "p4", "outcome": "withdrawn", "decision_time": "2019-02-01"}
{"type": "resolution", "key": "r3", "petition": "p4", "outcome": "withdrawn", "decision_time": "2019-02-01"}
{"type": "petition", "key": "p5", "received_time": "2019-01-09", "channel": "post", "summary": "x", "decision": {"action": "transfer"}}
"#;
        let r = parse(text, Format::Jsonl);
        let keys: Vec<&str> = r.entries.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["v1", "p4", "r2"]);
        let problems: Vec<(usize, String)> = r
            .problems
            .iter()
            .map(|p| (p.line, p.message.clone()))
            .collect();
        let expect = |line: usize, part: &str| {
            assert!(
                problems.iter().any(|(l, m)| *l == line && m.contains(part)),
                "line {line}: expected {part:?} in {problems:#?}"
            );
        };
        expect(3, "visit_time: \"yesterday\" is not a time");
        expect(
            3,
            "kind: \"regulr\" is not one of: regular, periodic, unscheduled",
        );
        expect(3, "persons: required");
        expect(4, "not JSON");
        expect(6, "visit: \"v2\" (line 3) has problems of its own");
        expect(
            7,
            "decision.join: \"p9\" is not the key of an earlier record",
        );
        expect(8, "key \"v1\" is already used on line 2");
        expect(9, "petition: \"p3\" is not the key of an earlier record");
        expect(10, "decision.note: not used by a decision to accept");
        expect(13, "the case of \"p4\" is already resolved on line 12");
        expect(
            14,
            "a transfer goes to exactly one of a unit code or an outside body",
        );
        assert_eq!(r.problems.len(), 9, "{problems:#?}");
    }

    #[test]
    fn csv_with_semicolons_bom_and_unknown_columns() {
        let text = "\u{feff}type;key;persons;#STT;visit_time;kind;receiver_role;matter;action\n\
                    register;r1;;;;;;;\n\
                    visit;v1;3;1;14/09/2019;regular;staff;first;accepted\n";
        let r = parse(text, Format::Csv);
        assert_eq!(r.problems, vec![]);
        assert_eq!(r.id.as_deref(), Some("r1"));
        assert!(matches!(&r.entries[0].record, Record::Visit(v) if v.persons == 3));
        let err = parse_str("type,key,colour\n", Format::Csv)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("unknown columns: colour"), "{err}");
    }
}

#[cfg(test)]
mod doc_tests {
    use super::*;

    /// The fenced blocks of `lang` in the format's documentation.
    fn blocks(doc: &str, lang: &str) -> Vec<String> {
        let fence = format!("```{lang}\n");
        doc.split(&fence)
            .skip(1)
            .filter_map(|rest| rest.split("```").next().map(str::to_string))
            .collect()
    }

    #[test]
    fn the_documented_example_reads_the_same_in_both_syntaxes() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/register-format.md");
        let doc = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}"));
        let jsonl = blocks(&doc, "jsonl");
        let csv = blocks(&doc, "csv");
        assert_eq!((jsonl.len(), csv.len()), (1, 1));
        let a = parse_str(&jsonl[0], Format::Jsonl).unwrap_or_else(|e| panic!("{e}"));
        let b = parse_str(&csv[0], Format::Csv).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a.problems, vec![]);
        assert_eq!(b.problems, vec![]);
        assert_eq!(a.entries.len(), 4);
        let strip = |r: &Register| -> Vec<(String, Record)> {
            r.entries
                .iter()
                .map(|e| (e.key.clone(), e.record.clone()))
                .collect()
        };
        assert_eq!(strip(&a), strip(&b));
    }
}
