//! `tiepdan-node demo`: a whole tree on one machine — a city, a town and its communes, each
//! a real node with its own SQLite file talking real gRPC on loopback — a 9-month register
//! shaped like the seed, one commune cut off and reconnected, and the subtree totals as the
//! town and the city compute them from what was synced.

pub mod generator;
pub mod proxy;

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::Utc;
use tiepdan_proto::v1 as pb;
use tokio::net::TcpListener;
use tonic::transport::{Channel, Endpoint};

use crate::domain::model::{Unit, UnitLevel};
use crate::node::{self, NodeConfig, RunningNode};
use generator::{Ledger, Shape, Target};
use proxy::{Mode, Proxy};

/// The communes and wards of the demo, with their (illustrative) codes.
pub const COMMUNES: &[(&str, &str, UnitLevel)] = &[
    ("09574", "Phường Lê Lợi", UnitLevel::Ward),
    ("09577", "Phường Phú Thịnh", UnitLevel::Ward),
    ("09580", "Phường Ngô Quyền", UnitLevel::Ward),
    ("09583", "Phường Quang Trung", UnitLevel::Ward),
    ("09586", "Phường Sơn Lộc", UnitLevel::Ward),
    ("09589", "Phường Xuân Khanh", UnitLevel::Ward),
    ("09592", "Xã Đường Lâm", UnitLevel::Commune),
    ("09595", "Phường Viên Sơn", UnitLevel::Ward),
    ("09598", "Xã Xuân Sơn", UnitLevel::Commune),
    ("09601", "Phường Trung Hưng", UnitLevel::Ward),
    ("09604", "Xã Thanh Mỹ", UnitLevel::Commune),
    ("09607", "Phường Trung Sơn Trầm", UnitLevel::Ward),
    ("09610", "Xã Kim Sơn", UnitLevel::Commune),
    ("09613", "Xã Sơn Đông", UnitLevel::Commune),
    ("09616", "Xã Cổ Đông", UnitLevel::Commune),
];

/// A node of the demo tree.
pub struct DemoNode {
    pub unit: Unit,
    pub node: RunningNode,
    pub proxy: Option<Proxy>,
}

impl DemoNode {
    /// A channel to this node.
    pub async fn channel(&self) -> Result<Channel, tonic::transport::Error> {
        Endpoint::from_shared(self.node.url())?.connect().await
    }
}

/// Starts a node of `unit` with its SQLite file in `dir`, below `parent` (through a proxy
/// when `proxied`), serving the dashboard on `http_listen` if given.
pub async fn start_node(
    dir: &Path,
    unit: Unit,
    parent: Option<&RunningNode>,
    proxied: bool,
    http_listen: Option<std::net::SocketAddr>,
) -> anyhow::Result<DemoNode> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let db = format!(
        "sqlite://{}",
        dir.join(format!("{}.sqlite", unit.code)).display()
    );
    let mut config = NodeConfig::new(unit.clone(), db);
    config.uplink.backoff_max = Duration::from_millis(500);
    config.http_listen = http_listen;
    let mut proxy = None;
    if let Some(parent) = parent {
        if proxied {
            let p = Proxy::start(parent.addr).await?;
            config.parent_url = Some(p.url());
            proxy = Some(p);
        } else {
            config.parent_url = Some(parent.url());
        }
    }
    let node = node::start(config, listener).await?;
    Ok(DemoNode { unit, node, proxy })
}

/// Waits until `parent` holds every event of every origin `child` holds.
pub async fn wait_synced(
    child: &RunningNode,
    parent: &RunningNode,
    limit: Duration,
) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let mut behind = 0u64;
        for origin in child.app.tree().subtree(&child.app.unit().code) {
            let have =
                crate::storage::journal::last_sequence(child.app.store().reader(), &origin).await?;
            let got = crate::storage::journal::last_sequence(parent.app.store().reader(), &origin)
                .await?;
            behind += have.saturating_sub(got);
        }
        if behind == 0 {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            anyhow::bail!(
                "{} events of {} still missing at {}",
                behind,
                child.app.unit().code,
                parent.app.unit().code
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Options of the demo.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub data_dir: Option<PathBuf>,
    pub communes: usize,
    pub seed: u64,
    /// Serve the town's dashboard here and keep the tree running until Ctrl-C.
    pub http_listen: Option<std::net::SocketAddr>,
}

/// Runs the demo and prints what it does.
pub async fn run(options: DemoOptions) -> anyhow::Result<()> {
    let temp;
    let dir = match &options.data_dir {
        Some(d) => {
            std::fs::create_dir_all(d)?;
            d.clone()
        }
        None => {
            temp = tempfile::tempdir()?;
            temp.path().to_path_buf()
        }
    };
    let count = options.communes.clamp(3, COMMUNES.len());
    println!(
        "tiepdan demo: 1 city, 1 town, {count} wards and communes; databases in {}",
        dir.display()
    );
    let city = start_node(
        &dir,
        unit("01", "Thành phố Hà Nội", UnitLevel::Province),
        None,
        false,
        None,
    )
    .await?;
    let town = start_node(
        &dir,
        unit("269", "Thị xã Sơn Tây", UnitLevel::District),
        Some(&city.node),
        false,
        options.http_listen,
    )
    .await?;
    let mut communes = Vec::new();
    for (code, name, level) in COMMUNES.iter().take(count) {
        communes
            .push(start_node(&dir, unit(code, name, *level), Some(&town.node), true, None).await?);
    }
    println!("  city  01  {}  {}", city.unit.name, city.node.url());
    println!("  town  269 {}  {}", town.unit.name, town.node.url());
    for c in &communes {
        println!(
            "  {:<5} {} {}  {}",
            c.unit.level.as_str(),
            c.unit.code,
            c.unit.name,
            c.node.url()
        );
    }
    wait_synced(&town.node, &city.node, Duration::from_secs(20)).await?;

    let shape = Shape::son_tay_2019(options.seed);
    println!(
        "\nrecording a 9-month register (seed {}): {} visits, {} petitions, {} complaint cases to resolve ({} carried over from {}, {} transferred up), {} resolved",
        shape.seed,
        shape.visits,
        shape.petitions,
        shape.complaint_cases_to_resolve,
        shape.carried_over,
        shape.year - 1,
        shape.transferred_up,
        shape.complaint_cases_resolved
    );
    let town_target = Target {
        code: town.unit.code.clone(),
        channel: town.channel().await?,
    };
    let mut targets = Vec::new();
    for c in &communes {
        targets.push(Target {
            code: c.unit.code.clone(),
            channel: c.channel().await?,
        });
    }
    let started = std::time::Instant::now();
    let ledger: Ledger = generator::generate(&shape, &town_target, &targets).await?;
    println!("  recorded in {:.1} s", started.elapsed().as_secs_f64());

    // Cut one commune off; it keeps recording.
    let cut = &communes[0];
    if let Some(p) = &cut.proxy {
        p.set(Mode::Drop);
    }
    println!(
        "\ncutting {} ({}) off its town; it records 25 more visits offline",
        cut.unit.name, cut.unit.code
    );
    let mut reception =
        pb::reception_service_client::ReceptionServiceClient::new(cut.channel().await?);
    let (first, _) = shape.period();
    for i in 0..25 {
        reception
            .record_visit(pb::RecordVisitRequest {
                request_id: format!("demo-offline-{}-{i}", options.seed),
                visit_time: Some(crate::wire::timestamp(
                    crate::domain::deadlines::local_day_start(
                        first + chrono::Duration::days(100 + i),
                    ) + chrono::Duration::hours(3),
                )),
                kind: pb::ReceptionKind::Regular as i32,
                receiver_role: pb::ReceiverRole::Staff as i32,
                persons: 1,
                matter: pb::MatterKind::First as i32,
                action: pb::ReceptionAction::Guided as i32,
                ..Default::default()
            })
            .await?;
    }
    for c in communes.iter().skip(1) {
        wait_synced(&c.node, &town.node, Duration::from_secs(30)).await?;
    }
    wait_synced(&town.node, &city.node, Duration::from_secs(30)).await?;
    print_report("town, while one commune is offline", &town, "269").await?;

    if let Some(p) = &cut.proxy {
        p.set(Mode::Pass);
    }
    println!("\nreconnecting {}", cut.unit.code);
    for c in &communes {
        wait_synced(&c.node, &town.node, Duration::from_secs(30)).await?;
    }
    wait_synced(&town.node, &city.node, Duration::from_secs(30)).await?;
    print_report("town 269, computed at the town", &town, "269").await?;
    print_report("town 269, computed at the city", &city, "269").await?;
    print_report("city 01, computed at the city", &city, "01").await?;

    let total = ledger.total();
    println!(
        "\nthe generator recorded {} visits (+25 offline), {} petitions, {} complaint cases to resolve, {} resolved; the reports above are counted from synced records",
        total.visits,
        total.petitions_received,
        total.complaint_cases_to_resolve,
        total.complaint_cases_resolved
    );
    if let Some(page) = town.node.page_addr {
        println!(
            "\nthe town's dashboard: http://{page}/ (no token on loopback); Ctrl-C stops the demo"
        );
        tokio::signal::ctrl_c().await?;
    }
    for c in communes {
        let _ = c.node.stop().await;
    }
    let _ = town.node.stop().await;
    let _ = city.node.stop().await;
    Ok(())
}

/// The complaints' totals among per-type rows.
fn complaints_of(by_type: &[pb::TypeRow]) -> pb::Totals {
    by_type
        .iter()
        .find(|r| r.r#type == pb::PetitionType::Complaint as i32)
        .and_then(|r| r.totals)
        .unwrap_or_default()
}

/// One row of the demo's table: all visits and petitions, complaint cases and their rate.
fn print_row(name: &str, totals: Option<pb::Totals>, by_type: &[pb::TypeRow], as_of: &str) {
    let t = totals.unwrap_or_default();
    let complaints = complaints_of(by_type);
    println!(
        "{:<30} {:>7} {:>9} {:>16} {:>9} {:>6}  {as_of}",
        name,
        t.visits,
        t.petitions_received,
        complaints.cases_to_resolve,
        complaints.cases_resolved,
        percent(complaints.resolution_rate),
    );
}

/// A rate as a percentage, or a dash when there was nothing to resolve.
fn percent(rate: Option<pb::Rate>) -> String {
    match rate {
        Some(r) if r.denominator > 0 => format!("{}%", r.percent),
        _ => "—".into(),
    }
}

fn unit(code: &str, name: &str, level: UnitLevel) -> Unit {
    Unit {
        code: code.into(),
        name: name.into(),
        level,
        parent_code: None,
        remote: false,
    }
}

/// Prints the statistical 9-month report of `unit_code` as `at` computes it.
pub async fn print_report(title: &str, at: &DemoNode, unit_code: &str) -> anyhow::Result<()> {
    let mut client = pb::report_service_client::ReportServiceClient::new(at.channel().await?);
    let report = client
        .get_report(pb::GetReportRequest {
            unit_code: unit_code.into(),
            period: "2019-9M".into(),
            scope: pb::ReportScope::Subtree as i32,
            calendar: pb::PeriodCalendar::Statistical as i32,
        })
        .await?
        .into_inner()
        .report
        .unwrap_or_default();
    // The unit's own records, as a row of their own.
    let own = client
        .get_report(pb::GetReportRequest {
            unit_code: unit_code.into(),
            period: "2019-9M".into(),
            scope: pb::ReportScope::Unit as i32,
            calendar: pb::PeriodCalendar::Statistical as i32,
        })
        .await?
        .into_inner()
        .report
        .unwrap_or_default();
    let generated = report.generate_time;
    println!(
        "\n== {title}: 9 months of 2019 ({} – {}) ==",
        report.start_date, report.end_date
    );
    println!(
        "{:<30} {:>7} {:>9} {:>16} {:>9} {:>6}  records as of",
        "unit (its subtree)", "visits", "petitions", "complaint cases", "resolved", "rate"
    );
    for row in &report.children {
        // Current through every hop below it, or held up to when a link on the way went down.
        let as_of = match (&row.as_of_time, &generated) {
            (Some(t), Some(g)) if t == g => "now (every link open, caught up)".to_string(),
            (Some(t), _) => crate::wire::instant(t)
                .map(|t| {
                    format!(
                        "offline since {} ({:.1} s ago)",
                        t.with_timezone(&crate::domain::deadlines::LOCAL_TZ)
                            .format("%H:%M:%S"),
                        (Utc::now() - t).num_milliseconds() as f64 / 1000.0
                    )
                })
                .unwrap_or_default(),
            (None, _) => "never synced".into(),
        };
        let name = row
            .unit
            .as_ref()
            .map(|u| format!("{} {}", u.code, u.name))
            .unwrap_or_default();
        print_row(&name, row.totals, &row.by_type, &as_of);
    }
    print_row(
        &format!("{unit_code} (its own records)"),
        own.totals,
        &own.by_type,
        "here",
    );
    println!(
        "(a petition transferred within the subtree is in the rows of both units that handled it \
         and once in the total: the petition rows may add up to more)"
    );
    let t = report.totals.unwrap_or_default();
    let complaints = complaints_of(&report.by_type);
    let rate = complaints.resolution_rate.unwrap_or_default();
    println!(
        "TOTAL {}: {} visits, {} petitions, {} complaint cases to resolve, {} resolved ({} / {} = {} %)",
        report.unit.map(|u| u.name).unwrap_or_default(),
        t.visits,
        t.petitions_received,
        complaints.cases_to_resolve,
        complaints.cases_resolved,
        rate.numerator,
        rate.denominator,
        rate.percent
    );
    Ok(())
}
