//! What this node knows of its links, for `GetSyncStatus` and the metrics endpoint.

use std::collections::BTreeMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

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
}

/// Link states of this node, shared by the link service, the uplink and the metrics.
#[derive(Debug, Default)]
pub struct SyncStatus {
    parent: Mutex<Option<LinkState>>,
    children: Mutex<BTreeMap<String, LinkState>>,
    sessions: Mutex<BTreeMap<String, (u64, CancellationToken)>>,
    next_session: std::sync::atomic::AtomicU64,
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
    pub fn open_session(&self, child: &str) -> (u64, CancellationToken) {
        let id = self
            .next_session
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let token = CancellationToken::new();
        if let Some((_, old)) = lock(&self.sessions).insert(child.to_string(), (id, token.clone()))
        {
            old.cancel();
        }
        (id, token)
    }

    /// Forgets `child`'s session `id` if it is still the current one; returns whether it was.
    pub fn close_session(&self, child: &str, id: u64) -> bool {
        let mut sessions = lock(&self.sessions);
        if sessions
            .get(child)
            .is_some_and(|(current, _)| *current == id)
        {
            sessions.remove(child);
            true
        } else {
            false
        }
    }

    /// Open child streams.
    pub fn open_streams(&self) -> usize {
        lock(&self.children)
            .values()
            .filter(|s| s.connected)
            .count()
    }
}
