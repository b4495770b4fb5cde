//! Reconciliation between a parent and a connected child: the parent asks the child, over
//! the child's own link, for compact digests of its journal (per origin and local day: count,
//! highest sequence, hash), compares them with what it holds itself, asks the child to ship
//! again whatever it lacks, waits for it, and reports what differed. A difference the parent
//! cannot repair — the child no longer holds events the parent applied, or the same events
//! with other contents — marks the link as tampered and is logged.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::NaiveDate;
use tiepdan_proto::v1 as pb;
use tonic::Status;

use super::SyncHub;
use crate::app::links::Downlink;
use crate::storage::journal::{self, DayDigest};

/// How long a child has to answer one digest request.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

/// What differs between a child's and this node's digests of one origin and day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    pub origin: String,
    pub day: NaiveDate,
    pub kind: pb::DifferenceKind,
    pub child: Option<(u64, u64)>,
    pub parent: Option<(u64, u64)>,
}

/// Compares the digests of one origin, each side in day order: days only one side holds,
/// days with other counts, and days with the same count and another hash.
pub fn compare(child: &[DayDigest], parent: &[DayDigest]) -> Vec<Difference> {
    let mut days: BTreeMap<NaiveDate, (Option<&DayDigest>, Option<&DayDigest>)> = BTreeMap::new();
    for d in child {
        days.entry(d.day).or_default().0 = Some(d);
    }
    for d in parent {
        days.entry(d.day).or_default().1 = Some(d);
    }
    let mut out = Vec::new();
    for (day, (c, p)) in days {
        let (child_count, parent_count) = (c.map_or(0, |d| d.count), p.map_or(0, |d| d.count));
        let kind = if child_count > parent_count {
            pb::DifferenceKind::MissingAtParent
        } else if child_count < parent_count {
            pb::DifferenceKind::MissingAtChild
        } else if c.map(|d| &d.hash) != p.map(|d| &d.hash) {
            pb::DifferenceKind::ContentDiffers
        } else {
            continue;
        };
        let origin = c.or(p).map(|d| d.origin.clone()).unwrap_or_default();
        out.push(Difference {
            origin,
            day,
            kind,
            child: c.map(|d| (d.count, d.highest_sequence)),
            parent: p.map(|d| (d.count, d.highest_sequence)),
        });
    }
    out
}

fn to_wire(d: &Difference) -> pb::DigestDifference {
    pb::DigestDifference {
        origin_unit: d.origin.clone(),
        day: d.day.format("%Y-%m-%d").to_string(),
        kind: d.kind as i32,
        child_count: d.child.map_or(0, |c| c.0),
        parent_count: d.parent.map_or(0, |p| p.0),
        child_highest_sequence: d.child.map_or(0, |c| c.1),
        parent_highest_sequence: d.parent.map_or(0, |p| p.1),
    }
}

/// Why a child could not be reconciled.
#[derive(Debug, thiserror::Error)]
enum Unreached {
    #[error("not connected")]
    NotConnected,
    #[error("the child's release does not take part in reconciliation")]
    Unsupported,
    #[error("the link closed")]
    Closed,
    #[error("no answer within {} s", ANSWER_TIMEOUT.as_secs())]
    Timeout,
    #[error("the answer names origin {0:?}, which was not asked for")]
    Foreign(String),
    #[error("the answer holds a malformed day {0:?}")]
    BadDay(String),
}

/// Asks `child` for the digests of `origins` (empty: its heads only, for every origin of its
/// subtree).
async fn ask(
    hub: &SyncHub,
    child: &str,
    downlink: &Downlink,
    origins: Vec<String>,
) -> Result<pb::DigestReply, Unreached> {
    let (id, reply) = hub.app.links().expect_digest(child);
    let request = Box::new(pb::LinkResponse {
        message: Some(pb::link_response::Message::DigestRequest(
            pb::DigestRequest {
                request_id: id,
                origin_units: origins,
            },
        )),
    });
    let answer = async {
        downlink
            .send(Ok(request))
            .await
            .map_err(|_| Unreached::Closed)?;
        reply.await.map_err(|_| Unreached::Closed)
    };
    let result = tokio::time::timeout(ANSWER_TIMEOUT, answer)
        .await
        .unwrap_or(Err(Unreached::Timeout));
    hub.app.links().forget_digest(id);
    result
}

/// The child's digests of one origin, checked to be of that origin.
fn child_digests(origin: &str, reply: &pb::DigestReply) -> Result<Vec<DayDigest>, Unreached> {
    reply
        .digests
        .iter()
        .map(|d| {
            if d.origin_unit != origin {
                return Err(Unreached::Foreign(d.origin_unit.clone()));
            }
            let day = NaiveDate::parse_from_str(&d.day, "%Y-%m-%d")
                .map_err(|_| Unreached::BadDay(d.day.clone()))?;
            Ok(DayDigest {
                origin: d.origin_unit.clone(),
                day,
                count: d.count,
                highest_sequence: d.highest_sequence,
                hash: d.hash.clone(),
            })
        })
        .collect()
}

/// Reconciles this node with its child `child`, waiting up to `wait` for missing events.
pub async fn with_child(
    hub: &SyncHub,
    child: &str,
    wait: Duration,
) -> Result<pb::ChildReconciliation, Status> {
    let mut out = pb::ChildReconciliation {
        unit_code: child.to_string(),
        ..Default::default()
    };
    match run(hub, child, wait, &mut out).await? {
        Ok(()) => out.reached = true,
        Err(unreached) => {
            out.error = unreached.to_string();
            tracing::warn!(child, error = %out.error, "reconciliation failed");
        }
    }
    Ok(out)
}

async fn run(
    hub: &SyncHub,
    child: &str,
    wait: Duration,
    out: &mut pb::ChildReconciliation,
) -> Result<Result<(), Unreached>, Status> {
    let app = &hub.app;
    let Some((downlink, supported)) = hub.app.links().session(child) else {
        return Ok(Err(Unreached::NotConnected));
    };
    if !supported {
        return Ok(Err(Unreached::Unsupported));
    }
    // The child's heads name every origin it holds; this node may know more.
    let heads = match ask(hub, child, &downlink, Vec::new()).await {
        Ok(reply) => reply.heads,
        Err(e) => return Ok(Err(e)),
    };
    let mut origins: BTreeMap<String, u64> = app
        .tree()
        .subtree(child)
        .into_iter()
        .map(|o| (o, 0))
        .collect();
    for h in heads {
        origins.insert(h.origin_unit, h.sequence);
    }

    let db = app.store().reader();
    let mut children_digests = BTreeMap::new();
    let mut pulls = Vec::new();
    let mut before = BTreeMap::new();
    for (origin, &listed) in &origins {
        let reply = match ask(hub, child, &downlink, vec![origin.clone()]).await {
            Ok(reply) => reply,
            Err(e) => return Ok(Err(e)),
        };
        let theirs = match child_digests(origin, &reply) {
            Ok(d) => d,
            Err(e) => return Ok(Err(e)),
        };
        // The child digests up to its head at the time it answers.
        let child_head = reply
            .heads
            .iter()
            .find(|h| h.origin_unit == *origin)
            .map_or(listed, |h| h.sequence);
        // Only what the child held when it answered (events it recorded since may already
        // have arrived here), and only up to the head read first (events may arrive while
        // this node digests its own journal).
        let held = journal::last_sequence(db, origin).await?;
        let ours = journal::digest(db, origin, child_head.min(held)).await?;
        let differences = compare(&theirs, &ours);
        out.origins_compared += 1;
        out.days_compared += theirs.len() as u64;
        out.events_compared += theirs.iter().map(|d| d.count).sum::<u64>();
        out.differences.extend(differences.iter().map(to_wire));
        if child_head > held {
            pulls.push(pb::OriginPosition {
                origin_unit: origin.clone(),
                sequence: held,
            });
        }
        before.insert(origin.clone(), held);
        children_digests.insert(origin.clone(), (child_head, theirs, differences));
    }

    if !pulls.is_empty() {
        out.pulled_after = pulls.clone();
        let resend = Box::new(pb::LinkResponse {
            message: Some(pb::link_response::Message::Resend(pb::Resend {
                positions: pulls.clone(),
            })),
        });
        if downlink.send(Ok(resend)).await.is_err() {
            return Ok(Err(Unreached::Closed));
        }
        let mut changes = app.subscribe();
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let mut current = true;
            for p in &pulls {
                let target = children_digests.get(&p.origin_unit).map_or(0, |c| c.0);
                if journal::last_sequence(db, &p.origin_unit).await? < target {
                    current = false;
                }
            }
            if current {
                break;
            }
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => break,
                _ = hub.shutdown.cancelled() => break,
                _ = changes.changed() => {}
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            }
        }
    }

    for (origin, (child_head, theirs, differences)) in &children_digests {
        let held = journal::last_sequence(db, origin).await?;
        let was = before.get(origin).copied().unwrap_or(0);
        out.events_pulled += held.min(*child_head).saturating_sub(was);
        if differences.is_empty() {
            continue;
        }
        let ours = journal::digest(db, origin, held.min(*child_head)).await?;
        out.remaining
            .extend(compare(theirs, &ours).iter().map(to_wire));
    }
    let broken = out
        .remaining
        .iter()
        .find(|d| d.kind != pb::DifferenceKind::MissingAtParent as i32);
    if let Some(d) = broken {
        let message = format!(
            "journals differ: origin {} on {}: the child holds {} events, this node {}",
            d.origin_unit, d.day, d.child_count, d.parent_count
        );
        tracing::error!(child, error = %message, "reconciliation found a rewritten or lost journal");
        hub.app.links().child(child, |s| {
            s.tampered = true;
            s.last_error = message;
        });
    }
    Ok(Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(origin: &str, d: u32, count: u64, highest: u64, hash: u8) -> DayDigest {
        DayDigest {
            origin: origin.to_string(),
            day: NaiveDate::from_ymd_opt(2019, 9, d).unwrap_or_default(),
            count,
            highest_sequence: highest,
            hash: vec![hash],
        }
    }

    #[test]
    fn equal_digests_agree() {
        let a = vec![day("1", 1, 3, 3, 7), day("1", 2, 2, 5, 8)];
        assert!(compare(&a, &a).is_empty());
    }

    #[test]
    fn each_kind_of_difference_is_named() {
        let child = vec![
            day("1", 1, 3, 3, 7),
            day("1", 2, 2, 5, 8),
            day("1", 3, 4, 9, 9),
            day("1", 5, 1, 10, 1),
        ];
        let parent = vec![
            day("1", 1, 3, 3, 7),
            day("1", 2, 2, 5, 0),
            day("1", 3, 5, 9, 9),
            day("1", 4, 1, 6, 3),
        ];
        let kinds: Vec<_> = compare(&child, &parent)
            .into_iter()
            .map(|d| (d.day.format("%d").to_string(), d.kind))
            .collect();
        assert_eq!(
            kinds,
            vec![
                ("02".to_string(), pb::DifferenceKind::ContentDiffers),
                ("03".to_string(), pb::DifferenceKind::MissingAtChild),
                ("04".to_string(), pb::DifferenceKind::MissingAtChild),
                ("05".to_string(), pb::DifferenceKind::MissingAtParent),
            ]
        );
    }
}
