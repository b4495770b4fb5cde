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
}
