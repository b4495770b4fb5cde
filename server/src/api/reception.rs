//! `tiepdan.v1.ReceptionService`.

use tiepdan_proto::v1::{self as pb, reception_service_server::ReceptionService};
use tonic::{Request, Response, Status};

use super::{Check, checked, encode_token, opt_string};
use crate::app::{App, NewConclusion, NewScheduleEntry, NewVisit};
use crate::domain::model::{
    ConclusionStatus, MatterKind, ReceiverRole, ReceptionAction, ReceptionKind,
};
use crate::domain::validate::{MAX_NAME, MAX_TEXT};
use crate::wire;

/// Handlers of the reception service.
pub struct ReceptionApi {
    pub app: App,
}

/// Most persons one visit can record; a larger number is a typing error.
const MAX_PERSONS: u32 = 10_000;

#[tonic::async_trait]
impl ReceptionService for ReceptionApi {
    async fn record_visit(
        &self,
        request: Request<pb::RecordVisitRequest>,
    ) -> Result<Response<pb::RecordVisitResponse>, Status> {
        let req = request.into_inner();
        let mut c = Check::new();
        let key = c.key("RecordVisit", &req.request_id, &req);
        let visit_time = c.past("visit_time", req.visit_time.as_ref());
        let kind = c.required::<ReceptionKind>("kind", req.kind);
        let receiver_role = c.required::<ReceiverRole>("receiver_role", req.receiver_role);
        let matter = c.required::<MatterKind>("matter", req.matter);
        let action = c.required::<ReceptionAction>("action", req.action);
        c.v.check(
            (1..=MAX_PERSONS).contains(&req.persons),
            "persons",
            "between 1 and 10000",
        );
        c.v.text("receiver_name", &req.receiver_name, MAX_NAME, false);
        c.v.text("summary", &req.summary, MAX_TEXT, false);
        c.v.id("schedule_entry_id", &req.schedule_entry_id, false);
        c.finish()?;
        let visit = self
            .app
            .record_visit(
                &key,
                NewVisit {
                    visit_time: checked(visit_time, "visit_time")?,
                    kind: checked(kind, "kind")?,
                    receiver_role: checked(receiver_role, "receiver_role")?,
                    receiver_name: req.receiver_name,
                    persons: req.persons,
                    matter: checked(matter, "matter")?,
                    action: checked(action, "action")?,
                    summary: req.summary,
                    schedule_entry_id: opt_string(req.schedule_entry_id),
                },
            )
            .await?;
        Ok(Response::new(pb::RecordVisitResponse {
            visit: Some(wire::visit(&visit)),
        }))
    }

    async fn list_visits(
        &self,
        request: Request<pb::ListVisitsRequest>,
    ) -> Result<Response<pb::ListVisitsResponse>, Status> {
        let req = request.into_inner();
        let mut c = Check::new();
        let start = c.bound("start_time", req.start_time.as_ref());
        let end = c.bound("end_time", req.end_time.as_ref());
        let (size, token) = c.page(req.page_size, &req.page_token);
        c.finish()?;
        let page = self.app.visits(start, end, token.as_deref(), size).await?;
        Ok(Response::new(pb::ListVisitsResponse {
            visits: page.items.iter().map(wire::visit).collect(),
            next_page_token: encode_token(page.next_cursor),
        }))
    }

    async fn publish_schedule_entry(
        &self,
        request: Request<pb::PublishScheduleEntryRequest>,
    ) -> Result<Response<pb::PublishScheduleEntryResponse>, Status> {
        let req = request.into_inner();
        let mut c = Check::new();
        let key = c.key("PublishScheduleEntry", &req.request_id, &req);
        let role = c.required::<ReceiverRole>("receiver_role", req.receiver_role);
        let start = c.any_time("start_time", req.start_time.as_ref());
        let end = c.any_time("end_time", req.end_time.as_ref());
        c.v.text("receiver_name", &req.receiver_name, MAX_NAME, true);
        c.v.text("location", &req.location, MAX_NAME, true);
        c.finish()?;
        let entry = self
            .app
            .publish_schedule(
                &key,
                NewScheduleEntry {
                    receiver_role: checked(role, "receiver_role")?,
                    receiver_name: req.receiver_name,
                    start_time: checked(start, "start_time")?,
                    end_time: checked(end, "end_time")?,
                    location: req.location,
                },
            )
            .await?;
        Ok(Response::new(pb::PublishScheduleEntryResponse {
            entry: Some(wire::schedule_entry(&entry)),
        }))
    }

    async fn list_schedule_entries(
        &self,
        request: Request<pb::ListScheduleEntriesRequest>,
    ) -> Result<Response<pb::ListScheduleEntriesResponse>, Status> {
        let req = request.into_inner();
        let mut c = Check::new();
        let start = c.bound("start_time", req.start_time.as_ref());
        let end = c.bound("end_time", req.end_time.as_ref());
        let (size, token) = c.page(req.page_size, &req.page_token);
        c.finish()?;
        let page = self
            .app
            .schedule(start, end, token.as_deref(), size)
            .await?;
        Ok(Response::new(pb::ListScheduleEntriesResponse {
            entries: page.items.iter().map(wire::schedule_entry).collect(),
            next_page_token: encode_token(page.next_cursor),
        }))
    }

    async fn record_conclusion(
        &self,
        request: Request<pb::RecordConclusionRequest>,
    ) -> Result<Response<pb::RecordConclusionResponse>, Status> {
        let req = request.into_inner();
        let mut c = Check::new();
        let key = c.key("RecordConclusion", &req.request_id, &req);
        c.v.id("visit_id", &req.visit_id, true);
        c.v.text("text", &req.text, MAX_TEXT, true);
        c.v.text("assignee", &req.assignee, MAX_NAME, true);
        let at = c.past("conclusion_time", req.conclusion_time.as_ref());
        c.finish()?;
        let conclusion = self
            .app
            .record_conclusion(
                &key,
                NewConclusion {
                    visit_id: req.visit_id,
                    text: req.text,
                    assignee: req.assignee,
                    conclusion_time: checked(at, "conclusion_time")?,
                },
            )
            .await?;
        Ok(Response::new(pb::RecordConclusionResponse {
            conclusion: Some(wire::conclusion(&conclusion)),
        }))
    }

    async fn update_conclusion(
        &self,
        request: Request<pb::UpdateConclusionRequest>,
    ) -> Result<Response<pb::UpdateConclusionResponse>, Status> {
        let req = request.into_inner();
        let mut c = Check::new();
        let key = c.key("UpdateConclusion", &req.request_id, &req);
        c.v.id("conclusion_id", &req.conclusion_id, true);
        let status = c.required::<ConclusionStatus>("status", req.status);
        c.v.text("progress_note", &req.progress_note, MAX_TEXT, false);
        let at = c.past("update_time", req.update_time.as_ref());
        c.finish()?;
        let conclusion = self
            .app
            .update_conclusion(
                &key,
                &req.conclusion_id,
                checked(status, "status")?,
                req.progress_note,
                checked(at, "update_time")?,
            )
            .await?;
        Ok(Response::new(pb::UpdateConclusionResponse {
            conclusion: Some(wire::conclusion(&conclusion)),
        }))
    }

    async fn list_conclusions(
        &self,
        request: Request<pb::ListConclusionsRequest>,
    ) -> Result<Response<pb::ListConclusionsResponse>, Status> {
        let req = request.into_inner();
        let mut c = Check::new();
        let status = c.optional::<ConclusionStatus>("status", req.status);
        let (size, token) = c.page(req.page_size, &req.page_token);
        c.finish()?;
        let page = self.app.conclusions(status, token.as_deref(), size).await?;
        Ok(Response::new(pb::ListConclusionsResponse {
            conclusions: page.items.iter().map(wire::conclusion).collect(),
            next_page_token: encode_token(page.next_cursor),
        }))
    }
}
