//! Property tests of the tier link's trust boundary (issue 5): a real town node on
//! `127.0.0.1:0` over a real database is sent generated link traffic built from a genuine
//! commune journal — random, truncated, extended and bit-flipped encodings, forged origins
//! and records, wrong, duplicate, reordered and skipped sequences, broken hash chains, Hello
//! variants, unit claims, oversized batches, forged mail, replays, and valid batches in
//! between — and for every generated case:
//!
//! - the answer is an acknowledgement or a refusal with a code of [`REFUSALS`], never
//!   INTERNAL / UNKNOWN / UNAVAILABLE (what a panic or an unchecked store error becomes), and
//!   always within [`REPLY_WAIT`];
//! - the node still serves (health check);
//! - refused input changes nothing: the town's journal digest, its report, its units and
//!   its records are the same before and after;
//! - valid batches apply exactly once: each acknowledgement names the position the model
//!   expects, and at the end the town holds exactly what a second town fed only the genuine
//!   journals holds.
//!
//! The generator runs from a fixed seed with a bounded number of cases, so a run is
//! deterministic; cases run one after another against the same node, each judged against the
//! model's state at the time, so a shrunk case still means what it says. A pure test checks
//! that the decoding and conversion of arbitrary bytes never panics.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::tier_common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use prost::Message;
use sha2::{Digest, Sha256};
use tiepdan_server::node::MAX_MESSAGE_BYTES;
use tiepdan_server::sync::MAX_BATCH_EVENTS;
use tiepdan_tests::{TestDb, TestNode};
use tier_common::*;
use tokio::net::TcpListener;
use tonic::transport::Channel;
use tonic::{Code, Status};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// The generator's seed: every run generates the same cases.
const SEED: [u8; 32] = *b"tiepdan/issue-5/trust-fuzz/seed1";
/// Generated cases on SQLite and on PostgreSQL (slower: the same cases, fewer of them);
/// each case is one to [`MAX_STEPS`] steps on the link.
const CASES_SQLITE: u32 = 150;
const CASES_POSTGRES: u32 = 60;
const MAX_STEPS: usize = 3;
/// Arbitrary byte strings the pure decode test tries.
const DECODE_CASES: u32 = 4000;
/// Bound on every answer: longer is a hang.
const REPLY_WAIT: Duration = Duration::from_secs(30);
/// Events of the commune's journal continued past what it recorded (visits), so valid
/// batches never run out.
const SYNTHETIC: usize = 1500;
/// Genuine events applied before the first case, so a replay always exists.
const HEAD_START: usize = 3;

/// Every refusal the link documents.
const REFUSALS: &[Code] = &[
    Code::InvalidArgument,
    Code::PermissionDenied,
    Code::OutOfRange,
    Code::DataLoss,
    Code::FailedPrecondition,
    Code::ResourceExhausted,
];
const INVALID: &[Code] = &[Code::InvalidArgument];
const OUT_OF_RANGE: &[Code] = &[Code::OutOfRange];
/// How a batch with a broken event may be refused, whichever check sees it first.
const BROKEN: &[Code] = &[
    Code::InvalidArgument,
    Code::PermissionDenied,
    Code::OutOfRange,
    Code::DataLoss,
];

// ---- what is generated ----

/// One step of a case, resolved against the model's state when it runs.
#[derive(Debug, Clone)]
enum Step {
    /// The next `len` genuine events; `dup` repeats one of them in place.
    Genuine { len: usize, dup: Option<Index> },
    /// Events already applied, sent again.
    Replay { from: Index, len: usize },
    /// `prefix` genuine new events, then a fault, in one batch.
    Batch { prefix: usize, fault: BatchFault },
    /// A link opened with a faulty Hello.
    Hello(HelloFault),
    /// Mail on an open link.
    Mail(MailFault),
    /// Bytes that are not what they claim, on the wire.
    Raw(RawFault),
}

#[derive(Debug, Clone)]
enum BatchFault {
    /// The target event replaced by random bytes.
    RandomBytes(Vec<u8>),
    /// The target event cut short.
    Truncate(Index),
    /// Bytes appended to the target event.
    Extend(Vec<u8>),
    /// One bit of the target event's encoding flipped.
    BitFlip(Index),
    /// One bit of the target event's previous hash flipped.
    HashFlip(Index),
    /// The target event's sequence changed.
    Sequence(SequenceChange),
    /// The target event's origin changed.
    Origin(&'static str),
    /// An event of the sibling commune's journal in place of the target.
    Sibling(Index),
    /// The target left out.
    Gap,
    /// The target and its successor swapped.
    Swap,
    /// A batch starting past the next expected sequence.
    StartAhead(usize),
    /// A well-chained event the content rules must refuse, in place of the target.
    Forged(Forgery),
    /// Unit claims in the batch's `units`.
    Units(UnitsFault),
    /// One event more than a batch may carry.
    TooMany,
    /// One event beyond the message size limit.
    Oversized(usize),
    /// An applied event with a bit flipped, sent again.
    ReplayAltered(Index, Index),
}

#[derive(Debug, Clone)]
enum SequenceChange {
    Relative(i64),
    Absolute(u64),
}

#[derive(Debug, Clone, Copy)]
enum Record {
    Visit,
    Petition,
    Case,
}

#[derive(Debug, Clone)]
enum Forgery {
    /// The record names the sibling commune as its unit.
    RecordUnit(Record),
    /// The record takes the id of a record the sibling commune holds.
    StolenId(Record),
    /// A petition snapshot carrying personal details.
    Petitioner,
    /// An enum value this release does not know.
    UnknownEnum(i32),
    /// A control character in a text.
    ControlCharacter,
    /// No change at all.
    NoChange,
    /// No event time.
    NoTime,
    /// An event time with nanos out of range.
    BadNanos(i32),
    /// A NUL in the event's action.
    NulAction,
    /// A NUL in a visit's schedule entry id.
    NulScheduleId,
    /// The sibling commune registered below the child.
    RegisterSibling,
    /// The town registered below the child.
    RegisterTown,
    /// A new unit registered below the sibling commune.
    RegisterBelowSibling,
}

#[derive(Debug, Clone)]
enum UnitsFault {
    /// The sibling commune moved below the child.
    ReparentSibling,
    /// The town below the child.
    Town,
    /// The child below itself.
    ChildItself,
    /// A new unit below a unit nobody knows.
    UnknownParent,
    /// A new unit below the sibling commune.
    BelowSibling,
    /// A unit that is not one (bad code, no name, unknown level).
    Malformed(usize),
    /// A valid new unit, then events with a gap: the whole batch is refused.
    NewUnitThenGap,
}

#[derive(Debug, Clone)]
enum HelloFault {
    /// The first message is not a Hello.
    NotFirst(usize),
    /// Another protocol version.
    Version(u32),
    /// No unit.
    NoUnit,
    /// A unit that is not one.
    BadUnit(usize),
    /// The town as its own child.
    TownAsChild,
    /// Subtree claims.
    Subtree(usize),
    /// A long subtree list: a chain of new units given bottom-up, its top below nobody.
    HugeSubtree(usize),
    /// A chain of new units below the child, top-down, deeper than any administrative tree.
    DeepSubtree(usize),
    /// Journal heads.
    Heads(usize, Index),
    /// Many heads.
    HugeHeads(usize),
    /// The child's unit with another parent.
    ClaimsParent(&'static str),
}

#[derive(Debug, Clone)]
enum MailFault {
    BadId(usize),
    BadDestination(&'static str),
    BadSource(&'static str),
    ForgedSource(&'static str),
    NoContent,
    NoPetition,
    MalformedPetition,
    /// A transfer of a petition that names the sibling commune as its unit.
    ForeignTransfer,
    /// A case result for a petition the sibling commune holds.
    ForgedResult,
    /// Mail for elsewhere, which the town only forwards.
    Elsewhere(&'static str),
}

#[derive(Debug, Clone)]
enum RawFault {
    FirstGarbage(Vec<u8>),
    TruncatedHello(Index),
    ExtendedHello(Vec<u8>),
    GarbageAfterHello(Vec<u8>),
    TruncatedBatch(Index),
    ExtendedBatch(Vec<u8>),
    HelloAgain,
    EmptyMessage,
    StrayMailAck(String),
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 1..max)
}

fn batch_fault() -> impl Strategy<Value = BatchFault> {
    let sequence = prop_oneof![
        prop_oneof![-3i64..=-1, 1i64..=3].prop_map(SequenceChange::Relative),
        any::<u64>().prop_map(SequenceChange::Absolute),
        Just(SequenceChange::Absolute(0)),
        Just(SequenceChange::Absolute(u64::MAX)),
        Just(SequenceChange::Absolute(1 << 63)),
    ];
    let origin = prop::sample::select(vec![
        OTHER.code, TOWN.code, "99999", "", "0957", "09574 ", "01",
    ]);
    let record = prop::sample::select(vec![Record::Visit, Record::Petition, Record::Case]);
    let forgery = prop_oneof![
        record.clone().prop_map(Forgery::RecordUnit),
        record.prop_map(Forgery::StolenId),
        Just(Forgery::Petitioner),
        prop_oneof![Just(-1i32), 4i32..=i32::MAX, Just(i32::MIN)].prop_map(Forgery::UnknownEnum),
        Just(Forgery::ControlCharacter),
        Just(Forgery::NoChange),
        Just(Forgery::NoTime),
        prop_oneof![Just(-1i32), 1_000_000_000i32..=i32::MAX].prop_map(Forgery::BadNanos),
        Just(Forgery::NulAction),
        Just(Forgery::NulScheduleId),
        Just(Forgery::RegisterSibling),
        Just(Forgery::RegisterTown),
        Just(Forgery::RegisterBelowSibling),
    ];
    let units = prop_oneof![
        Just(UnitsFault::ReparentSibling),
        Just(UnitsFault::Town),
        Just(UnitsFault::ChildItself),
        Just(UnitsFault::UnknownParent),
        Just(UnitsFault::BelowSibling),
        (0usize..4).prop_map(UnitsFault::Malformed),
        Just(UnitsFault::NewUnitThenGap),
    ];
    prop_oneof![
        3 => bytes(96).prop_map(BatchFault::RandomBytes),
        3 => any::<Index>().prop_map(BatchFault::Truncate),
        3 => bytes(24).prop_map(BatchFault::Extend),
        6 => any::<Index>().prop_map(BatchFault::BitFlip),
        3 => any::<Index>().prop_map(BatchFault::HashFlip),
        3 => sequence.prop_map(BatchFault::Sequence),
        3 => origin.prop_map(BatchFault::Origin),
        2 => any::<Index>().prop_map(BatchFault::Sibling),
        2 => Just(BatchFault::Gap),
        2 => Just(BatchFault::Swap),
        2 => (1usize..=3).prop_map(BatchFault::StartAhead),
        8 => forgery.prop_map(BatchFault::Forged),
        4 => units.prop_map(BatchFault::Units),
        1 => Just(BatchFault::TooMany),
        1 => (1usize..=4096).prop_map(BatchFault::Oversized),
        3 => (any::<Index>(), any::<Index>()).prop_map(|(e, b)| BatchFault::ReplayAltered(e, b)),
    ]
}

fn hello_fault() -> impl Strategy<Value = HelloFault> {
    prop_oneof![
        2 => (0usize..4).prop_map(HelloFault::NotFirst),
        2 => prop_oneof![Just(0u32), 2u32..=u32::MAX].prop_map(HelloFault::Version),
        1 => Just(HelloFault::NoUnit),
        2 => (0usize..6).prop_map(HelloFault::BadUnit),
        1 => Just(HelloFault::TownAsChild),
        2 => (0usize..5).prop_map(HelloFault::Subtree),
        1 => (500usize..=4000).prop_map(HelloFault::HugeSubtree),
        1 => (20usize..=200).prop_map(HelloFault::DeepSubtree),
        4 => ((0usize..6), any::<Index>()).prop_map(|(k, i)| HelloFault::Heads(k, i)),
        1 => (5_000usize..=20_000).prop_map(HelloFault::HugeHeads),
        2 => prop::sample::select(vec!["01", OTHER.code, TOWN.code, "99999"])
            .prop_map(HelloFault::ClaimsParent),
    ]
}

fn mail_fault() -> impl Strategy<Value = MailFault> {
    let code = || prop::sample::select(vec!["", "abc", "123456", "0957a", " 0957"]);
    prop_oneof![
        1 => (0usize..4).prop_map(MailFault::BadId),
        1 => code().prop_map(MailFault::BadDestination),
        1 => code().prop_map(MailFault::BadSource),
        2 => prop::sample::select(vec![OTHER.code, TOWN.code, "99999", "01"])
            .prop_map(MailFault::ForgedSource),
        1 => Just(MailFault::NoContent),
        1 => Just(MailFault::NoPetition),
        1 => Just(MailFault::MalformedPetition),
        2 => Just(MailFault::ForeignTransfer),
        2 => Just(MailFault::ForgedResult),
        1 => prop::sample::select(vec!["99999", OTHER.code, CHILD.code]).prop_map(MailFault::Elsewhere),
    ]
}

fn raw_fault() -> impl Strategy<Value = RawFault> {
    prop_oneof![
        bytes(64).prop_map(RawFault::FirstGarbage),
        any::<Index>().prop_map(RawFault::TruncatedHello),
        bytes(16).prop_map(RawFault::ExtendedHello),
        bytes(64).prop_map(RawFault::GarbageAfterHello),
        any::<Index>().prop_map(RawFault::TruncatedBatch),
        bytes(16).prop_map(RawFault::ExtendedBatch),
        Just(RawFault::HelloAgain),
        Just(RawFault::EmptyMessage),
        "[ -~]{0,80}".prop_map(RawFault::StrayMailAck),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => (1usize..=6, any::<Option<Index>>()).prop_map(|(len, dup)| Step::Genuine { len, dup }),
        1 => (50usize..=150).prop_map(|len| Step::Genuine { len, dup: None }),
        3 => (any::<Index>(), 1usize..=5).prop_map(|(from, len)| Step::Replay { from, len }),
        20 => ((0usize..=2), batch_fault()).prop_map(|(prefix, fault)| Step::Batch { prefix, fault }),
        6 => hello_fault().prop_map(Step::Hello),
        6 => mail_fault().prop_map(Step::Mail),
        5 => raw_fault().prop_map(Step::Raw),
    ]
}

fn case() -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(step(), 1..=MAX_STEPS)
}

// ---- what the town answers ----

#[derive(Debug)]
enum Reply {
    Welcome(pb::Welcome),
    Ack(BTreeMap<String, u64>),
    MailAck,
    Refused(Status),
    /// The stream ended without an answer: what a panicking session looks like.
    Ended,
}

impl Reply {
    fn label(&self) -> String {
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
enum Expect {
    /// Refused with one of these codes.
    Refused(&'static [Code]),
    /// Taken without changing anything (an acknowledgement that does not advance, a
    /// Welcome, a MailAck), or refused with one of these codes.
    Harmless(&'static [Code]),
}

fn fail<T>(message: impl Into<String>) -> Result<T, TestCaseError> {
    Err(TestCaseError::fail(message.into()))
}

/// The next answer of the town, skipping mail and directory updates.
async fn reply(link: &mut ByteLink) -> Result<Reply, TestCaseError> {
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
            // The fuzzed child does not announce the reconciliation feature.
            Some(pb::link_response::Message::DigestRequest(_))
            | Some(pb::link_response::Message::Resend(_)) => {
                return fail("a reconciliation message to a child without the feature");
            }
            None => return fail("an answer without a message"),
        }
    }
}

/// Opens a link whose first message is `first`: the link if the town took it, and its
/// first answer (the refusal of the call, or what came on the stream).
async fn open(ch: &Channel, first: Vec<u8>) -> Result<(Option<ByteLink>, Reply), TestCaseError> {
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

async fn send(link: &ByteLink, message: Vec<u8>) {
    // The town may have closed the stream already; its answer says why.
    let _ = link.tx.send(message).await;
}

fn request(message: pb::link_request::Message) -> Vec<u8> {
    pb::LinkRequest {
        message: Some(message),
    }
    .encode_to_vec()
}

fn batch_of(events: Vec<Vec<u8>>, units: Vec<pb::Unit>) -> Vec<u8> {
    request(pb::link_request::Message::Batch(pb::EventBatch {
        events,
        remaining: 0,
        units,
    }))
}

fn hello_of(change: impl FnOnce(&mut pb::Hello)) -> Vec<u8> {
    let mut h = hello(CHILD.code, CHILD.name, pb::UnitLevel::Ward);
    if let Some(pb::link_request::Message::Hello(h)) = &mut h.message {
        change(h);
    }
    h.encode_to_vec()
}

fn child_hello() -> Vec<u8> {
    hello_of(|_| {})
}

fn wire_unit(code: &str, name: &str, parent: &str) -> pb::Unit {
    pb::Unit {
        code: code.into(),
        name: name.into(),
        level: pb::UnitLevel::Commune as i32,
        parent_code: parent.into(),
        remote: false,
    }
}

fn decode(bytes: &[u8]) -> pb::JournalEvent {
    pb::JournalEvent::decode(bytes).unwrap()
}

fn hash(bytes: &[u8]) -> Vec<u8> {
    Sha256::digest(bytes).to_vec()
}

// ---- what the town holds ----

/// Everything a refused case must leave as it was.
#[derive(Debug, Clone, PartialEq)]
struct Snapshot {
    digest: pb::GetJournalDigestResponse,
    report: pb::Report,
    units: Vec<pb::Unit>,
    child: Records,
    other: Records,
    town: Records,
}

/// Where the debug forms of `a` and `b` first differ, with some context.
fn first_difference(a: &impl std::fmt::Debug, b: &impl std::fmt::Debug) -> String {
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

fn counts(r: &Records) -> (usize, usize, usize) {
    (r.visits.len(), r.petitions.len(), r.cases.len())
}

impl Snapshot {
    async fn take(ch: &Channel) -> Result<Snapshot, TestCaseError> {
        match tokio::time::timeout(REPLY_WAIT, Snapshot::read(ch, Vec::new())).await {
            Ok(s) => Ok(s),
            Err(_) => fail(format!("reading the town took over {REPLY_WAIT:?}")),
        }
    }

    async fn read(ch: &Channel, origins: Vec<String>) -> Snapshot {
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
    fn differences(&self, after: &Snapshot) -> String {
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

// ---- the fuzzer ----

/// Records of the child and the sibling to build forgeries from.
struct Templates {
    visit: pb::Visit,
    petition: pb::Petition,
    case: pb::Case,
    other_visit: String,
    other_petition: String,
    other_case: pb::Case,
}

struct Fuzz {
    /// A channel to the town.
    ch: Channel,
    /// The child's journal: what the commune recorded, then synthetic visits.
    events: Vec<Vec<u8>>,
    other_events: Vec<Vec<u8>>,
    templates: Templates,
    /// The model: events of the child the town applied.
    applied: AtomicUsize,
    mail_ids: AtomicU64,
    /// Answers seen, by kind of input.
    seen: Mutex<BTreeMap<String, BTreeMap<String, u32>>>,
    /// The town as last read, while nothing changed it.
    last: tokio::sync::Mutex<Option<Snapshot>>,
}

impl Fuzz {
    fn note(&self, kind: &str, reply: &Reply) {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        *seen
            .entry(kind.to_string())
            .or_default()
            .entry(reply.label())
            .or_default() += 1;
    }

    fn applied(&self) -> usize {
        self.applied.load(Ordering::SeqCst)
    }

    /// The hash the event at `index` must name as its predecessor.
    fn previous_hash(&self, index: usize) -> Vec<u8> {
        if index == 0 {
            Vec::new()
        } else {
            hash(&self.events[index - 1])
        }
    }

    async fn healthy(&self) -> Result<(), TestCaseError> {
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

    async fn snapshot(&self) -> Result<Snapshot, TestCaseError> {
        let mut last = self.last.lock().await;
        if let Some(s) = last.as_ref() {
            return Ok(s.clone());
        }
        let s = Snapshot::take(&self.ch).await?;
        *last = Some(s.clone());
        Ok(s)
    }

    async fn forget_snapshot(&self) {
        *self.last.lock().await = None;
    }

    /// A link opened as the child, welcomed at the model's position.
    async fn child_link(&self) -> Result<ByteLink, TestCaseError> {
        match open(&self.ch, child_hello()).await? {
            (Some(link), Reply::Welcome(w)) => {
                self.check_welcome(&w)?;
                Ok(link)
            }
            (_, other) => fail(format!("the child's own Hello: {other:?}")),
        }
    }

    fn check_welcome(&self, w: &pb::Welcome) -> Result<(), TestCaseError> {
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
    async fn run(&self, steps: &[Step]) -> Result<(), TestCaseError> {
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

    async fn step(&self, link: &mut Option<ByteLink>, step: &Step) -> Result<(), TestCaseError> {
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

    async fn ensure_link<'a>(
        &self,
        link: &'a mut Option<ByteLink>,
    ) -> Result<&'a mut ByteLink, TestCaseError> {
        if link.is_none() {
            *link = Some(self.child_link().await?);
        }
        Ok(link.as_mut().unwrap())
    }

    /// Checks an answer against what the case expects, and that nothing changed.
    async fn judge(
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

    async fn unchanged(&self, kind: &str, before: &Snapshot) -> Result<(), TestCaseError> {
        let after = Snapshot::take(&self.ch).await?;
        if *before != after {
            let what = before.differences(&after);
            *self.last.lock().await = Some(after);
            return fail(format!("{kind}: the town changed: {what}"));
        }
        *self.last.lock().await = Some(after);
        Ok(())
    }

    /// The events and units of a batch with `fault` after `prefix` genuine new events, and
    /// what the town must answer; `None` when the journal has too few events left.
    #[allow(clippy::type_complexity)]
    fn faulty_batch(
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
    fn forged(&self, t: usize, f: &Forgery) -> (&'static str, Expect, Vec<u8>) {
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

    fn faulty_hello(&self, a: usize, fault: &HelloFault) -> (String, Vec<u8>, Expect) {
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

    fn faulty_mail(&self, fault: &MailFault) -> (String, pb::Mail, Expect) {
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

    async fn raw(
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

// ---- set-up ----

async fn start(spec: Spec, backend: Backend) -> TestNode {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    start_node(
        TestDb::new(backend).await,
        &spec,
        None,
        &Options::default(),
        listener,
    )
    .await
}

/// Opens a link to `ch` as `spec` and applies `events` through it, in batches.
async fn feed(ch: &Channel, spec: &Spec, events: &[Vec<u8>]) {
    let first = hello(spec.code, spec.name, pb::UnitLevel::Ward).encode_to_vec();
    let (link, answer) = open(ch, first).await.unwrap();
    assert!(matches!(answer, Reply::Welcome(_)), "{answer:?}");
    let mut link = link.unwrap();
    for chunk in events.chunks(1000) {
        send(&link, batch_of(chunk.to_vec(), Vec::new())).await;
        let answer = reply(&mut link).await.unwrap();
        assert!(matches!(answer, Reply::Ack(_)), "{answer:?}");
    }
}

/// The commune's journal continued with `n` visits, chained to it.
fn continued(genuine: &[Vec<u8>], n: usize) -> Vec<Vec<u8>> {
    let template = genuine
        .iter()
        .find_map(|b| match decode(b).change {
            Some(pb::journal_event::Change::VisitRecorded(v)) => Some(v),
            _ => None,
        })
        .expect("the commune recorded a visit");
    let last = decode(genuine.last().unwrap());
    let mut out = genuine.to_vec();
    for i in 0..n {
        let mut visit = template.clone();
        visit.id = format!("{}-VZ{i}", CHILD.code);
        if let Some(t) = &mut visit.visit_time {
            t.seconds += 60 * i as i64;
        }
        let mut time = last.event_time.unwrap_or_default();
        time.seconds += i as i64;
        let event = pb::JournalEvent {
            origin_unit: CHILD.code.into(),
            sequence: out.len() as u64 + 1,
            event_time: Some(time),
            previous_hash: hash(out.last().unwrap()),
            change: Some(pb::journal_event::Change::VisitRecorded(visit)),
            action: "RecordVisit".into(),
        };
        out.push(event.encode_to_vec());
    }
    out
}

fn first_of<T>(events: &[Vec<u8>], pick: impl Fn(pb::journal_event::Change) -> Option<T>) -> T {
    events
        .iter()
        .find_map(|b| decode(b).change.and_then(&pick))
        .expect("the journal holds such a record")
}

fn templates(child: &[Vec<u8>], other: &[Vec<u8>]) -> Templates {
    use pb::journal_event::Change;
    let visit = |c: Change| match c {
        Change::VisitRecorded(v) => Some(v),
        _ => None,
    };
    let petition = |c: Change| match c {
        Change::PetitionChanged(p) => Some(p),
        _ => None,
    };
    let case = |c: Change| match c {
        Change::CaseChanged(x) => Some(x),
        _ => None,
    };
    let mut other_case: pb::Case = first_of(other, case);
    other_case.outcome = pb::CaseOutcome::ComplaintCorrect as i32;
    other_case.decision_time = other_case.accept_time;
    Templates {
        visit: first_of(child, visit),
        petition: first_of(child, petition),
        case: first_of(child, case),
        other_visit: first_of(other, visit).id,
        other_petition: first_of(other, petition).id,
        other_case,
    }
}

/// Kinds of input the generator draws rarely, once each, so every run sees them; and a valid
/// batch, a refused one and a valid one again on a new link.
fn rare_kinds() -> Vec<Vec<Step>> {
    let batch = |fault| vec![Step::Batch { prefix: 0, fault }];
    let genuine = |len| Step::Genuine { len, dup: None };
    vec![
        vec![Step::Mail(MailFault::Elsewhere("99999"))],
        vec![Step::Mail(MailFault::Elsewhere(OTHER.code))],
        vec![Step::Mail(MailFault::Elsewhere(CHILD.code))],
        vec![Step::Mail(MailFault::BadId(3))],
        vec![Step::Mail(MailFault::BadSource("abc"))],
        batch(BatchFault::Forged(Forgery::BadNanos(-1))),
        batch(BatchFault::Forged(Forgery::ControlCharacter)),
        batch(BatchFault::Forged(Forgery::RegisterSibling)),
        batch(BatchFault::Forged(Forgery::RecordUnit(Record::Case))),
        batch(BatchFault::Units(UnitsFault::ChildItself)),
        batch(BatchFault::TooMany),
        batch(BatchFault::Oversized(1)),
        vec![Step::Hello(HelloFault::NotFirst(3))],
        vec![Step::Hello(HelloFault::HugeSubtree(1999))],
        vec![Step::Hello(HelloFault::HugeSubtree(2001))],
        vec![Step::Raw(RawFault::StrayMailAck("M1".into()))],
        vec![
            genuine(2),
            Step::Batch {
                prefix: 1,
                fault: BatchFault::Gap,
            },
            genuine(1),
        ],
    ]
}

/// Cases that found bugs, kept as regression cases: those the town once accepted (which fork
/// the model's journal) and the one that kept it busy, last.
fn regressions() -> Vec<Vec<Step>> {
    let batch = |fault| vec![Step::Batch { prefix: 1, fault }];
    vec![
        vec![Step::Raw(RawFault::FirstGarbage(vec![0xff, 0xff, 0xff]))],
        vec![Step::Raw(RawFault::GarbageAfterHello(vec![0x12, 0xff]))],
        vec![Step::Mail(MailFault::ForeignTransfer)],
        vec![Step::Mail(MailFault::ForgedResult)],
        batch(BatchFault::Units(UnitsFault::NewUnitThenGap)),
        vec![Step::Hello(HelloFault::HugeHeads(20_000))],
        vec![Step::Hello(HelloFault::DeepSubtree(20))],
        batch(BatchFault::Forged(Forgery::NulScheduleId)),
        batch(BatchFault::Forged(Forgery::NulAction)),
        batch(BatchFault::Forged(Forgery::StolenId(Record::Visit))),
        batch(BatchFault::Forged(Forgery::StolenId(Record::Petition))),
        batch(BatchFault::Forged(Forgery::StolenId(Record::Case))),
        vec![Step::Hello(HelloFault::HugeSubtree(4000))],
    ]
}

async fn generated_link_traffic(backend: Backend) {
    let started = Instant::now();
    let (town, child, other) = tokio::join!(
        start(TOWN, backend),
        start(CHILD, backend),
        start(OTHER, backend)
    );
    let (child_ch, other_ch) = (child.channel().await, other.channel().await);
    tokio::join!(
        record_mix(&child_ch, "child", 6, 10),
        record_mix(&other_ch, "other", 3, 4)
    );
    let genuine = journal_bytes(&child_ch, CHILD.code).await;
    let other_events = journal_bytes(&other_ch, OTHER.code).await;
    let dbs = vec![child.stop().await, other.stop().await];
    let events = continued(&genuine, SYNTHETIC);
    let ch = town.channel().await;
    feed(&ch, &OTHER, &other_events).await;
    feed(&ch, &CHILD, &events[..HEAD_START]).await;
    let fuzz = Arc::new(Fuzz {
        ch,
        templates: templates(&genuine, &other_events),
        events,
        other_events,
        applied: AtomicUsize::new(HEAD_START),
        mail_ids: AtomicU64::new(0),
        seen: Mutex::new(BTreeMap::new()),
        last: tokio::sync::Mutex::new(None),
    });
    let setup = started.elapsed();

    // Cases that once found a bug and kinds drawn rarely, first; every failure is listed.
    let mut failures = Vec::new();
    for steps in rare_kinds().into_iter().chain(regressions()) {
        if let Err(e) = fuzz.run(&steps).await {
            failures.push(format!("{steps:?}: {e}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{backend:?}: fixed cases failed:\n{}",
        failures.join("\n")
    );

    let cases = match backend {
        Backend::Sqlite => CASES_SQLITE,
        Backend::Postgres => CASES_POSTGRES,
    };
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 64,
        max_shrink_time: 30_000,
        rng_algorithm: RngAlgorithm::ChaCha,
        ..Config::default()
    };
    let handle = tokio::runtime::Handle::current();
    let runner_fuzz = fuzz.clone();
    let result = tokio::task::spawn_blocking(move || {
        let mut runner =
            TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &SEED));
        runner
            .run(&case(), |steps| handle.block_on(runner_fuzz.run(&steps)))
            .map_err(|e| e.to_string())
    })
    .await
    .unwrap();
    let ran = started.elapsed();
    print_seen(&fuzz, backend);
    if let Err(e) = result {
        panic!("{backend:?}: {e}");
    }

    // Valid batches applied exactly once: the town holds the genuine prefix byte for byte,
    // and what a second town fed only the genuine journals holds.
    let applied = fuzz.applied();
    assert_eq!(
        journal_bytes(&fuzz.ch, CHILD.code).await,
        fuzz.events[..applied],
        "the town's copy of the child's journal"
    );
    let reference = start(TOWN, backend).await;
    let ref_ch = reference.channel().await;
    feed(&ref_ch, &OTHER, &fuzz.other_events).await;
    feed(&ref_ch, &CHILD, &fuzz.events[..applied]).await;
    let origins = vec![CHILD.code.to_string(), OTHER.code.to_string()];
    let mut held = Snapshot::read(&fuzz.ch, origins.clone()).await;
    let mut expected = Snapshot::read(&ref_ch, origins).await;
    for s in [&mut held, &mut expected] {
        // The towns' own journals differ (each registered itself at its own time).
        s.digest.heads.retain(|h| h.origin_unit != TOWN.code);
    }
    assert!(
        held == expected,
        "the fuzzed town differs from one fed only the genuine journals: {}",
        expected.differences(&held)
    );
    eprintln!(
        "{backend:?}: {cases} cases, {applied} of the child's events applied; set-up {setup:?}, \
         cases {:?}, total {:?}",
        ran - setup,
        started.elapsed()
    );
    let mut dbs = dbs;
    dbs.push(town.stop().await);
    dbs.push(reference.stop().await);
    drop_all(dbs);
}

fn print_seen(fuzz: &Fuzz, backend: Backend) {
    let seen = fuzz.seen.lock().unwrap_or_else(|p| p.into_inner());
    let mut out = format!("{backend:?}: answers by kind of input\n");
    for (kind, answers) in seen.iter() {
        let answers: Vec<String> = answers.iter().map(|(a, n)| format!("{a} ×{n}")).collect();
        out.push_str(&format!("  {kind:<36} {}\n", answers.join(", ")));
    }
    eprintln!("{out}");
}

tiepdan_tests::on_every_backend!(generated_link_traffic);

// ---- decoding alone ----

/// Decodes `bytes` as a link message and as a journal event, and converts every record
/// found the way the town does: whatever the bytes, an error or a value, never a panic.
fn decode_and_convert(bytes: &[u8]) {
    use pb::journal_event::Change;
    use tiepdan_server::wire::{self, inbound};
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
fn seeds() -> Vec<Vec<u8>> {
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
fn decoding_arbitrary_bytes_never_panics() {
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
