//! How current a report's rows are, judged through every hop: a ward cut off below its town
//! makes the town's row at the city (and the ward's own row in the city's report of the
//! town) say up to when their records are held, while the rows whose links are all open say
//! "now" (the report's own time); when the link is back, every row is current again.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support::*;
use tonic::transport::Channel;

/// The rows of `unit`'s subtree report at `ch`: code → (as of, generated at).
async fn rows(
    ch: &Channel,
    unit: &str,
) -> std::collections::BTreeMap<String, (Option<prost_types::Timestamp>, prost_types::Timestamp)> {
    let report = reports(ch)
        .get_report(pb::GetReportRequest {
            unit_code: unit.to_string(),
            period: "2019".into(),
            scope: pb::ReportScope::Subtree as i32,
            calendar: pb::PeriodCalendar::Calendar as i32,
        })
        .await
        .unwrap()
        .into_inner()
        .report
        .unwrap();
    let generated = report.generate_time.unwrap();
    report
        .children
        .into_iter()
        .map(|r| (r.unit.unwrap().code, (r.as_of_time, generated)))
        .collect()
}

fn current(row: &(Option<prost_types::Timestamp>, prost_types::Timestamp)) -> bool {
    row.0.as_ref() == Some(&row.1)
}

async fn a_grandchild_cut_off_is_stale_at_the_city(backend: Backend) {
    let tree = Tree::start(backend, Depth::Three, Options::default()).await;
    record_everywhere(&tree, "fresh", 3, 1).await;
    settle(&tree).await;
    let city = tree.channel("01");
    for (unit, row) in rows(&city, "01").await {
        assert!(current(&row), "{unit} current at first: {row:?}");
    }
    let ward = "09577";
    tree.proxy(ward).set(Mode::Drop);
    tree.wait_unlinked(ward).await;
    // The town notices, then tells the city.
    wait_for("the city to see the town's subtree behind", || {
        let city = city.clone();
        async move {
            let at_city = rows(&city, "01").await;
            let of_town = rows(&city, "269").await;
            match (&at_city["269"], &of_town[ward]) {
                (town, w) if !current(town) && !current(w) => Ok(()),
                other => Err(format!("{other:?}")),
            }
        }
    })
    .await;
    let at_city = rows(&city, "01").await;
    let of_town = rows(&city, "269").await;
    // The other district, and the town's other wards, are whole.
    assert!(current(&at_city["271"]), "{:?}", at_city["271"]);
    for w in ["09574", "09580"] {
        assert!(current(&of_town[w]), "{w}: {:?}", of_town[w]);
    }
    // Held up to a time before the report, not never.
    let held = of_town[ward].0.expect("the ward synced before the cut");
    assert!(held.seconds <= of_town[ward].1.seconds);
    assert_eq!(
        at_city["269"].0, of_town[ward].0,
        "the town's row is as old as its ward"
    );

    tree.proxy(ward).set(Mode::Pass);
    wait_for("every row current again", || {
        let city = city.clone();
        async move {
            let at_city = rows(&city, "01").await;
            let of_town = rows(&city, "269").await;
            if at_city.values().chain(of_town.values()).all(current) {
                Ok(())
            } else {
                Err(format!("{at_city:?} {of_town:?}"))
            }
        }
    })
    .await;
    verify(&tree).await;
    tree.stop().await;
}

on_every_backend!(a_grandchild_cut_off_is_stale_at_the_city);
