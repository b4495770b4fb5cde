//! Operator tokens: every method of every tiepdan service, enumerated from the descriptor, is
//! refused to a role the permission table does not list and reaches its handler for one it
//! does; a missing, malformed, forged, expired or foreign token is refused with its reason; a
//! refused change stores nothing; health, reflection and the tier link need no token.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::time::Duration;

use tiepdan_client::{Bearer, Client};
use tiepdan_proto::v1 as pb;
use tiepdan_server::auth::{self, Access, Claims, Role, Secret};
use tiepdan_server::demo::wait_synced;
use tiepdan_server::domain::model::UnitLevel;
use tiepdan_server::node::{self, NodeConfig};
use tiepdan_server::tls;
use tiepdan_tests::{Backend, TestDb, TestNode, unit};
use tokio::time::timeout;
use tonic::codegen::http::uri::PathAndQuery;
use tonic::metadata::MetadataValue;
use tonic::transport::Channel;
use tonic::{Code, Status};
use tonic_types::StatusExt;

use common::{home_unit, ts, visit_req};

const HOME: &str = common::HOME;

/// A node of [`home_unit`] that checks tokens signed with the returned secret.
async fn guarded() -> (TestNode, Secret) {
    let secret = Secret::generate();
    let for_node = secret.clone();
    let node = TestNode::start_with(TestDb::new(Backend::Sqlite).await, home_unit(), None, |c| {
        c.auth = Some(for_node)
    })
    .await;
    (node, secret)
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// A token of `role` at `unit`, valid from an hour ago for `hours` more hours (negative:
/// already expired).
fn token_for(secret: &Secret, role: Role, unit: &str, hours: i64) -> String {
    auth::issue(
        secret,
        &Claims {
            subject: format!("test {role}"),
            role,
            unit: unit.to_string(),
            issued_at: now() - 7200,
            expires_at: now() + hours * 3600,
        },
    )
    .unwrap()
}

fn token(secret: &Secret, role: Role) -> String {
    token_for(secret, role, HOME, 1)
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// Calls `path` as any gRPC client could, with one empty message (every request type's
/// defaults) and the given `authorization` headers; answers the status the call ends with.
async fn call(channel: &Channel, path: &str, authorization: &[String]) -> Result<(), Status> {
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready()
        .await
        .map_err(|e| Status::unavailable(e.to_string()))?;
    let mut request = tonic::Request::new(tokio_stream::iter([()]));
    for value in authorization {
        request.metadata_mut().append(
            "authorization",
            MetadataValue::try_from(value.as_str()).unwrap(),
        );
    }
    let path = PathAndQuery::try_from(path).unwrap();
    let codec = tonic_prost::ProstCodec::<(), ()>::default();
    let mut answers = grpc.streaming(request, path, codec).await?.into_inner();
    // A stream that stays open (a watch) was let through.
    match timeout(Duration::from_secs(2), answers.message()).await {
        Ok(Err(status)) => Err(status),
        Ok(Ok(_)) | Err(_) => Ok(()),
    }
}

fn reason(status: &Status) -> String {
    status
        .get_error_details()
        .error_info()
        .map(|i| i.reason.clone())
        .unwrap_or_default()
}

#[track_caller]
fn assert_refused(result: Result<(), Status>, code: Code, why: &str, context: &str) {
    match result {
        Ok(()) => panic!("{context}: let through, expected {code:?} {why}"),
        Err(status) => {
            assert_eq!(status.code(), code, "{context}: {status:?}");
            assert_eq!(reason(&status), why, "{context}: {status:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_method_refuses_exactly_the_roles_the_table_does_not_list() {
    let (node, secret) = guarded().await;
    let channel = node.channel().await;
    let methods = common::described_methods();
    assert!(methods.len() >= 35, "{methods:?}");
    let tokens: Vec<(Role, String)> = Role::ALL
        .into_iter()
        .map(|role| (role, bearer(&token(&secret, role))))
        .collect();
    for method in &methods {
        let access = auth::access(method)
            .unwrap_or_else(|| panic!("{method} has no entry in the permission table"));
        let roles = match access {
            Access::TierLink => {
                // The link is authenticated by the child's certificate; on a plaintext node
                // (loopback only) it is open as before: this empty Hello fails on its own.
                let answer = call(&channel, method, &[]).await;
                let code = answer.err().map(|s| s.code());
                assert_eq!(code, Some(Code::FailedPrecondition), "{method}");
                continue;
            }
            Access::Roles(roles) => roles,
        };
        assert_refused(
            call(&channel, method, &[]).await,
            Code::Unauthenticated,
            "TOKEN_MISSING",
            method,
        );
        for (role, header) in &tokens {
            let answer = call(&channel, method, std::slice::from_ref(header)).await;
            let context = format!("{method} as {role}");
            if roles.contains(role) {
                if let Err(status) = &answer {
                    assert!(
                        !matches!(
                            status.code(),
                            Code::Unauthenticated | Code::PermissionDenied
                        ),
                        "{context}: refused, though allowed: {status:?}"
                    );
                }
            } else {
                assert_refused(answer, Code::PermissionDenied, "ROLE_NOT_ALLOWED", &context);
            }
        }
    }
    // A method no service has is refused too, after the token.
    assert_refused(
        call(&channel, "/tiepdan.v1.UnitService/DeleteEverything", &[]).await,
        Code::Unauthenticated,
        "TOKEN_MISSING",
        "unknown method",
    );
    assert_refused(
        call(
            &channel,
            "/tiepdan.v1.UnitService/DeleteEverything",
            std::slice::from_ref(&tokens[1].1),
        )
        .await,
        Code::PermissionDenied,
        "ROLE_NOT_ALLOWED",
        "unknown method as head",
    );
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_tokens_are_refused_with_their_reason() {
    let (node, secret) = guarded().await;
    let channel = node.channel().await;
    let method = "/tiepdan.v1.ReceptionService/ListVisits";
    let good = token(&secret, Role::Reception);
    call(&channel, method, &[bearer(&good)]).await.unwrap();

    let unauthenticated = |why: &'static str| (Code::Unauthenticated, why);
    let (prefix, claims_part, mac) = {
        let mut parts = good.split('.');
        (
            parts.next().unwrap().to_string(),
            parts.next().unwrap().to_string(),
            parts.next().unwrap().to_string(),
        )
    };
    // The claims of a reporter re-signed by hand as a head's, the MAC kept.
    let promoted = {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let json = String::from_utf8(b64.decode(&claims_part).unwrap()).unwrap();
        let json = json.replace("\"reception\"", "\"head\"");
        format!("{prefix}.{}.{mac}", b64.encode(json))
    };
    // One byte of the claims flipped.
    let flipped = {
        let mut bytes = claims_part.clone().into_bytes();
        bytes[5] = if bytes[5] == b'A' { b'B' } else { b'A' };
        format!("{prefix}.{}.{mac}", String::from_utf8(bytes).unwrap())
    };
    let zero_mac = format!("{prefix}.{claims_part}.{}", "A".repeat(43));
    let other_secret = token(&Secret::generate(), Role::Head);
    let expired = token_for(&secret, Role::Head, HOME, -1);
    let other_unit = token_for(&secret, Role::Head, "09574", 1);
    let cases: Vec<(&str, Vec<String>, (Code, &str))> = vec![
        ("no token", vec![], unauthenticated("TOKEN_MISSING")),
        (
            "garbage",
            vec![bearer("nonsense")],
            unauthenticated("TOKEN_INVALID"),
        ),
        (
            "no scheme",
            vec![good.clone()],
            unauthenticated("TOKEN_INVALID"),
        ),
        (
            "another scheme",
            vec![format!("Basic {good}")],
            unauthenticated("TOKEN_INVALID"),
        ),
        (
            "empty bearer",
            vec!["Bearer ".to_string()],
            unauthenticated("TOKEN_INVALID"),
        ),
        (
            "forged MAC",
            vec![bearer(&zero_mac)],
            unauthenticated("TOKEN_INVALID"),
        ),
        (
            "claims rewritten",
            vec![bearer(&promoted)],
            unauthenticated("TOKEN_INVALID"),
        ),
        (
            "claim byte flipped",
            vec![bearer(&flipped)],
            unauthenticated("TOKEN_INVALID"),
        ),
        (
            "another secret",
            vec![bearer(&other_secret)],
            unauthenticated("TOKEN_INVALID"),
        ),
        (
            "expired",
            vec![bearer(&expired)],
            unauthenticated("TOKEN_EXPIRED"),
        ),
        (
            "oversized",
            vec![bearer(&"a".repeat(8 * 1024))],
            unauthenticated("TOKEN_INVALID"),
        ),
        (
            "two tokens",
            vec![bearer(&good), bearer(&good)],
            unauthenticated("TOKEN_INVALID"),
        ),
        (
            "another unit",
            vec![bearer(&other_unit)],
            (Code::PermissionDenied, "WRONG_UNIT"),
        ),
    ];
    for (name, headers, (code, why)) in cases {
        assert_refused(call(&channel, method, &headers).await, code, why, name);
    }
    // A header far past any limit: refused one way or another, and the node serves on.
    let huge = call(&channel, method, &[bearer(&"a".repeat(64 * 1024))]).await;
    assert!(huge.is_err(), "a 64 KiB header was let through");
    let fresh = node.channel().await;
    call(&fresh, method, &[bearer(&good)]).await.unwrap();
    node.stop().await;
}

async fn journal_head(node: &TestNode) -> u64 {
    node.running().app.journal(HOME, 0, 1).await.unwrap().1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_change_stores_nothing() {
    let (node, secret) = guarded().await;
    let channel = node.channel().await;
    let before = journal_head(&node).await;
    let at = chrono::Utc::now() - chrono::Duration::hours(1);
    let tokens = [
        None,
        Some(token(&secret, Role::Auditor)),
        Some(token(&secret, Role::Reporter)),
        Some(token_for(&secret, Role::Reception, HOME, -1)),
        Some(token_for(&secret, Role::Head, "09574", 1)),
        Some(token(&Secret::generate(), Role::Head)),
    ];
    for t in &tokens {
        let bearer = match t {
            Some(t) => Bearer::new(t).unwrap(),
            None => Bearer::default(),
        };
        let mut reception = pb::reception_service_client::ReceptionServiceClient::with_interceptor(
            channel.clone(),
            bearer.clone(),
        );
        let status = reception
            .record_visit(visit_req(at, pb::ReceiverRole::Staff, 6))
            .await
            .unwrap_err();
        assert!(
            matches!(
                status.code(),
                Code::Unauthenticated | Code::PermissionDenied
            ),
            "{status:?}"
        );
        let mut petitions = pb::petition_service_client::PetitionServiceClient::with_interceptor(
            channel.clone(),
            bearer,
        );
        let status = petitions
            .receive_petition(common::receive_req(at, None))
            .await
            .unwrap_err();
        assert!(
            matches!(
                status.code(),
                Code::Unauthenticated | Code::PermissionDenied
            ),
            "{status:?}"
        );
    }
    // The reception desk may not accept into a case either; the petition stays received.
    let desk = Bearer::new(&token(&secret, Role::Reception)).unwrap();
    let mut petitions =
        pb::petition_service_client::PetitionServiceClient::with_interceptor(channel.clone(), desk);
    assert_eq!(
        journal_head(&node).await,
        before,
        "refused calls journaled something"
    );
    let petition = petitions
        .receive_petition(common::receive_req(at, None))
        .await
        .unwrap()
        .into_inner()
        .petition
        .unwrap();
    let after_receive = journal_head(&node).await;
    assert!(after_receive > before, "the desk's petition is journaled");
    let status = petitions
        .accept_petition(pb::AcceptPetitionRequest {
            request_id: common::rid(),
            petition_id: petition.id.clone(),
            accept_time: ts(at),
            target: None,
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    assert_eq!(journal_head(&node).await, after_receive);
    // The visits the refused calls tried to record are not there.
    let visits = pb::reception_service_client::ReceptionServiceClient::with_interceptor(
        channel.clone(),
        Bearer::new(&token(&secret, Role::Auditor)).unwrap(),
    )
    .list_visits(pb::ListVisitsRequest::default())
    .await
    .unwrap()
    .into_inner();
    assert!(visits.visits.is_empty(), "{:?}", visits.visits);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_reflection_answer_without_a_token() {
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_client::HealthClient;
    use tonic_reflection::pb::{v1, v1alpha};

    let (node, _secret) = guarded().await;
    let channel = node.channel().await;
    let health = HealthClient::new(channel.clone())
        .check(HealthCheckRequest {
            service: "tiepdan.v1.PetitionService".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        health.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );

    let request = v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(v1::server_reflection_request::MessageRequest::ListServices(
            String::new(),
        )),
    };
    let mut answers = v1::server_reflection_client::ServerReflectionClient::new(channel.clone())
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let answer = answers.message().await.unwrap().unwrap();
    let Some(v1::server_reflection_response::MessageResponse::ListServicesResponse(list)) =
        answer.message_response
    else {
        panic!("not a list of services: {answer:?}");
    };
    assert!(
        list.service
            .iter()
            .any(|s| s.name == "tiepdan.v1.PetitionService")
    );

    let request = v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(
            v1alpha::server_reflection_request::MessageRequest::ListServices(String::new()),
        ),
    };
    let mut answers =
        v1alpha::server_reflection_client::ServerReflectionClient::new(channel.clone())
            .server_reflection_info(tokio_stream::iter([request]))
            .await
            .unwrap()
            .into_inner();
    assert!(answers.message().await.unwrap().is_some());
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_library_sends_its_token() {
    let (node, secret) = guarded().await;
    let anonymous = Client::connect(&node.url()).await.unwrap();
    let refused = anonymous.get_unit(pb::GetUnitRequest {}).await.unwrap_err();
    let rpc = refused.rpc().unwrap();
    assert_eq!(rpc.code(), Code::Unauthenticated);
    assert_eq!(rpc.reason.as_deref(), Some("TOKEN_MISSING"));

    let head = anonymous
        .clone()
        .with_token(&token(&secret, Role::Head))
        .unwrap();
    assert_eq!(
        head.get_unit(pb::GetUnitRequest {}).await.unwrap().code,
        HOME
    );
    // The channel handed out for the services the client does not wrap carries it too.
    let status = pb::sync_service_client::SyncServiceClient::new(head.channel())
        .get_sync_status(pb::GetSyncStatusRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status.unit_code, HOME);

    let reporter = anonymous
        .with_token(&token(&secret, Role::Reporter))
        .unwrap();
    let refused = reporter.get_unit(pb::GetUnitRequest {}).await.unwrap_err();
    let rpc = refused.rpc().unwrap();
    assert_eq!(rpc.code(), Code::PermissionDenied);
    assert_eq!(rpc.reason.as_deref(), Some("ROLE_NOT_ALLOWED"));
    assert_eq!(
        rpc.metadata.get("role").map(String::as_str),
        Some("reporter")
    );
    assert!(
        !refused.to_string().contains("tdn1."),
        "the token is never echoed: {refused}"
    );
    assert!(matches!(
        reporter.with_token("tdn1.a\nb"),
        Err(tiepdan_client::Error::InvalidToken)
    ));
    node.stop().await;
}

fn pki(units: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    tls::init_ca(dir.path(), "test tree").unwrap();
    for u in units {
        tls::issue(dir.path(), u, &[]).unwrap();
    }
    dir
}

fn node_tls(dir: &tempfile::TempDir, unit: &str) -> tls::NodeTls {
    tls::load(&tls::TlsFiles {
        cert: dir.path().join(format!("{unit}.pem")),
        key: dir.path().join(format!("{unit}.key")),
        ca: dir.path().join("ca.pem"),
    })
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tier_link_needs_a_certificate_not_a_token() {
    let dir = pki(&["269", "09574"]);
    let secret = Secret::generate();
    let (town_tls, secret_for_town) = (node_tls(&dir, "269"), secret.clone());
    let town = TestNode::start_with(
        TestDb::new(Backend::Sqlite).await,
        unit("269", "Sơn Tây", UnitLevel::District, None),
        None,
        |c| {
            c.tls = Some(town_tls);
            c.auth = Some(secret_for_town);
        },
    )
    .await;
    let commune_tls = node_tls(&dir, "09574");
    let commune = TestNode::start_with(
        TestDb::new(Backend::Sqlite).await,
        unit("09574", "Lê Lợi", UnitLevel::Ward, None),
        Some(format!("https://{}", town.running().addr)),
        |c| c.tls = Some(commune_tls),
    )
    .await;
    wait_synced(commune.running(), town.running(), Duration::from_secs(30))
        .await
        .unwrap();
    let (_, applied) = town.running().app.journal("09574", 0, 1).await.unwrap();
    assert!(applied >= 1, "the commune's journal reached the town");
    commune.stop().await;
    town.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plaintext_loopback_link_stays_open() {
    let (town, _secret) = guarded().await;
    let commune = TestNode::start_with(
        TestDb::new(Backend::Sqlite).await,
        unit("09574", "Lê Lợi", UnitLevel::Ward, Some(HOME)),
        Some(town.url()),
        |_| {},
    )
    .await;
    wait_synced(commune.running(), town.running(), Duration::from_secs(30))
        .await
        .unwrap();
    commune.stop().await;
    town.stop().await;
}

#[tokio::test]
async fn serving_off_loopback_needs_tokens_or_asking_not_to() {
    let dir = pki(&["269"]);
    let config = |db: &TestDb| {
        let mut c = NodeConfig::new(
            unit("269", "Sơn Tây", UnitLevel::District, None),
            db.url.clone(),
        );
        c.tls = Some(node_tls(&dir, "269"));
        c
    };
    let db = TestDb::new(Backend::Sqlite).await;
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let refused = node::start(config(&db), listener).await;
    assert!(
        refused
            .as_ref()
            .err()
            .is_some_and(|e| e.to_string().contains("--insecure-no-auth")),
        "TLS alone off loopback: {:?}",
        refused.err()
    );

    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let mut with_tokens = config(&db);
    with_tokens.auth = Some(Secret::generate());
    let running = node::start(with_tokens, listener).await.unwrap();
    running.stop().await.unwrap();

    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let mut asked = config(&db);
    asked.insecure_no_auth = true;
    let running = node::start(asked, listener).await.unwrap();
    running.stop().await.unwrap();
}

/// A token of `role` at [`HOME`] claiming to be issued at `issued_at` and to expire at
/// `expires_at` (seconds since the epoch), signed with `secret`.
fn token_between(secret: &Secret, role: Role, issued_at: i64, expires_at: i64) -> String {
    auth::issue(
        secret,
        &Claims {
            subject: format!("test {role}"),
            role,
            unit: HOME.to_string(),
            issued_at,
            expires_at,
        },
    )
    .unwrap()
}

/// A watch of the 2019 report, with `token`.
fn watch_request(token: &str) -> tonic::Request<pb::WatchReportRequest> {
    let mut request = tonic::Request::new(pb::WatchReportRequest {
        report: Some(pb::GetReportRequest {
            period: "2019".into(),
            calendar: pb::PeriodCalendar::Calendar as i32,
            ..Default::default()
        }),
    });
    request.metadata_mut().insert(
        "authorization",
        MetadataValue::try_from(bearer(token)).unwrap(),
    );
    request
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_ends_when_its_token_expires() {
    let (node, secret) = guarded().await;
    let expires_at = now() + 2;
    let short = token_between(&secret, Role::Reporter, now() - 60, expires_at);
    let mut reports = pb::report_service_client::ReportServiceClient::new(node.channel().await);
    let request = watch_request(&short);
    let mut stream = reports.watch_report(request).await.unwrap().into_inner();
    // The first report comes while the token is good; then the stream must end by itself.
    assert!(stream.message().await.unwrap().is_some());
    let ended = timeout(Duration::from_secs(30), async {
        loop {
            match stream.message().await {
                Ok(Some(_)) => continue,
                Ok(None) => return None,
                Err(status) => return Some(status),
            }
        }
    })
    .await
    .expect("the watch went on 30 s past its token's expiry");
    let status = ended.expect("the watch ended without a status");
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert_eq!(reason(&status), "TOKEN_EXPIRED", "{status:?}");
    assert!(now() >= expires_at, "ended before the token expired");
    // A new token opens a new watch.
    let fresh = token(&secret, Role::Reporter);
    let request = watch_request(&fresh);
    let mut stream = reports.watch_report(request).await.unwrap().into_inner();
    assert!(stream.message().await.unwrap().is_some());
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_lifetimes_and_issue_times_are_bounded() {
    let (node, secret) = guarded().await;
    let channel = node.channel().await;
    let method = "/tiepdan.v1.ReceptionService/ListVisits";
    let day = 86_400;
    let t = now();
    // (case, issued at, expires at, refused as TOKEN_INVALID)
    let cases = [
        ("lives 400 days", t - 60, t - 60 + 400 * day, true),
        ("lives 367 days", t - 60, t - 60 + 367 * day, true),
        ("lives 366 days", t - 60, t - 60 + 366 * day, false),
        ("issued an hour ahead", t + 3600, t + 7200, true),
        ("issued 6 minutes ahead", t + 360, t + 7200, true),
        ("issued 2 minutes ahead", t + 120, t + 7200, false),
    ];
    for (name, issued_at, expires_at, refused) in cases {
        let header = bearer(&token_between(
            &secret,
            Role::Reception,
            issued_at,
            expires_at,
        ));
        let result = call(&channel, method, &[header]).await;
        if refused {
            assert_refused(result, Code::Unauthenticated, "TOKEN_INVALID", name);
        } else {
            result.unwrap_or_else(|s| panic!("{name}: refused: {s:?}"));
        }
    }
    node.stop().await;
}
