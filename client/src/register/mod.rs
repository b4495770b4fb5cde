//! Registers: the books an office keeps of its visits, petitions and cases, as files that
//! [`import`] loads into a node. A register is a sequence of records, each with a key unique
//! in the file; records refer to earlier records by key, never to the node's ids, which the
//! import learns from the node's answers. The format is documented in
//! `docs/register-format.md`.

mod fields;
pub mod import;
mod links;
mod read;
mod records;
pub mod state;

use chrono::{DateTime, Utc};
use tiepdan_proto::v1 as pb;

pub use import::{Failure, ImportError, ImportOptions, ImportReport, import, request_id};
pub use read::{Format, RegisterError, parse_str, read_file};

/// Every field name a record may have, as CSV columns name them.
pub const FIELDS: &[&str] = &[
    "type",
    "key",
    // register
    "unit",
    "title",
    // visit
    "visit_time",
    "kind",
    "receiver_role",
    "receiver_name",
    "persons",
    "matter",
    "action",
    "summary",
    // petition
    "received_time",
    "channel",
    "visit",
    "signers",
    "petitioner.full_name",
    "petitioner.address",
    "petitioner.id_number",
    "petitioner.phone",
    "petitioner.email",
    "classification.type",
    "classification.field",
    "classification.complaint_round",
    "classification.eligibility",
    "classification.jurisdiction",
    "classification.has_evidence",
    "decision.action",
    "decision.time",
    "decision.complex",
    "decision.join",
    "decision.unit",
    "decision.outside_body",
    "decision.reason",
    "decision.note",
    // resolution
    "petition",
    "outcome",
    "decision_number",
    "decision_time",
    "money_to_recover_vnd",
    "land_to_recover_m2",
    "effective_time",
    "enforcement.time",
    "enforcement.money_recovered_vnd",
    "enforcement.land_recovered_m2",
    "enforcement.completed",
];

/// A register read from a file, its records checked on their own and against each other.
#[derive(Debug, Clone, Default)]
pub struct Register {
    /// The register's identity: with a record's key it names every request of the import,
    /// so the same register imported twice adds nothing.
    pub id: Option<String>,
    /// Code of the unit whose book this is; the import refuses a node of another unit.
    pub unit: Option<String>,
    /// Title, for people.
    pub title: Option<String>,
    /// Records ready to import, in file order.
    pub entries: Vec<Entry>,
    /// Records refused before import.
    pub problems: Vec<Problem>,
}

impl Register {
    /// Number of records in the file, refused ones included, the register record not.
    pub fn len(&self) -> usize {
        self.entries.len() + self.problems.len()
    }

    /// Whether the file has no records.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A record refused before import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Line in the file (1-based).
    pub line: usize,
    /// The record's key, when it has one.
    pub key: Option<String>,
    /// What is wrong, field by field.
    pub message: String,
}

/// One record of the register.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Line in the file (1-based).
    pub line: usize,
    /// Key, unique in the file.
    pub key: String,
    /// The record.
    pub record: Record,
}

/// What a record says happened.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// A reception visit.
    Visit(Visit),
    /// A petition, received and perhaps classified and decided.
    Petition(Petition),
    /// The resolution of the case a petition was accepted into.
    Resolution(Resolution),
}

/// A reception visit (lượt tiếp).
#[derive(Debug, Clone, PartialEq)]
pub struct Visit {
    pub visit_time: DateTime<Utc>,
    pub kind: pb::ReceptionKind,
    pub receiver_role: pb::ReceiverRole,
    pub receiver_name: String,
    pub persons: u32,
    pub matter: pb::MatterKind,
    pub action: pb::ReceptionAction,
    pub summary: String,
}

/// A petition (đơn).
#[derive(Debug, Clone, PartialEq)]
pub struct Petition {
    pub received_time: DateTime<Utc>,
    pub channel: pb::Channel,
    pub summary: String,
    /// Key of the visit it was handed in at.
    pub visit: Option<String>,
    pub signers: u32,
    /// Absent for an anonymous petition.
    pub petitioner: Option<pb::Petitioner>,
    pub classification: Option<pb::Classification>,
    pub decision: Option<Decision>,
}

/// What was decided on a petition, and when.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// When it was decided: required to accept; for the others the node's clock when left
    /// out.
    pub time: Option<DateTime<Utc>>,
    /// The decision.
    pub action: Action,
}

/// The decisions on a petition.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Thụ lý into a new case, or into the case of another record.
    Accept { target: AcceptTarget },
    /// Hướng dẫn.
    Guide { outside_body: String, note: String },
    /// Chuyển đơn.
    Transfer {
        destination: Destination,
        note: String,
    },
    /// Đôn đốc.
    Urge { outside_body: String, note: String },
    /// Returned to the petitioner.
    Return { note: String },
    /// Rút.
    Withdraw { note: String },
    /// Lưu đơn.
    File {
        reason: pb::FileReason,
        note: String,
    },
}

/// Which case an accepted petition goes into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcceptTarget {
    /// A new case.
    NewCase { complex: bool },
    /// The case of the petition record with this key.
    Join(String),
}

/// Where a petition is transferred.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// A unit of the tree known to the node.
    Unit(String),
    /// A body outside the tree.
    Outside(String),
}

/// The resolution of a case (giải quyết), and what followed.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolution {
    /// Key of a petition record accepted into the case.
    pub petition: String,
    pub outcome: pb::CaseOutcome,
    pub decision_number: String,
    pub decision_time: DateTime<Utc>,
    pub money_to_recover_vnd: i64,
    pub land_to_recover_m2: f64,
    /// When the decision came into force, if it has.
    pub effective_time: Option<DateTime<Utc>>,
    /// Enforcement, once in force.
    pub enforcement: Option<Enforcement>,
}

/// A step of enforcement (thi hành).
#[derive(Debug, Clone, PartialEq)]
pub struct Enforcement {
    pub time: DateTime<Utc>,
    pub money_recovered_vnd: i64,
    pub land_recovered_m2: f64,
    pub completed: bool,
}
