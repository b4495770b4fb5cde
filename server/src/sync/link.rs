//! The parent's side of the tier link: `tiepdan.v1.SyncService`. A child opens one stream,
//! introduces itself, and is told where to resume; then each batch, with those already
//! waiting behind it, is applied in one transaction and acknowledged after the commit, mail
//! is taken durably and acknowledged, and mail for the child's subtree is sent down the same
//! stream.

use std::collections::HashSet;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use futures::FutureExt;
use futures::stream::{Peekable, StreamExt};
use tiepdan_proto::v1::{self as pb, sync_service_server::SyncService};
use tokio::sync::{SemaphorePermit, mpsc};
use tokio_stream::{Stream, wrappers::ReceiverStream};
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status, Streaming};
use tonic_types::StatusExt;

use super::apply::{ApplyError, CheckedBatch};
use super::mail::Hop;
use super::status::SyncStatus;
use crate::registry::Registry;
use crate::wire;

/// Protocol version of the link this release speaks.
pub const PROTOCOL_VERSION: u32 = 1;
/// Hello feature: the child answers `DigestRequest` and honours `Resend`.
pub const FEATURE_RECONCILE: &str = "reconcile";
/// Most events one batch may carry.
pub const MAX_BATCH_EVENTS: usize = 2000;
/// How long a child has to introduce itself.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest a reconciliation waits for missing events.
const MAX_RECONCILE_WAIT_SECONDS: u32 = 120;
/// Mail sent down and not yet acknowledged, per child.
const MAIL_WINDOW: usize = 16;
/// The shortest time between two directories sent to a child. A unit learnt after a quiet
/// spell goes at once; when a whole district connects, each child gets the units of the
/// storm in a few directories instead of one per unit (n children × n units messages, each
/// a transaction at the child).
const DIRECTORY_PACE: Duration = Duration::from_millis(200);
/// How many children's directories are built at once. A Welcome carries every unit outside
/// the child's subtree with its sealing key: when a thousand communes connect together, a
/// thousand such lists built at once were most of the town's peak memory (heaptrack:
/// 230 of 342 MB), while the writer serializes the handshakes anyway.
pub const DIRECTORY_BUILDERS: usize = 4;
/// Most units one Welcome or Directory carries; a longer directory goes in several messages,
/// so no message grows with the tree (a province's directory in one Welcome would approach
/// the message size limit). It did not change the fan-in's memory measurably (BENCHMARKS.md).
pub const DIRECTORY_CHUNK: usize = 128;
/// How many children's batches are applied (decoded, checked, written) at once. Writes are
/// serialized anyway; a second one is decoded while the first holds the write lock. A
/// session waiting for its turn holds only the batches it received, not an apply in
/// progress: with a thousand children sending together, their waiting applies (each a
/// future of ~14 KB with its decoded events) were a tenth of the town's heap (heaptrack).
pub const APPLIERS: usize = 2;
/// Most writes a session makes in a row, checking each next batch while the one before is
/// written, before it looks at its other work (mail, directories) again.
const RUN_WRITES: usize = 8;

/// Shared by the link service and the uplink.
#[derive(Clone)]
pub struct SyncHub {
    pub registry: Registry,
    pub status: Arc<SyncStatus>,
    pub shutdown: CancellationToken,
    /// Whether a child must present a certificate naming its unit (mutual TLS is on).
    pub require_certificate: bool,
    /// Permits to build a directory for a child (`DIRECTORY_BUILDERS`).
    pub directories: Arc<tokio::sync::Semaphore>,
    /// Permits to apply a child's batches (`APPLIERS`).
    pub appliers: Arc<tokio::sync::Semaphore>,
}

/// The link service.
pub struct SyncApi {
    pub hub: SyncHub,
}

impl From<ApplyError> for Status {
    fn from(e: ApplyError) -> Status {
        match &e {
            ApplyError::Forged(_) => Status::permission_denied(e.to_string()),
            ApplyError::Gap { .. } => Status::out_of_range(e.to_string()),
            ApplyError::Chain { .. } => Status::data_loss(e.to_string()),
            ApplyError::Malformed(_) => Status::invalid_argument(e.to_string()),
            ApplyError::Storage(_) => Status::unavailable(e.to_string()),
        }
    }
}

type LinkStream = Pin<Box<dyn Stream<Item = Result<pb::LinkResponse, Status>> + Send>>;

impl SyncApi {
    /// Compares a child's journal heads with what this node applied: a head that this node
    /// holds with another hash means the child's journal was rewritten; a head behind what
    /// this node applied means the child lost events.
    /// It runs before the child's units are registered, so a refused Hello writes nothing:
    /// a unit this node does not know yet may be the child or one of `subtree`, and has
    /// nothing applied here.
    async fn check_heads(
        &self,
        child: &str,
        subtree: &[crate::domain::model::Unit],
        heads: &[pb::OriginHead],
    ) -> Result<(), Status> {
        let registry = &self.hub.registry;
        let tree = registry.tree();
        let db = registry.store().reader();
        for head in heads {
            let origin = head.origin_unit.as_str();
            if !tree.knows(origin) && (origin == child || subtree.iter().any(|u| u.code == origin))
            {
                continue;
            }
            if !tree.is_within(origin, child) {
                return Err(Status::permission_denied(format!(
                    "child {child} cannot speak for unit {:?}",
                    head.origin_unit
                )));
            }
            let (applied, _) = super::journal::head(db, &head.origin_unit).await?;
            if head.sequence < applied {
                return Err(Status::data_loss(format!(
                    "journal of {} lost events: it ends at {} but {} were applied here",
                    head.origin_unit, head.sequence, applied
                )));
            }
            if head.sequence <= applied {
                let ours = super::journal::hash_at(db, &head.origin_unit, head.sequence).await?;
                if ours.as_deref() != Some(head.hash.as_slice()) {
                    return Err(Status::data_loss(format!(
                        "journal of {} was rewritten: event {} differs from the one applied here",
                        head.origin_unit, head.sequence
                    )));
                }
            }
        }
        Ok(())
    }
}

impl SyncApi {
    /// A child links only where this node's stored tree places it: directly below this node,
    /// or a unit placed nowhere yet. A unit placed under another parent is refused; moving
    /// it is a reorganisation signed by the authority above both, not a child's claim.
    fn check_placement(&self, child: &str) -> Result<(), Status> {
        let tree = self.hub.registry.tree();
        let root = tree.root();
        // This node's own unit and its ancestors are refused as malformed by registration.
        if child == root || tree.is_within(root, child) {
            return Ok(());
        }
        let Some(placed_under) = tree.parent_of(child).filter(|parent| *parent != root) else {
            return Ok(());
        };
        let placed_under = placed_under.to_string();
        let message = format!(
            "unit {child} is placed under {placed_under}, not under {root}; a unit moves only by \
             a reorganisation of the authority above both"
        );
        let mut first = false;
        self.hub.status.child(child, |s| {
            first = s.last_error != message;
            s.connected = false;
            s.since = Some(Utc::now());
            s.last_error = message.clone();
        });
        if first {
            tracing::warn!(
                child,
                placed_under,
                "link refused: the unit is placed elsewhere"
            );
        }
        Err(Status::with_error_details(
            tonic::Code::PermissionDenied,
            message,
            tonic_types::ErrorDetails::with_error_info(
                "UNIT_PLACED_ELSEWHERE",
                crate::api::error::ERROR_DOMAIN,
                std::collections::HashMap::from([
                    ("unit".to_string(), child.to_string()),
                    ("placed_under".to_string(), placed_under),
                    ("parent".to_string(), root.to_string()),
                ]),
            ),
        ))
    }
}

/// Most features a Hello may name.
const MAX_FEATURES: usize = 32;

/// A Hello's lists are bounded by what a child can speak for (itself and at most
/// `MAX_UNITS` units below it), checked before any of them costs a read.
fn check_hello_lists(hello: &pb::Hello) -> Result<(), Status> {
    let units = super::apply::MAX_UNITS + 1;
    let mut v = crate::domain::validate::Violations::default();
    for (field, len, most) in [
        (
            "hello.subtree",
            hello.subtree.len(),
            super::apply::MAX_UNITS,
        ),
        ("hello.heads", hello.heads.len(), units),
        ("hello.sealing_keys", hello.sealing_keys.len(), units),
        ("hello.features", hello.features.len(), MAX_FEATURES),
    ] {
        if len > most {
            v.add(field, format!("at most {most} entries, not {len}"));
        }
    }
    v.finish()?;
    Ok(())
}

/// Most origins one `GetJournalDigest` names: as many units as a subtree may hold.
pub const MAX_DIGEST_ORIGINS: usize = super::apply::MAX_UNITS;

/// Refuses a digest request's origins unless they are at most [`MAX_DIGEST_ORIGINS`] unit
/// codes, each named once.
fn check_digest_origins(origins: &[String]) -> Result<(), Status> {
    let mut v = crate::domain::validate::Violations::default();
    if origins.len() > MAX_DIGEST_ORIGINS {
        v.add(
            "origin_units",
            format!(
                "at most {MAX_DIGEST_ORIGINS} origins, not {}",
                origins.len()
            ),
        );
    } else {
        let mut seen = std::collections::HashSet::new();
        for (i, origin) in origins.iter().enumerate() {
            let field = format!("origin_units[{i}]");
            if !crate::domain::validate::is_unit_code(origin) {
                v.add(field, "a unit code is 2 to 5 digits");
            } else if !seen.insert(origin.as_str()) {
                v.add(field, "named twice");
            }
        }
    }
    v.finish()?;
    Ok(())
}

/// A message that does not decode is the child's fault, not this node's: tonic reports it
/// as INTERNAL (what a panic also becomes), the link as INVALID_ARGUMENT.
fn malformed(status: Status) -> Status {
    if status.code() == tonic::Code::Internal {
        Status::invalid_argument(format!("malformed link message: {}", status.message()))
    } else {
        status
    }
}

fn response(message: pb::link_response::Message) -> Box<pb::LinkResponse> {
    Box::new(pb::LinkResponse {
        message: Some(message),
    })
}

#[tonic::async_trait]
impl SyncService for SyncApi {
    type LinkStream = LinkStream;

    async fn link(
        &self,
        request: Request<Streaming<pb::LinkRequest>>,
    ) -> Result<Response<Self::LinkStream>, Status> {
        let certified_unit = match request.peer_certs() {
            Some(certs) => certs
                .first()
                .and_then(|c| crate::tls::unit_of_certificate(c.as_ref())),
            None => None,
        };
        if self.hub.require_certificate && certified_unit.is_none() {
            return Err(Status::unauthenticated(
                "a tier link needs a client certificate that names its unit",
            ));
        }
        let mut inbound = request.into_inner();
        let first = tokio::time::timeout(HELLO_TIMEOUT, inbound.message())
            .await
            .map_err(|_| Status::deadline_exceeded("no Hello within 10 s"))?
            .map_err(malformed)?;
        let Some(pb::LinkRequest {
            message: Some(pb::link_request::Message::Hello(hello)),
        }) = first
        else {
            return Err(Status::failed_precondition(
                "the first message must be Hello",
            ));
        };
        if hello.protocol_version != PROTOCOL_VERSION {
            return Err(Status::failed_precondition(format!(
                "link protocol {} is not supported; this node speaks {PROTOCOL_VERSION}",
                hello.protocol_version
            )));
        }
        let registry = &self.hub.registry;
        let child = hello
            .unit
            .as_ref()
            .map(wire::inbound::unit)
            .transpose()?
            .ok_or_else(|| Status::invalid_argument("hello.unit: required"))?;
        let subtree = hello
            .subtree
            .iter()
            .map(wire::inbound::unit)
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(certified) = &certified_unit
            && *certified != child.code
        {
            tracing::warn!(certified = %certified, claimed = %child.code, "child claims another unit");
            return Err(Status::permission_denied(format!(
                "the certificate names unit {certified}, not {}",
                child.code
            )));
        }
        check_hello_lists(&hello)?;
        self.check_placement(&child.code)?;
        let building = self
            .hub
            .directories
            .acquire()
            .await
            .map_err(|_| Status::unavailable("the node is shutting down"))?;
        if let Err(status) = self.check_heads(&child.code, &subtree, &hello.heads).await {
            tracing::error!(child = %child.code, error = %status.message(), "tampered journal refused");
            self.hub.status.child(&child.code, |s| {
                s.connected = false;
                s.since = Some(Utc::now());
                s.last_error = status.message().to_string();
                s.tampered = true;
            });
            return Err(status);
        }
        registry.register_child(&child, &subtree).await?;
        let tree = registry.tree();
        registry
            .learn_keys(&hello.sealing_keys, |code| {
                tree.is_within(code, &child.code)
            })
            .await?;
        let positions = registry.positions(&child.code).await?;
        // Taken before the directory is read: a unit learnt meanwhile is sent again, not lost.
        let directory_version = registry.directory_version();
        let mut directory = directory_chunks(registry, directory_for(registry, &child.code).await?)
            .await?
            .into_iter();
        let first = directory.next().unwrap_or_default();
        let (tx, rx) = mpsc::channel(MAIL_WINDOW + 16);
        let welcome = pb::Welcome {
            protocol_version: PROTOCOL_VERSION,
            parent: Some(wire::unit(&registry.unit())),
            positions: positions
                .into_iter()
                .map(|(origin_unit, sequence)| pb::OriginPosition {
                    origin_unit,
                    sequence,
                })
                .collect(),
            directory: first.units,
            sealing_keys: first.sealing_keys,
        };
        tx.send(Ok(response(pb::link_response::Message::Welcome(welcome))))
            .await
            .map_err(|_| Status::cancelled("child went away"))?;
        drop(building);
        // The rest of the directory follows from the session's task: the response stream
        // is not read before this handler returns, so sending more here could fill the
        // channel and wait forever.
        let rest: Vec<pb::Directory> = directory.collect();
        let hub = self.hub.clone();
        let reconcile = hello.features.iter().any(|f| f == FEATURE_RECONCILE);
        tokio::spawn(async move {
            let code = child.code.clone();
            let (session, token) = hub.status.open_session(&code, tx.clone(), reconcile);
            hub.status.child(&code, |s| {
                s.connected = true;
                s.since = Some(Utc::now());
                s.last_error.clear();
            });
            tracing::info!(child = %code, "child link open");
            let mut result = Ok(());
            for part in rest {
                result = send(&tx, pb::link_response::Message::Directory(part)).await;
                if result.is_err() {
                    break;
                }
            }
            if result.is_ok() {
                let mut inbound = inbound.peekable();
                result =
                    session_loop(&hub, &code, &mut inbound, &tx, &token, directory_version).await;
            }
            if let Err(status) = &result {
                tracing::warn!(child = %code, error = %status.message(), "child link refused input");
                let _ = tx.send(Err(status.clone())).await;
            }
            if hub.status.close_session(&code, session) {
                hub.status.child(&code, |s| {
                    s.connected = false;
                    s.since = Some(Utc::now());
                    if let Err(status) = &result {
                        s.last_error = status.message().to_string();
                    }
                });
            }
            tracing::info!(child = %code, "child link closed");
        });
        Ok(Response::new(Box::pin(tokio_stream::StreamExt::map(
            ReceiverStream::new(rx),
            |item| item.map(|boxed| *boxed),
        ))))
    }

    async fn get_journal_digest(
        &self,
        request: Request<pb::GetJournalDigestRequest>,
    ) -> Result<Response<pb::GetJournalDigestResponse>, Status> {
        let registry = &self.hub.registry;
        let tree = registry.tree();
        let req = request.into_inner();
        let origins: Vec<String> = if req.origin_units.is_empty() {
            tree.subtree(tree.root())
        } else {
            check_digest_origins(&req.origin_units)?;
            req.origin_units
        };
        let db = registry.store().reader();
        let mut digests = Vec::new();
        let mut heads = Vec::new();
        for origin in origins {
            for d in super::journal::digest(db, &origin, u64::MAX).await? {
                digests.push(pb::DayDigest {
                    origin_unit: d.origin,
                    day: d.day.format("%Y-%m-%d").to_string(),
                    count: d.count,
                    highest_sequence: d.highest_sequence,
                    hash: d.hash,
                });
            }
            let (sequence, _) = super::journal::head(db, &origin).await?;
            heads.push(pb::OriginPosition {
                origin_unit: origin,
                sequence,
            });
        }
        Ok(Response::new(pb::GetJournalDigestResponse {
            digests,
            heads,
        }))
    }

    async fn reconcile(
        &self,
        request: Request<pb::ReconcileRequest>,
    ) -> Result<Response<pb::ReconcileResponse>, Status> {
        let registry = &self.hub.registry;
        let tree = registry.tree();
        let req = request.into_inner();
        let children = tree.children(tree.root());
        let mut violations = crate::domain::validate::Violations::default();
        for (i, code) in req.child_units.iter().enumerate() {
            if !children.contains(code) {
                violations.add(
                    format!("child_units[{i}]"),
                    format!("{code:?} is not a child of unit {}", tree.root()),
                );
            }
        }
        if req.wait_seconds > MAX_RECONCILE_WAIT_SECONDS {
            violations.add(
                "wait_seconds",
                format!("at most {MAX_RECONCILE_WAIT_SECONDS}"),
            );
        }
        violations.finish()?;
        let wait = Duration::from_secs(match req.wait_seconds {
            0 => 10,
            s => u64::from(s),
        });
        let wanted = if req.child_units.is_empty() {
            children
        } else {
            let mut wanted = req.child_units;
            wanted.sort();
            wanted.dedup();
            wanted
        };
        let mut out = Vec::new();
        for child in wanted {
            out.push(super::reconcile::with_child(&self.hub, &child, wait).await?);
        }
        Ok(Response::new(pb::ReconcileResponse {
            unit_code: registry.code(),
            children: out,
        }))
    }

    async fn get_sync_status(
        &self,
        _request: Request<pb::GetSyncStatusRequest>,
    ) -> Result<Response<pb::GetSyncStatusResponse>, Status> {
        let registry = &self.hub.registry;
        let to_wire = |s: super::status::LinkState, mail_pending: u64| pb::LinkStatus {
            unit_code: s.unit_code,
            connected: s.connected,
            since_time: s.since.map(wire::timestamp),
            last_event_time: s.last_event.map(wire::timestamp),
            events_applied: s.events_applied,
            events_behind: s.events_behind,
            mail_pending,
            last_error: s.last_error,
            tampered: s.tampered,
            last_error_code: s.last_error_code,
            refused: s.refused,
            failed_attempts: s.failed_attempts,
            next_attempt_time: s.next_attempt.map(wire::timestamp),
        };
        let parent = match self.hub.status.parent_state() {
            Some(s) => Some(to_wire(s, registry.outbox_len(&Hop::Up).await?)),
            None => None,
        };
        let tree = registry.tree();
        let mut children = Vec::new();
        let states = self.hub.status.child_states();
        for code in tree.children(tree.root()) {
            let state = states
                .iter()
                .find(|s| s.unit_code == code)
                .cloned()
                .unwrap_or_else(|| super::status::LinkState {
                    unit_code: code.clone(),
                    ..Default::default()
                });
            let pending = registry.outbox_len(&Hop::Down(code.clone())).await?;
            children.push(to_wire(state, pending));
        }
        Ok(Response::new(pb::GetSyncStatusResponse {
            unit_code: registry.code(),
            parent,
            children,
        }))
    }
}

async fn session_loop(
    hub: &SyncHub,
    child: &str,
    inbound: &mut Peekable<Streaming<pb::LinkRequest>>,
    tx: &super::status::Downlink,
    token: &CancellationToken,
    mut directory_version: u64,
) -> Result<(), Status> {
    let registry = &hub.registry;
    // Mail and new units, not the journal: a batch applied for one child wakes no other
    // session.
    let mut changes = registry.subscribe_downlink();
    let mut mail_in_flight: HashSet<String> = HashSet::new();
    let hop = Hop::Down(child.to_string());
    let mut mail_due = true;
    let mut mail_seen = registry.mail_generation();
    let mut directory_sent: Option<Instant> = None;
    loop {
        // New units elsewhere in the tree (or units whose sealing keys became known): tell
        // the child, so it can address them. Only those learnt since its last directory go:
        // the child adds them to the ones it holds. At most one directory a pace.
        let mut directory_wait = None;
        if registry.directory_version() > directory_version {
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
                    let (version, units) = registry.directory_since(directory_version, child);
                    directory_version = version;
                    if !units.is_empty() {
                        let parts =
                            directory_chunks(registry, units.iter().map(wire::unit).collect())
                                .await?;
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
            for mail in Box::pin(registry.outbox(&hop, room + mail_in_flight.len() as u64)).await? {
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
                let generation = registry.mail_generation();
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
                        Box::pin(registry.receive_mail(mail, Some(child)))
                            .await
                            .map_err(Status::from)?;
                        send(tx, pb::link_response::Message::MailAck(pb::MailAck { mail_id: id }))
                            .await?;
                    }
                    Some(pb::link_request::Message::MailAck(ack)) => {
                        mail_due = true;
                        if mail_in_flight.remove(&ack.mail_id) {
                            registry.mail_delivered(&ack.mail_id).await?;
                        }
                    }
                    Some(pb::link_request::Message::DigestReply(mut reply)) => {
                        // A unit placed elsewhere is not the child's to speak for; one this
                        // node has not learnt of yet (its events still on their way) is
                        // left out of the comparison.
                        let tree = registry.tree();
                        let foreign = reply
                            .digests
                            .iter()
                            .map(|d| &d.origin_unit)
                            .chain(reply.heads.iter().map(|h| &h.origin_unit))
                            .find(|origin| tree.knows(origin) && !tree.is_within(origin, child));
                        if let Some(origin) = foreign {
                            return Err(Status::permission_denied(format!(
                                "child {child} cannot speak for unit {origin:?}"
                            )));
                        }
                        reply.digests.retain(|d| tree.knows(&d.origin_unit));
                        reply.heads.retain(|h| tree.knows(&h.origin_unit));
                        hub.status.deliver_digest(child, reply);
                    }
                    Some(pb::link_request::Message::SealingKeys(keys)) => {
                        if keys.keys.len() > super::apply::MAX_UNITS + 1 {
                            return Err(Status::from(crate::domain::DomainError::invalid(
                                "sealing_keys.keys",
                                format!("at most {} keys", super::apply::MAX_UNITS + 1),
                            )));
                        }
                        let tree = registry.tree();
                        Box::pin(registry.learn_keys(&keys.keys, |code| tree.is_within(code, child)))
                            .await?;
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
                    && units + b.units.len() <= super::apply::MAX_UNITS
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
    tx: &super::status::Downlink,
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
    let registry = hub.registry.clone();
    let child = child.to_string();
    tokio::task::spawn_blocking(move || {
        let checked = if queued.is_empty() {
            None
        } else {
            registry.check_batch(&child, &merged(&queued).1).ok()
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
    tx: &super::status::Downlink,
    queued: Vec<Received>,
    checked: Option<CheckedBatch>,
    turn: SemaphorePermit<'h>,
) -> Result<(), Status> {
    let registry = &hub.registry;
    let mut turn = Some(turn);
    if queued.len() > 1 || checked.is_some() {
        let (units, events) = merged(&queued);
        // Boxed: an idle session's task holds only a pointer to this large future.
        let applied = match checked {
            Some(checked) => Box::pin(registry.write_batch(child, &units, &events, checked)).await,
            None => Box::pin(registry.apply_batch(child, &units, &events)).await,
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
        let applied = Box::pin(registry.apply_batch(child, &r.units, &events)).await;
        drop(held);
        acknowledge(hub, child, tx, applied?, r.remaining, 1).await?;
    }
    Ok(())
}

/// Notes what was applied and sends `batches` acknowledgements of it.
async fn acknowledge(
    hub: &SyncHub,
    child: &str,
    tx: &super::status::Downlink,
    applied: super::apply::Applied,
    remaining: u64,
    batches: usize,
) -> Result<(), Status> {
    hub.status.child(child, |s| {
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
async fn directory_chunks(
    registry: &Registry,
    mut units: Vec<pb::Unit>,
) -> Result<Vec<pb::Directory>, Status> {
    let mut parts = Vec::with_capacity(units.len().div_ceil(DIRECTORY_CHUNK));
    while !units.is_empty() {
        let rest = units.split_off(units.len().min(DIRECTORY_CHUNK));
        let codes: Vec<String> = units.iter().map(|u| u.code.clone()).collect();
        let sealing_keys = registry.sealing_keys(&codes).await?;
        parts.push(pb::Directory {
            units: std::mem::replace(&mut units, rest),
            sealing_keys,
        });
    }
    Ok(parts)
}

/// The units outside `child`'s subtree this node knows.
async fn directory_for(registry: &Registry, child: &str) -> Result<Vec<pb::Unit>, Status> {
    let tree = registry.tree();
    Ok(registry
        .known_units()
        .await?
        .into_iter()
        .filter(|u| !tree.is_within(&u.code, child))
        .map(|u| wire::unit(&u))
        .collect())
}

async fn send(
    tx: &super::status::Downlink,
    message: pb::link_response::Message,
) -> Result<(), Status> {
    tx.send(Ok(response(message)))
        .await
        .map_err(|_| Status::cancelled("child went away"))
}
