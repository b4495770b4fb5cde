//! `tiepdan-node demo`: a whole tree on one machine — today's map (communes straight under
//! the city) or, with `--year 2019`, the seed's (a city, a town and its communes) — each unit a
//! real node with its own SQLite file talking real gRPC on loopback; a 9-month register, one
//! commune cut off and reconnected, and the subtree totals as each tier computes them from what
//! was synced, checked against what the generator recorded.

pub mod generator;
pub mod maps;
pub mod proxy;
mod reorganise;

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::Utc;
use tiepdan_proto::v1 as pb;
use tokio::net::TcpListener;
use tonic::transport::{Channel, Endpoint};

use crate::domain::model::{Unit, UnitLevel};
use crate::node::{self, NodeConfig, RunningNode};
use generator::{Ledger, Shape, Target};
pub use maps::{COMMUNES, HA_NOI_COMMUNES, Map, map_of};
use proxy::{Mode, Proxy};

/// Visits the cut-off commune records while its link is down.
const OFFLINE_VISITS: u64 = 25;

/// How long a tier may take to catch up with the records below it.
const SYNC_LIMIT: Duration = Duration::from_secs(30);

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
        // With the units reorganised away whose history it may still carry.
        for origin in child.app.tree().ever_subtree(&child.app.unit().code) {
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
    /// Serve the dashboard of the communes' parent here and keep the tree running until Ctrl-C.
    pub http_listen: Option<std::net::SocketAddr>,
    /// Which map: 2019 (the seed's tree) or 2025/2026 (today's).
    pub year: i32,
    /// Carry the seed's tree through the 1 July 2025 reorganisation instead.
    pub reorganise: bool,
}

/// The running tree: the tiers' nodes, top first, and the communes under the last.
struct Tree {
    map: &'static Map,
    tiers: Vec<DemoNode>,
    communes: Vec<DemoNode>,
}

impl Tree {
    fn root(&self) -> &DemoNode {
        &self.tiers[0]
    }

    /// The tier the communes report to (every map has at least one tier).
    fn parent(&self) -> &DemoNode {
        &self.tiers[self.tiers.len() - 1]
    }

    /// The word the demo's lines call a tier by.
    fn word(&self, node: &DemoNode) -> &'static str {
        self.map
            .tiers
            .iter()
            .find(|t| t.code == node.unit.code)
            .map_or("unit", |t| t.word)
    }
}

/// Runs the demo and prints what it does.
pub async fn run(options: DemoOptions) -> anyhow::Result<()> {
    if options.reorganise {
        return reorganise::run(options).await;
    }
    let map = map_of(options.year)?;
    let (dir, _temp) = data_dir(options.data_dir.as_deref())?;
    let tree = start_tree(map, &dir, &options).await?;
    let shape = (map.shape)(options.seed);
    let ledger = record(&tree, &shape).await?;
    cut_off(&tree, &shape, options.seed).await?;
    reconnect(&tree).await?;
    let root_report = print_reports(&tree, shape.year).await?;
    check(&tree, &root_report, &ledger)?;
    if let Some(page) = tree.parent().node.page_addr {
        println!(
            "\nthe {}'s dashboard: http://{page}/?period={}-9M (no token on loopback); Ctrl-C stops the demo",
            tree.word(tree.parent()),
            shape.year
        );
        tokio::signal::ctrl_c().await?;
    }
    stop(tree).await;
    Ok(())
}

/// The directory for the nodes' databases, and the temporary directory to keep alive if none
/// was given.
fn data_dir(given: Option<&Path>) -> anyhow::Result<(PathBuf, Option<tempfile::TempDir>)> {
    match given {
        Some(d) => {
            std::fs::create_dir_all(d)?;
            Ok((d.to_path_buf(), None))
        }
        None => {
            let temp = tempfile::tempdir()?;
            Ok((temp.path().to_path_buf(), Some(temp)))
        }
    }
}

/// Starts the tiers, top first, then the communes under the last tier, each through a proxy
/// so that one can be cut off; prints the tree.
async fn start_tree(map: &'static Map, dir: &Path, options: &DemoOptions) -> anyhow::Result<Tree> {
    let count = options.communes.clamp(3, map.communes.len());
    let tiers: String = map
        .tiers
        .iter()
        .map(|t| format!("1 {}, ", t.word))
        .collect();
    println!(
        "tiepdan demo: {tiers}{count} wards and communes; databases in {}",
        dir.display()
    );
    let mut tiers: Vec<DemoNode> = Vec::new();
    for (i, t) in map.tiers.iter().enumerate() {
        // The dashboard is the communes' parent's: the tier that sees each commune as a row.
        let http = (i + 1 == map.tiers.len())
            .then_some(options.http_listen)
            .flatten();
        let above = tiers.last().map(|n| &n.node);
        let node = start_node(dir, unit(t.code, t.name, t.level), above, false, http).await?;
        println!(
            "  {:<5} {:<3} {}  {}",
            t.word,
            t.code,
            t.name,
            node.node.url()
        );
        tiers.push(node);
    }
    let parent = &tiers[tiers.len() - 1];
    let mut communes = Vec::new();
    for (code, name, level) in map.communes.iter().take(count) {
        let c = start_node(
            dir,
            unit(code, name, *level),
            Some(&parent.node),
            true,
            None,
        )
        .await?;
        println!(
            "  {:<5} {} {}  {}",
            c.unit.level.as_str(),
            c.unit.code,
            c.unit.name,
            c.node.url()
        );
        communes.push(c);
    }
    sync_tiers(&tiers).await?;
    Ok(Tree {
        map,
        tiers,
        communes,
    })
}

/// Waits until each tier holds what the tier below it holds, bottom up.
async fn sync_tiers(tiers: &[DemoNode]) -> anyhow::Result<()> {
    for pair in tiers.windows(2).rev() {
        wait_synced(&pair[1].node, &pair[0].node, SYNC_LIMIT).await?;
    }
    Ok(())
}

/// Waits until the communes after the first `skip` and then every tier are synced up.
async fn sync_up(tree: &Tree, skip: usize) -> anyhow::Result<()> {
    for c in tree.communes.iter().skip(skip) {
        wait_synced(&c.node, &tree.parent().node, SYNC_LIMIT).await?;
    }
    sync_tiers(&tree.tiers).await
}

async fn target(node: &DemoNode) -> anyhow::Result<Target> {
    Ok(Target {
        code: node.unit.code.clone(),
        channel: node.channel().await?,
    })
}

/// Records the map's register through the parent and the communes.
async fn record(tree: &Tree, shape: &Shape) -> anyhow::Result<Ledger> {
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
    let parent = target(tree.parent()).await?;
    let mut targets = Vec::new();
    for c in &tree.communes {
        targets.push(target(c).await?);
    }
    let started = std::time::Instant::now();
    let ledger = generator::generate(shape, &parent, &targets).await?;
    println!("  recorded in {:.1} s", started.elapsed().as_secs_f64());
    Ok(ledger)
}

/// Cuts the first commune off its parent; it keeps recording, and the parent's report says
/// since when that row is held up.
async fn cut_off(tree: &Tree, shape: &Shape, seed: u64) -> anyhow::Result<()> {
    let cut = &tree.communes[0];
    if let Some(p) = &cut.proxy {
        p.set(Mode::Drop);
    }
    let word = tree.word(tree.parent());
    println!(
        "\ncutting {} ({}) off its {word}; it records {OFFLINE_VISITS} more visits offline",
        cut.unit.name, cut.unit.code
    );
    record_offline(cut, shape, seed).await?;
    sync_up(tree, 1).await?;
    let parent = tree.parent();
    let title = format!("{word}, while one commune is offline");
    print_report(&title, parent, &parent.unit.code, shape.year).await?;
    Ok(())
}

/// Regular visits recorded at `cut` while its link is down.
async fn record_offline(cut: &DemoNode, shape: &Shape, seed: u64) -> anyhow::Result<()> {
    let mut reception =
        pb::reception_service_client::ReceptionServiceClient::new(cut.channel().await?);
    let (first, _) = shape.period();
    for i in 0..OFFLINE_VISITS as i64 {
        reception
            .record_visit(pb::RecordVisitRequest {
                request_id: format!("demo-offline-{seed}-{i}"),
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
    Ok(())
}

async fn reconnect(tree: &Tree) -> anyhow::Result<()> {
    let cut = &tree.communes[0];
    if let Some(p) = &cut.proxy {
        p.set(Mode::Pass);
    }
    println!("\nreconnecting {}", cut.unit.code);
    sync_up(tree, 0).await
}

/// Prints each tier's subtree report as it and every tier above it compute it, bottom up;
/// returns the root's, computed at the root.
async fn print_reports(tree: &Tree, year: i32) -> anyhow::Result<pb::Report> {
    let mut root = pb::Report::default();
    for (i, tier) in tree.tiers.iter().enumerate().rev() {
        for at in tree.tiers[..=i].iter().rev() {
            let title = format!(
                "{} {}, computed at the {}",
                tree.word(tier),
                tier.unit.code,
                tree.word(at)
            );
            root = print_report(&title, at, &tier.unit.code, year).await?;
        }
    }
    Ok(root)
}

/// What a report counts and what the generator recorded, in the same terms.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Counts {
    visits: u64,
    petitions: u64,
    complaint_cases_to_resolve: u64,
    resolved: u64,
}

impl Counts {
    fn reported(totals: Option<pb::Totals>, by_type: &[pb::TypeRow]) -> Counts {
        let complaints = complaints_of(by_type);
        let t = totals.unwrap_or_default();
        Counts {
            visits: t.visits,
            petitions: t.petitions_received,
            complaint_cases_to_resolve: complaints.cases_to_resolve,
            resolved: complaints.cases_resolved,
        }
    }

    /// The generator's counts over `units`, with the offline visits if `cut` is among them.
    fn recorded(ledger: &Ledger, units: &[String], cut: &str) -> Counts {
        let mut c = Counts::default();
        for l in units.iter().filter_map(|u| ledger.units.get(u)) {
            c.visits += l.visits;
            c.petitions += l.petitions_received;
            c.complaint_cases_to_resolve += l.complaint_cases_to_resolve;
            c.resolved += l.complaint_cases_resolved;
        }
        if units.iter().any(|u| u == cut) {
            c.visits += OFFLINE_VISITS;
        }
        c
    }
}

/// Fails unless the root's report, in total and row by row, counts what was recorded.
fn check(tree: &Tree, report: &pb::Report, ledger: &Ledger) -> anyhow::Result<()> {
    let total = ledger.total();
    println!(
        "\nthe generator recorded {} visits (+{OFFLINE_VISITS} offline), {} petitions, {} complaint cases to resolve, {} resolved; the reports above are counted from synced records",
        total.visits,
        total.petitions_received,
        total.complaint_cases_to_resolve,
        total.complaint_cases_resolved
    );
    let root = tree.root();
    let units = root.node.app.tree();
    let cut = &tree.communes[0].unit.code;
    let rows = report.children.iter().map(|r| {
        let code = r.unit.as_ref().map(|u| u.code.clone()).unwrap_or_default();
        (code, Counts::reported(r.totals, &r.by_type))
    });
    let total = (
        root.unit.code.clone(),
        Counts::reported(report.totals, &report.by_type),
    );
    for (code, reported) in rows.chain([total]) {
        let recorded = Counts::recorded(ledger, &units.subtree(&code), cut);
        if reported != recorded {
            anyhow::bail!(
                "the {} reports {reported:?} for {code}, the generator recorded {recorded:?}",
                tree.word(root)
            );
        }
    }
    println!(
        "checked: the {}'s report counts what the generator recorded, in total and row by row",
        tree.word(root)
    );
    Ok(())
}

async fn stop(tree: Tree) {
    for c in tree.communes {
        let _ = c.node.stop().await;
    }
    for t in tree.tiers.into_iter().rev() {
        let _ = t.node.stop().await;
    }
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

/// Prints the statistical 9-month report of `unit_code` in `year` as `at` computes it, and
/// returns it.
pub async fn print_report(
    title: &str,
    at: &DemoNode,
    unit_code: &str,
    year: i32,
) -> anyhow::Result<pb::Report> {
    let period = format!("{year}-9M");
    let mut client = pb::report_service_client::ReportServiceClient::new(at.channel().await?);
    let report = client
        .get_report(pb::GetReportRequest {
            unit_code: unit_code.into(),
            period: period.clone(),
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
            period: period.clone(),
            scope: pb::ReportScope::Unit as i32,
            calendar: pb::PeriodCalendar::Statistical as i32,
        })
        .await?
        .into_inner()
        .report
        .unwrap_or_default();
    let generated = report.generate_time;
    println!(
        "\n== {title}: 9 months of {year} ({} – {}) ==",
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
        report
            .unit
            .as_ref()
            .map(|u| u.name.as_str())
            .unwrap_or_default(),
        t.visits,
        t.petitions_received,
        complaints.cases_to_resolve,
        complaints.cases_resolved,
        rate.numerator,
        rate.denominator,
        rate.percent
    );
    Ok(report)
}
