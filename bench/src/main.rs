//! tiepdan-bench: measured speed of the tier link and the reports, on SQLite and
//! PostgreSQL, each figure printed beside the baseline it is held against, measured in the
//! same run (the storage limit of the driver, the transport limit of a bare tonic stream).
//!
//! `cargo run --release -p tiepdan-bench` runs everything at full size (several minutes);
//! `--quick` is the smoke run CI uses; `--scenarios` and the size flags pick what to run.

/// mimalloc rather than glibc's malloc: applying a batch allocates and frees many small
/// strings, and glibc's malloc, free and consolidation were a large part of an apply.
/// (`--features system-alloc` keeps the system's, for heap profilers such as heaptrack.)
#[cfg(not(feature = "system-alloc"))]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod fanin;
mod fixtures;
mod ingest;
mod latency;
mod limits;
mod report;
mod stats;

use std::time::Duration;

use anyhow::Result;
use clap::{Parser, Subcommand, ValueEnum};
use tiepdan_server::domain::model::UnitLevel;
use tiepdan_server::sync::uplink::UplinkConfig;
use tokio::io::AsyncReadExt;

use fixtures::{Backend, Db, TOWN, unit};
use latency::Outage;
use stats::ms;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    /// Storage and transport limits.
    Limits,
    /// Durable ingest from 1, 16 and 256 communes.
    Ingest,
    /// Propagation latency commune → town → city.
    Propagation,
    /// Report latency at a city holding many petitions.
    Report,
    /// Many streams into one town: peak RSS and progress.
    Fanin,
    /// A commune with a backlog reconnects.
    Catchup,
    /// The parent restarts, or the link is cut, while a commune records.
    Resume,
}

#[derive(Debug, Parser)]
#[command(name = "tiepdan-bench", about = "Measured speed of tiepdan")]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    /// A smoke run: every scenario at a tiny size (well under a minute).
    #[arg(long)]
    quick: bool,
    /// Backends of the nodes under measurement (communes always run on SQLite).
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [Backend::Sqlite, Backend::Postgres])]
    backends: Vec<Backend>,
    /// Scenarios to run (all when not given).
    #[arg(long, value_enum, value_delimiter = ',')]
    scenarios: Vec<Scenario>,
    /// Events of each ingest run, split between the communes [100000; quick 3000].
    #[arg(long)]
    events: Option<u64>,
    /// Commune counts of the ingest runs [1,16,256; quick 1,4].
    #[arg(long, value_delimiter = ',')]
    communes: Vec<usize>,
    /// Events a second the commune records in the live scenarios.
    #[arg(long, default_value_t = 1000)]
    rate: u64,
    /// Seconds of steady recording for the propagation run [10; quick 1].
    #[arg(long)]
    seconds: Option<f64>,
    /// Petitions the city holds in the report run [1000000; quick 5000].
    #[arg(long)]
    petitions: Option<u64>,
    /// Report requests timed [200; quick 20].
    #[arg(long)]
    requests: Option<usize>,
    /// Streams of the fan-in run [1000; quick 20].
    #[arg(long)]
    streams: Option<usize>,
    /// Backlog of the catch-up run [100000; quick 3000].
    #[arg(long)]
    backlog: Option<u64>,
    /// Seconds the parent is away in the resume runs [5; quick 1].
    #[arg(long)]
    outage: Option<f64>,
    /// Resume runs of each kind [3; quick 1].
    #[arg(long)]
    repeat: Option<usize>,
    /// PostgreSQL server (its maintenance database) to create benchmark databases on.
    #[arg(
        long,
        env = "TIEPDAN_BENCH_PG",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    pg: String,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serves a town node on 127.0.0.1:0 until stdin closes (the fan-in run's town process).
    ServeTown {
        #[arg(long)]
        database: String,
    },
}

struct Sizes {
    events: u64,
    communes: Vec<usize>,
    seconds: f64,
    petitions: u64,
    requests: usize,
    streams: usize,
    backlog: u64,
    outage: Duration,
    repeat: usize,
}

impl Sizes {
    fn of(a: &Args) -> Sizes {
        let q = a.quick;
        let pick = |full, quick| if q { quick } else { full };
        Sizes {
            events: a.events.unwrap_or(pick(100_000, 3000)),
            communes: if a.communes.is_empty() {
                if q { vec![1, 4] } else { vec![1, 16, 256] }
            } else {
                a.communes.clone()
            },
            seconds: a.seconds.unwrap_or(if q { 1.0 } else { 10.0 }),
            petitions: a.petitions.unwrap_or(pick(1_000_000, 5000)),
            requests: a.requests.unwrap_or(if q { 20 } else { 200 }),
            streams: a.streams.unwrap_or(if q { 20 } else { 1000 }),
            backlog: a.backlog.unwrap_or(pick(100_000, 3000)),
            outage: Duration::from_secs_f64(a.outage.unwrap_or(if q { 1.0 } else { 5.0 })),
            repeat: a.repeat.unwrap_or(if q { 1 } else { 3 }),
        }
    }
}

fn main() -> Result<()> {
    let args = Args::parse();
    // Silent unless asked: RUST_LOG=tiepdan_server=debug shows what the nodes under
    // measurement do (reconnects, Hello and Welcome), with the time since the start.
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_timer(tracing_subscriber::fmt::time::uptime())
            .with_writer(std::io::stderr)
            .init();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match &args.command {
        Some(Command::ServeTown { database }) => runtime.block_on(serve_town(database)),
        None => runtime.block_on(run(&args)),
    }
}

/// The fan-in run's town: serves until its stdin closes.
async fn serve_town(database: &str) -> Result<()> {
    let db = Db::existing(database);
    let node = fixtures::start_node(
        &db,
        unit(TOWN, UnitLevel::District, None),
        None,
        UplinkConfig::default(),
        None,
    )
    .await?;
    println!("listening {}", node.addr);
    let mut buf = [0u8; 64];
    let mut stdin = tokio::io::stdin();
    while stdin.read(&mut buf).await? > 0 {}
    node.stop().await?;
    Ok(())
}

fn wants(args: &Args, s: Scenario) -> bool {
    args.scenarios.is_empty() || args.scenarios.contains(&s)
}

fn verdict(ok: bool) -> &'static str {
    if ok { "meets target" } else { "MISSES target" }
}

fn thousands(x: f64) -> String {
    let n = x.round() as u64;
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

async fn run(args: &Args) -> Result<()> {
    let sizes = Sizes::of(args);
    let defaults = UplinkConfig::default();
    println!(
        "tiepdan-bench{}: uplink batches of {} events / {} KiB, window {}; {} cores",
        if args.quick { " --quick" } else { "" },
        defaults.batch_events,
        defaults.batch_bytes / 1024,
        defaults.window,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    );
    for &backend in &args.backends {
        let dir = tempfile::tempdir()?;
        let dir = dir.path();
        println!(
            "\n== town and city on {} (communes on SQLite) ==",
            backend.name()
        );
        let mut limit = None;
        let mut storage = None;
        let mut kept = None;
        if wants(args, Scenario::Limits) || wants(args, Scenario::Ingest) {
            let rows = fixtures::chain(&fixtures::commune_code(0), 1, Vec::new(), sizes.events);
            let db = Db::create(backend, dir, "storage-limit", &args.pg).await?;
            let s = limits::storage(&db, &rows).await?;
            db.remove().await;
            let db = Db::create(backend, dir, "storage-applied", &args.pg).await?;
            let applied = limits::storage_applied(&db, &rows).await?;
            db.remove().await;
            let tried = s
                .tried
                .iter()
                .map(|(m, r)| format!("{m} {}", thousands(*r)))
                .collect::<Vec<_>>()
                .join(", ");
            println!(
                "1 storage limit    {:>10} rows/s    {}, {} journal rows, 1000 a transaction ({tried})",
                thousands(s.rows_per_s),
                s.method,
                sizes.events,
            );
            println!(
                "  applied rows     {:>10} events/s  each event's journal row and record copy (a visit row), same batching: the storage limit of what an apply keeps",
                thousands(applied),
            );
            let (events, batches) = limits::transport(
                &rows,
                1,
                defaults.batch_events as usize,
                defaults.batch_bytes,
                defaults.window,
            )
            .await?;
            println!(
                "2 transport limit  {:>10} events/s  bare tonic stream, same messages ({} batches/s)",
                thousands(events),
                thousands(batches),
            );
            println!(
                "  durable commit   {:>10}         one row, median of 100 (the floor of each hop's latency)",
                ms(s.commit),
            );
            limit = Some(s.rows_per_s.min(events));
            storage = Some(s.rows_per_s);
            kept = Some(applied);
        }
        if wants(args, Scenario::Ingest) {
            for &n in &sizes.communes {
                let r = ingest::ingest(
                    backend,
                    dir,
                    &args.pg,
                    n,
                    sizes.events,
                    fixtures::eager_uplink(),
                )
                .await?;
                let lower = limit.unwrap_or(f64::NAN);
                let ratio_storage = r.rate() / storage.unwrap_or(f64::NAN);
                println!(
                    "3 durable ingest   {:>10} events/s  {n:>3} communes → town, {} events in {:.2} s; {:.3} × lower limit, {:.3} × storage limit, {:.3} × applied rows: {}",
                    thousands(r.rate()),
                    r.events,
                    r.elapsed.as_secs_f64(),
                    r.rate() / lower,
                    ratio_storage,
                    r.rate() / kept.unwrap_or(f64::NAN),
                    verdict(ratio_storage >= 0.5),
                );
            }
        }
        if wants(args, Scenario::Propagation) {
            let p = latency::propagation(backend, dir, &args.pg, args.rate, sizes.seconds).await?;
            println!(
                "4 propagation      commune → town → city p50 {} p99 {} max {} ({} events at {:.0}/s{}): {}",
                ms(p.two_hops.p50),
                ms(p.two_hops.p99),
                ms(p.two_hops.max),
                p.recorded,
                p.achieved_rate,
                if p.missing > 0 {
                    format!(", {} unmatched", p.missing)
                } else {
                    String::new()
                },
                verdict(p.two_hops.p99 <= Duration::from_millis(5)),
            );
            println!(
                "                   one hop commune → town p50 {} p99 {} max {}",
                ms(p.one_hop.p50),
                ms(p.one_hop.p99),
                ms(p.one_hop.max),
            );
        }
        if wants(args, Scenario::Report) {
            let r = report::report(backend, dir, &args.pg, sizes.petitions, sizes.requests).await?;
            println!(
                "5 report latency   p50 {} p99 {} max {}  city subtree, year 2019, {} petitions (loaded in {:.1} s; report counts {}): {}",
                ms(r.latency.p50),
                ms(r.latency.p99),
                ms(r.latency.max),
                r.petitions,
                r.load.as_secs_f64(),
                r.received,
                verdict(r.latency.p99 <= Duration::from_millis(2)),
            );
            println!(
                "                   first request (cold) {}; statistical 2019 p50 {} p99 {}; range {} p50 {} p99 {}",
                ms(r.cold),
                ms(r.statistical.p50),
                ms(r.statistical.p99),
                report::EDGE_RANGE,
                ms(r.edges.p50),
                ms(r.edges.p99),
            );
            println!(
                "                   in process p50 {} (units listing {}); from day rows only p50 {} ({:.1}x the rollups)",
                ms(r.in_process.p50),
                ms(r.units.p50),
                ms(r.day_rows.p50),
                r.day_rows.p50.as_secs_f64() / r.in_process.p50.as_secs_f64(),
            );
        }
        if wants(args, Scenario::Fanin) {
            let f = fanin::fan_in(
                backend,
                dir,
                &args.pg,
                sizes.streams,
                5,
                10,
                Duration::from_millis(200),
            )
            .await?;
            println!(
                "6 fan-in           {} streams → one town: peak RSS {:.1} MB (idle {:.1} MB); {} of {} streams progressed, {} events in {:.1} s: {}",
                f.streams,
                f.peak_rss_kb as f64 / 1024.0,
                f.idle_rss_kb as f64 / 1024.0,
                f.progressed,
                f.streams,
                f.events,
                f.elapsed.as_secs_f64(),
                verdict(f.progressed == f.streams && f.peak_rss_kb <= 150 * 1024),
            );
        }
        if wants(args, Scenario::Catchup) {
            let t = ingest::catch_up(backend, dir, &args.pg, sizes.backlog).await?;
            println!(
                "7 catch-up         {:.3} s   backlog of {} events, reconnect → parent current ({} events/s): {}",
                t.as_secs_f64(),
                sizes.backlog,
                thousands(sizes.backlog as f64 / t.as_secs_f64()),
                verdict(sizes.backlog < 100_000 || t <= Duration::from_millis(600)),
            );
        }
        if wants(args, Scenario::Resume) {
            for what in [Outage::ParentRestart, Outage::LinkCut] {
                for _ in 0..sizes.repeat {
                    let r = latency::resume(backend, dir, &args.pg, what, args.rate, sizes.outage)
                        .await?;
                    println!(
                        "8 resume           {} for {:.0} s at {}/s: first event applied {} after the return, current (≤ {} behind) after {}: {}",
                        match what {
                            Outage::ParentRestart => "parent killed and restarted",
                            Outage::LinkCut => "link cut",
                        },
                        sizes.outage.as_secs_f64(),
                        args.rate,
                        ms(r.first_applied),
                        latency::LAG_ALLOWED,
                        ms(r.current),
                        verdict(r.current <= Duration::from_secs(1)),
                    );
                }
            }
        }
    }
    Ok(())
}
