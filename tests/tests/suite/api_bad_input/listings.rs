//! The listings and reads of one record; and what is refused before any field is looked at
//! (an oversized message), journal digests, and the earliest time a record may carry.

use chrono::Duration;

use super::*;

/// Refuses `table`'s rows, each an edit of the empty request of a listing or read.
async fn read<R: Rpc>(api: &mut Api, table: Table<R>) {
    refuses(api, &R::default(), table).await;
}

pub(super) async fn listings_refuse_bad_input(backend: Backend) {
    let mut api = Api::start(backend).await;
    // Something to list, so a token could be misread as a position.
    for i in 0..3 {
        api.receive(ago(10) + Duration::minutes(i), None).await;
    }
    let tokens = vec![
        "zz".to_string(),
        "abc".into(),
        "6869".into(), // hex of "hi": no cursor
        "ff".into(),   // not UTF-8
        "7c".into(),   // hex of "|"
        "a".repeat(600),
        "!!".into(),
        "6e6f74|a|token".into(),
    ];
    let sizes = [-1, i32::MIN];
    let enums = [99, -1];
    let codes = strings(&["1", "abc", "123456"]);
    let broken = ts_raw(0, -1);
    let table = Table::<pb::ListPetitionsRequest>::new()
        .each("page_token", tokens.clone(), |r, t| r.page_token = t)
        .each("page_size", sizes, |r, v| r.page_size = v)
        .each("status", enums, |r, v| r.status = v)
        .each("type", enums, |r, v| r.r#type = v)
        .each("unit_code", codes.clone(), |r, v| r.unit_code = v)
        .row(&["start_time", "end_time"], move |r| {
            r.start_time = broken;
            r.end_time = broken;
        })
        .row(&["status", "type", "page_size", "page_token"], |r| {
            r.status = 42;
            r.r#type = 42;
            r.page_size = -3;
            r.page_token = "q".into();
        });
    read(&mut api, table).await;
    let table = Table::<pb::ListCasesRequest>::new()
        .each("page_token", tokens.clone(), |r, t| r.page_token = t)
        .each("page_size", sizes, |r, v| r.page_size = v)
        .each("status", enums, |r, v| r.status = v)
        .each("type", enums, |r, v| r.r#type = v)
        .each("owner_unit", codes.clone(), |r, v| r.owner_unit = v)
        .row(&["start_time"], move |r| r.start_time = broken);
    read(&mut api, table).await;
    let table = Table::<pb::ListVisitsRequest>::new()
        .each("page_token", tokens.clone(), |r, t| r.page_token = t)
        .each("page_size", sizes, |r, v| r.page_size = v)
        .row(&["end_time"], move |r| r.end_time = broken);
    read(&mut api, table).await;
    let table = Table::<pb::ListScheduleEntriesRequest>::new()
        .each("page_token", tokens.clone(), |r, t| r.page_token = t)
        .each("page_size", sizes, |r, v| r.page_size = v)
        .row(&["start_time"], move |r| r.start_time = broken);
    read(&mut api, table).await;
    let table = Table::<pb::ListConclusionsRequest>::new()
        .each("page_token", tokens.clone(), |r, t| r.page_token = t)
        .each("page_size", sizes, |r, v| r.page_size = v)
        .each("status", enums, |r, v| r.status = v);
    read(&mut api, table).await;
    let table = Table::<pb::ListUnitsRequest>::new()
        .each("page_token", tokens.clone(), |r, t| r.page_token = t)
        .each("page_size", sizes, |r, v| r.page_size = v);
    read(&mut api, table).await;
    let table = Table::<pb::ListOverdueItemsRequest>::new()
        .each("page_token", tokens, |r, t| r.page_token = t)
        .each("page_size", sizes, |r, v| r.page_size = v)
        .row(&["as_of_time"], move |r| r.as_of_time = broken);
    read(&mut api, table).await;
    let table = Table::<pb::ListJournalEventsRequest>::new()
        .each("page_size", sizes, |r, v| r.page_size = v)
        .each("origin_unit", codes, |r, v| r.origin_unit = v);
    read(&mut api, table).await;

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
    api.register_unit("09574", HOME, "Phường Ngô Quyền").await;
    let unit_token = ok(api
        .units
        .list_units(pb::ListUnitsRequest {
            page_size: 1,
            ..Default::default()
        })
        .await)
    .next_page_token;
    assert!(!unit_token.is_empty());
    let foreign = [petition_token.clone(), unit_token.clone()];
    let table = Table::<pb::ListOverdueItemsRequest>::new()
        .each("page_token", foreign, |r, t| r.page_token = t);
    read(&mut api, table).await;
    let table =
        Table::<pb::ListUnitsRequest>::new()
            .each("page_token", [petition_token], |r, t| r.page_token = t);
    read(&mut api, table).await;
    let table =
        Table::<pb::ListPetitionsRequest>::new()
            .each("page_token", [unit_token], |r, t| r.page_token = t);
    read(&mut api, table).await;

    // Reads of one record.
    let ids = strings(&["", "a b", "../../etc"]);
    let table = Table::<pb::GetPetitionRequest>::new()
        .each("petition_id", ids.clone(), |r, v| r.petition_id = v);
    read(&mut api, table).await;
    let table = Table::<pb::GetCaseRequest>::new().each("case_id", ids, |r, v| r.case_id = v);
    read(&mut api, table).await;
    expect_not_found(
        api.petitions
            .get_petition(pb::GetPetitionRequest {
                petition_id: "269-P404".into(),
                ..Default::default()
            })
            .await,
    );
    api.stop().await;
}

/// A journal digest names at most a bounded number of origins, each a unit code, once.
pub(super) async fn digest_origins_are_bounded_and_checked(backend: Backend) {
    let api = Api::start(backend).await;
    let mut sync = pb::sync_service_client::SyncServiceClient::new(api.node.channel().await);
    let digest = |origins: Vec<String>| pb::GetJournalDigestRequest {
        origin_units: origins,
    };
    let many: Vec<String> = (0..=crate::support::server::MAX_DIGEST_ORIGINS)
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
pub(super) async fn oversized_message_is_refused(backend: Backend) {
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
pub(super) async fn schedule_before_1945_is_refused(backend: Backend) {
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
    let table = Table::new().row(
        &["start_time", "end_time"],
        |_: &mut pb::PublishScheduleEntryRequest| {},
    );
    refuses(&mut api, &base, table).await;
    api.stop().await;
}

/// The earliest time any record may carry is 1945-09-02T00:00:00Z (validate.rs says so).
pub(super) async fn earliest_time_is_2_september_1945(backend: Backend) {
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
