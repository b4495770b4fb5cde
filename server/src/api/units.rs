//! `tiepdan.v1.UnitService`.

use tiepdan_proto::v1::{self as pb, unit_service_server::UnitService};
use tonic::{Request, Response, Status};

use super::{Check, checked, encode_token, opt_string};
use crate::app::App;
use crate::domain::model::{Unit, UnitLevel};
use crate::domain::validate::MAX_NAME;
use crate::wire;

/// Handlers of the unit service.
pub struct UnitApi {
    pub app: App,
}

#[tonic::async_trait]
impl UnitService for UnitApi {
    async fn get_unit(
        &self,
        _request: Request<pb::GetUnitRequest>,
    ) -> Result<Response<pb::GetUnitResponse>, Status> {
        Ok(Response::new(pb::GetUnitResponse {
            unit: Some(wire::unit(&self.app.unit())),
        }))
    }

    async fn list_units(
        &self,
        request: Request<pb::ListUnitsRequest>,
    ) -> Result<Response<pb::ListUnitsResponse>, Status> {
        let req = request.into_inner();
        let mut check = Check::new();
        let (size, token) = check.page(req.page_size, &req.page_token);
        let offset = match token.as_deref().map(str::parse::<usize>) {
            None => 0,
            Some(Ok(n)) => n,
            Some(Err(_)) => {
                check
                    .v
                    .add("page_token", "not a page token of this listing");
                0
            }
        };
        check.finish()?;
        let units = self.app.subtree().await?;
        let size = usize::try_from(size).unwrap_or(usize::MAX);
        let end = offset.saturating_add(size).min(units.len());
        let page = units.get(offset.min(end)..end).unwrap_or_default();
        let next = (end < units.len()).then(|| end.to_string());
        Ok(Response::new(pb::ListUnitsResponse {
            units: page.iter().map(wire::unit).collect(),
            next_page_token: encode_token(next),
        }))
    }

    async fn register_unit(
        &self,
        request: Request<pb::RegisterUnitRequest>,
    ) -> Result<Response<pb::RegisterUnitResponse>, Status> {
        let req = request.into_inner();
        let mut check = Check::new();
        let key = check.key("RegisterUnit", &req.request_id, &req);
        let unit = match &req.unit {
            None => {
                check.v.add("unit", "required");
                None
            }
            Some(u) => {
                check.v.unit_code("unit.code", &u.code);
                check.v.text("unit.name", &u.name, MAX_NAME, true);
                check.v.unit_code("unit.parent_code", &u.parent_code);
                let level = check.required::<UnitLevel>("unit.level", u.level);
                level.map(|level| Unit {
                    code: u.code.clone(),
                    name: u.name.trim().to_string(),
                    level,
                    parent_code: opt_string(u.parent_code.clone()),
                    remote: u.remote,
                })
            }
        };
        check.finish()?;
        let unit = checked(unit, "unit")?;
        let unit = self.app.register_unit(&key, unit).await?;
        Ok(Response::new(pb::RegisterUnitResponse {
            unit: Some(wire::unit(&unit)),
        }))
    }

    async fn reorganise(
        &self,
        request: Request<pb::ReorganiseRequest>,
    ) -> Result<Response<pb::ReorganiseResponse>, Status> {
        let req = request.into_inner();
        let mut check = Check::new();
        let key = check.key("Reorganise", &req.request_id, &req);
        check.finish()?;
        let Some(r) = &req.reorganisation else {
            return Err(crate::domain::DomainError::invalid("reorganisation", "required").into());
        };
        let mut r = r.clone();
        if r.authority_code.is_empty() {
            r.authority_code = self.app.code();
        }
        let r = wire::inbound::reorganisation(&r)?;
        let r = self.app.reorganise(&key, r).await?;
        Ok(Response::new(pb::ReorganiseResponse {
            reorganisation: Some(wire::reorganisation(&r)),
        }))
    }

    async fn get_unit_history(
        &self,
        request: Request<pb::GetUnitHistoryRequest>,
    ) -> Result<Response<pb::GetUnitHistoryResponse>, Status> {
        let req = request.into_inner();
        let code = if req.unit_code.is_empty() {
            self.app.code()
        } else {
            req.unit_code
        };
        let mut check = Check::new();
        check.v.unit_code("unit_code", &code);
        check.finish()?;
        let versions = self
            .app
            .unit_history(&code)
            .ok_or_else(|| Status::not_found(format!("unit {code} is not known to this node")))?;
        let tree = self.app.tree();
        let predecessors = tree
            .history()
            .predecessors(&code)
            .into_iter()
            .map(|v| pb::UnitVersion {
                unit: Some(wire::unit(&v.unit)),
                valid_until: v
                    .from
                    .and_then(|d| d.pred_opt())
                    .map(|d| d.to_string())
                    .unwrap_or_default(),
                successor_code: v.successor.clone().unwrap_or_default(),
                reorganisation_id: v.reorganisation.clone(),
                valid_from: String::new(),
            })
            .collect();
        Ok(Response::new(pb::GetUnitHistoryResponse {
            versions: versions
                .iter()
                .map(|(v, next)| wire::unit_version(v, *next))
                .collect(),
            predecessors,
        }))
    }

    async fn list_reorganisations(
        &self,
        _request: Request<pb::ListReorganisationsRequest>,
    ) -> Result<Response<pb::ListReorganisationsResponse>, Status> {
        Ok(Response::new(pb::ListReorganisationsResponse {
            reorganisations: self.app.reorganisations().await?,
        }))
    }
}
