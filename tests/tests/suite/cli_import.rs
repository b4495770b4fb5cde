//! Importing a register through the client library into a real node: the example register of
//! thị xã Sơn Tây lands whole; importing it again, from CSV or without the state file, adds
//! nothing; an interrupted import resumes to the same end; bad records are reported by line
//! while the rest imports.

use crate::support::on_every_backend;
use std::collections::BTreeMap;
use std::fmt::Display;
use std::path::{Path, PathBuf};

use crate::support::server::UnitLevel;
use tiepdan_client::register::state::ImportState;
use tiepdan_client::register::{
    self, Action, Format, ImportError, ImportOptions, ImportReport, Record, Register,
};
use tiepdan_client::words::word_of;
use tiepdan_client::{Client, collect_pages};
use tiepdan_proto::v1 as pb;
use tiepdan_tests::{Backend, TestNode, unit};

fn ok<T, E: Display>(r: Result<T, E>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(name)
}

fn read(name: &str) -> Register {
    ok(register::read_file(&example(name), None))
}

// What the example register holds, counted by hand from examples/register-son-tay.jsonl.
const RECORDS: usize = 26;
const VISITS: usize = 5;
const PETITIONS: usize = 16;
/// Eight petitions are accepted; D-2019/003 joins the case of D-2019/002.
const CASES: usize = 7;
/// The node's own registration, then one event per change: 5 visits, 16 receipts, 15
/// decisions (each of the 8 acceptances also changes its case), 5 resolutions, 3 decisions in
/// force, 2 enforcements.
const EVENTS: u64 = 1 + 5 + 16 + (8 * 2 + 7) + 5 + 3 + 2;

/// The journal events the register's records make, counted from the parsed file, as a check
/// on the hand count above.
fn events_of(register: &Register) -> u64 {
    let mut n = 0;
    for e in &register.entries {
        n += match &e.record {
            Record::Visit(_) => 1,
            Record::Petition(p) => match p.decision.as_ref().map(|d| &d.action) {
                None => 1,
                Some(Action::Accept { .. }) => 3,
                Some(_) => 2,
            },
            Record::Resolution(r) => {
                1 + u64::from(r.effective_time.is_some()) + u64::from(r.enforcement.is_some())
            }
        };
    }
    n
}

fn son_tay() -> crate::support::server::Unit {
    unit("269", "Thị xã Sơn Tây", UnitLevel::District, Some("01"))
}

/// What the node holds, in a form to compare between nodes and runs: ids with their state.
#[derive(Debug, PartialEq)]
pub(crate) struct Holdings {
    visits: Vec<(String, u32, bool)>,
    petitions: Vec<(String, String, String, String)>,
    cases: Vec<(String, String, String, Vec<String>)>,
    last_sequence: u64,
}

pub(crate) async fn holdings(client: &Client) -> Holdings {
    let visits = ok(collect_pages(None, |page_size, page_token| async move {
        let r = client
            .list_visits(pb::ListVisitsRequest {
                page_size,
                page_token,
                ..Default::default()
            })
            .await?;
        Ok((r.visits, r.next_page_token))
    })
    .await);
    let petitions = ok(collect_pages(None, |page_size, page_token| async move {
        let r = client
            .list_petitions(pb::ListPetitionsRequest {
                page_size,
                page_token,
                ..Default::default()
            })
            .await?;
        Ok((r.petitions, r.next_page_token))
    })
    .await);
    let cases = ok(collect_pages(None, |page_size, page_token| async move {
        let r = client
            .list_cases(pb::ListCasesRequest {
                page_size,
                page_token,
                ..Default::default()
            })
            .await?;
        Ok((r.cases, r.next_page_token))
    })
    .await);
    let journal = ok(client
        .list_journal_events(pb::ListJournalEventsRequest::default())
        .await);
    let w = |v: Option<String>| v.unwrap_or_default();
    Holdings {
        visits: visits
            .into_iter()
            .map(|v| (v.id, v.persons, v.crowd_group))
            .collect(),
        petitions: petitions
            .into_iter()
            .map(|p| {
                (
                    p.id,
                    w(word_of::<pb::PetitionStatus>(p.status)),
                    w(word_of::<pb::PetitionType>(p.r#type)),
                    p.case_id,
                )
            })
            .collect(),
        cases: cases
            .into_iter()
            .map(|c| {
                (
                    c.id,
                    w(word_of::<pb::CaseStatus>(c.status)),
                    w(word_of::<pb::CaseOutcome>(c.outcome)),
                    c.petition_ids,
                )
            })
            .collect(),
        last_sequence: journal.last_sequence,
    }
}

fn count<T>(items: &[T], pick: impl Fn(&T) -> &str) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for i in items {
        *out.entry(pick(i).to_string()).or_insert(0) += 1;
    }
    out
}

fn tally(pairs: &[(&str, usize)]) -> BTreeMap<String, usize> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

fn options(state: &Path) -> ImportOptions {
    ImportOptions {
        state_path: Some(state.to_path_buf()),
        checkpoint_every: 4,
        ..ImportOptions::default()
    }
}

fn assert_report(report: &ImportReport, imported: usize, already: usize, failed: usize) {
    assert_eq!(
        (report.imported, report.already_present, report.failed),
        (imported, already, failed),
        "imported / already present / failed: {report:#?}"
    );
}

/// The example register lands whole, and importing it again — with its state, without it,
/// or from the CSV — changes nothing.
async fn import_is_whole_and_idempotent(backend: Backend) {
    let node = TestNode::start(backend, son_tay()).await;
    let client = Client::from_channel(node.channel().await);
    let dir = ok(tempfile::tempdir());
    let state = dir.path().join("state.json");
    let jsonl = read("register-son-tay.jsonl");
    assert_eq!(jsonl.len(), RECORDS);
    assert_eq!(events_of(&jsonl) + 1, EVENTS);

    let report = ok(register::import(&client, &jsonl, &options(&state)).await);
    assert_report(&report, RECORDS, 0, 0);
    assert!(report.is_complete());
    let first = holdings(&client).await;
    assert_eq!(first.visits.len(), VISITS);
    assert_eq!(first.petitions.len(), PETITIONS);
    assert_eq!(first.cases.len(), CASES);
    assert_eq!(first.last_sequence, EVENTS);
    assert_eq!(
        first.visits.iter().filter(|v| v.2).count(),
        1,
        "the group of 7 from Cổ Đông is the one crowd group"
    );
    assert_eq!(
        count(&first.petitions, |p| &p.1),
        tally(&[
            ("accepted", 8),
            ("filed", 2),
            ("guided", 1),
            ("received", 1),
            ("returned", 1),
            ("transferred", 1),
            ("urged", 1),
            ("withdrawn", 1),
        ])
    );
    assert_eq!(
        count(&first.cases, |c| &c.1),
        tally(&[
            ("enforced", 2),
            ("in_force", 1),
            ("open", 2),
            ("resolved", 2)
        ])
    );
    // D-2019/002 and D-2019/003 are one case, resolved once through either key.
    assert!(
        first
            .cases
            .iter()
            .any(|c| c.3.len() == 2 && c.1 == "resolved" && c.2 == "recommendation_answered"),
        "{:?}",
        first.cases
    );
    // Decisions carry the office's dates, not the day of the import.
    let guided = ok(client
        .list_petitions(pb::ListPetitionsRequest {
            status: pb::PetitionStatus::Guided as i32,
            ..Default::default()
        })
        .await);
    let processed = guided.petitions.first().and_then(|p| p.processed_time);
    assert_eq!(
        processed.as_ref().and_then(tiepdan_client::time::instant),
        tiepdan_client::time::parse_time("2019-02-14 10:00").ok(),
        "D-2019/004 was guided on 14 February 2019"
    );
    let saved = ok(ImportState::load(&state)).unwrap_or_else(|| panic!("no state file"));
    assert_eq!(saved.done.len(), RECORDS);

    // Again, with the state file: every record is skipped.
    let again = ok(register::import(&client, &jsonl, &options(&state)).await);
    assert_report(&again, 0, RECORDS, 0);
    assert_eq!(holdings(&client).await, first);

    // Without it: every request is sent again and answered from the node's log.
    ok(std::fs::remove_file(&state));
    let replayed = ok(register::import(&client, &jsonl, &options(&state)).await);
    assert_report(&replayed, 0, RECORDS, 0);
    assert_eq!(holdings(&client).await, first);

    // The CSV holds the same records: its requests are the same requests.
    let csv = read("register-son-tay.csv");
    let from_csv = ok(register::import(&client, &csv, &ImportOptions::default()).await);
    assert_report(&from_csv, 0, RECORDS, 0);
    assert_eq!(holdings(&client).await, first);

    // Into a node of its own, the CSV gives what the JSON Lines gave.
    let other = TestNode::start(backend, son_tay()).await;
    let other_client = Client::from_channel(other.channel().await);
    let report = ok(register::import(&other_client, &csv, &ImportOptions::default()).await);
    assert_report(&report, RECORDS, 0, 0);
    assert_eq!(holdings(&other_client).await, first);
    other.stop().await;
    node.stop().await;
}

/// An import stopped part-way, whose state file lags behind what the node has, resumes to
/// the same end as an import in one go.
async fn interrupted_import_resumes(backend: Backend) {
    let node = TestNode::start(backend, son_tay()).await;
    let client = Client::from_channel(node.channel().await);
    let dir = ok(tempfile::tempdir());
    let state = dir.path().join("state.json");
    let jsonl = read("register-son-tay.jsonl");

    let partial = ok(register::import(
        &client,
        &jsonl,
        &ImportOptions {
            limit: Some(7),
            ..options(&state)
        },
    )
    .await);
    assert_report(&partial, 7, 0, 0);
    assert_eq!(partial.not_reached, RECORDS - 7);
    assert!(!partial.is_complete());
    let midway = holdings(&client).await;
    // The first 7 records: 3 visits; 3 petitions received and accepted (the acceptance
    // changes the case too: 3 events each); 1 received and guided (2 events).
    assert_eq!(midway.visits.len(), 3);
    assert_eq!(midway.petitions.len(), 4);
    assert_eq!(midway.cases.len(), 2);
    assert_eq!(midway.last_sequence, 1 + 3 + 3 * 3 + 2);

    // A crash between checkpoints: the state file knows only the first 3 records.
    let mut lagging = ok(ImportState::load(&state)).unwrap_or_else(|| panic!("no state"));
    assert_eq!(lagging.done.len(), 7);
    let first_three: Vec<String> = jsonl
        .entries
        .iter()
        .take(3)
        .map(|e| e.key.clone())
        .collect();
    lagging.done.retain(|k, _| first_three.contains(k));
    ok(lagging.save(&state));

    let resumed = ok(register::import(&client, &jsonl, &options(&state)).await);
    assert_report(&resumed, RECORDS - 7, 7, 0);
    assert!(resumed.is_complete());
    let end = holdings(&client).await;
    assert_eq!(end.last_sequence, EVENTS);

    // The same end as a node that took the register in one go.
    let whole = TestNode::start(backend, son_tay()).await;
    let whole_client = Client::from_channel(whole.channel().await);
    ok(register::import(&whole_client, &jsonl, &ImportOptions::default()).await);
    assert_eq!(holdings(&whole_client).await, end);
    whole.stop().await;
    node.stop().await;
}

on_every_backend!(import_is_whole_and_idempotent, interrupted_import_resumes);

const BAD: &str = r#"{"type": "register", "key": "bad-2019", "unit": "269"}
{"type": "visit", "key": "V1", "visit_time": "2019-01-08 08:30", "kind": "regular", "receiver_role": "staff", "persons": 0, "matter": "first", "action": "accepted"}
{"type": "visit", "key": "V2", "visit_time": "2019-01-08 09:30", "kind": "regular", "receiver_role": "staff", "persons": 2, "matter": "first", "action": "accepted"}
{"type": "petition", "key": "P1", "received_time": "2019-01-08 08:45", "channel": "in_person", "visit": "V1", "summary": "handed in at the refused visit"}
{"type": "petition", "key": "P2", "received_time": "2019-01-08 09:45", "channel": "in_person", "visit": "V2", "summary": "guided, but within jurisdiction", "petitioner": {"full_name": "Lê Văn Minh"}, "classification": {"type": "complaint", "field": "land_housing", "complaint_round": 1, "eligibility": "eligible", "jurisdiction": "within"}, "decision": {"action": "guide", "outside_body": "Tòa án nhân dân thị xã Sơn Tây"}}
{"type": "petition", "key": "P3", "received_time": "2019-01-09", "channel": "post", "summary": "no classification for a routing decision", "decision": {"action": "file", "reason": "duplicate"}}
{"type": "petition", "key": "P4", "received_time": "2019-01-09", "channel": "post", "summary": "", "decision": {"action": "accept"}}
{"type": "petition", "key": "P5", "received_time": "2019-01-10", "channel": "post", "summary": "fine", "petitioner": {"full_name": "Đỗ Thị Thu"}}
"#;

/// Bad records are reported with their line and the node's field violations; the others
/// import, and the import says it is incomplete.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_records_are_reported_and_the_rest_imports() {
    let node = TestNode::start(Backend::Sqlite, son_tay()).await;
    let client = Client::from_channel(node.channel().await);
    let bad = ok(register::parse_str(BAD, Format::Jsonl));
    let report = ok(register::import(&client, &bad, &ImportOptions::default()).await);
    // V2 and P5 land; P2 is received, then its guide is refused.
    assert_report(&report, 2, 0, 5);
    assert!(!report.is_complete());
    let by_line = |line: usize| {
        report
            .failures
            .iter()
            .find(|f| f.line == line)
            .unwrap_or_else(|| panic!("no failure on line {line}: {:#?}", report.failures))
    };
    let v1 = by_line(2);
    assert_eq!(v1.key.as_deref(), Some("V1"));
    assert_eq!(v1.step.as_deref(), Some("visit"));
    assert_eq!(v1.violations, ["persons: between 1 and 10000"]);
    assert!(
        v1.message
            .starts_with("INVALID_ARGUMENT: persons: between 1 and 10000")
    );
    assert!(by_line(4).message.contains("\"V1\" (line 2)"));
    assert_eq!(by_line(5).reason.as_deref(), Some("WITHIN_JURISDICTION"));
    // Filing needs a classified petition.
    assert_eq!(by_line(6).reason.as_deref(), Some("TRANSITION_NOT_ALLOWED"));
    let p4 = by_line(7);
    assert_eq!(p4.step, None, "refused by the file's own checks");
    assert!(p4.message.contains("summary: required"), "{}", p4.message);
    assert!(
        p4.message.contains("decision.time: required"),
        "{}",
        p4.message
    );
    let held = holdings(&client).await;
    assert_eq!(held.visits.len(), 1);
    // P2 and P3 were received before their decision was refused; P5 is whole.
    assert_eq!(held.petitions.len(), 3);

    // Importing again retries only what is missing: the refused steps are refused again,
    // the received petitions are not received twice.
    let again = ok(register::import(&client, &bad, &ImportOptions::default()).await);
    assert_report(&again, 0, 2, 5);
    assert_eq!(holdings(&client).await, held);
    node.stop().await;
}

/// Contact details and hidden text the node refuses are reported for the import as for any
/// other client, field by field, and nothing of the record is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_nodes_checks_of_personal_details_reach_the_import() {
    let node = TestNode::start(Backend::Sqlite, son_tay()).await;
    let client = Client::from_channel(node.channel().await);
    let text = r#"{"type": "register", "key": "hidden-2019", "unit": "269"}
{"type": "petition", "key": "P1", "received_time": "2019-01-10", "channel": "post", "summary": "fine", "petitioner": {"full_name": "Đỗ Thị\u202e Thu", "id_number": "12345", "phone": "0912 345", "email": "thu at example.vn"}}
{"type": "petition", "key": "P2", "received_time": "2019-01-10", "channel": "post", "summary": "fine", "petitioner": {"full_name": "Đỗ Thị Thu", "id_number": "001078012345", "phone": "0912 345 678", "email": "thu@example.vn"}}
"#;
    let register = ok(register::parse_str(text, Format::Jsonl));
    let report = ok(register::import(&client, &register, &ImportOptions::default()).await);
    assert_report(&report, 1, 0, 1);
    let failure = &report.failures[0];
    assert_eq!(failure.key.as_deref(), Some("P1"));
    assert_eq!(failure.step.as_deref(), Some("receive"));
    let fields: Vec<&str> = failure
        .violations
        .iter()
        .filter_map(|v| v.split(':').next())
        .collect();
    assert_eq!(
        fields,
        [
            "petitioner.full_name",
            "petitioner.id_number",
            "petitioner.phone",
            "petitioner.email"
        ],
        "{failure:#?}"
    );
    assert_eq!(holdings(&client).await.petitions.len(), 1);
    node.stop().await;
}

/// A record changed after it was imported is refused, not imported a second time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_record_is_refused_not_duplicated() {
    let node = TestNode::start(Backend::Sqlite, son_tay()).await;
    let client = Client::from_channel(node.channel().await);
    let text = ok(std::fs::read_to_string(example("register-son-tay.jsonl")));
    let original = ok(register::parse_str(&text, Format::Jsonl));
    ok(register::import(&client, &original, &ImportOptions::default()).await);
    let before = holdings(&client).await;

    // D-2019/015, which no other record refers to, gets another summary.
    let edited = text.replace("khu đô thị mới Tùng Thiện", "khu đô thị Tùng Thiện");
    assert_ne!(edited, text);
    let edited = ok(register::parse_str(&edited, Format::Jsonl));
    let report = ok(register::import(&client, &edited, &ImportOptions::default()).await);
    assert_report(&report, 0, RECORDS - 1, 1);
    let failure = &report.failures[0];
    assert_eq!(failure.key.as_deref(), Some("D-2019/015"));
    assert_eq!(failure.step.as_deref(), Some("receive"));
    assert_eq!(failure.reason.as_deref(), Some("REQUEST_ID_REUSED"));
    assert_eq!(holdings(&client).await, before);
    node.stop().await;
}

/// A register of another unit is refused before anything is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_units_register_is_refused() {
    let node = TestNode::start(
        Backend::Sqlite,
        unit("09574", "Phường Ngô Quyền", UnitLevel::Ward, Some("269")),
    )
    .await;
    let client = Client::from_channel(node.channel().await);
    let jsonl = read("register-son-tay.jsonl");
    let err = register::import(&client, &jsonl, &ImportOptions::default())
        .await
        .err();
    assert!(
        matches!(
            &err,
            Some(ImportError::WrongUnit { register: theirs, node: ours })
                if theirs == "269" && ours == "09574"
        ),
        "{err:?}"
    );
    assert_eq!(holdings(&client).await.last_sequence, 1);
    node.stop().await;
}
