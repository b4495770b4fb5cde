//! The personal-data audit trail (Law 91/2025/QH15): every read of a petitioner's personal
//! details is recorded at the node that holds them — who (the token's subject and role),
//! when, which petition, through what and why — before the details are answered; a read of
//! a petition without details records nothing; only the auditor lists the trail; it is
//! append-only and never journaled, so a parent never gets it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use chrono::Utc;
use sea_orm::ConnectionTrait;
use tiepdan_client::Bearer;
use tonic::Code;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::support::server::{
    Claims, Role, Secret, Store, Unit, UnitLevel, audit, auth, wait_synced,
};
use crate::support::{
    Backend, HOME, TestDb, TestNode, assert_refused_with, err, home_unit, ok, on_every_backend, pb,
    receive_req, unit,
};

type Petitions =
    pb::petition_service_client::PetitionServiceClient<InterceptedService<Channel, Bearer>>;

/// A node of `unit` on `db` that checks tokens signed with the returned secret.
async fn guarded(db: TestDb, unit: Unit, parent: Option<String>) -> (TestNode, Secret) {
    let secret = Secret::generate();
    let for_node = secret.clone();
    let node = TestNode::start_with(db, unit, parent, |c| c.auth = Some(for_node)).await;
    (node, secret)
}

/// A token of `role` at the node's unit, whose subject names the role.
fn bearer(node: &TestNode, secret: &Secret, role: Role) -> Bearer {
    let now = Utc::now().timestamp();
    let token = auth::issue(
        secret,
        &Claims {
            subject: format!("cán bộ {role}"),
            role,
            unit: node.unit.code.clone(),
            issued_at: now - 60,
            expires_at: now + 3600,
        },
    )
    .unwrap();
    Bearer::new(&token).unwrap()
}

/// A petition client presenting a token of `role`.
async fn as_role(node: &TestNode, secret: &Secret, role: Role) -> Petitions {
    pb::petition_service_client::PetitionServiceClient::with_interceptor(
        node.channel().await,
        bearer(node, secret, role),
    )
}

/// How many events of the commune's the node's journal holds (as an auditor, if it checks
/// tokens).
async fn journal_len(node: &TestNode, secret: Option<&Secret>) -> usize {
    let token = secret.map_or_else(Bearer::default, |s| bearer(node, s, Role::Auditor));
    let mut client = pb::journal_service_client::JournalServiceClient::with_interceptor(
        node.channel().await,
        token,
    );
    ok(client
        .list_journal_events(pb::ListJournalEventsRequest {
            origin_unit: "09574".into(),
            page_size: 1000,
            ..Default::default()
        })
        .await)
    .events
    .len()
}

/// A petition received at the node, with a petitioner's details or anonymous.
async fn receive(client: &mut Petitions, anonymous: bool) -> pb::Petition {
    let mut req = receive_req(Utc::now() - chrono::Duration::hours(1), None);
    if anonymous {
        req.petitioner = None;
        req.signers = 0;
    }
    ok(client.receive_petition(req).await).petition.unwrap()
}

async fn read(client: &mut Petitions, id: &str, reason: &str) -> pb::Petition {
    ok(client
        .get_petition(pb::GetPetitionRequest {
            petition_id: id.to_string(),
            reason: reason.to_string(),
        })
        .await)
    .petition
    .unwrap()
}

/// Every row of the trail, paging with `page_size`.
async fn trail(client: &mut Petitions, petition_id: &str) -> Vec<pb::PersonalDataAccess> {
    let mut all = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = ok(client
            .list_personal_data_access(pb::ListPersonalDataAccessRequest {
                petition_id: petition_id.to_string(),
                page_size: 2,
                page_token,
            })
            .await);
        all.extend(page.accesses);
        if page.next_page_token.is_empty() {
            return all;
        }
        page_token = page.next_page_token;
    }
}

/// A reception officer's read of a petitioner's details is one row naming the officer, the
/// role, the petition, the RPC and the time; each repeated read is a row of its own, with the
/// reason given; reading an anonymous petition records nothing.
async fn audit_rows_after_reads(backend: Backend) {
    let (node, secret) = guarded(TestDb::new(backend).await, home_unit(), None).await;
    let mut desk = as_role(&node, &secret, Role::Reception).await;
    let mut head = as_role(&node, &secret, Role::Head).await;
    let mut auditor = as_role(&node, &secret, Role::Auditor).await;
    let named = receive(&mut desk, false).await;
    let anonymous = receive(&mut desk, true).await;
    assert!(
        trail(&mut auditor, "").await.is_empty(),
        "receiving is no read"
    );

    let before = Utc::now();
    let p = read(&mut desk, &named.id, "").await;
    let after = Utc::now();
    assert_eq!(p.petitioner.unwrap().full_name, "Nguyễn Văn A");
    let rows = trail(&mut auditor, "").await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    let row = &rows[0];
    assert_eq!(row.subject, "cán bộ reception");
    assert_eq!(row.role, "reception");
    assert_eq!(row.petition_id, named.id);
    assert_eq!(row.action, "GetPetition");
    assert_eq!(row.reason, "");
    let at = row.access_time.unwrap();
    let at =
        chrono::DateTime::from_timestamp(at.seconds, u32::try_from(at.nanos).unwrap()).unwrap();
    assert!(before <= at && at <= after, "{before} <= {at} <= {after}");

    // No details answered, nothing recorded.
    assert!(
        read(&mut desk, &anonymous.id, "")
            .await
            .petitioner
            .is_none()
    );
    assert_eq!(
        trail(&mut auditor, "").await.len(),
        1,
        "an anonymous read records nothing"
    );

    // Every read is recorded, repeated or retried, whoever reads.
    read(&mut desk, &named.id, "").await;
    read(&mut desk, &named.id, "xác minh địa chỉ").await;
    read(&mut head, &named.id, "giải quyết khiếu nại").await;
    let rows = trail(&mut auditor, "").await;
    assert_eq!(rows.len(), 4, "{rows:?}");
    assert!(
        rows.windows(2).all(|w| w[0].sequence < w[1].sequence),
        "oldest first"
    );
    assert_eq!(rows[2].reason, "xác minh địa chỉ");
    assert_eq!(
        (rows[3].subject.as_str(), rows[3].role.as_str()),
        ("cán bộ head", "head")
    );
    assert_eq!(
        trail(&mut auditor, &named.id).await,
        rows,
        "filtered by petition"
    );
    assert!(trail(&mut auditor, &anonymous.id).await.is_empty());
    drop(node.stop().await);
}

/// Only the auditor lists the trail: the reception desk, the head (whose own reads are in it)
/// and a reporter are refused before any handler.
async fn only_the_auditor_lists_the_audit_trail(backend: Backend) {
    let (node, secret) = guarded(TestDb::new(backend).await, home_unit(), None).await;
    for role in [Role::Reception, Role::Head, Role::Reporter] {
        let mut client = as_role(&node, &secret, role).await;
        assert_refused_with(
            client
                .list_personal_data_access(pb::ListPersonalDataAccessRequest::default())
                .await,
            Code::PermissionDenied,
            "ROLE_NOT_ALLOWED",
            &format!("{role} lists the audit trail"),
        );
    }
    let mut auditor = as_role(&node, &secret, Role::Auditor).await;
    ok(auditor
        .list_personal_data_access(pb::ListPersonalDataAccessRequest::default())
        .await);
    let bad = err(auditor
        .list_personal_data_access(pb::ListPersonalDataAccessRequest {
            page_token: "bm90LWEtbnVtYmVy".into(),
            ..Default::default()
        })
        .await);
    assert_eq!(bad.code(), Code::InvalidArgument);
    drop(node.stop().await);
}

/// A read adds no journal event, so the trail cannot travel: after the commune's journal
/// reached the town, the town holds no row of it.
async fn the_audit_trail_never_leaves_the_node(backend: Backend) {
    let town = TestNode::start_with(
        TestDb::new(backend).await,
        unit(HOME, "Thị xã Sơn Tây", UnitLevel::District, None),
        None,
        |_| {},
    )
    .await;
    let (commune, secret) = guarded(
        TestDb::new(backend).await,
        unit("09574", "Phường Lê Lợi", UnitLevel::Ward, Some(HOME)),
        Some(town.url()),
    )
    .await;
    let mut desk = as_role(&commune, &secret, Role::Reception).await;
    let mut auditor = as_role(&commune, &secret, Role::Auditor).await;
    let named = receive(&mut desk, false).await;
    wait_synced(commune.running(), town.running(), Duration::from_secs(30))
        .await
        .unwrap();
    let events = journal_len(&commune, Some(&secret)).await;
    read(&mut desk, &named.id, "").await;
    read(&mut desk, &named.id, "").await;
    assert_eq!(trail(&mut auditor, "").await.len(), 2);
    assert_eq!(
        journal_len(&commune, Some(&secret)).await,
        events,
        "a read journals nothing"
    );
    wait_synced(commune.running(), town.running(), Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(
        journal_len(&town, None).await,
        events,
        "the town has the commune's journal"
    );
    let mut at_town = pb::petition_service_client::PetitionServiceClient::new(town.channel().await);
    let rows = ok(at_town
        .list_personal_data_access(pb::ListPersonalDataAccessRequest::default())
        .await);
    assert!(rows.accesses.is_empty(), "the town got {:?}", rows.accesses);
    drop(commune.stop().await);
    drop(town.stop().await);
}

/// A node that checks no tokens records its callers as unauthenticated, with no subject.
async fn an_unguarded_node_records_unauthenticated_reads(backend: Backend) {
    let node = TestNode::start(backend, home_unit()).await;
    let mut client = pb::petition_service_client::PetitionServiceClient::new(node.channel().await);
    let p = ok(client
        .receive_petition(receive_req(Utc::now() - chrono::Duration::hours(1), None))
        .await)
    .petition
    .unwrap();
    ok(client
        .get_petition(pb::GetPetitionRequest {
            petition_id: p.id.clone(),
            ..Default::default()
        })
        .await);
    let rows = ok(client
        .list_personal_data_access(pb::ListPersonalDataAccessRequest::default())
        .await)
    .accesses;
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].subject.as_str(), rows[0].role.as_str()),
        ("", "unauthenticated")
    );
    drop(node.stop().await);
}

/// The database itself refuses to change or delete a row of the trail.
async fn the_audit_trail_is_append_only(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = Store::open(&db.url).await.unwrap();
    let tx = store.begin_write().await.unwrap();
    let access = audit::Access {
        id: 0,
        at: Utc::now(),
        subject: "cán bộ".into(),
        role: "reception".into(),
        petition_id: "269-P1".into(),
        action: "GetPetition".into(),
        reason: String::new(),
    };
    audit::insert(&tx, &access).await.unwrap();
    store.commit(tx).await.unwrap();
    for statement in [
        "UPDATE personal_data_access SET subject = 'ai khác'",
        "DELETE FROM personal_data_access",
    ] {
        let tx = store.begin_write().await.unwrap();
        let refused = tx.execute_unprepared(statement).await;
        assert!(refused.is_err(), "{statement} was allowed");
        drop(tx);
    }
    let rows = audit::list(store.reader(), None, None, 10).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].subject, "cán bộ");
    store.close().await.unwrap();
}

on_every_backend!(
    audit_rows_after_reads,
    only_the_auditor_lists_the_audit_trail,
    the_audit_trail_never_leaves_the_node,
    an_unguarded_node_records_unauthenticated_reads,
    the_audit_trail_is_append_only,
);
