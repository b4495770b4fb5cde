//! `tiepdan.v1.CaseService`.

use tiepdan_proto::v1::{self as pb, case_service_server::CaseService};
use tonic::{Request, Response, Status};

use super::{Check, checked, encode_token, opt_string};
use crate::app::{App, RequestKey};
use crate::domain::deadlines;
use crate::domain::lifecycle::CaseCommand;
use crate::domain::model::{Case, CaseOutcome, CaseStatus, PetitionType};
use crate::domain::validate::{MAX_NAME, MAX_TEXT};
use crate::storage::records::CaseFilter;
use crate::wire;

/// Handlers of the case service.
pub struct CaseApi {
    pub app: App,
}

/// Largest area one step can recover, m² (the whole of Vietnam is about 3.3e11 m²).
const MAX_LAND_M2: f64 = 1e12;

impl CaseApi {
    fn case(&self, c: &Case) -> pb::Case {
        wire::case(
            c,
            self.app.deadlines(),
            self.app.remote(),
            Some(chrono::Utc::now()),
        )
    }

    async fn change(
        &self,
        key: RequestKey,
        case_id: &str,
        command: CaseCommand,
    ) -> Result<pb::Case, Status> {
        let case = self.app.change_case(&key, case_id, command).await?;
        Ok(self.case(&case))
    }
}

fn amounts(c: &mut Check, money_field: &str, money: i64, land_field: &str, land: f64) {
    c.v.check(money >= 0, money_field, "must not be negative");
    c.v.check(
        land.is_finite() && (0.0..=MAX_LAND_M2).contains(&land),
        land_field,
        "a finite, non-negative area in square metres",
    );
}

#[tonic::async_trait]
impl CaseService for CaseApi {
    async fn get_case(
        &self,
        request: Request<pb::GetCaseRequest>,
    ) -> Result<Response<pb::GetCaseResponse>, Status> {
        let req = request.into_inner();
        let mut c = Check::new();
        c.v.id("case_id", &req.case_id, true);
        c.finish()?;
        let case = self.app.case(&req.case_id).await?;
        Ok(Response::new(pb::GetCaseResponse {
            case: Some(self.case(&case)),
        }))
    }

    async fn list_cases(
        &self,
        request: Request<pb::ListCasesRequest>,
    ) -> Result<Response<pb::ListCasesResponse>, Status> {
        let req = request.into_inner();
        let mut c = Check::new();
        let status = c.optional::<CaseStatus>("status", req.status);
        let case_type = c.optional::<PetitionType>("type", req.r#type);
        if !req.owner_unit.is_empty() {
            c.v.unit_code("owner_unit", &req.owner_unit);
        }
        let start = c.bound("start_time", req.start_time.as_ref());
        let end = c.bound("end_time", req.end_time.as_ref());
        let (size, token) = c.page(req.page_size, &req.page_token);
        let now = c.now;
        c.finish()?;
        let filter = CaseFilter {
            status,
            case_type,
            owner_unit: opt_string(req.owner_unit),
            start,
            end,
            due_before: req.overdue_only.then(|| deadlines::local_date(now)),
        };
        let page = self.app.cases(&filter, token.as_deref(), size).await?;
        Ok(Response::new(pb::ListCasesResponse {
            cases: page.items.iter().map(|k| self.case(k)).collect(),
            next_page_token: encode_token(page.next_cursor),
        }))
    }

    async fn extend_case(
        &self,
        request: Request<pb::ExtendCaseRequest>,
    ) -> Result<Response<pb::ExtendCaseResponse>, Status> {
        let req = request.into_inner();
        let mut c = Check::new();
        let key = c.key("ExtendCase", &req.request_id, &req);
        c.v.id("case_id", &req.case_id, true);
        c.v.text("note", &req.note, MAX_TEXT, true);
        c.finish()?;
        let command = CaseCommand::Extend {
            max_denunciation_extensions: self.app.deadlines().max_denunciation_extensions,
        };
        let case = self.change(key, &req.case_id, command).await?;
        Ok(Response::new(pb::ExtendCaseResponse { case: Some(case) }))
    }

    async fn resolve_case(
        &self,
        request: Request<pb::ResolveCaseRequest>,
    ) -> Result<Response<pb::ResolveCaseResponse>, Status> {
        let req = request.into_inner();
        let mut c = Check::new();
        let key = c.key("ResolveCase", &req.request_id, &req);
        c.v.id("case_id", &req.case_id, true);
        let outcome = c.required::<CaseOutcome>("outcome", req.outcome);
        let withdrawn = outcome == Some(CaseOutcome::Withdrawn);
        c.v.text(
            "decision_number",
            &req.decision_number,
            MAX_NAME,
            !withdrawn,
        );
        let at = c.past("decision_time", req.decision_time.as_ref());
        amounts(
            &mut c,
            "money_to_recover_vnd",
            req.money_to_recover_vnd,
            "land_to_recover_m2",
            req.land_to_recover_m2,
        );
        c.finish()?;
        let command = CaseCommand::Resolve {
            outcome: checked(outcome, "outcome")?,
            decision_number: req.decision_number,
            decision_time: checked(at, "decision_time")?,
            money_to_recover_vnd: req.money_to_recover_vnd,
            land_to_recover_m2: req.land_to_recover_m2,
        };
        let case = self.change(key, &req.case_id, command).await?;
        Ok(Response::new(pb::ResolveCaseResponse { case: Some(case) }))
    }

    async fn record_case_in_force(
        &self,
        request: Request<pb::RecordCaseInForceRequest>,
    ) -> Result<Response<pb::RecordCaseInForceResponse>, Status> {
        let req = request.into_inner();
        let mut c = Check::new();
        let key = c.key("RecordCaseInForce", &req.request_id, &req);
        c.v.id("case_id", &req.case_id, true);
        let at = c.past("effective_time", req.effective_time.as_ref());
        c.finish()?;
        let command = CaseCommand::InForce {
            effective_time: checked(at, "effective_time")?,
        };
        let case = self.change(key, &req.case_id, command).await?;
        Ok(Response::new(pb::RecordCaseInForceResponse {
            case: Some(case),
        }))
    }

    async fn record_enforcement(
        &self,
        request: Request<pb::RecordEnforcementRequest>,
    ) -> Result<Response<pb::RecordEnforcementResponse>, Status> {
        let req = request.into_inner();
        let mut c = Check::new();
        let key = c.key("RecordEnforcement", &req.request_id, &req);
        c.v.id("case_id", &req.case_id, true);
        let at = c.past("enforcement_time", req.enforcement_time.as_ref());
        amounts(
            &mut c,
            "money_recovered_vnd",
            req.money_recovered_vnd,
            "land_recovered_m2",
            req.land_recovered_m2,
        );
        c.finish()?;
        let command = CaseCommand::Enforce {
            money_recovered_vnd: req.money_recovered_vnd,
            land_recovered_m2: req.land_recovered_m2,
            completed: req.completed,
            enforcement_time: checked(at, "enforcement_time")?,
        };
        let case = self.change(key, &req.case_id, command).await?;
        Ok(Response::new(pb::RecordEnforcementResponse {
            case: Some(case),
        }))
    }
}
