//! Faulty batches and forged events.

use super::*;

impl Fuzz {
    /// The events and units of a batch with `fault` after `prefix` genuine new events, and
    /// what the town must answer; `None` when the journal has too few events left.
    #[allow(clippy::type_complexity)]
    pub(super) fn faulty_batch(
        &self,
        a: usize,
        prefix: usize,
        fault: &BatchFault,
    ) -> Option<(String, Vec<Vec<u8>>, Vec<pb::Unit>, Expect)> {
        let t = a + prefix;
        if t + 2 > self.events.len() {
            return None;
        }
        let e = &self.events;
        let mut events: Vec<Vec<u8>> = e[a..t].to_vec();
        let target = e[t].clone();
        let next = e[t + 1].clone();
        let mut units = Vec::new();
        let rewrite = |change: &dyn Fn(&mut pb::JournalEvent)| {
            let mut event = decode(&target);
            change(&mut event);
            event.encode_to_vec()
        };
        let (kind, expect) = match fault {
            BatchFault::RandomBytes(b) => {
                events.extend([b.clone(), next]);
                ("batch/random-bytes", Expect::Refused(BROKEN))
            }
            BatchFault::Truncate(i) => {
                events.extend([target[..i.index(target.len())].to_vec(), next]);
                ("batch/truncated-event", Expect::Refused(BROKEN))
            }
            BatchFault::Extend(extra) => {
                let mut longer = target.clone();
                longer.extend(extra);
                events.extend([longer, next]);
                ("batch/extended-event", Expect::Refused(BROKEN))
            }
            BatchFault::BitFlip(i) => {
                let mut flipped = target.clone();
                let bit = i.index(flipped.len() * 8);
                flipped[bit / 8] ^= 1 << (bit % 8);
                events.extend([flipped, next]);
                ("batch/bit-flip", Expect::Refused(BROKEN))
            }
            BatchFault::HashFlip(i) => {
                events.push(rewrite(&|ev| {
                    if ev.previous_hash.is_empty() {
                        ev.previous_hash = vec![0; 32];
                    } else {
                        let bit = i.index(ev.previous_hash.len() * 8);
                        ev.previous_hash[bit / 8] ^= 1 << (bit % 8);
                    }
                }));
                events.push(next);
                (
                    "batch/previous-hash-flip",
                    Expect::Refused(&[Code::DataLoss]),
                )
            }
            BatchFault::Sequence(change) => {
                let genuine = t as u64 + 1;
                let mut sequence = match change {
                    SequenceChange::Relative(d) => genuine.saturating_add_signed(*d),
                    SequenceChange::Absolute(s) => *s,
                };
                if sequence == genuine {
                    sequence = genuine + 1;
                }
                events.push(rewrite(&|ev| ev.sequence = sequence));
                events.push(next);
                (
                    "batch/wrong-sequence",
                    Expect::Refused(&[Code::OutOfRange, Code::DataLoss]),
                )
            }
            BatchFault::Origin(origin) => {
                events.push(rewrite(&|ev| ev.origin_unit = origin.to_string()));
                events.push(next);
                (
                    "batch/forged-origin",
                    Expect::Refused(&[Code::PermissionDenied]),
                )
            }
            BatchFault::Sibling(i) => {
                events.push(self.other_events[i.index(self.other_events.len())].clone());
                events.extend([target, next]);
                (
                    "batch/sibling-event",
                    Expect::Refused(&[Code::PermissionDenied]),
                )
            }
            BatchFault::Gap => {
                events.push(next);
                ("batch/gap", Expect::Refused(&[Code::OutOfRange]))
            }
            BatchFault::Swap => {
                events.extend([next, target]);
                ("batch/reordered", Expect::Refused(&[Code::OutOfRange]))
            }
            BatchFault::StartAhead(k) => {
                if a + k + 2 > e.len() {
                    return None;
                }
                events = e[a + k..a + k + 2].to_vec();
                ("batch/starts-ahead", Expect::Refused(&[Code::OutOfRange]))
            }
            BatchFault::Forged(f) => {
                let (kind, expect, forged) = self.forged(t, f);
                events.push(forged);
                (kind, expect)
            }
            BatchFault::Units(fault) => {
                let (kind, list, codes) = match fault {
                    UnitsFault::ReparentSibling => (
                        "units/re-parent-sibling",
                        vec![wire_unit(OTHER.code, OTHER.name, CHILD.code)],
                        INVALID,
                    ),
                    UnitsFault::Town => (
                        "units/town-below-child",
                        vec![wire_unit(TOWN.code, TOWN.name, CHILD.code)],
                        INVALID,
                    ),
                    UnitsFault::ChildItself => (
                        "units/child-below-itself",
                        vec![wire_unit(CHILD.code, CHILD.name, CHILD.code)],
                        INVALID,
                    ),
                    UnitsFault::UnknownParent => (
                        "units/unknown-parent",
                        vec![wire_unit("09990", "Tổ 1", "99998")],
                        INVALID,
                    ),
                    UnitsFault::BelowSibling => (
                        "units/below-sibling",
                        vec![wire_unit("09991", "Tổ 2", OTHER.code)],
                        INVALID,
                    ),
                    UnitsFault::Malformed(k) => {
                        let mut u = wire_unit("09992", "Tổ 3", CHILD.code);
                        match k {
                            0 => u.code = "9a".into(),
                            1 => u.name = String::new(),
                            2 => u.level = 99,
                            _ => u.parent_code = "x".into(),
                        }
                        ("units/malformed", vec![u], INVALID)
                    }
                    UnitsFault::NewUnitThenGap => {
                        events.push(next.clone());
                        (
                            "units/new-unit-in-refused-batch",
                            vec![wire_unit("09993", "Tổ 4", CHILD.code)],
                            OUT_OF_RANGE,
                        )
                    }
                };
                if !matches!(fault, UnitsFault::NewUnitThenGap) {
                    events.extend([target, next]);
                }
                units = list;
                (kind, Expect::Refused(codes))
            }
            BatchFault::TooMany => {
                events = vec![e[a - 1].clone(); MAX_BATCH_EVENTS + 1];
                (
                    "batch/too-many-events",
                    Expect::Refused(&[Code::InvalidArgument]),
                )
            }
            BatchFault::Oversized(extra) => {
                events.push(vec![0x0a; MAX_MESSAGE_BYTES + extra]);
                (
                    "batch/oversized",
                    Expect::Refused(&[Code::OutOfRange, Code::ResourceExhausted]),
                )
            }
            BatchFault::ReplayAltered(i, bit) => {
                let mut altered = e[i.index(a)].clone();
                let bit = bit.index(altered.len() * 8);
                altered[bit / 8] ^= 1 << (bit % 8);
                events = vec![altered];
                ("batch/altered-replay", Expect::Refused(BROKEN))
            }
        };
        Some((kind.to_string(), events, units, expect))
    }

    /// An event at position `t` that chains to the one before it, origin the child, whose
    /// content the town must refuse.
    pub(super) fn forged(&self, t: usize, f: &Forgery) -> (&'static str, Expect, Vec<u8>) {
        use pb::journal_event::Change;
        let tp = &self.templates;
        let mut event = decode(&self.events[t]);
        event.previous_hash = self.previous_hash(t);
        let visit = || Change::VisitRecorded(tp.visit.clone());
        let record = |r: Record| match r {
            Record::Visit => Change::VisitRecorded(tp.visit.clone()),
            Record::Petition => Change::PetitionChanged(tp.petition.clone()),
            Record::Case => Change::CaseChanged(tp.case.clone()),
        };
        let denied = Expect::Refused(&[Code::PermissionDenied]);
        let invalid = Expect::Refused(&[Code::InvalidArgument]);
        let (kind, expect, change) = match f {
            Forgery::RecordUnit(r) => {
                let mut c = record(*r);
                match &mut c {
                    Change::VisitRecorded(v) => v.unit_code = OTHER.code.into(),
                    Change::PetitionChanged(p) => p.unit_code = OTHER.code.into(),
                    Change::CaseChanged(x) => x.owner_unit = OTHER.code.into(),
                    _ => {}
                }
                ("forged/record-of-sibling", denied, Some(c))
            }
            Forgery::StolenId(r) => {
                let mut c = record(*r);
                match &mut c {
                    Change::VisitRecorded(v) => v.id = tp.other_visit.clone(),
                    Change::PetitionChanged(p) => p.id = tp.other_petition.clone(),
                    Change::CaseChanged(x) => x.id = tp.other_case.id.clone(),
                    _ => {}
                }
                ("forged/sibling-record-id", denied, Some(c))
            }
            Forgery::Petitioner => {
                let mut p = tp.petition.clone();
                p.petitioner = Some(pb::Petitioner {
                    full_name: "Nguyễn Văn A".into(),
                    ..Default::default()
                });
                (
                    "forged/personal-details",
                    invalid,
                    Some(Change::PetitionChanged(p)),
                )
            }
            Forgery::UnknownEnum(value) => {
                let mut v = tp.visit.clone();
                v.kind = *value;
                (
                    "forged/unknown-enum",
                    invalid,
                    Some(Change::VisitRecorded(v)),
                )
            }
            Forgery::ControlCharacter => {
                let mut v = tp.visit.clone();
                v.summary = "tranh chấp\u{0}đất".into();
                (
                    "forged/control-character",
                    invalid,
                    Some(Change::VisitRecorded(v)),
                )
            }
            Forgery::NoChange => ("forged/no-change", invalid, None),
            Forgery::NoTime => {
                event.event_time = None;
                ("forged/no-event-time", invalid, Some(visit()))
            }
            Forgery::BadNanos(n) => {
                if let Some(t) = &mut event.event_time {
                    t.nanos = *n;
                }
                ("forged/bad-event-time", invalid, Some(visit()))
            }
            Forgery::NulAction => {
                event.action = "Record\u{0}Visit".into();
                ("forged/nul-in-action", invalid, Some(visit()))
            }
            Forgery::NulScheduleId => {
                let mut v = tp.visit.clone();
                v.schedule_entry_id = "09574-S\u{0}1".into();
                (
                    "forged/nul-in-schedule-id",
                    invalid,
                    Some(Change::VisitRecorded(v)),
                )
            }
            Forgery::RegisterSibling => (
                "forged/register-sibling",
                denied,
                Some(Change::UnitRegistered(wire_unit(
                    OTHER.code, OTHER.name, CHILD.code,
                ))),
            ),
            Forgery::RegisterTown => (
                "forged/register-town",
                denied,
                Some(Change::UnitRegistered(wire_unit(
                    TOWN.code, TOWN.name, CHILD.code,
                ))),
            ),
            Forgery::RegisterBelowSibling => (
                "forged/register-below-sibling",
                denied,
                Some(Change::UnitRegistered(wire_unit(
                    "09994", "Tổ 5", OTHER.code,
                ))),
            ),
        };
        event.change = change;
        (kind, expect, event.encode_to_vec())
    }
}
