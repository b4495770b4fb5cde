//! The commands of the reception desk's own records: the unit tree, visits, the heads'
//! reception days and their conclusions.

use chrono::{DateTime, Utc};
use clap::Subcommand;
use tiepdan_client::time::parse_cli_time;
use tiepdan_proto::v1 as pb;

use super::{DatedListing, Limit, word};

#[derive(Debug, Subcommand)]
pub enum UnitCommand {
    /// Show this node's unit.
    Show,
    /// List the units of this node's subtree.
    List(#[command(flatten)] Limit),
    /// Register a unit below this node.
    Register {
        /// Statistics-office code (2 to 5 digits).
        #[arg(long)]
        code: String,
        /// Official name, e.g. "Phường Ngô Quyền".
        #[arg(long)]
        name: String,
        /// Level.
        #[arg(long, value_parser = word::<pb::UnitLevel>())]
        level: pb::UnitLevel,
        /// Code of the parent unit.
        #[arg(long)]
        parent: String,
        /// A remote area (longer limits for complaints).
        #[arg(long)]
        remote: bool,
    },
    /// A unit's versions through every reorganisation, and the units it took over.
    History {
        /// The unit; the node's own when left out.
        #[arg(default_value = "")]
        code: String,
    },
    /// Issue a reorganisation described by a resolution file (TOML, see
    /// docs/reorganisation.md): the new and changed units with their predecessors.
    Reorganise {
        /// The resolution file.
        file: std::path::PathBuf,
    },
    /// The reorganisations this node knows.
    Reorganisations,
}

#[derive(Debug, Subcommand)]
pub enum VisitCommand {
    /// Record a reception visit.
    Record {
        /// When the visit happened.
        #[arg(long, value_parser = parse_cli_time, default_value = "now")]
        time: DateTime<Utc>,
        /// Kind of reception.
        #[arg(long, value_parser = word::<pb::ReceptionKind>(), default_value = "regular")]
        kind: pb::ReceptionKind,
        /// Who received.
        #[arg(long, value_parser = word::<pb::ReceiverRole>(), default_value = "staff")]
        receiver_role: pb::ReceiverRole,
        /// Name of the receiver.
        #[arg(long, default_value = "")]
        receiver_name: String,
        /// Persons who came (5 or more make a crowd group).
        #[arg(long, default_value_t = 1)]
        persons: u32,
        /// First-time or repeat matter.
        #[arg(long, value_parser = word::<pb::MatterKind>(), default_value = "first")]
        matter: pb::MatterKind,
        /// What was done.
        #[arg(long, value_parser = word::<pb::ReceptionAction>())]
        action: pb::ReceptionAction,
        /// The matter, without personal data.
        #[arg(long, default_value = "")]
        summary: String,
        /// Schedule entry of a head's periodic session.
        #[arg(long, default_value = "")]
        schedule_entry: String,
    },
    /// List visits, newest first.
    List(#[command(flatten)] DatedListing),
}

#[derive(Debug, Subcommand)]
pub enum ScheduleCommand {
    /// Publish a head's reception day.
    Publish {
        /// Role of the head.
        #[arg(long, value_parser = word::<pb::ReceiverRole>())]
        receiver_role: pb::ReceiverRole,
        /// Name of the head.
        #[arg(long)]
        receiver_name: String,
        /// Start of the session.
        #[arg(long, value_parser = parse_cli_time)]
        start: DateTime<Utc>,
        /// End of the session, the same day.
        #[arg(long, value_parser = parse_cli_time)]
        end: DateTime<Utc>,
        /// Where it is held.
        #[arg(long, default_value = "")]
        location: String,
    },
    /// List the schedule, soonest first.
    List(#[command(flatten)] DatedListing),
}

#[derive(Debug, Subcommand)]
pub enum ConclusionCommand {
    /// Record a head's conclusion after a session.
    Record {
        /// The visit, received by a head.
        #[arg(long)]
        visit: String,
        /// What must be done.
        #[arg(long)]
        text: String,
        /// Body responsible for it.
        #[arg(long, default_value = "")]
        assignee: String,
        /// When it was announced.
        #[arg(long, value_parser = parse_cli_time, default_value = "now")]
        time: DateTime<Utc>,
    },
    /// Record progress on a conclusion.
    Update {
        /// The conclusion.
        id: String,
        /// in_progress or done.
        #[arg(long, value_parser = word::<pb::ConclusionStatus>())]
        status: pb::ConclusionStatus,
        /// Progress note.
        #[arg(long, default_value = "")]
        note: String,
        /// When this progress happened.
        #[arg(long, value_parser = parse_cli_time, default_value = "now")]
        time: DateTime<Utc>,
    },
    /// List conclusions, oldest first.
    List {
        /// Only in this status.
        #[arg(long, value_parser = word::<pb::ConclusionStatus>())]
        status: Option<pb::ConclusionStatus>,
        #[command(flatten)]
        limit: Limit,
    },
}
