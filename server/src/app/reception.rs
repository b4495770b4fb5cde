//! Reception: visits, the published schedule of the heads' reception days, and conclusions.

use chrono::{DateTime, Utc};
use tiepdan_proto::v1 as pb;

use super::write::{Begun, RequestKey};
use super::{App, now_us};
use crate::domain::DomainError;
use crate::domain::deadlines::{self};
use crate::domain::model::{
    CROWD_GROUP_MIN_PERSONS, Conclusion, ConclusionStatus, MatterKind, ReceiverRole,
    ReceptionAction, ReceptionKind, ScheduleEntry, Visit,
};
use crate::domain::tally::{self, Delta};
use crate::storage::records::{self as repo};
use crate::wire;

/// Input of `record_visit`.
#[derive(Debug, Clone)]
pub struct NewVisit {
    pub visit_time: DateTime<Utc>,
    pub kind: ReceptionKind,
    pub receiver_role: ReceiverRole,
    pub receiver_name: String,
    pub persons: u32,
    pub matter: MatterKind,
    pub action: ReceptionAction,
    pub summary: String,
    pub schedule_entry_id: Option<String>,
}

/// Input of `publish_schedule`.
#[derive(Debug, Clone)]
pub struct NewScheduleEntry {
    pub receiver_role: ReceiverRole,
    pub receiver_name: String,
    pub start_time: DateTime<Utc>,
    pub end_time: DateTime<Utc>,
    pub location: String,
}

/// Input of `record_conclusion`.
#[derive(Debug, Clone)]
pub struct NewConclusion {
    pub visit_id: String,
    pub text: String,
    pub assignee: String,
    pub conclusion_time: DateTime<Utc>,
}

impl App {
    /// Records a reception visit.
    pub async fn record_visit(
        &self,
        key: &RequestKey,
        input: NewVisit,
    ) -> Result<Visit, DomainError> {
        if input.kind == ReceptionKind::Periodic && !input.receiver_role.is_head() {
            return Err(DomainError::invalid(
                "receiver_role",
                "a periodic reception is a head's scheduled session",
            ));
        }
        let tx = match self.begin(key).await? {
            Begun::Replay(v) => return Ok(v),
            Begun::Fresh(tx) => tx,
        };
        if let Some(id) = &input.schedule_entry_id
            && repo::find_schedule(&tx, id).await?.is_none()
        {
            return Err(DomainError::NotFound {
                kind: "schedule entry",
                id: id.clone(),
            });
        }
        let now = now_us();
        let visit = Visit {
            id: self.next_id(&tx, "V").await?,
            unit_code: self.code().to_string(),
            visit_time: input.visit_time,
            kind: input.kind,
            receiver_role: input.receiver_role,
            receiver_name: input.receiver_name,
            persons: input.persons,
            crowd_group: input.persons >= CROWD_GROUP_MIN_PERSONS,
            matter: input.matter,
            action: input.action,
            summary: input.summary,
            schedule_entry_id: input.schedule_entry_id,
            create_time: now,
        };
        repo::insert_visit(&tx, &visit).await?;
        self.log(
            &tx,
            now,
            key.method,
            pb::journal_event::Change::VisitRecorded(wire::visit(&visit)),
        )
        .await?;
        let mut delta = Delta::default();
        delta.record(&self.tree(), &[], &tally::visit(&visit));
        self.finish(tx, key, &visit, now, delta).await?;
        Ok(visit)
    }

    /// Publishes a head's reception day.
    pub async fn publish_schedule(
        &self,
        key: &RequestKey,
        input: NewScheduleEntry,
    ) -> Result<ScheduleEntry, DomainError> {
        if !input.receiver_role.is_head() {
            return Err(DomainError::invalid(
                "receiver_role",
                "the published schedule is of heads' sessions, not staff",
            ));
        }
        if input.end_time <= input.start_time
            || deadlines::local_date(input.end_time) != deadlines::local_date(input.start_time)
        {
            return Err(DomainError::invalid(
                "end_time",
                "a session ends after it starts, on the same local day",
            ));
        }
        let tx = match self.begin(key).await? {
            Begun::Replay(v) => return Ok(v),
            Begun::Fresh(tx) => tx,
        };
        let now = now_us();
        let entry = ScheduleEntry {
            id: self.next_id(&tx, "S").await?,
            unit_code: self.code().to_string(),
            receiver_role: input.receiver_role,
            receiver_name: input.receiver_name,
            start_time: input.start_time,
            end_time: input.end_time,
            location: input.location,
        };
        repo::insert_schedule(&tx, &entry).await?;
        self.log(
            &tx,
            now,
            key.method,
            pb::journal_event::Change::SchedulePublished(wire::schedule_entry(&entry)),
        )
        .await?;
        self.finish(tx, key, &entry, now, Delta::default()).await?;
        Ok(entry)
    }

    /// Records a head's conclusion after a session.
    pub async fn record_conclusion(
        &self,
        key: &RequestKey,
        input: NewConclusion,
    ) -> Result<Conclusion, DomainError> {
        let tx = match self.begin(key).await? {
            Begun::Replay(v) => return Ok(v),
            Begun::Fresh(tx) => tx,
        };
        let visit = repo::find_visit(&tx, &input.visit_id)
            .await?
            .ok_or_else(|| DomainError::NotFound {
                kind: "visit",
                id: input.visit_id.clone(),
            })?;
        if !visit.receiver_role.is_head() {
            return Err(DomainError::precondition(
                "NOT_A_HEAD_SESSION",
                format!(
                    "visit {} was received by staff; conclusions are a head's",
                    visit.id
                ),
            ));
        }
        if input.conclusion_time < visit.visit_time {
            return Err(DomainError::invalid(
                "conclusion_time",
                "a conclusion cannot precede the visit",
            ));
        }
        let now = now_us();
        let conclusion = Conclusion {
            id: self.next_id(&tx, "K").await?,
            unit_code: self.code().to_string(),
            visit_id: visit.id,
            text: input.text,
            assignee: input.assignee,
            conclusion_time: input.conclusion_time,
            status: ConclusionStatus::Pending,
            progress_note: String::new(),
            done_time: None,
        };
        repo::insert_conclusion(&tx, &conclusion).await?;
        self.log(
            &tx,
            now,
            key.method,
            pb::journal_event::Change::ConclusionChanged(wire::conclusion(&conclusion)),
        )
        .await?;
        self.finish(tx, key, &conclusion, now, Delta::default())
            .await?;
        Ok(conclusion)
    }

    /// Records progress on a conclusion. Done is final.
    pub async fn update_conclusion(
        &self,
        key: &RequestKey,
        conclusion_id: &str,
        status: ConclusionStatus,
        note: String,
        at: DateTime<Utc>,
    ) -> Result<Conclusion, DomainError> {
        if status == ConclusionStatus::Pending {
            return Err(DomainError::invalid(
                "status",
                "progress is in progress or done",
            ));
        }
        let tx = match self.begin(key).await? {
            Begun::Replay(v) => return Ok(v),
            Begun::Fresh(tx) => tx,
        };
        let mut c = repo::find_conclusion(&tx, conclusion_id)
            .await?
            .ok_or_else(|| DomainError::NotFound {
                kind: "conclusion",
                id: conclusion_id.to_string(),
            })?;
        if c.status == ConclusionStatus::Done {
            return Err(DomainError::Transition {
                kind: "conclusion",
                id: c.id,
                state: ConclusionStatus::Done.as_str(),
                action: "update",
            });
        }
        if at < c.conclusion_time {
            return Err(DomainError::invalid(
                "update_time",
                "progress cannot precede the conclusion",
            ));
        }
        c.status = status;
        c.progress_note = note;
        if status == ConclusionStatus::Done {
            c.done_time = Some(at);
        }
        let now = now_us();
        repo::update_conclusion(&tx, &c).await?;
        self.log(
            &tx,
            now,
            key.method,
            pb::journal_event::Change::ConclusionChanged(wire::conclusion(&c)),
        )
        .await?;
        self.finish(tx, key, &c, now, Delta::default()).await?;
        Ok(c)
    }
}
