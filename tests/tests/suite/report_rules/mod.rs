//! The counting rules of reports: period boundaries in local time, carry-over across a year
//! end, transfers inside and across subtrees, a child offline at report time, the watch
//! stream, and maintained totals equal to a recount after random workloads.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use crate::support::server::UnitLevel;
use crate::support::server::rollups_of;
use crate::support::server::wait_synced;
use crate::support::server::{Mode, Proxy};
use chrono::{DateTime, Utc};
use prost_types::Timestamp;
use rand::{Rng, SeedableRng, rngs::StdRng};
use sea_orm::ConnectionTrait;
use tiepdan_proto::v1 as pb;
use tiepdan_tests::{Backend, TestDb, TestNode, unit};
use tonic::transport::Channel;

use crate::support::{
    accept_new, assert_invalid, cases, class_of, journal_last, local, ok, on_every_backend,
    petitions, receive, reception, reports, resolve, rid, settle_links, stays_for, sync_status, ts,
    visit_req, wait_for, wait_result, wait_transferred_in,
};

/// A node's clients, and the steps the report rules record through the suites' workload
/// helpers.
struct Api {
    ch: Channel,
    petitions: pb::petition_service_client::PetitionServiceClient<Channel>,
    cases: pb::case_service_client::CaseServiceClient<Channel>,
    reports: pb::report_service_client::ReportServiceClient<Channel>,
}

impl Api {
    async fn new(node: &TestNode) -> Api {
        let ch = node.channel().await;
        Api {
            petitions: petitions(&ch),
            cases: cases(&ch),
            reports: reports(&ch),
            ch,
        }
    }

    async fn visit(&mut self, at: DateTime<Utc>, persons: u32) -> pb::Visit {
        let request = visit_req(at, pb::ReceiverRole::Staff, persons);
        ok(reception(&self.ch).record_visit(request).await)
            .visit
            .unwrap()
    }

    async fn petition(&mut self, at: DateTime<Utc>, c: Option<pb::Classification>) -> pb::Petition {
        receive(&self.ch, rid(), at, c).await
    }

    async fn accept(&mut self, petition_id: &str, at: DateTime<Utc>) -> pb::Case {
        accept_new(&self.ch, rid(), petition_id, at).await
    }

    async fn resolve(&mut self, case_id: &str, at: DateTime<Utc>) -> pb::Case {
        let outcome = pb::CaseOutcome::ComplaintCorrect;
        resolve(&self.ch, rid(), case_id, outcome, at).await
    }

    async fn transfer(&mut self, petition_id: &str, to: &str, at: DateTime<Utc>) {
        let request_id = rid();
        self.petitions
            .transfer_petition(pb::TransferPetitionRequest {
                request_id,
                petition_id: petition_id.into(),
                destination: Some(pb::transfer_petition_request::Destination::UnitCode(
                    to.into(),
                )),
                note: String::new(),
                decision_time: ts(at),
            })
            .await
            .unwrap();
    }

    async fn report(
        &mut self,
        unit_code: &str,
        period: &str,
        scope: pb::ReportScope,
        cal: pb::PeriodCalendar,
    ) -> pb::Report {
        self.reports
            .get_report(pb::GetReportRequest {
                unit_code: unit_code.into(),
                period: period.into(),
                scope: scope as i32,
                calendar: cal as i32,
            })
            .await
            .unwrap()
            .into_inner()
            .report
            .unwrap()
    }
}

fn totals(r: &pb::Report) -> pb::Totals {
    r.totals.unwrap()
}

fn row(r: &pb::Report, code: &str) -> pb::Totals {
    r.children
        .iter()
        .find(|c| c.unit.as_ref().unwrap().code == code)
        .and_then(|c| c.totals)
        .unwrap()
}

mod maintained;
mod periods;

use maintained::*;
use periods::*;
on_every_backend!(
    period_boundaries,
    carry_over_across_year_end,
    transfers_inside_and_across_subtrees,
    child_offline_at_report_time,
    overdue_is_judged_at_the_period_end,
    the_overdue_count_is_rebuilt_after_its_migration,
    watch_report_follows_changes,
    maintained_totals_equal_recount,
    reports_from_rollups_equal_day_rows,
);
