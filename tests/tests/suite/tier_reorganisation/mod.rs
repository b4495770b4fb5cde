//! Reorganisations on a running tree, in the shape of 1 July 2025: the city dissolves the
//! town, merges one of its wards into another and moves a third straight under itself,
//! while the wards record and the moved one is offline. Every report of an earlier period
//! is the same before and after, at the city and at the town; the merged ward's open case is
//! resolved by its successor and counted once; the moved ward, pointed at the city, is taken
//! there with its history; nothing is lost or applied twice; a unit moved without a
//! reorganisation is still refused.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod forged;
mod three_levels;
mod two_levels;

pub(super) use std::collections::BTreeMap;

pub(super) use crate::support::server::UnitLevel;
pub(super) use crate::support::*;
pub(super) use tonic::Code;
pub(super) use tonic::transport::Channel;

pub(super) const CITY: &str = "01";
pub(super) const TOWN: &str = "269";
/// Takes over the town and `MERGED`, and moves under the city.
pub(super) const KEEPER: &str = "09574";
pub(super) const MERGED: &str = "09577";
/// Moves under the city while its link is cut.
pub(super) const MOVED: &str = "09580";
pub(super) const OTHER_WARD: &str = "09619";
pub(super) const EFFECTIVE: &str = "2025-07-01";

/// Periods wholly before the change.
pub(super) const EARLIER: [&str; 4] = ["2019-9M", "2019", "2024", "2025-01-01..2025-06-30"];

pub(super) fn units(ch: &Channel) -> pb::unit_service_client::UnitServiceClient<Channel> {
    pb::unit_service_client::UnitServiceClient::new(ch.clone())
}

pub(super) fn change(code: &str, name: &str, level: pb::UnitLevel, parent: &str) -> pb::UnitChange {
    pb::UnitChange {
        unit: Some(pb::Unit {
            code: code.into(),
            name: name.into(),
            level: level as i32,
            parent_code: parent.into(),
            remote: false,
        }),
        successor_code: String::new(),
    }
}

pub(super) fn ends(code: &str, successor: &str) -> pb::UnitChange {
    pb::UnitChange {
        unit: Some(pb::Unit {
            code: code.into(),
            ..Default::default()
        }),
        successor_code: successor.into(),
    }
}

pub(super) fn resolution() -> pb::Reorganisation {
    pb::Reorganisation {
        id: "1656/NQ-UBTVQH15".into(),
        title: "Sắp xếp đơn vị hành chính cấp xã".into(),
        authority_code: String::new(),
        effective_date: EFFECTIVE.into(),
        changes: vec![
            change(KEEPER, "Phường Sơn Tây", pb::UnitLevel::Ward, CITY),
            change(MOVED, "Xã Đoài Phương", pb::UnitLevel::Commune, CITY),
            ends(MERGED, KEEPER),
            ends(TOWN, KEEPER),
        ],
    }
}

pub(super) async fn report_of(
    ch: &Channel,
    unit: &str,
    period: &str,
) -> Result<pb::Report, tonic::Status> {
    let mut r = reports(ch)
        .get_report(pb::GetReportRequest {
            unit_code: unit.to_string(),
            period: period.to_string(),
            scope: pb::ReportScope::Subtree as i32,
            calendar: 0,
        })
        .await?
        .into_inner()
        .report
        .unwrap();
    // When it was computed and how fresh each row is change from call to call.
    r.generate_time = None;
    for row in &mut r.children {
        row.as_of_time = None;
    }
    Ok(r)
}

/// Every subtree report of `periods` the node at `ch` gives for `unit_codes`.
pub(super) async fn snapshot(
    ch: &Channel,
    unit_codes: &[&str],
    periods: &[&str],
) -> BTreeMap<(String, String), pb::Report> {
    let mut out = BTreeMap::new();
    for unit in unit_codes {
        for period in periods {
            let r = report_of(ch, unit, period)
                .await
                .unwrap_or_else(|e| panic!("report of {unit} for {period}: {e}"));
            out.insert((unit.to_string(), period.to_string()), r);
        }
    }
    out
}

/// Fails naming each report that differs, with what changed in it.
pub(super) fn assert_same(
    now: &BTreeMap<(String, String), pb::Report>,
    was: &BTreeMap<(String, String), pb::Report>,
    what: &str,
) {
    assert_eq!(
        now.keys().collect::<Vec<_>>(),
        was.keys().collect::<Vec<_>>(),
        "{what}: the reports asked"
    );
    let differ: Vec<String> = now
        .iter()
        .filter(|(k, r)| was[*k] != **r)
        .map(|(k, r)| {
            let w = &was[k];
            format!(
                "{k:?}: unit {:?} / {:?}; totals {:?} / {:?}; rows {:?} / {:?}; predecessors {}",
                r.unit.as_ref().map(|u| &u.name),
                w.unit.as_ref().map(|u| &u.name),
                r.totals.as_ref().map(|t| (
                    t.visits,
                    t.petitions_received,
                    t.cases_to_resolve,
                    t.cases_resolved,
                    t.cases_overdue
                )),
                w.totals.as_ref().map(|t| (
                    t.visits,
                    t.petitions_received,
                    t.cases_to_resolve,
                    t.cases_resolved,
                    t.cases_overdue
                )),
                r.children
                    .iter()
                    .map(|c| c.unit.as_ref().map(|u| u.code.clone()))
                    .collect::<Vec<_>>(),
                w.children
                    .iter()
                    .map(|c| c.unit.as_ref().map(|u| u.code.clone()))
                    .collect::<Vec<_>>(),
                r.predecessors.len(),
            )
        })
        .collect();
    assert!(differ.is_empty(), "{what}:\n{}", differ.join("\n"));
}

/// The reports of `periods` among `reports`.
pub(super) fn only(
    reports: &BTreeMap<(String, String), pb::Report>,
    periods: &[&str],
) -> BTreeMap<(String, String), pb::Report> {
    reports
        .iter()
        .filter(|((_, p), _)| periods.contains(&p.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

pub(super) async fn visit(ch: &Channel, at: chrono::DateTime<chrono::Utc>) {
    reception(ch)
        .record_visit(visit_req(at, pb::ReceiverRole::Staff, 2))
        .await
        .unwrap();
}

/// A complaint received and accepted on `day`; resolved a month later unless `open`.
pub(super) async fn complaint(ch: &Channel, day: chrono::NaiveDate, open: bool) -> pb::Case {
    let p = receive(
        ch,
        rid(),
        on(day, 9, 0),
        Some(class_of(pb::PetitionType::Complaint, true, true)),
    )
    .await;
    let case = accept_new(ch, rid(), &p.id, on(plus_days(day, 2), 9, 0)).await;
    if open {
        return case;
    }
    resolve(
        ch,
        rid(),
        &case.id,
        pb::CaseOutcome::ComplaintCorrect,
        on(plus_days(day, 30), 9, 0),
    )
    .await
}

/// Records of every ward and of the town in 2019 and 2024; returns `MERGED`'s open case.
pub(super) async fn record_history(tree: &Tree) -> pb::Case {
    let mut open = None;
    for (i, code) in [TOWN, KEEPER, MERGED, MOVED, OTHER_WARD].iter().enumerate() {
        let ch = tree.channel(code);
        for n in 0..=i as u32 {
            visit(&ch, local(2019, 3 + n, 10, 9, 0, 0)).await;
            visit(&ch, local(2024, 5, 1 + n, 9, 0, 0)).await;
        }
        complaint(&ch, date(2019, 4, 2 + i as u32), false).await;
        let case = complaint(&ch, date(2024, 3, 4), true).await;
        if *code == MERGED {
            open = Some(case);
        }
    }
    open.unwrap()
}

/// Waits until the node at `ch` holds the reorganisation.
pub(super) async fn wait_followed(ch: &Channel, code: &str) {
    wait_for(
        &format!("{code} to follow the reorganisation"),
        || async move {
            let list = units(ch)
                .list_reorganisations(pb::ListReorganisationsRequest {})
                .await
                .map_err(|e| e.to_string())?
                .into_inner();
            if list.reorganisations.is_empty() {
                Err("none yet".to_string())
            } else {
                Ok(())
            }
        },
    )
    .await
}

/// Waits until the city holds every event of each of `origins`, byte for byte as the node
/// that wrote it.
pub(super) async fn wait_city_holds(tree: &Tree, origins: &[&str]) {
    let city = tree.channel(CITY);
    for origin in origins {
        let own = tree.channel(origin);
        // The heads first: the journals are read whole only once the city applies no more of
        // them (a journal read while a batch lands does not add up).
        wait_for(&format!("the city to hold {origin}'s last event"), || {
            let (city, own) = (city.clone(), own.clone());
            async move {
                let (held, written) = (
                    journal_last(&city, origin).await,
                    journal_last(&own, origin).await,
                );
                if held == written {
                    Ok(())
                } else {
                    Err(format!("{held} of {written} events"))
                }
            }
        })
        .await;
        assert_eq!(
            journal_bytes(&city, origin).await,
            journal_bytes(&own, origin).await,
            "{origin}'s journal at the city, byte for byte"
        );
    }
}

pub(super) fn within(
    t: &Option<prost_types::Timestamp>,
    (from, to): (chrono::NaiveDate, chrono::NaiveDate),
) -> bool {
    let day = local_day(instant(t));
    from <= day && day <= to
}

/// Waits until the node at `ch` holds `unit`'s case `id` and has finished taking over.
pub(super) async fn wait_taken_over(ch: &Channel, unit: &str, id: &str) {
    wait_for(&format!("case {id} of {unit} taken over"), || async move {
        let held = cases_of(ch, unit).await;
        let recovering = sync_status(ch).await.recovery.is_some_and(|r| r.recovering);
        if !recovering && held.iter().any(|c| c.id == id) {
            Ok(())
        } else {
            Err(format!("{} cases", held.len()))
        }
    })
    .await
}
