//! `tiepdan.v1.ReportService`.

use std::pin::Pin;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tiepdan_proto::v1::{self as pb, report_service_server::ReportService};
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

use super::Check;
use crate::app::App;
use crate::domain::DomainError;
use crate::domain::period::{self, Calendar, Period};
use crate::domain::totals::Totals;
use crate::report::{self, Report};
use crate::wire;
use tokio_util::sync::CancellationToken;

/// Handlers of the report service.
#[derive(Clone)]
pub struct ReportApi {
    pub app: App,
    /// Ends the watches when the node stops.
    pub shutdown: CancellationToken,
}

/// Shortest interval between two reports of a watch.
const WATCH_COALESCE: Duration = Duration::from_millis(200);

struct Query {
    unit: String,
    period: Period,
    subtree: bool,
    calendar: pb::PeriodCalendar,
    period_text: String,
}

fn query(req: &pb::GetReportRequest, own: &str) -> Result<Query, DomainError> {
    let mut c = Check::new();
    if !req.unit_code.is_empty() {
        c.v.unit_code("unit_code", &req.unit_code);
    }
    let calendar = match pb::PeriodCalendar::try_from(req.calendar) {
        Ok(pb::PeriodCalendar::Calendar) => (Calendar::Plain, pb::PeriodCalendar::Calendar),
        Ok(_) => (Calendar::Statistical, pb::PeriodCalendar::Statistical),
        Err(_) => {
            c.v.add("calendar", format!("unknown value {}", req.calendar));
            (Calendar::Statistical, pb::PeriodCalendar::Statistical)
        }
    };
    let subtree = match pb::ReportScope::try_from(req.scope) {
        Ok(pb::ReportScope::Unit) => false,
        Ok(_) => true,
        Err(_) => {
            c.v.add("scope", format!("unknown value {}", req.scope));
            true
        }
    };
    let parsed = period::parse(&req.period, calendar.0);
    if let Err(e) = &parsed {
        c.v.add("period", e.to_string());
    }
    c.finish()?;
    Ok(Query {
        unit: if req.unit_code.is_empty() {
            own.to_string()
        } else {
            req.unit_code.clone()
        },
        period: parsed.map_err(|e| DomainError::invalid("period", e.to_string()))?,
        subtree,
        calendar: calendar.1,
        period_text: req.period.clone(),
    })
}

fn totals(t: &Totals) -> pb::Totals {
    pb::Totals {
        visits: t.visits,
        persons: t.persons,
        crowd_groups: t.crowd_groups,
        crowd_persons: t.crowd_persons,
        head_sessions: t.head_sessions,
        matters_first: t.matters_first,
        matters_repeat: t.matters_repeat,
        petitions_received: t.petitions_received,
        petitions_eligible: t.petitions_eligible,
        petitions_in_jurisdiction: t.petitions_in_jurisdiction,
        petitions_accepted: t.petitions_accepted,
        petitions_transferred: t.petitions_transferred,
        petitions_guided: t.petitions_guided,
        petitions_urged: t.petitions_urged,
        petitions_returned: t.petitions_returned,
        petitions_withdrawn: t.petitions_withdrawn,
        petitions_filed: t.petitions_filed,
        cases_carried_over: t.cases_carried_over,
        cases_accepted: t.cases_accepted,
        cases_to_resolve: t.cases_to_resolve,
        cases_resolved: t.cases_resolved,
        cases_resolved_on_time: t.cases_resolved_on_time,
        cases_overdue: t.cases_overdue,
        outcome_correct: t.outcome_correct,
        outcome_partly_correct: t.outcome_partly_correct,
        outcome_incorrect: t.outcome_incorrect,
        outcome_withdrawn: t.outcome_withdrawn,
        outcome_answered: t.outcome_answered,
        money_to_recover_vnd: t.money_to_recover_vnd,
        money_recovered_vnd: t.money_recovered_vnd,
        land_to_recover_m2: t.land_to_recover_m2,
        land_recovered_m2: t.land_recovered_m2,
        resolution_rate: Some(pb::Rate {
            numerator: t.resolution_rate.numerator,
            denominator: t.resolution_rate.denominator,
            percent: t.resolution_rate.percent(),
        }),
    }
}

/// Totals per petition type, as the wire carries them.
fn type_rows(by_type: &[(crate::domain::model::PetitionType, Totals)]) -> Vec<pb::TypeRow> {
    by_type
        .iter()
        .map(|(t, totals_of_type)| pb::TypeRow {
            r#type: t.to_wire(),
            totals: Some(totals(totals_of_type)),
        })
        .collect()
}

impl ReportApi {
    /// The time up to which the records of `unit` and the units below it are here: now
    /// when every link between here and each of them is open and caught up; otherwise the
    /// oldest time any of them is held up to.
    fn as_of(&self, unit: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.app
            .links()
            .freshness(&self.app.tree(), unit)
            .as_of(now)
    }

    async fn build(&self, q: &Query) -> Result<pb::Report, Status> {
        let now = Utc::now();
        let report: Report = report::report(&self.app, &q.unit, q.period, q.subtree, now).await?;
        Ok(pb::Report {
            unit: Some(wire::unit(&report.unit)),
            period: q.period_text.clone(),
            start_date: q.period.start.format("%Y-%m-%d").to_string(),
            end_date: q.period.end.format("%Y-%m-%d").to_string(),
            scope: if q.subtree {
                pb::ReportScope::Subtree as i32
            } else {
                pb::ReportScope::Unit as i32
            },
            calendar: q.calendar as i32,
            totals: Some(totals(&report.totals)),
            children: report
                .children
                .iter()
                .map(|row| pb::ReportRow {
                    unit: Some(wire::unit(&row.unit)),
                    totals: Some(totals(&row.totals)),
                    as_of_time: self.as_of(&row.unit.code, now).map(wire::timestamp),
                    by_type: type_rows(&row.by_type),
                })
                .collect(),
            by_type: type_rows(&report.by_type),
            generate_time: Some(wire::timestamp(now)),
            predecessors: report
                .predecessors
                .iter()
                .map(|(unit, last, successor)| pb::UnitVersion {
                    unit: Some(wire::unit(unit)),
                    valid_until: last.to_string(),
                    successor_code: successor.clone(),
                    ..Default::default()
                })
                .collect(),
        })
    }
}

impl ReportApi {
    /// The form asked for, filled, with each row's freshness and the stale units named on
    /// the notes line.
    async fn build_form(&self, req: &pb::GetFormReportRequest) -> Result<pb::FormReport, Status> {
        let q = query(
            &pb::GetReportRequest {
                unit_code: req.unit_code.clone(),
                period: req.period.clone(),
                scope: pb::ReportScope::Subtree as i32,
                calendar: req.calendar,
            },
            &self.app.code(),
        )?;
        if req.form.trim().is_empty() {
            return Err(DomainError::invalid("form", "required, e.g. \"02/XLD\"").into());
        }
        let now = Utc::now();
        let (form, rows) =
            report::forms::form_report(&self.app, &q.unit, q.period, req.form.trim()).await?;
        let mut notes = form.notes.clone();
        let mut stale = Vec::new();
        let rows = rows
            .into_iter()
            .map(|row| {
                let as_of = self.as_of(&row.unit.code, now);
                if row.kind == report::forms::RowKind::Child && as_of != Some(now) {
                    let since = as_of
                        .map(|t| {
                            t.with_timezone(&crate::domain::deadlines::LOCAL_TZ)
                                .format("%H:%M %d/%m/%Y")
                                .to_string()
                        })
                        .unwrap_or_else(|| "chưa đồng bộ".into());
                    stale.push(format!("{} {} ({since})", row.unit.code, row.unit.name));
                }
                pb::FormRow {
                    kind: match row.kind {
                        report::forms::RowKind::Child => pb::FormRowKind::Child,
                        report::forms::RowKind::Own => pb::FormRowKind::Own,
                        report::forms::RowKind::Total => pb::FormRowKind::Total,
                    } as i32,
                    unit: Some(wire::unit(&row.unit)),
                    cells: row
                        .values
                        .into_iter()
                        .map(|value| pb::FormCell { value })
                        .collect(),
                    as_of_time: as_of.map(wire::timestamp),
                }
            })
            .collect();
        if !stale.is_empty() {
            notes.push(format!(
                "Số liệu chưa đầy đủ, đơn vị chưa đồng bộ đến thời điểm lập biểu: {}.",
                stale.join("; ")
            ));
        }
        let unit = self.app.known_unit(&q.unit);
        Ok(pb::FormReport {
            code: form.code.clone(),
            circular: form.circular.clone(),
            title: form.title.clone(),
            unit: unit.as_ref().map(wire::unit),
            period: q.period_text.clone(),
            start_date: q.period.start.format("%Y-%m-%d").to_string(),
            end_date: q.period.end.format("%Y-%m-%d").to_string(),
            columns: form
                .columns
                .iter()
                .map(|c| pb::FormColumn {
                    number: c.number,
                    group: c.group.clone(),
                    label: c.label.clone(),
                    ms: c.ms.clone().unwrap_or_else(|| c.number.to_string()),
                    recorded: c.not_recorded.is_none(),
                })
                .collect(),
            rows,
            notes,
            generate_time: Some(wire::timestamp(now)),
        })
    }
}

type WatchStream = Pin<Box<dyn Stream<Item = Result<pb::WatchReportResponse, Status>> + Send>>;

#[tonic::async_trait]
impl ReportService for ReportApi {
    async fn get_report(
        &self,
        request: Request<pb::GetReportRequest>,
    ) -> Result<Response<pb::GetReportResponse>, Status> {
        let q = query(request.get_ref(), &self.app.code())?;
        let report = self.build(&q).await?;
        Ok(Response::new(pb::GetReportResponse {
            report: Some(report),
        }))
    }

    async fn get_form_report(
        &self,
        request: Request<pb::GetFormReportRequest>,
    ) -> Result<Response<pb::GetFormReportResponse>, Status> {
        let report = self.build_form(request.get_ref()).await?;
        Ok(Response::new(pb::GetFormReportResponse {
            report: Some(report),
        }))
    }

    type WatchReportStream = WatchStream;

    async fn watch_report(
        &self,
        request: Request<pb::WatchReportRequest>,
    ) -> Result<Response<Self::WatchReportStream>, Status> {
        let inner = request.into_inner().report.unwrap_or_default();
        let q = query(&inner, &self.app.code())?;
        let api = self.clone();
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tokio::spawn(async move {
            let mut changes = api.app.subscribe();
            let mut last: Option<pb::Report> = None;
            loop {
                match api.build(&q).await {
                    Ok(report) => {
                        let mut comparable = report.clone();
                        comparable.generate_time = None;
                        for row in &mut comparable.children {
                            row.as_of_time = None;
                        }
                        if last.as_ref() != Some(&comparable) {
                            last = Some(comparable);
                            let message = pb::WatchReportResponse {
                                report: Some(report),
                            };
                            if tx.send(Ok(message)).await.is_err() {
                                return;
                            }
                        }
                    }
                    Err(status) => {
                        let _ = tx.send(Err(status)).await;
                        return;
                    }
                }
                tokio::select! {
                    _ = api.shutdown.cancelled() => return,
                    _ = tx.closed() => return,
                    changed = changes.changed() => {
                        if changed.is_err() {
                            return;
                        }
                    }
                }
                // Coalesce a burst of changes into one report.
                tokio::time::sleep(WATCH_COALESCE).await;
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
    }
}
