//! Routing a petition: GuidePetition, TransferPetition, UrgePetition, ReturnPetition,
//! WithdrawPetition, FilePetition. Each shares the rows of a routing decision (request id,
//! petition id, note, decision time) and has rows of its own.

use chrono::Duration;

use super::*;

use pb::Eligibility::Eligible;
use pb::Jurisdiction::{Outside, Within};
use pb::PetitionType as T;

/// The fields every routing decision has.
trait Decision: Rpc {
    fn petition_id(&mut self) -> &mut String;
    fn note(&mut self) -> &mut String;
    fn decision_time(&mut self) -> &mut Option<Timestamp>;
}

macro_rules! decision {
    ($($req:ident),+) => {
        $(
            impl Decision for pb::$req {
                fn petition_id(&mut self) -> &mut String {
                    &mut self.petition_id
                }
                fn note(&mut self) -> &mut String {
                    &mut self.note
                }
                fn decision_time(&mut self) -> &mut Option<Timestamp> {
                    &mut self.decision_time
                }
            }
        )+
    };
}

decision!(
    GuidePetitionRequest,
    TransferPetitionRequest,
    UrgePetitionRequest,
    ReturnPetitionRequest,
    WithdrawPetitionRequest,
    FilePetitionRequest
);

/// Refuses the rows every routing decision has (malformed request ids, `petition_ids`,
/// `notes`, malformed decision times and one before the petition was received) and the RPC's
/// `own` rows; checks the petition `p` is unchanged, then routes it with `base`.
async fn route<R: Decision>(
    api: &mut Api,
    p: &pb::Petition,
    base: R,
    petition_ids: &[&str],
    notes: Vec<String>,
    own: Table<R>,
) {
    let before = api.get_petition(&p.id).await;
    let received = instant(&p.received_time);
    let mut table = Table::of(&base).request_ids().each(
        "petition_id",
        strings(petition_ids),
        |r: &mut R, v| *r.petition_id() = v,
    );
    table.0.extend(own.0);
    let table = table
        .each("note", notes, |r, v| *r.note() = v)
        .each("decision_time", bad_given_times(), |r, t| {
            *r.decision_time() = t
        })
        .row(&["decision_time"], move |r| {
            *r.decision_time() = ts(received - Duration::seconds(1))
        });
    refuses(api, &base, table).await;
    assert_eq!(api.get_petition(&p.id).await, before);
    accepted(api, &base).await;
}

pub(super) async fn petition_routing_refuses_bad_input(backend: Backend) {
    let mut api = Api::start(backend).await;
    api.register_unit("09574", HOME, "Phường Ngô Quyền").await;
    let t0 = ago(10);

    // GuidePetition
    let p = api.receive_as(t0, T::Complaint, Eligible, Outside).await;
    let base = pb::GuidePetitionRequest {
        request_id: rid(),
        petition_id: p.id.clone(),
        outside_body: "Tòa án nhân dân".into(),
        note: "hướng dẫn".into(),
        ..Default::default()
    };
    let own = Table::of(&base)
        .each("outside_body", bad_names(&["", " "]), |r, v| {
            r.outside_body = v
        })
        .empty(&["request_id", "petition_id", "outside_body"]);
    route(&mut api, &p, base, &["", "a b"], bad_texts(&[]), own).await;

    // TransferPetition
    use pb::transfer_petition_request::Destination;
    let p = api.receive_as(t0, T::Denunciation, Eligible, Outside).await;
    let base = pb::TransferPetitionRequest {
        request_id: rid(),
        petition_id: p.id.clone(),
        destination: Some(Destination::UnitCode("09574".into())),
        note: String::new(),
        ..Default::default()
    };
    let own = Table::of(&base)
        .row(&["destination"], |r| r.destination = None)
        .each(
            "unit_code",
            strings(&["", "1", "123456", "09a74", "09574 "]),
            |r, v| r.destination = Some(Destination::UnitCode(v)),
        )
        .each("outside_body", bad_names(&[""]), |r, v| {
            r.destination = Some(Destination::OutsideBody(v))
        })
        .empty(&["request_id", "petition_id", "destination"]);
    route(&mut api, &p, base, &["", "a b"], bad_texts(&[]), own).await;

    // UrgePetition
    let p = api.receive_as(t0, T::Complaint, Eligible, Outside).await;
    let base = pb::UrgePetitionRequest {
        request_id: rid(),
        petition_id: p.id.clone(),
        outside_body: "UBND phường Ngô Quyền".into(),
        note: String::new(),
        ..Default::default()
    };
    let own = Table::of(&base).each("outside_body", bad_names(&[""]), |r, v| r.outside_body = v);
    route(&mut api, &p, base, &["", "a b"], bad_texts(&[]), own).await;

    // ReturnPetition
    let p = api.receive_as(t0, T::Complaint, Eligible, Within).await;
    let base = pb::ReturnPetitionRequest {
        request_id: rid(),
        petition_id: p.id.clone(),
        note: "đơn không rõ nội dung".into(),
        ..Default::default()
    };
    let notes = bad_texts(&["", "\n"]);
    route(&mut api, &p, base, &["", "a b"], notes, Table::new()).await;

    // WithdrawPetition
    let p = api.receive(t0, None).await;
    let base = pb::WithdrawPetitionRequest {
        request_id: rid(),
        petition_id: p.id.clone(),
        note: String::new(),
        ..Default::default()
    };
    let ids = ["", "a b", "é"];
    route(&mut api, &p, base, &ids, bad_texts(&[]), Table::new()).await;

    // FilePetition
    let p = api.receive_as(t0, T::Complaint, Eligible, Within).await;
    let base = pb::FilePetitionRequest {
        request_id: rid(),
        petition_id: p.id.clone(),
        reason: pb::FileReason::AlreadyDecided as i32,
        note: String::new(),
        ..Default::default()
    };
    let own = Table::of(&base)
        .each("reason", [0, 5, 99, -1], |r, v| r.reason = v)
        .row(&["note"], |r| r.reason = pb::FileReason::Other as i32)
        .empty(&["request_id", "petition_id", "reason"]);
    route(&mut api, &p, base, &["", "a b"], bad_texts(&[]), own).await;
    api.stop().await;
}
