//! Confidentiality (DOMAIN.md): a petitioner's personal details stay at the unit that holds
//! the petition and travel only with a transfer, to the unit that must handle it. Marker values
//! are planted in every personal field at the communes; none of them may appear in the town's
//! or the city's database files or in any node's logs — except a transferred petition's, at
//! its destination.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::server::UnitLevel;
use crate::support::server::wait_synced;
use tiepdan_proto::v1 as pb;
use tiepdan_tests::{Backend, TestDb, TestNode, unit};

use crate::support::{
    get_petition, settle_links, stays_for, ts, unix, wait_for, wait_transferred_in,
};

/// Log output captured for the scan.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Digits that stand for `tag` where a field takes digits only: `n` of them, from a hash of
/// the tag, so each tag's are its own and nothing else writes them.
fn marker_digits(tag: &str, n: usize) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(tag.as_bytes())
        .iter()
        .map(|b| char::from(b'0' + b % 10))
        .take(n)
        .collect()
}

fn markers(tag: &str) -> pb::Petitioner {
    pb::Petitioner {
        full_name: format!("MARKERNAME{tag}"),
        address: format!("MARKERADDR{tag}"),
        // A CCCD number and a mobile number, as the intake checks them.
        id_number: marker_digits(tag, 12),
        phone: format!("09{}", marker_digits(&format!("phone {tag}"), 8)),
        email: format!("MARKERMAIL{tag}@x.vn"),
    }
}

fn marker_fields(tag: &str) -> Vec<String> {
    let m = markers(tag);
    vec![m.full_name, m.address, m.id_number, m.phone, m.email]
}

/// Every file under `dir` (the SQLite database, its WAL and shared memory), as bytes.
fn files(dir: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            all.extend(std::fs::read(&path).unwrap_or_default());
        }
    }
    all
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

async fn receive(node: &TestNode, tag: &str, kind: pb::PetitionType, within: bool) -> pb::Petition {
    let mut client = pb::petition_service_client::PetitionServiceClient::new(node.channel().await);
    client
        .receive_petition(pb::ReceivePetitionRequest {
            request_id: format!("p-{tag}"),
            received_time: ts(unix(1_560_000_000)),
            channel: pb::Channel::InPerson as i32,
            summary: "tố cáo cán bộ địa chính".into(),
            petitioner: Some(markers(tag)),
            classification: Some(pb::Classification {
                r#type: kind as i32,
                field: pb::Field::LandHousing as i32,
                complaint_round: u32::from(kind == pb::PetitionType::Complaint),
                eligibility: pb::Eligibility::Eligible as i32,
                jurisdiction: if within {
                    pb::Jurisdiction::Within
                } else {
                    pb::Jurisdiction::Outside
                } as i32,
                has_evidence: true,
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .petition
        .unwrap()
}

async fn transfer(node: &TestNode, petition_id: &str, to: &str) {
    let mut client = pb::petition_service_client::PetitionServiceClient::new(node.channel().await);
    client
        .transfer_petition(pb::TransferPetitionRequest {
            request_id: format!("t-{petition_id}"),
            petition_id: petition_id.into(),
            destination: Some(pb::transfer_petition_request::Destination::UnitCode(
                to.into(),
            )),
            note: String::new(),
            decision_time: ts(unix(1_560_100_000)),
        })
        .await
        .unwrap();
}

async fn arrived(node: &TestNode, source: &str) -> pb::Petition {
    let ch = node.channel().await;
    let p = wait_transferred_in(&ch, &node.unit.code, source).await;
    get_petition(&ch, &p.id).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn personal_details_stay_where_they_belong() {
    let logs = Captured::default();
    let writer = logs.clone();
    let _ = tracing_subscriber::fmt()
        .with_env_filter("debug,h2=info,hyper=info,tower=info,sqlx=info,sea_orm=info")
        .with_writer(move || writer.clone())
        .try_init();

    let start = |code: &'static str, level, parent: Option<String>| async move {
        TestNode::start_with(
            TestDb::new(Backend::Sqlite).await,
            unit(code, code, level, None),
            parent,
            |_| {},
        )
        .await
    };
    let city = start("01", UnitLevel::Province, None).await;
    let town = start("269", UnitLevel::District, Some(city.url())).await;
    let a = start("09574", UnitLevel::Ward, Some(town.url())).await;
    let b = start("09577", UnitLevel::Ward, Some(town.url())).await;
    for (child, parent) in [(&town, &city), (&a, &town), (&b, &town)] {
        wait_synced(child.running(), parent.running(), Duration::from_secs(30))
            .await
            .unwrap();
    }
    // A denunciation and a complaint stay at 09574; one complaint goes up to the town, one
    // across to 09577 (through the town, which must not keep it).
    receive(&a, "KEEPDENOUNCE", pb::PetitionType::Denunciation, true).await;
    receive(&a, "KEEPCOMPLAINT", pb::PetitionType::Complaint, true).await;
    let up = receive(&a, "UPTOTOWN", pb::PetitionType::Complaint, false).await;
    let across = receive(&a, "ACROSSTOB", pb::PetitionType::Complaint, false).await;
    transfer(&a, &up.id, "269").await;
    transfer(&a, &across.id, "09577").await;
    let at_town = arrived(&town, &up.id).await;
    assert_eq!(
        at_town.petitioner.unwrap().full_name,
        "MARKERNAMEUPTOTOWN",
        "the details went with the transfer"
    );
    let at_b = arrived(&b, &across.id).await;
    assert_eq!(
        at_b.petitioner.unwrap().id_number,
        markers("ACROSSTOB").id_number
    );
    settle_links(&[(&a, &town), (&b, &town), (&town, &city)]).await;
    let dirs: Vec<(String, std::path::PathBuf)> =
        [(&city, "01"), (&town, "269"), (&a, "09574"), (&b, "09577")]
            .iter()
            .map(|(n, code)| (code.to_string(), n.db.dir().unwrap().to_path_buf()))
            .collect();
    let mut kept = Vec::new();
    for node in [a, b, town, city] {
        kept.push(node.stop().await);
    }
    let bytes = |code: &str| files(&dirs.iter().find(|(c, _)| c == code).unwrap().1);
    let (city_files, town_files, a_files, b_files) =
        (bytes("01"), bytes("269"), bytes("09574"), bytes("09577"));
    let log = logs.0.lock().unwrap().clone();
    assert!(log.len() > 1000, "logs were captured");
    for tag in ["KEEPDENOUNCE", "KEEPCOMPLAINT", "UPTOTOWN", "ACROSSTOB"] {
        for m in marker_fields(tag) {
            assert!(contains(&a_files, &m), "{m} is kept where it was received");
            assert!(!contains(&city_files, &m), "{m} reached the city's files");
            assert!(!contains(&log, &m), "{m} appears in the logs");
        }
    }
    for tag in ["KEEPDENOUNCE", "KEEPCOMPLAINT", "ACROSSTOB"] {
        for m in marker_fields(tag) {
            assert!(!contains(&town_files, &m), "{m} is in the town's files");
        }
    }
    for m in marker_fields("UPTOTOWN") {
        assert!(
            contains(&town_files, &m),
            "{m}: the town resolves it and holds the details"
        );
        assert!(!contains(&b_files, &m));
    }
    for m in marker_fields("ACROSSTOB") {
        assert!(contains(&b_files, &m));
    }
}

/// A complaint transferred from a commune to the city crosses the town, where it waits while
/// the town's link to the city is cut. Its personal details are sealed to the city's key: the
/// town's database files never hold them, even while the envelope waits there; the city
/// opens them once the link is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sealed_details_cross_the_town_unread() {
    use crate::support::server::{Mode, Proxy};
    let start = |db: TestDb, code: &'static str, level, parent: Option<String>| async move {
        TestNode::start_with(db, unit(code, code, level, None), parent, |_| {}).await
    };
    let city = start(
        TestDb::new(Backend::Sqlite).await,
        "01",
        UnitLevel::Province,
        None,
    )
    .await;
    let proxy = Proxy::start(city.running().addr).await.unwrap();
    let town = start(
        TestDb::new(Backend::Sqlite).await,
        "269",
        UnitLevel::District,
        Some(proxy.url()),
    )
    .await;
    let a = start(
        TestDb::new(Backend::Sqlite).await,
        "09574",
        UnitLevel::Ward,
        Some(town.url()),
    )
    .await;
    for (child, parent) in [(&town, &city), (&a, &town)] {
        wait_synced(child.running(), parent.running(), Duration::from_secs(30))
            .await
            .unwrap();
    }
    proxy.set(Mode::Drop);
    let petition = receive(&a, "SEALEDTOCITY", pb::PetitionType::Complaint, false).await;
    transfer(&a, &petition.id, "01").await;
    // The town took the envelope (the commune's outbox is empty) and holds it for the city.
    let waiting = wait_for("the envelope to reach the town", || async {
        match mail_waiting_up(&town).await {
            0 => Err("no mail waiting at the town".to_string()),
            n => Ok(n),
        }
    })
    .await;
    assert_eq!(waiting, 1, "the envelope waits at the town");
    let town_dir = town.db.dir().unwrap().to_path_buf();
    let town_db = town.stop().await;
    let town_files = files(&town_dir);
    assert!(
        contains(&town_files, &petition.id),
        "the town's files hold the envelope"
    );
    for m in marker_fields("SEALEDTOCITY") {
        assert!(!contains(&town_files, &m), "{m} is readable at the town");
    }

    let town = start(town_db, "269", UnitLevel::District, Some(proxy.url())).await;
    proxy.set(Mode::Pass);
    let at_city = arrived(&city, &petition.id).await;
    let details = at_city.petitioner.unwrap();
    assert_eq!(
        details,
        markers("SEALEDTOCITY"),
        "the city opened the details"
    );
    for node in [a, town, city] {
        node.stop().await;
    }
}

/// The mail a node's parent link has waiting.
async fn mail_waiting_up(node: &TestNode) -> u64 {
    let mut sync = pb::sync_service_client::SyncServiceClient::new(node.channel().await);
    let status = sync
        .get_sync_status(pb::GetSyncStatusRequest {})
        .await
        .unwrap()
        .into_inner();
    status.parent.map_or(0, |p| p.mail_pending)
}

/// A transfer to a unit whose node has never linked, so that no node knows its key, may not
/// cross the town in clear: it waits at the commune, which holds the details anyway. Once the
/// unit's node links to the town and its key comes down to the commune, the transfer leaves
/// sealed and its destination opens it. The town's files never hold the details.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn details_wait_for_the_destination_key() {
    let start = |code: &'static str, level, parent: Option<String>| async move {
        let db = TestDb::new(Backend::Sqlite).await;
        TestNode::start_with(db, unit(code, code, level, None), parent, |_| {}).await
    };
    let town = start("269", UnitLevel::District, None).await;
    let a = start("09574", UnitLevel::Ward, Some(town.url())).await;
    wait_synced(a.running(), town.running(), Duration::from_secs(30))
        .await
        .unwrap();
    // The town registers a ward whose node has not started: the commune learns the unit, not
    // a key.
    let mut units = pb::unit_service_client::UnitServiceClient::new(town.channel().await);
    units
        .register_unit(pb::RegisterUnitRequest {
            request_id: "register-09577".into(),
            unit: Some(pb::Unit {
                code: "09577".into(),
                name: "Phường Phú Thịnh".into(),
                level: pb::UnitLevel::Ward as i32,
                parent_code: "269".into(),
                remote: false,
            }),
        })
        .await
        .unwrap();
    wait_for("the commune to learn of 09577", || {
        let known = a.running().app.known_unit("09577").is_some();
        async move {
            if known {
                Ok(())
            } else {
                Err("not yet".to_string())
            }
        }
    })
    .await;
    let petition = receive(&a, "WAITSFORKEY", pb::PetitionType::Denunciation, false).await;
    transfer(&a, &petition.id, "09577").await;
    // The uplink looks at its outbox at least once a second; watch it for three.
    stays_for(
        "the envelope waiting at the commune",
        Duration::from_secs(3),
        || async {
            match mail_waiting_up(&a).await {
                1 => Ok(()),
                n => Err(format!("{n} envelopes waiting")),
            }
        },
    )
    .await;
    let town_dir = town.db.dir().unwrap().to_path_buf();
    let town_files = files(&town_dir);
    for m in marker_fields("WAITSFORKEY") {
        assert!(!contains(&town_files, &m), "{m} reached the town");
    }

    let b = start("09577", UnitLevel::Ward, Some(town.url())).await;
    let at_b = arrived(&b, &petition.id).await;
    assert_eq!(
        at_b.petitioner.unwrap(),
        markers("WAITSFORKEY"),
        "the destination opened the details"
    );
    assert_eq!(mail_waiting_up(&a).await, 0);
    let town_db = town.stop().await;
    let town_files = files(&town_dir);
    assert!(
        contains(&town_files, &petition.id),
        "the envelope crossed the town"
    );
    for m in marker_fields("WAITSFORKEY") {
        assert!(!contains(&town_files, &m), "{m} is readable at the town");
    }
    drop(town_db);
    for node in [a, b] {
        node.stop().await;
    }
}
