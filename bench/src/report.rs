//! Report latency at a city holding many petitions: the city's database is loaded directly
//! (a city, 10 towns, 100 communes; petitions over 2019, classified and routed, with their
//! maintained totals computed by the same rules the apply path uses), then the city serves
//! and `ReportService.GetReport` of its whole subtree is timed over gRPC.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use chrono::Duration as Days;
use tiepdan_proto::v1 as pb;
use tiepdan_server::domain::deadlines::{DeadlineTable, local_date};
use tiepdan_server::domain::model::{
    Channel, Classification, Eligibility, Field, Jurisdiction, Petition, PetitionStatus,
    PetitionType, UnitLevel,
};
use tiepdan_server::registry::Registry;
use tiepdan_server::report::tally::{self, Delta};
use tiepdan_server::storage::Store;
use tiepdan_server::storage::records as repo;
use tiepdan_server::sync::uplink::UplinkConfig;
use tonic::transport::Endpoint;

use crate::fixtures::{self, Backend, CITY, Db, record_time, unit};
use crate::stats::Percentiles;

const TOWNS: usize = 10;
const COMMUNES_PER_TOWN: usize = 10;

fn town_code(t: usize) -> String {
    format!("{}", 200 + t)
}

fn commune_of(t: usize, c: usize) -> String {
    format!("{:05}", 20_000 + t * COMMUNES_PER_TOWN + c)
}

fn petition(n: u64) -> Petition {
    let t = (n as usize) % TOWNS;
    let c = (n as usize / TOWNS) % (COMMUNES_PER_TOWN + 1);
    // One petition in eleven is received at the town itself.
    let unit_code = if c == COMMUNES_PER_TOWN {
        town_code(t)
    } else {
        commune_of(t, c)
    };
    let received = record_time(n);
    let petition_type = PetitionType::ALL[(n as usize) % PetitionType::ALL.len()];
    let classified = !n.is_multiple_of(5);
    let routed = n % 5 >= 2;
    let status = match (classified, routed, n % 3) {
        (false, _, _) => PetitionStatus::Received,
        (true, false, _) => PetitionStatus::Classified,
        (true, true, 0) => PetitionStatus::Accepted,
        (true, true, 1) => PetitionStatus::Guided,
        (true, true, _) => PetitionStatus::Filed,
    };
    Petition {
        id: format!("{unit_code}-P{n}"),
        unit_code,
        received_time: received,
        channel: Channel::InPerson,
        summary: "Đơn khiếu nại về bồi thường giải phóng mặt bằng".into(),
        status,
        anonymous: false,
        signers: 1,
        visit_id: None,
        classification: classified.then_some(Classification {
            petition_type,
            field: Field::LandHousing,
            complaint_round: u32::from(petition_type == PetitionType::Complaint),
            eligibility: if n.is_multiple_of(7) {
                Eligibility::Ineligible
            } else {
                Eligibility::Eligible
            },
            jurisdiction: if n.is_multiple_of(4) {
                Jurisdiction::Outside
            } else {
                Jurisdiction::Within
            },
            has_evidence: true,
        }),
        case_id: None,
        transferred_to_unit: None,
        outside_body: None,
        file_reason: None,
        note: String::new(),
        due_date: local_date(received) + Days::days(10),
        processed_time: routed.then_some(received + Days::days(3)),
        version: 1,
        update_time: received,
        source_petition_id: None,
        source_unit: None,
        result: None,
    }
}

/// Loads `petitions` petitions into a city's database.
async fn load(db: &Db, petitions: u64) -> Result<()> {
    let store = Store::open(&db.url).await?;
    let registry = Registry::open(
        store.clone(),
        unit(CITY, UnitLevel::Province, None),
        DeadlineTable::default(),
    )
    .await?;
    let tx = store.begin_write().await?;
    for t in 0..TOWNS {
        let town = town_code(t);
        repo::save_unit(&tx, &unit(&town, UnitLevel::District, Some(CITY)), false).await?;
        for c in 0..COMMUNES_PER_TOWN {
            repo::save_unit(
                &tx,
                &unit(&commune_of(t, c), UnitLevel::Commune, Some(&town)),
                false,
            )
            .await?;
        }
    }
    tx.commit().await?;
    registry.reload_tree().await?;
    let tree = registry.tree();
    let chunk = 20_000u64;
    let mut n = 0;
    while n < petitions {
        let batch: Vec<Petition> = (n..(n + chunk).min(petitions)).map(petition).collect();
        let mut delta = Delta::default();
        for p in &batch {
            delta.record(&tree, &[], &tally::petition(p));
        }
        let tx = store.begin_write().await?;
        repo::insert_petitions(&tx, &batch).await?;
        repo::flush_tally(&tx, delta).await?;
        tx.commit().await?;
        n += chunk;
    }
    drop(registry);
    store.close().await?;
    Ok(())
}

/// The outcome of a report run.
pub struct ReportLatency {
    pub petitions: u64,
    pub load: Duration,
    pub latency: Percentiles,
    pub received: u64,
}

pub async fn report(
    backend: Backend,
    dir: &Path,
    pg_admin: &str,
    petitions: u64,
    requests: usize,
) -> Result<ReportLatency> {
    let db = Db::create(backend, dir, "report-city", pg_admin).await?;
    let t = Instant::now();
    load(&db, petitions).await?;
    let load_time = t.elapsed();
    let city = fixtures::start_node(
        &db,
        unit(CITY, UnitLevel::Province, None),
        None,
        UplinkConfig::default(),
        None,
    )
    .await?;
    let channel = Endpoint::from_shared(city.url())?.connect().await?;
    let mut client = pb::report_service_client::ReportServiceClient::new(channel);
    let request = pb::GetReportRequest {
        unit_code: CITY.into(),
        period: "2019".into(),
        scope: pb::ReportScope::Subtree as i32,
        calendar: pb::PeriodCalendar::Calendar as i32,
    };
    let mut sample = Vec::with_capacity(requests);
    let mut received = 0;
    for i in 0..requests + 5 {
        let t = Instant::now();
        let report = client.get_report(request.clone()).await?.into_inner();
        let elapsed = t.elapsed();
        // The first few warm the caches and the connection.
        if i >= 5 {
            sample.push(elapsed);
        }
        received = report
            .report
            .and_then(|r| r.totals)
            .context("a report without totals")?
            .petitions_received;
    }
    let _ = city.stop().await;
    db.remove().await;
    Ok(ReportLatency {
        petitions,
        load: load_time,
        latency: Percentiles::of(sample),
        received,
    })
}
