//! Sending one record: its requests, built only from the file and from earlier answers, each
//! retried on a transient failure with the same request id; and telling a new change from a
//! replayed one by the node's clock.

// Requests end in `..Default::default()`: the API only ever adds fields, and a field added
// later must keep its default here rather than break the build.
#![allow(clippy::needless_update)]

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use prost_types::Timestamp;
use tiepdan_proto::v1 as pb;

use super::request_id;
use crate::client::Client;
use crate::decision::PetitionDecision;
use crate::error::{Error, RpcError};
use crate::register::state::Ids;
use crate::register::{AcceptTarget, Action, Destination, Entry, Record};
use crate::time::timestamp;

/// What the node's journal says at the start of the import.
pub(super) struct NodeClock {
    /// Unit and the time of the journal's first event: the identity of the node's database.
    pub identity: String,
    /// Time of the newest event, in microseconds since the epoch.
    pub last_event_us: i64,
}

impl NodeClock {
    pub async fn read(client: &Client, unit: &str) -> Result<NodeClock, Error> {
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
pub(super) struct StepError {
    pub step: &'static str,
    pub error: Error,
}

/// The ids an earlier record got, one of them picked; a step fails without it.
type Known<'a> =
    dyn Fn(&str, &'static str, fn(&Ids) -> Option<String>) -> Result<String, StepError> + Sync + 'a;

pub(super) struct Importer<'a> {
    pub client: &'a Client,
    pub register: &'a str,
    pub after_us: i64,
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
    pub async fn record(
        &self,
        entry: &Entry,
        ids: &HashMap<String, Ids>,
    ) -> Result<(Ids, bool), StepError> {
        let known: &Known = &|key, step, pick| {
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
                    let sent = decision_of(&decision.action, known)?;
                    let request_id = self.id(entry, "decide");
                    let (petition, case) = step(sent.name(), || {
                        self.client
                            .decide(&request_id, &received.id, decision.time, &sent)
                    })
                    .await?;
                    fresh |= self.is_new(petition.update_time.as_ref());
                    got.case_id = case.map(|c| c.id);
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
}

/// A register's decision as the node takes it: a petition joining another's case goes into
/// the case that petition's acceptance opened.
fn decision_of(action: &Action, known: &Known) -> Result<PetitionDecision, StepError> {
    use pb::accept_petition_request::Target;
    use pb::transfer_petition_request::Destination as To;
    Ok(match action.clone() {
        Action::Accept { target } => PetitionDecision::Accept(match target {
            AcceptTarget::NewCase { complex } => Target::NewCase(pb::NewCase { complex }),
            AcceptTarget::Join(key) => {
                Target::CaseId(known(&key, "accept", |i| i.case_id.clone())?)
            }
        }),
        Action::Guide { outside_body, note } => PetitionDecision::Guide { outside_body, note },
        Action::Transfer { destination, note } => PetitionDecision::Transfer {
            destination: match destination {
                Destination::Unit(code) => To::UnitCode(code),
                Destination::Outside(body) => To::OutsideBody(body),
            },
            note,
        },
        Action::Urge { outside_body, note } => PetitionDecision::Urge { outside_body, note },
        Action::Return { note } => PetitionDecision::Return { note },
        Action::Withdraw { note } => PetitionDecision::Withdraw { note },
        Action::File { reason, note } => PetitionDecision::File { reason, note },
    })
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
