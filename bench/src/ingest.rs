//! Durable ingest and catch-up: communes with a backlog in their journal stream it to one
//! town over real links; the clock runs from the moment the town starts serving (the
//! communes are already knocking on its listener) until the town holds every event, each
//! applied once, its records copied and its totals maintained, acknowledged after commit.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Result, bail, ensure};
use futures::{StreamExt, TryStreamExt};
use sea_orm::{EntityTrait, PaginatorTrait};
use tiepdan_server::domain::model::UnitLevel;
use tiepdan_server::node::RunningNode;
use tiepdan_server::storage::entities::visit;
use tiepdan_server::sync::uplink::UplinkConfig;
use tokio::net::TcpListener;

use crate::fixtures::{self, Backend, Db, TOWN, commune_code, unit};

/// The outcome of one ingest run.
#[derive(Debug, Clone)]
pub struct Ingest {
    pub events: u64,
    pub elapsed: Duration,
}

impl Ingest {
    pub fn rate(&self) -> f64 {
        self.events as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Waits until the town's journal holds `expected` events of the communes, in total.
async fn wait_applied(
    town: &RunningNode,
    codes: &[String],
    expected: u64,
    limit: Duration,
) -> Result<()> {
    let deadline = Instant::now() + limit;
    let mut changes = town.app.subscribe();
    loop {
        let heads = fixtures::heads(&town.app).await?;
        let have: u64 = codes.iter().filter_map(|c| heads.get(c)).sum();
        if have >= expected {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("the town holds {have} of {expected} events after {limit:?}");
        }
        let _ = tokio::time::timeout(Duration::from_millis(20), changes.changed()).await;
    }
}

/// Checks exactly-once and the maintained totals at the town.
async fn verify(town: &RunningNode, communes: &[RunningNode], visits: u64) -> Result<()> {
    for c in communes {
        let code = c.app.unit().code;
        let have = fixtures::head(&c.app, &code).await?;
        let got = fixtures::head(&town.app, &code).await?;
        ensure!(
            have == got,
            "commune {code}: {have} events, the town has {got}"
        );
    }
    let stored = visit::Entity::find()
        .count(town.app.store().reader())
        .await?;
    ensure!(
        stored == visits,
        "the town holds {stored} visits, expected {visits}"
    );
    let maintained = tiepdan_server::report::maintained_totals(town.app.store().reader()).await?;
    let recount = tiepdan_server::report::recount_totals(&town.app).await?;
    if maintained != recount {
        // The first keys that differ, to tell which unit and metric went wrong.
        let differ: Vec<String> = maintained
            .keys()
            .chain(recount.keys())
            .filter(|k| maintained.get(*k) != recount.get(*k))
            .take(5)
            .map(|k| {
                format!(
                    "{k:?}: {:?} maintained, {:?} recounted",
                    maintained.get(k),
                    recount.get(k)
                )
            })
            .collect();
        bail!(
            "maintained totals differ from a recount: {}",
            differ.join("; ")
        );
    }
    Ok(())
}

/// `communes` communes with `total / communes` visits each in their journal stream them to a
/// town on `backend`.
pub async fn ingest(
    backend: Backend,
    dir: &Path,
    pg_admin: &str,
    communes: usize,
    total: u64,
    uplink: UplinkConfig,
) -> Result<Ingest> {
    let per = (total / communes as u64).max(1);
    let town_db = Db::create(backend, dir, &format!("town-{communes}"), pg_admin).await?;
    fixtures::migrate(&town_db).await?;
    let codes: Vec<String> = (0..communes).map(commune_code).collect();
    let run = format!("i{communes}");
    let dbs: Vec<Db> = futures::stream::iter(codes.iter().cloned())
        .map(|code| {
            let run = run.clone();
            async move {
                let db = Db::create(Backend::Sqlite, dir, &format!("{run}-{code}"), "").await?;
                fixtures::prepare_commune(&db, &code, per).await?;
                anyhow::Ok(db)
            }
        })
        .buffered(4)
        .try_collect()
        .await?;
    // The town's listener is bound first: the communes connect and wait in its backlog.
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let town_url = format!("http://{}", listener.local_addr()?);
    let mut nodes = Vec::new();
    for (code, db) in codes.iter().zip(&dbs) {
        nodes.push(
            fixtures::start_node(
                db,
                unit(code, UnitLevel::Commune, None),
                Some(town_url.clone()),
                uplink.clone(),
                None,
            )
            .await?,
        );
    }
    let started = Instant::now();
    let town = fixtures::start_node(
        &town_db,
        unit(TOWN, UnitLevel::District, None),
        None,
        UplinkConfig::default(),
        Some(listener),
    )
    .await?;
    // Each commune's journal: its registration, the backlog, and the event that records the
    // parent it learnt on linking.
    let expected = communes as u64 * (per + 2);
    let limit = Duration::from_secs(600);
    wait_applied(&town, &codes, expected, limit).await?;
    let elapsed = started.elapsed();
    verify(&town, &nodes, communes as u64 * per).await?;
    for n in nodes {
        let _ = n.stop().await;
    }
    let _ = town.stop().await;
    town_db.remove().await;
    Ok(Ingest {
        events: expected,
        elapsed,
    })
}

/// A commune already linked to its town goes offline, records `backlog` visits, and comes
/// back: the time from its node's restart until the town holds every event.
pub async fn catch_up(
    backend: Backend,
    dir: &Path,
    pg_admin: &str,
    backlog: u64,
) -> Result<Duration> {
    let town_db = Db::create(backend, dir, "town-catchup", pg_admin).await?;
    let town = fixtures::start_node(
        &town_db,
        unit(TOWN, UnitLevel::District, None),
        None,
        UplinkConfig::default(),
        None,
    )
    .await?;
    let code = commune_code(0);
    let db = Db::create(Backend::Sqlite, dir, "catchup-commune", "").await?;
    fixtures::prepare_commune(&db, &code, 0).await?;
    let commune = fixtures::start_node(
        &db,
        unit(&code, UnitLevel::Commune, None),
        Some(town.url()),
        UplinkConfig::default(),
        None,
    )
    .await?;
    tiepdan_server::demo::wait_synced(&commune, &town, Duration::from_secs(30)).await?;
    let _ = commune.stop().await;
    let store = tiepdan_server::storage::Store::open(&db.url).await?;
    fixtures::append_backlog(&store, &code, backlog).await?;
    store.close().await?;
    let started = Instant::now();
    let commune = fixtures::start_node(
        &db,
        unit(&code, UnitLevel::Commune, None),
        Some(town.url()),
        UplinkConfig::default(),
        None,
    )
    .await?;
    let expected = fixtures::head(&commune.app, &code).await?;
    wait_applied(
        &town,
        std::slice::from_ref(&code),
        expected,
        Duration::from_secs(600),
    )
    .await?;
    let elapsed = started.elapsed();
    verify(&town, std::slice::from_ref(&commune), backlog).await?;
    let _ = commune.stop().await;
    let _ = town.stop().await;
    town_db.remove().await;
    Ok(elapsed)
}
