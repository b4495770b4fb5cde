//! The registry: the node's application service. Each operation validates what needs the
//! database, applies the domain lifecycle, stores the records and appends the journal event
//! in one write transaction, together with the request-log entry that makes a retry with the
//! same request id return the first answer and change nothing.

use std::sync::{Arc, RwLock};

use tokio::sync::watch;

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::DatabaseTransaction;
use serde::{Serialize, de::DeserializeOwned};
use tiepdan_proto::v1 as pb;

use crate::domain::DomainError;
use crate::domain::deadlines::{self, DeadlineTable};
use crate::domain::lifecycle::{self, CaseCommand, Destination, PetitionCommand};
use crate::domain::model::{
    CROWD_GROUP_MIN_PERSONS, Case, CaseStatus, Channel, Classification, Conclusion,
    ConclusionStatus, MatterKind, Petition, PetitionStatus, Petitioner, ReceiverRole,
    ReceptionAction, ReceptionKind, ScheduleEntry, Unit, Visit,
};
use crate::report::tally::{self, Delta};
use crate::report::tree::Tree;
use crate::storage::Store;
use crate::storage::entities::request_log;
use crate::storage::records::{self as repo, CaseFilter, PetitionFilter, to_us};
use crate::sync::journal;
use crate::wire;

/// Identifies a mutating request for idempotency: the client's id, the method, and a
/// fingerprint of the request's content.
#[derive(Debug, Clone)]
pub struct RequestKey {
    pub id: String,
    pub method: &'static str,
    pub fingerprint: Vec<u8>,
}

/// Input of `record_visit`.
#[derive(Debug, Clone)]
pub struct NewVisit {
    pub visit_time: DateTime<Utc>,
    pub kind: ReceptionKind,
    pub receiver_role: ReceiverRole,
    pub receiver_name: String,
    pub persons: u32,
    pub matter: MatterKind,
    pub action: ReceptionAction,
    pub summary: String,
    pub schedule_entry_id: Option<String>,
}

/// Input of `publish_schedule`.
#[derive(Debug, Clone)]
pub struct NewScheduleEntry {
    pub receiver_role: ReceiverRole,
    pub receiver_name: String,
    pub start_time: DateTime<Utc>,
    pub end_time: DateTime<Utc>,
    pub location: String,
}

/// Input of `record_conclusion`.
#[derive(Debug, Clone)]
pub struct NewConclusion {
    pub visit_id: String,
    pub text: String,
    pub assignee: String,
    pub conclusion_time: DateTime<Utc>,
}

/// Input of `receive_petition`.
#[derive(Debug, Clone)]
pub struct NewPetition {
    pub received_time: DateTime<Utc>,
    pub channel: Channel,
    pub summary: String,
    pub petitioner: Option<Petitioner>,
    pub signers: u32,
    pub visit_id: Option<String>,
    pub classification: Option<Classification>,
}

/// Where an accepted petition goes.
#[derive(Debug, Clone)]
pub enum AcceptTarget {
    /// A new case.
    NewCase { complex: bool },
    /// An open case of this unit.
    Existing(String),
}

/// One page of a listing.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// A petition or case past its limit.
#[derive(Debug, Clone)]
pub enum Overdue {
    Petition(Petition),
    Case(Case),
}

impl Overdue {
    fn key(&self) -> (NaiveDate, &str) {
        match self {
            Overdue::Petition(p) => (p.due_date, &p.id),
            Overdue::Case(c) => (c.due_date, &c.id),
        }
    }
}

/// The node's registry. Cheap to clone.
#[derive(Clone)]
pub struct Registry {
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
    /// (its visits missing from this node's subtree totals; `tiepdan-bench --quick` with 16
    /// communes: 2 of 38 runs, three at a time).
    pub(crate) reloading: tokio::sync::Mutex<()>,
    /// The newest events applied from the children, for the uplink.
    pub(crate) tail: std::sync::Mutex<crate::sync::tail::Tail>,
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

enum Begun<T> {
    Replay(T),
    Fresh(DatabaseTransaction),
}

impl Registry {
    /// Opens the registry of `unit` over `store`, recording the unit itself on first start.
    pub async fn open(
        store: Store,
        unit: Unit,
        deadlines: DeadlineTable,
    ) -> Result<Registry, DomainError> {
        let unit = save_identity(&store, unit, false).await?;
        let registry = Registry {
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
            }),
        };
        registry.reload_tree().await?;
        registry.ensure_sealing_key().await?;
        Ok(registry)
    }

    /// This node's unit.
    pub fn unit(&self) -> Unit {
        self.inner
            .unit
            .read()
            .map(|u| u.clone())
            .unwrap_or_else(|poisoned| poisoned.into_inner().clone())
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
        let tree = Arc::new(Tree::new(&self.code(), &units));
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

    /// The newest events applied from the children (`sync::tail`).
    pub fn tail(&self) -> std::sync::MutexGuard<'_, crate::sync::tail::Tail> {
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

    // ---- the idempotent write path ----

    async fn begin<T: DeserializeOwned>(&self, key: &RequestKey) -> Result<Begun<T>, DomainError> {
        // A retry is answered from the log without taking the write lock.
        if let Some(row) = repo::find_request(self.store().reader(), &key.id).await? {
            return replay(key, row).map(Begun::Replay);
        }
        let tx = self.store().begin_write().await?;
        if let Some(row) = repo::find_request(&tx, &key.id).await? {
            return replay(key, row).map(Begun::Replay);
        }
        Ok(Begun::Fresh(tx))
    }

    async fn finish<T: Serialize>(
        &self,
        tx: DatabaseTransaction,
        key: &RequestKey,
        value: &T,
        now: DateTime<Utc>,
        delta: Delta,
    ) -> Result<(), DomainError> {
        repo::flush_tally(&tx, delta).await?;
        let result = serde_json::to_string(value)
            .map_err(|e| DomainError::Storage(format!("cannot record the answer: {e}")))?;
        repo::insert_request(
            &tx,
            request_log::Model {
                request_id: key.id.clone(),
                method: key.method.to_string(),
                fingerprint: key.fingerprint.clone(),
                result,
                create_us: to_us(now),
            },
        )
        .await?;
        self.store().commit(tx).await?;
        self.notify_changed();
        Ok(())
    }

    pub(crate) async fn next_id(
        &self,
        tx: &DatabaseTransaction,
        prefix: &str,
    ) -> Result<String, DomainError> {
        let n = repo::next_counter(tx, prefix).await?;
        Ok(format!("{}-{prefix}{n}", self.code()))
    }

    pub(crate) async fn log(
        &self,
        tx: &DatabaseTransaction,
        at: DateTime<Utc>,
        action: &str,
        change: pb::journal_event::Change,
    ) -> Result<(), DomainError> {
        journal::append(tx, &self.code(), at, action, change).await?;
        Ok(())
    }

    pub(crate) async fn log_petition(
        &self,
        tx: &DatabaseTransaction,
        at: DateTime<Utc>,
        action: &str,
        p: &Petition,
    ) -> Result<(), DomainError> {
        let snapshot = wire::petition(p, self.deadlines(), None);
        self.log(
            tx,
            at,
            action,
            pb::journal_event::Change::PetitionChanged(snapshot),
        )
        .await
    }

    pub(crate) async fn log_case(
        &self,
        tx: &DatabaseTransaction,
        at: DateTime<Utc>,
        action: &str,
        c: &Case,
    ) -> Result<(), DomainError> {
        let snapshot = wire::case(c, self.deadlines(), self.remote(), None);
        self.log(
            tx,
            at,
            action,
            pb::journal_event::Change::CaseChanged(snapshot),
        )
        .await
    }

    // ---- units ----

    /// Registers (or updates) a unit below this node.
    pub async fn register_unit(&self, key: &RequestKey, unit: Unit) -> Result<Unit, DomainError> {
        let tx = match self.begin(key).await? {
            Begun::Replay(v) => return Ok(v),
            Begun::Fresh(tx) => tx,
        };
        if unit.code == self.code() {
            return Err(DomainError::invalid(
                "unit.code",
                "this is the node's own unit; it is configured, not registered",
            ));
        }
        let parent = unit.parent_code.clone().unwrap_or_default();
        let known = repo::all_units(&tx).await?;
        if !known.iter().any(|u| u.code == parent) {
            return Err(DomainError::invalid(
                "unit.parent_code",
                format!("parent unit {parent:?} is not known to this node"),
            ));
        }
        if in_subtree(&known, &parent, &unit.code) {
            return Err(DomainError::invalid(
                "unit.parent_code",
                "a unit cannot be placed below itself",
            ));
        }
        let now = now_us();
        repo::save_unit(&tx, &unit, false).await?;
        self.log(
            &tx,
            now,
            key.method,
            pb::journal_event::Change::UnitRegistered(wire::unit(&unit)),
        )
        .await?;
        self.finish(tx, key, &unit, now, Delta::default()).await?;
        self.reload_tree().await?;
        Ok(unit)
    }

    /// This node's subtree, its own unit first, each unit before its children.
    pub async fn subtree(&self) -> Result<Vec<Unit>, DomainError> {
        let all = repo::all_units(self.store().reader()).await?;
        let mut out = Vec::with_capacity(all.len());
        let mut stack = vec![self.code()];
        while let Some(code) = stack.pop() {
            if let Some(u) = all.iter().find(|u| u.code == code) {
                out.push(u.clone());
                let mut children: Vec<_> = all
                    .iter()
                    .filter(|c| c.parent_code.as_deref() == Some(code.as_str()))
                    .map(|c| c.code.clone())
                    .collect();
                children.sort_unstable_by(|a, b| b.cmp(a));
                stack.extend(children);
            }
        }
        Ok(out)
    }

    // ---- reception ----

    /// Records a reception visit.
    pub async fn record_visit(
        &self,
        key: &RequestKey,
        input: NewVisit,
    ) -> Result<Visit, DomainError> {
        if input.kind == ReceptionKind::Periodic && !input.receiver_role.is_head() {
            return Err(DomainError::invalid(
                "receiver_role",
                "a periodic reception is a head's scheduled session",
            ));
        }
        let tx = match self.begin(key).await? {
            Begun::Replay(v) => return Ok(v),
            Begun::Fresh(tx) => tx,
        };
        if let Some(id) = &input.schedule_entry_id
            && repo::find_schedule(&tx, id).await?.is_none()
        {
            return Err(DomainError::NotFound {
                kind: "schedule entry",
                id: id.clone(),
            });
        }
        let now = now_us();
        let visit = Visit {
            id: self.next_id(&tx, "V").await?,
            unit_code: self.code().to_string(),
            visit_time: input.visit_time,
            kind: input.kind,
            receiver_role: input.receiver_role,
            receiver_name: input.receiver_name,
            persons: input.persons,
            crowd_group: input.persons >= CROWD_GROUP_MIN_PERSONS,
            matter: input.matter,
            action: input.action,
            summary: input.summary,
            schedule_entry_id: input.schedule_entry_id,
            create_time: now,
        };
        repo::insert_visit(&tx, &visit).await?;
        self.log(
            &tx,
            now,
            key.method,
            pb::journal_event::Change::VisitRecorded(wire::visit(&visit)),
        )
        .await?;
        let mut delta = Delta::default();
        delta.record(&self.tree(), &[], &tally::visit(&visit));
        self.finish(tx, key, &visit, now, delta).await?;
        Ok(visit)
    }

    /// Publishes a head's reception day.
    pub async fn publish_schedule(
        &self,
        key: &RequestKey,
        input: NewScheduleEntry,
    ) -> Result<ScheduleEntry, DomainError> {
        if !input.receiver_role.is_head() {
            return Err(DomainError::invalid(
                "receiver_role",
                "the published schedule is of heads' sessions, not staff",
            ));
        }
        if input.end_time <= input.start_time
            || deadlines::local_date(input.end_time) != deadlines::local_date(input.start_time)
        {
            return Err(DomainError::invalid(
                "end_time",
                "a session ends after it starts, on the same local day",
            ));
        }
        let tx = match self.begin(key).await? {
            Begun::Replay(v) => return Ok(v),
            Begun::Fresh(tx) => tx,
        };
        let now = now_us();
        let entry = ScheduleEntry {
            id: self.next_id(&tx, "S").await?,
            unit_code: self.code().to_string(),
            receiver_role: input.receiver_role,
            receiver_name: input.receiver_name,
            start_time: input.start_time,
            end_time: input.end_time,
            location: input.location,
        };
        repo::insert_schedule(&tx, &entry).await?;
        self.log(
            &tx,
            now,
            key.method,
            pb::journal_event::Change::SchedulePublished(wire::schedule_entry(&entry)),
        )
        .await?;
        self.finish(tx, key, &entry, now, Delta::default()).await?;
        Ok(entry)
    }

    /// Records a head's conclusion after a session.
    pub async fn record_conclusion(
        &self,
        key: &RequestKey,
        input: NewConclusion,
    ) -> Result<Conclusion, DomainError> {
        let tx = match self.begin(key).await? {
            Begun::Replay(v) => return Ok(v),
            Begun::Fresh(tx) => tx,
        };
        let visit = repo::find_visit(&tx, &input.visit_id)
            .await?
            .ok_or_else(|| DomainError::NotFound {
                kind: "visit",
                id: input.visit_id.clone(),
            })?;
        if !visit.receiver_role.is_head() {
            return Err(DomainError::precondition(
                "NOT_A_HEAD_SESSION",
                format!(
                    "visit {} was received by staff; conclusions are a head's",
                    visit.id
                ),
            ));
        }
        if input.conclusion_time < visit.visit_time {
            return Err(DomainError::invalid(
                "conclusion_time",
                "a conclusion cannot precede the visit",
            ));
        }
        let now = now_us();
        let conclusion = Conclusion {
            id: self.next_id(&tx, "K").await?,
            unit_code: self.code().to_string(),
            visit_id: visit.id,
            text: input.text,
            assignee: input.assignee,
            conclusion_time: input.conclusion_time,
            status: ConclusionStatus::Pending,
            progress_note: String::new(),
            done_time: None,
        };
        repo::insert_conclusion(&tx, &conclusion).await?;
        self.log(
            &tx,
            now,
            key.method,
            pb::journal_event::Change::ConclusionChanged(wire::conclusion(&conclusion)),
        )
        .await?;
        self.finish(tx, key, &conclusion, now, Delta::default())
            .await?;
        Ok(conclusion)
    }

    /// Records progress on a conclusion. Done is final.
    pub async fn update_conclusion(
        &self,
        key: &RequestKey,
        conclusion_id: &str,
        status: ConclusionStatus,
        note: String,
        at: DateTime<Utc>,
    ) -> Result<Conclusion, DomainError> {
        if status == ConclusionStatus::Pending {
            return Err(DomainError::invalid(
                "status",
                "progress is in progress or done",
            ));
        }
        let tx = match self.begin(key).await? {
            Begun::Replay(v) => return Ok(v),
            Begun::Fresh(tx) => tx,
        };
        let mut c = repo::find_conclusion(&tx, conclusion_id)
            .await?
            .ok_or_else(|| DomainError::NotFound {
                kind: "conclusion",
                id: conclusion_id.to_string(),
            })?;
        if c.status == ConclusionStatus::Done {
            return Err(DomainError::Transition {
                kind: "conclusion",
                id: c.id,
                state: ConclusionStatus::Done.as_str(),
                action: "update",
            });
        }
        if at < c.conclusion_time {
            return Err(DomainError::invalid(
                "update_time",
                "progress cannot precede the conclusion",
            ));
        }
        c.status = status;
        c.progress_note = note;
        if status == ConclusionStatus::Done {
            c.done_time = Some(at);
        }
        let now = now_us();
        repo::update_conclusion(&tx, &c).await?;
        self.log(
            &tx,
            now,
            key.method,
            pb::journal_event::Change::ConclusionChanged(wire::conclusion(&c)),
        )
        .await?;
        self.finish(tx, key, &c, now, Delta::default()).await?;
        Ok(c)
    }

    // ---- petitions ----

    /// Receives a petition, optionally classified at receipt.
    pub async fn receive_petition(
        &self,
        key: &RequestKey,
        input: NewPetition,
    ) -> Result<Petition, DomainError> {
        let anonymous = input.petitioner.is_none();
        if let Some(c) = &input.classification {
            lifecycle::check_classification(anonymous, c, "classification.")?;
        }
        let tx = match self.begin(key).await? {
            Begun::Replay(v) => return Ok(v),
            Begun::Fresh(tx) => tx,
        };
        if let Some(id) = &input.visit_id
            && repo::find_visit(&tx, id).await?.is_none()
        {
            return Err(DomainError::NotFound {
                kind: "visit",
                id: id.clone(),
            });
        }
        let now = now_us();
        let (_, due_date) = self
            .deadlines()
            .petition_due(input.received_time, input.classification.as_ref());
        let petition = Petition {
            id: self.next_id(&tx, "P").await?,
            unit_code: self.code().to_string(),
            received_time: input.received_time,
            channel: input.channel,
            summary: input.summary,
            status: if input.classification.is_some() {
                PetitionStatus::Classified
            } else {
                PetitionStatus::Received
            },
            anonymous,
            signers: if anonymous { 0 } else { input.signers.max(1) },
            visit_id: input.visit_id,
            classification: input.classification,
            case_id: None,
            transferred_to_unit: None,
            outside_body: None,
            file_reason: None,
            note: String::new(),
            due_date,
            processed_time: None,
            version: 1,
            update_time: now,
            source_petition_id: None,
            source_unit: None,
            result: None,
        };
        repo::insert_petition(&tx, &petition).await?;
        if let Some(person) = &input.petitioner {
            repo::insert_petitioner(&tx, &petition.id, person).await?;
        }
        self.log_petition(&tx, now, key.method, &petition).await?;
        let mut delta = Delta::default();
        delta.record(&self.tree(), &[], &tally::petition(&petition));
        self.finish(tx, key, &petition, now, delta).await?;
        Ok(petition)
    }

    /// A petition this unit holds; copies of the subtree's petitions are read-only here.
    async fn load_petition(
        &self,
        tx: &DatabaseTransaction,
        id: &str,
    ) -> Result<Petition, DomainError> {
        let p = repo::find_petition(tx, id)
            .await?
            .ok_or_else(|| DomainError::NotFound {
                kind: "petition",
                id: id.to_string(),
            })?;
        if p.unit_code != self.code() {
            return Err(DomainError::precondition(
                "NOT_OWNER",
                format!(
                    "petition {} is held and handled by unit {}",
                    p.id, p.unit_code
                ),
            ));
        }
        Ok(p)
    }

    /// Applies a lifecycle command other than accept to a petition.
    pub async fn decide_petition(
        &self,
        key: &RequestKey,
        petition_id: &str,
        command: PetitionCommand,
        at: Option<DateTime<Utc>>,
    ) -> Result<Petition, DomainError> {
        let tx = match self.begin(key).await? {
            Begun::Replay(v) => return Ok(v),
            Begun::Fresh(tx) => tx,
        };
        let petition = self.load_petition(&tx, petition_id).await?;
        let transfer_to = match &command {
            PetitionCommand::Transfer {
                destination: Destination::Unit(code),
                note,
            } => Some((code.clone(), note.clone())),
            _ => None,
        };
        if let Some((code, _)) = &transfer_to {
            if *code == self.code() {
                return Err(DomainError::invalid(
                    "unit_code",
                    "a petition cannot be transferred to the unit that holds it",
                ));
            }
            // Units elsewhere in the tree are known from the parent's directory.
            if repo::find_unit(&tx, code).await?.is_none() {
                return Err(DomainError::NotFound {
                    kind: "unit",
                    id: code.clone(),
                });
            }
        }
        let now = now_us();
        let at = at.unwrap_or(now);
        if at < petition.received_time {
            return Err(DomainError::invalid(
                "decision_time",
                "a decision cannot precede the receipt of the petition",
            ));
        }
        let mut after = lifecycle::apply_petition(&petition, command, at)?;
        after.update_time = now;
        if after.status.is_pending() {
            after.due_date = self
                .deadlines()
                .petition_due(after.received_time, after.classification.as_ref())
                .1;
        }
        repo::update_petition(&tx, &after).await?;
        self.log_petition(&tx, now, key.method, &after).await?;
        if let Some((destination, note)) = transfer_to {
            let mut petitioner = repo::find_petitioner(&tx, &after.id)
                .await?
                .as_ref()
                .map(wire::petitioner);
            // Sealed to the destination, so no node on the way can read it. While its key is
            // not known here the envelope waits in this node's outbox, which holds the
            // details anyway, and is sealed when it leaves (`outbox`).
            let mut sealed_petitioner = Vec::new();
            if let Some(person) = &petitioner {
                match self.seal_for(&tx, &destination, person).await? {
                    Some(sealed) => {
                        sealed_petitioner = sealed;
                        petitioner = None;
                    }
                    None => tracing::info!(
                        destination = %destination,
                        "no sealing key known for the destination yet: the transfer waits here"
                    ),
                }
            }
            let content = pb::mail::Content::PetitionTransfer(pb::PetitionTransfer {
                petition: Some(wire::petition(&after, self.deadlines(), None)),
                petitioner,
                note,
                sealed_petitioner,
            });
            self.send_mail(&tx, &destination, now, content).await?;
        }
        let mut delta = Delta::default();
        delta.record(
            &self.tree(),
            &tally::petition(&petition),
            &tally::petition(&after),
        );
        self.finish(tx, key, &after, now, delta).await?;
        Ok(after)
    }

    /// Thụ lý: accepts a petition into a new case or an open case of this unit.
    pub async fn accept_petition(
        &self,
        key: &RequestKey,
        petition_id: &str,
        accept_time: DateTime<Utc>,
        target: AcceptTarget,
    ) -> Result<(Petition, Case), DomainError> {
        let tx = match self.begin(key).await? {
            Begun::Replay(v) => return Ok(v),
            Begun::Fresh(tx) => tx,
        };
        let petition = self.load_petition(&tx, petition_id).await?;
        if accept_time < petition.received_time {
            return Err(DomainError::invalid(
                "accept_time",
                "a petition cannot be accepted before it was received",
            ));
        }
        let now = now_us();
        let (case_before, case_id) = match &target {
            AcceptTarget::Existing(id) => {
                let case =
                    repo::find_case(&tx, id)
                        .await?
                        .ok_or_else(|| DomainError::NotFound {
                            kind: "case",
                            id: id.clone(),
                        })?;
                (Some(case), id.clone())
            }
            AcceptTarget::NewCase { .. } => (None, self.next_id(&tx, "C").await?),
        };
        let after = lifecycle::apply_petition(
            &petition,
            PetitionCommand::Accept {
                case_id: case_id.clone(),
            },
            accept_time,
        )?;
        let mut after = after;
        after.update_time = now;
        let classification = after.classification.ok_or_else(|| {
            DomainError::precondition("NOT_CLASSIFIED", "petition is not classified")
        })?;
        let case = match (case_before, target) {
            (Some(existing), _) => {
                if existing.owner_unit != self.code() {
                    return Err(DomainError::precondition(
                        "NOT_OWNER",
                        format!(
                            "case {} is owned by unit {}",
                            existing.id, existing.owner_unit
                        ),
                    ));
                }
                if existing.case_type != classification.petition_type {
                    return Err(DomainError::precondition(
                        "TYPE_MISMATCH",
                        format!(
                            "case {} is a {} case; the petition is a {}",
                            existing.id, existing.case_type, classification.petition_type
                        ),
                    ));
                }
                lifecycle::apply_case(
                    &existing,
                    CaseCommand::Attach {
                        petition_id: petition.id.clone(),
                    },
                    now,
                )?
            }
            (None, target) => {
                let complex = matches!(target, AcceptTarget::NewCase { complex: true });
                let mut case = Case {
                    id: case_id,
                    owner_unit: self.code().to_string(),
                    case_type: classification.petition_type,
                    field: classification.field,
                    complaint_round: classification.complaint_round,
                    complex,
                    extensions: 0,
                    status: CaseStatus::Open,
                    accept_time,
                    due_date: deadlines::local_date(accept_time),
                    petition_ids: vec![petition.id.clone()],
                    outcome: None,
                    decision_number: String::new(),
                    decision_time: None,
                    money_to_recover_vnd: 0,
                    land_to_recover_m2: 0.0,
                    effective_time: None,
                    money_recovered_vnd: 0,
                    land_recovered_m2: 0.0,
                    enforced_time: None,
                    version: 1,
                    update_time: now,
                };
                case.due_date = self.deadlines().case_due(&case, self.remote()).1;
                repo::insert_case(&tx, &case).await?;
                case
            }
        };
        let mut delta = Delta::default();
        let tree = self.tree();
        if case.version > 1 {
            let before = repo::find_case(&tx, &case.id).await?;
            repo::update_case(&tx, &case).await?;
            if let Some(before) = before {
                delta.record(&tree, &tally::case(&before), &tally::case(&case));
            }
        } else {
            delta.record(&tree, &[], &tally::case(&case));
        }
        repo::update_petition(&tx, &after).await?;
        delta.record(&tree, &tally::petition(&petition), &tally::petition(&after));
        self.log_petition(&tx, now, key.method, &after).await?;
        self.log_case(&tx, now, key.method, &case).await?;
        let answer = (after, case);
        self.finish(tx, key, &answer, now, delta).await?;
        Ok(answer)
    }

    // ---- cases ----

    /// Applies a lifecycle command to a case of this unit.
    pub async fn change_case(
        &self,
        key: &RequestKey,
        case_id: &str,
        command: CaseCommand,
    ) -> Result<Case, DomainError> {
        let tx = match self.begin(key).await? {
            Begun::Replay(v) => return Ok(v),
            Begun::Fresh(tx) => tx,
        };
        let case = repo::find_case(&tx, case_id)
            .await?
            .ok_or_else(|| DomainError::NotFound {
                kind: "case",
                id: case_id.to_string(),
            })?;
        if case.owner_unit != self.code() {
            return Err(DomainError::precondition(
                "NOT_OWNER",
                format!(
                    "case {} is owned and resolved by unit {}",
                    case.id, case.owner_unit
                ),
            ));
        }
        let now = now_us();
        let mut after = lifecycle::apply_case(&case, command, now)?;
        after.due_date = self.deadlines().case_due(&after, self.remote()).1;
        repo::update_case(&tx, &after).await?;
        self.log_case(&tx, now, key.method, &after).await?;
        if case.is_open() && !after.is_open() {
            self.send_results(&tx, &after, now).await?;
        }
        let mut delta = Delta::default();
        delta.record(&self.tree(), &tally::case(&case), &tally::case(&after));
        self.finish(tx, key, &after, now, delta).await?;
        Ok(after)
    }

    // ---- reads ----

    /// One petition with its petitioner's details.
    pub async fn petition(&self, id: &str) -> Result<(Petition, Option<Petitioner>), DomainError> {
        let db = self.store().reader();
        let p = repo::find_petition(db, id)
            .await?
            .ok_or_else(|| DomainError::NotFound {
                kind: "petition",
                id: id.to_string(),
            })?;
        let person = repo::find_petitioner(db, id).await?;
        Ok((p, person))
    }

    /// One case.
    pub async fn case(&self, id: &str) -> Result<Case, DomainError> {
        repo::find_case(self.store().reader(), id)
            .await?
            .ok_or_else(|| DomainError::NotFound {
                kind: "case",
                id: id.to_string(),
            })
    }

    /// A page of visits.
    pub async fn visits(
        &self,
        start: Option<DateTime<Utc>>,
        end: Option<DateTime<Utc>>,
        cursor: Option<&str>,
        limit: u64,
    ) -> Result<Page<Visit>, DomainError> {
        let after = cursor.map(decode_time_cursor).transpose()?;
        let mut items =
            repo::list_visits(self.store().reader(), start, end, after.as_ref(), limit + 1).await?;
        Ok(page(&mut items, limit, |v| {
            time_cursor(v.visit_time, &v.id)
        }))
    }

    /// A page of the schedule.
    pub async fn schedule(
        &self,
        start: Option<DateTime<Utc>>,
        end: Option<DateTime<Utc>>,
        cursor: Option<&str>,
        limit: u64,
    ) -> Result<Page<ScheduleEntry>, DomainError> {
        let after = cursor.map(decode_time_cursor).transpose()?;
        let mut items =
            repo::list_schedule(self.store().reader(), start, end, after.as_ref(), limit + 1)
                .await?;
        Ok(page(&mut items, limit, |e| {
            time_cursor(e.start_time, &e.id)
        }))
    }

    /// A page of conclusions.
    pub async fn conclusions(
        &self,
        status: Option<ConclusionStatus>,
        cursor: Option<&str>,
        limit: u64,
    ) -> Result<Page<Conclusion>, DomainError> {
        let after = cursor.map(decode_time_cursor).transpose()?;
        let mut items =
            repo::list_conclusions(self.store().reader(), status, after.as_ref(), limit + 1)
                .await?;
        Ok(page(&mut items, limit, |c| {
            time_cursor(c.conclusion_time, &c.id)
        }))
    }

    /// A page of petitions.
    pub async fn petitions(
        &self,
        filter: &PetitionFilter,
        cursor: Option<&str>,
        limit: u64,
    ) -> Result<Page<Petition>, DomainError> {
        let after = cursor.map(decode_time_cursor).transpose()?;
        let mut items =
            repo::list_petitions(self.store().reader(), filter, after.as_ref(), limit + 1).await?;
        Ok(page(&mut items, limit, |p| {
            time_cursor(p.received_time, &p.id)
        }))
    }

    /// A page of cases.
    pub async fn cases(
        &self,
        filter: &CaseFilter,
        cursor: Option<&str>,
        limit: u64,
    ) -> Result<Page<Case>, DomainError> {
        let after = cursor.map(decode_time_cursor).transpose()?;
        let mut items =
            repo::list_cases(self.store().reader(), filter, after.as_ref(), limit + 1).await?;
        Ok(page(&mut items, limit, |c| {
            time_cursor(c.accept_time, &c.id)
        }))
    }

    /// Petitions and cases past their limit at `now`, most overdue first (earliest due date),
    /// then by id.
    pub async fn overdue(
        &self,
        now: DateTime<Utc>,
        cursor: Option<&str>,
        limit: u64,
    ) -> Result<Page<Overdue>, DomainError> {
        let after = cursor.map(decode_date_cursor).transpose()?;
        let today = deadlines::local_date(now);
        let db = self.store().reader();
        let petitions = repo::overdue_petitions(db, today, after.as_ref(), limit + 1).await?;
        let cases = repo::overdue_cases(db, today, after.as_ref(), limit + 1).await?;
        let mut items: Vec<Overdue> = petitions
            .into_iter()
            .map(Overdue::Petition)
            .chain(cases.into_iter().map(Overdue::Case))
            .collect();
        items.sort_by(|a, b| a.key().cmp(&b.key()));
        items.truncate(usize::try_from(limit + 1).unwrap_or(usize::MAX));
        Ok(page(&mut items, limit, |o| {
            let (date, id) = o.key();
            format!("{}|{id}", date.format("%Y-%m-%d"))
        }))
    }

    /// Journal events of `origin` after `after`.
    pub async fn journal(
        &self,
        origin: &str,
        after: u64,
        limit: u64,
    ) -> Result<(Vec<pb::JournalEvent>, u64), DomainError> {
        let db = self.store().reader();
        let events = journal::read(db, origin, after, limit).await?;
        let last = journal::last_sequence(db, origin).await?;
        Ok((events, last))
    }
}

/// The current time at the precision the store keeps, so an answer and a later read agree.
/// Stores the node's own unit on its first start. Later starts must name the unit the
/// database holds, as it holds it (name, level, remote flag: deadlines depend on it), unless
/// `change` asks for a deliberate change, which is journaled. Returns the unit as stored.
pub async fn save_identity(store: &Store, unit: Unit, change: bool) -> Result<Unit, DomainError> {
    let mut unit = unit;
    let tx = store.begin_write().await?;
    let known = repo::find_self(&tx).await?;
    if unit.parent_code.is_none() {
        // The parent is learnt from the link; keep what an earlier run learnt.
        unit.parent_code = known.as_ref().and_then(|k| k.parent_code.clone());
    }
    if let Some(known) = &known {
        if known.code != unit.code {
            return Err(DomainError::precondition(
                "IDENTITY_MISMATCH",
                format!(
                    "this database belongs to unit {} ({}), not {} ({}); use the data \
                     directory of unit {}",
                    known.code, known.name, unit.code, unit.name, unit.code
                ),
            ));
        }
        if *known != unit && !change {
            return Err(DomainError::precondition(
                "IDENTITY_MISMATCH",
                format!(
                    "this database holds unit {} as {}; the configuration says {}; to change \
                     it, run `tiepdan-node set-identity` with the new values",
                    unit.code,
                    describe_identity(known),
                    describe_identity(&unit)
                ),
            ));
        }
    }
    if known.as_ref() != Some(&unit) {
        repo::save_unit(&tx, &unit, true).await?;
        journal::append(
            &tx,
            &unit.code,
            now_us(),
            "RegisterUnit",
            pb::journal_event::Change::UnitRegistered(wire::unit(&unit)),
        )
        .await?;
        if let Some(known) = &known {
            tracing::warn!(
                unit = %unit.code,
                before = %describe_identity(known),
                after = %describe_identity(&unit),
                "the node's identity changed"
            );
        }
    }
    store.commit(tx).await?;
    Ok(unit)
}

fn describe_identity(u: &Unit) -> String {
    format!(
        "name {:?}, level {}, {}",
        u.name,
        u.level.as_str(),
        if u.remote { "remote" } else { "not remote" }
    )
}

pub(crate) fn now_us() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}

fn replay<T: DeserializeOwned>(
    key: &RequestKey,
    row: request_log::Model,
) -> Result<T, DomainError> {
    if row.method != key.method || row.fingerprint != key.fingerprint {
        return Err(DomainError::RequestIdReused {
            request_id: key.id.clone(),
            method: row.method,
        });
    }
    serde_json::from_str(&row.result)
        .map_err(|e| DomainError::Storage(format!("recorded answer does not decode: {e}")))
}

fn in_subtree(units: &[Unit], code: &str, root: &str) -> bool {
    let mut current = Some(code.to_string());
    let mut seen = std::collections::HashSet::new();
    while let Some(c) = current {
        if c == root {
            return true;
        }
        if !seen.insert(c.clone()) {
            return true; // a cycle: treat as inside, refuse
        }
        current = units
            .iter()
            .find(|u| u.code == c)
            .and_then(|u| u.parent_code.clone());
    }
    false
}

fn page<T>(items: &mut Vec<T>, limit: u64, cursor: impl Fn(&T) -> String) -> Page<T> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let next_cursor = if items.len() > limit {
        items.truncate(limit);
        items.last().map(cursor)
    } else {
        None
    };
    Page {
        items: std::mem::take(items),
        next_cursor,
    }
}

fn time_cursor(t: DateTime<Utc>, id: &str) -> String {
    format!("{}|{id}", to_us(t))
}

fn bad_cursor() -> DomainError {
    DomainError::invalid("page_token", "not a page token of this listing")
}

fn decode_time_cursor(token: &str) -> Result<(i64, String), DomainError> {
    let (us, id) = token.split_once('|').ok_or_else(bad_cursor)?;
    let us = us.parse().map_err(|_| bad_cursor())?;
    Ok((us, id.to_string()))
}

fn decode_date_cursor(token: &str) -> Result<(NaiveDate, String), DomainError> {
    let (date, id) = token.split_once('|').ok_or_else(bad_cursor)?;
    let date = NaiveDate::parse_from_str(date, "%Y-%m-%d").map_err(|_| bad_cursor())?;
    Ok((date, id.to_string()))
}

impl Registry {
    /// Every unit this node knows, inside its subtree or not.
    pub async fn known_units(&self) -> Result<Vec<Unit>, DomainError> {
        repo::all_units(self.store().reader()).await
    }

    /// Records the parent this node's link found: the parent's unit and the units it knows
    /// outside this subtree; re-parents this node's unit (journaled, so every ancestor learns
    /// where this unit sits) when the parent changed.
    pub async fn adopt_parent(&self, parent: &Unit, directory: &[Unit]) -> Result<(), DomainError> {
        let me = self.unit();
        let tree = self.tree();
        // Only what is new or changed is written: a directory repeats units already held, and
        // a returning parent is usually the same one, so the write lock (which a busy node's
        // writers queue for) is taken only when something changed.
        let fresh: Vec<&Unit> = std::iter::once(parent)
            .chain(directory)
            .filter(|u| {
                u.code != me.code
                    && !tree.is_within(&u.code, &me.code)
                    && self.known_unit(&u.code).as_ref() != Some(*u)
            })
            .collect();
        let reparented = me.parent_code.as_deref() != Some(parent.code.as_str());
        if fresh.is_empty() && !reparented {
            return Ok(());
        }
        let tx = self.store().begin_write().await?;
        for u in fresh {
            repo::save_unit(&tx, u, false).await?;
        }
        if reparented {
            let mut moved = me.clone();
            moved.parent_code = Some(parent.code.clone());
            repo::save_unit(&tx, &moved, true).await?;
            self.log(
                &tx,
                now_us(),
                "AdoptParent",
                pb::journal_event::Change::UnitRegistered(wire::unit(&moved)),
            )
            .await?;
            match self.inner.unit.write() {
                Ok(mut u) => *u = moved,
                Err(poisoned) => *poisoned.into_inner() = moved,
            }
        }
        self.store().commit(tx).await?;
        self.reload_tree().await?;
        if reparented {
            self.notify_changed();
        }
        Ok(())
    }
}
