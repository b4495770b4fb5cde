//! The counting rules of reports: period boundaries in local time, carry-over across a year
//! end, transfers inside and across subtrees, a child offline at report time, the watch
//! stream, and maintained totals equal to a recount after random workloads.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use prost_types::Timestamp;
use rand::{Rng, SeedableRng, rngs::StdRng};
use sea_orm::ConnectionTrait;
use tiepdan_proto::v1 as pb;
use tiepdan_server::demo::proxy::{Mode, Proxy};
use tiepdan_server::demo::wait_synced;
use tiepdan_server::domain::model::UnitLevel;
use tiepdan_server::domain::tally::rollups_of;
use tiepdan_tests::{Backend, TestDb, TestNode, on_every_backend, unit};
use tonic::transport::Channel;

/// A local (UTC+7) wall-clock time.
fn local(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    chrono::FixedOffset::east_opt(7 * 3600)
        .unwrap()
        .with_ymd_and_hms(y, m, d, h, min, 0)
        .unwrap()
        .with_timezone(&Utc)
}

fn ts(t: DateTime<Utc>) -> Option<Timestamp> {
    Some(Timestamp {
        seconds: t.timestamp(),
        nanos: 0,
    })
}

fn class(kind: pb::PetitionType, within: bool) -> pb::Classification {
    pb::Classification {
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
    }
}

struct Api {
    petitions: pb::petition_service_client::PetitionServiceClient<Channel>,
    cases: pb::case_service_client::CaseServiceClient<Channel>,
    reception: pb::reception_service_client::ReceptionServiceClient<Channel>,
    reports: pb::report_service_client::ReportServiceClient<Channel>,
    n: u64,
}

impl Api {
    async fn new(node: &TestNode) -> Api {
        let ch = node.channel().await;
        Api {
            petitions: pb::petition_service_client::PetitionServiceClient::new(ch.clone()),
            cases: pb::case_service_client::CaseServiceClient::new(ch.clone()),
            reception: pb::reception_service_client::ReceptionServiceClient::new(ch.clone()),
            reports: pb::report_service_client::ReportServiceClient::new(ch),
            n: 0,
        }
    }

    fn rid(&mut self) -> String {
        self.n += 1;
        format!("r{}-{}", self.n, uuid::Uuid::new_v4().simple())
    }

    async fn visit(&mut self, at: DateTime<Utc>, persons: u32) -> pb::Visit {
        let request_id = self.rid();
        self.reception
            .record_visit(pb::RecordVisitRequest {
                request_id,
                visit_time: ts(at),
                kind: pb::ReceptionKind::Regular as i32,
                receiver_role: pb::ReceiverRole::Staff as i32,
                persons,
                matter: pb::MatterKind::First as i32,
                action: pb::ReceptionAction::Accepted as i32,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .visit
            .unwrap()
    }

    async fn petition(&mut self, at: DateTime<Utc>, c: Option<pb::Classification>) -> pb::Petition {
        let request_id = self.rid();
        self.petitions
            .receive_petition(pb::ReceivePetitionRequest {
                request_id,
                received_time: ts(at),
                channel: pb::Channel::Post as i32,
                summary: "đơn".into(),
                petitioner: Some(pb::Petitioner {
                    full_name: "A".into(),
                    ..Default::default()
                }),
                classification: c,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .petition
            .unwrap()
    }

    async fn accept(&mut self, petition_id: &str, at: DateTime<Utc>) -> pb::Case {
        let request_id = self.rid();
        self.petitions
            .accept_petition(pb::AcceptPetitionRequest {
                request_id,
                petition_id: petition_id.into(),
                accept_time: ts(at),
                target: Some(pb::accept_petition_request::Target::NewCase(pb::NewCase {
                    complex: false,
                })),
            })
            .await
            .unwrap()
            .into_inner()
            .case
            .unwrap()
    }

    async fn resolve(&mut self, case_id: &str, at: DateTime<Utc>) -> pb::Case {
        let request_id = self.rid();
        self.cases
            .resolve_case(pb::ResolveCaseRequest {
                request_id,
                case_id: case_id.into(),
                outcome: pb::CaseOutcome::ComplaintCorrect as i32,
                decision_number: "1/QĐ".into(),
                decision_time: ts(at),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .case
            .unwrap()
    }

    async fn transfer(&mut self, petition_id: &str, to: &str, at: DateTime<Utc>) {
        let request_id = self.rid();
        self.petitions
            .transfer_petition(pb::TransferPetitionRequest {
                request_id,
                petition_id: petition_id.into(),
                destination: Some(pb::transfer_petition_request::Destination::UnitCode(
                    to.into(),
                )),
                note: String::new(),
                decision_time: ts(at),
            })
            .await
            .unwrap();
    }

    async fn report(
        &mut self,
        unit_code: &str,
        period: &str,
        scope: pb::ReportScope,
        cal: pb::PeriodCalendar,
    ) -> pb::Report {
        self.reports
            .get_report(pb::GetReportRequest {
                unit_code: unit_code.into(),
                period: period.into(),
                scope: scope as i32,
                calendar: cal as i32,
            })
            .await
            .unwrap()
            .into_inner()
            .report
            .unwrap()
    }
}

fn totals(r: &pb::Report) -> pb::Totals {
    r.totals.unwrap()
}

fn row(r: &pb::Report, code: &str) -> pb::Totals {
    r.children
        .iter()
        .find(|c| c.unit.as_ref().unwrap().code == code)
        .and_then(|c| c.totals)
        .unwrap()
}

async fn period_boundaries(backend: Backend) {
    let node = TestNode::start(backend, unit("269", "Sơn Tây", UnitLevel::District, None)).await;
    let mut api = Api::new(&node).await;
    // 23:30 on 14 Sep local is still statistical Q3; 00:30 on 15 Sep is not.
    api.petition(local(2019, 9, 14, 23, 30), None).await;
    api.petition(local(2019, 9, 15, 0, 30), None).await;
    api.visit(local(2019, 6, 15, 0, 10), 2).await; // first minutes of statistical Q3
    api.visit(local(2019, 6, 14, 23, 50), 3).await; // last minutes of statistical Q2
    let stat = |p: &str| p.to_string();
    let q3 = api
        .report(
            "269",
            &stat("2019-Q3"),
            pb::ReportScope::Unit,
            pb::PeriodCalendar::Statistical,
        )
        .await;
    assert_eq!(
        (q3.start_date.as_str(), q3.end_date.as_str()),
        ("2019-06-15", "2019-09-14")
    );
    assert_eq!(totals(&q3).petitions_received, 1);
    assert_eq!((totals(&q3).visits, totals(&q3).persons), (1, 2));
    let oct = api
        .report(
            "269",
            "2019-10",
            pb::ReportScope::Unit,
            pb::PeriodCalendar::Statistical,
        )
        .await;
    assert_eq!(totals(&oct).petitions_received, 1);
    let q2 = api
        .report(
            "269",
            "2019-Q2",
            pb::ReportScope::Unit,
            pb::PeriodCalendar::Statistical,
        )
        .await;
    assert_eq!((totals(&q2).visits, totals(&q2).persons), (1, 3));
    let cal_q3 = api
        .report(
            "269",
            "2019-Q3",
            pb::ReportScope::Unit,
            pb::PeriodCalendar::Calendar,
        )
        .await;
    assert_eq!(
        (cal_q3.start_date.as_str(), cal_q3.end_date.as_str()),
        ("2019-07-01", "2019-09-30")
    );
    assert_eq!(totals(&cal_q3).petitions_received, 2);
    assert_eq!(totals(&cal_q3).visits, 0);
    let range = api
        .report(
            "269",
            "2019-09-14..2019-09-14",
            pb::ReportScope::Unit,
            pb::PeriodCalendar::Statistical,
        )
        .await;
    assert_eq!(totals(&range).petitions_received, 1);
    // A bad period is refused with a field violation.
    let err = api
        .reports
        .get_report(pb::GetReportRequest {
            period: "2019-Q5".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    node.stop().await;
}

async fn carry_over_across_year_end(backend: Backend) {
    let node = TestNode::start(backend, unit("269", "Sơn Tây", UnitLevel::District, None)).await;
    let mut api = Api::new(&node).await;
    let complaint = || Some(class(pb::PetitionType::Complaint, true));
    // Accepted 10 Dec 2018 (before the statistical 2019 starts on 15 Dec), still open.
    let p1 = api.petition(local(2018, 12, 1, 9, 0), complaint()).await;
    api.accept(&p1.id, local(2018, 12, 10, 9, 0)).await;
    // Accepted 20 Dec 2018: in the statistical 2019, in the calendar 2018.
    let p2 = api.petition(local(2018, 12, 18, 9, 0), complaint()).await;
    let c2 = api.accept(&p2.id, local(2018, 12, 20, 9, 0)).await;
    api.resolve(&c2.id, local(2019, 1, 5, 9, 0)).await;
    // Accepted and resolved in Nov–Dec 2018, before either 2019 begins.
    let p3 = api.petition(local(2018, 11, 1, 9, 0), complaint()).await;
    let c3 = api.accept(&p3.id, local(2018, 11, 5, 9, 0)).await;
    api.resolve(&c3.id, local(2018, 12, 12, 9, 0)).await;

    let s = totals(
        &api.report(
            "269",
            "2019",
            pb::ReportScope::Unit,
            pb::PeriodCalendar::Statistical,
        )
        .await,
    );
    assert_eq!(
        (
            s.cases_carried_over,
            s.cases_accepted,
            s.cases_to_resolve,
            s.cases_resolved
        ),
        (1, 1, 2, 1)
    );
    let c = totals(
        &api.report(
            "269",
            "2019",
            pb::ReportScope::Unit,
            pb::PeriodCalendar::Calendar,
        )
        .await,
    );
    assert_eq!(
        (
            c.cases_carried_over,
            c.cases_accepted,
            c.cases_to_resolve,
            c.cases_resolved
        ),
        (2, 0, 2, 1)
    );
    let rate = c.resolution_rate.unwrap();
    assert_eq!((rate.numerator, rate.denominator, rate.percent), (1, 2, 50));
    let old = totals(
        &api.report(
            "269",
            "2018",
            pb::ReportScope::Unit,
            pb::PeriodCalendar::Calendar,
        )
        .await,
    );
    assert_eq!((old.cases_accepted, old.cases_resolved), (3, 1));
    node.stop().await;
}

/// city 01 → towns 269 (communes 09574, 09577) and 270 (commune 09700).
async fn transfers_inside_and_across_subtrees(backend: Backend) {
    let city = TestNode::start(backend, unit("01", "Hà Nội", UnitLevel::Province, None)).await;
    let start = |code: &'static str, level, parent: String| async move {
        TestNode::start_with(
            TestDb::new(Backend::Sqlite).await,
            unit(code, code, level, None),
            Some(parent),
            |_| {},
        )
        .await
    };
    let t1 = start("269", UnitLevel::District, city.url()).await;
    let t2 = start("270", UnitLevel::District, city.url()).await;
    let a = start("09574", UnitLevel::Ward, t1.url()).await;
    let b = start("09577", UnitLevel::Ward, t1.url()).await;
    let c = start("09700", UnitLevel::Commune, t2.url()).await;
    let settle = || async {
        for _ in 0..3 {
            for (child, parent) in [(&a, &t1), (&b, &t1), (&c, &t2), (&t1, &city), (&t2, &city)] {
                wait_synced(child.running(), parent.running(), Duration::from_secs(30))
                    .await
                    .unwrap();
            }
        }
    };
    settle().await;
    let when = local(2019, 3, 1, 9, 0);
    let mut api_a = Api::new(&a).await;
    let mut api_b = Api::new(&b).await;
    // Inside town 269: from 09574 to 09577.
    let pa = api_a
        .petition(when, Some(class(pb::PetitionType::Complaint, false)))
        .await;
    // Across towns: from 09577 to 09700.
    let pb_ = api_b
        .petition(when, Some(class(pb::PetitionType::Complaint, false)))
        .await;
    settle().await;
    // A destination is known from the directories that come down the tree (city → town →
    // commune), not from the journals `settle` waits for.
    wait_knows(&[(&a, "09577"), (&b, "09700")]).await;
    api_a
        .transfer(&pa.id, "09577", local(2019, 3, 2, 9, 0))
        .await;
    api_b
        .transfer(&pb_.id, "09700", local(2019, 3, 2, 9, 0))
        .await;
    // Wait for both transfers to arrive.
    let arrived = |node: &TestNode, source: String| {
        let url = node.url();
        async move {
            let mut client = pb::petition_service_client::PetitionServiceClient::new(
                tiepdan_tests::channel(&url).await,
            );
            for _ in 0..300 {
                let list = client
                    .list_petitions(pb::ListPetitionsRequest::default())
                    .await
                    .unwrap()
                    .into_inner();
                if let Some(p) = list
                    .petitions
                    .into_iter()
                    .find(|p| p.source_petition_id == source)
                {
                    return p;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            panic!("transfer of {source} did not arrive");
        }
    };
    let at_b = arrived(&b, pa.id.clone()).await;
    assert_eq!(at_b.source_unit, "09574");
    let at_c = arrived(&c, pb_.id.clone()).await;
    assert_eq!(at_c.source_unit, "09577");
    // 09700 accepts and resolves; the result goes back down to 09577.
    let mut api_c = Api::new(&c).await;
    let request_id = api_c.rid();
    api_c
        .petitions
        .classify_petition(pb::ClassifyPetitionRequest {
            request_id,
            petition_id: at_c.id.clone(),
            classification: Some(class(pb::PetitionType::Complaint, true)),
            decision_time: ts(local(2019, 3, 3, 9, 0)),
        })
        .await
        .unwrap();
    let case = api_c.accept(&at_c.id, local(2019, 3, 4, 9, 0)).await;
    api_c.resolve(&case.id, local(2019, 3, 20, 9, 0)).await;
    let mut result = None;
    for _ in 0..300 {
        let p = api_b
            .petitions
            .get_petition(pb::GetPetitionRequest {
                petition_id: pb_.id.clone(),
            })
            .await
            .unwrap()
            .into_inner()
            .petition
            .unwrap();
        if !p.result_case_id.is_empty() {
            result = Some(p);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let result = result.expect("the result came back down to 09577");
    assert_eq!(result.result_case_id, case.id);
    assert_eq!(
        result.result_outcome,
        pb::CaseOutcome::ComplaintCorrect as i32
    );
    settle().await;

    let mut api_city = Api::new(&city).await;
    let period = "2019-01-01..2019-12-31";
    let sub = pb::ReportScope::Subtree;
    let cal = pb::PeriodCalendar::Statistical;
    let r269 = api_city.report("269", period, sub, cal).await;
    // Town 269 holds 09574's petition, 09577's own, and the copy 09577 got from 09574: two.
    assert_eq!(totals(&r269).petitions_received, 2);
    assert_eq!(row(&r269, "09574").petitions_received, 1);
    assert_eq!(
        row(&r269, "09577").petitions_received,
        2,
        "09577's subtree: its own and the one from outside it"
    );
    let r270 = api_city.report("270", period, sub, cal).await;
    assert_eq!(
        totals(&r270).petitions_received,
        1,
        "270 got one from outside its subtree"
    );
    assert_eq!(totals(&r270).cases_accepted, 1);
    let r01 = api_city.report("01", period, sub, cal).await;
    assert_eq!(
        totals(&r01).petitions_received,
        2,
        "the city counts each petition once"
    );
    assert_eq!(
        (totals(&r01).cases_to_resolve, totals(&r01).cases_resolved),
        (1, 1)
    );
    // The towns compute the same for themselves.
    let mut api_t1 = Api::new(&t1).await;
    assert_eq!(
        totals(&api_t1.report("269", period, sub, cal).await),
        totals(&r269)
    );
    for n in [a, b, c, t1, t2, city] {
        n.stop().await;
    }
}

async fn child_offline_at_report_time(backend: Backend) {
    let town = TestNode::start(backend, unit("269", "Sơn Tây", UnitLevel::District, None)).await;
    let proxy = Proxy::start(town.running().addr).await.unwrap();
    let commune = TestNode::start_with(
        TestDb::new(Backend::Sqlite).await,
        unit("09574", "Lê Lợi", UnitLevel::Ward, None),
        Some(proxy.url()),
        |_| {},
    )
    .await;
    let mut api = Api::new(&commune).await;
    for i in 0..3 {
        api.visit(local(2019, 5, 1 + i, 9, 0), 1).await;
    }
    wait_synced(commune.running(), town.running(), Duration::from_secs(30))
        .await
        .unwrap();
    proxy.set(Mode::Drop);
    // The town notices the link is gone.
    let town_ch = town.channel().await;
    crate::tier_common::wait_for("the town to see 09574's link down", || {
        let ch = town_ch.clone();
        async move {
            let s = crate::tier_common::sync_status(&ch).await;
            if s.children
                .iter()
                .any(|c| c.unit_code == "09574" && !c.connected)
            {
                Ok(())
            } else {
                Err(format!("{:?}", s.children))
            }
        }
    })
    .await;
    for i in 0..4 {
        api.visit(local(2019, 6, 1 + i, 9, 0), 1).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut town_api = Api::new(&town).await;
    let r = town_api
        .report(
            "269",
            "2019",
            pb::ReportScope::Subtree,
            pb::PeriodCalendar::Calendar,
        )
        .await;
    assert_eq!(
        totals(&r).visits,
        3,
        "the offline commune's new visits are not in yet"
    );
    let child = r
        .children
        .iter()
        .find(|c| c.unit.as_ref().unwrap().code == "09574")
        .unwrap();
    let stamp = |t: &Option<Timestamp>| t.as_ref().map(|t| (t.seconds, t.nanos)).unwrap();
    let as_of = stamp(&child.as_of_time);
    let generated = stamp(&r.generate_time);
    assert!(
        as_of < generated,
        "as_of {as_of:?} shows the child is behind (report at {generated:?})"
    );
    proxy.set(Mode::Pass);
    wait_synced(commune.running(), town.running(), Duration::from_secs(30))
        .await
        .unwrap();
    let r = town_api
        .report(
            "269",
            "2019",
            pb::ReportScope::Subtree,
            pb::PeriodCalendar::Calendar,
        )
        .await;
    assert_eq!(totals(&r).visits, 7);
    commune.stop().await;
    town.stop().await;
}

async fn watch_report_follows_changes(backend: Backend) {
    let node = TestNode::start(backend, unit("269", "Sơn Tây", UnitLevel::District, None)).await;
    let mut api = Api::new(&node).await;
    let mut stream = api
        .reports
        .watch_report(pb::WatchReportRequest {
            report: Some(pb::GetReportRequest {
                period: "2019".into(),
                calendar: pb::PeriodCalendar::Calendar as i32,
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .into_inner();
    let first = stream.message().await.unwrap().unwrap().report.unwrap();
    assert_eq!(totals(&first).visits, 0);
    api.visit(local(2019, 4, 1, 9, 0), 2).await;
    api.visit(local(2019, 4, 2, 9, 0), 2).await;
    let mut seen = 0;
    for _ in 0..5 {
        let next = tokio::time::timeout(Duration::from_secs(10), stream.message())
            .await
            .unwrap()
            .unwrap()
            .unwrap()
            .report
            .unwrap();
        seen = totals(&next).visits;
        if seen == 2 {
            break;
        }
    }
    assert_eq!(seen, 2);
    node.stop().await;
}

/// Waits (at most 60 s) until each node knows its unit: destinations come down the tree in
/// directories, which the journals' sync does not wait for.
async fn wait_knows(pairs: &[(&TestNode, &str)]) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    for (node, code) in pairs {
        while !node.running().app.tree().knows(code) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} never learnt of {code}",
                node.unit.code
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// A town with two communes, each on its own node.
struct Cluster {
    town: TestNode,
    communes: Vec<TestNode>,
}

impl Cluster {
    async fn start(backend: Backend) -> Cluster {
        let town =
            TestNode::start(backend, unit("269", "Sơn Tây", UnitLevel::District, None)).await;
        let mut communes = Vec::new();
        for code in ["09574", "09577"] {
            communes.push(
                TestNode::start_with(
                    TestDb::new(Backend::Sqlite).await,
                    unit(code, code, UnitLevel::Ward, None),
                    Some(town.url()),
                    |_| {},
                )
                .await,
            );
        }
        for c in &communes {
            wait_synced(c.running(), town.running(), Duration::from_secs(30))
                .await
                .unwrap();
        }
        // Each commune learns of its sibling from the town's directory, so it can transfer
        // petitions across.
        let pairs: Vec<(&TestNode, &str)> = communes
            .iter()
            .flat_map(|c| ["09574", "09577"].map(|code| (c, code)))
            .collect();
        wait_knows(&pairs).await;
        Cluster { town, communes }
    }

    fn nodes(&self) -> impl Iterator<Item = &TestNode> {
        std::iter::once(&self.town).chain(self.communes.iter())
    }

    async fn settle(&self) {
        for _ in 0..2 {
            for c in &self.communes {
                wait_synced(c.running(), self.town.running(), Duration::from_secs(30))
                    .await
                    .unwrap();
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    async fn stop(self) {
        for c in self.communes {
            c.stop().await;
        }
        self.town.stop().await;
    }

    /// `steps` random visits, petitions, acceptances, resolutions and transfers (a commune to
    /// the other commune or to the town), on days drawn by `day`.
    async fn random_workload(
        &self,
        rng: &mut StdRng,
        steps: usize,
        day: impl Fn(&mut StdRng) -> DateTime<Utc>,
    ) {
        let mut apis = vec![Api::new(&self.town).await];
        for c in &self.communes {
            apis.push(Api::new(c).await);
        }
        let codes = ["269", "09574", "09577"];
        let mut open: Vec<(usize, String, DateTime<Utc>)> = Vec::new();
        for _ in 0..steps {
            let who = rng.random_range(0..apis.len());
            let day = day(rng);
            match rng.random_range(0..6) {
                0 | 1 => {
                    apis[who].visit(day, rng.random_range(1..=8)).await;
                }
                2 => {
                    apis[who].petition(day, None).await;
                }
                3 => {
                    let kind = [
                        pb::PetitionType::Complaint,
                        pb::PetitionType::Denunciation,
                        pb::PetitionType::Recommendation,
                    ][rng.random_range(0..3)];
                    let p = apis[who].petition(day, Some(class(kind, true))).await;
                    let at = day + chrono::Duration::days(2);
                    let case = apis[who].accept(&p.id, at).await;
                    open.push((who, case.id, at));
                }
                4 if !open.is_empty() => {
                    let (owner, case_id, at) = open.swap_remove(rng.random_range(0..open.len()));
                    let request_id = apis[owner].rid();
                    let case = apis[owner]
                        .cases
                        .get_case(pb::GetCaseRequest {
                            case_id: case_id.clone(),
                        })
                        .await
                        .unwrap()
                        .into_inner()
                        .case
                        .unwrap();
                    let outcome = match pb::PetitionType::try_from(case.r#type).unwrap() {
                        pb::PetitionType::Complaint => pb::CaseOutcome::ComplaintPartlyCorrect,
                        pb::PetitionType::Denunciation => pb::CaseOutcome::DenunciationUnfounded,
                        _ => pb::CaseOutcome::RecommendationAnswered,
                    };
                    apis[owner]
                        .cases
                        .resolve_case(pb::ResolveCaseRequest {
                            request_id,
                            case_id,
                            outcome: outcome as i32,
                            decision_number: "x".into(),
                            decision_time: ts(at + chrono::Duration::days(rng.random_range(1..60))),
                            ..Default::default()
                        })
                        .await
                        .unwrap();
                }
                _ => {
                    let from = 1 + rng.random_range(0..2);
                    let to = codes[(from + 1 + rng.random_range(0..2)) % 3];
                    let p = apis[from]
                        .petition(day, Some(class(pb::PetitionType::Complaint, false)))
                        .await;
                    apis[from]
                        .transfer(&p.id, to, day + chrono::Duration::days(1))
                        .await;
                }
            }
        }
    }
}

/// Every node's maintained totals equal a recount of the records it holds, and every rollup
/// row equals the sum of its day rows.
async fn assert_maintained(cluster: &Cluster, seed: u64) {
    for node in cluster.nodes() {
        let app = &node.running().app;
        let maintained = tiepdan_server::report::maintained_totals(app.store().reader())
            .await
            .unwrap();
        let recount = tiepdan_server::report::recount_totals(app).await.unwrap();
        assert!(!recount.is_empty());
        assert_eq!(maintained, recount, "seed {seed}, node {}", node.unit.code);
        let rollups = tiepdan_server::report::maintained_rollups(app.store().reader())
            .await
            .unwrap();
        assert!(!rollups.is_empty());
        assert_eq!(
            rollups,
            rollups_of(&maintained),
            "seed {seed}, node {}: rollups are the sums of their day rows",
            node.unit.code
        );
    }
}

/// Random workloads on a town with two communes; afterwards every node's maintained totals
/// equal a recount of the records it holds, and its rollups the sums of its day rows.
async fn maintained_totals_equal_recount(backend: Backend) {
    for seed in [1u64, 2, 3] {
        let cluster = Cluster::start(backend).await;
        let mut rng = StdRng::seed_from_u64(seed);
        cluster
            .random_workload(&mut rng, 60, |rng| {
                local(
                    2019,
                    rng.random_range(1..=6),
                    rng.random_range(1..=28),
                    9,
                    0,
                )
            })
            .await;
        cluster.settle().await;
        assert_maintained(&cluster, seed).await;
        cluster.stop().await;
    }
}

/// A day from November 2018 to February 2020, most often at a month's or a half-month's
/// edge, and at times either side of local midnight.
fn edge_day(rng: &mut StdRng) -> DateTime<Utc> {
    let (year, month) = match rng.random_range(0..16) {
        0 => (2018, 11),
        1 => (2018, 12),
        m @ 2..=13 => (2019, m - 1),
        14 => (2020, 1),
        _ => (2020, 2),
    };
    let last = chrono::NaiveDate::from_ymd_opt(year, month, 28)
        .unwrap()
        .iter_days()
        .take_while(|d| chrono::Datelike::month(d) == month)
        .last()
        .map_or(28, |d| chrono::Datelike::day(&d));
    let day = [1, 2, 13, 14, 15, 16, 27, last - 1, last][rng.random_range(0..9)];
    let (hour, minute) = [(0, 30), (9, 0), (23, 30)][rng.random_range(0..3)];
    local(year, month, day, hour, minute)
}

/// Reports read from the rollups equal the same reports read from the day rows alone, for
/// named periods on both calendars (crossing month, half-month and year edges) and random
/// ranges, for a unit and its subtree, at several report times.
async fn reports_from_rollups_equal_day_rows(backend: Backend) {
    use tiepdan_server::domain::period::{Calendar, Period, parse};
    use tiepdan_server::report::{Report, Source};
    let cluster = Cluster::start(backend).await;
    let mut rng = StdRng::seed_from_u64(11);
    cluster.random_workload(&mut rng, 90, edge_day).await;
    cluster.settle().await;
    assert_maintained(&cluster, 11).await;

    let mut periods: Vec<Period> = Vec::new();
    for calendar in [Calendar::Statistical, Calendar::Plain] {
        for year in [2019, 2020] {
            let mut names = vec![year.to_string()];
            for part in ["Q1", "Q2", "Q3", "Q4", "6M", "9M"] {
                names.push(format!("{year}-{part}"));
            }
            for month in 1..=12 {
                names.push(format!("{year}-{month:02}"));
            }
            periods.extend(names.iter().map(|n| parse(n, calendar).unwrap()));
        }
    }
    let first = chrono::NaiveDate::from_ymd_opt(2018, 10, 1).unwrap();
    for _ in 0..40 {
        let start = first + chrono::Duration::days(rng.random_range(0..550));
        let end = start + chrono::Duration::days(rng.random_range(0..400));
        periods.push(Period { start, end });
    }
    let nows = [
        local(2019, 7, 15, 0, 30),
        local(2020, 1, 1, 12, 0),
        Utc::now(),
    ];
    let key = |r: &Report| {
        (
            r.totals.clone(),
            r.by_type.clone(),
            r.children
                .iter()
                .map(|c| (c.unit.code.clone(), c.totals.clone()))
                .collect::<Vec<_>>(),
        )
    };
    let mut compared = 0;
    for node in cluster.nodes() {
        let app = &node.running().app;
        let code = node.unit.code.clone();
        for period in &periods {
            for subtree in [false, true] {
                for now in nows {
                    let read = |source| {
                        tiepdan_server::report::report_from(
                            app, &code, *period, subtree, now, source,
                        )
                    };
                    let rolled = read(Source::Rollups).await.unwrap();
                    let days = read(Source::DayRows).await.unwrap();
                    assert_eq!(
                        key(&rolled),
                        key(&days),
                        "node {code}, {period:?}, subtree {subtree}, now {now}"
                    );
                    compared += 1;
                }
            }
        }
    }
    assert!(compared > 0);
    // The workload reaches across the year end: the comparison is not between empty reports.
    let year = parse("2019", Calendar::Statistical).unwrap();
    let town = &cluster.town.running().app;
    let r = tiepdan_server::report::report_from(town, "269", year, true, nows[2], Source::Rollups)
        .await
        .unwrap();
    assert!(r.totals.visits > 0 && r.totals.petitions_received > 0);
    assert!(r.totals.cases_to_resolve > 0);
    // The migration's fill rebuilds the same rollups from the day rows, whatever was there.
    for node in cluster.nodes() {
        let store = node.running().app.store();
        let tx = store.begin_write().await.unwrap();
        tx.execute_unprepared(
            "INSERT INTO tally_rollup (subtree, unit_code, span, day, metric, value) \
             VALUES (false, 'x', 'half', '2019-01-01', 'visits', 7)",
        )
        .await
        .unwrap();
        tiepdan_server::storage::migration::fill_rollups(&tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    assert_maintained(&cluster, 11).await;
    cluster.stop().await;
}

on_every_backend!(
    period_boundaries,
    carry_over_across_year_end,
    transfers_inside_and_across_subtrees,
    child_offline_at_report_time,
    watch_report_follows_changes,
    maintained_totals_equal_recount,
    reports_from_rollups_equal_day_rows,
);
