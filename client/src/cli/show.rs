//! Printing results: one record as `field value` lines or a JSON object, a listing as a table
//! or a JSON array.

use std::io::Write;

use serde_json::Value;
use tiepdan_client::json;
use tiepdan_client::table::{Table, details};
use tiepdan_client::time::short;
use tiepdan_client::words::{Word, word_of};
use tiepdan_proto::v1 as pb;

use super::args::Output;

/// Writes to standard output. A reader that went away (`tiepdan … | head`) ends the
/// program quietly instead of with a panic.
pub fn out(text: &str) {
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write the output: {e}");
        std::process::exit(1);
    }
}

/// Prints one document.
pub fn one(format: Output, value: &Value) {
    match format {
        Output::Table => out(&details(value)),
        Output::Json => out(&format!("{}\n", pretty(value))),
    }
}

/// Prints a listing: `rows` as a table, or the JSON documents as an array.
pub fn list<T>(
    format: Output,
    items: &[T],
    header: &[&str],
    row: impl Fn(&T) -> Vec<String>,
    to_json: impl Fn(&T) -> Value,
) {
    match format {
        Output::Table => {
            let mut table = Table::new(header);
            for item in items {
                table.row(row(item));
            }
            out(&table.render());
        }
        Output::Json => {
            let array = Value::Array(items.iter().map(to_json).collect());
            out(&format!("{}\n", pretty(&array)));
        }
    }
}

/// A JSON document, indented.
fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}

fn w<T: Word>(number: i32) -> String {
    word_of::<T>(number).unwrap_or_default()
}

fn yes(b: bool) -> String {
    if b { "yes".into() } else { String::new() }
}

fn due(d: Option<&pb::Deadline>) -> String {
    match d {
        Some(d) if d.overdue => format!("{} (+{}d)", d.due_date, d.days_overdue),
        Some(d) => d.due_date.clone(),
        None => String::new(),
    }
}

pub const UNIT: &[&str] = &["CODE", "NAME", "LEVEL", "PARENT", "REMOTE"];

pub const UNIT_VERSION: &[&str] = &[
    "CODE",
    "NAME",
    "LEVEL",
    "PARENT",
    "FROM",
    "UNTIL",
    "SUCCESSOR",
];

pub fn unit_version(v: &pb::UnitVersion) -> Vec<String> {
    let u = v.unit.clone().unwrap_or_default();
    vec![
        u.code,
        u.name,
        w::<pb::UnitLevel>(u.level),
        u.parent_code,
        v.valid_from.clone(),
        v.valid_until.clone(),
        v.successor_code.clone(),
    ]
}

pub fn unit(u: &pb::Unit) -> Vec<String> {
    vec![
        u.code.clone(),
        u.name.clone(),
        w::<pb::UnitLevel>(u.level),
        u.parent_code.clone(),
        yes(u.remote),
    ]
}

pub const VISIT: &[&str] = &[
    "ID", "TIME", "KIND", "RECEIVER", "PERSONS", "CROWD", "MATTER", "ACTION", "SUMMARY",
];

pub fn visit(v: &pb::Visit) -> Vec<String> {
    let receiver = if v.receiver_name.is_empty() {
        w::<pb::ReceiverRole>(v.receiver_role)
    } else {
        format!(
            "{} ({})",
            v.receiver_name,
            w::<pb::ReceiverRole>(v.receiver_role)
        )
    };
    vec![
        v.id.clone(),
        short(v.visit_time.as_ref()),
        w::<pb::ReceptionKind>(v.kind),
        receiver,
        v.persons.to_string(),
        yes(v.crowd_group),
        w::<pb::MatterKind>(v.matter),
        w::<pb::ReceptionAction>(v.action),
        v.summary.clone(),
    ]
}

pub const SCHEDULE: &[&str] = &["ID", "START", "END", "ROLE", "NAME", "LOCATION"];

pub fn schedule_entry(e: &pb::ScheduleEntry) -> Vec<String> {
    vec![
        e.id.clone(),
        short(e.start_time.as_ref()),
        short(e.end_time.as_ref()),
        w::<pb::ReceiverRole>(e.receiver_role),
        e.receiver_name.clone(),
        e.location.clone(),
    ]
}

pub const CONCLUSION: &[&str] = &["ID", "VISIT", "TIME", "STATUS", "ASSIGNEE", "TEXT"];

pub fn conclusion(c: &pb::Conclusion) -> Vec<String> {
    vec![
        c.id.clone(),
        c.visit_id.clone(),
        short(c.conclusion_time.as_ref()),
        w::<pb::ConclusionStatus>(c.status),
        c.assignee.clone(),
        c.text.clone(),
    ]
}

pub const PETITION: &[&str] = &[
    "ID", "RECEIVED", "CHANNEL", "TYPE", "FIELD", "STATUS", "DUE", "CASE", "SUMMARY",
];

pub fn petition(p: &pb::Petition) -> Vec<String> {
    vec![
        p.id.clone(),
        short(p.received_time.as_ref()),
        w::<pb::Channel>(p.channel),
        w::<pb::PetitionType>(p.r#type),
        w::<pb::Field>(p.field),
        w::<pb::PetitionStatus>(p.status),
        due(p.deadline.as_ref()),
        p.case_id.clone(),
        p.summary.clone(),
    ]
}

pub const CASE: &[&str] = &[
    "ID",
    "ACCEPTED",
    "TYPE",
    "FIELD",
    "STATUS",
    "DUE",
    "OUTCOME",
    "DECISION",
    "PETITIONS",
];

pub fn case(c: &pb::Case) -> Vec<String> {
    vec![
        c.id.clone(),
        short(c.accept_time.as_ref()),
        w::<pb::PetitionType>(c.r#type),
        w::<pb::Field>(c.field),
        w::<pb::CaseStatus>(c.status),
        due(c.deadline.as_ref()),
        w::<pb::CaseOutcome>(c.outcome),
        c.decision_number.clone(),
        c.petition_ids.join(", "),
    ]
}

pub const OVERDUE: &[&str] = &["KIND", "ID", "DUE", "DAYS", "STATUS", "TYPE", "SUMMARY"];

pub fn overdue_item(item: &pb::OverdueItem) -> Vec<String> {
    let days = item.days_overdue.to_string();
    match &item.item {
        Some(pb::overdue_item::Item::Petition(p)) => vec![
            "petition".into(),
            p.id.clone(),
            due(p.deadline.as_ref()),
            days,
            w::<pb::PetitionStatus>(p.status),
            w::<pb::PetitionType>(p.r#type),
            p.summary.clone(),
        ],
        Some(pb::overdue_item::Item::Case(c)) => vec![
            "case".into(),
            c.id.clone(),
            due(c.deadline.as_ref()),
            days,
            w::<pb::CaseStatus>(c.status),
            w::<pb::PetitionType>(c.r#type),
            c.petition_ids.join(", "),
        ],
        None => vec![String::new(), String::new(), String::new(), days],
    }
}

pub const DEADLINE_RULE: &[&str] = &["STEP", "DAYS", "WORKING DAYS", "DESCRIPTION"];

pub fn deadline_rule(r: &pb::DeadlineRule) -> Vec<String> {
    vec![
        r.step.clone(),
        r.days.to_string(),
        yes(r.working_days),
        r.description.clone(),
    ]
}

pub const JOURNAL: &[&str] = &["SEQ", "TIME", "ACTION", "KIND", "RECORD", "STATUS"];

pub fn journal_event(e: &pb::JournalEvent) -> Vec<String> {
    let doc = json::journal_event(e);
    let record = &doc["record"];
    let id = record
        .get("id")
        .or_else(|| record.get("code"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let status = record
        .get("status")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    vec![
        e.sequence.to_string(),
        short(e.event_time.as_ref()),
        e.action.clone(),
        doc["kind"].as_str().unwrap_or_default().to_string(),
        id,
        status,
    ]
}
