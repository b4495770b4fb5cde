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

mod petitions;
mod reception;

pub use petitions::{CaseCommand, PetitionCommand};
pub use reception::{ConclusionCommand, ScheduleCommand, UnitCommand, VisitCommand};

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
    /// Print a shell completion script, generated from this command line (e.g.
    /// `tiepdan completions bash > /etc/bash_completion.d/tiepdan`).
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write manual pages (troff) for `tiepdan` and each of its commands into a directory,
    /// generated from this command line.
    Man {
        /// The directory (made if missing).
        #[arg(long, default_value = "man")]
        out_dir: PathBuf,
    },
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
    /// CSV instead of a table (rows of the reception, petition and results forms; with
    /// `--form`, the form itself: UTF-8 with a BOM, `;`-separated, as Excel reads it).
    #[arg(long)]
    pub csv: bool,
    /// An official form of the circular in force at the period's end, one row per unit:
    /// 01/TCD, 02/XLD, 03/GQKN, 04/GQTC, 05/KQTH, 06/QLKNTC.
    #[arg(long)]
    pub form: Option<String>,
    /// With `--form`: write the form to this Excel file (.xlsx), as printed on paper.
    #[arg(long, requires = "form")]
    pub xlsx: Option<std::path::PathBuf>,
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

/// A listing by time: its range, then how many records.
#[derive(Debug, Clone, Copy, Args)]
pub struct DatedListing {
    #[command(flatten)]
    pub range: Range,
    #[command(flatten)]
    pub limit: Limit,
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
    use tiepdan_proto::v1 as pb;

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

        // Vietnamese names are words too, with or without diacritics.
        for vi in ["khiếu nại", "Khieu-nai"] {
            let cli = Cli::try_parse_from(["tiepdan", "petition", "list", "--type", vi])
                .unwrap_or_else(|e| panic!("{vi}: {e}"));
            let Command::Petition(PetitionCommand::List { petition_type, .. }) = cli.command else {
                panic!("parsed as {:?}", cli.command);
            };
            assert_eq!(petition_type, Some(pb::PetitionType::Complaint), "{vi}");
        }
        let err = Cli::try_parse_from(["tiepdan", "petition", "list", "--type", "đơn thư"])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("complaint (khiếu nại), denunciation (tố cáo)"),
            "{err}"
        );

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
