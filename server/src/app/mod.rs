//! The application: the node's state (its unit, the known tree and units, the channels that
//! wake the links) and its use cases, one file each, over the store. Each operation
//! validates what needs the database, applies the domain lifecycle, stores the records and
//! appends the journal event in one write transaction (`write`).

pub mod apply;
mod audit;
mod cases;
mod check;
pub mod children;
mod counts;
pub mod links;
pub mod mail;
mod map;
mod petitions;
mod reads;
mod reception;
pub mod recover;
mod seal;
pub mod tail;
mod units;
mod write;

pub use audit::Reader;
pub use counts::OverdueCount;
pub use petitions::{AcceptTarget, NewPetition};
pub use reads::{Overdue, Page};
pub use reception::{NewConclusion, NewScheduleEntry, NewVisit};
pub use units::save_identity;
pub use write::RequestKey;

/// A recorded read of a petitioner's personal details.
pub use crate::storage::audit::Access as PersonalDataAccess;

use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use tokio::sync::watch;

use crate::domain::DomainError;
use crate::domain::deadlines::DeadlineTable;
use crate::domain::model::Unit;
use crate::domain::tree::Tree;
use crate::storage::Store;
use crate::storage::records as repo;

/// The node's application: its state and use cases. Cheap to clone.
#[derive(Clone)]
pub struct App {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) store: Store,
    pub(crate) unit: RwLock<Unit>,
    pub(crate) deadlines: DeadlineTable,
    /// The known tree, reloaded whenever a unit is registered.
    pub(crate) tree: RwLock<Arc<Tree>>,
    /// Bumped after every commit that grew the journal or the outbox.
    pub(crate) changed: watch::Sender<u64>,
    /// Bumped when the outbox grew or the known units changed: what the sessions of the
    /// children wait for. A journal that grows does not concern them, and with many children, waking every session for
    /// every applied batch costs more than the batches.
    pub(crate) downlink: watch::Sender<u64>,
    /// Bumped with `downlink` when the outbox may have grown (not when units changed): a
    /// session reads the outbox only when this moved.
    pub(crate) mail: std::sync::atomic::AtomicU64,
    /// The known units, each with the version at which it last changed, kept in step with
    /// the tree.
    pub(crate) directory: RwLock<Directory>,
    /// Held while the tree is reloaded. Two reloads running at once could finish in the other
    /// order: the one that read the units before another session's commit stored its tree
    /// last, and the unit that commit placed was lost from the tree until the next reload.
    /// A child registered meanwhile had its first batch counted as if it lay below no one
    /// (its visits missing from this node's subtree totals).
    pub(crate) reloading: tokio::sync::Mutex<()>,
    /// The newest events applied from the children, for the uplink.
    pub(crate) tail: std::sync::Mutex<crate::app::tail::Tail>,
    /// What this node knows of its links (`links`).
    pub(crate) links: Arc<links::SyncStatus>,
    /// The database waits to take back from the parent the events it lost (`recover`):
    /// nothing new is written to the journal meanwhile.
    pub(crate) recovering: std::sync::atomic::AtomicBool,
    /// The report forms this node fills (built in, or corrected by `--forms-dir`).
    pub(crate) forms: RwLock<Arc<crate::domain::forms::FormSet>>,
}

/// The known units in memory, versioned, so a child's session sends it only the units that
/// changed since its last directory, and the uplink finds a unit without a query.
#[derive(Debug, Default)]
pub(crate) struct Directory {
    version: u64,
    units: std::collections::HashMap<String, (u64, Unit)>,
    by_version: std::collections::BTreeMap<u64, String>,
}

impl Directory {
    /// Takes the units as stored; returns whether any was new or changed.
    fn update(&mut self, units: &[Unit]) -> bool {
        let mut changed = false;
        for u in units {
            if self.units.get(&u.code).is_some_and(|(_, known)| known == u) {
                continue;
            }
            self.version += 1;
            if let Some((old, _)) = self.units.insert(u.code.clone(), (self.version, u.clone())) {
                self.by_version.remove(&old);
            }
            self.by_version.insert(self.version, u.code.clone());
            changed = true;
        }
        changed
    }

    /// Marks known units to be sent again; returns whether any was known.
    fn touch(&mut self, codes: &[String]) -> bool {
        let mut changed = false;
        for code in codes {
            if let Some((old, _)) = self.units.get(code).cloned() {
                self.version += 1;
                self.by_version.remove(&old);
                self.by_version.insert(self.version, code.clone());
                if let Some(entry) = self.units.get_mut(code) {
                    entry.0 = self.version;
                }
                changed = true;
            }
        }
        changed
    }
}

impl App {
    /// Opens the application of `unit` over `store`, recording the unit itself on first start.
    pub async fn open(
        store: Store,
        unit: Unit,
        deadlines: DeadlineTable,
    ) -> Result<App, DomainError> {
        let marked = crate::storage::recovery::load(store.reader())
            .await?
            .is_some_and(|r| r.finish.is_none());
        let unit = save_identity(&store, unit, false).await?;
        let app = App {
            inner: Arc::new(Inner {
                store,
                unit: RwLock::new(unit.clone()),
                deadlines,
                tree: RwLock::new(Arc::new(Tree::default())),
                changed: watch::channel(0).0,
                downlink: watch::channel(0).0,
                mail: std::sync::atomic::AtomicU64::new(0),
                directory: RwLock::new(Directory::default()),
                reloading: tokio::sync::Mutex::new(()),
                tail: std::sync::Mutex::default(),
                links: Arc::default(),
                recovering: std::sync::atomic::AtomicBool::new(marked),
                forms: RwLock::new(Arc::new(crate::domain::forms::FormSet::with(&[]).map_err(
                    |e| DomainError::Storage(format!("a built-in form is malformed: {e}")),
                )?)),
            }),
        };
        app.reload_tree().await?;
        app.rebuild_overdue_if_asked().await?;
        app.ensure_sealing_key().await?;
        Ok(app)
    }

    /// This node's unit.
    pub fn unit(&self) -> Unit {
        self.inner
            .unit
            .read()
            .map(|u| u.clone())
            .unwrap_or_else(|poisoned| poisoned.into_inner().clone())
    }

    /// The report forms this node fills.
    pub fn forms(&self) -> Arc<crate::domain::forms::FormSet> {
        self.inner
            .forms
            .read()
            .map(|f| f.clone())
            .unwrap_or_else(|poisoned| poisoned.into_inner().clone())
    }

    /// Replaces the report forms (definitions read from `--forms-dir`).
    pub fn set_forms(&self, forms: crate::domain::forms::FormSet) {
        match self.inner.forms.write() {
            Ok(mut f) => *f = Arc::new(forms),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(forms),
        }
    }

    /// The known tree (shared: reloading replaces it, readers keep the one they took).
    pub fn tree(&self) -> Arc<Tree> {
        self.inner
            .tree
            .read()
            .map(|t| t.clone())
            .unwrap_or_else(|poisoned| poisoned.into_inner().clone())
    }

    /// Reloads the known tree from the store.
    pub async fn reload_tree(&self) -> Result<(), DomainError> {
        // One at a time, each reading the units once its turn has come: the tree stored last
        // holds every unit committed before the last reload began.
        let _turn = self.inner.reloading.lock().await;
        let units = repo::all_units(self.store().reader()).await?;
        let history = crate::domain::map::History::new(
            crate::storage::map::versions(self.store().reader()).await?,
        );
        let tree = Arc::new(Tree::with_history(&self.code(), &units, Arc::new(history)));
        // The known units first, then the tree: every unit of a tree a reader takes is known
        // (units are never removed), so a report finds each one it names.
        let changed = match self.inner.directory.write() {
            Ok(mut d) => d.update(&units),
            Err(poisoned) => poisoned.into_inner().update(&units),
        };
        match self.inner.tree.write() {
            Ok(mut t) => *t = tree,
            Err(poisoned) => *poisoned.into_inner() = tree,
        }
        // The children's sessions send the new units at once: a child may address a transfer
        // to a sibling as soon as both are synced. Each wakes for an in-memory look-up and a
        // directory of the new units only.
        if changed {
            self.notify_downlink();
        }
        Ok(())
    }

    /// Sends `codes` to the children again (their sealing keys became known).
    pub(crate) fn resend_units(&self, codes: &[String]) {
        let changed = match self.inner.directory.write() {
            Ok(mut d) => d.touch(codes),
            Err(poisoned) => poisoned.into_inner().touch(codes),
        };
        if changed {
            self.notify_downlink();
        }
    }

    /// The version of the known units: it grows whenever a unit is added or changed.
    pub fn directory_version(&self) -> u64 {
        match self.inner.directory.read() {
            Ok(d) => d.version,
            Err(poisoned) => poisoned.into_inner().version,
        }
    }

    /// The units added or changed after `version` that lie outside `child`'s subtree, and
    /// the version they bring a child's directory to.
    pub fn directory_since(&self, version: u64, child: &str) -> (u64, Vec<Unit>) {
        let tree = match self.inner.tree.read() {
            Ok(t) => t,
            Err(poisoned) => poisoned.into_inner(),
        };
        let directory = match self.inner.directory.read() {
            Ok(d) => d,
            Err(poisoned) => poisoned.into_inner(),
        };
        let units = directory
            .by_version
            .range(version.saturating_add(1)..)
            .filter_map(|(_, code)| directory.units.get(code))
            .map(|(_, u)| u)
            .filter(|u| !tree.is_within(&u.code, child))
            .cloned()
            .collect();
        (directory.version, units)
    }

    /// A known unit, without a query.
    pub fn known_unit(&self, code: &str) -> Option<Unit> {
        let directory = match self.inner.directory.read() {
            Ok(d) => d,
            Err(poisoned) => poisoned.into_inner(),
        };
        directory.units.get(code).map(|(_, u)| u.clone())
    }

    /// A receiver that sees every commit growing the outbox and every change of the known
    /// units (not the journal's growth).
    pub fn subscribe_downlink(&self) -> watch::Receiver<u64> {
        self.inner.downlink.subscribe()
    }

    fn notify_downlink(&self) {
        self.inner.downlink.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Tells subscribers the journal grew (a child's batch was applied; the outbox did not
    /// change).
    pub fn notify_journal(&self) {
        self.inner.changed.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// The newest events applied from the children ([`tail`]).
    pub fn tail(&self) -> std::sync::MutexGuard<'_, crate::app::tail::Tail> {
        match self.inner.tail.lock() {
            Ok(t) => t,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// A receiver that sees every commit growing the journal or the outbox; a change made
    /// between two waits is never missed.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.changed.subscribe()
    }

    /// Tells subscribers the journal or the outbox grew.
    pub fn notify_changed(&self) {
        self.inner.changed.send_modify(|n| *n = n.wrapping_add(1));
        self.inner
            .mail
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        self.notify_downlink();
    }

    /// A number that moves whenever the outbox may have grown: with every local commit
    /// (`notify_changed`), which is also when this node's own journal may have grown (the
    /// uplink reads the store again when it moved).
    pub fn mail_generation(&self) -> u64 {
        self.inner.mail.load(std::sync::atomic::Ordering::Acquire)
    }

    /// What this node knows of its links: each child's and the parent's.
    pub fn links(&self) -> &Arc<links::SyncStatus> {
        &self.inner.links
    }

    /// The deadline table in force.
    pub fn deadlines(&self) -> &DeadlineTable {
        &self.inner.deadlines
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub(crate) fn code(&self) -> String {
        self.unit().code
    }

    /// Whether the unit owning a case lies in a remote area.
    pub fn remote(&self) -> bool {
        self.unit().remote
    }
}

/// The current time at the precision the store keeps, so an answer and a later read agree.
pub(crate) fn now_us() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}
