//! Petition intake: ReceivePetition, ClassifyPetition, AcceptPetition; and the contact details
//! the intake accepts.

use chrono::{Duration, Utc};

use super::*;

use pb::Eligibility::Eligible;
use pb::Jurisdiction::Within;
use pb::PetitionType as T;

/// The petitioner of a ReceivePetition request.
fn person(r: &mut pb::ReceivePetitionRequest) -> &mut pb::Petitioner {
    r.petitioner.as_mut().unwrap()
}

/// The classification of a request that carries one.
fn receipt_class(r: &mut pb::ReceivePetitionRequest) -> &mut pb::Classification {
    r.classification.as_mut().unwrap()
}

fn decision_class(r: &mut pb::ClassifyPetitionRequest) -> &mut pb::Classification {
    r.classification.as_mut().unwrap()
}

pub(super) async fn petition_intake_refuses_bad_input(backend: Backend) {
    let mut api = Api::start(backend).await;
    let t0 = ago(10);

    // ReceivePetition
    let base = receive_req(t0, Some(class(T::Complaint, Eligible, Within)));
    let seq = api.last_seq().await;
    let table = Table::of(&base)
        .request_ids()
        .each("received_time", bad_past_times(), |r, t| {
            r.received_time = t
        })
        .each("channel", [0, 5, 99, -1], |r, v| r.channel = v)
        .each("summary", bad_texts(&["", "  \t "]), |r, v| r.summary = v)
        .row(&["signers"], |r| r.signers = 100_001)
        .each(
            "visit_id",
            strings(&["has space", "a/b", &"v".repeat(65)]),
            |r, v| r.visit_id = v,
        )
        .each("petitioner.full_name", bad_names(&["", "   "]), |r, v| {
            person(r).full_name = v
        })
        .each("petitioner.address", bad_names(&[]), |r, v| {
            person(r).address = v
        })
        .each("petitioner.email", bad_names(&[]), |r, v| {
            person(r).email = v
        })
        .each("petitioner.id_number", bad_id_numbers(), |r, v| {
            person(r).id_number = v.to_string()
        })
        .each("petitioner.phone", bad_phones(), |r, v| {
            person(r).phone = v.to_string()
        })
        .each("petitioner.email", bad_emails(), |r, v| person(r).email = v)
        .each("classification.type", [0, 5, 99, -1], |r, v| {
            receipt_class(r).r#type = v
        })
        .each("classification.field", [0, 7, 99], |r, v| {
            receipt_class(r).field = v
        })
        .each("classification.eligibility", [0, 3, 99], |r, v| {
            receipt_class(r).eligibility = v
        })
        .each("classification.jurisdiction", [0, 3, 99], |r, v| {
            receipt_class(r).jurisdiction = v
        })
        .each("classification.complaint_round", [0, 3, 99], |r, v| {
            receipt_class(r).complaint_round = v
        })
        .row(
            &[
                "classification.type",
                "classification.field",
                "classification.eligibility",
                "classification.jurisdiction",
            ],
            |r| r.classification = Some(pb::Classification::default()),
        )
        .empty(&["request_id", "received_time", "channel", "summary"]);
    refuses(&mut api, &base, table).await;
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
    accepted(&mut api, &edge).await;
    let mut edge = base.clone();
    edge.request_id = "x".repeat(128);
    ok(api.petitions.receive_petition(edge).await);
    let p = accepted(&mut api, &receive_req(t0, None))
        .await
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
    let received = instant(&p.received_time);
    let table = Table::of(&base)
        .request_ids()
        .each(
            "petition_id",
            strings(&["", "has space", "p\u{0}", &"p".repeat(65)]),
            |r, v| r.petition_id = v,
        )
        .row(&["classification"], |r| r.classification = None)
        .each("classification.type", [0, 99], |r, v| {
            decision_class(r).r#type = v
        })
        .each("classification.field", [0, 99], |r, v| {
            decision_class(r).field = v
        })
        .each("classification.eligibility", [0, 99], |r, v| {
            decision_class(r).eligibility = v
        })
        .each("classification.jurisdiction", [0, 99], |r, v| {
            decision_class(r).jurisdiction = v
        })
        .row(&["classification.complaint_round"], |r| {
            decision_class(r).complaint_round = 2
        })
        .empty(&["request_id", "petition_id", "classification"])
        .each("decision_time", bad_given_times(), |r, t| {
            r.decision_time = t
        })
        .row(&["decision_time"], move |r| {
            r.decision_time = ts(received - Duration::seconds(1))
        });
    refuses(&mut api, &base, table).await;
    assert_eq!(api.get_petition(&p.id).await, before);
    accepted(&mut api, &base).await;

    // AcceptPetition
    let before = api.get_petition(&p.id).await;
    let base = accept_req(&p.id, received + Duration::hours(1), false);
    let table = Table::of(&base)
        .request_ids()
        .each("petition_id", strings(&["", "a b", "x\u{7f}"]), |r, v| {
            r.petition_id = v
        })
        .each("accept_time", bad_past_times(), |r, t| r.accept_time = t)
        .row(&["accept_time"], move |r| {
            r.accept_time = ts(received - Duration::seconds(1))
        })
        .row(&["target"], |r| r.target = None)
        .each("case_id", strings(&["", "a b", "c#1"]), |r, v| {
            r.target = Some(pb::accept_petition_request::Target::CaseId(v))
        })
        .empty(&["request_id", "petition_id", "accept_time", "target"]);
    refuses(&mut api, &base, table).await;
    assert_eq!(api.get_petition(&p.id).await, before);
    let cases = ok(api.cases.list_cases(pb::ListCasesRequest::default()).await).cases;
    assert!(cases.is_empty(), "no case opened");
    accepted(&mut api, &base).await;
    api.stop().await;
}

/// Contact details in every form the rules accept are stored as they were typed.
pub(super) async fn contact_details_in_accepted_forms_are_stored(backend: Backend) {
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
