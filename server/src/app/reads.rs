//! Reads: single records, pages of listings with opaque cursors, the overdue list and the
//! journal.

use chrono::{DateTime, NaiveDate, Utc};
use tiepdan_proto::v1 as pb;

use super::App;
use crate::domain::DomainError;
use crate::domain::deadlines::{self};
use crate::domain::model::{
    Case, Conclusion, ConclusionStatus, Petition, Petitioner, ScheduleEntry, Visit,
};
use crate::storage::journal;
use crate::storage::records::{self as repo, CaseFilter, PetitionFilter, to_us};

/// One page of a listing.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// A petition or case past its limit.
#[derive(Debug, Clone)]
pub enum Overdue {
    Petition(Petition),
    Case(Case),
}

impl Overdue {
    fn key(&self) -> (NaiveDate, &str) {
        match self {
            Overdue::Petition(p) => (p.due_date, &p.id),
            Overdue::Case(c) => (c.due_date, &c.id),
        }
    }
}

impl App {
    /// One petition with its petitioner's details.
    pub async fn petition(&self, id: &str) -> Result<(Petition, Option<Petitioner>), DomainError> {
        let db = self.store().reader();
        let p = repo::find_petition(db, id)
            .await?
            .ok_or_else(|| DomainError::NotFound {
                kind: "petition",
                id: id.to_string(),
            })?;
        let person = repo::find_petitioner(db, id).await?;
        Ok((p, person))
    }

    /// One case.
    pub async fn case(&self, id: &str) -> Result<Case, DomainError> {
        repo::find_case(self.store().reader(), id)
            .await?
            .ok_or_else(|| DomainError::NotFound {
                kind: "case",
                id: id.to_string(),
            })
    }

    /// A page of visits.
    pub async fn visits(
        &self,
        start: Option<DateTime<Utc>>,
        end: Option<DateTime<Utc>>,
        cursor: Option<&str>,
        limit: u64,
    ) -> Result<Page<Visit>, DomainError> {
        let after = cursor.map(decode_time_cursor).transpose()?;
        let mut items =
            repo::list_visits(self.store().reader(), start, end, after.as_ref(), limit + 1).await?;
        Ok(page(&mut items, limit, |v| {
            time_cursor(v.visit_time, &v.id)
        }))
    }

    /// A page of the schedule.
    pub async fn schedule(
        &self,
        start: Option<DateTime<Utc>>,
        end: Option<DateTime<Utc>>,
        cursor: Option<&str>,
        limit: u64,
    ) -> Result<Page<ScheduleEntry>, DomainError> {
        let after = cursor.map(decode_time_cursor).transpose()?;
        let mut items =
            repo::list_schedule(self.store().reader(), start, end, after.as_ref(), limit + 1)
                .await?;
        Ok(page(&mut items, limit, |e| {
            time_cursor(e.start_time, &e.id)
        }))
    }

    /// A page of conclusions.
    pub async fn conclusions(
        &self,
        status: Option<ConclusionStatus>,
        cursor: Option<&str>,
        limit: u64,
    ) -> Result<Page<Conclusion>, DomainError> {
        let after = cursor.map(decode_time_cursor).transpose()?;
        let mut items =
            repo::list_conclusions(self.store().reader(), status, after.as_ref(), limit + 1)
                .await?;
        Ok(page(&mut items, limit, |c| {
            time_cursor(c.conclusion_time, &c.id)
        }))
    }

    /// A page of petitions.
    pub async fn petitions(
        &self,
        filter: &PetitionFilter,
        cursor: Option<&str>,
        limit: u64,
    ) -> Result<Page<Petition>, DomainError> {
        let after = cursor.map(decode_time_cursor).transpose()?;
        let mut items =
            repo::list_petitions(self.store().reader(), filter, after.as_ref(), limit + 1).await?;
        Ok(page(&mut items, limit, |p| {
            time_cursor(p.received_time, &p.id)
        }))
    }

    /// A page of cases.
    pub async fn cases(
        &self,
        filter: &CaseFilter,
        cursor: Option<&str>,
        limit: u64,
    ) -> Result<Page<Case>, DomainError> {
        let after = cursor.map(decode_time_cursor).transpose()?;
        let mut items =
            repo::list_cases(self.store().reader(), filter, after.as_ref(), limit + 1).await?;
        Ok(page(&mut items, limit, |c| {
            time_cursor(c.accept_time, &c.id)
        }))
    }

    /// Petitions and cases past their limit at `now`, most overdue first (earliest due date),
    /// then by id.
    pub async fn overdue(
        &self,
        now: DateTime<Utc>,
        cursor: Option<&str>,
        limit: u64,
    ) -> Result<Page<Overdue>, DomainError> {
        let after = cursor.map(decode_date_cursor).transpose()?;
        let today = deadlines::local_date(now);
        let db = self.store().reader();
        let petitions = repo::overdue_petitions(db, today, after.as_ref(), limit + 1).await?;
        let cases = repo::overdue_cases(db, today, after.as_ref(), limit + 1).await?;
        let mut items: Vec<Overdue> = petitions
            .into_iter()
            .map(Overdue::Petition)
            .chain(cases.into_iter().map(Overdue::Case))
            .collect();
        items.sort_by(|a, b| a.key().cmp(&b.key()));
        items.truncate(usize::try_from(limit + 1).unwrap_or(usize::MAX));
        Ok(page(&mut items, limit, |o| {
            let (date, id) = o.key();
            format!("{}|{id}", date.format("%Y-%m-%d"))
        }))
    }

    /// Journal events of `origin` after `after`.
    pub async fn journal(
        &self,
        origin: &str,
        after: u64,
        limit: u64,
    ) -> Result<(Vec<pb::JournalEvent>, u64), DomainError> {
        let db = self.store().reader();
        let events = journal::read(db, origin, after, limit).await?;
        let last = journal::last_sequence(db, origin).await?;
        Ok((events, last))
    }
}

pub(super) fn page<T>(items: &mut Vec<T>, limit: u64, cursor: impl Fn(&T) -> String) -> Page<T> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let next_cursor = if items.len() > limit {
        items.truncate(limit);
        items.last().map(cursor)
    } else {
        None
    };
    Page {
        items: std::mem::take(items),
        next_cursor,
    }
}

fn time_cursor(t: DateTime<Utc>, id: &str) -> String {
    format!("{}|{id}", to_us(t))
}

pub(super) fn bad_cursor() -> DomainError {
    DomainError::invalid("page_token", "not a page token of this listing")
}

fn decode_time_cursor(token: &str) -> Result<(i64, String), DomainError> {
    let (us, id) = token.split_once('|').ok_or_else(bad_cursor)?;
    let us = us.parse().map_err(|_| bad_cursor())?;
    Ok((us, id.to_string()))
}

fn decode_date_cursor(token: &str) -> Result<(NaiveDate, String), DomainError> {
    let (date, id) = token.split_once('|').ok_or_else(bad_cursor)?;
    let date = NaiveDate::parse_from_str(date, "%Y-%m-%d").map_err(|_| bad_cursor())?;
    Ok((date, id.to_string()))
}
