//! The commands of petitions and the cases they are accepted into: receive, classify, the
//! decisions, listings; resolution and enforcement.

use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use tiepdan_client::time::parse_cli_time;
use tiepdan_proto::v1 as pb;

use super::{Limit, Range, word};

/// How a petition is classified.
#[derive(Debug, Clone, Args)]
pub struct ClassifyArgs {
    /// Content type, judged by content, not title.
    #[arg(long = "type", value_parser = word::<pb::PetitionType>())]
    pub petition_type: Option<pb::PetitionType>,
    /// Field of the matter.
    #[arg(long, value_parser = word::<pb::Field>())]
    pub field: Option<pb::Field>,
    /// For a complaint: 1 (first) or 2 (second).
    #[arg(long, default_value_t = 0)]
    pub round: u32,
    /// Eligible for handling or not.
    #[arg(long, value_parser = word::<pb::Eligibility>())]
    pub eligibility: Option<pb::Eligibility>,
    /// Within this unit's jurisdiction or outside it.
    #[arg(long, value_parser = word::<pb::Jurisdiction>())]
    pub jurisdiction: Option<pb::Jurisdiction>,
    /// An anonymous denunciation that gives concrete evidence.
    #[arg(long)]
    pub evidence: bool,
}

impl ClassifyArgs {
    /// The classification, when any of it was given; the node reports what is missing.
    pub fn classification(&self) -> Option<pb::Classification> {
        let given = self.petition_type.is_some()
            || self.field.is_some()
            || self.eligibility.is_some()
            || self.jurisdiction.is_some()
            || self.round > 0
            || self.evidence;
        given.then(|| pb::Classification {
            r#type: self.petition_type.map_or(0, |v| v as i32),
            field: self.field.map_or(0, |v| v as i32),
            complaint_round: self.round,
            eligibility: self.eligibility.map_or(0, |v| v as i32),
            jurisdiction: self.jurisdiction.map_or(0, |v| v as i32),
            has_evidence: self.evidence,
        })
    }
}

#[derive(Debug, Subcommand)]
pub enum PetitionCommand {
    /// Receive a petition, optionally classifying it at once.
    Receive {
        /// When it was received.
        #[arg(long, value_parser = parse_cli_time, default_value = "now")]
        time: DateTime<Utc>,
        /// How it arrived.
        #[arg(long, value_parser = word::<pb::Channel>(), default_value = "in_person")]
        channel: pb::Channel,
        /// The matter.
        #[arg(long)]
        summary: String,
        /// Petitioner's full name; leave out for an anonymous petition.
        #[arg(long)]
        name: Option<String>,
        /// Petitioner's address.
        #[arg(long, default_value = "", requires = "name")]
        address: String,
        /// Petitioner's citizen identity number.
        #[arg(long, default_value = "", requires = "name")]
        id_number: String,
        /// Petitioner's phone.
        #[arg(long, default_value = "", requires = "name")]
        phone: String,
        /// Petitioner's email.
        #[arg(long, default_value = "", requires = "name")]
        email: String,
        /// Number of signers.
        #[arg(long, default_value_t = 0)]
        signers: u32,
        /// Visit at which it was handed in.
        #[arg(long, default_value = "")]
        visit: String,
        #[command(flatten)]
        classify: ClassifyArgs,
    },
    /// Classify a petition by content, eligibility and jurisdiction.
    Classify {
        /// The petition.
        id: String,
        /// When it was decided; now when left out.
        #[arg(long, value_parser = parse_cli_time)]
        time: Option<DateTime<Utc>>,
        #[command(flatten)]
        classify: ClassifyArgs,
    },
    /// Thụ lý: accept a petition into a new case, or into an open case.
    Accept {
        /// The petition.
        id: String,
        /// When it was accepted.
        #[arg(long, value_parser = parse_cli_time, default_value = "now")]
        time: DateTime<Utc>,
        /// Attach to this open case instead of opening a new one.
        #[arg(long = "case", conflicts_with = "complex")]
        case_id: Option<String>,
        /// Declare the new case complex (longer limit).
        #[arg(long)]
        complex: bool,
    },
    /// Hướng dẫn: guide the petitioner to the competent body.
    Guide {
        /// The petition.
        id: String,
        /// When it was decided; now when left out.
        #[arg(long, value_parser = parse_cli_time)]
        time: Option<DateTime<Utc>>,
        /// The competent body.
        #[arg(long = "to")]
        body: String,
        /// Note to the petitioner.
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Chuyển đơn: transfer to a unit of the tree or an outside body.
    Transfer {
        /// The petition.
        id: String,
        /// When it was decided; now when left out.
        #[arg(long, value_parser = parse_cli_time)]
        time: Option<DateTime<Utc>>,
        /// Code of a unit of the tree known to the node.
        #[arg(long, required_unless_present = "body", conflicts_with = "body")]
        unit: Option<String>,
        /// A body outside the tree (court, police, a ministry…).
        #[arg(long = "to")]
        body: Option<String>,
        /// Note.
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Đôn đốc: urge the lower body that is late.
    Urge {
        /// The petition.
        id: String,
        /// When it was decided; now when left out.
        #[arg(long, value_parser = parse_cli_time)]
        time: Option<DateTime<Utc>>,
        /// The body that is late.
        #[arg(long = "to")]
        body: String,
        /// Note.
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Return a petition to the petitioner.
    Return {
        /// The petition.
        id: String,
        /// When it was decided; now when left out.
        #[arg(long, value_parser = parse_cli_time)]
        time: Option<DateTime<Utc>>,
        /// Why.
        #[arg(long)]
        note: String,
    },
    /// Rút: record that the petitioner withdrew.
    Withdraw {
        /// The petition.
        id: String,
        /// When it was decided; now when left out.
        #[arg(long, value_parser = parse_cli_time)]
        time: Option<DateTime<Utc>>,
        /// Note.
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Lưu đơn: file without action.
    File {
        /// The petition.
        id: String,
        /// When it was decided; now when left out.
        #[arg(long, value_parser = parse_cli_time)]
        time: Option<DateTime<Utc>>,
        /// Why.
        #[arg(long, value_parser = word::<pb::FileReason>())]
        reason: pb::FileReason,
        /// Note; required when the reason is other.
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Show one petition with the petitioner's details (the node records the read).
    Get {
        /// The petition.
        id: String,
        /// Why the petitioner's details are read; kept in the node's audit trail.
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// List petitions, newest first.
    List {
        /// Only in this status.
        #[arg(long, value_parser = word::<pb::PetitionStatus>())]
        status: Option<pb::PetitionStatus>,
        /// Only of this type.
        #[arg(long = "type", value_parser = word::<pb::PetitionType>())]
        petition_type: Option<pb::PetitionType>,
        /// Only received at this unit.
        #[arg(long, default_value = "")]
        unit: String,
        #[command(flatten)]
        range: Range,
        /// Only those past their processing limit.
        #[arg(long)]
        overdue: bool,
        #[command(flatten)]
        limit: Limit,
    },
    /// List petitions and cases past their limit, most overdue first.
    Overdue {
        /// Judge at this time instead of now.
        #[arg(long, value_parser = parse_cli_time)]
        as_of: Option<DateTime<Utc>>,
        #[command(flatten)]
        limit: Limit,
    },
}

#[derive(Debug, Subcommand)]
pub enum CaseCommand {
    /// Show one case.
    Get {
        /// The case.
        id: String,
    },
    /// List cases, newest first.
    List {
        /// Only in this status.
        #[arg(long, value_parser = word::<pb::CaseStatus>())]
        status: Option<pb::CaseStatus>,
        /// Only of this type.
        #[arg(long = "type", value_parser = word::<pb::PetitionType>())]
        petition_type: Option<pb::PetitionType>,
        /// Only owned by this unit.
        #[arg(long, default_value = "")]
        owner: String,
        #[command(flatten)]
        range: Range,
        /// Only open cases past their limit.
        #[arg(long)]
        overdue: bool,
        #[command(flatten)]
        limit: Limit,
    },
    /// Extend a denunciation's limit, or declare a complaint complex.
    Extend {
        /// The case.
        id: String,
        /// Why.
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Record the decision that resolves a case.
    Resolve {
        /// The case.
        id: String,
        /// Outcome, e.g. complaint_partly_correct, denunciation_unfounded, withdrawn.
        #[arg(long, value_parser = word::<pb::CaseOutcome>())]
        outcome: pb::CaseOutcome,
        /// Decision number, e.g. 12/QĐ-UBND.
        #[arg(long, default_value = "")]
        decision_number: String,
        /// When the decision was issued.
        #[arg(long, value_parser = parse_cli_time, default_value = "now")]
        time: DateTime<Utc>,
        /// Money to recover, VND.
        #[arg(long, default_value_t = 0)]
        money: i64,
        /// Land to recover, m².
        #[arg(long, default_value_t = 0.0)]
        land: f64,
    },
    /// Record that the decision came into legal force.
    InForce {
        /// The case.
        id: String,
        /// When.
        #[arg(long, value_parser = parse_cli_time, default_value = "now")]
        time: DateTime<Utc>,
    },
    /// Record a step of enforcement.
    Enforce {
        /// The case.
        id: String,
        /// Money recovered by this step, VND.
        #[arg(long, default_value_t = 0)]
        money: i64,
        /// Land recovered by this step, m².
        #[arg(long, default_value_t = 0.0)]
        land: f64,
        /// Enforcement is now complete.
        #[arg(long)]
        completed: bool,
        /// When.
        #[arg(long, value_parser = parse_cli_time, default_value = "now")]
        time: DateTime<Utc>,
    },
}
