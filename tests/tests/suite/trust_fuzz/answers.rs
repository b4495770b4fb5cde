//! What the town answers, and what it holds: the replies read from a link, and snapshots of the town a refused case must leave as they were.

use super::*;

// ---- what the town answers ----

#[derive(Debug)]
pub(super) enum Reply {
    Welcome(pb::Welcome),
    Ack(BTreeMap<String, u64>),
    MailAck,
    Refused(Status),
    /// The stream ended without an answer: what a panicking session looks like.
    Ended,
}

impl Reply {
    pub(super) fn label(&self) -> String {
        match self {
            Reply::Welcome(_) => "Welcome".into(),
            Reply::Ack(_) => "BatchAck".into(),
            Reply::MailAck => "MailAck".into(),
            Reply::Refused(s) => format!("{:?}", s.code()),
            Reply::Ended => "ended".into(),
        }
    }
}

/// What the case expects of the answer.
#[derive(Debug, Clone, Copy)]
pub(super) enum Expect {
    /// Refused with one of these codes.
    Refused(&'static [Code]),
    /// Taken without changing anything (an acknowledgement that does not advance, a
    /// Welcome, a MailAck), or refused with one of these codes.
    Harmless(&'static [Code]),
}

pub(super) fn fail<T>(message: impl Into<String>) -> Result<T, TestCaseError> {
    Err(TestCaseError::fail(message.into()))
}

/// The next answer of the town, skipping mail and directory updates.
pub(super) async fn reply(link: &mut ByteLink) -> Result<Reply, TestCaseError> {
    loop {
        let next = match tokio::time::timeout(REPLY_WAIT, link.inbound.message()).await {
            Err(_) => return fail(format!("no answer within {REPLY_WAIT:?}: the town hangs")),
            Ok(next) => next,
        };
        let message = match next {
            Err(status) => return Ok(Reply::Refused(status)),
            Ok(None) => return Ok(Reply::Ended),
            Ok(Some(m)) => m.message,
        };
        match message {
            Some(pb::link_response::Message::Welcome(w)) => return Ok(Reply::Welcome(w)),
            Some(pb::link_response::Message::BatchAck(ack)) => {
                return Ok(Reply::Ack(
                    ack.positions
                        .into_iter()
                        .map(|p| (p.origin_unit, p.sequence))
                        .collect(),
                ));
            }
            Some(pb::link_response::Message::MailAck(_)) => return Ok(Reply::MailAck),
            Some(pb::link_response::Message::Mail(_))
            | Some(pb::link_response::Message::Directory(_)) => {}
            // The fuzzed child announces neither reconciliation nor recovery.
            Some(pb::link_response::Message::DigestRequest(_))
            | Some(pb::link_response::Message::Resend(_)) => {
                return fail("a reconciliation message to a child without the feature");
            }
            Some(pb::link_response::Message::Recovery(_)) => {
                return fail("a recovery message to a child without the feature");
            }
            None => return fail("an answer without a message"),
        }
    }
}

/// Opens a link whose first message is `first`: the link if the town took it, and its
/// first answer (the refusal of the call, or what came on the stream).
pub(super) async fn open(
    ch: &Channel,
    first: Vec<u8>,
) -> Result<(Option<ByteLink>, Reply), TestCaseError> {
    match tokio::time::timeout(REPLY_WAIT, ByteLink::open(ch, first)).await {
        Err(_) => fail(format!(
            "no answer to the first message within {REPLY_WAIT:?}"
        )),
        Ok(Err(status)) => Ok((None, Reply::Refused(status))),
        Ok(Ok(mut link)) => {
            let first = reply(&mut link).await?;
            Ok((Some(link), first))
        }
    }
}

pub(super) async fn send(link: &ByteLink, message: Vec<u8>) {
    // The town may have closed the stream already; its answer says why.
    let _ = link.tx.send(message).await;
}

pub(super) fn request(message: pb::link_request::Message) -> Vec<u8> {
    pb::LinkRequest {
        message: Some(message),
    }
    .encode_to_vec()
}

pub(super) fn batch_of(events: Vec<Vec<u8>>, units: Vec<pb::Unit>) -> Vec<u8> {
    request(pb::link_request::Message::Batch(pb::EventBatch {
        events,
        remaining: 0,
        units,
    }))
}

pub(super) fn hello_of(change: impl FnOnce(&mut pb::Hello)) -> Vec<u8> {
    let mut h = hello(CHILD.code, CHILD.name, pb::UnitLevel::Ward);
    if let Some(pb::link_request::Message::Hello(h)) = &mut h.message {
        change(h);
    }
    h.encode_to_vec()
}

pub(super) fn child_hello() -> Vec<u8> {
    hello_of(|_| {})
}

pub(super) fn wire_unit(code: &str, name: &str, parent: &str) -> pb::Unit {
    pb::Unit {
        code: code.into(),
        name: name.into(),
        level: pb::UnitLevel::Commune as i32,
        parent_code: parent.into(),
        remote: false,
    }
}

pub(super) fn decode(bytes: &[u8]) -> pb::JournalEvent {
    pb::JournalEvent::decode(bytes).unwrap()
}

pub(super) fn hash(bytes: &[u8]) -> Vec<u8> {
    Sha256::digest(bytes).to_vec()
}

// ---- what the town holds ----

/// Where the debug forms of `a` and `b` first differ, with some context.
pub(super) fn first_difference(a: &impl std::fmt::Debug, b: &impl std::fmt::Debug) -> String {
    let (a, b) = (format!("{a:?}"), format!("{b:?}"));
    let at = a
        .char_indices()
        .zip(b.chars())
        .find(|((_, x), y)| x != y)
        .map_or(a.len().min(b.len()), |((i, _), _)| i);
    let from = a[..at].char_indices().rev().nth(120).map_or(0, |(i, _)| i);
    let show = |s: &str| s[from..].chars().take(300).collect::<String>();
    format!("…{} became …{}", show(&a), show(&b))
}

pub(super) fn counts(r: &Records) -> (usize, usize, usize) {
    (r.visits.len(), r.petitions.len(), r.cases.len())
}

impl Snapshot {
    pub(super) async fn take(ch: &Channel) -> Result<Snapshot, TestCaseError> {
        match tokio::time::timeout(REPLY_WAIT, Snapshot::read(ch, Vec::new())).await {
            Ok(s) => Ok(s),
            Err(_) => fail(format!("reading the town took over {REPLY_WAIT:?}")),
        }
    }

    pub(super) async fn read(ch: &Channel, origins: Vec<String>) -> Snapshot {
        let digest = sync(ch)
            .get_journal_digest(pb::GetJournalDigestRequest {
                origin_units: origins,
            })
            .await
            .unwrap()
            .into_inner();
        let mut report = subtree_report(ch, "").await;
        // When the report was made, and how current each child's figures are: clocks.
        report.generate_time = None;
        for row in &mut report.children {
            row.as_of_time = None;
        }
        let units = list_units(ch).await;
        Snapshot {
            digest,
            report,
            units,
            child: records_of(ch, CHILD.code, TOWN.code).await,
            other: records_of(ch, OTHER.code, TOWN.code).await,
            town: records_of(ch, TOWN.code, TOWN.code).await,
        }
    }

    /// What differs, briefly.
    pub(super) fn differences(&self, after: &Snapshot) -> String {
        let mut out = Vec::new();
        if self.digest != after.digest {
            out.push(format!(
                "journal digest: heads {:?} became {:?}",
                self.digest.heads, after.digest.heads
            ));
        }
        if self.report != after.report {
            out.push(format!(
                "report: {}",
                first_difference(&self.report, &after.report)
            ));
        }
        if self.units != after.units {
            let show = |u: &[pb::Unit]| {
                u.iter()
                    .map(|u| format!("{}<{}", u.code, u.parent_code))
                    .collect::<Vec<_>>()
            };
            out.push(format!(
                "units: {:?} became {:?}",
                show(&self.units),
                show(&after.units)
            ));
        }
        for (what, a, b) in [
            ("child", &self.child, &after.child),
            ("sibling", &self.other, &after.other),
            ("town", &self.town, &after.town),
        ] {
            if a != b {
                out.push(format!(
                    "records of the {what} (visits, petitions, cases): {:?} became {:?}",
                    counts(a),
                    counts(b)
                ));
            }
        }
        out.join("; ")
    }
}
