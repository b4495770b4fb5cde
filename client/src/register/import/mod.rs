//! Importing a register through the gRPC API, record by record, in file order.
//!
//! Every request id is derived from the register's id, the record's key and the step
//! (`imp-` + the first 32 hex digits of SHA-256), and every request is built only from the
//! file and from earlier answers, so a second import sends byte-identical requests and the
//! node replays its first answers: nothing is added, and the ids it answers are the ones it
//! gave the first time. The state file only saves the replays.
//!
//! The API does not say whether an answer was a replay. The summary tells them apart by the
//! node's own clock: a new change is stamped after the newest journal event at the start of
//! the import, a replayed answer carries the time of the first change, which is not.

mod report;
mod steps;

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use indicatif::{ProgressBar, ProgressStyle};
use sha2::{Digest, Sha256};
use tiepdan_proto::v1 as pb;

pub use report::{Failure, ImportReport};
use steps::{Importer, NodeClock, StepError};

use super::state::{Ids, ImportState, StateError};
use super::{AcceptTarget, Action, Entry, Record, Register};
use crate::client::Client;
use crate::error::{Error, RpcError};

/// How an import runs.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// The state file; `None` keeps no state.
    pub state_path: Option<PathBuf>,
    /// Save the state after this many imported records (and at the end).
    pub checkpoint_every: usize,
    /// Stop after sending this many records; records already in the state do not count.
    pub limit: Option<usize>,
    /// Draw a progress bar on standard error, when it is a terminal.
    pub progress: bool,
    /// When set, the import stops after the record it is on and saves its state.
    pub stop: Option<Arc<AtomicBool>>,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            state_path: None,
            checkpoint_every: 20,
            limit: None,
            progress: false,
            stop: None,
        }
    }
}

/// Why an import could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The register has no id to derive request ids from.
    #[error(
        "the register has no id: add a first record {{\"type\": \"register\", \"key\": \"…\"}} \
         or pass --register"
    )]
    NoRegisterId,
    /// The register is another unit's book.
    #[error("the register is unit {register}'s, but the node serves unit {node}")]
    WrongUnit { register: String, node: String },
    /// The state file is another register's.
    #[error("state file {path} is register {found:?}'s, not {expected:?}'s")]
    OtherRegisterState {
        path: PathBuf,
        found: String,
        expected: String,
    },
    /// The state file failed.
    #[error(transparent)]
    State(#[from] StateError),
    /// The node failed before the import began.
    #[error(transparent)]
    Client(#[from] Error),
}

/// The request id of one step of one record: `imp-` and 32 hex digits of
/// SHA-256(register id, key, step). A newline separates the parts; neither may hold one.
pub fn request_id(register: &str, key: &str, step: &str) -> String {
    let digest = Sha256::digest(format!("{register}\n{key}\n{step}").as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("imp-{}", &hex[..32])
}

/// Imports `register` into the node behind `client`.
pub async fn import(
    client: &Client,
    register: &Register,
    options: &ImportOptions,
) -> Result<ImportReport, ImportError> {
    let register_id = register.id.clone().ok_or(ImportError::NoRegisterId)?;
    let unit = client.get_unit(pb::GetUnitRequest {}).await?;
    if let Some(code) = &register.unit
        && code != &unit.code
    {
        return Err(ImportError::WrongUnit {
            register: code.clone(),
            node: unit.code,
        });
    }
    let node = NodeClock::read(client, &unit.code).await?;
    let mut report = ImportReport {
        register: register_id.clone(),
        unit: unit.code.clone(),
        records: register.len(),
        ..ImportReport::default()
    };
    let mut state = load_state(options, &register_id, &node, &mut report)?;

    let mut failed_lines: HashMap<&str, usize> = HashMap::new();
    for p in &register.problems {
        if let Some(key) = &p.key {
            failed_lines.insert(key, p.line);
        }
        report
            .failures
            .push(Failure::unsent(p.line, p.key.clone(), p.message.clone()));
    }
    report.failed = register.problems.len();

    let bar = progress_bar(register.entries.len(), options.progress);
    let importer = Importer {
        client,
        register: &register_id,
        after_us: node.last_event_us,
    };
    let mut ids: HashMap<String, Ids> = state
        .done
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut sent = 0usize;
    let mut unsaved = 0usize;
    for (i, entry) in register.entries.iter().enumerate() {
        let remaining = register.entries.len() - i;
        if options
            .stop
            .as_ref()
            .is_some_and(|s| s.load(Ordering::Relaxed))
        {
            report.stopped = Some("interrupted".into());
            report.not_reached = remaining;
            break;
        }
        if state.done.contains_key(&entry.key) {
            report.already_present += 1;
            bar.inc(1);
            continue;
        }
        if options.limit.is_some_and(|l| sent >= l) {
            report.stopped = Some(format!("stopped after {sent} records (--limit)"));
            report.not_reached = remaining;
            break;
        }
        sent += 1;
        bar.set_message(entry.key.clone());
        if let Some((dep, line)) = dependencies(entry)
            .into_iter()
            .find_map(|d| failed_lines.get(d).map(|l| (d, *l)))
        {
            failed_lines.insert(&entry.key, entry.line);
            report.failed += 1;
            report.failures.push(Failure::unsent(
                entry.line,
                Some(entry.key.clone()),
                format!("refers to {dep:?} (line {line}), which was not imported"),
            ));
            bar.inc(1);
            continue;
        }
        match importer.record(entry, &ids).await {
            Ok((got, fresh)) => {
                if fresh {
                    report.imported += 1;
                } else {
                    report.already_present += 1;
                }
                ids.insert(entry.key.clone(), got.clone());
                state.done.insert(entry.key.clone(), got);
                unsaved += 1;
                if unsaved >= options.checkpoint_every.max(1) {
                    save_state(options, &state)?;
                    unsaved = 0;
                }
            }
            Err(StepError { step, error }) => {
                if error.rpc().is_some_and(RpcError::is_transient) {
                    report.stopped = Some(format!("the node stopped answering: {error}"));
                    report.not_reached = remaining;
                    break;
                }
                failed_lines.insert(&entry.key, entry.line);
                report.failed += 1;
                report.failures.push(Failure::refused(entry, step, &error));
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    save_state(options, &state)?;
    Ok(report)
}

fn load_state(
    options: &ImportOptions,
    register_id: &str,
    node: &NodeClock,
    report: &mut ImportReport,
) -> Result<ImportState, ImportError> {
    let fresh = ImportState::new(register_id, &node.identity);
    let Some(path) = &options.state_path else {
        return Ok(fresh);
    };
    match ImportState::load(path)? {
        None => Ok(fresh),
        Some(s) if s.register != register_id => Err(ImportError::OtherRegisterState {
            path: path.clone(),
            found: s.register,
            expected: register_id.to_string(),
        }),
        Some(s) if s.node != node.identity => {
            report.notes.push(format!(
                "state file {} was written for another node ({}); starting over, which only \
                 replays what this node already has",
                path.display(),
                s.node
            ));
            Ok(fresh)
        }
        Some(s) => Ok(s),
    }
}

fn save_state(options: &ImportOptions, state: &ImportState) -> Result<(), StateError> {
    match &options.state_path {
        Some(path) => state.save(path),
        None => Ok(()),
    }
}

fn progress_bar(len: usize, wanted: bool) -> ProgressBar {
    if !wanted || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(u64::try_from(len).unwrap_or(u64::MAX));
    if let Ok(style) =
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} {msg}")
    {
        bar.set_style(style);
    }
    bar
}

/// Keys of the earlier records a record needs.
fn dependencies(entry: &Entry) -> Vec<&str> {
    match &entry.record {
        Record::Visit(_) => Vec::new(),
        Record::Petition(p) => {
            let mut deps = Vec::new();
            if let Some(v) = &p.visit {
                deps.push(v.as_str());
            }
            if let Some(Action::Accept {
                target: AcceptTarget::Join(other),
            }) = p.decision.as_ref().map(|d| &d.action)
            {
                deps.push(other.as_str());
            }
            deps
        }
        Record::Resolution(r) => vec![r.petition.as_str()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_stable_and_distinct() {
        let a = request_id("son-tay-2019", "2019/0001", "receive");
        assert_eq!(a, request_id("son-tay-2019", "2019/0001", "receive"));
        assert!(a.starts_with("imp-"));
        assert_eq!(a.len(), 4 + 32);
        assert!(a.bytes().all(|b| b.is_ascii_graphic()));
        assert_ne!(a, request_id("son-tay-2019", "2019/0001", "decide"));
        assert_ne!(a, request_id("son-tay-2020", "2019/0001", "receive"));
        assert_ne!(a, request_id("son-tay-2019", "2019/0002", "receive"));
    }
}
