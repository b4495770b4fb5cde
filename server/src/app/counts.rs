//! Overdue counts: the items the metrics endpoint reads at each scrape, by type, and the
//! maintained point-in-time count the reports read, rebuilt once after its migration.

use chrono::{DateTime, Utc};

use super::App;
use crate::domain::DomainError;
use crate::domain::deadlines;
use crate::domain::model::PetitionType;
use crate::storage::records as repo;

/// Overdue items of one kind (`petition` or `case`) and type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverdueCount {
    pub kind: &'static str,
    /// A [`PetitionType`] name, `unclassified` (a petition not classified yet) or `unknown`
    /// (a value this build does not know: the labels stay a fixed set).
    pub petition_type: &'static str,
    pub count: u64,
}

fn type_name(stored: Option<&str>) -> &'static str {
    match stored {
        None => "unclassified",
        Some(text) => PetitionType::parse(text).map_or("unknown", PetitionType::as_str),
    }
}

impl App {
    /// Petitions and cases past their limit at `now` (as [`App::overdue`] lists them),
    /// counted by kind and type.
    pub async fn overdue_counts(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<OverdueCount>, DomainError> {
        let today = deadlines::local_date(now);
        let (petitions, cases) = repo::count_overdue(self.store().reader(), today).await?;
        let mut counts: Vec<OverdueCount> = Vec::new();
        let rows = petitions
            .iter()
            .map(|(t, n)| ("petition", type_name(t.as_deref()), *n))
            .chain(cases.iter().map(|(t, n)| ("case", type_name(Some(t)), *n)));
        for (kind, petition_type, n) in rows {
            let n = u64::try_from(n).unwrap_or(0);
            match counts
                .iter_mut()
                .find(|c| c.kind == kind && c.petition_type == petition_type)
            {
                Some(c) => c.count += n,
                None => counts.push(OverdueCount {
                    kind,
                    petition_type,
                    count: n,
                }),
            }
        }
        Ok(counts)
    }
}

impl App {
    /// Counts the point-in-time overdue metric from every case held, once, after the
    /// migration that replaced the old one asked for it (it needs the unit tree).
    pub(super) async fn rebuild_overdue_if_asked(&self) -> Result<(), DomainError> {
        let tx = self.store().begin_write().await?;
        if !crate::storage::records::take_marker(&tx, crate::storage::migration::OVERDUE_REBUILD)
            .await?
        {
            return Ok(());
        }
        let (_, _, cases) = crate::storage::reports::all_records(&tx).await?;
        let tree = self.tree();
        let mut delta = crate::domain::tally::Delta::default();
        for case in &cases {
            let overdue: Vec<_> = crate::domain::tally::case(case)
                .into_iter()
                .filter(|c| c.metric.starts_with("case.overdue."))
                .collect();
            delta.record(&tree, &[], &overdue);
        }
        crate::storage::records::flush_tally(&tx, delta).await?;
        self.store().commit(tx).await?;
        if !cases.is_empty() {
            tracing::info!(cases = cases.len(), "overdue counts rebuilt as of each day");
        }
        Ok(())
    }
}
