//! The official report forms as data: each form is a definition file (TOML) naming, for
//! each numbered column, the records it counts — which kind, which values of which fields,
//! which date must fall in the period, what is summed — or the columns it adds up, or that
//! the register does not record its input yet. A province corrects a mapping by editing the
//! file (`--forms-dir`), without a new build.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Deserialize;

use super::period::Period;

mod facts;
pub use facts::{case_fact, petition_fact, schedule_fact, visit_fact};

/// One form of one circular.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormDef {
    /// The form's code as printed, e.g. "02/XLD".
    pub code: String,
    /// The circular that defines it, e.g. "06/2025/TT-TTCP".
    pub circular: String,
    /// The title, in capitals as printed.
    pub title: String,
    /// Periods ending on or after this day use the form (the circular's effect).
    #[serde(default)]
    pub valid_from: Option<NaiveDate>,
    /// Periods ending before this day use the form.
    #[serde(default)]
    pub valid_until: Option<NaiveDate>,
    /// Lines the circular prints under the table (hướng dẫn), and where this mapping departs
    /// from the form.
    #[serde(default)]
    pub notes: Vec<String>,
    pub columns: Vec<ColumnDef>,
}

/// One numbered column.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnDef {
    /// The column's number in the MS row.
    pub number: u32,
    /// The group headers above the label, outermost first.
    #[serde(default)]
    pub group: Vec<String>,
    /// The label, verbatim.
    pub label: String,
    /// What the MS row prints when it is not the number (a formula, e.g. "1=5+11+17").
    #[serde(default)]
    pub ms: Option<String>,
    /// Records counted: "visit", "petition", "case" or "schedule".
    #[serde(default)]
    pub count: Option<String>,
    /// Field → accepted values; a record counts when every named field has one of them.
    #[serde(default, rename = "where")]
    pub filter: BTreeMap<String, Vec<String>>,
    /// The date that must fall in the period (default: the kind's first date).
    #[serde(default)]
    pub date: Option<String>,
    /// Count the records pending during the period instead: this date on or before its end,
    /// and `pending_until` absent or on or after its start.
    #[serde(default)]
    pub pending_until: Option<String>,
    /// Sum this number of each record instead of counting (e.g. "persons").
    #[serde(default)]
    pub measure: Option<String>,
    /// Count each distinct value of this field once (e.g. the day of a schedule entry).
    #[serde(default)]
    pub distinct: Option<String>,
    /// The columns this one adds up.
    #[serde(default)]
    pub sum: Vec<u32>,
    /// Why the register cannot fill it yet; its cells stay empty.
    #[serde(default)]
    pub not_recorded: Option<String>,
}

/// A definition that cannot be used, and why.
#[derive(Debug, thiserror::Error)]
#[error("form {form}: {message}")]
pub struct FormError {
    pub form: String,
    pub message: String,
}

/// The fields, dates and numbers of one record, as a form's columns name them.
#[derive(Debug, Clone, Default)]
pub struct Fact {
    pub kind: &'static str,
    pub unit: String,
    /// For a petition transferred in: the unit it came from (counted there already).
    pub source_unit: Option<String>,
    pub fields: BTreeMap<&'static str, String>,
    pub dates: BTreeMap<&'static str, NaiveDate>,
    pub numbers: BTreeMap<&'static str, f64>,
}

/// Dates each kind has, the first being the one a column filters by default.
const DATES: [(&str, &[&str]); 4] = [
    ("visit", &["visit"]),
    ("petition", &["received", "processed"]),
    ("case", &["accepted", "decided", "enforced"]),
    ("schedule", &["day"]),
];
/// Fields each kind has.
const FIELDS: [(&str, &[&str]); 4] = [
    (
        "visit",
        &["kind", "receiver", "head", "matter", "crowd_group", "day"],
    ),
    (
        "petition",
        &[
            "type",
            "field",
            "round",
            "eligibility",
            "jurisdiction",
            "status",
            "channel",
            "classified",
            "processed",
        ],
    ),
    ("case", &["type", "field", "round", "status", "outcome"]),
    ("schedule", &["receiver", "head", "day"]),
];
/// Numbers each kind has.
const NUMBERS: [(&str, &[&str]); 4] = [
    ("visit", &["persons"]),
    ("petition", &["signers"]),
    (
        "case",
        &[
            "money_to_recover_million_vnd",
            "land_to_recover_m2",
            "money_recovered_million_vnd",
            "land_recovered_m2",
        ],
    ),
    ("schedule", &[]),
];

fn names(table: &[(&str, &'static [&'static str])], kind: &str) -> &'static [&'static str] {
    table
        .iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, n)| *n)
        .unwrap_or(&[])
}

impl FormDef {
    /// Reads and checks a definition: numbers unique and in order, every column filled one
    /// way, every field, date and number one its kind has, every sum naming columns of the
    /// form that come before or after it without a loop.
    pub fn parse(text: &str) -> Result<FormDef, FormError> {
        let form: FormDef = toml::from_str(text).map_err(|e| FormError {
            form: "?".into(),
            message: e.to_string(),
        })?;
        form.check()?;
        Ok(form)
    }

    fn fail(&self, message: String) -> FormError {
        FormError {
            form: self.code.clone(),
            message,
        }
    }

    fn check(&self) -> Result<(), FormError> {
        for (i, c) in self.columns.iter().enumerate() {
            if c.number as usize != i + 1 {
                return Err(self.fail(format!(
                    "column {} is numbered {}: columns run 1, 2, 3…",
                    i + 1,
                    c.number
                )));
            }
            let ways = [
                c.count.is_some(),
                !c.sum.is_empty(),
                c.not_recorded.is_some(),
            ];
            if ways.iter().filter(|w| **w).count() != 1 {
                return Err(self.fail(format!(
                    "column {}: exactly one of count, sum, not_recorded",
                    c.number
                )));
            }
            if let Some(kind) = &c.count {
                if !DATES.iter().any(|(k, _)| k == kind) {
                    return Err(self.fail(format!(
                        "column {}: count {kind:?}: visit, petition, case or schedule",
                        c.number
                    )));
                }
                for field in c.filter.keys().chain(c.distinct.iter()) {
                    if !names(&FIELDS, kind).contains(&field.as_str()) {
                        return Err(self.fail(format!(
                            "column {}: a {kind} has no field {field:?} (it has {:?})",
                            c.number,
                            names(&FIELDS, kind)
                        )));
                    }
                }
                for date in c.date.iter().chain(c.pending_until.iter()) {
                    if !names(&DATES, kind).contains(&date.as_str()) {
                        return Err(self.fail(format!(
                            "column {}: a {kind} has no date {date:?}",
                            c.number
                        )));
                    }
                }
                if let Some(m) = &c.measure
                    && !names(&NUMBERS, kind).contains(&m.as_str())
                {
                    return Err(
                        self.fail(format!("column {}: a {kind} has no number {m:?}", c.number))
                    );
                }
            }
            for n in &c.sum {
                if *n == 0 || *n as usize > self.columns.len() || *n == c.number {
                    return Err(self.fail(format!(
                        "column {}: sum names column {n}, not another column of the form",
                        c.number
                    )));
                }
            }
        }
        // A sum of sums must end: each column's depth is bounded by the column count.
        for c in &self.columns {
            let mut stack: Vec<(u32, usize)> = vec![(c.number, 0)];
            while let Some((n, depth)) = stack.pop() {
                if depth > self.columns.len() {
                    return Err(self.fail(format!("column {}: its sums loop", c.number)));
                }
                for m in &self.columns[n as usize - 1].sum {
                    stack.push((*m, depth + 1));
                }
            }
        }
        Ok(())
    }

    /// Whether the form is the one for a period ending on `end`.
    pub fn applies_to(&self, end: NaiveDate) -> bool {
        self.valid_from.is_none_or(|from| end >= from)
            && self.valid_until.is_none_or(|until| end < until)
    }

    /// The values of one row: each column's figure over `facts` (the row's records) in
    /// `period`; none for a column whose input is not recorded, or a sum of one.
    pub fn row(&self, facts: &[Fact], period: Period) -> Vec<Option<f64>> {
        let mut values: Vec<Option<Option<f64>>> = vec![None; self.columns.len()];
        for i in 0..self.columns.len() {
            self.value(i, facts, period, &mut values);
        }
        values.into_iter().map(Option::flatten).collect()
    }

    fn value(
        &self,
        i: usize,
        facts: &[Fact],
        period: Period,
        memo: &mut Vec<Option<Option<f64>>>,
    ) -> Option<f64> {
        if let Some(v) = memo[i] {
            return v;
        }
        let c = &self.columns[i];
        let v = if c.not_recorded.is_some() {
            None
        } else if !c.sum.is_empty() {
            let mut total = Some(0.0);
            for n in &c.sum {
                total = match (total, self.value(*n as usize - 1, facts, period, memo)) {
                    (Some(t), Some(v)) => Some(t + v),
                    _ => None,
                };
            }
            total
        } else {
            Some(count(c, facts, period))
        };
        memo[i] = Some(v);
        v
    }
}

/// A counted column's figure.
fn count(c: &ColumnDef, facts: &[Fact], period: Period) -> f64 {
    let kind = c.count.as_deref().unwrap_or_default();
    let date = c
        .date
        .as_deref()
        .unwrap_or_else(|| names(&DATES, kind).first().copied().unwrap_or_default());
    let mut distinct = std::collections::BTreeSet::new();
    let mut total = 0.0;
    for f in facts.iter().filter(|f| f.kind == kind) {
        let counted = match &c.pending_until {
            Some(until) => {
                f.dates.get(date).is_some_and(|d| *d <= period.end)
                    && f.dates
                        .get(until.as_str())
                        .is_none_or(|d| *d >= period.start)
            }
            None => f
                .dates
                .get(date)
                .is_some_and(|d| *d >= period.start && *d <= period.end),
        };
        if !counted
            || !c.filter.iter().all(|(field, accepted)| {
                f.fields
                    .get(field.as_str())
                    .is_some_and(|v| accepted.iter().any(|a| a == v))
            })
        {
            continue;
        }
        if let Some(field) = &c.distinct {
            if let Some(v) = f.fields.get(field.as_str()) {
                distinct.insert(v.clone());
            }
            continue;
        }
        total += match &c.measure {
            Some(m) => f.numbers.get(m.as_str()).copied().unwrap_or(0.0),
            None => 1.0,
        };
    }
    if c.distinct.is_some() {
        distinct.len() as f64
    } else {
        total
    }
}

/// The forms this build knows, from the definition files in `server/forms/`.
pub const BUILT_IN: [(&str, &str); 6] = [
    (
        "01-TCD.toml",
        include_str!("../../../forms/tt06-2025/01-TCD.toml"),
    ),
    (
        "02-XLD.toml",
        include_str!("../../../forms/tt06-2025/02-XLD.toml"),
    ),
    (
        "03-GQKN.toml",
        include_str!("../../../forms/tt06-2025/03-GQKN.toml"),
    ),
    (
        "04-GQTC.toml",
        include_str!("../../../forms/tt06-2025/04-GQTC.toml"),
    ),
    (
        "05-KQTH.toml",
        include_str!("../../../forms/tt06-2025/05-KQTH.toml"),
    ),
    (
        "06-QLKNTC.toml",
        include_str!("../../../forms/tt06-2025/06-QLKNTC.toml"),
    ),
];

/// A set of forms: the built-in ones, each replaced by a definition of the same code and
/// circular given in a directory.
#[derive(Debug, Clone, Default)]
pub struct FormSet {
    pub forms: Vec<FormDef>,
}

impl FormSet {
    /// The built-in forms, with `extra` (file name, text) replacing or adding to them.
    pub fn with(extra: &[(String, String)]) -> Result<FormSet, FormError> {
        let mut forms: Vec<FormDef> = Vec::new();
        let built_in = BUILT_IN.iter().map(|(n, t)| (n.to_string(), t.to_string()));
        for (name, text) in built_in.chain(extra.iter().cloned()) {
            let form = FormDef::parse(&text).map_err(|e| FormError {
                form: name.clone(),
                message: e.to_string(),
            })?;
            forms.retain(|f| !(f.code == form.code && f.circular == form.circular));
            forms.push(form);
        }
        Ok(FormSet { forms })
    }

    /// The form `code` for a period ending on `end`.
    pub fn find(&self, code: &str, end: NaiveDate) -> Option<&FormDef> {
        self.forms
            .iter()
            .find(|f| f.code.eq_ignore_ascii_case(code) && f.applies_to(end))
    }

    /// The codes known, for an error message.
    pub fn codes(&self) -> Vec<String> {
        let mut codes: Vec<String> = self.forms.iter().map(|f| f.code.clone()).collect();
        codes.sort();
        codes.dedup();
        codes
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const MINI: &str = r#"
code = "T"
circular = "x"
title = "T"
[[columns]]
number = 1
label = "all"
sum = [2, 3]
[[columns]]
number = 2
label = "regular"
count = "visit"
where = { kind = ["regular"] }
[[columns]]
number = 3
label = "unknown"
not_recorded = "not captured"
"#;

    #[test]
    fn the_built_in_forms_parse_with_their_column_counts() {
        let set = FormSet::with(&[]).unwrap();
        let end = NaiveDate::from_ymd_opt(2026, 9, 30).unwrap();
        for (code, columns) in [
            ("01/TCD", 21),
            ("02/XLD", 25),
            ("03/GQKN", 23),
            ("04/GQTC", 25),
            ("05/KQTH", 31),
            ("06/QLKNTC", 17),
        ] {
            assert_eq!(
                set.find(code, end).unwrap().columns.len(),
                columns,
                "{code}"
            );
        }
    }

    #[test]
    fn a_sum_over_a_column_not_recorded_is_not_recorded() {
        let form = FormDef::parse(MINI).unwrap();
        let period = Period {
            start: NaiveDate::from_ymd_opt(2019, 1, 1).unwrap(),
            end: NaiveDate::from_ymd_opt(2019, 12, 31).unwrap(),
        };
        let mut f = Fact {
            kind: "visit",
            ..Default::default()
        };
        f.fields.insert("kind", "regular".into());
        f.dates
            .insert("visit", NaiveDate::from_ymd_opt(2019, 5, 1).unwrap());
        assert_eq!(form.row(&[f], period), vec![None, Some(1.0), None]);
    }

    #[test]
    fn malformed_definitions_are_refused_with_the_column() {
        for (bad, says) in [
            (MINI.replace("number = 3", "number = 4"), "numbered 4"),
            (
                MINI.replace("sum = [2, 3]", "sum = [1]"),
                "not another column",
            ),
            (
                MINI.replace("kind = [", "colour = ["),
                "no field \"colour\"",
            ),
            (
                MINI.replace("count = \"visit\"", "count = \"visit\"\nsum = [3]"),
                "exactly one",
            ),
        ] {
            let e = FormDef::parse(&bad).unwrap_err().to_string();
            assert!(e.contains(says), "{e}");
        }
    }
}
