//! `tiepdan sync status` and `tiepdan report`: the tier links and the statistical report, as
//! tables with Vietnamese (or English) labels, JSON, or CSV in the forms' row order.

use serde_json::{Value, json};
use tiepdan_client::{Client, Error, json};
use tiepdan_proto::v1 as pb;

use super::args::{Lang, Output, ReportArgs, VerifyArgs};
use super::indicators::{lines, type_name};
use super::show::{one, out};

fn time(ts: &Option<prost_types::Timestamp>) -> String {
    ts.as_ref()
        .and_then(|t| chrono::DateTime::from_timestamp(t.seconds, 0))
        .map(|t| {
            t.with_timezone(&chrono_tz::Asia::Ho_Chi_Minh)
                .format("%Y-%m-%d %H:%M:%S")
                .to_string()
        })
        .unwrap_or_else(|| "-".into())
}

fn link(l: &pb::LinkStatus) -> Value {
    json!({
        "unit": l.unit_code,
        "connected": l.connected,
        "since": time(&l.since_time),
        "last_event": time(&l.last_event_time),
        "events_applied": l.events_applied,
        "events_behind": l.events_behind,
        "mail_pending": l.mail_pending,
        "tampered": l.tampered,
        "refused": l.refused,
        "failed_attempts": l.failed_attempts,
        "next_attempt": time(&l.next_attempt_time),
        "last_error_code": l.last_error_code,
        "last_error": l.last_error,
    })
}

/// Prints the node's link status.
pub async fn sync_status(client: &Client, format: Output) -> Result<(), Error> {
    let status = pb::sync_service_client::SyncServiceClient::new(client.channel())
        .get_sync_status(pb::GetSyncStatusRequest {})
        .await?
        .into_inner();
    if format == Output::Json {
        let doc = json!({
            "unit": status.unit_code,
            "parent": status.parent.as_ref().map(link),
            "children": status.children.iter().map(link).collect::<Vec<_>>(),
            "recovery": status.recovery.as_ref().map(|r| json!({
                "recovering": r.recovering,
                "reason": r.reason,
                "start": time(&r.start_time),
                "finish": time(&r.finish_time),
                "events_recovered": r.events_recovered,
                "petitions_without_personal_details": r.petitions_without_personal_details,
            })),
        });
        one(format, &doc);
        return Ok(());
    }
    let mut text = format!(
        "{:<8} {:<6} {:<10} {:<20} {:<20} {:>9} {:>7} {:>5}  {}\n",
        "link", "unit", "state", "since", "last event", "applied", "behind", "mail", "error"
    );
    let mut row = |role: &str, l: &pb::LinkStatus| {
        let state = match (l.tampered, l.connected, l.refused) {
            (true, _, _) => "TAMPERED",
            (false, true, _) => "connected",
            (false, false, true) => "REFUSED",
            (false, false, false) => "down",
        };
        // Why the link is down, and when it is tried again.
        let error = if l.connected || l.last_error.is_empty() {
            l.last_error.clone()
        } else {
            let code = if l.last_error_code.is_empty() {
                String::new()
            } else {
                format!("{}: ", l.last_error_code)
            };
            format!(
                "{code}{} ({} failed attempts; next {})",
                l.last_error,
                l.failed_attempts,
                time(&l.next_attempt_time)
            )
        };
        text.push_str(&format!(
            "{:<8} {:<6} {:<10} {:<20} {:<20} {:>9} {:>7} {:>5}  {}\n",
            role,
            l.unit_code,
            state,
            time(&l.since_time),
            time(&l.last_event_time),
            l.events_applied,
            l.events_behind,
            l.mail_pending,
            error
        ));
    };
    if let Some(p) = &status.parent {
        row("parent", p);
    }
    for c in &status.children {
        row("child", c);
    }
    if let Some(r) = &status.recovery {
        if r.recovering {
            text.push_str(&format!(
                "\nrecovery: waiting for the parent to give back lost journal events (marked by \
                 {} at {}); writes are refused until then\n",
                r.reason,
                time(&r.start_time)
            ));
        } else {
            text.push_str(&format!(
                "\nrecovery: {} events taken back from the parent at {} (marked by {})\n",
                r.events_recovered,
                time(&r.finish_time),
                r.reason
            ));
            if !r.petitions_without_personal_details.is_empty() {
                text.push_str(&format!(
                    "  personal details not recoverable (they never left this node): {}\n",
                    r.petitions_without_personal_details.join(", ")
                ));
            }
        }
    }
    out(&text);
    Ok(())
}

fn difference_kind(kind: i32) -> &'static str {
    match pb::DifferenceKind::try_from(kind) {
        Ok(pb::DifferenceKind::MissingAtParent) => "missing here",
        Ok(pb::DifferenceKind::MissingAtChild) => "missing at child",
        Ok(pb::DifferenceKind::ContentDiffers) => "content differs",
        _ => "?",
    }
}

fn difference(d: &pb::DigestDifference) -> Value {
    json!({
        "origin": d.origin_unit,
        "day": d.day,
        "kind": difference_kind(d.kind),
        "child_count": d.child_count,
        "here_count": d.parent_count,
        "child_highest_sequence": d.child_highest_sequence,
        "here_highest_sequence": d.parent_highest_sequence,
    })
}

/// Reconciles the node with its children and prints what differed; returns whether every
/// child was reached and agrees now.
pub async fn sync_verify(
    client: &Client,
    format: Output,
    args: &VerifyArgs,
) -> Result<bool, Error> {
    let answer = pb::sync_service_client::SyncServiceClient::new(client.channel())
        .reconcile(pb::ReconcileRequest {
            child_units: args.children.clone(),
            wait_seconds: args.wait,
        })
        .await?
        .into_inner();
    let agrees = |c: &pb::ChildReconciliation| c.reached && c.remaining.is_empty();
    let all_agree = answer.children.iter().all(agrees);
    if format == Output::Json {
        let doc = json!({
            "unit": answer.unit_code,
            "in_agreement": all_agree,
            "children": answer.children.iter().map(|c| json!({
                "unit": c.unit_code,
                "reached": c.reached,
                "error": c.error,
                "origins": c.origins_compared,
                "days": c.days_compared,
                "events": c.events_compared,
                "differences": c.differences.iter().map(difference).collect::<Vec<_>>(),
                "pulled_after": c.pulled_after.iter().map(|p| json!({
                    "origin": p.origin_unit, "sequence": p.sequence,
                })).collect::<Vec<_>>(),
                "events_pulled": c.events_pulled,
                "remaining": c.remaining.iter().map(difference).collect::<Vec<_>>(),
                "in_agreement": agrees(c),
            })).collect::<Vec<_>>(),
        });
        one(format, &doc);
        return Ok(all_agree);
    }
    let mut text = format!(
        "{:<6} {:>7} {:>6} {:>9} {:>11} {:>7}  {}\n",
        "child", "origins", "days", "events", "differences", "pulled", "state"
    );
    for c in &answer.children {
        let state = if !c.reached {
            format!("not verified: {}", c.error)
        } else if c.remaining.is_empty() {
            "in agreement".to_string()
        } else {
            format!("{} DIFFERENCES REMAIN", c.remaining.len())
        };
        text.push_str(&format!(
            "{:<6} {:>7} {:>6} {:>9} {:>11} {:>7}  {}\n",
            c.unit_code,
            c.origins_compared,
            c.days_compared,
            c.events_compared,
            c.differences.len(),
            c.events_pulled,
            state
        ));
    }
    let mut listed = false;
    for c in &answer.children {
        for (when, list) in [("found", &c.differences), ("remaining", &c.remaining)] {
            for d in list {
                if !listed {
                    text.push_str(&format!(
                        "\n{:<6} {:<9} {:<6} {:<10} {:<17} {:>11} {:>11}\n",
                        "child", "", "origin", "day", "difference", "child (seq)", "here (seq)"
                    ));
                    listed = true;
                }
                text.push_str(&format!(
                    "{:<6} {:<9} {:<6} {:<10} {:<17} {:>11} {:>11}\n",
                    c.unit_code,
                    when,
                    d.origin_unit,
                    d.day,
                    difference_kind(d.kind),
                    format!("{} ({})", d.child_count, d.child_highest_sequence),
                    format!("{} ({})", d.parent_count, d.parent_highest_sequence),
                ));
            }
        }
    }
    out(&text);
    Ok(all_agree)
}

fn csv_cell(s: &str) -> String {
    if s.contains([';', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Prints a report.
pub async fn report(client: &Client, format: Output, args: &ReportArgs) -> Result<(), Error> {
    let report = pb::report_service_client::ReportServiceClient::new(client.channel())
        .get_report(pb::GetReportRequest {
            unit_code: args.unit.clone(),
            period: args.period.clone(),
            scope: if args.unit_only {
                pb::ReportScope::Unit
            } else {
                pb::ReportScope::Subtree
            } as i32,
            calendar: if args.calendar {
                pb::PeriodCalendar::Calendar
            } else {
                pb::PeriodCalendar::Statistical
            } as i32,
        })
        .await?
        .into_inner()
        .report
        .unwrap_or_default();
    let unit = report.unit.clone().unwrap_or_default();
    let totals = report.totals.unwrap_or_default();
    // Columns: the whole, each child, each petition type.
    let mut columns: Vec<(String, pb::Totals, String)> =
        vec![(format!("{} {}", unit.code, unit.name), totals, "-".into())];
    for row in &report.children {
        let u = row.unit.clone().unwrap_or_default();
        columns.push((
            format!("{} {}", u.code, u.name),
            row.totals.unwrap_or_default(),
            time(&row.as_of_time),
        ));
    }
    for row in &report.by_type {
        columns.push((
            type_name(row.r#type, args.lang).to_string(),
            row.totals.unwrap_or_default(),
            "-".into(),
        ));
    }
    if format == Output::Json {
        let doc = json!({
            "unit": unit.code,
            "period": report.period,
            "start_date": report.start_date,
            "end_date": report.end_date,
            "predecessors": report.predecessors.iter().map(json::unit_version).collect::<Vec<_>>(),
            "columns": columns.iter().map(|(name, t, as_of)| json!({
                "name": name,
                "as_of": as_of,
                "rows": lines(t).into_iter().map(|(form, vi, en, v)| json!({"form": form, "label": if args.lang == Lang::Vi { vi } else { en }, "value": v})).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        });
        one(format, &doc);
        return Ok(());
    }
    let vi = args.lang == Lang::Vi;
    let label = |v: &'static str, en: &'static str| if vi { v } else { en };
    // Reception is not split by petition type: those cells say so rather than 0.
    let first_type_column = 1 + report.children.len();
    let per_column: Vec<_> = columns.iter().map(|(_, t, _)| lines(t)).collect();
    let cell = |column: usize, line: usize, for_csv: bool| -> String {
        let (form, _, _, value) = &per_column[column][line];
        if column >= first_type_column && *form == "01/TCD" {
            return if for_csv { String::new() } else { "—".into() };
        }
        localized(value, vi, for_csv)
    };
    if args.csv {
        // As Excel opens it in a Vietnamese locale: a BOM, `;` between fields.
        let sep = ";";
        let mut text = format!(
            "\u{feff}{}{sep}{}",
            label("Nhóm", "Group"),
            label("Chỉ tiêu", "Item")
        );
        for (name, _, _) in &columns {
            text.push_str(sep);
            text.push_str(&csv_cell(name));
        }
        text.push_str("\r\n");
        for (i, (form, v, en, _)) in lines(&totals).into_iter().enumerate() {
            text.push_str(&format!(
                "{}{sep}{}",
                csv_cell(group(form, vi)),
                csv_cell(label(v, en))
            ));
            for column in 0..columns.len() {
                text.push_str(sep);
                text.push_str(&csv_cell(&cell(column, i, true)));
            }
            text.push_str("\r\n");
        }
        out(&text);
        return Ok(());
    }
    let day = |iso: &str| {
        if vi {
            chrono::NaiveDate::parse_from_str(iso, "%Y-%m-%d")
                .map(|d| d.format("%d/%m/%Y").to_string())
                .unwrap_or_else(|_| iso.to_string())
        } else {
            iso.to_string()
        }
    };
    let mut text = format!(
        "{} {} {} ({} – {})\n",
        label("Báo cáo", "Report of"),
        unit.name,
        report.period,
        day(&report.start_date),
        day(&report.end_date)
    );
    // Column names wrapped at word boundaries, never cut mid-word.
    let wrapped: Vec<Vec<String>> = columns.iter().map(|(name, _, _)| wrap(name, 16)).collect();
    let header_lines = wrapped.iter().map(Vec::len).max().unwrap_or(1);
    for line in 0..header_lines {
        text.push_str(&format!("{:<11} {:<34}", "", ""));
        for w in &wrapped {
            let part = w.get(line).map(String::as_str).unwrap_or("");
            text.push_str(&format!(" {part:>16}"));
        }
        text.push('\n');
    }
    for (i, (form, v, en, _)) in lines(&totals).into_iter().enumerate() {
        text.push_str(&format!("{:<11} {:<34}", group(form, vi), label(v, en)));
        for column in 0..columns.len() {
            text.push_str(&format!(" {:>16}", cell(column, i, false)));
        }
        text.push('\n');
    }
    text.push_str(&format!(
        "{:<46}",
        label("Số liệu tính đến", "Records as of")
    ));
    for (_, _, as_of) in &columns {
        let v = if vi { vn_time(as_of) } else { as_of.clone() };
        text.push_str(&format!(" {v:>16}"));
    }
    text.push('\n');
    // Units that ended by the period's end, counted under their successor.
    for p in &report.predecessors {
        let u = p.unit.clone().unwrap_or_default();
        text.push_str(&format!(
            "{} {} {} ({} {}, {} {})\n",
            label("Gồm số liệu của", "Includes the records of"),
            u.code,
            u.name,
            label("đến ngày", "until"),
            day(&p.valid_until),
            label("nay thuộc", "now part of"),
            p.successor_code
        ));
    }
    out(&text);
    Ok(())
}

/// The group of an indicator, by the form its figures feed.
fn group(form: &str, vi: bool) -> &'static str {
    match (form, vi) {
        ("01/TCD", true) => "Tiếp dân",
        ("01/XLD", true) => "Xử lý đơn",
        (_, true) => "Giải quyết",
        ("01/TCD", false) => "Reception",
        ("01/XLD", false) => "Petitions",
        (_, false) => "Resolution",
    }
}

/// `name` in lines of at most `width` characters, broken between words (a longer word on a
/// line of its own).
fn wrap(name: &str, width: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for word in name.split_whitespace() {
        match out.last_mut() {
            Some(line) if line.chars().count() + 1 + word.chars().count() <= width => {
                line.push(' ');
                line.push_str(word);
            }
            _ => out.push(word.to_string()),
        }
    }
    if out.is_empty() {
        out.push(String::new());
    }
    out
}

/// "YYYY-MM-DD HH:MM:SS" as "dd/mm/yyyy HH:MM".
fn vn_time(t: &str) -> String {
    chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S")
        .map(|t| t.format("%d/%m/%Y %H:%M").to_string())
        .unwrap_or_else(|_| t.to_string())
}

/// A figure as the language writes it (36.500.000 and 12,5 in Vietnamese; 36,500,000 and
/// 12.5 in English); in a CSV without thousands separators. A rate of nothing is "—".
fn localized(value: &str, vi: bool, for_csv: bool) -> String {
    if let Some((n, rest)) = value.split_once(" / ") {
        let d = rest.split(" = ").next().unwrap_or_default();
        if d == "0" {
            return if for_csv { String::new() } else { "—".into() };
        }
        let p = rest.split(" = ").nth(1).unwrap_or_default();
        return format!(
            "{} / {} = {p}",
            localized(n, vi, for_csv),
            localized(d, vi, for_csv)
        );
    }
    let Ok(v) = value.parse::<f64>() else {
        return value.to_string();
    };
    if for_csv {
        let text = format!("{}", (v * 100.0).round() / 100.0);
        return if vi { text.replace('.', ",") } else { text };
    }
    let text = super::forms::vn_number(v);
    if vi {
        text
    } else {
        text.replace('.', "\u{0}")
            .replace(',', ".")
            .replace('\u{0}', ",")
    }
}
