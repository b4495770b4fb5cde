//! `tiepdan.v1.JournalService`.

use tiepdan_proto::v1::{self as pb, journal_service_server::JournalService};
use tonic::{Request, Response, Status};

use super::{Check, MAX_PAGE_SIZE};
use crate::app::App;

/// Handlers of the journal service.
pub struct JournalApi {
    pub app: App,
}

#[tonic::async_trait]
impl JournalService for JournalApi {
    async fn list_journal_events(
        &self,
        request: Request<pb::ListJournalEventsRequest>,
    ) -> Result<Response<pb::ListJournalEventsResponse>, Status> {
        let req = request.into_inner();
        let mut c = Check::new();
        let origin = if req.origin_unit.is_empty() {
            self.app.unit().code.clone()
        } else {
            c.v.unit_code("origin_unit", &req.origin_unit);
            req.origin_unit.clone()
        };
        let (size, _) = c.page(req.page_size, "");
        c.finish()?;
        let (events, last_sequence) = self
            .app
            .journal(&origin, req.after_sequence, size.min(MAX_PAGE_SIZE))
            .await?;
        Ok(Response::new(pb::ListJournalEventsResponse {
            events,
            last_sequence,
        }))
    }
}
