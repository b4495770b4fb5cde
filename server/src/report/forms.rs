//! The official forms, filled: one row per child unit (its subtree), the unit's own row and
//! the total, each computed by the form's definition over the records this node holds.

use std::collections::HashSet;

use crate::app::App;
use crate::domain::DomainError;
use crate::domain::forms::{self, Fact, FormDef};
use crate::domain::model::Unit;
use crate::domain::period::Period;
use crate::storage::reports::form_records;

/// What a row covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowKind {
    /// A child and the units below it.
    Child,
    /// The unit's own records.
    Own,
    /// The unit's whole subtree.
    Total,
}

/// One filled row.
#[derive(Debug, Clone)]
pub struct FormRow {
    pub kind: RowKind,
    pub unit: Unit,
    /// One value per column; none where the column is not recorded.
    pub values: Vec<Option<f64>>,
}

/// Form `code` of `unit_code` for `period`: the form in force at the period's end, and its
/// rows — the children in code order, the unit's own row, the total.
pub async fn form_report(
    app: &App,
    unit_code: &str,
    period: Period,
    code: &str,
) -> Result<(FormDef, Vec<FormRow>), DomainError> {
    // The rows of the tree as it stood at the period's end.
    let tree = app.tree().at(period.end);
    if !tree.is_within(unit_code, tree.root()) {
        return Err(DomainError::NotFound {
            kind: "unit in this node's subtree at the period's end",
            id: unit_code.to_string(),
        });
    }
    let set = app.forms();
    let form = set.find(code, period.end).cloned().ok_or_else(|| {
        DomainError::invalid(
            "form",
            format!(
                "no form {code:?} for a period ending {}; known: {}",
                period.end,
                set.codes().join(", ")
            ),
        )
    })?;
    let find = |code: &str| {
        app.unit_on(code, period.end)
            .ok_or_else(|| DomainError::NotFound {
                kind: "unit",
                id: code.to_string(),
            })
    };
    let units = tree.subtree(unit_code);
    let records = form_records(app.store().reader(), &units).await?;
    let facts: Vec<Fact> = records
        .visits
        .iter()
        .map(forms::visit_fact)
        .chain(records.petitions.iter().map(forms::petition_fact))
        .chain(records.cases.iter().map(forms::case_fact))
        .chain(records.schedules.iter().map(forms::schedule_fact))
        .collect();
    // A petition transferred in from a unit of the row was counted there already.
    let row = |scope: &HashSet<String>| {
        let held: Vec<Fact> = facts
            .iter()
            .filter(|f| {
                scope.contains(&f.unit)
                    && !f.source_unit.as_ref().is_some_and(|s| scope.contains(s))
            })
            .cloned()
            .collect();
        form.row(&held, period)
    };
    let mut rows = Vec::new();
    for child in tree.children(unit_code) {
        let scope: HashSet<String> = tree.subtree(&child).into_iter().collect();
        rows.push(FormRow {
            kind: RowKind::Child,
            values: row(&scope),
            unit: find(&child)?,
        });
    }
    let unit = find(unit_code)?;
    rows.push(FormRow {
        kind: RowKind::Own,
        values: row(&HashSet::from([unit_code.to_string()])),
        unit: unit.clone(),
    });
    rows.push(FormRow {
        kind: RowKind::Total,
        values: row(&units.iter().cloned().collect()),
        unit,
    });
    Ok((form, rows))
}
