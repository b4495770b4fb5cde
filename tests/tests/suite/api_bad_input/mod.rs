//! Malformed input on every mutating RPC (and the listings): each is refused with
//! INVALID_ARGUMENT and `google.rpc.BadRequest` field violations naming the bad fields, and
//! nothing is stored. The cases are tables, one per RPC: a row edits the RPC's valid request
//! and names the refusal it must get; one runner ([`refuses`]) sends them. Each block ends by
//! sending the valid request it edited, which must then succeed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cases;
mod listings;
mod petitions;
mod reception;
mod routing;

use std::rc::Rc;

use chrono::Utc;
use prost_types::Timestamp;
use tonic::{Code, Response, Status};

use crate::support::*;

use cases::case_rpcs_refuse_bad_input;
use listings::{
    digest_origins_are_bounded_and_checked, earliest_time_is_2_september_1945,
    listings_refuse_bad_input, oversized_message_is_refused, schedule_before_1945_is_refused,
};
use petitions::{contact_details_in_accepted_forms_are_stored, petition_intake_refuses_bad_input};
use reception::{reception_rpcs_refuse_bad_input, register_unit_refuses_bad_input};
use routing::petition_routing_refuses_bad_input;

/// An RPC the tables drive: its request type, and how the runner calls it.
pub(super) trait Rpc: Clone + Default + 'static {
    type Reply: std::fmt::Debug;
    /// The method's name, for messages.
    const NAME: &'static str;
    /// Sets the request id, on RPCs that take one (the reads do not).
    fn set_request_id(&mut self, _id: String) {}
    /// Sends the request.
    async fn call(self, api: &mut Api) -> Result<Response<Self::Reply>, Status>;
}

/// Implements [`Rpc`] for `$req`, sent by `api.$svc.$method`; `mutation` when it carries a
/// request id.
macro_rules! rpc {
    ($($req:ident => $reply:ident, $svc:ident . $method:ident $(, $mutation:ident)?;)+) => {
        $(
            impl Rpc for pb::$req {
                type Reply = pb::$reply;
                const NAME: &'static str = stringify!($method);
                $(
                    fn set_request_id(&mut self, id: String) {
                        let _ = stringify!($mutation);
                        self.request_id = id;
                    }
                )?
                async fn call(self, api: &mut Api) -> Result<Response<pb::$reply>, Status> {
                    api.$svc.$method(self).await
                }
            }
        )+
    };
}

rpc! {
    RegisterUnitRequest => RegisterUnitResponse, units.register_unit, mutation;
    RecordVisitRequest => RecordVisitResponse, reception.record_visit, mutation;
    PublishScheduleEntryRequest => PublishScheduleEntryResponse,
        reception.publish_schedule_entry, mutation;
    RecordConclusionRequest => RecordConclusionResponse, reception.record_conclusion, mutation;
    UpdateConclusionRequest => UpdateConclusionResponse, reception.update_conclusion, mutation;
    ReceivePetitionRequest => ReceivePetitionResponse, petitions.receive_petition, mutation;
    ClassifyPetitionRequest => ClassifyPetitionResponse, petitions.classify_petition, mutation;
    AcceptPetitionRequest => AcceptPetitionResponse, petitions.accept_petition, mutation;
    GuidePetitionRequest => GuidePetitionResponse, petitions.guide_petition, mutation;
    TransferPetitionRequest => TransferPetitionResponse, petitions.transfer_petition, mutation;
    UrgePetitionRequest => UrgePetitionResponse, petitions.urge_petition, mutation;
    ReturnPetitionRequest => ReturnPetitionResponse, petitions.return_petition, mutation;
    WithdrawPetitionRequest => WithdrawPetitionResponse, petitions.withdraw_petition, mutation;
    FilePetitionRequest => FilePetitionResponse, petitions.file_petition, mutation;
    ExtendCaseRequest => ExtendCaseResponse, cases.extend_case, mutation;
    ResolveCaseRequest => ResolveCaseResponse, cases.resolve_case, mutation;
    RecordCaseInForceRequest => RecordCaseInForceResponse, cases.record_case_in_force, mutation;
    RecordEnforcementRequest => RecordEnforcementResponse, cases.record_enforcement, mutation;
    ListPetitionsRequest => ListPetitionsResponse, petitions.list_petitions;
    ListCasesRequest => ListCasesResponse, cases.list_cases;
    ListVisitsRequest => ListVisitsResponse, reception.list_visits;
    ListScheduleEntriesRequest => ListScheduleEntriesResponse, reception.list_schedule_entries;
    ListConclusionsRequest => ListConclusionsResponse, reception.list_conclusions;
    ListUnitsRequest => ListUnitsResponse, units.list_units;
    ListOverdueItemsRequest => ListOverdueItemsResponse, petitions.list_overdue_items;
    ListJournalEventsRequest => ListJournalEventsResponse, journal.list_journal_events;
    GetPetitionRequest => GetPetitionResponse, petitions.get_petition;
    GetCaseRequest => GetCaseResponse, cases.get_case;
}

/// One row: an edit of the RPC's valid request, the status code it must be refused with and
/// the fields its `BadRequest` must name, exactly.
pub(super) struct Row<R> {
    edit: Box<dyn Fn(&mut R)>,
    code: Code,
    fields: Vec<&'static str>,
}

/// The rows of one RPC, in the order they are sent.
pub(super) struct Table<R>(Vec<Row<R>>);

impl<R: Rpc> Table<R> {
    pub(super) fn new() -> Self {
        Table(Vec::new())
    }

    /// An empty table of `base`'s RPC.
    pub(super) fn of(_base: &R) -> Self {
        Table::new()
    }

    /// A row refused with INVALID_ARGUMENT naming `fields`.
    pub(super) fn row(mut self, fields: &[&'static str], edit: impl Fn(&mut R) + 'static) -> Self {
        self.0.push(Row {
            edit: Box::new(edit),
            code: Code::InvalidArgument,
            fields: fields.to_vec(),
        });
        self
    }

    /// A row per value, each set by `set` and refused naming `field`.
    pub(super) fn each<V: Clone + 'static>(
        mut self,
        field: &'static str,
        values: impl IntoIterator<Item = V>,
        set: impl Fn(&mut R, V) + 'static,
    ) -> Self {
        let set = Rc::new(set);
        for v in values {
            let set = set.clone();
            self = self.row(&[field], move |r| set(r, v.clone()));
        }
        self
    }

    /// The rows every mutating RPC has: malformed request ids.
    pub(super) fn request_ids(self) -> Self {
        self.each("request_id", bad_request_ids(), R::set_request_id)
    }

    /// The empty request (no request id either), refused naming every required field.
    pub(super) fn empty(self, fields: &[&'static str]) -> Self {
        self.row(fields, |r| *r = R::default())
    }
}

/// Sends each row of `table`: `base` with a fresh request id, edited by the row, and asserts
/// the refusal is the row's, code and field violations exactly; then that the journal did
/// not grow (it is append-only, so no refused request stored anything).
pub(super) async fn refuses<R: Rpc>(api: &mut Api, base: &R, table: Table<R>) {
    let seq = api.last_seq().await;
    let n = table.0.len();
    for row in table.0 {
        let mut r = base.clone();
        r.set_request_id(rid());
        (row.edit)(&mut r);
        let status = err(r.call(api).await);
        if row.code == Code::InvalidArgument {
            assert_invalid(&status, &row.fields);
        } else {
            assert_eq!(status.code(), row.code, "{}: {}", R::NAME, status.message());
        }
    }
    eprintln!("{}: {n} rows refused", R::NAME);
    assert_eq!(
        api.last_seq().await,
        seq,
        "a refused {} stored an event",
        R::NAME
    );
}

/// Sends `base` with a fresh request id; it must succeed.
pub(super) async fn accepted<R: Rpc>(api: &mut Api, base: &R) -> R::Reply {
    let mut r = base.clone();
    r.set_request_id(rid());
    ok(r.call(api).await)
}

pub(super) fn ts_raw(seconds: i64, nanos: i32) -> Option<Timestamp> {
    Some(Timestamp { seconds, nanos })
}

/// Timestamps that no "when it happened" field accepts.
pub(super) fn bad_past_times() -> Vec<Option<Timestamp>> {
    let now = Utc::now();
    vec![
        None,
        ts_raw(1_700_000_000, -1),
        ts_raw(1_700_000_000, 1_000_000_000),
        ts_raw(i64::MAX, 0),
        ts_raw(i64::MIN, 0),
        ts(now + chrono::Duration::hours(1)),
        ts(now + chrono::Duration::days(400)),
        ts(utc(1900, 1, 1, 0, 0, 0)),
        ts(utc(1945, 9, 1, 23, 59, 59)),
    ]
}

/// [`bad_past_times`] but the absent one, for the fields that may be left out.
pub(super) fn bad_given_times() -> Vec<Option<Timestamp>> {
    bad_past_times().into_iter().skip(1).collect()
}

/// Malformed request ids.
pub(super) fn bad_request_ids() -> Vec<String> {
    vec![
        String::new(),
        "x".repeat(129),
        "has space".into(),
        "tab\tid".into(),
        "mã-yêu-cầu".into(),
        "nul\0".into(),
    ]
}

pub(super) fn long(n: usize) -> String {
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
/// invisible formatting characters; and `extra`.
pub(super) fn bad_texts(extra: &[&str]) -> Vec<String> {
    let mut texts = vec![
        long(4001),
        "bell\u{7}".into(),
        "nul\0byte".into(),
        "escape \u{1b}[31m".into(),
        "del\u{7f}".into(),
        "c1\u{85}".into(),
    ];
    texts.extend(hidden());
    texts.extend(extra.iter().map(|t| t.to_string()));
    texts
}

/// Names no name-like field accepts: over 300 characters, with control characters, or with
/// invisible formatting characters; and `extra`.
pub(super) fn bad_names(extra: &[&str]) -> Vec<String> {
    let mut names = vec![long(301), "x\u{8}".into(), "a\nb\u{0}".into()];
    names.extend(hidden());
    names.extend(extra.iter().map(|t| t.to_string()));
    names
}

/// ID numbers refused: a CCCD has exactly 12 digits, an old CMND exactly 9.
pub(super) fn bad_id_numbers() -> Vec<&'static str> {
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
pub(super) fn bad_phones() -> Vec<&'static str> {
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
pub(super) fn bad_emails() -> Vec<String> {
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

/// `ids` as owned strings, for [`Table::each`].
pub(super) fn strings(ids: &[&str]) -> Vec<String> {
    ids.iter().map(|s| s.to_string()).collect()
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
