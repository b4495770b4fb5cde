//! Mutual TLS on the tier link: a child links only with a certificate of the tree's CA that
//! names its own unit; a certificate of another unit, or none, is refused and nothing of the
//! claimed unit is stored; plaintext is refused off loopback.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use crate::support::server::UnitLevel;
use crate::support::server::tls;
use crate::support::server::wait_synced;
use crate::support::server::{NodeConfig, node};
use tiepdan_proto::v1 as pb;
use tiepdan_tests::{Backend, TestDb, TestNode, unit};
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint};

use crate::support::wait_for;

struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn new(units: &[&str]) -> Pki {
        let dir = tempfile::tempdir().unwrap();
        tls::init_ca(dir.path(), "test tree").unwrap();
        for u in units {
            tls::issue(dir.path(), u, &[]).unwrap();
        }
        Pki { dir }
    }

    fn node(&self, unit: &str) -> tls::NodeTls {
        tls::load(&tls::TlsFiles {
            cert: self.dir.path().join(format!("{unit}.pem")),
            key: self.dir.path().join(format!("{unit}.key")),
            ca: self.dir.path().join("ca.pem"),
        })
        .unwrap()
    }

    fn ca(&self) -> Certificate {
        Certificate::from_pem(std::fs::read_to_string(self.dir.path().join("ca.pem")).unwrap())
    }
}

fn https(node: &TestNode) -> String {
    format!("https://{}", node.running().addr)
}

async fn town_with_tls(pki: &Pki) -> TestNode {
    let tls = pki.node("269");
    TestNode::start_with(
        TestDb::new(Backend::Sqlite).await,
        unit("269", "Sơn Tây", UnitLevel::District, None),
        None,
        |c| c.tls = Some(tls),
    )
    .await
}

async fn events_of(town: &TestNode, origin: &str) -> u64 {
    town.running()
        .app
        .journal(origin, 0, 10_000)
        .await
        .unwrap()
        .1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_with_its_own_certificate_links() {
    let pki = Pki::new(&["269", "09574"]);
    let town = town_with_tls(&pki).await;
    let tls = pki.node("09574");
    let commune = TestNode::start_with(
        TestDb::new(Backend::Sqlite).await,
        unit("09574", "Lê Lợi", UnitLevel::Ward, None),
        Some(https(&town)),
        |c| c.tls = Some(tls),
    )
    .await;
    wait_synced(commune.running(), town.running(), Duration::from_secs(20))
        .await
        .unwrap();
    assert!(events_of(&town, "09574").await >= 2);
    // An operator client reaches the TLS node with the CA alone (no client certificate).
    let ch = Endpoint::from_shared(https(&town))
        .unwrap()
        .tls_config(ClientTlsConfig::new().ca_certificate(pki.ca()))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let unit = pb::unit_service_client::UnitServiceClient::new(ch.clone())
        .get_unit(pb::GetUnitRequest {})
        .await
        .unwrap()
        .into_inner()
        .unit
        .unwrap();
    assert_eq!(unit.code, "269");
    // ... but cannot open a tier link without a certificate.
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    tx.send(pb::LinkRequest {
        message: Some(pb::link_request::Message::Hello(pb::Hello {
            protocol_version: 1,
            unit: Some(pb::Unit {
                code: "09577".into(),
                name: "x".into(),
                level: pb::UnitLevel::Ward as i32,
                ..Default::default()
            }),
            ..Default::default()
        })),
    })
    .await
    .unwrap();
    let err = pb::sync_service_client::SyncServiceClient::new(ch)
        .link(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unauthenticated);
    commune.stop().await;
    town.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_cannot_speak_as_another_unit() {
    let pki = Pki::new(&["269", "09574", "09577"]);
    let town = town_with_tls(&pki).await;
    // The node is 09574 but holds 09577's certificate.
    let wrong = pki.node("09577");
    let impostor = TestNode::start_with(
        TestDb::new(Backend::Sqlite).await,
        unit("09574", "Lê Lợi", UnitLevel::Ward, None),
        Some(https(&town)),
        |c| c.tls = Some(wrong),
    )
    .await;
    let status = wait_for("the town to refuse the impostor's certificate", || async {
        let status = impostor.running().status.parent_state().unwrap_or_default();
        if status.last_error.contains("certificate names unit 09577") {
            Ok(status)
        } else {
            Err(format!("last error: {:?}", status.last_error))
        }
    })
    .await;
    assert!(!status.connected);
    assert_eq!(
        events_of(&town, "09574").await,
        0,
        "nothing of the claimed unit is stored"
    );
    assert_eq!(events_of(&town, "09577").await, 0);
    impostor.stop().await;
    town.stop().await;
}

#[tokio::test]
async fn plaintext_is_refused_off_loopback() {
    let db = TestDb::new(Backend::Sqlite).await;
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let config = NodeConfig::new(
        unit("269", "Sơn Tây", UnitLevel::District, None),
        db.url.clone(),
    );
    match node::start(config, listener).await {
        Err(node::StartError::Insecure(why)) => {
            assert!(why.contains("loopback only"), "{why}")
        }
        Err(other) => panic!("refused for another reason: {other}"),
        Ok(_) => panic!("a plaintext node served off loopback"),
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut config = NodeConfig::new(
        unit("269", "Sơn Tây", UnitLevel::District, None),
        db.url.clone(),
    );
    config.parent_url = Some("http://192.0.2.1:50051".into());
    match node::start(config, listener).await {
        Err(node::StartError::Insecure(why)) => {
            assert!(why.contains("leaves loopback"), "{why}")
        }
        Err(other) => panic!("refused for another reason: {other}"),
        Ok(_) => panic!("a plaintext link off loopback was accepted"),
    }
}
