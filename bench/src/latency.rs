//! Live traffic: a commune records visits at a steady rate through its app (each one a
//! durable write transaction, as the API does it), and observers at the town and the city
//! note when each event is applied there. Propagation latency is commit at the commune →
//! commit at the city; resume is how soon a returning parent applies events again and is
//! current, after a crash-restart or a cut link, with the default reconnect settings.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use tiepdan_proto::v1 as pb;
use tiepdan_server::app::App;
use tiepdan_server::demo::proxy::{Mode, Proxy};
use tiepdan_server::demo::wait_synced;
use tiepdan_server::domain::model::UnitLevel;
use tiepdan_server::domain::tally::{self, Delta};
use tiepdan_server::storage::journal;
use tiepdan_server::storage::records as repo;
use tiepdan_server::sync::uplink::UplinkConfig;
use tiepdan_server::wire;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::fixtures::{self, Backend, CITY, Db, TOWN, commune_code, unit};
use crate::stats::Percentiles;

/// When each event (by index from the start of the run) was committed or applied, in
/// nanoseconds since `epoch`; 0 until it is.
struct Timeline {
    epoch: Instant,
    at: Vec<AtomicU64>,
}

impl Timeline {
    fn new(epoch: Instant, n: usize) -> Arc<Timeline> {
        Arc::new(Timeline {
            epoch,
            at: (0..n).map(|_| AtomicU64::new(0)).collect(),
        })
    }

    fn mark(&self, i: usize) {
        if let Some(slot) = self.at.get(i) {
            let ns = self.epoch.elapsed().as_nanos() as u64;
            let _ = slot.compare_exchange(0, ns.max(1), Ordering::AcqRel, Ordering::Acquire);
        }
    }

    fn get(&self, i: usize) -> Option<u64> {
        self.at
            .get(i)
            .map(|s| s.load(Ordering::Acquire))
            .filter(|v| *v > 0)
    }
}

/// Records `count` visits at `rate` a second, as the reception API records one (the visit,
/// its journal event and its totals in one durable write transaction), except that the
/// visits due while the previous commit was being made share the next commit: one commit
/// takes a few milliseconds on this disk, so one a visit could not keep up with 1,000 a
/// second. Marks each commit; counts the visits recorded.
fn recorder(
    app: App,
    rate: u64,
    count: usize,
    committed: Arc<Timeline>,
    recorded: Arc<AtomicU64>,
    stop: CancellationToken,
) -> JoinHandle<Result<usize>> {
    tokio::spawn(async move {
        let code = app.unit().code;
        let start = tokio::time::Instant::now();
        let per_event = Duration::from_secs_f64(1.0 / rate as f64);
        let mut written = 0usize;
        while written < count {
            if stop.is_cancelled() {
                break;
            }
            let due = ((start.elapsed().as_secs_f64() * rate as f64) as usize + 1).min(count);
            if due <= written {
                tokio::time::sleep_until(start + per_event.mul_f64(written as f64)).await;
                continue;
            }
            let tx = app.store().begin_write().await?;
            let tree = app.tree();
            let mut delta = Delta::default();
            let now = chrono::Utc::now();
            for i in written..due {
                let mut v = fixtures::visit(&code, i as u64);
                v.id = format!("{code}-L{i}");
                v.create_time = now;
                repo::insert_visit(&tx, &v).await?;
                journal::append(
                    &tx,
                    &code,
                    now,
                    "RecordVisit",
                    pb::journal_event::Change::VisitRecorded(wire::visit(&v)),
                )
                .await?;
                delta.record(&tree, &[], &tally::visit(&v));
            }
            repo::flush_tally(&tx, delta).await?;
            tx.commit().await?;
            app.notify_changed();
            for i in written..due {
                committed.mark(i);
            }
            written = due;
            recorded.store(written as u64, Ordering::Release);
        }
        Ok(written)
    })
}

/// Marks each event of `origin` after `base` as it is applied at `app`, until `stop`.
fn observer(
    app: App,
    origin: String,
    base: u64,
    applied: Arc<Timeline>,
    stop: CancellationToken,
) -> JoinHandle<Result<()>> {
    tokio::spawn(async move {
        let mut changes = app.subscribe();
        let mut seen = base;
        loop {
            let head = fixtures::head(&app, &origin).await?;
            for s in seen + 1..=head {
                applied.mark((s - base - 1) as usize);
            }
            seen = seen.max(head);
            tokio::select! {
                _ = stop.cancelled() => return Ok(()),
                _ = changes.changed() => {}
                _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
        }
    })
}

fn latencies(committed: &Timeline, applied: &Timeline, n: usize) -> (Vec<Duration>, usize) {
    let mut out = Vec::with_capacity(n);
    let mut missing = 0;
    for i in 0..n {
        match (committed.get(i), applied.get(i)) {
            (Some(c), Some(a)) => out.push(Duration::from_nanos(a.saturating_sub(c))),
            _ => missing += 1,
        }
    }
    (out, missing)
}

/// The outcome of a propagation run.
pub struct Propagation {
    pub recorded: usize,
    pub achieved_rate: f64,
    pub one_hop: Percentiles,
    pub two_hops: Percentiles,
    pub missing: usize,
}

/// commune (SQLite) → town → city (both on `backend`): `rate` visits a second for `seconds`.
pub async fn propagation(
    backend: Backend,
    dir: &Path,
    pg_admin: &str,
    rate: u64,
    seconds: f64,
) -> Result<Propagation> {
    let city_db = Db::create(backend, dir, "prop-city", pg_admin).await?;
    let town_db = Db::create(backend, dir, "prop-town", pg_admin).await?;
    let commune_db = Db::create(Backend::Sqlite, dir, "prop-commune", "").await?;
    let code = commune_code(0);
    let city = fixtures::start_node(
        &city_db,
        unit(CITY, UnitLevel::Province, None),
        None,
        UplinkConfig::default(),
        None,
    )
    .await?;
    let town = fixtures::start_node(
        &town_db,
        unit(TOWN, UnitLevel::District, None),
        Some(city.url()),
        UplinkConfig::default(),
        None,
    )
    .await?;
    let commune = fixtures::start_node(
        &commune_db,
        unit(&code, UnitLevel::Commune, None),
        Some(town.url()),
        UplinkConfig::default(),
        None,
    )
    .await?;
    wait_synced(&commune, &town, Duration::from_secs(30)).await?;
    wait_synced(&town, &city, Duration::from_secs(30)).await?;
    let base = fixtures::head(&commune.app, &code).await?;
    let count = (rate as f64 * seconds) as usize;
    let epoch = Instant::now();
    let committed = Timeline::new(epoch, count);
    let at_town = Timeline::new(epoch, count);
    let at_city = Timeline::new(epoch, count);
    let stop = CancellationToken::new();
    let watch_town = observer(
        town.app.clone(),
        code.clone(),
        base,
        at_town.clone(),
        stop.clone(),
    );
    let watch_city = observer(
        city.app.clone(),
        code.clone(),
        base,
        at_city.clone(),
        stop.clone(),
    );
    let recorded = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let n = recorder(
        commune.app.clone(),
        rate,
        count,
        committed.clone(),
        recorded,
        stop.clone(),
    )
    .await??;
    let achieved_rate = n as f64 / started.elapsed().as_secs_f64();
    wait_synced(&commune, &town, Duration::from_secs(60)).await?;
    wait_synced(&town, &city, Duration::from_secs(60)).await?;
    tokio::time::sleep(Duration::from_millis(50)).await;
    stop.cancel();
    watch_town.await??;
    watch_city.await??;
    let (one, m1) = latencies(&committed, &at_town, n);
    let (two, m2) = latencies(&committed, &at_city, n);
    let _ = commune.stop().await;
    let _ = town.stop().await;
    let _ = city.stop().await;
    city_db.remove().await;
    town_db.remove().await;
    Ok(Propagation {
        recorded: n,
        achieved_rate,
        one_hop: Percentiles::of(one),
        two_hops: Percentiles::of(two),
        missing: m1 + m2,
    })
}

/// What interrupts the link in a resume run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outage {
    /// The parent is killed (no goodbye) and restarted on the same database and address.
    ParentRestart,
    /// The link is cut (connections reset, new ones refused) and restored.
    LinkCut,
}

/// The outcome of a resume run.
pub struct Resume {
    /// From the parent's return to the first event it applies.
    pub first_applied: Duration,
    /// From the parent's return to its being current (no more than `lag_allowed` behind).
    pub current: Duration,
}

/// Events behind at which the parent counts as current again: what the commune records in
/// 10 ms at 1,000 events/s.
pub const LAG_ALLOWED: u64 = 10;

/// A commune (SQLite, default uplink settings) records `rate` visits a second; after `lead`
/// seconds the outage begins and lasts `outage`; the run ends when the town is current.
pub async fn resume(
    backend: Backend,
    dir: &Path,
    pg_admin: &str,
    what: Outage,
    rate: u64,
    outage: Duration,
) -> Result<Resume> {
    let tag = match what {
        Outage::ParentRestart => "restart",
        Outage::LinkCut => "cut",
    };
    let town_db = Db::create(backend, dir, &format!("resume-{tag}-town"), pg_admin).await?;
    let commune_db = Db::create(Backend::Sqlite, dir, &format!("resume-{tag}-commune"), "").await?;
    let code = commune_code(0);
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let town_addr = listener.local_addr()?;
    let mut town = fixtures::start_node(
        &town_db,
        unit(TOWN, UnitLevel::District, None),
        None,
        UplinkConfig::default(),
        Some(listener),
    )
    .await?;
    let proxy = Proxy::start(town_addr).await?;
    let commune = fixtures::start_node(
        &commune_db,
        unit(&code, UnitLevel::Commune, None),
        Some(proxy.url()),
        UplinkConfig::default(),
        None,
    )
    .await?;
    wait_synced(&commune, &town, Duration::from_secs(30)).await?;
    let base = fixtures::head(&commune.app, &code).await?;
    let lead = Duration::from_secs(1);
    let tail = Duration::from_secs(10);
    let count = (rate as f64 * (lead + outage + tail).as_secs_f64()) as usize;
    let epoch = Instant::now();
    let committed = Timeline::new(epoch, count);
    let recorded = Arc::new(AtomicU64::new(0));
    let stop = CancellationToken::new();
    let rec = recorder(
        commune.app.clone(),
        rate,
        count,
        committed,
        recorded.clone(),
        stop.clone(),
    );
    tokio::time::sleep(lead).await;
    match what {
        Outage::ParentRestart => {
            town.kill();
            tokio::time::sleep(outage).await;
            let mut tries = 0;
            let listener = loop {
                match TcpListener::bind(town_addr).await {
                    Ok(l) => break l,
                    Err(e) if tries < 50 => {
                        tries += 1;
                        eprintln!("  (rebinding the parent's address: {e})");
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    Err(e) => return Err(e.into()),
                }
            };
            town = fixtures::start_node(
                &town_db,
                unit(TOWN, UnitLevel::District, None),
                None,
                UplinkConfig::default(),
                Some(listener),
            )
            .await?;
        }
        Outage::LinkCut => {
            proxy.set(Mode::Drop);
            tokio::time::sleep(outage).await;
            proxy.set(Mode::Pass);
        }
    }
    let returned = Instant::now();
    let at_return = fixtures::head(&town.app, &code).await?;
    let mut changes = town.app.subscribe();
    let mut first_applied = None;
    let deadline = returned + Duration::from_secs(30);
    let current = loop {
        let have = fixtures::head(&town.app, &code).await?;
        if have > at_return && first_applied.is_none() {
            first_applied = Some(returned.elapsed());
        }
        let written = base + recorded.load(Ordering::Acquire);
        if first_applied.is_some() && have + LAG_ALLOWED >= written {
            break returned.elapsed();
        }
        if rec.is_finished() && first_applied.is_none() {
            rec.await??;
            bail!("{tag}: the commune stopped recording before the town returned");
        }
        if Instant::now() > deadline {
            bail!(
                "{tag}: the town is {} events behind 30 s after its return",
                written - have
            );
        }
        let _ = tokio::time::timeout(Duration::from_millis(5), changes.changed()).await;
    };
    stop.cancel();
    let _ = rec.await?;
    let _ = commune.stop().await;
    let _ = town.stop().await;
    drop(proxy);
    town_db.remove().await;
    Ok(Resume {
        first_applied: first_applied.unwrap_or(current),
        current,
    })
}
