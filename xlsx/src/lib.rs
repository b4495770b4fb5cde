//! An official form of Thông tư 06/2025/TT-TTCP, as the node fills it ([`pb::FormReport`]),
//! written to an `.xlsx` laid out as on paper: the header block, merged group headers, the MS
//! row, one row per unit, the unit's own row and the total, the notes line and the signature
//! block. One writer for the `tiepdan` CLI (`report --form … --xlsx`) and the node's dashboard
//! (`GET /forms.xlsx`), so both hand out the same bytes for the same report.

use rust_xlsxwriter::{
    DocProperties, ExcelDateTime, Format, FormatAlign, FormatBorder, Workbook, Worksheet,
};
use tiepdan_proto::v1 as pb;

pub use rust_xlsxwriter::XlsxError;

/// The media type of an `.xlsx`.
pub const CONTENT_TYPE: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// The file name of a form for a period, e.g. `03-GQKN-2026-Q3.xlsx`. Anything but ASCII
/// letters, digits, `-` and `_` becomes `-`, so the name is safe in a header.
pub fn file_name(code: &str, period: &str) -> String {
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '-'
                }
            })
            .collect()
    };
    format!("{}-{}.xlsx", clean(code), clean(period))
}

/// dd/mm/yyyy from YYYY-MM-DD.
pub fn vn_date(iso: &str) -> String {
    chrono::NaiveDate::parse_from_str(iso, "%Y-%m-%d")
        .map(|d| d.format("%d/%m/%Y").to_string())
        .unwrap_or_else(|_| iso.to_string())
}

/// "Số liệu tính từ ngày … đến ngày …": the period line under the title.
pub fn period_line(r: &pb::FormReport) -> String {
    format!(
        "Số liệu tính từ ngày {} đến ngày {}",
        vn_date(&r.start_date),
        vn_date(&r.end_date)
    )
}

/// What the first column says of a row.
pub fn row_label(row: &pb::FormRow) -> String {
    let unit = row.unit.clone().unwrap_or_default();
    match pb::FormRowKind::try_from(row.kind) {
        Ok(pb::FormRowKind::Own) => format!("{} {} (tại đơn vị)", unit.code, unit.name),
        Ok(pb::FormRowKind::Total) => format!("Tổng cộng {}", unit.name),
        _ => format!("{} {}", unit.code, unit.name),
    }
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
pub fn form_xlsx(r: &pb::FormReport) -> Result<Vec<u8>, XlsxError> {
    let mut book = Workbook::new();
    // The file is dated when its figures were computed, not when it was written: the same
    // report gives the same bytes, from the CLI or the dashboard.
    let generated = r.generate_time.as_ref().map_or(0, |t| t.seconds);
    book.set_properties(
        &DocProperties::new().set_creation_datetime(&ExcelDateTime::from_timestamp(generated)?),
    );
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
    book.save_to_buffer()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_dates() {
        assert_eq!(file_name("03/GQKN", "2026-Q3"), "03-GQKN-2026-Q3.xlsx");
        assert_eq!(file_name("01/TCD", "a\"b;c"), "01-TCD-a-b-c.xlsx");
        assert_eq!(vn_date("2026-09-30"), "30/09/2026");
    }

    fn column(number: u32, group: &[&str], label: &str) -> pb::FormColumn {
        pb::FormColumn {
            number,
            group: group.iter().map(|g| g.to_string()).collect(),
            label: label.into(),
            ms: number.to_string(),
            recorded: true,
        }
    }

    fn sample() -> pb::FormReport {
        pb::FormReport {
            code: "03/GQKN".into(),
            columns: (1..=8)
                .map(|n| column(n, &["Vụ việc", if n < 5 { "A" } else { "B" }], "Số"))
                .collect(),
            rows: vec![pb::FormRow {
                kind: pb::FormRowKind::Total as i32,
                cells: (1..=8)
                    .map(|n| pb::FormCell {
                        value: Some(f64::from(n) + 0.5),
                    })
                    .collect(),
                ..Default::default()
            }],
            generate_time: Some(prost_types::Timestamp {
                seconds: 1_790_000_000,
                nanos: 0,
            }),
            ..Default::default()
        }
    }

    #[test]
    fn a_form_is_a_workbook() {
        let bytes = form_xlsx(&sample()).unwrap_or_else(|e| panic!("{e}"));
        assert!(bytes.starts_with(b"PK"), "a zip");
    }

    #[test]
    fn the_same_report_gives_the_same_bytes() {
        let report = sample();
        let first = form_xlsx(&report).ok();
        std::thread::sleep(std::time::Duration::from_millis(1100));
        assert!(first.is_some() && first == form_xlsx(&report).ok());
    }
}
