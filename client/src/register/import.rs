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

// Requests end in `..Default::default()`: the API only ever adds fields, and a field added
// later must keep its default here rather than break the build.
#![allow(clippy::needless_update)]

use std::collections::HashMap;
use std::future::Future;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use prost_types::Timestamp;
use serde::Serialize;
use sha2::{Digest, Sha256};
use tiepdan_proto::v1 as pb;

use super::state::{Ids, ImportState, StateError};
use super::{AcceptTarget, Action, Decision, Destination, Entry, Record, Register};
use crate::client::Client;
use crate::error::{Error, RpcError};
use crate::time::timestamp;

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

/// What an import did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportReport {
    /// The register's id.
    pub register: String,
    /// The node's unit.
    pub unit: String,
    /// Records in the file.
    pub records: usize,
    /// Records the node did not have before.
    pub imported: usize,
    /// Records the node already had (from the state file, or answered as replays).
    pub already_present: usize,
    /// Records refused, by the file's checks or by the node.
    pub failed: usize,
    /// Records not sent because the import stopped early.
    pub not_reached: usize,
    /// Why the import stopped early, if it did.
    pub stopped: Option<String>,
    /// The refused records.
    pub failures: Vec<Failure>,
    /// Things the person running the import should know.
    pub notes: Vec<String>,
}

impl ImportReport {
    /// Whether every record of the file is now at the node.
    pub fn is_complete(&self) -> bool {
        self.failed == 0 && self.not_reached == 0
    }
}

/// A refused record.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    /// Line in the file.
    pub line: usize,
    /// The record's key.
    pub key: Option<String>,
    /// The step refused (`receive`, `decide`, `resolve`…), when the node refused it.
    pub step: Option<String>,
    /// What is wrong.
    pub message: String,
    /// The node's `ErrorInfo` reason.
    pub reason: Option<String>,
    /// The node's field violations, as `field: description`.
    pub violations: Vec<String>,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}", self.line)?;
        if let Some(key) = &self.key {
            write!(f, " ({key})")?;
        }
        if let Some(step) = &self.step {
            write!(f, ", {step}")?;
        }
        write!(f, ": {}", self.message)
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
        report.failures.push(Failure {
            line: p.line,
            key: p.key.clone(),
            step: None,
            message: p.message.clone(),
            reason: None,
            violations: Vec::new(),
        });
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
            report.failures.push(Failure {
                line: entry.line,
                key: Some(entry.key.clone()),
                step: None,
                message: format!("refers to {dep:?} (line {line}), which was not imported"),
                reason: None,
                violations: Vec::new(),
            });
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
                report.failures.push(failure(entry, step, &error));
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

fn failure(entry: &Entry, step: &'static str, error: &Error) -> Failure {
    let (reason, violations) = match error.rpc() {
        Some(rpc) => (
            rpc.reason.clone(),
            rpc.violations
                .iter()
                .map(|v| format!("{}: {}", v.field, v.description))
                .collect(),
        ),
        None => (None, Vec::new()),
    };
    let mut message = error.to_string();
    if reason.as_deref() == Some("REQUEST_ID_REUSED") {
        message.push_str(
            " — the node holds an earlier version of this record; a record once imported \
             cannot be changed by importing it again",
        );
    }
    Failure {
        line: entry.line,
        key: Some(entry.key.clone()),
        step: Some(step.to_string()),
        message,
        reason,
        violations,
    }
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

/// What the node's journal says at the start of the import.
struct NodeClock {
    /// Unit and the time of the journal's first event: the identity of the node's database.
    identity: String,
    /// Time of the newest event, in microseconds since the epoch.
    last_event_us: i64,
}

impl NodeClock {
    async fn read(client: &Client, unit: &str) -> Result<NodeClock, Error> {
        let first = client
            .list_journal_events(pb::ListJournalEventsRequest {
                page_size: 1,
                ..Default::default()
            })
            .await?;
        let start = first
            .events
            .first()
            .and_then(|e| e.event_time.as_ref())
            .map_or(0, micros);
        let last_event_us = if first.last_sequence <= 1 {
            start
        } else {
            client
                .list_journal_events(pb::ListJournalEventsRequest {
                    after_sequence: first.last_sequence - 1,
                    page_size: 1,
                    ..Default::default()
                })
                .await?
                .events
                .first()
                .and_then(|e| e.event_time.as_ref())
                .map_or(i64::MAX, micros)
        };
        Ok(NodeClock {
            identity: format!("{unit}@{start}"),
            last_event_us,
        })
    }
}

fn micros(ts: &Timestamp) -> i64 {
    ts.seconds
        .saturating_mul(1_000_000)
        .saturating_add(i64::from(ts.nanos / 1000))
}

/// A step the node refused, or that failed on the way.
struct StepError {
    step: &'static str,
    error: Error,
}

struct Importer<'a> {
    client: &'a Client,
    register: &'a str,
    after_us: i64,
}

impl Importer<'_> {
    fn id(&self, entry: &Entry, step: &str) -> String {
        request_id(self.register, &entry.key, step)
    }

    /// Whether an answer stamped `ts` is a new change rather than a replay.
    fn is_new(&self, ts: Option<&Timestamp>) -> bool {
        ts.is_none_or(|t| micros(t) > self.after_us)
    }

    /// Sends the steps of one record; answers the ids it got and whether any step was new.
    async fn record(
        &self,
        entry: &Entry,
        ids: &HashMap<String, Ids>,
    ) -> Result<(Ids, bool), StepError> {
        let known = |key: &str, step: &'static str, pick: fn(&Ids) -> Option<String>| {
            ids.get(key).and_then(pick).ok_or(StepError {
                step,
                error: Error::MissingField("id of an earlier record"),
            })
        };
        match &entry.record {
            Record::Visit(v) => {
                let request = pb::RecordVisitRequest {
                    request_id: self.id(entry, "visit"),
                    visit_time: Some(timestamp(v.visit_time)),
                    kind: v.kind as i32,
                    receiver_role: v.receiver_role as i32,
                    receiver_name: v.receiver_name.clone(),
                    persons: v.persons,
                    matter: v.matter as i32,
                    action: v.action as i32,
                    summary: v.summary.clone(),
                    schedule_entry_id: String::new(),
                    ..Default::default()
                };
                let visit = step("visit", || self.client.record_visit(request.clone())).await?;
                let fresh = self.is_new(visit.create_time.as_ref());
                Ok((
                    Ids {
                        visit_id: Some(visit.id),
                        ..Ids::default()
                    },
                    fresh,
                ))
            }
            Record::Petition(p) => {
                let visit_id = match &p.visit {
                    Some(key) => known(key, "receive", |i| i.visit_id.clone())?,
                    None => String::new(),
                };
                let request = pb::ReceivePetitionRequest {
                    request_id: self.id(entry, "receive"),
                    received_time: Some(timestamp(p.received_time)),
                    channel: p.channel as i32,
                    summary: p.summary.clone(),
                    petitioner: p.petitioner.clone(),
                    signers: p.signers,
                    visit_id,
                    classification: p.classification,
                    ..Default::default()
                };
                let received =
                    step("receive", || self.client.receive_petition(request.clone())).await?;
                let mut fresh = self.is_new(received.update_time.as_ref());
                let mut got = Ids {
                    petition_id: Some(received.id.clone()),
                    ..Ids::default()
                };
                if let Some(decision) = &p.decision {
                    let (petition, case_id) =
                        self.decide(entry, &received.id, decision, &known).await?;
                    fresh |= self.is_new(petition.update_time.as_ref());
                    got.case_id = case_id;
                }
                Ok((got, fresh))
            }
            Record::Resolution(r) => {
                let case_id = known(&r.petition, "resolve", |i| i.case_id.clone())?;
                let request = pb::ResolveCaseRequest {
                    request_id: self.id(entry, "resolve"),
                    case_id: case_id.clone(),
                    outcome: r.outcome as i32,
                    decision_number: r.decision_number.clone(),
                    decision_time: Some(timestamp(r.decision_time)),
                    money_to_recover_vnd: r.money_to_recover_vnd,
                    land_to_recover_m2: r.land_to_recover_m2,
                    ..Default::default()
                };
                let case = step("resolve", || self.client.resolve_case(request.clone())).await?;
                let mut fresh = self.is_new(case.update_time.as_ref());
                if let Some(effective) = r.effective_time {
                    let request = pb::RecordCaseInForceRequest {
                        request_id: self.id(entry, "in_force"),
                        case_id: case_id.clone(),
                        effective_time: Some(timestamp(effective)),
                        ..Default::default()
                    };
                    let case = step("in_force", || {
                        self.client.record_case_in_force(request.clone())
                    })
                    .await?;
                    fresh |= self.is_new(case.update_time.as_ref());
                }
                if let Some(e) = &r.enforcement {
                    let request = pb::RecordEnforcementRequest {
                        request_id: self.id(entry, "enforce"),
                        case_id: case_id.clone(),
                        money_recovered_vnd: e.money_recovered_vnd,
                        land_recovered_m2: e.land_recovered_m2,
                        completed: e.completed,
                        enforcement_time: Some(timestamp(e.time)),
                        ..Default::default()
                    };
                    let case = step("enforce", || {
                        self.client.record_enforcement(request.clone())
                    })
                    .await?;
                    fresh |= self.is_new(case.update_time.as_ref());
                }
                Ok((
                    Ids {
                        case_id: Some(case_id),
                        ..Ids::default()
                    },
                    fresh,
                ))
            }
        }
    }

    /// Sends a petition's decision; answers the petition after it and, for an acceptance,
    /// the case.
    async fn decide(
        &self,
        entry: &Entry,
        petition_id: &str,
        decision: &Decision,
        known: &impl Fn(&str, &'static str, fn(&Ids) -> Option<String>) -> Result<String, StepError>,
    ) -> Result<(pb::Petition, Option<String>), StepError> {
        let request_id = self.id(entry, "decide");
        let petition_id = petition_id.to_string();
        let c = self.client;
        let time = decision.time.map(timestamp);
        let petition = match &decision.action {
            Action::Accept { target } => {
                let target =
                    match target {
                        AcceptTarget::NewCase { complex } => {
                            pb::accept_petition_request::Target::NewCase(pb::NewCase {
                                complex: *complex,
                            })
                        }
                        AcceptTarget::Join(key) => pb::accept_petition_request::Target::CaseId(
                            known(key, "accept", |i| i.case_id.clone())?,
                        ),
                    };
                let request = pb::AcceptPetitionRequest {
                    request_id,
                    petition_id,
                    accept_time: time,
                    target: Some(target),
                    ..Default::default()
                };
                let (petition, case) =
                    step("accept", || c.accept_petition(request.clone())).await?;
                return Ok((petition, Some(case.id)));
            }
            Action::Guide { outside_body, note } => {
                let request = pb::GuidePetitionRequest {
                    request_id,
                    petition_id,
                    outside_body: outside_body.clone(),
                    note: note.clone(),
                    decision_time: time,
                    ..Default::default()
                };
                step("guide", || c.guide_petition(request.clone())).await?
            }
            Action::Transfer { destination, note } => {
                let destination = match destination {
                    Destination::Unit(code) => {
                        pb::transfer_petition_request::Destination::UnitCode(code.clone())
                    }
                    Destination::Outside(body) => {
                        pb::transfer_petition_request::Destination::OutsideBody(body.clone())
                    }
                };
                let request = pb::TransferPetitionRequest {
                    request_id,
                    petition_id,
                    destination: Some(destination),
                    note: note.clone(),
                    decision_time: time,
                    ..Default::default()
                };
                step("transfer", || c.transfer_petition(request.clone())).await?
            }
            Action::Urge { outside_body, note } => {
                let request = pb::UrgePetitionRequest {
                    request_id,
                    petition_id,
                    outside_body: outside_body.clone(),
                    note: note.clone(),
                    decision_time: time,
                    ..Default::default()
                };
                step("urge", || c.urge_petition(request.clone())).await?
            }
            Action::Return { note } => {
                let request = pb::ReturnPetitionRequest {
                    request_id,
                    petition_id,
                    note: note.clone(),
                    decision_time: time,
                    ..Default::default()
                };
                step("return", || c.return_petition(request.clone())).await?
            }
            Action::Withdraw { note } => {
                let request = pb::WithdrawPetitionRequest {
                    request_id,
                    petition_id,
                    note: note.clone(),
                    decision_time: time,
                    ..Default::default()
                };
                step("withdraw", || c.withdraw_petition(request.clone())).await?
            }
            Action::File { reason, note } => {
                let request = pb::FilePetitionRequest {
                    request_id,
                    petition_id,
                    reason: *reason as i32,
                    note: note.clone(),
                    decision_time: time,
                    ..Default::default()
                };
                step("file", || c.file_petition(request.clone())).await?
            }
        };
        Ok((petition, None))
    }
}

/// Runs one step, retrying a transient failure with the same request id — safe, since the
/// node answers a repeated id from its log — before giving up.
async fn step<T, F, Fut>(name: &'static str, mut call: F) -> Result<T, StepError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    let mut delay = Duration::from_millis(200);
    let mut attempts = 0;
    loop {
        match call().await {
            Err(e) if attempts < 4 && e.rpc().is_some_and(RpcError::is_transient) => {
                attempts += 1;
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
            other => return other.map_err(|error| StepError { step: name, error }),
        }
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
