//! The newest events this node applied from its children, kept in memory for the uplink.
//!
//! A batch applied here goes on up: without the tail the uplink read the journal's heads and
//! the new events back from the database for every batch, two round trips to the store per
//! hop. The tail holds what the applies committed, in commit order, bounded by count and bytes. It
//! answers only when it holds every event the uplink lacks for each origin it knows of;
//! otherwise, and for the node's own events (written by other transactions), the uplink reads
//! the database as before.

use std::collections::{BTreeMap, HashMap, VecDeque};

use crate::storage::journal::StoredEvent;

/// Most events the tail holds.
const MAX_EVENTS: usize = 4096;
/// Most bytes of events the tail holds.
const MAX_BYTES: usize = 4 * 1024 * 1024;

/// Events committed by the applies, per origin, oldest first.
#[derive(Debug, Default)]
pub struct Tail {
    /// Whether events are kept at all: only a node with an uplink has a use for them.
    kept: bool,
    by_origin: HashMap<String, VecDeque<(u64, Vec<u8>)>>,
    /// The origin of each event held, in the order they were pushed: what goes first when
    /// the tail is full.
    order: VecDeque<String>,
    bytes: usize,
}

impl Tail {
    /// From now on, keeps what `push` is given.
    pub fn keep(&mut self) {
        self.kept = true;
    }

    /// Whether `push` keeps anything.
    pub fn is_kept(&self) -> bool {
        self.kept
    }

    /// Adds events just committed. Each origin's events follow the ones held (the applies
    /// commit each origin's sequence without gaps); should one not, the origin's older events
    /// are dropped and it is kept alone, so what is held of an origin stays contiguous.
    pub fn push(&mut self, events: impl IntoIterator<Item = StoredEvent>) {
        if !self.kept {
            return;
        }
        for e in events {
            let held = self.by_origin.entry(e.origin.clone()).or_default();
            if held.back().is_some_and(|(last, _)| *last + 1 != e.sequence) {
                self.bytes -= held.iter().map(|(_, p)| p.len()).sum::<usize>();
                held.clear();
                let origin = e.origin.clone();
                self.order.retain(|o| *o != origin);
            }
            self.bytes += e.payload.len();
            held.push_back((e.sequence, e.payload));
            self.order.push_back(e.origin);
        }
        while self.order.len() > MAX_EVENTS || self.bytes > MAX_BYTES {
            let Some(origin) = self.order.pop_front() else {
                break;
            };
            if let Some(held) = self.by_origin.get_mut(&origin) {
                if let Some((_, payload)) = held.pop_front() {
                    self.bytes -= payload.len();
                }
                if held.is_empty() {
                    self.by_origin.remove(&origin);
                }
            }
        }
    }

    /// Raises each head of `heads` to the newest event held of its origin.
    pub fn raise(&self, heads: &mut BTreeMap<String, u64>) {
        for (origin, held) in &self.by_origin {
            if let Some((newest, _)) = held.back() {
                let head = heads.entry(origin.clone()).or_default();
                *head = (*head).max(*newest);
            }
        }
    }

    /// For each of `origins` in turn, the events after its position in `after` up to its
    /// head in `heads`, until `max_events` or `max_bytes` is reached, as `journal::next_batch`
    /// reads them; `None` when the tail does not hold all of them (the database does: events
    /// applied before the tail was kept, or pushed out of it since).
    pub fn after(
        &self,
        origins: &[String],
        after: &BTreeMap<String, u64>,
        heads: &BTreeMap<String, u64>,
        max_events: u64,
        max_bytes: usize,
    ) -> Option<Vec<StoredEvent>> {
        let mut out = Vec::new();
        let mut bytes = 0usize;
        for origin in origins {
            let position = after.get(origin).copied().unwrap_or(0);
            let head = heads.get(origin).copied().unwrap_or(0);
            if head <= position {
                continue;
            }
            let held = self.by_origin.get(origin)?;
            let (Some((first, _)), Some((last, _))) = (held.front(), held.back()) else {
                return None;
            };
            if *first > position + 1 || *last < head {
                return None;
            }
            let wanted = held.iter().filter(|(s, _)| *s > position && *s <= head);
            for (sequence, payload) in wanted {
                let full = out.len() as u64 >= max_events
                    || (bytes + payload.len() > max_bytes && !out.is_empty());
                if full {
                    return Some(out);
                }
                bytes += payload.len();
                out.push(StoredEvent {
                    origin: origin.clone(),
                    sequence: *sequence,
                    payload: payload.clone(),
                });
            }
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(origin: &str, sequence: u64, len: usize) -> StoredEvent {
        StoredEvent {
            origin: origin.to_string(),
            sequence,
            payload: vec![sequence as u8; len],
        }
    }

    /// What the tail answers, which must be something.
    fn held(
        tail: &Tail,
        asked: &[String],
        after: &BTreeMap<String, u64>,
        max_events: u64,
        max_bytes: usize,
        why: &str,
    ) -> Vec<StoredEvent> {
        match tail.after(asked, after, &raised(tail, after), max_events, max_bytes) {
            Some(events) => events,
            None => panic!("the tail should answer: {why}"),
        }
    }

    /// The heads the uplink would hold: the positions, raised by the tail.
    fn raised(tail: &Tail, after: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
        let mut heads = after.clone();
        tail.raise(&mut heads);
        heads
    }

    fn kept() -> Tail {
        let mut tail = Tail::default();
        tail.keep();
        tail
    }

    fn positions(list: &[(&str, u64)]) -> BTreeMap<String, u64> {
        list.iter().map(|(o, s)| (o.to_string(), *s)).collect()
    }

    fn origins(list: &[&str]) -> Vec<String> {
        list.iter().map(|o| o.to_string()).collect()
    }

    fn shipped(from: &[StoredEvent]) -> Vec<(String, u64)> {
        from.iter()
            .map(|e| (e.origin.clone(), e.sequence))
            .collect()
    }

    #[test]
    fn a_tail_not_kept_holds_nothing() {
        let mut tail = Tail::default();
        tail.push((1..=3).map(|s| event("a", s, 10)));
        let from = held(
            &tail,
            &origins(&["a"]),
            &positions(&[]),
            100,
            1 << 20,
            "nothing held, nothing missing",
        );
        let mut heads = positions(&[("a", 2)]);
        tail.raise(&mut heads);
        assert!(from.is_empty());
        assert_eq!(heads, positions(&[("a", 2)]));
    }

    #[test]
    fn events_go_per_origin_in_the_order_asked_and_within_the_limits() {
        let mut tail = kept();
        tail.push([event("a", 5, 10), event("b", 1, 10), event("a", 6, 10)]);
        tail.push([event("b", 2, 10), event("a", 7, 10)]);
        let asked = origins(&["b", "a"]);
        let from = held(&tail, &asked, &positions(&[("a", 5)]), 100, 1 << 20, "held");
        let mut heads = positions(&[("a", 5), ("c", 9)]);
        tail.raise(&mut heads);
        assert_eq!(heads, positions(&[("a", 7), ("b", 2), ("c", 9)]));
        assert_eq!(
            shipped(&from),
            [("b", 1), ("b", 2), ("a", 6), ("a", 7)].map(|(o, s)| (o.to_string(), s))
        );
        let from = held(&tail, &asked, &positions(&[("a", 5)]), 3, 1 << 20, "held");
        assert_eq!(from.len(), 3);
        let from = held(&tail, &asked, &positions(&[("a", 5)]), 100, 25, "held");
        assert_eq!(from.len(), 2, "25 bytes hold two events of 10");
        let from = held(
            &tail,
            &origins(&["a"]),
            &positions(&[("a", 7)]),
            100,
            1 << 20,
            "nothing new",
        );
        assert!(from.is_empty());
    }

    #[test]
    fn an_origin_whose_next_event_is_no_longer_held_sends_the_uplink_to_the_database() {
        let mut tail = kept();
        tail.push((10..=12).map(|s| event("a", s, 10)));
        assert!(
            tail.after(
                &origins(&["a"]),
                &positions(&[("a", 8)]),
                &raised(&tail, &positions(&[("a", 8)])),
                100,
                1 << 20
            )
            .is_none(),
            "event 9 is in the database only"
        );
        assert!(
            tail.after(
                &origins(&["a"]),
                &positions(&[("a", 9)]),
                &raised(&tail, &positions(&[("a", 9)])),
                100,
                1 << 20
            )
            .is_some()
        );
        // Evicted: the oldest go first, and what is left is still contiguous.
        tail.push((13..=(12 + MAX_EVENTS as u64)).map(|s| event("a", s, 10)));
        assert!(
            tail.after(
                &origins(&["a"]),
                &positions(&[("a", 11)]),
                &raised(&tail, &positions(&[("a", 11)])),
                100,
                1 << 20
            )
            .is_none(),
            "10 to 12 went first"
        );
        let from = held(
            &tail,
            &origins(&["a"]),
            &positions(&[("a", 13)]),
            2,
            1 << 20,
            "held",
        );
        assert_eq!(
            shipped(&from),
            [("a".to_string(), 14), ("a".to_string(), 15)]
        );
        tail.push([event("b", 1, MAX_BYTES)]);
        assert!(tail.bytes <= MAX_BYTES, "{} bytes held", tail.bytes);
        assert_eq!(tail.order.len(), 1, "a large event pushes out the others");
    }

    #[test]
    fn an_event_that_does_not_follow_drops_what_was_held_of_its_origin() {
        let mut tail = kept();
        tail.push([event("a", 1, 10), event("a", 2, 10), event("b", 1, 10)]);
        tail.push([event("a", 5, 10)]);
        assert!(
            tail.after(
                &origins(&["a"]),
                &positions(&[("a", 2)]),
                &raised(&tail, &positions(&[("a", 2)])),
                100,
                1 << 20
            )
            .is_none(),
            "3 and 4 were never held"
        );
        let from = held(
            &tail,
            &origins(&["a", "b"]),
            &positions(&[("a", 4)]),
            100,
            1 << 20,
            "held",
        );
        assert_eq!(
            shipped(&from),
            [("a", 5), ("b", 1)].map(|(o, s)| (o.to_string(), s))
        );
        assert_eq!(tail.bytes, 20);
        assert_eq!(tail.order.len(), 2);
    }

    #[test]
    fn an_origin_the_store_holds_more_of_than_the_tail_sends_the_uplink_to_the_database() {
        let mut tail = kept();
        tail.push((1..=3).map(|s| event("a", s, 10)));
        let both = origins(&["a", "b"]);
        // "b" was applied before the tail was kept: its head is known from the store only.
        let heads = positions(&[("a", 3), ("b", 4)]);
        assert!(
            tail.after(&both, &positions(&[]), &heads, 100, 1 << 20)
                .is_none()
        );
        // The store holds "a" up to 5, the tail up to 3.
        let heads = positions(&[("a", 5)]);
        assert!(
            tail.after(&both, &positions(&[]), &heads, 100, 1 << 20)
                .is_none()
        );
        // The parent has all of "b": the tail answers for "a".
        let heads = positions(&[("a", 3), ("b", 4)]);
        let from = tail.after(&both, &positions(&[("b", 4)]), &heads, 100, 1 << 20);
        assert_eq!(from.map(|e| e.len()), Some(3));
    }
}
