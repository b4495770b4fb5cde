//! Counts the metrics endpoint reads at each scrape: overdue items by type.

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
