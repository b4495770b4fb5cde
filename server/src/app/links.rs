//! What this node knows of its links, for `GetSyncStatus` and the metrics endpoint.

use std::collections::BTreeMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use tiepdan_proto::v1 as pb;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

/// What a child's session sends down its link. Boxed: a channel allocates its slots up
/// front, and an unboxed message (the largest variant inline) made every idle session's
/// channel large.
pub type Outgoing = Result<Box<pb::LinkResponse>, tonic::Status>;

pub type Downlink = mpsc::Sender<Outgoing>;

/// An open child session.
#[derive(Debug)]
struct Session {
    id: u64,
    token: CancellationToken,
    downlink: Downlink,
    /// The child takes part in reconciliation (its Hello lists "reconcile").
    reconcile: bool,
}

/// The state of one link.
#[derive(Debug, Clone, Default)]
pub struct LinkState {
    pub unit_code: String,
    pub connected: bool,
    pub since: Option<DateTime<Utc>>,
    pub last_event: Option<DateTime<Utc>>,
    pub events_applied: u64,
    pub events_behind: u64,
    pub last_error: String,
    /// The child's journal was found rewritten or truncated.
    pub tampered: bool,
    /// gRPC code name of the last error, if it was a status.
    pub last_error_code: String,
    /// The other end refuses the link for a reason retrying cannot fix.
    pub refused: bool,
    /// Failed attempts since the link was last open.
    pub failed_attempts: u32,
    /// When the next attempt is due, while the link is down.
    pub next_attempt: Option<DateTime<Utc>>,
    /// The units below the child that the child said were behind, with the time up to which
    /// it held their records (none: never); the others are current there.
    pub below: BTreeMap<String, Option<DateTime<Utc>>>,
}

/// How current this node's copy of a unit's records is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// Held up to now: every link between here and the unit is open and caught up.
    Current,
    /// Held up to that time (none: never held).
    Behind(Option<DateTime<Utc>>),
}

impl Freshness {
    /// The older of two: what a unit reached through two hops is held up to.
    pub fn min(self, other: Freshness) -> Freshness {
        match (self, other) {
            (Freshness::Current, f) | (f, Freshness::Current) => f,
            (Freshness::Behind(a), Freshness::Behind(b)) => Freshness::Behind(match (a, b) {
                (Some(a), Some(b)) => Some(a.min(b)),
                _ => None,
            }),
        }
    }

    /// The time up to which records are held: `now` when current.
    pub fn as_of(self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Freshness::Current => Some(now),
            Freshness::Behind(t) => t,
        }
    }
}

/// Link states of this node, shared by the link service, the uplink and the metrics.
#[derive(Debug, Default)]
pub struct SyncStatus {
    parent: Mutex<Option<LinkState>>,
    children: Mutex<BTreeMap<String, LinkState>>,
    sessions: Mutex<BTreeMap<String, Session>>,
    next_session: std::sync::atomic::AtomicU64,
    /// Digest requests sent down and not answered yet: id → (child, waiter).
    digests: Mutex<BTreeMap<u64, (String, oneshot::Sender<pb::DigestReply>)>>,
    next_request: std::sync::atomic::AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl SyncStatus {
    /// Updates the parent link's state.
    pub fn parent(&self, f: impl FnOnce(&mut LinkState)) {
        let mut guard = lock(&self.parent);
        f(guard.get_or_insert_with(LinkState::default));
    }

    /// Updates a child link's state.
    pub fn child(&self, unit: &str, f: impl FnOnce(&mut LinkState)) {
        let mut guard = lock(&self.children);
        let state = guard.entry(unit.to_string()).or_insert_with(|| LinkState {
            unit_code: unit.to_string(),
            ..Default::default()
        });
        f(state);
    }

    /// The parent link's state, when the node has a parent.
    pub fn parent_state(&self) -> Option<LinkState> {
        lock(&self.parent).clone()
    }

    /// Every child link's state.
    pub fn child_states(&self) -> Vec<LinkState> {
        lock(&self.children).values().cloned().collect()
    }

    /// Starts a session for `child`, ending any earlier session of the same child (a
    /// reconnect after a half-dead connection).
    pub fn open_session(
        &self,
        child: &str,
        downlink: Downlink,
        reconcile: bool,
    ) -> (u64, CancellationToken) {
        let id = self
            .next_session
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let token = CancellationToken::new();
        let session = Session {
            id,
            token: token.clone(),
            downlink,
            reconcile,
        };
        if let Some(old) = lock(&self.sessions).insert(child.to_string(), session) {
            old.token.cancel();
        }
        (id, token)
    }

    /// The open session of `child`: where to send it messages, and whether it takes part in
    /// reconciliation.
    pub fn session(&self, child: &str) -> Option<(Downlink, bool)> {
        lock(&self.sessions)
            .get(child)
            .map(|s| (s.downlink.clone(), s.reconcile))
    }

    /// Registers a digest request to `child`: its id, and where the reply will arrive.
    pub fn expect_digest(&self, child: &str) -> (u64, oneshot::Receiver<pb::DigestReply>) {
        let id = self
            .next_request
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1;
        let (tx, rx) = oneshot::channel();
        lock(&self.digests).insert(id, (child.to_string(), tx));
        (id, rx)
    }

    /// Hands a digest reply from `child` to whoever asked; a reply nobody awaits, or one
    /// that answers another child's request, is dropped.
    pub fn deliver_digest(&self, child: &str, reply: pb::DigestReply) {
        let mut pending = lock(&self.digests);
        if pending
            .get(&reply.request_id)
            .is_some_and(|(asked, _)| asked == child)
            && let Some((_, waiter)) = pending.remove(&reply.request_id)
        {
            let _ = waiter.send(reply);
        }
    }

    /// Forgets a digest request that will not be waited for any longer.
    pub fn forget_digest(&self, id: u64) {
        lock(&self.digests).remove(&id);
    }

    /// Forgets `child`'s session `id` if it is still the current one; returns whether it was.
    pub fn close_session(&self, child: &str, id: u64) -> bool {
        let mut sessions = lock(&self.sessions);
        if sessions.get(child).is_some_and(|s| s.id == id) {
            sessions.remove(child);
            // Nobody will answer the digest requests sent down that session.
            lock(&self.digests).retain(|_, (asked, _)| asked != child);
            true
        } else {
            false
        }
    }

    /// How current this node's copy of `unit` and of every unit below it is (the oldest of
    /// them): the link of each child on the way (open and caught up, or when it last
    /// delivered), and what that child said of the units below it.
    pub fn freshness(&self, tree: &crate::domain::tree::Tree, unit: &str) -> Freshness {
        let children = lock(&self.children);
        let of_child = |child: &str| {
            let Some(state) = children.get(child) else {
                return Freshness::Behind(None);
            };
            let mut f = if state.connected && state.events_behind == 0 {
                Freshness::Current
            } else {
                Freshness::Behind(state.last_event.or(state.since))
            };
            for (below, held) in &state.below {
                if below == unit || tree.is_within(below, unit) || unit == tree.root() {
                    f = f.min(Freshness::Behind(*held));
                }
            }
            f
        };
        if unit == tree.root() {
            return tree
                .children(unit)
                .iter()
                .fold(Freshness::Current, |f, c| f.min(of_child(c)));
        }
        match tree.child_towards(unit) {
            Some(child) => of_child(&child),
            None => Freshness::Current,
        }
    }

    /// The units of this node's subtree that are behind here, for the parent.
    pub fn behind(
        &self,
        tree: &crate::domain::tree::Tree,
    ) -> BTreeMap<String, Option<DateTime<Utc>>> {
        let children = lock(&self.children);
        let mut out: BTreeMap<String, Option<DateTime<Utc>>> = BTreeMap::new();
        for child in tree.children(tree.root()) {
            let Some(state) = children.get(&child) else {
                for unit in tree.subtree(&child) {
                    out.insert(unit, None);
                }
                continue;
            };
            let link = if state.connected && state.events_behind == 0 {
                Freshness::Current
            } else {
                Freshness::Behind(state.last_event.or(state.since))
            };
            if let Freshness::Behind(held) = link {
                for unit in tree.subtree(&child) {
                    out.insert(unit, held);
                }
            }
            for (unit, held) in &state.below {
                if !tree.is_within(unit, &child) {
                    continue;
                }
                let f = link.min(Freshness::Behind(*held));
                if let Freshness::Behind(t) = f {
                    out.insert(unit.clone(), t);
                }
            }
        }
        out
    }

    /// Open child streams.
    pub fn open_streams(&self) -> usize {
        lock(&self.children)
            .values()
            .filter(|s| s.connected)
            .count()
    }
}
