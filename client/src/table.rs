//! Plain-text tables for a person at a reception desk: aligned columns measured in display
//! width (Vietnamese text may arrive decomposed, with combining marks of width zero), long
//! text cut with an ellipsis so a row stays on one line.

use serde_json::Value;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// Widest a cell may be before it is cut.
const MAX_CELL: usize = 48;

/// A table of rows under a header.
#[derive(Debug, Clone, Default)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// An empty table with these column titles.
    pub fn new(header: &[&str]) -> Table {
        Table {
            header: header.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; missing cells are empty.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The table as lines of text, two spaces between columns, no trailing spaces.
    pub fn render(&self) -> String {
        let cells: Vec<Vec<String>> = std::iter::once(&self.header)
            .chain(&self.rows)
            .map(|r| {
                (0..self.header.len())
                    .map(|i| cut(r.get(i).map_or("", String::as_str)))
                    .collect()
            })
            .collect();
        let widths: Vec<usize> = (0..self.header.len())
            .map(|i| cells.iter().map(|r| r[i].width()).max().unwrap_or(0))
            .collect();
        let mut out = String::new();
        for row in &cells {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate() {
                if i > 0 {
                    line.push_str("  ");
                }
                line.push_str(cell);
                line.extend(std::iter::repeat_n(' ', widths[i] - cell.width()));
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// Cuts a cell to [`MAX_CELL`] columns on one line.
fn cut(cell: &str) -> String {
    let one_line = cell.replace(['\n', '\r', '\t'], " ");
    if one_line.width() <= MAX_CELL {
        return one_line;
    }
    let mut out = String::new();
    let mut width = 0;
    for c in one_line.chars() {
        width += UnicodeWidthChar::width(c).unwrap_or(0);
        if width >= MAX_CELL {
            break;
        }
        out.push(c);
    }
    out.push('…');
    out
}

/// One record as `field  value` lines, nested objects flattened with dots, absent values
/// left out.
pub fn details(value: &Value) -> String {
    let mut pairs = Vec::new();
    flatten("", value, &mut pairs);
    let width = pairs.iter().map(|(k, _)| k.width()).max().unwrap_or(0);
    let mut out = String::new();
    for (k, v) in pairs {
        out.push_str(&k);
        out.extend(std::iter::repeat_n(' ', width - k.width() + 2));
        out.push_str(&v);
        out.push('\n');
    }
    out
}

fn flatten(prefix: &str, value: &Value, out: &mut Vec<(String, String)>) {
    match value {
        Value::Null => {}
        Value::Object(map) => {
            for (k, v) in map {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        Value::Array(items) => {
            if items.iter().all(|i| !i.is_object()) {
                let joined: Vec<String> = items.iter().map(scalar).collect();
                out.push((prefix.to_string(), joined.join(", ")));
            } else {
                for (i, item) in items.iter().enumerate() {
                    flatten(&format!("{prefix}[{i}]"), item, out);
                }
            }
        }
        other => out.push((prefix.to_string(), scalar(other))),
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(true) => "yes".into(),
        Value::Bool(false) => "no".into(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn columns_align_on_display_width() {
        let mut t = Table::new(&["ID", "SUMMARY", "N"]);
        t.row(vec!["269-P1".into(), "Tranh chấp đất".into(), "1".into()]);
        // "ê" decomposed: e + combining circumflex, of width 1.
        t.row(vec!["269-P10".into(), "Ke\u{0302}u".into(), "12".into()]);
        let text = t.render();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "ID       SUMMARY         N");
        assert_eq!(lines[1], "269-P1   Tranh chấp đất  1");
        assert_eq!(lines[2], "269-P10  Ke\u{0302}u             12");
    }

    #[test]
    fn long_cells_are_cut() {
        let long = "a".repeat(100);
        let c = cut(&long);
        assert_eq!(c.width(), MAX_CELL);
        assert!(c.ends_with('…'));
        assert_eq!(cut("x\ny"), "x y");
    }

    #[test]
    fn details_flatten() {
        let v = json!({"id": "269-C1", "deadline": {"due_date": "2019-10-01", "overdue": false},
                       "petition_ids": ["a", "b"], "outcome": null});
        assert_eq!(
            details(&v),
            "id                 269-C1\ndeadline.due_date  2019-10-01\ndeadline.overdue   no\npetition_ids       a, b\n"
        );
    }
}
