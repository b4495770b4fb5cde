//! Decoding alone: arbitrary bytes never make the decoders panic.

use super::*;

// ---- decoding alone ----

/// Decodes `bytes` as a link message and as a journal event, and converts every record
/// found the way the town does: whatever the bytes, an error or a value, never a panic.
pub(super) fn decode_and_convert(bytes: &[u8]) {
    use crate::support::server::{inbound, wire};
    use pb::journal_event::Change;
    if let Ok(event) = pb::JournalEvent::decode(bytes) {
        if let Some(t) = &event.event_time {
            let _ = wire::instant(t);
        }
        match &event.change {
            Some(Change::UnitRegistered(u)) => drop(inbound::unit(u)),
            Some(Change::VisitRecorded(v)) => drop(inbound::visit(v)),
            Some(Change::SchedulePublished(e)) => drop(inbound::schedule_entry(e)),
            Some(Change::ConclusionChanged(c)) => drop(inbound::conclusion(c)),
            Some(Change::PetitionChanged(p)) => drop(inbound::petition(p)),
            Some(Change::CaseChanged(c)) => drop(inbound::case(c)),
            Some(Change::Reorganised(r)) => drop(inbound::reorganisation(r)),
            None => {}
        }
    }
    if let Ok(request) = pb::LinkRequest::decode(bytes) {
        match &request.message {
            Some(pb::link_request::Message::Hello(h)) => {
                h.unit
                    .iter()
                    .chain(&h.subtree)
                    .for_each(|u| drop(inbound::unit(u)));
            }
            Some(pb::link_request::Message::Batch(b)) => {
                b.units.iter().for_each(|u| drop(inbound::unit(u)));
                for e in &b.events {
                    decode_and_convert(e);
                }
            }
            Some(pb::link_request::Message::Mail(m)) => match &m.content {
                Some(pb::mail::Content::PetitionTransfer(t)) => {
                    t.petition.iter().for_each(|p| drop(inbound::petition(p)));
                }
                Some(pb::mail::Content::CaseResult(r)) => {
                    r.case.iter().for_each(|c| drop(inbound::case(c)));
                }
                None => {}
            },
            _ => {}
        }
    }
}

/// Encodings of every kind of change, to mutate.
pub(super) fn seeds() -> Vec<Vec<u8>> {
    use pb::journal_event::Change;
    let ts = Some(prost_types::Timestamp {
        seconds: 1_560_000_000,
        nanos: 0,
    });
    let deadline = Some(pb::Deadline {
        due_date: "2019-07-01".into(),
        ..Default::default()
    });
    let changes = vec![
        Change::UnitRegistered(wire_unit(CHILD.code, CHILD.name, TOWN.code)),
        Change::VisitRecorded(pb::Visit {
            id: "09574-V1".into(),
            unit_code: CHILD.code.into(),
            visit_time: ts,
            kind: 1,
            receiver_role: 1,
            persons: 3,
            matter: 1,
            action: 1,
            summary: "đất đai".into(),
            create_time: ts,
            ..Default::default()
        }),
        Change::PetitionChanged(pb::Petition {
            id: "09574-P1".into(),
            unit_code: CHILD.code.into(),
            received_time: ts,
            channel: 1,
            status: 1,
            deadline: deadline.clone(),
            update_time: ts,
            version: 1,
            ..Default::default()
        }),
        Change::CaseChanged(pb::Case {
            id: "09574-C1".into(),
            owner_unit: CHILD.code.into(),
            r#type: 1,
            field: 1,
            status: 1,
            accept_time: ts,
            deadline,
            update_time: ts,
            version: 1,
            ..Default::default()
        }),
    ];
    let mut out = Vec::new();
    for change in changes {
        let event = pb::JournalEvent {
            origin_unit: CHILD.code.into(),
            sequence: 1,
            event_time: ts,
            previous_hash: Vec::new(),
            change: Some(change),
            action: "Record".into(),
        };
        let bytes = event.encode_to_vec();
        out.push(batch_of(vec![bytes.clone()], vec![]));
        out.push(bytes);
    }
    out.push(child_hello());
    out
}

#[test]
pub(super) fn decoding_arbitrary_bytes_never_panics() {
    let config = Config {
        cases: DECODE_CASES,
        failure_persistence: None,
        rng_algorithm: RngAlgorithm::ChaCha,
        ..Config::default()
    };
    let n = seeds().len();
    let input = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..512),
        // A seed with bits flipped, cut or extended.
        (
            0..n,
            prop::collection::vec(any::<Index>(), 1..8),
            any::<Index>(),
            prop::collection::vec(any::<u8>(), 0..8)
        )
            .prop_map(move |(s, flips, cut, tail)| {
                let mut b = seeds()[s].clone();
                for f in flips {
                    let bit = f.index(b.len() * 8);
                    b[bit / 8] ^= 1 << (bit % 8);
                }
                b.truncate(1 + cut.index(b.len()));
                b.extend(tail);
                b
            }),
    ];
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &SEED));
    runner
        .run(&input, |bytes| {
            decode_and_convert(&bytes);
            Ok(())
        })
        .unwrap();
}
