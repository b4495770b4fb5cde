//! Faulty hellos and mail, and raw bytes.

use super::*;

impl Fuzz {
    pub(super) fn faulty_hello(&self, a: usize, fault: &HelloFault) -> (String, Vec<u8>, Expect) {
        let precondition = Expect::Refused(&[Code::FailedPrecondition]);
        let invalid = Expect::Refused(&[Code::InvalidArgument]);
        let (kind, first, expect) = match fault {
            HelloFault::NotFirst(k) => {
                let first = match k {
                    0 => batch_of(self.events[..1].to_vec(), Vec::new()),
                    1 => request(pb::link_request::Message::Mail(pb::Mail::default())),
                    2 => request(pb::link_request::Message::MailAck(pb::MailAck::default())),
                    _ => Vec::new(),
                };
                ("hello/not-first", first, precondition)
            }
            HelloFault::Version(v) => (
                "hello/protocol-version",
                hello_of(|h| h.protocol_version = *v),
                precondition,
            ),
            HelloFault::NoUnit => ("hello/no-unit", hello_of(|h| h.unit = None), invalid),
            HelloFault::BadUnit(k) => (
                "hello/malformed-unit",
                hello_of(|h| {
                    let u = h.unit.as_mut().unwrap();
                    match k {
                        0 => u.code = "abc".into(),
                        1 => u.code = String::new(),
                        2 => u.name = String::new(),
                        3 => u.level = 0,
                        4 => u.level = 77,
                        _ => u.name = "Phường\u{0}".into(),
                    }
                }),
                invalid,
            ),
            HelloFault::TownAsChild => (
                "hello/town-as-child",
                hello_of(|h| h.unit = Some(wire_unit(TOWN.code, TOWN.name, ""))),
                invalid,
            ),
            HelloFault::Subtree(k) => (
                "hello/subtree-claim",
                hello_of(|h| {
                    h.subtree = vec![match k {
                        0 => wire_unit(OTHER.code, OTHER.name, CHILD.code),
                        1 => wire_unit(TOWN.code, TOWN.name, CHILD.code),
                        2 => wire_unit("09995", "Tổ 6", "99998"),
                        3 => wire_unit("9", "Tổ 7", CHILD.code),
                        _ => wire_unit(CHILD.code, CHILD.name, CHILD.code),
                    }]
                }),
                invalid,
            ),
            HelloFault::HugeSubtree(n) => (
                "hello/huge-subtree",
                hello_of(|h| {
                    // A chain 1 → 2 → … → n below the child, given bottom-up (so each pass
                    // over the list places one unit), then a unit below nobody known: the
                    // whole Hello is refused, after the town tried them all.
                    let code = |i: usize| format!("{}", 50_000 + i);
                    h.subtree = (1..=*n)
                        .rev()
                        .map(|i| {
                            let parent = if i == 1 {
                                CHILD.code.to_string()
                            } else {
                                code(i - 1)
                            };
                            wire_unit(&code(i), "Tổ", &parent)
                        })
                        .chain([wire_unit("59999", "Tổ", "99998")])
                        .collect();
                }),
                Expect::Refused(&[Code::InvalidArgument, Code::ResourceExhausted]),
            ),
            HelloFault::DeepSubtree(n) => (
                "hello/deep-subtree",
                hello_of(|h| {
                    let code = |i: usize| format!("{}", 60_000 + i);
                    h.subtree = (1..=*n)
                        .map(|i| {
                            let parent = if i == 1 {
                                CHILD.code.to_string()
                            } else {
                                code(i - 1)
                            };
                            wire_unit(&code(i), "Tổ", &parent)
                        })
                        .collect();
                }),
                Expect::Refused(&[Code::InvalidArgument, Code::ResourceExhausted]),
            ),
            HelloFault::Heads(k, i) => {
                let head = |origin: &str, sequence: usize, hash: Vec<u8>| pb::OriginHead {
                    origin_unit: origin.into(),
                    sequence: sequence as u64,
                    hash,
                };
                let applied_hash = self.previous_hash(a);
                let (kind, heads, expect) = match k {
                    0 => {
                        let behind = i.index(a);
                        (
                            "hello/head-behind",
                            head(CHILD.code, behind, self.previous_hash(behind)),
                            Expect::Refused(&[Code::DataLoss]),
                        )
                    }
                    1 => {
                        let mut h = applied_hash.clone();
                        let at = i.index(h.len());
                        h[at] ^= 1;
                        (
                            "hello/head-rewritten",
                            head(CHILD.code, a, h),
                            Expect::Refused(&[Code::DataLoss]),
                        )
                    }
                    2 => (
                        "hello/head-of-sibling",
                        head(OTHER.code, 1, vec![1; 32]),
                        Expect::Refused(&[Code::PermissionDenied]),
                    ),
                    3 => (
                        "hello/head-of-unknown-unit",
                        head("99999", 1, vec![1; 32]),
                        Expect::Refused(&[Code::PermissionDenied]),
                    ),
                    4 => (
                        "hello/head-ahead",
                        head(CHILD.code, a + 1 + i.index(1000), vec![2; 32]),
                        Expect::Harmless(&[]),
                    ),
                    _ => (
                        "hello/head-matching",
                        head(CHILD.code, a, applied_hash),
                        Expect::Harmless(&[]),
                    ),
                };
                (kind, hello_of(|h| h.heads = vec![heads]), expect)
            }
            HelloFault::HugeHeads(n) => (
                "hello/huge-heads",
                hello_of(|h| {
                    h.heads = (0..*n)
                        .map(|i| pb::OriginHead {
                            origin_unit: CHILD.code.into(),
                            sequence: (a + 1 + i) as u64,
                            hash: vec![3; 32],
                        })
                        .collect();
                }),
                Expect::Harmless(&[Code::InvalidArgument, Code::ResourceExhausted]),
            ),
            HelloFault::ClaimsParent(parent) => (
                "hello/claims-other-parent",
                hello_of(|h| h.unit.as_mut().unwrap().parent_code = parent.to_string()),
                Expect::Harmless(&[Code::InvalidArgument, Code::PermissionDenied]),
            ),
        };
        (kind.to_string(), first, expect)
    }

    pub(super) fn faulty_mail(&self, fault: &MailFault) -> (String, pb::Mail, Expect) {
        let n = self.mail_ids.fetch_add(1, Ordering::SeqCst);
        let mut mail = pb::Mail {
            id: format!("{}-MZ{n}", CHILD.code),
            destination_unit: TOWN.code.into(),
            source_unit: CHILD.code.into(),
            send_time: Some(prost_types::Timestamp {
                seconds: 1_560_000_000,
                nanos: 0,
            }),
            content: None,
        };
        let transfer = |petition: Option<pb::Petition>| {
            Some(pb::mail::Content::PetitionTransfer(pb::PetitionTransfer {
                petition,
                petitioner: None,
                note: "chuyển đơn".into(),
                sealed_petitioner: Vec::new(),
            }))
        };
        let invalid = Expect::Refused(&[Code::InvalidArgument]);
        let (kind, expect) = match fault {
            MailFault::BadId(k) => {
                mail.id = match k {
                    0 => String::new(),
                    1 => "x".repeat(65),
                    2 => "a b".into(),
                    _ => "M\u{0}1".into(),
                };
                mail.content = transfer(Some(self.templates.petition.clone()));
                ("mail/malformed-id", invalid)
            }
            MailFault::BadDestination(code) => {
                mail.destination_unit = code.to_string();
                ("mail/malformed-destination", invalid)
            }
            MailFault::BadSource(code) => {
                mail.source_unit = code.to_string();
                ("mail/malformed-source", invalid)
            }
            MailFault::ForgedSource(code) => {
                mail.source_unit = code.to_string();
                mail.content = transfer(Some(self.templates.petition.clone()));
                (
                    "mail/forged-source",
                    Expect::Refused(&[Code::FailedPrecondition, Code::PermissionDenied]),
                )
            }
            MailFault::NoContent => ("mail/no-content", invalid),
            MailFault::NoPetition => {
                mail.content = transfer(None);
                ("mail/transfer-without-petition", invalid)
            }
            MailFault::MalformedPetition => {
                let mut p = self.templates.petition.clone();
                p.received_time = None;
                mail.content = transfer(Some(p));
                ("mail/malformed-petition", invalid)
            }
            MailFault::ForeignTransfer => {
                let mut p = self.templates.petition.clone();
                p.unit_code = OTHER.code.into();
                mail.content = transfer(Some(p));
                (
                    "mail/transfer-of-sibling-petition",
                    Expect::Refused(&[Code::FailedPrecondition, Code::PermissionDenied]),
                )
            }
            MailFault::ForgedResult => {
                mail.content = Some(pb::mail::Content::CaseResult(pb::CaseResult {
                    source_petition_id: self.templates.other_petition.clone(),
                    case: Some(self.templates.other_case.clone()),
                }));
                (
                    "mail/result-for-sibling-petition",
                    Expect::Harmless(&[Code::FailedPrecondition, Code::PermissionDenied]),
                )
            }
            MailFault::Elsewhere(destination) => {
                mail.destination_unit = destination.to_string();
                ("mail/for-elsewhere", Expect::Harmless(&[]))
            }
        };
        (kind.to_string(), mail, expect)
    }

    pub(super) async fn raw(
        &self,
        link: &mut Option<ByteLink>,
        a: usize,
        fault: &RawFault,
    ) -> Result<(), TestCaseError> {
        let first_refused = Expect::Refused(&[Code::InvalidArgument, Code::FailedPrecondition]);
        // Faults in the first message.
        let first = match fault {
            RawFault::FirstGarbage(b) => Some(("raw/garbage-first", b.clone(), first_refused)),
            RawFault::TruncatedHello(i) => {
                let h = child_hello();
                Some((
                    "raw/truncated-hello",
                    h[..i.index(h.len())].to_vec(),
                    first_refused,
                ))
            }
            RawFault::ExtendedHello(extra) => {
                let mut h = child_hello();
                h.extend(extra);
                Some((
                    "raw/extended-hello",
                    h,
                    Expect::Harmless(&[
                        Code::InvalidArgument,
                        Code::FailedPrecondition,
                        Code::PermissionDenied,
                        Code::DataLoss,
                    ]),
                ))
            }
            _ => None,
        };
        if let Some((kind, bytes, expect)) = first {
            let before = self.snapshot().await?;
            *link = None;
            let (opened, answer) = open(&self.ch, bytes).await?;
            if let Reply::Welcome(w) = &answer {
                self.check_welcome(w)?;
                *link = opened;
            }
            return self.judge(kind, link, answer, expect, &before).await;
        }
        // Faults on an open link; some may draw no answer, so a replay follows as a probe
        // and the answers are read up to the probe's.
        let probe = batch_of(vec![self.events[a - 1].clone()], Vec::new());
        let (kind, bytes, expect, probed) = match fault {
            RawFault::GarbageAfterHello(b) => (
                "raw/garbage-message",
                b.clone(),
                Expect::Harmless(&[Code::InvalidArgument]),
                true,
            ),
            RawFault::TruncatedBatch(i) => {
                let b = batch_of(
                    self.events[a..(a + 2).min(self.events.len())].to_vec(),
                    vec![],
                );
                (
                    "raw/truncated-batch",
                    b[..i.index(b.len())].to_vec(),
                    Expect::Refused(&[Code::InvalidArgument]),
                    false,
                )
            }
            RawFault::ExtendedBatch(extra) => {
                // An empty batch, so its own acknowledgement (if it is taken) does not
                // name the child and is told apart from the probe's.
                let mut b = batch_of(Vec::new(), Vec::new());
                b.extend(extra);
                ("raw/extended-batch", b, Expect::Harmless(BROKEN), true)
            }
            RawFault::HelloAgain => (
                "raw/hello-again",
                child_hello(),
                Expect::Refused(&[Code::InvalidArgument]),
                false,
            ),
            RawFault::EmptyMessage => (
                "raw/empty-message",
                Vec::new(),
                Expect::Refused(&[Code::InvalidArgument]),
                false,
            ),
            RawFault::StrayMailAck(id) => (
                "raw/stray-mail-ack",
                request(pb::link_request::Message::MailAck(pb::MailAck {
                    mail_id: id.clone(),
                })),
                Expect::Harmless(&[]),
                true,
            ),
            _ => unreachable!("first-message faults are handled above"),
        };
        let l = self.ensure_link(link).await?;
        let before = self.snapshot().await?;
        send(l, bytes).await;
        if !probed {
            let answer = reply(l).await?;
            return self.judge(kind, link, answer, expect, &before).await;
        }
        send(l, probe).await;
        // Answers up to the probe's acknowledgement (the only one naming the child, as the
        // fault's own batch, if it decodes as one, carries no event of the child).
        loop {
            let answer = reply(l).await?;
            let last = match &answer {
                Reply::Ack(p) => p.contains_key(CHILD.code),
                _ => true,
            };
            if last {
                return self.judge(kind, link, answer, expect, &before).await;
            }
            prop_assert!(
                matches!(&answer, Reply::Ack(p) if p.is_empty())
                    || matches!(answer, Reply::MailAck),
                "{kind}: answered {answer:?} before the probe's acknowledgement"
            );
        }
    }
}
