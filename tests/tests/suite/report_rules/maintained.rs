//! The watch stream, and maintained totals equal to a recount after random workloads.

use super::*;
use crate::support::server;

pub(super) async fn watch_report_follows_changes(backend: Backend) {
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
    api.visit(local(2019, 4, 1, 9, 0, 0), 2).await;
    api.visit(local(2019, 4, 2, 9, 0, 0), 2).await;
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

/// Waits until each node knows its unit: destinations come down the tree in
/// directories, which the journals' sync does not wait for.
pub(super) async fn wait_knows(pairs: &[(&TestNode, &str)]) {
    for (node, code) in pairs {
        wait_for(
            &format!("{} to learn of {code}", node.unit.code),
            || async {
                if node.running().app.tree().knows(code) {
                    Ok(())
                } else {
                    Err("not yet".to_string())
                }
            },
        )
        .await;
    }
}

/// A town with two communes, each on its own node.
pub(super) struct Cluster {
    town: TestNode,
    communes: Vec<TestNode>,
}

impl Cluster {
    pub(super) async fn start(backend: Backend) -> Cluster {
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

    pub(super) fn nodes(&self) -> impl Iterator<Item = &TestNode> {
        std::iter::once(&self.town).chain(self.communes.iter())
    }

    pub(super) async fn settle(&self) {
        let links: Vec<_> = self.communes.iter().map(|c| (c, &self.town)).collect();
        settle_links(&links).await;
    }

    pub(super) async fn stop(self) {
        for c in self.communes {
            c.stop().await;
        }
        self.town.stop().await;
    }

    /// `steps` random visits, petitions, acceptances, resolutions and transfers (a commune to
    /// the other commune or to the town), on days drawn by `day`.
    pub(super) async fn random_workload(
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
                    let p = apis[who]
                        .petition(day, Some(class_of(kind, true, true)))
                        .await;
                    let at = day + chrono::Duration::days(2);
                    let case = apis[who].accept(&p.id, at).await;
                    open.push((who, case.id, at));
                }
                4 if !open.is_empty() => {
                    let (owner, case_id, at) = open.swap_remove(rng.random_range(0..open.len()));
                    let request_id = rid();
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
                        .petition(
                            day,
                            Some(class_of(pb::PetitionType::Complaint, true, false)),
                        )
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
pub(super) async fn assert_maintained(cluster: &Cluster, seed: u64) {
    for node in cluster.nodes() {
        let app = &node.running().app;
        let maintained = server::maintained_totals(app.store().reader())
            .await
            .unwrap();
        let recount = server::recount_totals(app).await.unwrap();
        assert!(!recount.is_empty());
        assert_eq!(maintained, recount, "seed {seed}, node {}", node.unit.code);
        let rollups = server::maintained_rollups(app.store().reader())
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
pub(super) async fn maintained_totals_equal_recount(backend: Backend) {
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
pub(super) fn edge_day(rng: &mut StdRng) -> DateTime<Utc> {
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
    local(year, month, day, hour, minute, 0)
}

/// Reports read from the rollups equal the same reports read from the day rows alone, for
/// named periods on both calendars (crossing month, half-month and year edges) and random
/// ranges, for a unit and its subtree, at several report times.
pub(super) async fn reports_from_rollups_equal_day_rows(backend: Backend) {
    use crate::support::server::{Calendar, Period, parse};
    use crate::support::server::{Report, Source};
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
        local(2019, 7, 15, 0, 30, 0),
        local(2020, 1, 1, 12, 0, 0),
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
                    let read =
                        |source| server::report_from(app, &code, *period, subtree, now, source);
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
    let r = server::report_from(town, "269", year, true, nows[2], Source::Rollups)
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
        crate::support::server::fill_rollups(&tx).await.unwrap();
        tx.commit().await.unwrap();
    }
    assert_maintained(&cluster, 11).await;
    cluster.stop().await;
}
