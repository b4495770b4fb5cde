//! Malformed input on every mutating RPC (and the listings): each is refused with
//! INVALID_ARGUMENT and `google.rpc.BadRequest` field violations naming the bad fields, and
//! nothing is stored. Each block ends by sending the valid request it mutated, which must
//! then succeed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use chrono::{Duration, Utc};
use common::*;
use prost_types::Timestamp;
use tiepdan_tests::{Backend, on_every_backend};
use tonic::Code;

use pb::Eligibility::Eligible;
use pb::Jurisdiction::{Outside, Within};
use pb::PetitionType as T;

/// Sends `$base` edited by `$edit` (with a fresh request id first) and asserts it is refused
/// with violations of exactly `$fields`. Each block checks once, before its valid request,
/// that the journal did not grow: it is append-only, so no refused request stored anything.
macro_rules! bad {
    ($api:expr, $svc:ident . $method:ident, $base:expr, |$r:ident| $edit:expr, [$($field:expr),* $(,)?]) => {{
        #[allow(unused_mut)]
        let mut $r = $base.clone();
        $r.request_id = rid();
        $edit;
        let result = $api.$svc.$method($r).await;
        expect_invalid(result, &[$($field),*]);
    }};
}

/// Sends `$base` with a fresh request id; it must succeed.
macro_rules! good {
    ($api:expr, $svc:ident . $method:ident, $base:expr) => {{
        let mut r = $base.clone();
        r.request_id = rid();
        ok($api.$svc.$method(r).await)
    }};
}

fn ts_raw(seconds: i64, nanos: i32) -> Option<Timestamp> {
    Some(Timestamp { seconds, nanos })
}

/// Timestamps that no "when it happened" field accepts.
fn bad_past_times() -> Vec<Option<Timestamp>> {
    let now = Utc::now();
    vec![
        None,
        ts_raw(1_700_000_000, -1),
        ts_raw(1_700_000_000, 1_000_000_000),
        ts_raw(i64::MAX, 0),
        ts_raw(i64::MIN, 0),
        ts(now + Duration::hours(1)),
        ts(now + Duration::days(400)),
        ts(utc(1900, 1, 1, 0, 0, 0)),
        ts(utc(1945, 9, 1, 23, 59, 59)),
    ]
}

/// Malformed request ids.
fn bad_request_ids() -> Vec<String> {
    vec![
        String::new(),
        "x".repeat(129),
        "has space".into(),
        "tab\tid".into(),
        "mã-yêu-cầu".into(),
        "nul\0".into(),
    ]
}

fn long(n: usize) -> String {
    "ữ".repeat(n)
}

/// Invisible formatting characters that can hide or reorder what a reader sees: the bidi
/// embeddings, overrides, isolates and marks, and the zero-width characters.
const INVISIBLE: &[char] = &[
    '\u{202a}', '\u{202b}', '\u{202c}', '\u{202d}', '\u{202e}', '\u{2066}', '\u{2067}', '\u{2068}',
    '\u{2069}', '\u{200e}', '\u{200f}', '\u{061c}', '\u{200b}', '\u{200c}', '\u{200d}', '\u{2060}',
    '\u{feff}',
];

/// `Nguyễn Văn A` with one invisible character in it, for each of [`INVISIBLE`].
fn hidden() -> Vec<String> {
    INVISIBLE
        .iter()
        .map(|c| format!("Nguyễn{c} Văn A"))
        .collect()
}

/// Text no free-text field accepts: over 4000 characters, with control characters, or with
/// invisible formatting characters.
fn bad_texts() -> Vec<String> {
    let mut texts = vec![
        long(4001),
        "bell\u{7}".into(),
        "nul\0byte".into(),
        "escape \u{1b}[31m".into(),
        "del\u{7f}".into(),
        "c1\u{85}".into(),
    ];
    texts.extend(hidden());
    texts
}

/// Names no name-like field accepts: over 300 characters, with control characters, or with
/// invisible formatting characters.
fn bad_names() -> Vec<String> {
    let mut names = vec![long(301), "x\u{8}".into(), "a\nb\u{0}".into()];
    names.extend(hidden());
    names
}

/// ID numbers refused: a CCCD has exactly 12 digits, an old CMND exactly 9.
fn bad_id_numbers() -> Vec<&'static str> {
    vec![
        "000000000000000000000000000000000",
        "12345678",
        "1234567890",
        "12345678901",
        "0010780123456",
        "00107801234a",
        "001 078 012 345",
        "B1234567",
        "０１２３４５６７８",
        "-12345678",
    ]
}

/// Phone numbers refused (the rule is in `validate.rs`: separators dropped, an optional
/// +84 or 0, then 9 or 10 digits not starting with 0).
fn bad_phones() -> Vec<&'static str> {
    vec![
        "09\u{0}12",
        "0912",
        "09123456789012",
        "+1 202 555 0100",
        "+84 0912 345 678",
        "84912345678",
        "0912 abc 678",
        "tel: 0912345678",
        "０９１２３４５６７８",
        "++84912345678",
        "0912\u{200b}345678",
    ]
}

/// E-mail addresses refused.
fn bad_emails() -> Vec<String> {
    vec![
        "a".into(),
        "@x.vn".into(),
        "a@".into(),
        "a@b".into(),
        "a@@b.vn".into(),
        "a@b@c.vn".into(),
        "a b@x.vn".into(),
        "a@x .vn".into(),
        "a@.vn".into(),
        "a@x..vn".into(),
        "a@x.vn.".into(),
        format!("{}@x.vn", "a".repeat(250)),
    ]
}

async fn register_unit_refuses_bad_input(backend: Backend) {
    let mut api = Api::start(backend).await;
    let base = pb::RegisterUnitRequest {
        request_id: rid(),
        unit: Some(pb::Unit {
            code: "09574".into(),
            name: "Phường Ngô Quyền".into(),
            level: pb::UnitLevel::Ward as i32,
            parent_code: HOME.into(),
            remote: false,
        }),
    };
    let seq = api.last_seq().await;
    for id in bad_request_ids() {
        bad!(
            api,
            units.register_unit,
            base,
            |r| r.request_id = id.clone(),
            ["request_id"]
        );
    }
    bad!(api, units.register_unit, base, |r| r.unit = None, ["unit"]);
    for code in ["", "1", "123456", "12a", "０１", " 269", "-12"] {
        bad!(
            api,
            units.register_unit,
            base,
            |r| r.unit.as_mut().unwrap().code = code.into(),
            ["unit.code"]
        );
        bad!(
            api,
            units.register_unit,
            base,
            |r| r.unit.as_mut().unwrap().parent_code = code.into(),
            ["unit.parent_code"]
        );
    }
    for level in [0, 6, 99, -1] {
        bad!(
            api,
            units.register_unit,
            base,
            |r| r.unit.as_mut().unwrap().level = level,
            ["unit.level"]
        );
    }
    for name in bad_names()
        .into_iter()
        .chain(["".to_string(), "   ".to_string()])
    {
        bad!(
            api,
            units.register_unit,
            base,
            |r| r.unit.as_mut().unwrap().name = name.clone(),
            ["unit.name"]
        );
    }
    // Every violation at once.
    bad!(
        api,
        units.register_unit,
        base,
        |r| {
            r.request_id = String::new();
            r.unit = Some(pb::Unit::default());
        },
        [
            "request_id",
            "unit.code",
            "unit.name",
            "unit.parent_code",
            "unit.level"
        ]
    );
    // What needs the database: an unknown parent, the node's own unit, a cycle.
    bad!(
        api,
        units.register_unit,
        base,
        |r| r.unit.as_mut().unwrap().parent_code = "27".into(),
        ["unit.parent_code"]
    );
    bad!(
        api,
        units.register_unit,
        base,
        |r| r.unit.as_mut().unwrap().code = HOME.into(),
        ["unit.code"]
    );
    bad!(
        api,
        units.register_unit,
        base,
        |r| r.unit.as_mut().unwrap().parent_code = "09574".into(),
        ["unit.parent_code"]
    );
    let units = ok(api.units.list_units(pb::ListUnitsRequest::default()).await).units;
    assert_eq!(units.len(), 1, "nothing registered");

    assert_eq!(
        api.last_seq().await,
        seq,
        "a refused request stored an event"
    );
    let unit = good!(api, units.register_unit, base).unit.unwrap();
    assert_eq!(unit.code, "09574");
    // Re-parenting a unit below its own child is refused.
    api.register_unit("09575", "09574", "Tổ dân phố").await;
    let seq = api.last_seq().await;
    bad!(
        api,
        units.register_unit,
        base,
        |r| r.unit.as_mut().unwrap().parent_code = "09575".into(),
        ["unit.parent_code"]
    );
    assert_eq!(api.last_seq().await, seq);
    api.stop().await;
}

async fn reception_rpcs_refuse_bad_input(backend: Backend) {
    let mut api = Api::start(backend).await;
    let t0 = ago(10);

    // RecordVisit
    let base = visit_req(t0, pb::ReceiverRole::Staff, 2);
    let seq = api.last_seq().await;
    for id in bad_request_ids() {
        bad!(
            api,
            reception.record_visit,
            base,
            |r| r.request_id = id.clone(),
            ["request_id"]
        );
    }
    for t in bad_past_times() {
        bad!(
            api,
            reception.record_visit,
            base,
            |r| r.visit_time = t,
            ["visit_time"]
        );
    }
    for v in [0, 4, 99, -7] {
        bad!(api, reception.record_visit, base, |r| r.kind = v, ["kind"]);
        bad!(
            api,
            reception.record_visit,
            base,
            |r| r.matter = v,
            ["matter"]
        );
        bad!(
            api,
            reception.record_visit,
            base,
            |r| r.action = v,
            ["action"]
        );
    }
    for v in [0, 5, 99, -1] {
        bad!(
            api,
            reception.record_visit,
            base,
            |r| r.receiver_role = v,
            ["receiver_role"]
        );
    }
    for persons in [0, 10_001, u32::MAX] {
        bad!(
            api,
            reception.record_visit,
            base,
            |r| r.persons = persons,
            ["persons"]
        );
    }
    for name in bad_names() {
        bad!(
            api,
            reception.record_visit,
            base,
            |r| r.receiver_name = name.clone(),
            ["receiver_name"]
        );
    }
    for text in bad_texts() {
        bad!(
            api,
            reception.record_visit,
            base,
            |r| r.summary = text.clone(),
            ["summary"]
        );
    }
    for id in ["has space", "a/b", "../x", &"v".repeat(65)] {
        bad!(
            api,
            reception.record_visit,
            base,
            |r| r.schedule_entry_id = id.to_string(),
            ["schedule_entry_id"]
        );
    }
    // A periodic reception is a head's session.
    bad!(
        api,
        reception.record_visit,
        base,
        |r| r.kind = pb::ReceptionKind::Periodic as i32,
        ["receiver_role"]
    );
    bad!(
        api,
        reception.record_visit,
        pb::RecordVisitRequest::default(),
        |r| r.request_id = String::new(),
        [
            "request_id",
            "visit_time",
            "kind",
            "receiver_role",
            "matter",
            "action",
            "persons"
        ]
    );
    let mut unknown = base.clone();
    unknown.request_id = rid();
    unknown.schedule_entry_id = "269-S999".into();
    expect_not_found(api.reception.record_visit(unknown).await);
    assert_eq!(api.last_seq().await, seq);
    let visits = ok(api
        .reception
        .list_visits(pb::ListVisitsRequest::default())
        .await)
    .visits;
    assert!(visits.is_empty(), "no visit stored: {visits:?}");
    // Text limits count characters, not bytes; newlines and tabs are text.
    let mut fine = base.clone();
    fine.summary = format!("{}\n\t", long(3998));
    assert_eq!(
        api.last_seq().await,
        seq,
        "a refused request stored an event"
    );
    let visit = good!(api, reception.record_visit, fine).visit.unwrap();
    assert_eq!(visit.summary.chars().count(), 4000);

    // PublishScheduleEntry
    let start = local(2031, 4, 7, 8, 0, 0);
    let base = pb::PublishScheduleEntryRequest {
        request_id: rid(),
        receiver_role: pb::ReceiverRole::CommitteeChairman as i32,
        receiver_name: "Nguyễn Văn C".into(),
        start_time: ts(start),
        end_time: ts(start + Duration::hours(3)),
        location: "Trụ sở tiếp công dân thị xã".into(),
    };
    let seq = api.last_seq().await;
    for id in bad_request_ids() {
        bad!(
            api,
            reception.publish_schedule_entry,
            base,
            |r| r.request_id = id.clone(),
            ["request_id"]
        );
    }
    for v in [0, 99, -2, pb::ReceiverRole::Staff as i32] {
        bad!(
            api,
            reception.publish_schedule_entry,
            base,
            |r| r.receiver_role = v,
            ["receiver_role"]
        );
    }
    for t in [
        None,
        ts_raw(1_900_000_000, -5),
        ts_raw(1_900_000_000, 1_000_000_000),
        ts_raw(i64::MAX, 0),
    ] {
        bad!(
            api,
            reception.publish_schedule_entry,
            base,
            |r| r.start_time = t,
            ["start_time"]
        );
        bad!(
            api,
            reception.publish_schedule_entry,
            base,
            |r| r.end_time = t,
            ["end_time"]
        );
    }
    // The end must follow the start on the same local day.
    for end in [
        start,
        start - Duration::minutes(1),
        local(2031, 4, 8, 0, 0, 0),
        local(2031, 4, 8, 9, 0, 0),
    ] {
        bad!(
            api,
            reception.publish_schedule_entry,
            base,
            |r| r.end_time = ts(end),
            ["end_time"]
        );
    }
    for name in bad_names().into_iter().chain([String::new()]) {
        bad!(
            api,
            reception.publish_schedule_entry,
            base,
            |r| r.receiver_name = name.clone(),
            ["receiver_name"]
        );
        bad!(
            api,
            reception.publish_schedule_entry,
            base,
            |r| r.location = name.clone(),
            ["location"]
        );
    }
    bad!(
        api,
        reception.publish_schedule_entry,
        pb::PublishScheduleEntryRequest::default(),
        |r| r.request_id = String::new(),
        [
            "request_id",
            "receiver_role",
            "start_time",
            "end_time",
            "receiver_name",
            "location"
        ]
    );
    let entries = ok(api
        .reception
        .list_schedule_entries(pb::ListScheduleEntriesRequest::default())
        .await)
    .entries;
    assert!(entries.is_empty());
    assert_eq!(
        api.last_seq().await,
        seq,
        "a refused request stored an event"
    );
    good!(api, reception.publish_schedule_entry, base);

    // RecordConclusion
    let head = api.visit(t0, pb::ReceiverRole::CouncilDelegate, 1).await;
    let base = pb::RecordConclusionRequest {
        request_id: rid(),
        visit_id: head.id.clone(),
        text: "Đề nghị UBND xã kiểm tra".into(),
        assignee: "UBND xã Đường Lâm".into(),
        conclusion_time: ts(t0 + Duration::hours(1)),
    };
    let seq = api.last_seq().await;
    for id in bad_request_ids() {
        bad!(
            api,
            reception.record_conclusion,
            base,
            |r| r.request_id = id.clone(),
            ["request_id"]
        );
    }
    for id in ["", "has space", "a/b", "ý"] {
        bad!(
            api,
            reception.record_conclusion,
            base,
            |r| r.visit_id = id.into(),
            ["visit_id"]
        );
    }
    for text in bad_texts()
        .into_iter()
        .chain([String::new(), " \n ".into()])
    {
        bad!(
            api,
            reception.record_conclusion,
            base,
            |r| r.text = text.clone(),
            ["text"]
        );
    }
    for name in bad_names().into_iter().chain([String::new()]) {
        bad!(
            api,
            reception.record_conclusion,
            base,
            |r| r.assignee = name.clone(),
            ["assignee"]
        );
    }
    for t in bad_past_times() {
        bad!(
            api,
            reception.record_conclusion,
            base,
            |r| r.conclusion_time = t,
            ["conclusion_time"]
        );
    }
    bad!(
        api,
        reception.record_conclusion,
        pb::RecordConclusionRequest::default(),
        |r| r.request_id = String::new(),
        [
            "request_id",
            "visit_id",
            "text",
            "assignee",
            "conclusion_time"
        ]
    );
    let conclusions = ok(api
        .reception
        .list_conclusions(pb::ListConclusionsRequest::default())
        .await)
    .conclusions;
    assert!(conclusions.is_empty());
    assert_eq!(
        api.last_seq().await,
        seq,
        "a refused request stored an event"
    );
    let conclusion = good!(api, reception.record_conclusion, base)
        .conclusion
        .unwrap();

    // UpdateConclusion
    let base = pb::UpdateConclusionRequest {
        request_id: rid(),
        conclusion_id: conclusion.id.clone(),
        status: pb::ConclusionStatus::InProgress as i32,
        progress_note: "đang kiểm tra".into(),
        update_time: ts(t0 + Duration::hours(2)),
    };
    let seq = api.last_seq().await;
    for id in bad_request_ids() {
        bad!(
            api,
            reception.update_conclusion,
            base,
            |r| r.request_id = id.clone(),
            ["request_id"]
        );
    }
    for id in ["", "has space", "a;b"] {
        bad!(
            api,
            reception.update_conclusion,
            base,
            |r| r.conclusion_id = id.into(),
            ["conclusion_id"]
        );
    }
    for v in [0, 4, 99, -1, pb::ConclusionStatus::Pending as i32] {
        bad!(
            api,
            reception.update_conclusion,
            base,
            |r| r.status = v,
            ["status"]
        );
    }
    for text in bad_texts() {
        bad!(
            api,
            reception.update_conclusion,
            base,
            |r| r.progress_note = text.clone(),
            ["progress_note"]
        );
    }
    for t in bad_past_times() {
        bad!(
            api,
            reception.update_conclusion,
            base,
            |r| r.update_time = t,
            ["update_time"]
        );
    }
    bad!(
        api,
        reception.update_conclusion,
        pb::UpdateConclusionRequest::default(),
        |r| r.request_id = String::new(),
        ["request_id", "conclusion_id", "status", "update_time"]
    );
    let listed = ok(api
        .reception
        .list_conclusions(pb::ListConclusionsRequest::default())
        .await)
    .conclusions;
    assert_eq!(listed, vec![conclusion], "conclusion unchanged");
    assert_eq!(
        api.last_seq().await,
        seq,
        "a refused request stored an event"
    );
    let updated = good!(api, reception.update_conclusion, base)
        .conclusion
        .unwrap();
    assert_eq!(updated.status, pb::ConclusionStatus::InProgress as i32);
    api.stop().await;
}

async fn petition_intake_refuses_bad_input(backend: Backend) {
    let mut api = Api::start(backend).await;
    let t0 = ago(10);

    // ReceivePetition
    let base = receive_req(t0, Some(class(T::Complaint, Eligible, Within)));
    let seq = api.last_seq().await;
    for id in bad_request_ids() {
        bad!(
            api,
            petitions.receive_petition,
            base,
            |r| r.request_id = id.clone(),
            ["request_id"]
        );
    }
    for t in bad_past_times() {
        bad!(
            api,
            petitions.receive_petition,
            base,
            |r| r.received_time = t,
            ["received_time"]
        );
    }
    for v in [0, 5, 99, -1] {
        bad!(
            api,
            petitions.receive_petition,
            base,
            |r| r.channel = v,
            ["channel"]
        );
    }
    for text in bad_texts()
        .into_iter()
        .chain([String::new(), "  \t ".into()])
    {
        bad!(
            api,
            petitions.receive_petition,
            base,
            |r| r.summary = text.clone(),
            ["summary"]
        );
    }
    bad!(
        api,
        petitions.receive_petition,
        base,
        |r| r.signers = 100_001,
        ["signers"]
    );
    for id in ["has space", "a/b", &"v".repeat(65)] {
        bad!(
            api,
            petitions.receive_petition,
            base,
            |r| r.visit_id = id.to_string(),
            ["visit_id"]
        );
    }
    for name in bad_names().into_iter().chain([String::new(), "   ".into()]) {
        bad!(
            api,
            petitions.receive_petition,
            base,
            |r| r.petitioner.as_mut().unwrap().full_name = name.clone(),
            ["petitioner.full_name"]
        );
    }
    for name in bad_names() {
        bad!(
            api,
            petitions.receive_petition,
            base,
            |r| r.petitioner.as_mut().unwrap().address = name.clone(),
            ["petitioner.address"]
        );
        bad!(
            api,
            petitions.receive_petition,
            base,
            |r| r.petitioner.as_mut().unwrap().email = name.clone(),
            ["petitioner.email"]
        );
    }
    for id_number in bad_id_numbers() {
        bad!(
            api,
            petitions.receive_petition,
            base,
            |r| r.petitioner.as_mut().unwrap().id_number = id_number.to_string(),
            ["petitioner.id_number"]
        );
    }
    for phone in bad_phones() {
        bad!(
            api,
            petitions.receive_petition,
            base,
            |r| r.petitioner.as_mut().unwrap().phone = phone.to_string(),
            ["petitioner.phone"]
        );
    }
    for email in bad_emails() {
        bad!(
            api,
            petitions.receive_petition,
            base,
            |r| r.petitioner.as_mut().unwrap().email = email.clone(),
            ["petitioner.email"]
        );
    }
    for v in [0, 5, 99, -1] {
        bad!(
            api,
            petitions.receive_petition,
            base,
            |r| r.classification.as_mut().unwrap().r#type = v,
            ["classification.type"]
        );
    }
    for v in [0, 7, 99] {
        bad!(
            api,
            petitions.receive_petition,
            base,
            |r| r.classification.as_mut().unwrap().field = v,
            ["classification.field"]
        );
    }
    for v in [0, 3, 99] {
        bad!(
            api,
            petitions.receive_petition,
            base,
            |r| r.classification.as_mut().unwrap().eligibility = v,
            ["classification.eligibility"]
        );
        bad!(
            api,
            petitions.receive_petition,
            base,
            |r| r.classification.as_mut().unwrap().jurisdiction = v,
            ["classification.jurisdiction"]
        );
    }
    for round in [0, 3, 99] {
        bad!(
            api,
            petitions.receive_petition,
            base,
            |r| r.classification.as_mut().unwrap().complaint_round = round,
            ["classification.complaint_round"]
        );
    }
    bad!(
        api,
        petitions.receive_petition,
        base,
        |r| r.classification = Some(pb::Classification::default()),
        [
            "classification.type",
            "classification.field",
            "classification.eligibility",
            "classification.jurisdiction"
        ]
    );
    bad!(
        api,
        petitions.receive_petition,
        pb::ReceivePetitionRequest::default(),
        |r| r.request_id = String::new(),
        ["request_id", "received_time", "channel", "summary"]
    );
    // Unknown visit.
    let mut unknown = base.clone();
    unknown.request_id = rid();
    unknown.visit_id = "269-V42".into();
    expect_not_found(api.petitions.receive_petition(unknown).await);
    assert_eq!(api.last_seq().await, seq);
    let listed = ok(api
        .petitions
        .list_petitions(pb::ListPetitionsRequest::default())
        .await)
    .petitions;
    assert!(listed.is_empty(), "no petition stored");

    // The edges that are accepted: a few seconds of client clock skew, 4000 characters,
    // 128-character request ids.
    let mut edge = base.clone();
    edge.received_time = ts(Utc::now() + Duration::seconds(30));
    edge.summary = long(4000);
    assert_eq!(
        api.last_seq().await,
        seq,
        "a refused request stored an event"
    );
    good!(api, petitions.receive_petition, edge);
    let mut edge = base.clone();
    edge.request_id = "x".repeat(128);
    ok(api.petitions.receive_petition(edge).await);
    let p = good!(api, petitions.receive_petition, receive_req(t0, None))
        .petition
        .unwrap();

    // ClassifyPetition
    let before = api.get_petition(&p.id).await;
    let base = pb::ClassifyPetitionRequest {
        request_id: rid(),
        petition_id: p.id.clone(),
        classification: Some(class(T::Denunciation, Eligible, Within)),
        ..Default::default()
    };
    let seq = api.last_seq().await;
    for id in bad_request_ids() {
        bad!(
            api,
            petitions.classify_petition,
            base,
            |r| r.request_id = id.clone(),
            ["request_id"]
        );
    }
    for id in ["", "has space", "p\u{0}", &"p".repeat(65)] {
        bad!(
            api,
            petitions.classify_petition,
            base,
            |r| r.petition_id = id.to_string(),
            ["petition_id"]
        );
    }
    bad!(
        api,
        petitions.classify_petition,
        base,
        |r| r.classification = None,
        ["classification"]
    );
    for v in [0, 99] {
        bad!(
            api,
            petitions.classify_petition,
            base,
            |r| r.classification.as_mut().unwrap().r#type = v,
            ["classification.type"]
        );
        bad!(
            api,
            petitions.classify_petition,
            base,
            |r| r.classification.as_mut().unwrap().field = v,
            ["classification.field"]
        );
        bad!(
            api,
            petitions.classify_petition,
            base,
            |r| r.classification.as_mut().unwrap().eligibility = v,
            ["classification.eligibility"]
        );
        bad!(
            api,
            petitions.classify_petition,
            base,
            |r| r.classification.as_mut().unwrap().jurisdiction = v,
            ["classification.jurisdiction"]
        );
    }
    bad!(
        api,
        petitions.classify_petition,
        base,
        |r| r.classification.as_mut().unwrap().complaint_round = 2,
        ["classification.complaint_round"]
    );
    bad!(
        api,
        petitions.classify_petition,
        pb::ClassifyPetitionRequest::default(),
        |r| r.request_id = String::new(),
        ["request_id", "petition_id", "classification"]
    );
    for t in bad_past_times().into_iter().skip(1) {
        bad!(
            api,
            petitions.classify_petition,
            base,
            |r| r.decision_time = t,
            ["decision_time"]
        );
    }
    bad!(
        api,
        petitions.classify_petition,
        base,
        |r| r.decision_time = ts(instant(&p.received_time) - Duration::seconds(1)),
        ["decision_time"]
    );
    assert_eq!(api.get_petition(&p.id).await, before);
    assert_eq!(
        api.last_seq().await,
        seq,
        "a refused request stored an event"
    );
    good!(api, petitions.classify_petition, base);

    // AcceptPetition
    let before = api.get_petition(&p.id).await;
    let received = instant(&p.received_time);
    let base = accept_req(&p.id, received + Duration::hours(1), false);
    let seq = api.last_seq().await;
    for id in bad_request_ids() {
        bad!(
            api,
            petitions.accept_petition,
            base,
            |r| r.request_id = id.clone(),
            ["request_id"]
        );
    }
    for id in ["", "a b", "x\u{7f}"] {
        bad!(
            api,
            petitions.accept_petition,
            base,
            |r| r.petition_id = id.into(),
            ["petition_id"]
        );
    }
    for t in bad_past_times() {
        bad!(
            api,
            petitions.accept_petition,
            base,
            |r| r.accept_time = t,
            ["accept_time"]
        );
    }
    bad!(
        api,
        petitions.accept_petition,
        base,
        |r| r.accept_time = ts(received - Duration::seconds(1)),
        ["accept_time"]
    );
    bad!(
        api,
        petitions.accept_petition,
        base,
        |r| r.target = None,
        ["target"]
    );
    for id in ["", "a b", "c#1"] {
        bad!(
            api,
            petitions.accept_petition,
            base,
            |r| r.target = Some(pb::accept_petition_request::Target::CaseId(id.into())),
            ["case_id"]
        );
    }
    bad!(
        api,
        petitions.accept_petition,
        pb::AcceptPetitionRequest::default(),
        |r| r.request_id = String::new(),
        ["request_id", "petition_id", "accept_time", "target"]
    );
    assert_eq!(api.get_petition(&p.id).await, before);
    let cases = ok(api.cases.list_cases(pb::ListCasesRequest::default()).await).cases;
    assert!(cases.is_empty(), "no case opened");
    assert_eq!(
        api.last_seq().await,
        seq,
        "a refused request stored an event"
    );
    good!(api, petitions.accept_petition, base);
    api.stop().await;
}

async fn petition_routing_refuses_bad_input(backend: Backend) {
    let mut api = Api::start(backend).await;
    api.register_unit("09574", HOME, "Phường Ngô Quyền").await;
    let t0 = ago(10);

    // GuidePetition
    let p = api.receive_as(t0, T::Complaint, Eligible, Outside).await;
    let before = api.get_petition(&p.id).await;
    let base = pb::GuidePetitionRequest {
        request_id: rid(),
        petition_id: p.id.clone(),
        outside_body: "Tòa án nhân dân".into(),
        note: "hướng dẫn".into(),
        ..Default::default()
    };
    let seq = api.last_seq().await;
    for id in bad_request_ids() {
        bad!(
            api,
            petitions.guide_petition,
            base,
            |r| r.request_id = id.clone(),
            ["request_id"]
        );
    }
    for id in ["", "a b"] {
        bad!(
            api,
            petitions.guide_petition,
            base,
            |r| r.petition_id = id.into(),
            ["petition_id"]
        );
    }
    for name in bad_names().into_iter().chain([String::new(), " ".into()]) {
        bad!(
            api,
            petitions.guide_petition,
            base,
            |r| r.outside_body = name.clone(),
            ["outside_body"]
        );
    }
    for text in bad_texts() {
        bad!(
            api,
            petitions.guide_petition,
            base,
            |r| r.note = text.clone(),
            ["note"]
        );
    }
    bad!(
        api,
        petitions.guide_petition,
        pb::GuidePetitionRequest::default(),
        |r| r.request_id = String::new(),
        ["request_id", "petition_id", "outside_body"]
    );
    for t in bad_past_times().into_iter().skip(1) {
        bad!(
            api,
            petitions.guide_petition,
            base,
            |r| r.decision_time = t,
            ["decision_time"]
        );
    }
    bad!(
        api,
        petitions.guide_petition,
        base,
        |r| r.decision_time = ts(instant(&p.received_time) - Duration::seconds(1)),
        ["decision_time"]
    );
    assert_eq!(api.get_petition(&p.id).await, before);
    assert_eq!(
        api.last_seq().await,
        seq,
        "a refused request stored an event"
    );
    good!(api, petitions.guide_petition, base);

    // TransferPetition
    let p = api.receive_as(t0, T::Denunciation, Eligible, Outside).await;
    let before = api.get_petition(&p.id).await;
    let base = pb::TransferPetitionRequest {
        request_id: rid(),
        petition_id: p.id.clone(),
        destination: Some(pb::transfer_petition_request::Destination::UnitCode(
            "09574".into(),
        )),
        note: String::new(),
        ..Default::default()
    };
    let seq = api.last_seq().await;
    for id in bad_request_ids() {
        bad!(
            api,
            petitions.transfer_petition,
            base,
            |r| r.request_id = id.clone(),
            ["request_id"]
        );
    }
    for id in ["", "a b"] {
        bad!(
            api,
            petitions.transfer_petition,
            base,
            |r| r.petition_id = id.into(),
            ["petition_id"]
        );
    }
    bad!(
        api,
        petitions.transfer_petition,
        base,
        |r| r.destination = None,
        ["destination"]
    );
    for code in ["", "1", "123456", "09a74", "09574 "] {
        bad!(
            api,
            petitions.transfer_petition,
            base,
            |r| r.destination = Some(pb::transfer_petition_request::Destination::UnitCode(
                code.into()
            )),
            ["unit_code"]
        );
    }
    for name in bad_names().into_iter().chain([String::new()]) {
        bad!(
            api,
            petitions.transfer_petition,
            base,
            |r| r.destination = Some(pb::transfer_petition_request::Destination::OutsideBody(
                name.clone()
            )),
            ["outside_body"]
        );
    }
    for text in bad_texts() {
        bad!(
            api,
            petitions.transfer_petition,
            base,
            |r| r.note = text.clone(),
            ["note"]
        );
    }
    bad!(
        api,
        petitions.transfer_petition,
        pb::TransferPetitionRequest::default(),
        |r| r.request_id = String::new(),
        ["request_id", "petition_id", "destination"]
    );
    for t in bad_past_times().into_iter().skip(1) {
        bad!(
            api,
            petitions.transfer_petition,
            base,
            |r| r.decision_time = t,
            ["decision_time"]
        );
    }
    bad!(
        api,
        petitions.transfer_petition,
        base,
        |r| r.decision_time = ts(instant(&p.received_time) - Duration::seconds(1)),
        ["decision_time"]
    );
    assert_eq!(api.get_petition(&p.id).await, before);
    assert_eq!(
        api.last_seq().await,
        seq,
        "a refused request stored an event"
    );
    good!(api, petitions.transfer_petition, base);

    // UrgePetition
    let p = api.receive_as(t0, T::Complaint, Eligible, Outside).await;
    let before = api.get_petition(&p.id).await;
    let base = pb::UrgePetitionRequest {
        request_id: rid(),
        petition_id: p.id.clone(),
        outside_body: "UBND phường Ngô Quyền".into(),
        note: String::new(),
        ..Default::default()
    };
    let seq = api.last_seq().await;
    for id in bad_request_ids() {
        bad!(
            api,
            petitions.urge_petition,
            base,
            |r| r.request_id = id.clone(),
            ["request_id"]
        );
    }
    for id in ["", "a b"] {
        bad!(
            api,
            petitions.urge_petition,
            base,
            |r| r.petition_id = id.into(),
            ["petition_id"]
        );
    }
    for name in bad_names().into_iter().chain([String::new()]) {
        bad!(
            api,
            petitions.urge_petition,
            base,
            |r| r.outside_body = name.clone(),
            ["outside_body"]
        );
    }
    for text in bad_texts() {
        bad!(
            api,
            petitions.urge_petition,
            base,
            |r| r.note = text.clone(),
            ["note"]
        );
    }
    for t in bad_past_times().into_iter().skip(1) {
        bad!(
            api,
            petitions.urge_petition,
            base,
            |r| r.decision_time = t,
            ["decision_time"]
        );
    }
    bad!(
        api,
        petitions.urge_petition,
        base,
        |r| r.decision_time = ts(instant(&p.received_time) - Duration::seconds(1)),
        ["decision_time"]
    );
    assert_eq!(api.get_petition(&p.id).await, before);
    assert_eq!(
        api.last_seq().await,
        seq,
        "a refused request stored an event"
    );
    good!(api, petitions.urge_petition, base);

    // ReturnPetition
    let p = api.receive_as(t0, T::Complaint, Eligible, Within).await;
    let before = api.get_petition(&p.id).await;
    let base = pb::ReturnPetitionRequest {
        request_id: rid(),
        petition_id: p.id.clone(),
        note: "đơn không rõ nội dung".into(),
        ..Default::default()
    };
    let seq = api.last_seq().await;
    for id in bad_request_ids() {
        bad!(
            api,
            petitions.return_petition,
            base,
            |r| r.request_id = id.clone(),
            ["request_id"]
        );
    }
    for id in ["", "a b"] {
        bad!(
            api,
            petitions.return_petition,
            base,
            |r| r.petition_id = id.into(),
            ["petition_id"]
        );
    }
    for text in bad_texts().into_iter().chain([String::new(), "\n".into()]) {
        bad!(
            api,
            petitions.return_petition,
            base,
            |r| r.note = text.clone(),
            ["note"]
        );
    }
    for t in bad_past_times().into_iter().skip(1) {
        bad!(
            api,
            petitions.return_petition,
            base,
            |r| r.decision_time = t,
            ["decision_time"]
        );
    }
    bad!(
        api,
        petitions.return_petition,
        base,
        |r| r.decision_time = ts(instant(&p.received_time) - Duration::seconds(1)),
        ["decision_time"]
    );
    assert_eq!(api.get_petition(&p.id).await, before);
    assert_eq!(
        api.last_seq().await,
        seq,
        "a refused request stored an event"
    );
    good!(api, petitions.return_petition, base);

    // WithdrawPetition
    let p = api.receive(t0, None).await;
    let before = api.get_petition(&p.id).await;
    let base = pb::WithdrawPetitionRequest {
        request_id: rid(),
        petition_id: p.id.clone(),
        note: String::new(),
        ..Default::default()
    };
    let seq = api.last_seq().await;
    for id in bad_request_ids() {
        bad!(
            api,
            petitions.withdraw_petition,
            base,
            |r| r.request_id = id.clone(),
            ["request_id"]
        );
    }
    for id in ["", "a b", "é"] {
        bad!(
            api,
            petitions.withdraw_petition,
            base,
            |r| r.petition_id = id.into(),
            ["petition_id"]
        );
    }
    for text in bad_texts() {
        bad!(
            api,
            petitions.withdraw_petition,
            base,
            |r| r.note = text.clone(),
            ["note"]
        );
    }
    for t in bad_past_times().into_iter().skip(1) {
        bad!(
            api,
            petitions.withdraw_petition,
            base,
            |r| r.decision_time = t,
            ["decision_time"]
        );
    }
    bad!(
        api,
        petitions.withdraw_petition,
        base,
        |r| r.decision_time = ts(instant(&p.received_time) - Duration::seconds(1)),
        ["decision_time"]
    );
    assert_eq!(api.get_petition(&p.id).await, before);
    assert_eq!(
        api.last_seq().await,
        seq,
        "a refused request stored an event"
    );
    good!(api, petitions.withdraw_petition, base);

    // FilePetition
    let p = api.receive_as(t0, T::Complaint, Eligible, Within).await;
    let before = api.get_petition(&p.id).await;
    let base = pb::FilePetitionRequest {
        request_id: rid(),
        petition_id: p.id.clone(),
        reason: pb::FileReason::AlreadyDecided as i32,
        note: String::new(),
        ..Default::default()
    };
    let seq = api.last_seq().await;
    for id in bad_request_ids() {
        bad!(
            api,
            petitions.file_petition,
            base,
            |r| r.request_id = id.clone(),
            ["request_id"]
        );
    }
    for id in ["", "a b"] {
        bad!(
            api,
            petitions.file_petition,
            base,
            |r| r.petition_id = id.into(),
            ["petition_id"]
        );
    }
    for v in [0, 5, 99, -1] {
        bad!(
            api,
            petitions.file_petition,
            base,
            |r| r.reason = v,
            ["reason"]
        );
    }
    bad!(
        api,
        petitions.file_petition,
        base,
        |r| r.reason = pb::FileReason::Other as i32,
        ["note"]
    );
    for text in bad_texts() {
        bad!(
            api,
            petitions.file_petition,
            base,
            |r| r.note = text.clone(),
            ["note"]
        );
    }
    bad!(
        api,
        petitions.file_petition,
        pb::FilePetitionRequest::default(),
        |r| r.request_id = String::new(),
        ["request_id", "petition_id", "reason"]
    );
    for t in bad_past_times().into_iter().skip(1) {
        bad!(
            api,
            petitions.file_petition,
            base,
            |r| r.decision_time = t,
            ["decision_time"]
        );
    }
    bad!(
        api,
        petitions.file_petition,
        base,
        |r| r.decision_time = ts(instant(&p.received_time) - Duration::seconds(1)),
        ["decision_time"]
    );
    assert_eq!(api.get_petition(&p.id).await, before);
    assert_eq!(
        api.last_seq().await,
        seq,
        "a refused request stored an event"
    );
    good!(api, petitions.file_petition, base);
    api.stop().await;
}

async fn case_rpcs_refuse_bad_input(backend: Backend) {
    let mut api = Api::start(backend).await;
    let received = local(2024, 4, 1, 9, 0, 0);
    let accepted = local(2024, 4, 2, 9, 0, 0);
    let (_, case) = api
        .open_case(T::Denunciation, received, accepted, false)
        .await;
    let id = case.id.clone();

    // ExtendCase
    let before = api.get_case(&id).await;
    let base = pb::ExtendCaseRequest {
        request_id: rid(),
        case_id: id.clone(),
        note: "cần xác minh thêm".into(),
    };
    let seq = api.last_seq().await;
    for rq in bad_request_ids() {
        bad!(
            api,
            cases.extend_case,
            base,
            |r| r.request_id = rq.clone(),
            ["request_id"]
        );
    }
    for cid in ["", "a b", "c\u{0}"] {
        bad!(
            api,
            cases.extend_case,
            base,
            |r| r.case_id = cid.into(),
            ["case_id"]
        );
    }
    for text in bad_texts().into_iter().chain([String::new()]) {
        bad!(
            api,
            cases.extend_case,
            base,
            |r| r.note = text.clone(),
            ["note"]
        );
    }
    bad!(
        api,
        cases.extend_case,
        pb::ExtendCaseRequest::default(),
        |r| r.request_id = String::new(),
        ["request_id", "case_id", "note"]
    );
    assert_eq!(api.get_case(&id).await, before);
    assert_eq!(
        api.last_seq().await,
        seq,
        "a refused request stored an event"
    );
    good!(api, cases.extend_case, base);

    // ResolveCase
    let before = api.get_case(&id).await;
    let decided = local(2024, 5, 20, 9, 0, 0);
    let base = pb::ResolveCaseRequest {
        request_id: rid(),
        case_id: id.clone(),
        outcome: pb::CaseOutcome::DenunciationPartlyFounded as i32,
        decision_number: "33/KL-CT".into(),
        decision_time: ts(decided),
        money_to_recover_vnd: 25_000_000,
        land_to_recover_m2: 80.0,
    };
    let seq = api.last_seq().await;
    for rq in bad_request_ids() {
        bad!(
            api,
            cases.resolve_case,
            base,
            |r| r.request_id = rq.clone(),
            ["request_id"]
        );
    }
    for cid in ["", "a b"] {
        bad!(
            api,
            cases.resolve_case,
            base,
            |r| r.case_id = cid.into(),
            ["case_id"]
        );
    }
    for v in [0, 9, 99, -1] {
        bad!(
            api,
            cases.resolve_case,
            base,
            |r| r.outcome = v,
            ["outcome"]
        );
    }
    for number in bad_names().into_iter().chain([String::new()]) {
        bad!(
            api,
            cases.resolve_case,
            base,
            |r| r.decision_number = number.clone(),
            ["decision_number"]
        );
    }
    for t in bad_past_times() {
        bad!(
            api,
            cases.resolve_case,
            base,
            |r| r.decision_time = t,
            ["decision_time"]
        );
    }
    for money in [-1, i64::MIN] {
        bad!(
            api,
            cases.resolve_case,
            base,
            |r| r.money_to_recover_vnd = money,
            ["money_to_recover_vnd"]
        );
    }
    for land in [f64::NAN, -0.5, f64::INFINITY, f64::NEG_INFINITY, 1e13] {
        bad!(
            api,
            cases.resolve_case,
            base,
            |r| r.land_to_recover_m2 = land,
            ["land_to_recover_m2"]
        );
    }
    bad!(
        api,
        cases.resolve_case,
        base,
        |r| {
            r.money_to_recover_vnd = -5;
            r.land_to_recover_m2 = f64::NAN;
        },
        ["money_to_recover_vnd", "land_to_recover_m2"]
    );
    bad!(
        api,
        cases.resolve_case,
        pb::ResolveCaseRequest::default(),
        |r| r.request_id = String::new(),
        [
            "request_id",
            "case_id",
            "outcome",
            "decision_number",
            "decision_time"
        ]
    );
    assert_eq!(api.get_case(&id).await, before);
    assert_eq!(
        api.last_seq().await,
        seq,
        "a refused request stored an event"
    );
    good!(api, cases.resolve_case, base);

    // RecordCaseInForce
    let before = api.get_case(&id).await;
    let base = pb::RecordCaseInForceRequest {
        request_id: rid(),
        case_id: id.clone(),
        effective_time: ts(decided + Duration::days(15)),
    };
    let seq = api.last_seq().await;
    for rq in bad_request_ids() {
        bad!(
            api,
            cases.record_case_in_force,
            base,
            |r| r.request_id = rq.clone(),
            ["request_id"]
        );
    }
    for cid in ["", "a b"] {
        bad!(
            api,
            cases.record_case_in_force,
            base,
            |r| r.case_id = cid.into(),
            ["case_id"]
        );
    }
    for t in bad_past_times() {
        bad!(
            api,
            cases.record_case_in_force,
            base,
            |r| r.effective_time = t,
            ["effective_time"]
        );
    }
    bad!(
        api,
        cases.record_case_in_force,
        pb::RecordCaseInForceRequest::default(),
        |r| r.request_id = String::new(),
        ["request_id", "case_id", "effective_time"]
    );
    assert_eq!(api.get_case(&id).await, before);
    assert_eq!(
        api.last_seq().await,
        seq,
        "a refused request stored an event"
    );
    good!(api, cases.record_case_in_force, base);

    // RecordEnforcement
    let before = api.get_case(&id).await;
    let base = pb::RecordEnforcementRequest {
        request_id: rid(),
        case_id: id.clone(),
        money_recovered_vnd: 5_000_000,
        land_recovered_m2: 10.0,
        completed: false,
        enforcement_time: ts(decided + Duration::days(30)),
    };
    let seq = api.last_seq().await;
    for rq in bad_request_ids() {
        bad!(
            api,
            cases.record_enforcement,
            base,
            |r| r.request_id = rq.clone(),
            ["request_id"]
        );
    }
    for cid in ["", "a b"] {
        bad!(
            api,
            cases.record_enforcement,
            base,
            |r| r.case_id = cid.into(),
            ["case_id"]
        );
    }
    for t in bad_past_times() {
        bad!(
            api,
            cases.record_enforcement,
            base,
            |r| r.enforcement_time = t,
            ["enforcement_time"]
        );
    }
    for money in [-1, i64::MIN] {
        bad!(
            api,
            cases.record_enforcement,
            base,
            |r| r.money_recovered_vnd = money,
            ["money_recovered_vnd"]
        );
    }
    for land in [f64::NAN, -1.0, f64::INFINITY] {
        bad!(
            api,
            cases.record_enforcement,
            base,
            |r| r.land_recovered_m2 = land,
            ["land_recovered_m2"]
        );
    }
    bad!(
        api,
        cases.record_enforcement,
        pb::RecordEnforcementRequest::default(),
        |r| r.request_id = String::new(),
        ["request_id", "case_id", "enforcement_time"]
    );
    assert_eq!(api.get_case(&id).await, before);
    assert_eq!(
        api.last_seq().await,
        seq,
        "a refused request stored an event"
    );
    let step = good!(api, cases.record_enforcement, base).case.unwrap();
    assert_eq!(step.money_recovered_vnd, 5_000_000);
    // A step whose money would overflow the total is refused whole.
    let before = api.get_case(&id).await;
    let seq = api.last_seq().await;
    bad!(
        api,
        cases.record_enforcement,
        base,
        |r| {
            r.money_recovered_vnd = i64::MAX;
            r.land_recovered_m2 = 1.0;
        },
        ["money_recovered_vnd"]
    );
    assert_eq!(api.last_seq().await, seq);
    assert_eq!(api.get_case(&id).await, before);
    api.stop().await;
}

/// Sends a listing request and asserts INVALID_ARGUMENT naming `fields`.
macro_rules! bad_list {
    ($api:expr, $svc:ident . $method:ident, $req:expr, [$($field:expr),* $(,)?]) => {{
        let result = $api.$svc.$method($req).await;
        expect_invalid(result, &[$($field),*]);
    }};
}

async fn listings_refuse_bad_input(backend: Backend) {
    let mut api = Api::start(backend).await;
    // Something to list, so a token could be misread as a position.
    for i in 0..3 {
        api.receive(ago(10) + Duration::minutes(i), None).await;
    }
    let bad_tokens = [
        "zz".to_string(),
        "abc".into(),
        "6869".into(), // hex of "hi": no cursor
        "ff".into(),   // not UTF-8
        "7c".into(),   // hex of "|"
        "a".repeat(600),
        "!!".into(),
        "6e6f74|a|token".into(),
    ];
    for token in &bad_tokens {
        let t = token.clone();
        bad_list!(
            api,
            petitions.list_petitions,
            pb::ListPetitionsRequest {
                page_token: t.clone(),
                ..Default::default()
            },
            ["page_token"]
        );
        bad_list!(
            api,
            cases.list_cases,
            pb::ListCasesRequest {
                page_token: t.clone(),
                ..Default::default()
            },
            ["page_token"]
        );
        bad_list!(
            api,
            reception.list_visits,
            pb::ListVisitsRequest {
                page_token: t.clone(),
                ..Default::default()
            },
            ["page_token"]
        );
        bad_list!(
            api,
            reception.list_schedule_entries,
            pb::ListScheduleEntriesRequest {
                page_token: t.clone(),
                ..Default::default()
            },
            ["page_token"]
        );
        bad_list!(
            api,
            reception.list_conclusions,
            pb::ListConclusionsRequest {
                page_token: t.clone(),
                ..Default::default()
            },
            ["page_token"]
        );
        bad_list!(
            api,
            units.list_units,
            pb::ListUnitsRequest {
                page_token: t.clone(),
                ..Default::default()
            },
            ["page_token"]
        );
        bad_list!(
            api,
            petitions.list_overdue_items,
            pb::ListOverdueItemsRequest {
                page_token: t.clone(),
                ..Default::default()
            },
            ["page_token"]
        );
    }
    // A token of one listing is no token of another.
    let petition_token = ok(api
        .petitions
        .list_petitions(pb::ListPetitionsRequest {
            page_size: 1,
            ..Default::default()
        })
        .await)
    .next_page_token;
    assert!(!petition_token.is_empty());
    let unit_token = {
        api.register_unit("09574", HOME, "Phường Ngô Quyền").await;
        ok(api
            .units
            .list_units(pb::ListUnitsRequest {
                page_size: 1,
                ..Default::default()
            })
            .await)
        .next_page_token
    };
    assert!(!unit_token.is_empty());
    bad_list!(
        api,
        petitions.list_overdue_items,
        pb::ListOverdueItemsRequest {
            page_token: petition_token.clone(),
            ..Default::default()
        },
        ["page_token"]
    );
    bad_list!(
        api,
        units.list_units,
        pb::ListUnitsRequest {
            page_token: petition_token.clone(),
            ..Default::default()
        },
        ["page_token"]
    );
    bad_list!(
        api,
        petitions.list_petitions,
        pb::ListPetitionsRequest {
            page_token: unit_token.clone(),
            ..Default::default()
        },
        ["page_token"]
    );
    bad_list!(
        api,
        petitions.list_overdue_items,
        pb::ListOverdueItemsRequest {
            page_token: unit_token.clone(),
            ..Default::default()
        },
        ["page_token"]
    );
    for size in [-1, i32::MIN] {
        bad_list!(
            api,
            petitions.list_petitions,
            pb::ListPetitionsRequest {
                page_size: size,
                ..Default::default()
            },
            ["page_size"]
        );
        bad_list!(
            api,
            cases.list_cases,
            pb::ListCasesRequest {
                page_size: size,
                ..Default::default()
            },
            ["page_size"]
        );
        bad_list!(
            api,
            reception.list_visits,
            pb::ListVisitsRequest {
                page_size: size,
                ..Default::default()
            },
            ["page_size"]
        );
        bad_list!(
            api,
            reception.list_schedule_entries,
            pb::ListScheduleEntriesRequest {
                page_size: size,
                ..Default::default()
            },
            ["page_size"]
        );
        bad_list!(
            api,
            reception.list_conclusions,
            pb::ListConclusionsRequest {
                page_size: size,
                ..Default::default()
            },
            ["page_size"]
        );
        bad_list!(
            api,
            units.list_units,
            pb::ListUnitsRequest {
                page_size: size,
                ..Default::default()
            },
            ["page_size"]
        );
        bad_list!(
            api,
            petitions.list_overdue_items,
            pb::ListOverdueItemsRequest {
                page_size: size,
                ..Default::default()
            },
            ["page_size"]
        );
        bad_list!(
            api,
            journal.list_journal_events,
            pb::ListJournalEventsRequest {
                page_size: size,
                ..Default::default()
            },
            ["page_size"]
        );
    }
    for v in [99, -1] {
        bad_list!(
            api,
            petitions.list_petitions,
            pb::ListPetitionsRequest {
                status: v,
                ..Default::default()
            },
            ["status"]
        );
        bad_list!(
            api,
            petitions.list_petitions,
            pb::ListPetitionsRequest {
                r#type: v,
                ..Default::default()
            },
            ["type"]
        );
        bad_list!(
            api,
            cases.list_cases,
            pb::ListCasesRequest {
                status: v,
                ..Default::default()
            },
            ["status"]
        );
        bad_list!(
            api,
            cases.list_cases,
            pb::ListCasesRequest {
                r#type: v,
                ..Default::default()
            },
            ["type"]
        );
        bad_list!(
            api,
            reception.list_conclusions,
            pb::ListConclusionsRequest {
                status: v,
                ..Default::default()
            },
            ["status"]
        );
    }
    for code in ["1", "abc", "123456"] {
        bad_list!(
            api,
            petitions.list_petitions,
            pb::ListPetitionsRequest {
                unit_code: code.into(),
                ..Default::default()
            },
            ["unit_code"]
        );
        bad_list!(
            api,
            cases.list_cases,
            pb::ListCasesRequest {
                owner_unit: code.into(),
                ..Default::default()
            },
            ["owner_unit"]
        );
        bad_list!(
            api,
            journal.list_journal_events,
            pb::ListJournalEventsRequest {
                origin_unit: code.into(),
                ..Default::default()
            },
            ["origin_unit"]
        );
    }
    let broken = ts_raw(0, -1);
    bad_list!(
        api,
        petitions.list_petitions,
        pb::ListPetitionsRequest {
            start_time: broken,
            end_time: broken,
            ..Default::default()
        },
        ["start_time", "end_time"]
    );
    bad_list!(
        api,
        cases.list_cases,
        pb::ListCasesRequest {
            start_time: broken,
            ..Default::default()
        },
        ["start_time"]
    );
    bad_list!(
        api,
        reception.list_visits,
        pb::ListVisitsRequest {
            end_time: broken,
            ..Default::default()
        },
        ["end_time"]
    );
    bad_list!(
        api,
        reception.list_schedule_entries,
        pb::ListScheduleEntriesRequest {
            start_time: broken,
            ..Default::default()
        },
        ["start_time"]
    );
    bad_list!(
        api,
        petitions.list_overdue_items,
        pb::ListOverdueItemsRequest {
            as_of_time: broken,
            ..Default::default()
        },
        ["as_of_time"]
    );
    bad_list!(
        api,
        petitions.list_petitions,
        pb::ListPetitionsRequest {
            status: 42,
            r#type: 42,
            page_size: -3,
            page_token: "q".into(),
            ..Default::default()
        },
        ["status", "type", "page_size", "page_token"]
    );
    // Reads of one record.
    for id in ["", "a b", "../../etc"] {
        bad_list!(
            api,
            petitions.get_petition,
            pb::GetPetitionRequest {
                petition_id: id.into()
            },
            ["petition_id"]
        );
        bad_list!(
            api,
            cases.get_case,
            pb::GetCaseRequest { case_id: id.into() },
            ["case_id"]
        );
    }
    expect_not_found(
        api.petitions
            .get_petition(pb::GetPetitionRequest {
                petition_id: "269-P404".into(),
            })
            .await,
    );
    api.stop().await;
}

/// Contact details in every form the rules accept are stored as they were typed.
async fn contact_details_in_accepted_forms_are_stored(backend: Backend) {
    let mut api = Api::start(backend).await;
    let forms = [
        (
            "001078012345",
            "0912 345 678",
            "nguyen.van-a+don@so-tay.ha-noi.gov.vn",
        ),
        ("012345678", "+84 912.345.678", "a@x.vn"),
        ("", "(024) 3825-1234", ""),
        ("001078012345", "912345678", "A.B@Example.VN"),
        ("", "", ""),
    ];
    for (id_number, phone, email) in forms {
        let mut req = receive_req(ago(1), None);
        let person = req.petitioner.as_mut().unwrap();
        person.id_number = id_number.into();
        person.phone = phone.into();
        person.email = email.into();
        let p = ok(api.petitions.receive_petition(req).await)
            .petition
            .unwrap();
        let stored = api.get_petition(&p.id).await.petitioner.unwrap();
        assert_eq!(
            (
                stored.id_number.as_str(),
                stored.phone.as_str(),
                stored.email.as_str()
            ),
            (id_number, phone, email)
        );
    }
    // Vietnamese names with their diacritics, precomposed or combining, are not hidden text.
    let mut req = receive_req(ago(1), None);
    req.petitioner.as_mut().unwrap().full_name = "Nguye\u{302}\u{303}n Thị Hoà".into();
    req.summary = "Đơn khiếu nại về việc thu hồi đất".into();
    ok(api.petitions.receive_petition(req).await);
    api.stop().await;
}

/// A journal digest names at most a bounded number of origins, each a unit code, once.
async fn digest_origins_are_bounded_and_checked(backend: Backend) {
    let api = Api::start(backend).await;
    let mut sync = pb::sync_service_client::SyncServiceClient::new(api.node.channel().await);
    let digest = |origins: Vec<String>| pb::GetJournalDigestRequest {
        origin_units: origins,
    };
    let many: Vec<String> = (0..=tiepdan_server::sync::link::MAX_DIGEST_ORIGINS)
        .map(|i| format!("{:05}", 10_000 + i))
        .collect();
    let cases: Vec<(Vec<String>, Vec<&str>)> = vec![
        (many, vec!["origin_units"]),
        (vec!["269".into(), "26x".into()], vec!["origin_units[1]"]),
        (vec!["".into()], vec!["origin_units[0]"]),
        (vec!["123456".into(), "269".into()], vec!["origin_units[0]"]),
        (
            vec!["269".into(), "09574".into(), "269".into()],
            vec!["origin_units[2]"],
        ),
        (
            vec!["1".into(), "269".into(), "269".into()],
            vec!["origin_units[0]", "origin_units[2]"],
        ),
    ];
    for (origins, fields) in cases {
        let what = format!("{:?}", origins.iter().take(4).collect::<Vec<_>>());
        let status = err(sync.get_journal_digest(digest(origins)).await);
        assert_eq!(status.code(), Code::InvalidArgument, "{what}: {status:?}");
        assert_eq!(
            violated_fields(&status),
            fields.iter().map(|f| f.to_string()).collect(),
            "{what}"
        );
    }
    // Well-formed origins, the home unit's and one it does not know, are answered.
    let answer = ok(sync
        .get_journal_digest(digest(vec!["269".into(), "09574".into()]))
        .await);
    assert_eq!(answer.heads.len(), 2);
    api.stop().await;
}

/// A message over the 4 MiB limit is refused before it reaches the handler, as the caller's
/// fault (RESOURCE_EXHAUSTED, not OUT_OF_RANGE).
async fn oversized_message_is_refused(backend: Backend) {
    let mut api = Api::start(backend).await;
    let seq = api.last_seq().await;
    let mut req = receive_req(ago(1), None);
    req.summary = "a".repeat(5 * 1024 * 1024);
    let status = err(api.petitions.receive_petition(req).await);
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert_eq!(reason(&status), "MESSAGE_TOO_LARGE");
    let mut req = visit_req(ago(1), pb::ReceiverRole::Staff, 1);
    req.summary = "b".repeat(4 * 1024 * 1024 + 1);
    let status = err(api.reception.record_visit(req).await);
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert_eq!(reason(&status), "MESSAGE_TOO_LARGE");
    assert_eq!(api.last_seq().await, seq);
    let listed = ok(api
        .petitions
        .list_petitions(pb::ListPetitionsRequest::default())
        .await)
    .petitions;
    assert!(listed.is_empty());
    // The node goes on serving on the same connection.
    api.receive(ago(1), None).await;
    assert_eq!(api.last_seq().await, seq + 1);
    api.stop().await;
}

/// A published schedule may lie in the future, but no session is dated before 1945.
async fn schedule_before_1945_is_refused(backend: Backend) {
    let mut api = Api::start(backend).await;
    let start = utc(1900, 3, 1, 1, 0, 0);
    let base = pb::PublishScheduleEntryRequest {
        request_id: rid(),
        receiver_role: pb::ReceiverRole::CommitteeChairman as i32,
        receiver_name: "Nguyễn Văn C".into(),
        start_time: ts(start),
        end_time: ts(start + Duration::hours(2)),
        location: "Trụ sở".into(),
    };
    let seq = api.last_seq().await;
    bad!(
        api,
        reception.publish_schedule_entry,
        base,
        |r| r.request_id = rid(),
        ["start_time", "end_time"]
    );
    assert_eq!(api.last_seq().await, seq);
    api.stop().await;
}

/// The earliest time any record may carry is 1945-09-02T00:00:00Z (validate.rs says so).
async fn earliest_time_is_2_september_1945(backend: Backend) {
    let mut api = Api::start(backend).await;
    let mut req = receive_req(utc(1945, 9, 2, 0, 0, 0), None);
    let p = ok(api.petitions.receive_petition(req.clone()).await)
        .petition
        .unwrap();
    assert_eq!(instant(&p.received_time), utc(1945, 9, 2, 0, 0, 0));
    req.request_id = rid();
    req.received_time = ts(utc(1945, 9, 1, 23, 59, 59));
    expect_invalid(
        api.petitions.receive_petition(req).await,
        &["received_time"],
    );
    api.stop().await;
}

on_every_backend!(
    register_unit_refuses_bad_input,
    reception_rpcs_refuse_bad_input,
    petition_intake_refuses_bad_input,
    petition_routing_refuses_bad_input,
    case_rpcs_refuse_bad_input,
    listings_refuse_bad_input,
    oversized_message_is_refused,
    contact_details_in_accepted_forms_are_stored,
    digest_origins_are_bounded_and_checked,
);

on_every_backend!(schedule_before_1945_is_refused,);

on_every_backend!(earliest_time_is_2_september_1945,);
