//! Helpers of the cross-tier suites (`tier_*`): a whole tree of real nodes on `127.0.0.1`,
//! each with its own database, every child linked to its parent through a TCP proxy the test
//! controls; workloads recorded through the public gRPC API; and the invariant checker run
//! after every scenario — no event lost, none applied twice, and every tier's totals equal to
//! a recount the test computes itself from the records each unit holds.

#![allow(
    dead_code,
    unused_macros,
    unused_imports,
    clippy::unwrap_used,
    clippy::expect_used
)]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone, Utc};
use prost::Message;
use prost_types::Timestamp;
pub use tiepdan_proto::v1 as pb;
pub use tiepdan_server::demo::proxy::Mode;
use tiepdan_server::demo::proxy::Proxy;
use tiepdan_server::domain::model::UnitLevel;
use tiepdan_server::node::{self, NodeConfig};
pub use tiepdan_tests::Backend;
use tiepdan_tests::{TestDb, TestNode, unit};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;
use tonic::{Code, Status, Streaming};

/// Generates one test per backend and tree depth from an `async fn(Backend, Depth)`;
/// attributes before a name (`#[ignore = "..."]`) go on each of its tests.
macro_rules! tier_tests {
    ($($(#[$attr:meta])* $name:ident),+ $(,)?) => {
        $(
            mod $name {
                use $crate::tier_common::{Backend, Depth};

                $(#[$attr])*
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn two_tier_sqlite() {
                    super::$name(Backend::Sqlite, Depth::Two).await;
                }

                $(#[$attr])*
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn two_tier_postgres() {
                    super::$name(Backend::Postgres, Depth::Two).await;
                }

                $(#[$attr])*
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn three_tier_sqlite() {
                    super::$name(Backend::Sqlite, Depth::Three).await;
                }

                $(#[$attr])*
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn three_tier_postgres() {
                    super::$name(Backend::Postgres, Depth::Three).await;
                }

                $(#[$attr])*
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn four_tier_sqlite() {
                    super::$name(Backend::Sqlite, Depth::Four).await;
                }

                $(#[$attr])*
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn four_tier_postgres() {
                    super::$name(Backend::Postgres, Depth::Four).await;
                }
            }
        )+
    };
}
pub(crate) use tier_tests;

/// Generates one test per backend from an `async fn(Backend)`; attributes before a name go
/// on each of its tests.
macro_rules! backend_tests {
    ($($(#[$attr:meta])* $name:ident),+ $(,)?) => {
        $(
            mod $name {
                use $crate::tier_common::Backend;

                $(#[$attr])*
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name(Backend::Sqlite).await;
                }

                $(#[$attr])*
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name(Backend::Postgres).await;
                }
            }
        )+
    };
}
pub(crate) use backend_tests;

/// How long a bounded wait lasts before the test fails with what it was waiting for.
pub const WAIT: Duration = Duration::from_secs(120);
/// A period covering every date the workloads record.
pub const PERIOD_ALL: &str = "2018-01-01..2019-12-31";
/// A period that cuts through the workloads (cases carried over into it, closed after it).
pub const PERIOD_PART: &str = "2019-03-01..2019-06-30";

// ---- the tree ----

/// Depth of the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    /// Communes directly under the province (since 1 July 2025).
    Two,
    /// Communes → district-level towns → province (the seed's tree).
    Three,
    /// The same below a national node.
    Four,
}

/// One unit of a tree: its code, name, level and parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec {
    pub code: &'static str,
    pub name: &'static str,
    pub level: UnitLevel,
    pub parent: Option<&'static str>,
}

const fn spec(
    code: &'static str,
    name: &'static str,
    level: UnitLevel,
    parent: Option<&'static str>,
) -> Spec {
    Spec {
        code,
        name,
        level,
        parent,
    }
}

/// The units of a tree of `depth`, parents before children. Commune codes below Sơn Tây
/// follow the demo; they are illustrative.
pub fn specs(depth: Depth) -> Vec<Spec> {
    use UnitLevel::*;
    let mut out = Vec::new();
    let province_parent = match depth {
        Depth::Four => {
            out.push(spec("00", "Thanh tra Chính phủ", National, None));
            Some("00")
        }
        _ => None,
    };
    out.push(spec("01", "Thành phố Hà Nội", Province, province_parent));
    let town = match depth {
        Depth::Two => "01",
        _ => {
            out.push(spec("269", "Thị xã Sơn Tây", District, Some("01")));
            out.push(spec("271", "Huyện Ba Vì", District, Some("01")));
            "269"
        }
    };
    out.push(spec("09574", "Phường Lê Lợi", Ward, Some(town)));
    out.push(spec("09577", "Phường Phú Thịnh", Ward, Some(town)));
    out.push(spec("09580", "Xã Đường Lâm", Commune, Some(town)));
    if depth != Depth::Two {
        out.push(spec("09619", "Xã Tây Đằng", Commune, Some("271")));
    }
    out
}

/// The unit whose communes the scenarios work with: the town, or the province of a two-tier
/// tree.
pub fn town_of(depth: Depth) -> &'static str {
    match depth {
        Depth::Two => "01",
        _ => "269",
    }
}

/// The communes directly below `town_of(depth)`.
pub const COMMUNES: [&str; 3] = ["09574", "09577", "09580"];

/// Tunables of the tree's links.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Most events per batch: small, so faults hit batches in flight.
    pub batch_events: u64,
    /// Batches in flight.
    pub window: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            batch_events: 50,
            window: 4,
        }
    }
}

/// A node of the tree.
pub struct Member {
    pub spec: Spec,
    /// The running node; `None` while it is down.
    pub node: Option<TestNode>,
    /// The node's database while it is down.
    pub db: Option<TestDb>,
    /// Where it listens (kept across restarts, so its children find it again).
    pub addr: SocketAddr,
    /// The proxy between this node and its parent.
    pub proxy: Option<Proxy>,
    channel: Option<Channel>,
}

/// A tree of running nodes.
pub struct Tree {
    pub backend: Backend,
    pub depth: Depth,
    pub options: Options,
    pub members: Vec<Member>,
}

/// Starts a node of `unit` on `db`, serving on `listener`, with short reconnect backoff.
pub async fn start_node(
    db: TestDb,
    spec: &Spec,
    parent_url: Option<String>,
    options: &Options,
    listener: TcpListener,
) -> TestNode {
    let unit = unit(spec.code, spec.name, spec.level, None);
    let mut config = NodeConfig::new(unit.clone(), db.url.clone());
    config.parent_url = parent_url;
    config.uplink.backoff_min = Duration::from_millis(20);
    config.uplink.backoff_max = Duration::from_millis(300);
    config.uplink.batch_events = options.batch_events;
    config.uplink.window = options.window;
    let node = node::start(config, listener)
        .await
        .unwrap_or_else(|e| panic!("start node {}: {e}", spec.code));
    TestNode {
        node: Some(node),
        db,
        unit,
    }
}

impl Tree {
    /// Starts a tree of `depth` on `backend`, parents first; each child is linked (its parent
    /// welcomed it) before its own children start, so every node knows the units above it.
    pub async fn start(backend: Backend, depth: Depth, options: Options) -> Tree {
        let specs = specs(depth);
        let mut set = tokio::task::JoinSet::new();
        for (i, _) in specs.iter().enumerate() {
            set.spawn(async move { (i, TestDb::new(backend).await) });
        }
        let mut dbs: BTreeMap<usize, TestDb> = BTreeMap::new();
        while let Some(done) = set.join_next().await {
            let (i, db) = done.unwrap();
            dbs.insert(i, db);
        }
        let mut tree = Tree {
            backend,
            depth,
            options,
            members: Vec::new(),
        };
        // Tier by tier, each tier's nodes at once.
        let mut placed: Vec<&'static str> = Vec::new();
        let mut pending: Vec<(usize, Spec)> = specs.into_iter().enumerate().collect();
        while !pending.is_empty() {
            let (ready, rest): (Vec<_>, Vec<_>) = pending
                .into_iter()
                .partition(|(_, s)| s.parent.is_none_or(|p| placed.contains(&p)));
            assert!(
                !ready.is_empty(),
                "a unit's parent is missing from the tree"
            );
            placed.extend(ready.iter().map(|(_, s)| s.code));
            let tier = ready
                .into_iter()
                .map(|(i, s)| (s, dbs.remove(&i).unwrap()))
                .collect();
            tree.add_all(tier).await;
            pending = rest;
        }
        tree
    }

    /// Starts a node for `spec` on `db` below its parent (through a new proxy) and waits
    /// until the link is open.
    pub async fn add(&mut self, spec: Spec, db: TestDb) {
        self.add_all(vec![(spec, db)]).await;
    }

    /// Starts nodes whose parents are running, all at once, each below its parent through
    /// a new proxy, and waits until their links are open.
    pub async fn add_all(&mut self, nodes: Vec<(Spec, TestDb)>) {
        let mut set = tokio::task::JoinSet::new();
        let mut proxies = BTreeMap::new();
        for (i, (spec, db)) in nodes.into_iter().enumerate() {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let mut parent_url = None;
            if let Some(parent) = spec.parent {
                let p = Proxy::start(self.member(parent).addr).await.unwrap();
                parent_url = Some(p.url());
                proxies.insert(i, p);
            }
            let options = self.options;
            set.spawn(async move {
                let node = start_node(db, &spec, parent_url, &options, listener).await;
                let channel = node.channel().await;
                (i, spec, addr, node, channel)
            });
        }
        let mut started = Vec::new();
        while let Some(done) = set.join_next().await {
            started.push(done.unwrap());
        }
        started.sort_by_key(|s| s.0);
        let mut linked = Vec::new();
        for (i, spec, addr, node, channel) in started {
            self.members.push(Member {
                spec,
                node: Some(node),
                db: None,
                addr,
                proxy: proxies.remove(&i),
                channel: Some(channel),
            });
            if spec.parent.is_some() {
                linked.push(spec.code);
            }
        }
        for code in linked {
            self.wait_linked(code).await;
        }
    }

    /// The member of `code`.
    pub fn member(&self, code: &str) -> &Member {
        self.members
            .iter()
            .find(|m| m.spec.code == code)
            .unwrap_or_else(|| panic!("no unit {code} in the tree"))
    }

    fn member_mut(&mut self, code: &str) -> &mut Member {
        self.members
            .iter_mut()
            .find(|m| m.spec.code == code)
            .unwrap_or_else(|| panic!("no unit {code} in the tree"))
    }

    /// Codes of every unit, parents first.
    pub fn codes(&self) -> Vec<&'static str> {
        self.members.iter().map(|m| m.spec.code).collect()
    }

    /// The root's code.
    pub fn root(&self) -> &'static str {
        self.members[0].spec.code
    }

    /// `code`'s ancestors, nearest first.
    pub fn ancestors(&self, code: &str) -> Vec<&'static str> {
        let mut out = Vec::new();
        let mut current = self.member(code).spec.parent;
        while let Some(p) = current {
            out.push(p);
            current = self.member(p).spec.parent;
        }
        out
    }

    /// `code` and every unit below it.
    pub fn subtree(&self, code: &str) -> Vec<&'static str> {
        self.members
            .iter()
            .filter(|m| m.spec.code == code || self.ancestors(m.spec.code).contains(&code))
            .map(|m| m.spec.code)
            .collect()
    }

    /// Units whose parent is `code`.
    pub fn children(&self, code: &str) -> Vec<&'static str> {
        self.members
            .iter()
            .filter(|m| m.spec.parent == Some(code))
            .map(|m| m.spec.code)
            .collect()
    }

    /// A channel to the running node of `code`.
    pub fn channel(&self, code: &str) -> Channel {
        self.member(code)
            .channel
            .clone()
            .unwrap_or_else(|| panic!("node {code} is down"))
    }

    /// The node's URL.
    pub fn url(&self, code: &str) -> String {
        format!("http://{}", self.member(code).addr)
    }

    /// The proxy on the link from `code` up to its parent.
    pub fn proxy(&self, code: &str) -> &Proxy {
        self.member(code)
            .proxy
            .as_ref()
            .unwrap_or_else(|| panic!("{code} has no parent link"))
    }

    /// Kills the node of `code` abruptly, keeping its database.
    pub fn kill(&mut self, code: &str) {
        let m = self.member_mut(code);
        m.channel = None;
        let node = m.node.take().unwrap_or_else(|| panic!("{code} is down"));
        m.db = Some(node.kill());
    }

    /// Restarts the node of `code` on its database, on the same address and with the same
    /// parent link, so its children's proxies reach it again.
    pub async fn restart(&mut self, code: &str) {
        let options = self.options;
        let m = self.member_mut(code);
        let db = m.db.take().unwrap_or_else(|| panic!("{code} is running"));
        let deadline = tokio::time::Instant::now() + WAIT;
        let listener = loop {
            match TcpListener::bind(m.addr).await {
                Ok(l) => break l,
                Err(e) => {
                    assert!(
                        tokio::time::Instant::now() < deadline,
                        "cannot listen again on {} for {code}: {e}",
                        m.addr
                    );
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        };
        let parent_url = m.proxy.as_ref().map(Proxy::url);
        let node = start_node(db, &m.spec, parent_url, &options, listener).await;
        m.channel = Some(node.channel().await);
        m.node = Some(node);
    }

    /// Waits until `code`'s link to its parent is open.
    pub async fn wait_linked(&self, code: &str) {
        let parent = self.member(code).spec.parent.unwrap();
        let ch = self.channel(code);
        wait_for(&format!("{code} linked to {parent}"), || {
            let ch = ch.clone();
            async move {
                let s = sync_status(&ch).await;
                match s.parent {
                    Some(p) if p.connected && p.unit_code == parent => Ok(()),
                    other => Err(format!("{other:?}")),
                }
            }
        })
        .await;
    }

    /// Waits until `code` sees its link to its parent closed.
    pub async fn wait_unlinked(&self, code: &str) {
        let ch = self.channel(code);
        wait_for(&format!("{code} noticing its parent link is down"), || {
            let ch = ch.clone();
            async move {
                let s = sync_status(&ch).await;
                match s.parent {
                    Some(p) if !p.connected => Ok(()),
                    other => Err(format!("{other:?}")),
                }
            }
        })
        .await;
    }

    /// Stops every node, children first, then drops the databases all at once.
    pub async fn stop(mut self) {
        let mut dbs = Vec::new();
        while let Some(m) = self.members.pop() {
            drop(m.proxy);
            if let Some(node) = m.node {
                dbs.push(node.stop().await);
            }
            dbs.extend(m.db);
        }
        drop_all(dbs);
    }
}

/// Drops databases all at once (dropping a PostgreSQL database takes a while).
pub fn drop_all(dbs: Vec<TestDb>) {
    let drops: Vec<_> = dbs
        .into_iter()
        .map(|db| std::thread::spawn(move || drop(db)))
        .collect();
    for d in drops {
        let _ = d.join();
    }
}

/// Polls `probe` until it succeeds; fails after `WAIT` with the last reason.
pub async fn wait_for<F, Fut>(what: &str, mut probe: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let why = match probe().await {
            Ok(()) => return,
            Err(why) => why,
        };
        assert!(
            tokio::time::Instant::now() < deadline,
            "gave up waiting for {what} after {WAIT:?}: {why}"
        );
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
}

// ---- time ----

fn vn() -> FixedOffset {
    FixedOffset::east_opt(7 * 3600).unwrap()
}

/// An instant given in local (UTC+7) wall-clock time.
pub fn local(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    vn().with_ymd_and_hms(y, m, d, h, min, 0)
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

/// `day` at `h:min` local time.
pub fn on(day: NaiveDate, h: u32, min: u32) -> DateTime<Utc> {
    vn().from_local_datetime(&day.and_hms_opt(h, min, 0).unwrap())
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

/// A protobuf timestamp.
pub fn ts(t: DateTime<Utc>) -> Option<Timestamp> {
    Some(Timestamp {
        seconds: t.timestamp(),
        nanos: 0,
    })
}

/// The local calendar day of a timestamp.
pub fn local_day(t: &Option<Timestamp>) -> NaiveDate {
    let t = t.as_ref().expect("timestamp present");
    Utc.timestamp_opt(t.seconds, u32::try_from(t.nanos).unwrap())
        .single()
        .unwrap()
        .with_timezone(&vn())
        .date_naive()
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// Parses `YYYY-MM-DD..YYYY-MM-DD`.
pub fn period(text: &str) -> (NaiveDate, NaiveDate) {
    let (a, b) = text.split_once("..").unwrap();
    (
        NaiveDate::parse_from_str(a, "%Y-%m-%d").unwrap(),
        NaiveDate::parse_from_str(b, "%Y-%m-%d").unwrap(),
    )
}

// ---- clients ----

pub fn reception(ch: &Channel) -> pb::reception_service_client::ReceptionServiceClient<Channel> {
    pb::reception_service_client::ReceptionServiceClient::new(ch.clone())
}

pub fn petitions(ch: &Channel) -> pb::petition_service_client::PetitionServiceClient<Channel> {
    pb::petition_service_client::PetitionServiceClient::new(ch.clone())
}

pub fn cases(ch: &Channel) -> pb::case_service_client::CaseServiceClient<Channel> {
    pb::case_service_client::CaseServiceClient::new(ch.clone())
}

pub fn journal_client(ch: &Channel) -> pb::journal_service_client::JournalServiceClient<Channel> {
    pb::journal_service_client::JournalServiceClient::new(ch.clone())
}

pub fn reports(ch: &Channel) -> pb::report_service_client::ReportServiceClient<Channel> {
    pb::report_service_client::ReportServiceClient::new(ch.clone())
}

pub fn sync(ch: &Channel) -> pb::sync_service_client::SyncServiceClient<Channel> {
    pb::sync_service_client::SyncServiceClient::new(ch.clone())
}

/// The subtree report of `unit` (the node's own unit when empty) over `PERIOD_ALL`.
pub async fn subtree_report(ch: &Channel, unit: &str) -> pb::Report {
    reports(ch)
        .get_report(pb::GetReportRequest {
            unit_code: unit.to_string(),
            period: PERIOD_ALL.into(),
            scope: pb::ReportScope::Subtree as i32,
            calendar: 0,
        })
        .await
        .unwrap()
        .into_inner()
        .report
        .unwrap()
}

/// Every unit the node of `ch` stores.
pub async fn list_units(ch: &Channel) -> Vec<pb::Unit> {
    let units = pb::unit_service_client::UnitServiceClient::new(ch.clone())
        .list_units(pb::ListUnitsRequest {
            page_size: 1000,
            page_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(units.next_page_token.is_empty());
    units.units
}

/// The node's link status.
pub async fn sync_status(ch: &Channel) -> pb::GetSyncStatusResponse {
    sync(ch)
        .get_sync_status(pb::GetSyncStatusRequest {})
        .await
        .unwrap()
        .into_inner()
}

/// Highest sequence of `origin` in the node's journal.
pub async fn journal_last(ch: &Channel, origin: &str) -> u64 {
    journal_client(ch)
        .list_journal_events(pb::ListJournalEventsRequest {
            origin_unit: origin.to_string(),
            after_sequence: u64::MAX - 1,
            page_size: 1,
        })
        .await
        .unwrap()
        .into_inner()
        .last_sequence
}

/// Every event of `origin` in the node's journal, read page by page.
pub async fn journal(ch: &Channel, origin: &str) -> Vec<pb::JournalEvent> {
    let mut client = journal_client(ch);
    let mut out: Vec<pb::JournalEvent> = Vec::new();
    loop {
        let after = out.last().map_or(0, |e| e.sequence);
        let page = client
            .list_journal_events(pb::ListJournalEventsRequest {
                origin_unit: origin.to_string(),
                after_sequence: after,
                page_size: 1000,
            })
            .await
            .unwrap()
            .into_inner();
        if page.events.is_empty() {
            assert_eq!(
                after, page.last_sequence,
                "journal of {origin}: pages end at {after} but the last sequence is {}",
                page.last_sequence
            );
            return out;
        }
        out.extend(page.events);
    }
}

/// The events of `origin`, encoded as they travel (prost reproduces the stored bytes).
pub async fn journal_bytes(ch: &Channel, origin: &str) -> Vec<Vec<u8>> {
    journal(ch, origin)
        .await
        .iter()
        .map(Message::encode_to_vec)
        .collect()
}

// ---- records ----

/// The records of one unit as a node holds them, without the fields that legitimately differ
/// between tiers or with the clock (deadlines evaluated now, personal data).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Records {
    pub visits: BTreeMap<String, pb::Visit>,
    pub petitions: BTreeMap<String, pb::Petition>,
    pub cases: BTreeMap<String, pb::Case>,
}

/// The records of `unit` held by the node at `ch`. Fails if the node lists a record twice.
pub async fn records_of(ch: &Channel, unit: &str, at: &str) -> Records {
    let mut out = Records::default();
    let mut token = String::new();
    loop {
        let page = reception(ch)
            .list_visits(pb::ListVisitsRequest {
                page_size: 1000,
                page_token: token,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        for v in page.visits {
            if v.unit_code == unit {
                let id = v.id.clone();
                assert!(
                    out.visits.insert(id.clone(), v).is_none(),
                    "{at} lists visit {id} twice"
                );
            }
        }
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    let mut token = String::new();
    loop {
        let page = petitions(ch)
            .list_petitions(pb::ListPetitionsRequest {
                unit_code: unit.to_string(),
                page_size: 1000,
                page_token: token,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        for mut p in page.petitions {
            assert_eq!(p.unit_code, unit, "{at}: ListPetitions filter by unit");
            p.deadline = None;
            p.petitioner = None;
            let id = p.id.clone();
            assert!(
                out.petitions.insert(id.clone(), p).is_none(),
                "{at} lists petition {id} twice"
            );
        }
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    let mut token = String::new();
    loop {
        let page = cases(ch)
            .list_cases(pb::ListCasesRequest {
                owner_unit: unit.to_string(),
                page_size: 1000,
                page_token: token,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        for mut c in page.cases {
            assert_eq!(c.owner_unit, unit, "{at}: ListCases filter by owner");
            c.deadline = None;
            let id = c.id.clone();
            assert!(
                out.cases.insert(id.clone(), c).is_none(),
                "{at} lists case {id} twice"
            );
        }
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    out
}

fn diff_maps<T: PartialEq + std::fmt::Debug>(
    what: &str,
    expected: &BTreeMap<String, T>,
    actual: &BTreeMap<String, T>,
) -> Option<String> {
    if expected == actual {
        return None;
    }
    let mut s = format!(
        "{what}: expected {} records, found {}",
        expected.len(),
        actual.len()
    );
    let missing: Vec<_> = expected
        .keys()
        .filter(|k| !actual.contains_key(*k))
        .collect();
    let extra: Vec<_> = actual
        .keys()
        .filter(|k| !expected.contains_key(*k))
        .collect();
    if !missing.is_empty() {
        let _ = write!(s, "; missing {missing:?}");
    }
    if !extra.is_empty() {
        let _ = write!(s, "; unexpected {extra:?}");
    }
    for (k, e) in expected {
        if let Some(a) = actual.get(k)
            && a != e
        {
            let _ = write!(s, "; {k} differs:\n  expected {e:?}\n  found    {a:?}");
            break;
        }
    }
    Some(s)
}

// ---- the recount ----

/// The totals the suites recount from records, per DOMAIN.md's counting rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Count {
    pub visits: u64,
    pub persons: u64,
    pub crowd_groups: u64,
    pub crowd_persons: u64,
    pub head_sessions: u64,
    pub matters_first: u64,
    pub matters_repeat: u64,
    pub petitions_received: u64,
    pub cases_carried_over: u64,
    pub cases_accepted: u64,
    pub cases_to_resolve: u64,
    pub cases_resolved: u64,
    pub outcome_correct: u64,
    pub outcome_partly_correct: u64,
    pub outcome_incorrect: u64,
    pub outcome_withdrawn: u64,
    pub outcome_answered: u64,
    pub rate: (u64, u64),
}

impl Count {
    /// The same figures as a report gives them.
    pub fn of(t: &pb::Totals) -> Count {
        let rate = t.resolution_rate.unwrap_or_default();
        Count {
            visits: t.visits,
            persons: t.persons,
            crowd_groups: t.crowd_groups,
            crowd_persons: t.crowd_persons,
            head_sessions: t.head_sessions,
            matters_first: t.matters_first,
            matters_repeat: t.matters_repeat,
            petitions_received: t.petitions_received,
            cases_carried_over: t.cases_carried_over,
            cases_accepted: t.cases_accepted,
            cases_to_resolve: t.cases_to_resolve,
            cases_resolved: t.cases_resolved,
            outcome_correct: t.outcome_correct,
            outcome_partly_correct: t.outcome_partly_correct,
            outcome_incorrect: t.outcome_incorrect,
            outcome_withdrawn: t.outcome_withdrawn,
            outcome_answered: t.outcome_answered,
            rate: (rate.numerator, rate.denominator),
        }
    }
}

fn is_head(role: i32) -> bool {
    [
        pb::ReceiverRole::PartySecretary as i32,
        pb::ReceiverRole::CommitteeChairman as i32,
        pb::ReceiverRole::CouncilDelegate as i32,
    ]
    .contains(&role)
}

fn is_closed(c: &pb::Case) -> bool {
    c.decision_time.is_some()
        && [
            pb::CaseStatus::Resolved as i32,
            pb::CaseStatus::InForce as i32,
            pb::CaseStatus::Enforced as i32,
            pb::CaseStatus::Withdrawn as i32,
        ]
        .contains(&c.status)
}

/// Recounts, from the records of each unit, the totals of the units in `scope` for the local
/// days of `period` (restricted to one petition type when `only` is given: reception is then
/// not counted). A petition transferred in from a unit of `scope` was already counted there.
pub fn recount(
    records: &BTreeMap<String, Records>,
    scope: &[&str],
    period: (NaiveDate, NaiveDate),
    only: Option<i32>,
) -> Count {
    let (start, end) = period;
    let within = |t: &Option<Timestamp>| {
        let d = local_day(t);
        d >= start && d <= end
    };
    let before = |t: &Option<Timestamp>| local_day(t) < start;
    let mut c = Count::default();
    for unit in scope {
        let Some(r) = records.get(*unit) else {
            continue;
        };
        if only.is_none() {
            for v in r.visits.values().filter(|v| within(&v.visit_time)) {
                c.visits += 1;
                c.persons += u64::from(v.persons);
                // A crowd group: five or more persons about one matter.
                if v.persons >= 5 {
                    c.crowd_groups += 1;
                    c.crowd_persons += u64::from(v.persons);
                }
                if is_head(v.receiver_role) {
                    c.head_sessions += 1;
                }
                if v.matter == pb::MatterKind::Repeat as i32 {
                    c.matters_repeat += 1;
                } else {
                    c.matters_first += 1;
                }
            }
        }
        for p in r.petitions.values() {
            if only.is_some_and(|t| p.r#type != t) {
                continue;
            }
            let moved_inside = !p.source_unit.is_empty() && scope.contains(&p.source_unit.as_str());
            if within(&p.received_time) && !moved_inside {
                c.petitions_received += 1;
            }
        }
        for k in r.cases.values() {
            if only.is_some_and(|t| k.r#type != t) {
                continue;
            }
            let closed = is_closed(k);
            if within(&k.accept_time) {
                c.cases_accepted += 1;
            }
            if before(&k.accept_time) && !(closed && before(&k.decision_time)) {
                c.cases_carried_over += 1;
            }
            if closed && within(&k.decision_time) {
                c.cases_resolved += 1;
                use pb::CaseOutcome as O;
                match O::try_from(k.outcome).unwrap_or(O::Unspecified) {
                    O::ComplaintCorrect | O::DenunciationFounded => c.outcome_correct += 1,
                    O::ComplaintPartlyCorrect | O::DenunciationPartlyFounded => {
                        c.outcome_partly_correct += 1;
                    }
                    O::ComplaintIncorrect | O::DenunciationUnfounded => c.outcome_incorrect += 1,
                    O::Withdrawn => c.outcome_withdrawn += 1,
                    O::RecommendationAnswered => c.outcome_answered += 1,
                    O::Unspecified => {}
                }
            }
        }
    }
    c.cases_to_resolve = c.cases_carried_over + c.cases_accepted;
    c.rate = (c.cases_resolved, c.cases_to_resolve);
    c
}

// ---- the invariants ----

/// What each unit holds of its own: its journal (encoded events) and its records.
#[derive(Debug, Clone, Default)]
pub struct World {
    pub journals: BTreeMap<String, Vec<Vec<u8>>>,
    pub records: BTreeMap<String, Records>,
}

impl World {
    /// Reads every running node's own journal and records at that node.
    pub async fn collect(tree: &Tree) -> World {
        let mut w = World::default();
        for code in tree.codes() {
            let ch = tree.channel(code);
            let events = journal(&ch, code).await;
            for (i, e) in events.iter().enumerate() {
                assert_eq!(
                    e.sequence,
                    i as u64 + 1,
                    "{code}'s own journal is not gapless"
                );
                assert_eq!(e.origin_unit, code, "{code}'s own journal");
            }
            w.journals.insert(
                code.to_string(),
                events.iter().map(Message::encode_to_vec).collect(),
            );
            w.records
                .insert(code.to_string(), records_of(&ch, code, code).await);
        }
        w
    }

    /// Total events over every origin.
    pub fn events(&self) -> usize {
        self.journals.values().map(Vec::len).sum()
    }
}

/// Waits until no node has mail waiting to cross a link.
pub async fn wait_mail_delivered(tree: &Tree) {
    wait_for("every outbox to empty", || async move {
        let mut pending = Vec::new();
        for code in tree.codes() {
            let s = sync_status(&tree.channel(code)).await;
            if let Some(p) = &s.parent
                && p.mail_pending > 0
            {
                pending.push(format!("{code}→parent: {}", p.mail_pending));
            }
            for c in &s.children {
                if c.mail_pending > 0 {
                    pending.push(format!("{code}→{}: {}", c.unit_code, c.mail_pending));
                }
            }
        }
        if pending.is_empty() {
            Ok(())
        } else {
            Err(pending.join(", "))
        }
    })
    .await;
}

/// What each tier should hold of each origin: what the origin holds now, except where a link
/// on the way up from the origin is cut — then what the origin held when it was cut.
pub struct Expect<'a> {
    pub now: &'a World,
    pub before: Option<&'a World>,
    /// Units whose link to their parent is cut.
    pub cut: Vec<&'static str>,
}

impl<'a> Expect<'a> {
    /// Everything everywhere.
    pub fn all(now: &'a World) -> Expect<'a> {
        Expect {
            now,
            before: None,
            cut: Vec::new(),
        }
    }

    /// What `holder` should hold of `origin`.
    fn view(&self, tree: &Tree, holder: &str, origin: &str) -> &'a World {
        let mut u = origin;
        while u != holder {
            if self.cut.contains(&u) {
                return self.before.expect("a snapshot from before the cut");
            }
            u = tree.member(u).spec.parent.expect("holder is an ancestor");
        }
        self.now
    }

    /// Every unit's records as `holder` should hold them.
    fn records_at(&self, tree: &Tree, holder: &str) -> BTreeMap<String, Records> {
        tree.codes()
            .into_iter()
            .filter_map(|code| {
                let view = if tree.subtree(holder).contains(&code) {
                    self.view(tree, holder, code)
                } else {
                    self.now
                };
                view.records
                    .get(code)
                    .map(|r| (code.to_string(), r.clone()))
            })
            .collect()
    }
}

/// Waits until every ancestor of every unit holds exactly the events it should.
pub async fn wait_synced(tree: &Tree, expect: &Expect<'_>) {
    wait_for("every tier to hold every event", || async move {
        let mut behind = Vec::new();
        for code in tree.codes() {
            for a in tree.ancestors(code) {
                let want = expect.view(tree, a, code).journals[code].len() as u64;
                let got = journal_last(&tree.channel(a), code).await;
                if got != want {
                    behind.push(format!("{a} holds {got}/{want} of {code}"));
                }
            }
        }
        if behind.is_empty() {
            Ok(())
        } else {
            Err(behind.join(", "))
        }
    })
    .await;
}

/// Waits until mail is delivered and every tier holds every event; returns what the units
/// hold. The invariants are not checked (see `verify`).
pub async fn settle(tree: &Tree) -> World {
    wait_mail_delivered(tree).await;
    let world = World::collect(tree).await;
    wait_synced(tree, &Expect::all(&world)).await;
    world
}

/// Runs every check after a scenario: mail delivered, every tier synced, then the
/// invariants. Returns what the units hold.
pub async fn verify(tree: &Tree) -> World {
    wait_mail_delivered(tree).await;
    let world = World::collect(tree).await;
    check(tree, &Expect::all(&world)).await;
    world
}

/// Checks the invariants once every tier holds what it should: (1) no event lost: each
/// ancestor holds every event of every origin byte for byte, sequences 1..=last and no more;
/// (2) none applied twice: each ancestor holds each unit's records exactly once, as the unit
/// holds them; (3) every tier's totals equal a recount from the units' records.
pub async fn check(tree: &Tree, expect: &Expect<'_>) {
    wait_synced(tree, expect).await;
    let mut failures = Vec::new();
    for code in tree.codes() {
        for a in tree.ancestors(code) {
            let view = expect.view(tree, a, code);
            let ch = tree.channel(a);
            let held = journal_bytes(&ch, code).await;
            let own = &view.journals[code];
            if held.len() != own.len() {
                failures.push(format!(
                    "{a} holds {} events of {code}, which has {}",
                    held.len(),
                    own.len()
                ));
            } else if let Some(i) = (0..own.len()).find(|&i| held[i] != own[i]) {
                failures.push(format!(
                    "{a}'s copy of {code}/{} differs from the origin's bytes",
                    i + 1
                ));
            }
            let records = records_of(&ch, code, a).await;
            let mine = &view.records[code];
            for d in [
                diff_maps(
                    &format!("visits of {code} at {a}"),
                    &mine.visits,
                    &records.visits,
                ),
                diff_maps(
                    &format!("petitions of {code} at {a}"),
                    &mine.petitions,
                    &records.petitions,
                ),
                diff_maps(
                    &format!("cases of {code} at {a}"),
                    &mine.cases,
                    &records.cases,
                ),
            ]
            .into_iter()
            .flatten()
            {
                failures.push(d);
            }
        }
    }
    assert!(
        failures.is_empty(),
        "sync invariants broken:\n{}",
        failures.join("\n")
    );
    check_reports(tree, expect).await;
}

/// Checks that every node's reports, for every unit of its subtree, alone and with its
/// subtree, over two periods, overall and per petition type, equal the recount.
pub async fn check_reports(tree: &Tree, expect: &Expect<'_>) {
    let mut failures = Vec::new();
    let types = [
        pb::PetitionType::Complaint,
        pb::PetitionType::Denunciation,
        pb::PetitionType::Recommendation,
        pb::PetitionType::Mixed,
    ];
    for at in tree.codes() {
        let ch = tree.channel(at);
        let records = expect.records_at(tree, at);
        for unit in tree.subtree(at) {
            for text in [PERIOD_ALL, PERIOD_PART] {
                let days = period(text);
                for (scope, units) in [
                    (pb::ReportScope::Subtree, tree.subtree(unit)),
                    (pb::ReportScope::Unit, vec![unit]),
                ] {
                    let report = reports(&ch)
                        .get_report(pb::GetReportRequest {
                            unit_code: unit.to_string(),
                            period: text.to_string(),
                            scope: scope as i32,
                            calendar: 0,
                        })
                        .await
                        .unwrap_or_else(|e| panic!("report of {unit} at {at}: {e}"))
                        .into_inner()
                        .report
                        .unwrap();
                    let what = format!("{at}'s report of {unit} ({scope:?}, {text})");
                    let expected = recount(&records, &units, days, None);
                    let got = Count::of(&report.totals.unwrap_or_default());
                    if got != expected {
                        failures.push(format!(
                            "{what}:\n  recount {expected:?}\n  report  {got:?}"
                        ));
                    }
                    for t in types {
                        let expected = recount(&records, &units, days, Some(t as i32));
                        let got = report
                            .by_type
                            .iter()
                            .find(|r| r.r#type == t as i32)
                            .and_then(|r| r.totals)
                            .map(|t| Count::of(&t))
                            .unwrap_or_default();
                        if got != expected {
                            failures.push(format!(
                                "{what}, {t:?}:\n  recount {expected:?}\n  report  {got:?}"
                            ));
                        }
                    }
                    if scope == pb::ReportScope::Subtree {
                        let rows: BTreeSet<String> = report
                            .children
                            .iter()
                            .filter_map(|r| r.unit.as_ref().map(|u| u.code.clone()))
                            .collect();
                        let want: BTreeSet<String> =
                            tree.children(unit).iter().map(|c| c.to_string()).collect();
                        if rows != want {
                            failures.push(format!("{what}: child rows {rows:?}, want {want:?}"));
                        }
                        for row in &report.children {
                            let code = row.unit.as_ref().map(|u| u.code.clone()).unwrap();
                            if !want.contains(&code) {
                                continue;
                            }
                            let expected = recount(&records, &tree.subtree(&code), days, None);
                            let got = Count::of(&row.totals.unwrap_or_default());
                            if got != expected {
                                failures.push(format!(
                                    "{what}, row {code}:\n  recount {expected:?}\n  report  {got:?}"
                                ));
                            }
                        }
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "totals differ from the recount ({} problems):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

// ---- workloads ----

/// When the `i`-th visit of a workload happens: spread over 2019, some at the edges of
/// `PERIOD_PART` at hours where the local day and the UTC day differ.
fn visit_time(i: u32) -> DateTime<Utc> {
    match i % 10 {
        0 => local(2019, 3, 1, 6, 15),  // 28 Feb in UTC
        1 => local(2019, 7, 1, 3, 0),   // 30 Jun in UTC
        2 => local(2019, 6, 30, 22, 0), // 30 Jun both ways
        _ => on(
            date(2019, 1, 3) + chrono::Duration::days(i64::from((i * 37) % 355)),
            7 + i % 10,
            (i * 7) % 60,
        ),
    }
}

/// A plain visit request of 2019, its request id and summary made of `tag` and `i`.
pub fn visit_request(tag: &str, i: u32) -> pb::RecordVisitRequest {
    pb::RecordVisitRequest {
        request_id: format!("{tag}-v{i}"),
        visit_time: ts(local(2019, 5, 1 + i % 28, 8, 0)),
        kind: pb::ReceptionKind::Regular as i32,
        receiver_role: pb::ReceiverRole::Staff as i32,
        receiver_name: String::new(),
        persons: 1 + i % 4,
        matter: pb::MatterKind::First as i32,
        action: pb::ReceptionAction::Accepted as i32,
        summary: format!("{tag} visit {i}"),
        schedule_entry_id: String::new(),
    }
}

/// Every visit the node holds, as (summary, id), in the node's order.
pub async fn all_visits(ch: &Channel) -> Vec<(String, String)> {
    let mut client = reception(ch);
    let mut out = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_visits(pb::ListVisitsRequest {
                page_size: 1000,
                page_token,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        out.extend(page.visits.into_iter().map(|v| (v.summary, v.id)));
        if page.next_page_token.is_empty() {
            return out;
        }
        page_token = page.next_page_token;
    }
}

/// Records `n` visits at the node of `ch`, numbered from `from` (request ids
/// `{tag}-v{i}`): various sizes (some crowd groups), receivers (some heads) and matters.
pub async fn record_visits(ch: &Channel, tag: &str, from: u32, n: u32) {
    let mut client = reception(ch);
    for i in from..from + n {
        let persons = [1, 2, 3, 5, 1, 9, 2, 4, 15, 1][(i % 10) as usize];
        let (kind, role) = match i % 7 {
            1 => (
                pb::ReceptionKind::Periodic,
                pb::ReceiverRole::CommitteeChairman,
            ),
            3 => (
                pb::ReceptionKind::Periodic,
                pb::ReceiverRole::PartySecretary,
            ),
            5 => (
                pb::ReceptionKind::Unscheduled,
                pb::ReceiverRole::CouncilDelegate,
            ),
            _ => (pb::ReceptionKind::Regular, pb::ReceiverRole::Staff),
        };
        client
            .record_visit(pb::RecordVisitRequest {
                request_id: format!("{tag}-v{i}"),
                visit_time: ts(visit_time(i)),
                kind: kind as i32,
                receiver_role: role as i32,
                receiver_name: String::new(),
                persons,
                matter: if i % 3 == 2 {
                    pb::MatterKind::Repeat
                } else {
                    pb::MatterKind::First
                } as i32,
                action: pb::ReceptionAction::Accepted as i32,
                summary: format!("Việc {tag} số {i}"),
                schedule_entry_id: String::new(),
            })
            .await
            .unwrap_or_else(|e| panic!("record visit {tag}-v{i}: {e}"));
    }
}

/// A classification.
pub fn class(kind: pb::PetitionType, eligible: bool, within: bool) -> pb::Classification {
    pb::Classification {
        r#type: kind as i32,
        field: pb::Field::LandHousing as i32,
        complaint_round: u32::from(kind == pb::PetitionType::Complaint),
        eligibility: if eligible {
            pb::Eligibility::Eligible
        } else {
            pb::Eligibility::Ineligible
        } as i32,
        jurisdiction: if within {
            pb::Jurisdiction::Within
        } else {
            pb::Jurisdiction::Outside
        } as i32,
        has_evidence: true,
    }
}

/// Receives a petition.
pub async fn receive(
    ch: &Channel,
    request_id: String,
    when: DateTime<Utc>,
    classification: Option<pb::Classification>,
) -> pb::Petition {
    petitions(ch)
        .receive_petition(pb::ReceivePetitionRequest {
            summary: format!("Đơn {request_id}"),
            request_id,
            received_time: ts(when),
            channel: pb::Channel::InPerson as i32,
            petitioner: Some(pb::Petitioner {
                full_name: "Nguyễn Văn A".into(),
                address: "Sơn Tây".into(),
                ..Default::default()
            }),
            signers: 1,
            visit_id: String::new(),
            classification,
        })
        .await
        .unwrap_or_else(|e| panic!("receive petition: {e}"))
        .into_inner()
        .petition
        .unwrap()
}

/// Accepts a petition into a new case.
pub async fn accept_new(
    ch: &Channel,
    request_id: String,
    petition_id: &str,
    when: DateTime<Utc>,
) -> pb::Case {
    petitions(ch)
        .accept_petition(pb::AcceptPetitionRequest {
            request_id,
            petition_id: petition_id.to_string(),
            accept_time: ts(when),
            target: Some(pb::accept_petition_request::Target::NewCase(pb::NewCase {
                complex: false,
            })),
        })
        .await
        .unwrap_or_else(|e| panic!("accept {petition_id}: {e}"))
        .into_inner()
        .case
        .unwrap()
}

/// Accepts a petition into an open case of the same unit.
pub async fn accept_into(
    ch: &Channel,
    request_id: String,
    petition_id: &str,
    case_id: &str,
    when: DateTime<Utc>,
) -> pb::Case {
    petitions(ch)
        .accept_petition(pb::AcceptPetitionRequest {
            request_id,
            petition_id: petition_id.to_string(),
            accept_time: ts(when),
            target: Some(pb::accept_petition_request::Target::CaseId(
                case_id.to_string(),
            )),
        })
        .await
        .unwrap_or_else(|e| panic!("accept {petition_id} into {case_id}: {e}"))
        .into_inner()
        .case
        .unwrap()
}

/// Resolves a case.
pub async fn resolve(
    ch: &Channel,
    request_id: String,
    case_id: &str,
    outcome: pb::CaseOutcome,
    when: DateTime<Utc>,
) -> pb::Case {
    cases(ch)
        .resolve_case(pb::ResolveCaseRequest {
            decision_number: format!("{request_id}/QĐ-UBND"),
            request_id,
            case_id: case_id.to_string(),
            outcome: outcome as i32,
            decision_time: ts(when),
            money_to_recover_vnd: 0,
            land_to_recover_m2: 0.0,
        })
        .await
        .unwrap_or_else(|e| panic!("resolve {case_id}: {e}"))
        .into_inner()
        .case
        .unwrap()
}

/// Classifies a petition.
pub async fn classify(
    ch: &Channel,
    request_id: String,
    petition_id: &str,
    classification: pb::Classification,
    when: DateTime<Utc>,
) {
    petitions(ch)
        .classify_petition(pb::ClassifyPetitionRequest {
            request_id,
            petition_id: petition_id.to_string(),
            classification: Some(classification),
            decision_time: ts(when),
        })
        .await
        .unwrap_or_else(|e| panic!("classify {petition_id}: {e}"));
}

/// Records `n` petitions at the node of `ch`, numbered from `from`, through every routing:
/// left received, classified, accepted (some resolved, some across `PERIOD_PART`'s edges),
/// guided, filed, transferred out of the tree, withdrawn, urged and returned.
pub async fn record_petitions(ch: &Channel, tag: &str, from: u32, n: u32) {
    use pb::PetitionType as T;
    for i in from..from + n {
        let day = date(2019, 1, 10) + chrono::Duration::days(i64::from((i * 29) % 300));
        let at = |days: i64| on(day + chrono::Duration::days(days), 9, 30);
        let id = |what: &str| format!("{tag}-p{i}-{what}");
        let route = i % 10;
        let classification = match route {
            0 | 8 => None,
            1 => Some(class(T::Recommendation, true, true)),
            2 | 3 => Some(class(T::Complaint, true, true)),
            4 => Some(class(T::Recommendation, true, false)),
            5 => Some(class(T::Denunciation, false, false)),
            6 => Some(class(T::Denunciation, true, false)),
            7 => Some(class(T::Denunciation, true, true)),
            _ => Some(class(T::Mixed, true, false)),
        };
        let p = receive(ch, id("r"), at(0), classification).await;
        let mut client = petitions(ch);
        match route {
            2 => {
                accept_new(ch, id("a"), &p.id, at(3)).await;
            }
            3 => {
                let case = accept_new(ch, id("a"), &p.id, at(3)).await;
                let outcome = [
                    pb::CaseOutcome::ComplaintCorrect,
                    pb::CaseOutcome::ComplaintPartlyCorrect,
                    pb::CaseOutcome::ComplaintIncorrect,
                    pb::CaseOutcome::Withdrawn,
                ][((i / 10) % 4) as usize];
                resolve(ch, id("d"), &case.id, outcome, at(40)).await;
            }
            4 => {
                client
                    .guide_petition(pb::GuidePetitionRequest {
                        request_id: id("g"),
                        petition_id: p.id,
                        outside_body: "Tòa án nhân dân".into(),
                        note: String::new(),
                        decision_time: ts(at(2)),
                    })
                    .await
                    .unwrap();
            }
            5 => {
                client
                    .file_petition(pb::FilePetitionRequest {
                        request_id: id("f"),
                        petition_id: p.id,
                        reason: pb::FileReason::Ineligible as i32,
                        note: String::new(),
                        decision_time: ts(at(2)),
                    })
                    .await
                    .unwrap();
            }
            6 => {
                client
                    .transfer_petition(pb::TransferPetitionRequest {
                        request_id: id("t"),
                        petition_id: p.id,
                        destination: Some(pb::transfer_petition_request::Destination::OutsideBody(
                            "Công an tỉnh".into(),
                        )),
                        note: String::new(),
                        decision_time: ts(at(2)),
                    })
                    .await
                    .unwrap();
            }
            7 => {
                let case = accept_new(ch, id("a"), &p.id, at(1)).await;
                let outcome = [
                    pb::CaseOutcome::DenunciationFounded,
                    pb::CaseOutcome::DenunciationPartlyFounded,
                    pb::CaseOutcome::DenunciationUnfounded,
                ][((i / 10) % 3) as usize];
                resolve(ch, id("d"), &case.id, outcome, at(20)).await;
            }
            8 => {
                client
                    .withdraw_petition(pb::WithdrawPetitionRequest {
                        request_id: id("w"),
                        petition_id: p.id,
                        note: String::new(),
                        decision_time: ts(at(5)),
                    })
                    .await
                    .unwrap();
            }
            9 if (i / 10) % 2 == 0 => {
                client
                    .urge_petition(pb::UrgePetitionRequest {
                        request_id: id("u"),
                        petition_id: p.id,
                        outside_body: "UBND xã".into(),
                        note: String::new(),
                        decision_time: ts(at(2)),
                    })
                    .await
                    .unwrap();
            }
            9 => {
                client
                    .return_petition(pb::ReturnPetitionRequest {
                        request_id: id("x"),
                        petition_id: p.id,
                        note: "Đơn không rõ nội dung".into(),
                        decision_time: ts(at(2)),
                    })
                    .await
                    .unwrap();
            }
            _ => {}
        }
    }
}

/// Records `visits` visits and `petitions` petitions at the node of `ch`.
pub async fn record_mix(ch: &Channel, tag: &str, visits: u32, petitions: u32) {
    record_visits(ch, tag, 0, visits).await;
    record_petitions(ch, tag, 0, petitions).await;
}

/// Records a small mix at every unit of the tree, concurrently.
pub async fn record_everywhere(tree: &Tree, tag: &str, visits: u32, petitions: u32) {
    let mut set = tokio::task::JoinSet::new();
    for code in tree.codes() {
        let ch = tree.channel(code);
        let tag = format!("{tag}-{code}");
        set.spawn(async move { record_mix(&ch, &tag, visits, petitions).await });
    }
    while let Some(done) = set.join_next().await {
        done.unwrap();
    }
}

// ---- transfers ----

/// Receives at `ch` a complaint outside its jurisdiction and transfers it to `destination`,
/// retrying while the destination is not known there yet (units far away become known as
/// directory updates come down the link). Returns the petition as the sender holds it.
pub async fn transfer_up(
    ch: &Channel,
    tag: &str,
    destination: &str,
    received: DateTime<Utc>,
) -> pb::Petition {
    let p = receive(
        ch,
        format!("{tag}-r"),
        received,
        Some(class(pb::PetitionType::Complaint, true, false)),
    )
    .await;
    let deadline = tokio::time::Instant::now() + WAIT;
    for attempt in 0.. {
        let result = petitions(ch)
            .transfer_petition(pb::TransferPetitionRequest {
                request_id: format!("{tag}-t{attempt}"),
                petition_id: p.id.clone(),
                destination: Some(pb::transfer_petition_request::Destination::UnitCode(
                    destination.to_string(),
                )),
                note: "Không thuộc thẩm quyền".into(),
                decision_time: ts(received + chrono::Duration::days(1)),
            })
            .await;
        match result {
            Ok(r) => return r.into_inner().petition.unwrap(),
            Err(e) if e.code() == Code::NotFound && tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(40)).await;
            }
            Err(e) => panic!("transfer {} to {destination}: {e}", p.id),
        }
    }
    unreachable!()
}

/// Waits until `unit` holds the petition transferred as `source_id`; returns it.
pub async fn wait_transferred_in(ch: &Channel, unit: &str, source_id: &str) -> pb::Petition {
    let mut found = None;
    let deadline = tokio::time::Instant::now() + WAIT;
    while found.is_none() {
        let mut token = String::new();
        loop {
            let page = petitions(ch)
                .list_petitions(pb::ListPetitionsRequest {
                    unit_code: unit.to_string(),
                    page_size: 1000,
                    page_token: token,
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner();
            found = page
                .petitions
                .into_iter()
                .find(|p| p.source_petition_id == source_id);
            if found.is_some() || page.next_page_token.is_empty() {
                break;
            }
            token = page.next_page_token;
        }
        if found.is_none() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "petition {source_id} never arrived at {unit}"
            );
            tokio::time::sleep(Duration::from_millis(40)).await;
        }
    }
    found.unwrap()
}

/// A petition as the node of `ch` gives it (with personal data where it may).
pub async fn get_petition(ch: &Channel, id: &str) -> pb::Petition {
    petitions(ch)
        .get_petition(pb::GetPetitionRequest {
            petition_id: id.to_string(),
        })
        .await
        .unwrap_or_else(|e| panic!("get petition {id}: {e}"))
        .into_inner()
        .petition
        .unwrap()
}

/// Waits until the petition `id` at the node of `ch` carries the result of `case`.
pub async fn wait_result(ch: &Channel, id: &str, case: &pb::Case) -> pb::Petition {
    let mut last = None;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let p = get_petition(ch, id).await;
        if !p.result_case_id.is_empty() {
            assert_eq!(p.result_case_id, case.id, "result of {id}");
            assert_eq!(p.result_outcome, case.outcome, "outcome of {id}");
            assert_eq!(p.result_time, case.decision_time, "decision time of {id}");
            return p;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the result of case {} never reached petition {id}: {last:?}",
            case.id
        );
        last = Some(p);
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
}

// ---- the raw link ----

/// A town and two communes that are not linked by a tree: the raw-link suites drive the
/// town's link by hand, as `CHILD` (or as its sibling `OTHER`).
pub const TOWN: Spec = spec("269", "Thị xã Sơn Tây", UnitLevel::District, None);
pub const CHILD: Spec = spec("09574", "Phường Lê Lợi", UnitLevel::Ward, None);
pub const OTHER: Spec = spec("09577", "Phường Phú Thịnh", UnitLevel::Ward, None);

/// One end of a link opened by hand, as a child would.
pub struct RawLink {
    pub tx: mpsc::Sender<pb::LinkRequest>,
    pub inbound: Streaming<pb::LinkResponse>,
}

/// The Hello of `code`.
pub fn hello(code: &str, name: &str, level: pb::UnitLevel) -> pb::LinkRequest {
    pb::LinkRequest {
        message: Some(pb::link_request::Message::Hello(pb::Hello {
            protocol_version: 1,
            unit: Some(pb::Unit {
                code: code.to_string(),
                name: name.to_string(),
                level: level as i32,
                parent_code: String::new(),
                remote: false,
            }),
            ..Default::default()
        })),
    }
}

/// A batch of encoded events.
pub fn batch(events: &[Vec<u8>]) -> pb::LinkRequest {
    pb::LinkRequest {
        message: Some(pb::link_request::Message::Batch(pb::EventBatch {
            events: events.to_vec(),
            remaining: 0,
            units: Vec::new(),
        })),
    }
}

impl RawLink {
    /// Opens a link to `url` whose first message is `first`; the error is the call's.
    pub async fn open(url: &str, first: pb::LinkRequest) -> Result<RawLink, Status> {
        let (tx, rx) = mpsc::channel(16);
        tx.send(first).await.unwrap();
        let ch = tiepdan_tests::channel(url).await;
        let inbound = sync(&ch).link(ReceiverStream::new(rx)).await?.into_inner();
        Ok(RawLink { tx, inbound })
    }

    /// Opens a link as `code` and reads the Welcome.
    pub async fn hello(
        url: &str,
        code: &str,
        name: &str,
        level: pb::UnitLevel,
    ) -> (RawLink, pb::Welcome) {
        let mut link = RawLink::open(url, hello(code, name, level))
            .await
            .unwrap_or_else(|e| panic!("link as {code}: {e}"));
        let welcome = match link.next().await {
            Ok(Some(pb::link_response::Message::Welcome(w))) => w,
            other => panic!("expected Welcome, got {other:?}"),
        };
        (link, welcome)
    }

    /// The next message from the parent (skipping mail), bounded by `WAIT`.
    pub async fn next(&mut self) -> Result<Option<pb::link_response::Message>, Status> {
        let m = tokio::time::timeout(WAIT, self.inbound.message())
            .await
            .expect("the parent answered nothing")?;
        Ok(m.and_then(|m| m.message))
    }

    /// Sends a batch and returns the acknowledged positions, or the status the link ended
    /// with.
    pub async fn send(&mut self, events: &[Vec<u8>]) -> Result<BTreeMap<String, u64>, Status> {
        self.tx.send(batch(events)).await.unwrap();
        loop {
            match self.next().await? {
                Some(pb::link_response::Message::BatchAck(ack)) => {
                    return Ok(ack
                        .positions
                        .into_iter()
                        .map(|p| (p.origin_unit, p.sequence))
                        .collect());
                }
                Some(pb::link_response::Message::Mail(_)) => {}
                other => panic!("expected BatchAck, got {other:?}"),
            }
        }
    }
}

/// A link whose messages go as the bytes given, so a test can send what no `LinkRequest`
/// encodes to (garbage, truncated or extended encodings); the parent's answers decode as usual.
pub struct ByteLink {
    pub tx: mpsc::Sender<Vec<u8>>,
    pub inbound: Streaming<pb::LinkResponse>,
}

/// The codec of a [`ByteLink`].
#[derive(Debug, Clone, Copy, Default)]
pub struct BytesCodec;

/// Writes each message's bytes as they are.
#[derive(Debug)]
pub struct BytesEncoder;

/// Decodes the parent's `LinkResponse`s.
#[derive(Debug)]
pub struct LinkResponseDecoder;

impl tonic::codec::Encoder for BytesEncoder {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(
        &mut self,
        item: Vec<u8>,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), Status> {
        use prost::bytes::BufMut;
        dst.put_slice(&item);
        Ok(())
    }
}

impl tonic::codec::Decoder for LinkResponseDecoder {
    type Item = pb::LinkResponse;
    type Error = Status;

    fn decode(
        &mut self,
        src: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<pb::LinkResponse>, Status> {
        pb::LinkResponse::decode(src)
            .map(Some)
            .map_err(|e| Status::internal(format!("the parent's answer does not decode: {e}")))
    }
}

impl tonic::codec::Codec for BytesCodec {
    type Encode = Vec<u8>;
    type Decode = pb::LinkResponse;
    type Encoder = BytesEncoder;
    type Decoder = LinkResponseDecoder;

    fn encoder(&mut self) -> BytesEncoder {
        BytesEncoder
    }

    fn decoder(&mut self) -> LinkResponseDecoder {
        LinkResponseDecoder
    }
}

impl ByteLink {
    /// Opens a link over `ch` whose first message is `first`; the error is the call's.
    pub async fn open(ch: &Channel, first: Vec<u8>) -> Result<ByteLink, Status> {
        let (tx, rx) = mpsc::channel(16);
        tx.send(first).await.unwrap();
        let mut grpc = tonic::client::Grpc::new(ch.clone());
        grpc.ready()
            .await
            .map_err(|e| Status::unavailable(format!("channel not ready: {e}")))?;
        let path =
            tonic::codegen::http::uri::PathAndQuery::from_static("/tiepdan.v1.SyncService/Link");
        let inbound = grpc
            .streaming(
                tonic::Request::new(ReceiverStream::new(rx)),
                path,
                BytesCodec,
            )
            .await?
            .into_inner();
        Ok(ByteLink { tx, inbound })
    }
}

/// Asserts that `result` is a refusal with `code`.
pub fn assert_refused<T: std::fmt::Debug>(result: Result<T, Status>, code: Code, what: &str) {
    match result {
        Err(s) => assert_eq!(
            s.code(),
            code,
            "{what}: refused with {:?} ({}), expected {code:?}",
            s.code(),
            s.message()
        ),
        Ok(v) => panic!("{what}: accepted ({v:?}), expected {code:?}"),
    }
}
