//! The command line: one subcommand per operation of the API, enum values as words, times in
//! local time (Asia/Ho_Chi_Minh).

use std::ffi::OsStr;
use std::marker::PhantomData;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use clap::builder::{PossibleValue, TypedValueParser};
use clap::error::ErrorKind;
use clap::{Args, Parser, Subcommand, ValueEnum};
use tiepdan_client::time::parse_cli_time;
use tiepdan_client::words::{self, Word};
use tiepdan_proto::v1 as pb;

/// `tiepdan`: citizen reception and petitions at a tiepdan node.
#[derive(Debug, Parser)]
#[command(name = "tiepdan", version, about, long_about = None)]
#[command(
    after_help = "Times are local (Asia/Ho_Chi_Minh): 2019-09-14 23:30, 2019-09-14, \
                        14/09/2019 or now."
)]
pub struct Cli {
    /// URL of the node.
    #[arg(
        long,
        global = true,
        env = "TIEPDAN_NODE",
        default_value = "http://127.0.0.1:50051"
    )]
    pub node: String,
    /// CA certificate (PEM) of the tree, for an https:// node.
    #[arg(long, global = true, env = "TIEPDAN_CA")]
    pub ca: Option<PathBuf>,
    /// Client certificate (PEM) signed by that CA, when the node asks for one.
    #[arg(long, global = true, env = "TIEPDAN_CERT", requires = "key")]
    pub cert: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    #[arg(long, global = true, env = "TIEPDAN_KEY", requires = "cert")]
    pub key: Option<PathBuf>,
    /// Operator token (`tiepdan-node token issue`), sent as `authorization: Bearer …` on
    /// every call.
    #[arg(long, global = true, env = "TIEPDAN_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Output: readable tables, or one JSON document for scripts.
    #[arg(long, global = true, value_enum, default_value_t = Output::Table)]
    pub format: Output,
    /// Idempotency key of a change. A fresh UUID when not given; give the same key again to
    /// retry a change safely.
    #[arg(long, global = true)]
    pub request_id: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Aligned columns for people.
    Table,
    /// One JSON document: enum values as words, times in RFC 3339 (+07:00).
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// This node's unit and the units below it.
    #[command(subcommand)]
    Unit(UnitCommand),
    /// Reception visits (lượt tiếp công dân).
    #[command(subcommand)]
    Visit(VisitCommand),
    /// Heads' published reception days (lịch tiếp công dân).
    #[command(subcommand)]
    Schedule(ScheduleCommand),
    /// Heads' conclusions after a session (thông báo kết luận).
    #[command(subcommand)]
    Conclusion(ConclusionCommand),
    /// Petitions (đơn): receive, classify, route.
    #[command(subcommand)]
    Petition(PetitionCommand),
    /// Cases (vụ việc): resolution and enforcement.
    #[command(subcommand)]
    Case(CaseCommand),
    /// The statutory deadline table the node computes with.
    Deadlines,
    /// The node's journal of changes.
    #[command(subcommand)]
    Journal(JournalCommand),
    /// Import a register file (JSON Lines or CSV); safe to repeat, resumable.
    Import(ImportArgs),
    /// The tier links: status of the link to the parent and of each child's.
    #[command(subcommand)]
    Sync(SyncCommand),
    /// A statistical report of a unit or its subtree for a period.
    Report(ReportArgs),
}

#[derive(Debug, Subcommand)]
pub enum SyncCommand {
    /// Connected or since when not, last event, events behind, mail waiting, per link.
    Status,
    /// Compare this node's journal with each connected child's (per origin and day: count,
    /// highest sequence, hash), pull what this node lacks, and print what differed. Exits 1
    /// when a difference remains.
    Verify(VerifyArgs),
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Children to verify (every child when none is given).
    #[arg(long = "child", value_name = "UNIT")]
    pub children: Vec<String>,
    /// Seconds to wait for missing events to arrive (at most 120).
    #[arg(long, default_value_t = 10)]
    pub wait: u32,
}

/// Language of report labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Lang {
    /// Tiếng Việt.
    Vi,
    /// English.
    En,
}

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// Unit to report on; the node's own when left out.
    #[arg(long, default_value = "")]
    pub unit: String,
    /// 2019-Q3, 2019-6M, 2019-9M, 2019, 2019-09, or 2019-06-15..2019-09-14.
    #[arg(long)]
    pub period: String,
    /// The unit alone instead of its whole subtree.
    #[arg(long)]
    pub unit_only: bool,
    /// Read named periods on the plain calendar instead of the statistical one.
    #[arg(long)]
    pub calendar: bool,
    /// Label language.
    #[arg(long, value_enum, default_value = "vi")]
    pub lang: Lang,
    /// CSV instead of a table (rows of the reception, petition and results forms).
    #[arg(long)]
    pub csv: bool,
}

/// How many records a listing shows.
#[derive(Debug, Clone, Copy, Args)]
pub struct Limit {
    /// Show at most this many records; 0 for all.
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
}

impl Limit {
    pub fn get(self) -> Option<usize> {
        (self.limit > 0).then_some(self.limit)
    }
}

/// A time range of a listing.
#[derive(Debug, Clone, Copy, Args)]
pub struct Range {
    /// Only from this time on.
    #[arg(long, value_parser = parse_cli_time)]
    pub from: Option<DateTime<Utc>>,
    /// Only before this time.
    #[arg(long, value_parser = parse_cli_time)]
    pub to: Option<DateTime<Utc>>,
}

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
    List {
        #[command(flatten)]
        range: Range,
        #[command(flatten)]
        limit: Limit,
    },
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
    List {
        #[command(flatten)]
        range: Range,
        #[command(flatten)]
        limit: Limit,
    },
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
    /// Show one petition with the petitioner's details.
    Get {
        /// The petition.
        id: String,
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

#[derive(Debug, Subcommand)]
pub enum JournalCommand {
    /// List journal events in sequence order.
    List {
        /// Origin unit; this node's own when left out.
        #[arg(long, default_value = "")]
        origin: String,
        /// Only events after this sequence number.
        #[arg(long, default_value_t = 0)]
        after: u64,
        #[command(flatten)]
        limit: Limit,
    },
}

/// Syntax of a register file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InputFormat {
    /// One JSON object per line.
    Jsonl,
    /// A header row of field names, one row per record.
    Csv,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The register file.
    pub file: PathBuf,
    /// Syntax of the file; by default from its extension (.jsonl, .csv). (`--format` is the
    /// output format of every command.)
    #[arg(long, value_enum)]
    pub input_format: Option<InputFormat>,
    /// State file of keys already imported; default FILE.import-state.json.
    #[arg(long, conflicts_with = "no_state")]
    pub state: Option<PathBuf>,
    /// Keep no state file (a repeated import then replays every record, adding nothing).
    #[arg(long)]
    pub no_state: bool,
    /// Register id, for a file without a register record.
    #[arg(long)]
    pub register: Option<String>,
    /// Stop after sending this many records (records already imported do not count).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Save the state after this many records.
    #[arg(long, default_value_t = 20)]
    pub checkpoint_every: usize,
}

/// A value parser of enum words that lists the words in help and errors.
#[derive(Clone)]
pub struct WordParser<T>(PhantomData<fn() -> T>);

/// The value parser of the enum `T`.
pub fn word<T>() -> WordParser<T> {
    WordParser(PhantomData)
}

impl<T: Word + Send + Sync> TypedValueParser for WordParser<T> {
    type Value = T;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<T, clap::Error> {
        let text = value
            .to_str()
            .ok_or_else(|| clap::Error::new(ErrorKind::InvalidUtf8).with_cmd(cmd))?;
        words::parse::<T>(text).map_err(|e| {
            let name = arg.map_or_else(String::new, |a| format!("--{} ", a.get_id()));
            clap::Error::raw(ErrorKind::InvalidValue, format!("{name}{e}\n")).with_cmd(cmd)
        })
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(
            words::all::<T>()
                .into_iter()
                .map(|(_, w)| PossibleValue::new(w)),
        ))
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn words_and_times_parse() {
        let cli = Cli::try_parse_from([
            "tiepdan",
            "--format",
            "json",
            "petition",
            "classify",
            "269-P1",
            "--type",
            "complaint",
            "--field",
            "land-housing",
            "--round",
            "1",
            "--eligibility",
            "eligible",
            "--jurisdiction",
            "within",
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(cli.format, Output::Json);
        let Command::Petition(PetitionCommand::Classify { id, classify, .. }) = cli.command else {
            panic!("parsed as {:?}", cli.command);
        };
        assert_eq!(id, "269-P1");
        let c = classify
            .classification()
            .unwrap_or_else(|| panic!("no classification"));
        assert_eq!(c.field, pb::Field::LandHousing as i32);

        let err = Cli::try_parse_from(["tiepdan", "petition", "list", "--type", "khiếu nại"])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("complaint, denunciation"), "{err}");

        let cli = Cli::try_parse_from([
            "tiepdan",
            "case",
            "in-force",
            "269-C1",
            "--time",
            "2019-09-14 23:30",
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        let Command::Case(CaseCommand::InForce { time, .. }) = cli.command else {
            panic!("parsed as {:?}", cli.command);
        };
        assert_eq!(time.to_rfc3339(), "2019-09-14T16:30:00+00:00");
    }
}
