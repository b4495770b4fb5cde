//! `tiepdan report --form CODE`: an official form as the node fills it, printed as a table
//! (Vietnamese number formatting), as CSV for Excel (UTF-8 with a BOM, `;`), or written to
//! an `.xlsx` laid out as on paper (written by `tiepdan-xlsx`, the same writer as the
//! dashboard's download).

use tiepdan_client::{Client, Error};
use tiepdan_proto::v1 as pb;
use tiepdan_xlsx::{form_xlsx, period_line, row_label};

use super::args::ReportArgs;
use super::show::out;

/// Fetches the form and prints or writes it as `args` asks.
pub async fn form(client: &Client, args: &ReportArgs) -> Result<(), Error> {
    let report = pb::report_service_client::ReportServiceClient::new(client.channel())
        .get_form_report(pb::GetFormReportRequest {
            unit_code: args.unit.clone(),
            period: args.period.clone(),
            calendar: if args.calendar {
                pb::PeriodCalendar::Calendar
            } else {
                pb::PeriodCalendar::Statistical
            } as i32,
            form: args.form.clone().unwrap_or_default(),
        })
        .await?
        .into_inner()
        .report
        .ok_or(Error::MissingField("report"))?;
    if let Some(path) = &args.xlsx {
        form_xlsx(&report)
            .map_err(|e| e.to_string())
            .and_then(|bytes| std::fs::write(path, bytes).map_err(|e| e.to_string()))
            .map_err(|detail| Error::File {
                path: path.clone(),
                detail,
            })?;
        out(&format!(
            "{} {} → {}\n",
            report.code,
            period_line(&report),
            path.display()
        ));
    } else if args.csv {
        out(&csv(&report));
    } else {
        out(&table(&report));
    }
    Ok(())
}

/// A figure as Vietnamese text prints it: 36.500.000 and 12,5.
pub fn vn_number(v: f64) -> String {
    let negative = v < 0.0;
    let rounded = (v.abs() * 100.0).round() / 100.0;
    let whole = rounded.trunc() as u64;
    let cents = ((rounded - rounded.trunc()) * 100.0).round() as u64;
    let digits = whole.to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push('.');
        }
        grouped.push(c);
    }
    if cents > 0 {
        let frac = format!("{cents:02}");
        grouped.push(',');
        grouped.push_str(frac.trim_end_matches('0'));
    }
    if negative {
        format!("-{grouped}")
    } else {
        grouped
    }
}

fn cell_text(cell: Option<&pb::FormCell>) -> String {
    cell.and_then(|c| c.value)
        .map(vn_number)
        .unwrap_or_default()
}

/// The column heading as one line: its groups and label.
fn heading(c: &pb::FormColumn) -> String {
    let mut parts = c.group.clone();
    parts.push(c.label.clone());
    parts.join(" › ")
}

fn table(r: &pb::FormReport) -> String {
    let unit = r.unit.clone().unwrap_or_default();
    let mut text = format!(
        "Biểu số: {} ({})\n{}\nĐơn vị báo cáo: {} {}\n{}\n\n",
        r.code,
        r.circular,
        r.title,
        unit.code,
        unit.name,
        period_line(r)
    );
    // One line per column (forms are too wide for a terminal): the figure of every row.
    let labels: Vec<String> = r.rows.iter().map(row_label).collect();
    text.push_str(&format!("{:<5} {:<60}", "MS", "Cột"));
    for l in &labels {
        text.push_str(&format!(" {:>14}", l.chars().take(14).collect::<String>()));
    }
    text.push('\n');
    for (i, c) in r.columns.iter().enumerate() {
        let h = heading(c);
        let h: String = h
            .chars()
            .rev()
            .take(60)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        text.push_str(&format!(
            "{:<5} {:<60}",
            c.ms.chars().take(5).collect::<String>(),
            h
        ));
        for row in &r.rows {
            let v = if c.recorded {
                cell_text(row.cells.get(i))
            } else {
                "—".into()
            };
            text.push_str(&format!(" {v:>14}"));
        }
        text.push('\n');
    }
    text.push_str(&format!(
        "\n{}. Ghi chú: {}\n",
        r.columns.len() + 1,
        r.notes.join(" ")
    ));
    text
}

/// The form as Vietnamese-locale Excel opens a CSV: a BOM, `;` between fields, decimal
/// commas, no thousands separators.
fn csv(r: &pb::FormReport) -> String {
    let field = |s: &str| {
        if s.contains([';', '"', '\n']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    };
    let number = |v: f64| {
        let s = format!("{}", (v * 100.0).round() / 100.0);
        s.replace('.', ",")
    };
    let unit = r.unit.clone().unwrap_or_default();
    let mut lines = vec![
        field(&format!("Biểu số: {}", r.code)),
        field(&r.title),
        field(&format!("Đơn vị báo cáo: {} {}", unit.code, unit.name)),
        field(&period_line(r)),
    ];
    let mut header = vec!["Đơn vị".to_string()];
    header.extend(r.columns.iter().map(|c| field(&heading(c))));
    lines.push(header.join(";"));
    let mut ms = vec!["MS".to_string()];
    ms.extend(r.columns.iter().map(|c| field(&c.ms)));
    lines.push(ms.join(";"));
    for row in &r.rows {
        let mut cells = vec![field(&row_label(row))];
        for (i, _) in r.columns.iter().enumerate() {
            cells.push(
                row.cells
                    .get(i)
                    .and_then(|c| c.value)
                    .map(number)
                    .unwrap_or_default(),
            );
        }
        lines.push(cells.join(";"));
    }
    lines.push(field(&format!(
        "{}. Ghi chú: {}",
        r.columns.len() + 1,
        r.notes.join(" ")
    )));
    format!("\u{feff}{}\r\n", lines.join("\r\n"))
}

#[cfg(test)]
mod tests {
    use super::vn_number;

    #[test]
    fn figures_read_as_vietnamese_prints_them() {
        assert_eq!(vn_number(36_500_000.0), "36.500.000");
        assert_eq!(vn_number(923.0), "923");
        assert_eq!(vn_number(12.5), "12,5");
        assert_eq!(vn_number(0.0), "0");
        assert_eq!(vn_number(1000.25), "1.000,25");
    }
}
