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

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::server::MAX_BATCH_EVENTS;
use crate::support::server::MAX_MESSAGE_BYTES;
use crate::support::*;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use prost::Message;
use sha2::{Digest, Sha256};
use tiepdan_tests::{TestDb, TestNode};
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

on_every_backend!(generated_link_traffic);

mod answers;
mod batches;
mod decoding;
mod generate;
mod hellos;
mod steps;

use answers::Expect;
use answers::*;
use generate::*;
