//! Recovery over the tier link. The parent gives a child back the events of the child's
//! subtree that it holds beyond the heads the child's Hello named, byte for byte, right
//! after the Welcome and before any mail; the child applies them as its own (hash chain,
//! sequence and origins checked) and resumes writing only when told the recovery is done.

use std::collections::BTreeMap;

use tiepdan_proto::v1 as pb;
use tonic::Status;

use super::SyncHub;
use super::session::send;
use crate::app::links::Downlink;
use crate::storage::{journal, recovery};
use crate::wire;
use crate::wire::MAX_MESSAGE_BYTES;

/// Most events one `Recovery` message carries.
const RECOVERY_EVENTS: u64 = 1000;
/// Most event bytes one `Recovery` message carries, well inside the message limit.
const RECOVERY_BYTES: usize = MAX_MESSAGE_BYTES / 4;

/// What a parent gives back to a child: per origin of the child's subtree, the events after
/// the child's head up to what this node had applied when it welcomed the child.
pub(super) struct Plan {
    child: String,
    /// The child's heads (0 where it named none).
    after: BTreeMap<String, u64>,
    /// What this node holds, per origin the child lacks events of.
    upto: BTreeMap<String, u64>,
}

impl Plan {
    pub(super) fn new(
        child: &str,
        positions: &BTreeMap<String, u64>,
        held: BTreeMap<String, u64>,
    ) -> Plan {
        let upto: BTreeMap<String, u64> = positions
            .iter()
            .filter(|(origin, applied)| **applied > held.get(*origin).copied().unwrap_or(0))
            .map(|(origin, applied)| (origin.clone(), *applied))
            .collect();
        Plan {
            child: child.to_string(),
            after: held,
            upto,
        }
    }

    /// Sends the events in messages bounded by count and bytes, each naming the units of
    /// its origins below the child, then the closing message.
    pub(super) async fn send(mut self, hub: &SyncHub, tx: &Downlink) -> Result<(), Status> {
        let app = &hub.app;
        // The tree's order (each unit before the units below it) places every origin.
        let origins: Vec<String> = app
            .tree()
            .ever_subtree(&self.child)
            .into_iter()
            .filter(|o| self.upto.contains_key(o))
            .collect();
        let mut remaining: u64 = self
            .upto
            .iter()
            .map(|(o, upto)| upto.saturating_sub(self.after.get(o).copied().unwrap_or(0)))
            .sum();
        if remaining > 0 {
            tracing::warn!(
                child = %self.child,
                events = remaining,
                "the child is behind its journal here: giving the events back"
            );
        }
        while remaining > 0 {
            let events = journal::next_batch(
                app.store().reader(),
                &origins,
                &self.after,
                &self.upto,
                RECOVERY_EVENTS,
                RECOVERY_BYTES,
            )
            .await?;
            if events.is_empty() {
                break;
            }
            let mut units: Vec<pb::Unit> = Vec::new();
            for e in &events {
                self.after.insert(e.origin.clone(), e.sequence);
                // Parents first, so the child can place each unit.
                for code in app.tree().chain(&e.origin).iter().rev() {
                    if *code == self.child || !app.tree().ever_within(code, &self.child) {
                        continue;
                    }
                    if !units.iter().any(|u| u.code == *code)
                        && let Some(u) = app.known_unit(code)
                    {
                        units.push(wire::unit(&u));
                    }
                }
            }
            remaining = remaining.saturating_sub(events.len() as u64);
            let message = pb::Recovery {
                events: events.into_iter().map(|e| e.payload).collect(),
                remaining,
                done: false,
                mail_taken_through: 0,
                units,
            };
            send(tx, pb::link_response::Message::Recovery(message)).await?;
        }
        let mail_taken_through =
            recovery::highest_mail_taken(app.store().reader(), &self.child).await?;
        let done = pb::Recovery {
            done: true,
            mail_taken_through,
            ..Default::default()
        };
        send(tx, pb::link_response::Message::Recovery(done)).await
    }
}
