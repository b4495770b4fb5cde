//! Period boundaries, carry-over across a year end, transfers inside and across subtrees, a child offline at report time.

use super::*;

pub(super) async fn period_boundaries(backend: Backend) {
    let node = TestNode::start(backend, unit("269", "Sơn Tây", UnitLevel::District, None)).await;
    let mut api = Api::new(&node).await;
    // 23:30 on 14 Sep local is still statistical Q3; 00:30 on 15 Sep is not.
    api.petition(local(2019, 9, 14, 23, 30, 0), None).await;
    api.petition(local(2019, 9, 15, 0, 30, 0), None).await;
    api.visit(local(2019, 6, 15, 0, 10, 0), 2).await; // first minutes of statistical Q3
    api.visit(local(2019, 6, 14, 23, 50, 0), 3).await; // last minutes of statistical Q2
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
    assert_invalid(&err, &["period"]);
    node.stop().await;
}

pub(super) async fn carry_over_across_year_end(backend: Backend) {
    let node = TestNode::start(backend, unit("269", "Sơn Tây", UnitLevel::District, None)).await;
    let mut api = Api::new(&node).await;
    let complaint = || Some(class_of(pb::PetitionType::Complaint, true, true));
    // Accepted 10 Dec 2018 (before the statistical 2019 starts on 15 Dec), still open.
    let p1 = api.petition(local(2018, 12, 1, 9, 0, 0), complaint()).await;
    api.accept(&p1.id, local(2018, 12, 10, 9, 0, 0)).await;
    // Accepted 20 Dec 2018: in the statistical 2019, in the calendar 2018.
    let p2 = api
        .petition(local(2018, 12, 18, 9, 0, 0), complaint())
        .await;
    let c2 = api.accept(&p2.id, local(2018, 12, 20, 9, 0, 0)).await;
    api.resolve(&c2.id, local(2019, 1, 5, 9, 0, 0)).await;
    // Accepted and resolved in Nov–Dec 2018, before either 2019 begins.
    let p3 = api.petition(local(2018, 11, 1, 9, 0, 0), complaint()).await;
    let c3 = api.accept(&p3.id, local(2018, 11, 5, 9, 0, 0)).await;
    api.resolve(&c3.id, local(2018, 12, 12, 9, 0, 0)).await;

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
pub(super) async fn transfers_inside_and_across_subtrees(backend: Backend) {
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
    let links = [(&a, &t1), (&b, &t1), (&c, &t2), (&t1, &city), (&t2, &city)];
    let settle = || settle_links(&links);
    settle().await;
    let when = local(2019, 3, 1, 9, 0, 0);
    let mut api_a = Api::new(&a).await;
    let mut api_b = Api::new(&b).await;
    // Inside town 269: from 09574 to 09577.
    let pa = api_a
        .petition(
            when,
            Some(class_of(pb::PetitionType::Complaint, true, false)),
        )
        .await;
    // Across towns: from 09577 to 09700.
    let pb_ = api_b
        .petition(
            when,
            Some(class_of(pb::PetitionType::Complaint, true, false)),
        )
        .await;
    settle().await;
    // A destination is known from the directories that come down the tree (city → town →
    // commune), not from the journals `settle` waits for.
    wait_knows(&[(&a, "09577"), (&b, "09700")]).await;
    api_a
        .transfer(&pa.id, "09577", local(2019, 3, 2, 9, 0, 0))
        .await;
    api_b
        .transfer(&pb_.id, "09700", local(2019, 3, 2, 9, 0, 0))
        .await;
    // Wait for both transfers to arrive.
    let arrived = |node: &TestNode, source: String| {
        let url = node.url();
        let code = node.unit.code.clone();
        async move {
            let ch = tiepdan_tests::channel(&url).await;
            wait_transferred_in(&ch, &code, &source).await
        }
    };
    let at_b = arrived(&b, pa.id.clone()).await;
    assert_eq!(at_b.source_unit, "09574");
    let at_c = arrived(&c, pb_.id.clone()).await;
    assert_eq!(at_c.source_unit, "09577");
    // 09700 accepts and resolves; the result goes back down to 09577.
    let mut api_c = Api::new(&c).await;
    let request_id = rid();
    api_c
        .petitions
        .classify_petition(pb::ClassifyPetitionRequest {
            request_id,
            petition_id: at_c.id.clone(),
            classification: Some(class_of(pb::PetitionType::Complaint, true, true)),
            decision_time: ts(local(2019, 3, 3, 9, 0, 0)),
        })
        .await
        .unwrap();
    let case = api_c.accept(&at_c.id, local(2019, 3, 4, 9, 0, 0)).await;
    let case = api_c.resolve(&case.id, local(2019, 3, 20, 9, 0, 0)).await;
    // The result comes back down to 09577.
    let result = wait_result(&b.channel().await, &pb_.id, &case).await;
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

pub(super) async fn child_offline_at_report_time(backend: Backend) {
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
        api.visit(local(2019, 5, 1 + i, 9, 0, 0), 1).await;
    }
    wait_synced(commune.running(), town.running(), Duration::from_secs(30))
        .await
        .unwrap();
    proxy.set(Mode::Drop);
    // The town notices the link is gone.
    let town_ch = town.channel().await;
    wait_for("the town to see 09574's link down", || {
        let ch = town_ch.clone();
        async move {
            let s = sync_status(&ch).await;
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
    let held = journal_last(&town_ch, "09574").await;
    for i in 0..4 {
        api.visit(local(2019, 6, 1 + i, 9, 0, 0), 1).await;
    }
    stays_for(
        "the town holding no more of 09574's events",
        Duration::from_millis(300),
        || async {
            let now = journal_last(&town_ch, "09574").await;
            if now == held {
                Ok(())
            } else {
                Err(format!("{now} events, {held} before"))
            }
        },
    )
    .await;
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

/// Cases overdue at `end`: due before it, and not closed by then (closed late after it, or
/// still open), counted from each case's own deadline and decision.
fn overdue_at(cases: &[pb::Case], end: chrono::NaiveDate) -> u64 {
    cases
        .iter()
        .filter(|k| {
            let due: chrono::NaiveDate = k.deadline.as_ref().unwrap().due_date.parse().unwrap();
            let closed = k
                .decision_time
                .as_ref()
                .map(|t| crate::support::local_day(crate::support::instant(&Some(*t))));
            due < end && closed.is_none_or(|d| d > end)
        })
        .count() as u64
}

/// `cases_overdue` of a period is the count at the period's end: resolving a case late,
/// after that, leaves the period's figure as it was.
pub(super) async fn overdue_is_judged_at_the_period_end(backend: Backend) {
    let node = TestNode::start(backend, unit("269", "Sơn Tây", UnitLevel::District, None)).await;
    let mut api = Api::new(&node).await;
    let complaint = || Some(class_of(pb::PetitionType::Complaint, true, true));
    let mut cases = Vec::new();
    for (received, accepted) in [
        (local(2019, 1, 2, 9, 0, 0), local(2019, 1, 5, 9, 0, 0)),
        (local(2019, 1, 8, 9, 0, 0), local(2019, 1, 10, 9, 0, 0)),
        (local(2019, 1, 25, 9, 0, 0), local(2019, 2, 1, 9, 0, 0)),
        (local(2019, 7, 25, 9, 0, 0), local(2019, 8, 1, 9, 0, 0)),
    ] {
        let p = api.petition(received, complaint()).await;
        cases.push(api.accept(&p.id, accepted).await);
    }
    // The second is resolved on time; the fourth late, in December.
    cases[1] = api.resolve(&cases[1].id, local(2019, 1, 20, 9, 0, 0)).await;
    cases[3] = api.resolve(&cases[3].id, local(2019, 12, 1, 9, 0, 0)).await;
    let quarters = [
        ("2019-Q1", (2019, 3, 31)),
        ("2019-Q2", (2019, 6, 30)),
        ("2019-Q3", (2019, 9, 30)),
        ("2019-Q4", (2019, 12, 31)),
    ];
    let mut figures = Vec::new();
    for (period, (y, m, d)) in quarters {
        let end = chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap();
        let got = totals(
            &api.report(
                "269",
                period,
                pb::ReportScope::Unit,
                pb::PeriodCalendar::Calendar,
            )
            .await,
        )
        .cases_overdue;
        assert_eq!(
            got,
            overdue_at(&cases, end),
            "{period} before the late resolution"
        );
        figures.push(got);
    }
    assert!(
        figures[0] >= 2,
        "two cases were overdue at the end of Q1: {figures:?}"
    );
    // The first case is resolved late, in May: Q1 keeps its figure, Q2 on loses the case.
    cases[0] = api.resolve(&cases[0].id, local(2019, 5, 10, 9, 0, 0)).await;
    for (i, (period, (y, m, d))) in quarters.into_iter().enumerate() {
        let end = chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap();
        let got = totals(
            &api.report(
                "269",
                period,
                pb::ReportScope::Unit,
                pb::PeriodCalendar::Calendar,
            )
            .await,
        )
        .cases_overdue;
        assert_eq!(
            got,
            overdue_at(&cases, end),
            "{period} after the late resolution"
        );
        if i == 0 {
            assert_eq!(got, figures[0], "a past period's figure does not change");
        }
    }
    node.stop().await;
}

/// A database from before the point-in-time overdue count: its `case.overdue.*` rows missing
/// and the migration's request to count them standing. The next start counts them from the
/// cases: the maintained totals equal a recount and the report gives the figure again.
pub(super) async fn the_overdue_count_is_rebuilt_after_its_migration(backend: Backend) {
    use crate::support::server::{Store, maintained_totals, recount_totals};
    let home = || unit("269", "Sơn Tây", UnitLevel::District, None);
    let node = TestNode::start(backend, home()).await;
    let mut api = Api::new(&node).await;
    let complaint = || Some(class_of(pb::PetitionType::Complaint, true, true));
    let mut cases = Vec::new();
    for day in [3, 9, 20] {
        let p = api
            .petition(local(2019, 1, day, 9, 0, 0), complaint())
            .await;
        cases.push(api.accept(&p.id, local(2019, 1, day + 1, 9, 0, 0)).await);
    }
    cases[2] = api.resolve(&cases[2].id, local(2019, 6, 1, 9, 0, 0)).await;
    let end = chrono::NaiveDate::from_ymd_opt(2019, 3, 31).unwrap();
    let expected = overdue_at(&cases, end);
    assert!(expected > 0);
    let db = node.stop().await;
    {
        let store = Store::open(&db.url).await.unwrap();
        let tx = store.begin_write().await.unwrap();
        for statement in [
            "DELETE FROM tally WHERE metric LIKE 'case.overdue.%'",
            "DELETE FROM tally_rollup WHERE metric LIKE 'case.overdue.%'",
            "INSERT INTO counter (name, value) VALUES ('rebuild.case.overdue', 1)",
        ] {
            tx.execute_unprepared(statement).await.unwrap();
        }
        store.commit(tx).await.unwrap();
        store.close().await.unwrap();
    }
    let node = TestNode::start_on(db, home()).await;
    let app = &node.running().app;
    assert_eq!(
        maintained_totals(app.store().reader()).await.unwrap(),
        recount_totals(app).await.unwrap()
    );
    let mut api = Api::new(&node).await;
    let got = totals(
        &api.report(
            "269",
            "2019-Q1",
            pb::ReportScope::Unit,
            pb::PeriodCalendar::Calendar,
        )
        .await,
    )
    .cases_overdue;
    assert_eq!(got, expected);
    // Counted once: a second start does not count them again.
    let db = node.stop().await;
    let node = TestNode::start_on(db, home()).await;
    let app = &node.running().app;
    assert_eq!(
        maintained_totals(app.store().reader()).await.unwrap(),
        recount_totals(app).await.unwrap()
    );
    node.stop().await;
}
