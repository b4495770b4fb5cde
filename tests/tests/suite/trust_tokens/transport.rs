//! Health and reflection without a token, the client library, the tier link and TLS, loopback, and token lifetimes.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
pub(super) async fn health_and_reflection_answer_without_a_token() {
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
pub(super) async fn the_client_library_sends_its_token() {
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

pub(super) fn pki(units: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    tls::init_ca(dir.path(), "test tree").unwrap();
    for u in units {
        tls::issue(dir.path(), u, &[]).unwrap();
    }
    dir
}

pub(super) fn node_tls(dir: &tempfile::TempDir, unit: &str) -> tls::NodeTls {
    tls::load(&tls::TlsFiles {
        cert: dir.path().join(format!("{unit}.pem")),
        key: dir.path().join(format!("{unit}.key")),
        ca: dir.path().join("ca.pem"),
    })
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
pub(super) async fn the_tier_link_needs_a_certificate_not_a_token() {
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
pub(super) async fn the_plaintext_loopback_link_stays_open() {
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
pub(super) async fn serving_off_loopback_needs_tokens_or_asking_not_to() {
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
pub(super) fn token_between(
    secret: &Secret,
    role: Role,
    issued_at: i64,
    expires_at: i64,
) -> String {
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
pub(super) fn watch_request(token: &str) -> tonic::Request<pb::WatchReportRequest> {
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
pub(super) async fn a_watch_ends_when_its_token_expires() {
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
pub(super) async fn token_lifetimes_and_issue_times_are_bounded() {
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
