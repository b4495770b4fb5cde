//! A child's session at the parent, once its Hello is accepted: batches gathered and applied
//! a run at a time (the next checked while the one before is written), acknowledgements, mail
//! both ways and the directory of the units it may address.

use std::collections::HashSet;
use std::pin::Pin;
use std::time::{Duration, Instant};

use chrono::Utc;
use futures::FutureExt;
use futures::stream::{Peekable, StreamExt};
use tiepdan_proto::v1::{self as pb};
use tokio::sync::SemaphorePermit;
use tokio_util::sync::CancellationToken;
use tonic::{Status, Streaming};

use super::SyncHub;
use crate::app::App;
use crate::app::apply::CheckedBatch;
use crate::app::mail::Hop;
use crate::wire;

use super::*;

pub(super) async fn session_loop(
    hub: &SyncHub,
    child: &str,
    inbound: &mut Peekable<Streaming<pb::LinkRequest>>,
    tx: &crate::app::links::Downlink,
    token: &CancellationToken,
    mut directory_version: u64,
) -> Result<(), Status> {
    let app = &hub.app;
    // Mail and new units, not the journal: a batch applied for one child wakes no other
    // session.
    let mut changes = app.subscribe_downlink();
    let mut mail_in_flight: HashSet<String> = HashSet::new();
    let hop = Hop::Down(child.to_string());
    let mut mail_due = true;
    let mut mail_seen = app.mail_generation();
    let mut directory_sent: Option<Instant> = None;
    // The child was welcomed on this tree; a reorganisation ends the session, so the child
    // links again and is welcomed on the new tree (its place, its successor, its history).
    let versions = app.tree().history().len();
    loop {
        if app.tree().history().len() != versions {
            return Err(Status::unavailable(
                "the tree was reorganised; link again to be welcomed on it",
            ));
        }
        // New units elsewhere in the tree (or units whose sealing keys became known): tell
        // the child, so it can address them. Only those learnt since its last directory go:
        // the child adds them to the ones it holds. At most one directory a pace.
        let mut directory_wait = None;
        if app.directory_version() > directory_version {
            match directory_sent.map(|at| at.elapsed()) {
                Some(since) if since < DIRECTORY_PACE => {
                    directory_wait = Some(DIRECTORY_PACE - since);
                }
                _ => {
                    let building = hub
                        .directories
                        .acquire()
                        .await
                        .map_err(|_| Status::unavailable("the node is shutting down"))?;
                    let (version, units) = app.directory_since(directory_version, child);
                    directory_version = version;
                    if !units.is_empty() {
                        let parts =
                            directory_chunks(app, units.iter().map(wire::unit).collect()).await?;
                        // The permit covers the building, not the sending: a child that
                        // does not read must not hold up the others.
                        drop(building);
                        for part in parts {
                            send(tx, pb::link_response::Message::Directory(part)).await?;
                        }
                        directory_sent = Some(Instant::now());
                    }
                }
            }
        }
        // Mail for the child's subtree, within the window, when the outbox may hold some.
        if std::mem::take(&mut mail_due) && mail_in_flight.len() < MAIL_WINDOW {
            let room = (MAIL_WINDOW - mail_in_flight.len()) as u64;
            // Boxed, as every large future of this loop: an idle session holds a pointer.
            for mail in Box::pin(app.outbox(&hop, room + mail_in_flight.len() as u64)).await? {
                if mail_in_flight.contains(&mail.id) {
                    continue;
                }
                let Ok(permit) = tx.try_reserve() else {
                    mail_due = true;
                    break;
                };
                mail_in_flight.insert(mail.id.clone());
                permit.send(Ok(response(pb::link_response::Message::Mail(mail))));
            }
        }
        tokio::select! {
            _ = token.cancelled() => return Ok(()),
            _ = hub.shutdown.cancelled() => return Ok(()),
            _ = changes.changed() => {
                let generation = app.mail_generation();
                if generation != mail_seen {
                    mail_seen = generation;
                    mail_due = true;
                }
            }
            _ = tokio::time::sleep(directory_wait.unwrap_or(Duration::from_secs(1))) => {
                mail_due |= directory_wait.is_none();
            }
            message = inbound.next() => {
                let Some(message) = message.transpose().map_err(malformed)? else {
                    return Ok(());
                };
                match message.message {
                    Some(pb::link_request::Message::Batch(batch)) => {
                        let first = Received::of(batch)?;
                        apply_run(hub, child, tx, inbound, first).await?;
                    }
                    Some(pb::link_request::Message::Mail(mail)) => {
                        let id = mail.id.clone();
                        Box::pin(app.receive_mail(mail, Some(child)))
                            .await
                            .map_err(Status::from)?;
                        send(tx, pb::link_response::Message::MailAck(pb::MailAck { mail_id: id }))
                            .await?;
                    }
                    Some(pb::link_request::Message::MailAck(ack)) => {
                        mail_due = true;
                        if mail_in_flight.remove(&ack.mail_id) {
                            app.mail_delivered(&ack.mail_id).await?;
                        }
                    }
                    Some(pb::link_request::Message::DigestReply(mut reply)) => {
                        // A unit placed elsewhere is not the child's to speak for; one this
                        // node has not learnt of yet (its events still on their way) is
                        // left out of the comparison.
                        let tree = app.tree();
                        let foreign = reply
                            .digests
                            .iter()
                            .map(|d| &d.origin_unit)
                            .chain(reply.heads.iter().map(|h| &h.origin_unit))
                            .find(|origin| tree.knows(origin) && !tree.ever_within(origin, child));
                        if let Some(origin) = foreign {
                            return Err(Status::permission_denied(format!(
                                "child {child} cannot speak for unit {origin:?}"
                            )));
                        }
                        reply.digests.retain(|d| tree.knows(&d.origin_unit));
                        reply.heads.retain(|h| tree.knows(&h.origin_unit));
                        hub.app.links().deliver_digest(child, reply);
                    }
                    Some(pb::link_request::Message::SealingKeys(keys)) => {
                        if keys.keys.len() > crate::app::children::MAX_UNITS + 1 {
                            return Err(Status::from(crate::domain::DomainError::invalid(
                                "sealing_keys.keys",
                                format!("at most {} keys", crate::app::children::MAX_UNITS + 1),
                            )));
                        }
                        let tree = app.tree();
                        Box::pin(app.learn_keys(&keys.keys, |code| tree.is_within(code, child)))
                            .await?;
                    }
                    Some(pb::link_request::Message::Freshness(freshness)) => {
                        take_freshness(app, child, freshness)?;
                    }
                    Some(pb::link_request::Message::Hello(_)) | None => {
                        return Err(Status::invalid_argument("unexpected message on an open link"));
                    }
                }
            }
        }
    }
}

/// A batch received from a child: within the size limit, its units read.
struct Received {
    units: Vec<crate::domain::model::Unit>,
    events: Vec<Vec<u8>>,
    remaining: u64,
}

impl Received {
    fn of(batch: pb::EventBatch) -> Result<Received, Status> {
        if batch.events.len() > MAX_BATCH_EVENTS {
            return Err(Status::invalid_argument(format!(
                "a batch carries at most {MAX_BATCH_EVENTS} events"
            )));
        }
        let units = batch
            .units
            .iter()
            .map(wire::inbound::unit)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Received {
            units,
            events: batch.events,
            remaining: batch.remaining,
        })
    }
}

/// `first` and the batches that already wait behind it on the link, as many as one batch
/// may carry: the child sent them while the previous one was being applied, and they go in
/// one transaction, one commit for all. A waiting batch that is refused ends the gathering;
/// its status comes back to be returned once the batches before it are applied.
fn gather(
    inbound: &mut Peekable<Streaming<pb::LinkRequest>>,
    first: Option<Received>,
) -> (Vec<Received>, Option<Status>) {
    let mut events = first.as_ref().map_or(0, |r| r.events.len());
    let mut units = first.as_ref().map_or(0, |r| r.units.len());
    let mut queued: Vec<Received> = first.into_iter().collect();
    loop {
        let fits = |m: &Result<pb::LinkRequest, Status>| match m {
            Ok(pb::LinkRequest {
                message: Some(pb::link_request::Message::Batch(b)),
            }) => {
                events + b.events.len() <= MAX_BATCH_EVENTS
                    && units + b.units.len() <= crate::app::children::MAX_UNITS
            }
            _ => false,
        };
        // Only what has arrived: the gathering never waits.
        let Some(Some(Ok(pb::LinkRequest {
            message: Some(pb::link_request::Message::Batch(batch)),
        }))) = Pin::new(&mut *inbound).next_if(fits).now_or_never()
        else {
            return (queued, None);
        };
        match Received::of(batch) {
            Ok(r) => {
                events += r.events.len();
                units += r.units.len();
                queued.push(r);
            }
            Err(status) => return (queued, Some(status)),
        }
    }
}

/// The units and events of batches applied together. A unit the batches share goes once,
/// as the latest batch gives it: what applying them one by one would leave (the order does
/// not matter, parents are found).
fn merged(queued: &[Received]) -> (Vec<crate::domain::model::Unit>, Vec<&[u8]>) {
    let mut seen = HashSet::new();
    let mut units: Vec<crate::domain::model::Unit> = queued
        .iter()
        .rev()
        .flat_map(|r| r.units.iter().rev())
        .filter(|u| seen.insert(u.code.as_str()))
        .cloned()
        .collect();
    units.reverse();
    let events = queued
        .iter()
        .flat_map(|r| r.events.iter().map(Vec::as_slice))
        .collect();
    (units, events)
}

/// Applies `first` with the batches waiting behind it, then, while more keep arriving,
/// those: the next ones are decoded and checked on a blocking thread while the ones before
/// them are written, so a child streaming its backlog has one core checking and one
/// writing. After `RUN_WRITES` writes the session looks at its other work again.
async fn apply_run(
    hub: &SyncHub,
    child: &str,
    tx: &crate::app::links::Downlink,
    inbound: &mut Peekable<Streaming<pb::LinkRequest>>,
    first: Received,
) -> Result<(), Status> {
    // Gathered once this session's turn has come: what arrived while it waited goes in the
    // same commit.
    let mut turn = applying(hub).await?;
    let (mut queued, mut refused) = gather(inbound, Some(first));
    let mut checked = None;
    for run in 1..=RUN_WRITES {
        let next = if refused.is_none() && run < RUN_WRITES && !hub.shutdown.is_cancelled() {
            let (next, next_refused) = gather(inbound, None);
            (!next.is_empty() || next_refused.is_some())
                .then(|| (check_later(hub, child, next), next_refused))
        } else {
            None
        };
        apply_queued(hub, child, tx, queued, checked.take(), turn).await?;
        if let Some(status) = refused {
            return Err(status);
        }
        let Some((checking, next_refused)) = next else {
            return Ok(());
        };
        let (next, next_checked) = checking
            .await
            .map_err(|e| Status::internal(format!("checking a batch: {e}")))?;
        if next.is_empty() {
            // Only a refused batch was waiting.
            return next_refused.map_or(Ok(()), Err);
        }
        turn = match hub.appliers.try_acquire() {
            Ok(t) => {
                checked = next_checked;
                t
            }
            Err(tokio::sync::TryAcquireError::Closed) => {
                return Err(Status::unavailable("the node is shutting down"));
            }
            // A session waiting for its turn holds its batches as received, not decoded
            // (with a thousand children waiting, that is the town's memory): the checks
            // are redone when the turn comes.
            Err(tokio::sync::TryAcquireError::NoPermits) => {
                drop(next_checked);
                applying(hub).await?
            }
        };
        (queued, refused) = (next, next_refused);
    }
    Ok(())
}

/// Decodes and checks `queued` on a blocking thread; `None` if that fails (the write
/// checks again and reports why).
fn check_later(
    hub: &SyncHub,
    child: &str,
    queued: Vec<Received>,
) -> tokio::task::JoinHandle<(Vec<Received>, Option<CheckedBatch>)> {
    let app = hub.app.clone();
    let child = child.to_string();
    tokio::task::spawn_blocking(move || {
        let checked = if queued.is_empty() {
            None
        } else {
            app.check_batch(&child, &merged(&queued).1).ok()
        };
        (queued, checked)
    })
}

/// A turn to apply (`APPLIERS`).
async fn applying(hub: &SyncHub) -> Result<SemaphorePermit<'_>, Status> {
    hub.appliers
        .acquire()
        .await
        .map_err(|_| Status::unavailable("the node is shutting down"))
}

/// Applies batches received back to back in one transaction (with `checked`, what
/// `check_batch` made of them, if it was made) and acknowledges each. When that is refused,
/// they are applied one by one, so those before the refused one are kept and acknowledged,
/// as if each had come alone. `turn` is given back before each acknowledgement is sent: a
/// child slow to read its responses holds up only its own link.
async fn apply_queued<'h>(
    hub: &'h SyncHub,
    child: &str,
    tx: &crate::app::links::Downlink,
    queued: Vec<Received>,
    checked: Option<CheckedBatch>,
    turn: SemaphorePermit<'h>,
) -> Result<(), Status> {
    let app = &hub.app;
    let mut turn = Some(turn);
    if queued.len() > 1 || checked.is_some() {
        let (units, events) = merged(&queued);
        // Boxed: an idle session's task holds only a pointer to this large future.
        let applied = match checked {
            Some(checked) => Box::pin(app.write_batch(child, &units, &events, checked)).await,
            None => Box::pin(app.apply_batch(child, &units, &events)).await,
        };
        match applied {
            Ok(applied) => {
                drop(turn);
                let remaining = queued.last().map_or(0, |r| r.remaining);
                return acknowledge(hub, child, tx, applied, remaining, queued.len()).await;
            }
            Err(e) if queued.len() > 1 => {
                tracing::debug!(child, error = %e, batches = queued.len(), "batches applied one by one");
            }
            Err(e) => return Err(e.into()),
        }
    }
    for r in queued {
        let held = match turn.take() {
            Some(t) => t,
            None => applying(hub).await?,
        };
        let events: Vec<&[u8]> = r.events.iter().map(Vec::as_slice).collect();
        let applied = Box::pin(app.apply_batch(child, &r.units, &events)).await;
        drop(held);
        acknowledge(hub, child, tx, applied?, r.remaining, 1).await?;
    }
    Ok(())
}

/// Notes what was applied and sends `batches` acknowledgements of it.
async fn acknowledge(
    hub: &SyncHub,
    child: &str,
    tx: &crate::app::links::Downlink,
    applied: crate::app::apply::Applied,
    remaining: u64,
    batches: usize,
) -> Result<(), Status> {
    hub.app.links().child(child, |s| {
        s.events_applied += applied.applied;
        s.events_behind = remaining;
        if applied.applied > 0 {
            s.last_event = Some(Utc::now());
        }
    });
    let positions: Vec<pb::OriginPosition> = applied
        .positions
        .into_iter()
        .map(|(origin_unit, sequence)| pb::OriginPosition {
            origin_unit,
            sequence,
        })
        .collect();
    for _ in 0..batches {
        let ack = pb::BatchAck {
            positions: positions.clone(),
        };
        send(tx, pb::link_response::Message::BatchAck(ack)).await?;
    }
    Ok(())
}

/// `units` with their sealing keys, in directories of at most `DIRECTORY_CHUNK` units.
pub(super) async fn directory_chunks(
    app: &App,
    mut units: Vec<pb::Unit>,
) -> Result<Vec<pb::Directory>, Status> {
    let mut parts = Vec::with_capacity(units.len().div_ceil(DIRECTORY_CHUNK));
    while !units.is_empty() {
        let rest = units.split_off(units.len().min(DIRECTORY_CHUNK));
        let codes: Vec<String> = units.iter().map(|u| u.code.clone()).collect();
        let sealing_keys = app.sealing_keys(&codes).await?;
        parts.push(pb::Directory {
            units: std::mem::replace(&mut units, rest),
            sealing_keys,
        });
    }
    Ok(parts)
}

/// The units outside `child`'s subtree this node knows.
pub(super) async fn directory_for(app: &App, child: &str) -> Result<Vec<pb::Unit>, Status> {
    let tree = app.tree();
    Ok(app
        .known_units()
        .await?
        .into_iter()
        .filter(|u| !tree.is_within(&u.code, child))
        .map(|u| wire::unit(&u))
        .collect())
}

/// Keeps what `child` says of the units below it that are behind there; units outside its
/// subtree are not its to speak for and are left out.
fn take_freshness(
    app: &crate::app::App,
    child: &str,
    freshness: pb::Freshness,
) -> Result<(), Status> {
    let most = crate::app::children::MAX_UNITS + 1;
    if freshness.behind.len() > most {
        return Err(Status::from(crate::domain::DomainError::invalid(
            "freshness.behind",
            format!("at most {most} units, not {}", freshness.behind.len()),
        )));
    }
    let tree = app.tree();
    let mut below = std::collections::BTreeMap::new();
    for (i, unit) in freshness.behind.iter().enumerate() {
        let held = match &unit.as_of_time {
            Some(t) => Some(wire::instant(t).ok_or_else(|| {
                Status::from(crate::domain::DomainError::invalid(
                    format!("freshness.behind[{i}].as_of_time"),
                    "not a valid time",
                ))
            })?),
            None => None,
        };
        if unit.unit_code != child && tree.is_within(&unit.unit_code, child) {
            below.insert(unit.unit_code.clone(), held);
        }
    }
    app.links().child(child, |s| s.below = below);
    Ok(())
}

pub(super) async fn send(
    tx: &crate::app::links::Downlink,
    message: pb::link_response::Message,
) -> Result<(), Status> {
    tx.send(Ok(response(message)))
        .await
        .map_err(|_| Status::cancelled("child went away"))
}

/// A message that does not decode is the child's fault, not this node's: tonic reports it
/// as INTERNAL (what a panic also becomes), the link as INVALID_ARGUMENT.
pub(super) fn malformed(status: Status) -> Status {
    if status.code() == tonic::Code::Internal {
        Status::invalid_argument(format!("malformed link message: {}", status.message()))
    } else {
        status
    }
}

pub(super) fn response(message: pb::link_response::Message) -> Box<pb::LinkResponse> {
    Box::new(pb::LinkResponse {
        message: Some(message),
    })
}
