//! A whole tree of real nodes on `127.0.0.1`, each with its own database, every child linked
//! to its parent through a TCP proxy the test controls.

use super::*;

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

pub const fn spec(
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

    /// The database of `code`'s node while it is down.
    pub fn db(&self, code: &str) -> &TestDb {
        self.member(code)
            .db
            .as_ref()
            .unwrap_or_else(|| panic!("{code} is running"))
    }

    /// Gives `code`'s stopped node another database (a disk replaced), returning the old one.
    pub fn replace_db(&mut self, code: &str, db: TestDb) -> TestDb {
        let m = self.member_mut(code);
        m.db.replace(db)
            .unwrap_or_else(|| panic!("{code} is running"))
    }

    /// Restarts the node of `code` on its database, on the same address and with the same
    /// parent link, so its children's proxies reach it again.
    pub async fn restart(&mut self, code: &str) {
        let options = self.options;
        let m = self.member_mut(code);
        let db = m.db.take().unwrap_or_else(|| panic!("{code} is running"));
        let addr = m.addr;
        let listener = wait_for(
            &format!("{code} listening again on {addr}"),
            || async move { TcpListener::bind(addr).await.map_err(|e| e.to_string()) },
        )
        .await;
        let parent_url = m.proxy.as_ref().map(Proxy::url);
        let node = start_node(db, &m.spec, parent_url, &options, listener).await;
        m.channel = Some(node.channel().await);
        m.node = Some(node);
    }

    /// Points the stopped node of `code` at another parent (through a new proxy, given in
    /// `mode`), as an operator changes `--parent`; `restart` starts it there.
    pub async fn repoint(&mut self, code: &str, parent: &'static str, mode: Mode) {
        let addr = self.member(parent).addr;
        let proxy = Proxy::start(addr).await.unwrap();
        proxy.set(mode);
        let m = self.member_mut(code);
        assert!(m.node.is_none(), "{code} is running");
        m.spec.parent = Some(parent);
        m.proxy = Some(proxy);
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
