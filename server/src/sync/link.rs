//! The parent's side of the tier link: `tiepdan.v1.SyncService`. A child opens one stream,
//! introduces itself and is told where to resume; its session (`session`) then applies its
//! batches, takes its mail and sends its subtree's mail and directories down the same stream.
//! Digests, reconciliation and the sync status are answered here too.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::time::Duration;

use chrono::Utc;
use futures::stream::StreamExt;
use tiepdan_proto::v1::{self as pb, sync_service_server::SyncService};
use tokio::sync::mpsc;
use tokio_stream::{Stream, wrappers::ReceiverStream};
use tonic::{Request, Response, Status, Streaming};
use tonic_types::StatusExt;

use super::session::{directory_chunks, directory_for, malformed, response, send, session_loop};
use super::*;
use crate::app::apply::ApplyError;
use crate::app::mail::Hop;
use crate::wire;

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
    ///
    /// A child that takes events back (`recover`) may be behind, if its head is the very
    /// event applied here at that sequence: it was restored from an older copy and is given
    /// the rest after the Welcome.
    async fn check_heads(
        &self,
        child: &str,
        subtree: &[crate::domain::model::Unit],
        heads: &[pb::OriginHead],
        recover: bool,
    ) -> Result<(), Status> {
        let app = &self.hub.app;
        let tree = app.tree();
        let db = app.store().reader();
        for head in heads {
            let origin = head.origin_unit.as_str();
            if !tree.knows(origin) && (origin == child || subtree.iter().any(|u| u.code == origin))
            {
                continue;
            }
            if !tree.ever_within(origin, child) {
                return Err(Status::permission_denied(format!(
                    "child {child} cannot speak for unit {:?}",
                    head.origin_unit
                )));
            }
            let (applied, _) = crate::storage::journal::head(db, &head.origin_unit).await?;
            if head.sequence < applied && !recover {
                return Err(Status::data_loss(format!(
                    "journal of {} lost events: it ends at {} but {} were applied here",
                    head.origin_unit, head.sequence, applied
                )));
            }
            if head.sequence <= applied {
                let ours =
                    crate::storage::journal::hash_at(db, &head.origin_unit, head.sequence).await?;
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
        let tree = self.hub.app.tree();
        let root = tree.root();
        // This node's own unit and its ancestors are refused as malformed by registration.
        if child == root || tree.is_within(root, child) {
            return Ok(());
        }
        let Some(placed_under) = tree.parent_of(child).filter(|parent| *parent != root) else {
            return Ok(());
        };
        let placed_under = placed_under.to_string();
        if tree.ever_below(child, root) {
            // A unit that ended still brings the history it holds to where it sat; one that
            // lives on was moved, and links to its new parent.
            if tree.history().ended(child, None).is_some() {
                return Ok(());
            }
            return Err(self.moved(child, &placed_under));
        }
        let message = format!(
            "unit {child} is placed under {placed_under}, not under {root}; a unit moves only by \
             a reorganisation of the authority above both"
        );
        let mut first = false;
        self.hub.app.links().child(child, |s| {
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

impl SyncApi {
    /// The refusal of a child a reorganisation moved elsewhere: it names the new parent.
    fn moved(&self, child: &str, parent: &str) -> Status {
        let since = self
            .hub
            .app
            .tree()
            .history()
            .version_at(child, None)
            .and_then(|v| v.from)
            .map(|d| d.to_string())
            .unwrap_or_default();
        let message = format!(
            "unit {child} sits under unit {parent} since {since} (a reorganisation); point its \
             --parent at the node of unit {parent}"
        );
        self.hub.app.links().child(child, |s| {
            s.connected = false;
            s.since = Some(Utc::now());
            s.last_error = message.clone();
        });
        Status::with_error_details(
            tonic::Code::FailedPrecondition,
            message,
            tonic_types::ErrorDetails::with_error_info(
                "UNIT_MOVED",
                crate::api::error::ERROR_DOMAIN,
                std::collections::HashMap::from([
                    ("unit".to_string(), child.to_string()),
                    ("parent".to_string(), parent.to_string()),
                    ("since".to_string(), since),
                ]),
            ),
        )
    }
}

/// Most features a Hello may name.
const MAX_FEATURES: usize = 32;

/// A Hello's lists are bounded by what a child can speak for (itself and at most
/// `MAX_UNITS` units below it), checked before any of them costs a read.
fn check_hello_lists(hello: &pb::Hello) -> Result<(), Status> {
    let units = crate::app::children::MAX_UNITS + 1;
    let mut v = crate::domain::validate::Violations::default();
    for (field, len, most) in [
        (
            "hello.subtree",
            hello.subtree.len(),
            crate::app::children::MAX_UNITS,
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
pub const MAX_DIGEST_ORIGINS: usize = crate::app::children::MAX_UNITS;

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
        let app = &self.hub.app;
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
        if app.is_recovering() {
            // Its own journal is not whole yet: what a child would be told is not either.
            return Err(Status::unavailable(format!(
                "unit {} is taking back its journal from its parent; try again shortly",
                app.code()
            )));
        }
        let recover = hello.features.iter().any(|f| f == FEATURE_RECOVER);
        if let Err(status) = self
            .check_heads(&child.code, &subtree, &hello.heads, recover)
            .await
        {
            tracing::error!(child = %child.code, error = %status.message(), "tampered journal refused");
            self.hub.app.links().child(&child.code, |s| {
                s.connected = false;
                s.since = Some(Utc::now());
                s.last_error = status.message().to_string();
                s.tampered = true;
            });
            return Err(status);
        }
        app.register_child(&child, &subtree).await?;
        let tree = app.tree();
        app.learn_keys(&hello.sealing_keys, |code| {
            tree.is_within(code, &child.code)
        })
        .await?;
        let positions = app.positions(&child.code).await?;
        // What the child lacks of what this node holds of its subtree, given back after the
        // Welcome (to a child that takes events back).
        let given_back = if recover {
            let held: BTreeMap<String, u64> = hello
                .heads
                .iter()
                .map(|h| (h.origin_unit.clone(), h.sequence))
                .collect();
            Some(super::recover::Plan::new(&child.code, &positions, held))
        } else {
            None
        };
        // Taken before the directory is read: a unit learnt meanwhile is sent again, not lost.
        let directory_version = app.directory_version();
        let mut directory = directory_chunks(app, directory_for(app, &child.code).await?)
            .await?
            .into_iter();
        let first = directory.next().unwrap_or_default();
        let (tx, rx) = mpsc::channel(MAIL_WINDOW + 16);
        let welcome = pb::Welcome {
            protocol_version: PROTOCOL_VERSION,
            parent: Some(wire::unit(&app.unit())),
            positions: positions
                .into_iter()
                .map(|(origin_unit, sequence)| pb::OriginPosition {
                    origin_unit,
                    sequence,
                })
                .collect(),
            directory: first.units,
            sealing_keys: first.sealing_keys,
            reorganisations: app.reorganisations_for(&child.code).await?,
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
            let (session, token) = hub.app.links().open_session(&code, tx.clone(), reconcile);
            hub.app.links().child(&code, |s| {
                s.connected = true;
                s.since = Some(Utc::now());
                s.last_error.clear();
                // The child says anew what is behind below it (nothing, when it sends none).
                s.below.clear();
            });
            tracing::info!(child = %code, "child link open");
            let mut result = Ok(());
            if let Some(plan) = given_back {
                result = plan.send(&hub, &tx).await;
            }
            for part in rest {
                if result.is_err() {
                    break;
                }
                result = send(&tx, pb::link_response::Message::Directory(part)).await;
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
            if hub.app.links().close_session(&code, session) {
                hub.app.links().child(&code, |s| {
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
        let app = &self.hub.app;
        let tree = app.tree();
        let req = request.into_inner();
        let origins: Vec<String> = if req.origin_units.is_empty() {
            tree.subtree(tree.root())
        } else {
            check_digest_origins(&req.origin_units)?;
            req.origin_units
        };
        let db = app.store().reader();
        let mut digests = Vec::new();
        let mut heads = Vec::new();
        for origin in origins {
            for d in crate::storage::journal::digest(db, &origin, u64::MAX).await? {
                digests.push(pb::DayDigest {
                    origin_unit: d.origin,
                    day: d.day.format("%Y-%m-%d").to_string(),
                    count: d.count,
                    highest_sequence: d.highest_sequence,
                    hash: d.hash,
                });
            }
            let (sequence, _) = crate::storage::journal::head(db, &origin).await?;
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
        let app = &self.hub.app;
        let tree = app.tree();
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
            unit_code: app.code(),
            children: out,
        }))
    }

    async fn get_sync_status(
        &self,
        _request: Request<pb::GetSyncStatusRequest>,
    ) -> Result<Response<pb::GetSyncStatusResponse>, Status> {
        let app = &self.hub.app;
        let to_wire = |s: crate::app::links::LinkState, mail_pending: u64| pb::LinkStatus {
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
        let parent = match self.hub.app.links().parent_state() {
            Some(s) => Some(to_wire(s, app.outbox_len(&Hop::Up).await?)),
            None => None,
        };
        let tree = app.tree();
        let mut children = Vec::new();
        let states = self.hub.app.links().child_states();
        for code in tree.children(tree.root()) {
            let state = states
                .iter()
                .find(|s| s.unit_code == code)
                .cloned()
                .unwrap_or_else(|| crate::app::links::LinkState {
                    unit_code: code.clone(),
                    ..Default::default()
                });
            let pending = app.outbox_len(&Hop::Down(code.clone())).await?;
            children.push(to_wire(state, pending));
        }
        let recovery = app.recovery().await?.map(|r| pb::RecoveryStatus {
            recovering: app.is_recovering(),
            reason: r.reason,
            start_time: Some(wire::timestamp(r.start)),
            finish_time: r.finish.map(wire::timestamp),
            events_recovered: r.events,
            petitions_without_personal_details: r.petitions_without_details,
        });
        Ok(Response::new(pb::GetSyncStatusResponse {
            unit_code: app.code(),
            parent,
            children,
            recovery,
        }))
    }
}
