//! One session of the uplink: the Hello and Welcome, then events sent in a window of
//! batches, acknowledgements, mail both ways, directories and reconciliation requests, until
//! the link fails or the node stops.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use chrono::Utc;
use tiepdan_proto::v1::{self as pb, sync_service_client::SyncServiceClient};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::{ClientTlsConfig, Endpoint};

use crate::app::mail::Hop;
use crate::storage::journal;
use crate::sync::{FEATURE_RECONCILE, FEATURE_RECOVER, PROTOCOL_VERSION, SyncHub};
use crate::wire;
use crate::wire::MAX_MESSAGE_BYTES;

use super::*;

/// How often the links below are looked at for the parent's freshness.
const FRESHNESS_EVERY: Duration = Duration::from_millis(250);

fn request_of(message: pb::link_request::Message) -> pb::LinkRequest {
    pb::LinkRequest {
        message: Some(message),
    }
}

pub(super) async fn session(
    hub: &SyncHub,
    parent_url: &str,
    config: &UplinkConfig,
    tls: Option<&ClientTlsConfig>,
) -> Result<(), UplinkError> {
    let app = &hub.app;
    let mut endpoint = Endpoint::from_shared(parent_url.to_string())?;
    if let Some(tls) = tls {
        endpoint = endpoint.tls_config(tls.clone())?;
    }
    let channel = endpoint
        .connect_timeout(Duration::from_secs(3))
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(5))
        .keep_alive_timeout(Duration::from_secs(5))
        .keep_alive_while_idle(true)
        .connect()
        .await?;
    let mut client = SyncServiceClient::new(channel)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);
    let (tx, rx) = mpsc::channel::<pb::LinkRequest>(config.window + 8);
    let me = app.unit();
    let tree = app.tree();
    let units = app.known_units().await?;
    let subtree = units
        .iter()
        .filter(|u| u.code != me.code && tree.is_within(&u.code, &me.code))
        .map(wire::unit)
        .collect();
    let mut heads = Vec::new();
    let mut held: BTreeMap<String, u64> = BTreeMap::new();
    for origin in tree.ever_subtree(&me.code) {
        let (sequence, hash) = journal::head(app.store().reader(), &origin).await?;
        if sequence > 0 {
            held.insert(origin.clone(), sequence);
            heads.push(pb::OriginHead {
                origin_unit: origin,
                sequence,
                hash,
            });
        }
    }
    let sealing_keys = app.sealing_keys(&tree.subtree(&me.code)).await?;
    // Units whose key the parent has from this session; a key learnt later goes up after
    // the first batch that places its unit there.
    let mut keys_sent: HashSet<String> = sealing_keys.iter().map(|k| k.unit_code.clone()).collect();
    let hello = pb::Hello {
        protocol_version: PROTOCOL_VERSION,
        unit: Some(wire::unit(&me)),
        subtree,
        heads,
        features: vec![FEATURE_RECONCILE.to_string(), FEATURE_RECOVER.to_string()],
        sealing_keys,
    };
    tx.send(request_of(pb::link_request::Message::Hello(hello)))
        .await
        .map_err(|_| UplinkError::Protocol("link closed before Hello".into()))?;
    let mut inbound = client.link(ReceiverStream::new(rx)).await?.into_inner();
    let welcome = match tokio::time::timeout(Duration::from_secs(10), inbound.message()).await {
        Err(_) => return Err(UplinkError::Protocol("no Welcome within 10 s".into())),
        Ok(message) => match message?.and_then(|m| m.message) {
            Some(pb::link_response::Message::Welcome(w)) => w,
            _ => {
                return Err(UplinkError::Protocol(
                    "the parent did not answer Welcome".into(),
                ));
            }
        },
    };
    let parent = welcome
        .parent
        .as_ref()
        .map(wire::inbound::unit)
        .transpose()?
        .ok_or_else(|| UplinkError::Protocol("Welcome without the parent's unit".into()))?;
    let directory = welcome
        .directory
        .iter()
        .filter_map(|u| wire::inbound::unit(u).ok())
        .collect::<Vec<_>>();
    // Before the positions are judged: a reorganisation may give this node a predecessor's
    // history to take over.
    app.follow(&welcome.reorganisations).await?;
    if let Some((origin, applied)) = welcome
        .positions
        .iter()
        .map(|p| (&p.origin_unit, &p.sequence))
        .find(|(origin, applied)| **applied > held.get(*origin).copied().unwrap_or(0))
    {
        // The parent holds events of this subtree that this node lost (a copy restored
        // without `tiepdan-node restore`): nothing is written here until they are back.
        tracing::warn!(
            %origin,
            held = held.get(origin).copied().unwrap_or(0),
            parent_holds = applied,
            "the parent holds journal events this node lost; taking them back"
        );
        app.begin_recovery("behind").await?;
    }
    app.adopt_parent(&parent, &directory).await?;
    let outside = |code: &str| !app.tree().is_within(code, &me.code);
    app.learn_keys(&welcome.sealing_keys, outside).await?;
    let mut sent: BTreeMap<String, u64> = welcome
        .positions
        .iter()
        .map(|p| (p.origin_unit.clone(), p.sequence))
        .collect();
    hub.app.links().parent(|s| {
        s.unit_code = parent.code.clone();
        s.connected = true;
        s.since = Some(Utc::now());
        s.last_error.clear();
        s.last_error_code.clear();
        s.refused = false;
        s.failed_attempts = 0;
        s.next_attempt = None;
    });
    tracing::info!(parent = %parent.code, "parent link open");

    let mut changes = app.subscribe();
    let mut mail_changes = app.subscribe_downlink();
    let mut mail_due = true;
    let mut in_flight = 0usize;
    let mut mail_in_flight: HashSet<String> = HashSet::new();
    // The journal's heads as last read from the store, raised by what the applies committed
    // since (the tail). The store is read again when something else may have written the
    // journal: at the start, after every local commit (this node's own events), once a
    // second, and whenever the tail no longer holds what the parent lacks.
    app.tail().keep();
    let mut heads: BTreeMap<String, u64> = BTreeMap::new();
    let mut read_store = true;
    let mut local_seen = app.mail_generation();
    // What the parent was last told of the units behind here (none yet: all current).
    let mut told_behind = BTreeMap::new();
    let mut freshness_read = std::time::Instant::now() - FRESHNESS_EVERY;
    loop {
        // The parent judges its copies of this subtree through this node's links too; read
        // at most every FRESHNESS_EVERY, not for every batch (a province has many children).
        let behind = if freshness_read.elapsed() >= FRESHNESS_EVERY {
            freshness_read = std::time::Instant::now();
            app.links().behind(&app.tree())
        } else {
            told_behind.clone()
        };
        if behind != told_behind {
            let freshness = pb::Freshness {
                behind: behind
                    .iter()
                    .map(|(unit, held)| pb::UnitFreshness {
                        unit_code: unit.clone(),
                        as_of_time: held.map(wire::timestamp),
                    })
                    .collect(),
            };
            tx.send(request_of(pb::link_request::Message::Freshness(freshness)))
                .await
                .map_err(|_| UplinkError::Protocol("link closed".into()))?;
            told_behind = behind;
        }
        // Ship what the parent lacks, within the window.
        // With the history of units reorganised away, which the parent may still lack.
        let origins = app.tree().ever_subtree(&me.code);
        while in_flight < config.window {
            let local = app.mail_generation();
            if local != local_seen {
                local_seen = local;
                read_store = true;
            }
            let from_store = std::mem::take(&mut read_store);
            if from_store {
                heads = journal::last_sequences(app.store().reader()).await?;
            }
            app.tail().raise(&mut heads);
            // Live events go while fewer than `PARTIAL_IN_FLIGHT` batches are unacknowledged:
            // the next batch then waits at the parent while the one before it is applied, and
            // is applied as soon as that commits (with any others waiting, in one commit);
            // events that come meanwhile travel together in the batch after, instead of one
            // message (and two journal reads here) each.
            let behind = backlog(&heads, &origins, &sent);
            hub.app.links().parent(|s| s.events_behind = behind);
            if behind == 0 || (in_flight >= PARTIAL_IN_FLIGHT && behind < config.batch_events) {
                break;
            }
            let events = if from_store {
                journal::next_batch(
                    app.store().reader(),
                    &origins,
                    &sent,
                    &heads,
                    config.batch_events,
                    config.batch_bytes,
                )
                .await?
            } else {
                let held = app.tail().after(
                    &origins,
                    &sent,
                    &heads,
                    config.batch_events,
                    config.batch_bytes,
                );
                let Some(events) = held else {
                    read_store = true;
                    continue;
                };
                events
            };
            if events.is_empty() {
                break;
            }
            for e in &events {
                sent.insert(e.origin.clone(), e.sequence);
            }
            let remaining = behind.saturating_sub(events.len() as u64);
            let mut units: Vec<pb::Unit> = Vec::new();
            for e in &events {
                if e.origin != me.code && !units.iter().any(|u| u.code == e.origin) {
                    // Parents first, so the receiver can place each unit.
                    for code in app.tree().chain(&e.origin).iter().rev() {
                        if *code == me.code || units.iter().any(|u| u.code == *code) {
                            continue;
                        }
                        if let Some(u) = app.known_unit(code) {
                            units.push(wire::unit(&u));
                        }
                    }
                }
            }
            let unsent: Vec<String> = units
                .iter()
                .filter(|u| !keys_sent.contains(&u.code))
                .map(|u| u.code.clone())
                .collect();
            let batch = pb::EventBatch {
                events: events.into_iter().map(|e| e.payload).collect(),
                remaining,
                units,
            };
            tx.send(request_of(pb::link_request::Message::Batch(batch)))
                .await
                .map_err(|_| UplinkError::Protocol("link closed".into()))?;
            in_flight += 1;
            if !unsent.is_empty() {
                let keys = app.sealing_keys(&unsent).await?;
                if !keys.is_empty() {
                    keys_sent.extend(keys.iter().map(|k| k.unit_code.clone()));
                    let keys = pb::SealingKeys { keys };
                    tx.send(request_of(pb::link_request::Message::SealingKeys(keys)))
                        .await
                        .map_err(|_| UplinkError::Protocol("link closed".into()))?;
                }
            }
            if remaining < config.batch_events {
                break;
            }
        }
        // The outbox is read when it may hold something new, not for every batch.
        let waiting = if std::mem::take(&mut mail_due) || mail_changes.has_changed().unwrap_or(true)
        {
            let _ = mail_changes.borrow_and_update();
            app.outbox(&Hop::Up, 16).await?
        } else {
            Vec::new()
        };
        for mail in waiting {
            if mail_in_flight.len() >= 16 || mail_in_flight.contains(&mail.id) {
                continue;
            }
            mail_in_flight.insert(mail.id.clone());
            tx.send(request_of(pb::link_request::Message::Mail(mail)))
                .await
                .map_err(|_| UplinkError::Protocol("link closed".into()))?;
        }
        tokio::select! {
            _ = hub.shutdown.cancelled() => return Ok(()),
            _ = changes.changed(), if in_flight < config.window => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {
                mail_due = true;
                read_store = true;
            }
            message = inbound.message() => {
                let Some(message) = message? else {
                    return Ok(());
                };
                match message.message {
                    Some(pb::link_response::Message::BatchAck(ack)) => {
                        in_flight = in_flight.saturating_sub(1);
                        hub.app.links().parent(|s| s.last_event = Some(Utc::now()));
                        for p in ack.positions {
                            if sent.get(&p.origin_unit).is_some_and(|s| p.sequence > *s) {
                                return Err(UplinkError::Protocol(format!(
                                    "parent acknowledged {}/{} that was never sent",
                                    p.origin_unit, p.sequence
                                )));
                            }
                        }
                    }
                    Some(pb::link_response::Message::MailAck(ack)) => {
                        mail_due = true;
                        if mail_in_flight.remove(&ack.mail_id) {
                            app.mail_delivered(&ack.mail_id).await?;
                        }
                    }
                    Some(pb::link_response::Message::Mail(mail)) => {
                        let id = mail.id.clone();
                        app.receive_mail(mail, None).await?;
                        tx.send(request_of(pb::link_request::Message::MailAck(pb::MailAck {
                            mail_id: id,
                        })))
                        .await
                        .map_err(|_| UplinkError::Protocol("link closed".into()))?;
                    }
                    Some(pb::link_response::Message::Directory(d)) => {
                        let units: Vec<_> = d
                            .units
                            .iter()
                            .filter_map(|u| wire::inbound::unit(u).ok())
                            .collect();
                        app.adopt_parent(&parent, &units).await?;
                        app.learn_keys(&d.sealing_keys, outside).await?;
                    }
                    Some(pb::link_response::Message::DigestRequest(request)) => {
                        let reply = digest_reply(hub, &origins, request).await?;
                        tx.send(request_of(pb::link_request::Message::DigestReply(reply)))
                            .await
                            .map_err(|_| UplinkError::Protocol("link closed".into()))?;
                    }
                    Some(pb::link_response::Message::Resend(resend)) => {
                        // The parent lacks events it had acknowledged (restored from a
                        // backup, say): ship again from where it is.
                        for p in resend.positions {
                            if let Some(s) = sent.get_mut(&p.origin_unit)
                                && p.sequence < *s
                            {
                                tracing::warn!(
                                    origin = %p.origin_unit,
                                    from = p.sequence,
                                    "the parent asks for events again"
                                );
                                *s = p.sequence;
                            }
                        }
                        read_store = true;
                    }
                    Some(pb::link_response::Message::Recovery(recovery)) => {
                        take_back(hub, recovery).await?;
                    }
                    Some(pb::link_response::Message::Welcome(_)) => {
                        return Err(UplinkError::Protocol("unexpected message".into()));
                    }
                    // A message of a newer release this one does not know.
                    None => tracing::debug!("ignored an unknown message from the parent"),
                }
            }
        }
    }
}

/// Applies events the parent gave back, and ends the recovery when the parent says it is
/// done. Events of a journal that is already whole are held to what is stored, as every
/// redelivered event is.
async fn take_back(hub: &SyncHub, recovery: pb::Recovery) -> Result<(), UplinkError> {
    let app = &hub.app;
    if !recovery.events.is_empty() {
        let units = recovery
            .units
            .iter()
            .map(wire::inbound::unit)
            .collect::<Result<Vec<_>, _>>()?;
        let events: Vec<&[u8]> = recovery.events.iter().map(Vec::as_slice).collect();
        let applied = app
            .apply_recovered(&units, &events)
            .await
            .map_err(|e| UplinkError::Protocol(format!("events given back refused: {e}")))?;
        tracing::info!(
            events = applied.applied,
            remaining = recovery.remaining,
            "journal events taken back from the parent"
        );
    }
    if recovery.done && app.is_recovering() {
        app.finish_recovery(recovery.mail_taken_through).await?;
    }
    Ok(())
}

/// Events held here (up to `heads`) that the parent has not been sent yet.
fn backlog(heads: &BTreeMap<String, u64>, origins: &[String], sent: &BTreeMap<String, u64>) -> u64 {
    let mut behind = 0;
    for origin in origins {
        let head = heads.get(origin).copied().unwrap_or(0);
        behind += head.saturating_sub(sent.get(origin).copied().unwrap_or(0));
    }
    behind
}

/// The digests the parent asked for: heads only when it named no origin (every origin of
/// this subtree), else each named origin of this subtree's head and day digests up to it.
async fn digest_reply(
    hub: &SyncHub,
    origins: &[String],
    request: pb::DigestRequest,
) -> Result<pb::DigestReply, UplinkError> {
    let db = hub.app.store().reader();
    let mut reply = pb::DigestReply {
        request_id: request.request_id,
        ..Default::default()
    };
    let heads_only = request.origin_units.is_empty();
    let asked = if heads_only {
        origins.to_vec()
    } else {
        request
            .origin_units
            .into_iter()
            .filter(|o| origins.contains(o))
            .take(origins.len())
            .collect()
    };
    for origin in asked {
        let head = journal::last_sequence(db, &origin).await?;
        if !heads_only {
            for d in journal::digest(db, &origin, head).await? {
                reply.digests.push(pb::DayDigest {
                    origin_unit: d.origin,
                    day: d.day.format("%Y-%m-%d").to_string(),
                    count: d.count,
                    highest_sequence: d.highest_sequence,
                    hash: d.hash,
                });
            }
        }
        if head > 0 || !heads_only {
            reply.heads.push(pb::OriginPosition {
                origin_unit: origin,
                sequence: head,
            });
        }
    }
    Ok(reply)
}
