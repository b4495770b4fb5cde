//! The fuzzer's steps: links opened, inputs sent, answers judged.

use super::*;

impl Fuzz {
    pub(super) fn note(&self, kind: &str, reply: &Reply) {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        *seen
            .entry(kind.to_string())
            .or_default()
            .entry(reply.label())
            .or_default() += 1;
    }

    pub(super) fn applied(&self) -> usize {
        self.applied.load(Ordering::SeqCst)
    }

    /// The hash the event at `index` must name as its predecessor.
    pub(super) fn previous_hash(&self, index: usize) -> Vec<u8> {
        if index == 0 {
            Vec::new()
        } else {
            hash(&self.events[index - 1])
        }
    }

    pub(super) async fn healthy(&self) -> Result<(), TestCaseError> {
        let mut health = HealthClient::new(self.ch.clone());
        let answer = tokio::time::timeout(
            REPLY_WAIT,
            health.check(HealthCheckRequest {
                service: "tiepdan.v1.SyncService".into(),
            }),
        )
        .await;
        match answer {
            Ok(Ok(r)) if r.get_ref().status == ServingStatus::Serving as i32 => Ok(()),
            other => fail(format!("the town no longer serves: {other:?}")),
        }
    }

    pub(super) async fn snapshot(&self) -> Result<Snapshot, TestCaseError> {
        let mut last = self.last.lock().await;
        if let Some(s) = last.as_ref() {
            return Ok(s.clone());
        }
        let s = Snapshot::take(&self.ch).await?;
        *last = Some(s.clone());
        Ok(s)
    }

    pub(super) async fn forget_snapshot(&self) {
        *self.last.lock().await = None;
    }

    /// A link opened as the child, welcomed at the model's position.
    pub(super) async fn child_link(&self) -> Result<ByteLink, TestCaseError> {
        match open(&self.ch, child_hello()).await? {
            (Some(link), Reply::Welcome(w)) => {
                self.check_welcome(&w)?;
                Ok(link)
            }
            (_, other) => fail(format!("the child's own Hello: {other:?}")),
        }
    }

    pub(super) fn check_welcome(&self, w: &pb::Welcome) -> Result<(), TestCaseError> {
        let at = w
            .positions
            .iter()
            .find(|p| p.origin_unit == CHILD.code)
            .map(|p| p.sequence);
        prop_assert_eq!(
            at,
            Some(self.applied() as u64),
            "Welcome places the child elsewhere than the model"
        );
        Ok(())
    }

    /// Runs one generated case.
    pub(super) async fn run(&self, steps: &[Step]) -> Result<(), TestCaseError> {
        let mut link: Option<ByteLink> = None;
        for step in steps {
            if let Err(e) = self.step(&mut link, step).await {
                // The town may have changed: read it afresh for the next case.
                self.forget_snapshot().await;
                return Err(e);
            }
        }
        Ok(())
    }

    pub(super) async fn step(
        &self,
        link: &mut Option<ByteLink>,
        step: &Step,
    ) -> Result<(), TestCaseError> {
        let a = self.applied();
        match step {
            Step::Genuine { len, dup } => {
                let len = (*len).min(self.events.len() - a);
                if len == 0 {
                    return Ok(());
                }
                let mut events = self.events[a..a + len].to_vec();
                if let Some(i) = dup {
                    let i = i.index(len);
                    events.insert(i, events[i].clone());
                }
                let kind = if len >= 50 {
                    "valid/many-small-events"
                } else if dup.is_some() {
                    "valid/with-duplicate"
                } else {
                    "valid/next-events"
                };
                let l = self.ensure_link(link).await?;
                send(l, batch_of(events, Vec::new())).await;
                let answer = reply(l).await?;
                self.note(kind, &answer);
                self.forget_snapshot().await;
                match answer {
                    Reply::Ack(p) if p.get(CHILD.code) == Some(&((a + len) as u64)) => {
                        self.applied.store(a + len, Ordering::SeqCst);
                        self.healthy().await
                    }
                    other => fail(format!(
                        "{kind}: genuine events {}..={} answered {other:?}",
                        a + 1,
                        a + len
                    )),
                }
            }
            Step::Replay { from, len } => {
                let from = from.index(a);
                let len = (*len).min(a - from);
                let events = self.events[from..from + len].to_vec();
                let l = self.ensure_link(link).await?;
                let before = self.snapshot().await?;
                send(l, batch_of(events, Vec::new())).await;
                let answer = reply(l).await?;
                self.note("valid/replay", &answer);
                match &answer {
                    Reply::Ack(p) if p.get(CHILD.code) == Some(&(a as u64)) => {}
                    other => return fail(format!("replay of {from}+{len}: answered {other:?}")),
                }
                self.unchanged("valid/replay", &before).await
            }
            Step::Batch { prefix, fault } => {
                let Some((kind, events, units, expect)) = self.faulty_batch(a, *prefix, fault)
                else {
                    return Ok(());
                };
                let l = self.ensure_link(link).await?;
                let before = self.snapshot().await?;
                send(l, batch_of(events, units)).await;
                let answer = reply(l).await?;
                self.judge(&kind, link, answer, expect, &before).await
            }
            Step::Hello(fault) => {
                let (kind, first, expect) = self.faulty_hello(a, fault);
                let before = self.snapshot().await?;
                // A new link as the child replaces the one open.
                *link = None;
                let (opened, answer) = open(&self.ch, first).await?;
                if let Reply::Welcome(w) = &answer {
                    self.check_welcome(w)?;
                    *link = opened;
                }
                self.judge(&kind, link, answer, expect, &before).await
            }
            Step::Mail(fault) => {
                let (kind, mail, expect) = self.faulty_mail(fault);
                let l = self.ensure_link(link).await?;
                let before = self.snapshot().await?;
                send(l, request(pb::link_request::Message::Mail(mail))).await;
                let answer = reply(l).await?;
                self.judge(&kind, link, answer, expect, &before).await
            }
            Step::Raw(fault) => self.raw(link, a, fault).await,
        }
    }

    pub(super) async fn ensure_link<'a>(
        &self,
        link: &'a mut Option<ByteLink>,
    ) -> Result<&'a mut ByteLink, TestCaseError> {
        if link.is_none() {
            *link = Some(self.child_link().await?);
        }
        Ok(link.as_mut().unwrap())
    }

    /// Checks an answer against what the case expects, and that nothing changed.
    pub(super) async fn judge(
        &self,
        kind: &str,
        link: &mut Option<ByteLink>,
        answer: Reply,
        expect: Expect,
        before: &Snapshot,
    ) -> Result<(), TestCaseError> {
        self.note(kind, &answer);
        let a = self.applied() as u64;
        let ok = match (&answer, expect) {
            (Reply::Refused(s), Expect::Refused(codes) | Expect::Harmless(codes)) => {
                prop_assert!(
                    REFUSALS.contains(&s.code()) && codes.contains(&s.code()),
                    "{kind}: refused with {:?} ({}), expected one of {codes:?}",
                    s.code(),
                    s.message()
                );
                *link = None;
                true
            }
            (Reply::Ack(p), Expect::Harmless(_)) => {
                p.get(CHILD.code).is_none_or(|s| *s == a) && p.keys().all(|o| o == CHILD.code)
            }
            (Reply::Welcome(_) | Reply::MailAck, Expect::Harmless(_)) => true,
            _ => false,
        };
        if !ok {
            return fail(format!("{kind}: answered {answer:?}, expected {expect:?}"));
        }
        self.healthy().await?;
        self.unchanged(kind, before).await
    }

    pub(super) async fn unchanged(
        &self,
        kind: &str,
        before: &Snapshot,
    ) -> Result<(), TestCaseError> {
        let after = Snapshot::take(&self.ch).await?;
        if *before != after {
            let what = before.differences(&after);
            *self.last.lock().await = Some(after);
            return fail(format!("{kind}: the town changed: {what}"));
        }
        *self.last.lock().await = Some(after);
        Ok(())
    }
}
