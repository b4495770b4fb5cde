//! Reading a register file: JSON Lines or CSV into [`Fields`], one row a record, each then
//! typed (`records`) and checked against the records before it (`links`). A bad record is set
//! aside with its line number; the rest of the file still imports.

use std::path::{Path, PathBuf};

use super::fields::Fields;
use super::links::Builder;
use super::{FIELDS, Register};

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
    Ok(builder.finish())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::register::{AcceptTarget, Action, Decision, Record};

    /// Each record by its key, without its line: what two syntaxes of one register share.
    fn keyed(r: &Register) -> Vec<(String, Record)> {
        r.entries
            .iter()
            .map(|e| (e.key.clone(), e.record.clone()))
            .collect()
    }

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
        assert_eq!(keyed(&jsonl), keyed(&csv));
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
            "kind: \"regulr\" is not one of: regular (thường xuyên), periodic (định kỳ), unscheduled (đột xuất)",
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
        assert_eq!(keyed(&a), keyed(&b));
    }
}
