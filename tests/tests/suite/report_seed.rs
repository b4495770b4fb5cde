//! The seed's shape (DOMAIN.md): thị xã Sơn Tây with its 15 wards and communes, Hà Nội above,
//! a 9-month register spread over the units by a seeded generator through the public gRPC
//! API, synced up the tree; the town's subtree report, read from the town node and from the
//! city node, must give the generator's own counts — 923 / 96 / 35 / 22 / 63 % for the seed's
//! shape, and other numbers for another shape.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use crate::support::server::UnitLevel;
use crate::support::server::{COMMUNES, wait_synced};
use crate::support::server::{Ledger, Shape, Target, generator};
use tiepdan_proto::v1 as pb;
use tiepdan_tests::{Backend, TestDb, TestNode, channel, unit};

struct Tree {
    city: TestNode,
    town: TestNode,
    communes: Vec<TestNode>,
}

async fn tree(upper: Backend, communes: usize) -> Tree {
    let city = TestNode::start(
        upper,
        unit("01", "Thành phố Hà Nội", UnitLevel::Province, None),
    )
    .await;
    let town = TestNode::start_with(
        TestDb::new(upper).await,
        unit("269", "Thị xã Sơn Tây", UnitLevel::District, None),
        Some(city.url()),
        |_| {},
    )
    .await;
    let mut nodes = Vec::new();
    for (code, name, level) in COMMUNES.iter().take(communes) {
        nodes.push(
            TestNode::start_with(
                TestDb::new(Backend::Sqlite).await,
                unit(code, name, *level, None),
                Some(town.url()),
                |_| {},
            )
            .await,
        );
    }
    Tree {
        city,
        town,
        communes: nodes,
    }
}

async fn sync(t: &Tree) {
    for c in &t.communes {
        wait_synced(c.running(), t.town.running(), Duration::from_secs(60))
            .await
            .unwrap();
    }
    wait_synced(t.town.running(), t.city.running(), Duration::from_secs(60))
        .await
        .unwrap();
}

async fn report(at: &TestNode, unit_code: &str, period: &str) -> pb::Report {
    let mut client = pb::report_service_client::ReportServiceClient::new(at.channel().await);
    client
        .get_report(pb::GetReportRequest {
            unit_code: unit_code.into(),
            period: period.into(),
            scope: pb::ReportScope::Subtree as i32,
            calendar: pb::PeriodCalendar::Statistical as i32,
        })
        .await
        .unwrap()
        .into_inner()
        .report
        .unwrap()
}

fn complaints(r: &pb::Report) -> pb::Totals {
    r.by_type
        .iter()
        .find(|row| row.r#type == pb::PetitionType::Complaint as i32)
        .and_then(|row| row.totals)
        .unwrap()
}

/// The report of the town's subtree matches the ledger, whole and per child.
fn check(r: &pb::Report, ledger: &Ledger) {
    let total = ledger.total();
    let t = r.totals.unwrap();
    assert_eq!(t.visits, total.visits, "visits");
    assert_eq!(t.persons, total.persons, "persons");
    assert_eq!(t.crowd_groups, total.crowd_groups, "crowd groups");
    assert_eq!(
        t.petitions_received, total.petitions_received,
        "petitions counted once"
    );
    let c = complaints(r);
    assert_eq!(
        c.cases_to_resolve, total.complaint_cases_to_resolve,
        "complaint cases to resolve"
    );
    assert_eq!(c.cases_resolved, total.complaint_cases_resolved, "resolved");
    let rate = c.resolution_rate.unwrap();
    assert_eq!(
        (rate.numerator, rate.denominator),
        (
            total.complaint_cases_resolved,
            total.complaint_cases_to_resolve
        )
    );
    let expected_percent = (total.complaint_cases_resolved * 200
        + total.complaint_cases_to_resolve)
        / (2 * total.complaint_cases_to_resolve);
    assert_eq!(u64::from(rate.percent), expected_percent);
    for row in &r.children {
        let code = row.unit.as_ref().unwrap().code.clone();
        let l = &ledger.units[&code];
        let rt = row.totals.unwrap();
        assert_eq!((rt.visits, rt.persons), (l.visits, l.persons), "row {code}");
        assert_eq!(
            rt.petitions_received, l.petitions_received,
            "row {code} petitions"
        );
        assert!(
            row.as_of_time.is_some(),
            "row {code} says how current it is"
        );
    }
}

async fn seed_shape(upper: Backend) {
    let t = tree(upper, 15).await;
    sync(&t).await;
    let town = Target {
        code: "269".into(),
        channel: t.town.channel().await,
    };
    let mut communes = Vec::new();
    for c in &t.communes {
        communes.push(Target {
            code: c.unit.code.clone(),
            channel: c.channel().await,
        });
    }
    let shape = Shape::son_tay_2019(7);
    let ledger = generator::generate(&shape, &town, &communes).await.unwrap();
    // The generator did what it was asked.
    let total = ledger.total();
    assert_eq!(
        (
            total.visits,
            total.petitions_received,
            total.complaint_cases_to_resolve,
            total.complaint_cases_resolved
        ),
        (923, 96, 35, 22)
    );
    sync(&t).await;
    let at_town = report(&t.town, "269", "2019-9M").await;
    check(&at_town, &ledger);
    let at_city = report(&t.city, "269", "2019-9M").await;
    check(&at_city, &ledger);
    let c = complaints(&at_city);
    assert_eq!(c.resolution_rate.unwrap().percent, 63);
    assert_eq!(at_town.children.len(), 15);
    // The city's own subtree holds the same, with the town as its one child.
    let city = report(&t.city, "01", "2019-9M").await;
    assert_eq!(city.totals.unwrap().visits, 923);
    assert_eq!(city.children.len(), 1);
}

async fn other_shape(upper: Backend) {
    let t = tree(upper, 4).await;
    sync(&t).await;
    let town = Target {
        code: "269".into(),
        channel: t.town.channel().await,
    };
    let mut communes = Vec::new();
    for c in &t.communes {
        communes.push(Target {
            code: c.unit.code.clone(),
            channel: c.channel().await,
        });
    }
    let shape = Shape {
        seed: 99,
        year: 2021,
        visits: 140,
        petitions: 31,
        complaint_cases_to_resolve: 17,
        complaint_cases_resolved: 9,
        carried_over: 4,
        transferred_up: 3,
    };
    let ledger = generator::generate(&shape, &town, &communes).await.unwrap();
    sync(&t).await;
    let r = report(&t.city, "269", "2021-9M").await;
    check(&r, &ledger);
    let c = complaints(&r);
    assert_eq!((c.cases_to_resolve, c.cases_resolved), (17, 9));
    assert_eq!(c.resolution_rate.unwrap().percent, 53); // 9 / 17 = 52.9 %
    // Nothing of 2021 is in 2019's report.
    let empty = report(&t.city, "269", "2019-9M").await;
    assert_eq!(empty.totals.unwrap().visits, 0);
    let _ = channel;
}

mod seed {
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn sqlite() {
        super::seed_shape(super::Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn postgres() {
        super::seed_shape(super::Backend::Postgres).await;
    }
}

mod other {
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn sqlite() {
        super::other_shape(super::Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn postgres() {
        super::other_shape(super::Backend::Postgres).await;
    }
}
