//! `tiepdan-node demo --reorganise`: the seed's three-level tree carried through the 1 July
//! 2025 reorganisation on its running nodes. It records 2019 to mid-2025, cuts one commune
//! off, issues the reorganisation at the city (the town dissolved into its first ward, which
//! also takes over the second; the others moved straight under the city), points the live
//! communes at the city, records on, and prints every earlier period's report before and
//! after side by side, then a year on the new map. It fails if an earlier report moved or a
//! visit was lost or counted twice.

use std::collections::BTreeMap;
use std::path::Path;

use tiepdan_proto::v1 as pb;

use super::generator::Shape;
use super::maps::SON_TAY_2019;
use super::*;

const RESOLUTION: &str = "1656/NQ-UBTVQH15";
const EFFECTIVE: &str = "2025-07-01";
/// Periods wholly before the change: their reports must not move.
const EARLIER: [&str; 5] = ["2019-9M", "2019", "2022", "2024", "2025-01-01..2025-06-30"];
/// A year on the new map.
const LATER: &str = "2025-07-01..2026-06-30";
/// From the seed's period to the last visit recorded.
const EVERYTHING: &str = "2018-12-15..2026-06-30";

/// Runs the reorganisation demo.
pub(super) async fn run(options: DemoOptions) -> anyhow::Result<()> {
    let (dir, _temp) = data_dir(options.data_dir.as_deref())?;
    let options = DemoOptions {
        communes: options.communes.max(3),
        http_listen: None,
        ..options
    };
    let mut tree = start_tree(&SON_TAY_2019, &dir, &options).await?;
    let shape = Shape::son_tay_2019(options.seed);
    let ledger = record(&tree, &shape).await?;
    let mut extra = 0;
    println!("\nrecording a few visits a year at every commune, 2020 to June 2025");
    for (i, c) in tree.communes.iter().enumerate() {
        for year in 2020..=2025 {
            extra += visit(c, &format!("{year}-06-{:02}", 10 + i), options.seed).await?;
        }
    }
    sync_up(&tree, 0).await?;
    let codes: Vec<String> = tree
        .tiers
        .iter()
        .chain(&tree.communes)
        .map(|n| n.unit.code.clone())
        .collect();
    let before = reports(tree.root(), &codes, &EARLIER).await?;

    let offline = tree.communes.len() - 1;
    if let Some(p) = &tree.communes[offline].proxy {
        p.set(Mode::Drop);
    }
    let cut = tree.communes[offline].unit.clone();
    println!("\ncutting {} ({}) off its town", cut.name, cut.code);
    extra += visit(&tree.communes[offline], "2025-08-05", options.seed).await?;

    let resolution = resolution(&tree);
    pb::unit_service_client::UnitServiceClient::new(tree.root().channel().await?)
        .reorganise(pb::ReorganiseRequest {
            request_id: format!("demo-reorganise-{}", options.seed),
            reorganisation: Some(resolution.clone()),
        })
        .await?;
    describe(&resolution);

    move_live_communes(&mut tree, &dir).await?;
    let keeper = &tree.communes[0];
    let ended = [
        tree.tiers[1].unit.code.clone(),
        tree.communes[1].unit.code.clone(),
    ];
    let taken = take_over(keeper, &ended).await?;
    for (i, c) in tree.communes.iter().enumerate().filter(|(i, _)| *i != 1) {
        extra += visit(c, &format!("2026-02-{:02}", 3 + i), options.seed).await?;
    }
    for c in &tree.communes {
        let above = if c.unit.code == tree.communes[1].unit.code {
            &tree.tiers[1]
        } else {
            tree.root()
        };
        wait_synced(&c.node, &above.node, SYNC_LIMIT).await?;
    }
    wait_synced(&tree.tiers[1].node, &tree.root().node, SYNC_LIMIT).await?;

    let after = reports(tree.root(), &codes, &EARLIER).await?;
    let moved = side_by_side(&before, &after);
    print_later(tree.root(), taken.as_deref()).await?;
    let counted = report(tree.root(), "01", EVERYTHING).await?;
    let visits = counted.totals.unwrap_or_default().visits;
    let recorded = ledger.total().visits + extra;
    println!("\nevery visit recorded, {EVERYTHING}: {recorded}; counted at the city: {visits}");
    stop(tree).await;
    if moved > 0 {
        anyhow::bail!("{moved} reports of periods before the change moved");
    }
    if visits != recorded {
        anyhow::bail!("{recorded} visits were recorded, the city counts {visits}");
    }
    println!(
        "checked: every earlier report the same before and after, nothing lost or counted twice"
    );
    Ok(())
}

/// The resolution in the demo tree's terms: the town and the second ward end into the first
/// ward, renamed; the third is renamed; every live commune moves under the city.
fn resolution(tree: &Tree) -> pb::Reorganisation {
    let city = tree.root().unit.code.clone();
    let keeper = &tree.communes[0].unit;
    let unit = |u: &crate::domain::model::Unit, name: &str| pb::UnitChange {
        unit: Some(pb::Unit {
            code: u.code.clone(),
            name: name.into(),
            level: u.level.to_wire(),
            parent_code: city.clone(),
            remote: u.remote,
        }),
        successor_code: String::new(),
    };
    let ends = |code: &str| pb::UnitChange {
        unit: Some(pb::Unit {
            code: code.into(),
            ..Default::default()
        }),
        successor_code: keeper.code.clone(),
    };
    let mut changes = vec![
        unit(keeper, "Phường Sơn Tây"),
        ends(&tree.tiers[1].unit.code),
        ends(&tree.communes[1].unit.code),
        unit(&tree.communes[2].unit, "Xã Đoài Phương"),
    ];
    for c in &tree.communes[3..] {
        changes.push(unit(&c.unit, &c.unit.name));
    }
    pb::Reorganisation {
        id: RESOLUTION.into(),
        title: "Sắp xếp đơn vị hành chính cấp xã (thị xã Sơn Tây)".into(),
        authority_code: city,
        effective_date: EFFECTIVE.into(),
        changes,
    }
}

fn describe(r: &pb::Reorganisation) {
    println!(
        "\nreorganisation {} issued at the city, effective {}:",
        r.id, r.effective_date
    );
    for c in &r.changes {
        let u = c.unit.clone().unwrap_or_default();
        if c.successor_code.is_empty() {
            println!(
                "  {} is {}, straight under {}",
                u.code, u.name, u.parent_code
            );
        } else {
            println!("  {} ends; {} takes it over", u.code, c.successor_code);
        }
    }
}

/// Restarts every commune that lives on with the city as its parent, as its operator points
/// `--parent` there; the first takes over what ended in its favour.
async fn move_live_communes(tree: &mut Tree, dir: &Path) -> anyhow::Result<()> {
    let communes = std::mem::take(&mut tree.communes);
    for (i, c) in communes.into_iter().enumerate() {
        if i == 1 {
            tree.communes.push(c);
            continue;
        }
        let unit = c.unit.clone();
        c.node.stop().await?;
        let moved = start_node(dir, unit, Some(&tree.tiers[0].node), false, None).await?;
        println!("  {} now links to the city", moved.unit.code);
        tree.communes.push(moved);
    }
    Ok(())
}

/// Waits until `keeper` holds the records of the units that ended in its favour, then
/// resolves a complaint one of them left open; returns its id.
async fn take_over(keeper: &DemoNode, ended: &[String]) -> anyhow::Result<Option<String>> {
    let deadline = tokio::time::Instant::now() + SYNC_LIMIT;
    let app = &keeper.node.app;
    while app.is_recovering() || !ended.iter().all(|u| app.holds(u)) {
        if tokio::time::Instant::now() > deadline {
            anyhow::bail!("{} did not take over {ended:?}", keeper.unit.code);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "  {} took over the records of {}",
        keeper.unit.code,
        ended.join(" and ")
    );
    let mut cases = pb::case_service_client::CaseServiceClient::new(keeper.channel().await?);
    for unit in ended {
        let open = cases
            .list_cases(pb::ListCasesRequest {
                status: pb::CaseStatus::Open as i32,
                r#type: pb::PetitionType::Complaint as i32,
                owner_unit: unit.clone(),
                ..Default::default()
            })
            .await?
            .into_inner()
            .cases;
        let Some(case) = open.first() else {
            continue;
        };
        cases
            .resolve_case(pb::ResolveCaseRequest {
                request_id: format!("demo-take-over-{}", case.id),
                case_id: case.id.clone(),
                outcome: pb::CaseOutcome::ComplaintCorrect as i32,
                decision_time: Some(crate::wire::timestamp(day_at("2026-03-02")?)),
                decision_number: "15/QĐ-UBND".into(),
                ..Default::default()
            })
            .await?;
        return Ok(Some(case.id.clone()));
    }
    Ok(None)
}

/// 09:00 local time on a `YYYY-MM-DD` day.
fn day_at(day: &str) -> anyhow::Result<chrono::DateTime<Utc>> {
    let d: chrono::NaiveDate = day.parse()?;
    Ok(crate::domain::deadlines::local_day_start(d) + chrono::Duration::hours(9))
}

/// One visit at `node` on `day`; returns 1.
async fn visit(node: &DemoNode, day: &str, seed: u64) -> anyhow::Result<u64> {
    pb::reception_service_client::ReceptionServiceClient::new(node.channel().await?)
        .record_visit(pb::RecordVisitRequest {
            request_id: format!("demo-years-{seed}-{}-{day}", node.unit.code),
            visit_time: Some(crate::wire::timestamp(day_at(day)?)),
            kind: pb::ReceptionKind::Regular as i32,
            receiver_role: pb::ReceiverRole::Staff as i32,
            persons: 1,
            matter: pb::MatterKind::First as i32,
            action: pb::ReceptionAction::Guided as i32,
            ..Default::default()
        })
        .await?;
    Ok(1)
}

async fn report(at: &DemoNode, unit: &str, period: &str) -> anyhow::Result<pb::Report> {
    Ok(
        pb::report_service_client::ReportServiceClient::new(at.channel().await?)
            .get_report(pb::GetReportRequest {
                unit_code: unit.into(),
                period: period.into(),
                scope: pb::ReportScope::Subtree as i32,
                calendar: pb::PeriodCalendar::Statistical as i32,
            })
            .await?
            .into_inner()
            .report
            .unwrap_or_default(),
    )
}

/// Each unit's figures for each period, as `at` reports them.
async fn reports(
    at: &DemoNode,
    codes: &[String],
    periods: &[&str],
) -> anyhow::Result<BTreeMap<(String, String), Counts>> {
    let mut out = BTreeMap::new();
    for period in periods {
        for code in codes {
            let r = report(at, code, period).await?;
            out.insert(
                (period.to_string(), code.clone()),
                Counts::reported(r.totals, &r.by_type),
            );
        }
    }
    Ok(out)
}

/// Prints the earlier reports before and after side by side; returns how many moved.
fn side_by_side(
    before: &BTreeMap<(String, String), Counts>,
    after: &BTreeMap<(String, String), Counts>,
) -> usize {
    println!(
        "\n== every earlier period at the city, before and after the reorganisation ==\n\
         {:<24} {:<6} {:>15} {:>15} {:>15} {:>13}",
        "period", "unit", "visits", "petitions", "complaint cases", "resolved"
    );
    let mut moved = 0;
    for (key, was) in before {
        let now = after.get(key).unwrap_or(&Counts::default()).clone();
        let pair = |a: u64, b: u64| format!("{a} → {b}");
        let same = *was == now;
        moved += usize::from(!same);
        println!(
            "{:<24} {:<6} {:>15} {:>15} {:>15} {:>13}  {}",
            key.0,
            key.1,
            pair(was.visits, now.visits),
            pair(was.petitions, now.petitions),
            pair(
                was.complaint_cases_to_resolve,
                now.complaint_cases_to_resolve
            ),
            pair(was.resolved, now.resolved),
            if same { "same" } else { "MOVED" }
        );
    }
    moved
}

/// The city's report for a year on the new map, with the units its rows took over.
async fn print_later(city: &DemoNode, resolved: Option<&str>) -> anyhow::Result<()> {
    let r = report(city, &city.unit.code, LATER).await?;
    println!(
        "\n== the city on the new map, {} – {} ==\n{:<30} {:>7} {:>9} {:>16} {:>9}",
        r.start_date,
        r.end_date,
        "unit (its subtree)",
        "visits",
        "petitions",
        "complaint cases",
        "resolved"
    );
    for row in &r.children {
        let u = row.unit.clone().unwrap_or_default();
        let c = Counts::reported(row.totals, &row.by_type);
        println!(
            "{:<30} {:>7} {:>9} {:>16} {:>9}",
            format!("{} {}", u.code, u.name),
            c.visits,
            c.petitions,
            c.complaint_cases_to_resolve,
            c.resolved
        );
    }
    for p in &r.predecessors {
        let u = p.unit.clone().unwrap_or_default();
        println!(
            "  includes {} {} (until {}), now part of {}",
            u.code, u.name, p.valid_until, p.successor_code
        );
    }
    if let Some(id) = resolved {
        println!("  ({id}, opened before the change, resolved after it by the successor)");
    }
    Ok(())
}
