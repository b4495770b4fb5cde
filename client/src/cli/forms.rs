//! `tiepdan report --form CODE`: an official form as the node fills it, printed as a table
//! (Vietnamese number formatting), as CSV for Excel (UTF-8 with a BOM, `;`), or written to
//! an `.xlsx` laid out as on paper: the header block, merged group headers, the MS row, one
//! row per unit, the total, the notes line and the signature block.

use std::path::Path;

use rust_xlsxwriter::{Format, FormatAlign, FormatBorder, Workbook, Worksheet, XlsxError};
use tiepdan_client::{Client, Error};
use tiepdan_proto::v1 as pb;

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
        write_xlsx(&report, path).map_err(|e| Error::File {
            path: path.clone(),
            detail: e.to_string(),
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

/// dd/mm/yyyy from YYYY-MM-DD.
fn vn_date(iso: &str) -> String {
    chrono::NaiveDate::parse_from_str(iso, "%Y-%m-%d")
        .map(|d| d.format("%d/%m/%Y").to_string())
        .unwrap_or_else(|_| iso.to_string())
}

fn period_line(r: &pb::FormReport) -> String {
    format!(
        "Số liệu tính từ ngày {} đến ngày {}",
        vn_date(&r.start_date),
        vn_date(&r.end_date)
    )
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

/// What the first column says of a row.
fn row_label(row: &pb::FormRow) -> String {
    let unit = row.unit.clone().unwrap_or_default();
    match pb::FormRowKind::try_from(row.kind) {
        Ok(pb::FormRowKind::Own) => format!("{} {} (tại đơn vị)", unit.code, unit.name),
        Ok(pb::FormRowKind::Total) => format!("Tổng cộng {}", unit.name),
        _ => format!("{} {}", unit.code, unit.name),
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

/// Merges `first..=last` of a row, or writes the one cell.
fn merge_or_write(
    ws: &mut Worksheet,
    (r1, c1, r2, c2): (u32, u16, u32, u16),
    text: &str,
    format: &Format,
) -> Result<(), XlsxError> {
    if r1 == r2 && c1 == c2 {
        ws.write_string_with_format(r1, c1, text, format)?;
    } else {
        ws.merge_range(r1, c1, r2, c2, text, format)?;
    }
    Ok(())
}

/// The form laid out as on paper.
pub fn write_xlsx(r: &pb::FormReport, path: &Path) -> Result<(), XlsxError> {
    let mut book = Workbook::new();
    let ws = book.add_worksheet();
    ws.set_name(r.code.replace('/', "-"))?;
    ws.set_landscape();
    ws.set_paper_size(9); // A4
    let bold = Format::new().set_bold();
    let title = Format::new().set_bold().set_align(FormatAlign::Center);
    let center = Format::new().set_align(FormatAlign::Center);
    let head = Format::new()
        .set_bold()
        .set_text_wrap()
        .set_align(FormatAlign::Center)
        .set_align(FormatAlign::VerticalCenter)
        .set_border(FormatBorder::Thin);
    let text = Format::new().set_border(FormatBorder::Thin);
    let number = Format::new()
        .set_border(FormatBorder::Thin)
        .set_num_format("#,##0.##");
    let total_text = Format::new().set_bold().set_border(FormatBorder::Thin);
    let total_number = Format::new()
        .set_bold()
        .set_border(FormatBorder::Thin)
        .set_num_format("#,##0.##");
    let last_col = u16::try_from(r.columns.len()).unwrap_or(u16::MAX);
    let unit = r.unit.clone().unwrap_or_default();

    // The header block.
    ws.write_string_with_format(0, 0, format!("Đơn vị báo cáo: {}", unit.name), &bold)?;
    ws.write_string_with_format(0, last_col, format!("Biểu số: {}", r.code), &bold)?;
    merge_or_write(ws, (1, 0, 1, last_col), &r.title, &title)?;
    merge_or_write(ws, (2, 0, 2, last_col), &period_line(r), &center)?;
    merge_or_write(
        ws,
        (3, 0, 3, last_col),
        "(Kèm theo Báo cáo số: ……… ngày …… tháng …… năm …… của ………)",
        &center,
    )?;

    // Group headers merged as on paper: a run of columns sharing a group at a level shares
    // one cell; each label runs down to the last header row.
    let top = 5u32;
    let depth = r.columns.iter().map(|c| c.group.len()).max().unwrap_or(0) as u32 + 1;
    let bottom = top + depth - 1;
    merge_or_write(ws, (top, 0, bottom, 0), "Đơn vị", &head)?;
    for level in 0..depth as usize - 1 {
        let mut i = 0;
        while i < r.columns.len() {
            let Some(name) = r.columns[i].group.get(level) else {
                i += 1;
                continue;
            };
            let prefix = &r.columns[i].group[..=level];
            let mut j = i;
            while j + 1 < r.columns.len()
                && r.columns[j + 1].group.len() > level
                && r.columns[j + 1].group[..=level] == *prefix
            {
                j += 1;
            }
            let row = top + level as u32;
            merge_or_write(ws, (row, i as u16 + 1, row, j as u16 + 1), name, &head)?;
            i = j + 1;
        }
    }
    for (i, c) in r.columns.iter().enumerate() {
        let row = top + c.group.len() as u32;
        let col = i as u16 + 1;
        merge_or_write(ws, (row, col, bottom, col), &c.label, &head)?;
        ws.set_column_width(col, 11)?;
    }
    ws.set_column_width(0, 34)?;
    // The MS row: each column's number or formula.
    let ms_row = bottom + 1;
    ws.write_string_with_format(ms_row, 0, "MS", &head)?;
    for (i, c) in r.columns.iter().enumerate() {
        ws.write_string_with_format(ms_row, i as u16 + 1, &c.ms, &head)?;
    }
    // One row per unit, then the unit's own row and the total; a column not recorded stays
    // empty rather than showing 0.
    let mut row = ms_row + 1;
    for form_row in &r.rows {
        let total = form_row.kind == pb::FormRowKind::Total as i32;
        let (label_format, number_format) = if total {
            (&total_text, &total_number)
        } else {
            (&text, &number)
        };
        ws.write_string_with_format(row, 0, row_label(form_row), label_format)?;
        for (i, _) in r.columns.iter().enumerate() {
            let col = i as u16 + 1;
            match form_row.cells.get(i).and_then(|c| c.value) {
                Some(v) => {
                    ws.write_number_with_format(row, col, v, number_format)?;
                }
                None => {
                    ws.write_blank(row, col, label_format)?;
                }
            }
        }
        row += 1;
    }
    // The notes line, numbered after the last column, and the signature block.
    let notes = format!("{}. Ghi chú: {}", r.columns.len() + 1, r.notes.join(" "));
    merge_or_write(
        ws,
        (row, 0, row, last_col),
        &notes,
        &Format::new().set_text_wrap(),
    )?;
    ws.set_row_height(
        row,
        15.0 * (1.0 + notes.chars().count() as f64 / 160.0).ceil(),
    )?;
    let sign = row + 2;
    let right = last_col.saturating_sub(5).max(1);
    merge_or_write(
        ws,
        (sign, right, sign, last_col),
        "……, ngày …… tháng …… năm ……",
        &center,
    )?;
    ws.write_string_with_format(sign + 1, 0, "NGƯỜI LẬP BIỂU", &title)?;
    merge_or_write(
        ws,
        (sign + 1, right, sign + 1, last_col),
        "THỦ TRƯỞNG ĐƠN VỊ",
        &title,
    )?;
    merge_or_write(
        ws,
        (sign + 2, right, sign + 2, last_col),
        "(Ký, ghi rõ họ tên, đóng dấu)",
        &center,
    )?;
    book.save(path)?;
    Ok(())
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
