//! Report latency at a city holding many petitions: the city's database is loaded directly
//! (a city, 10 towns, 100 communes; petitions over 2019, classified and routed, with their
//! maintained totals computed by the same rules the apply path uses), then the city serves
//! and `ReportService.GetReport` of its whole subtree is timed over gRPC.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use chrono::Duration as Days;
use tiepdan_proto::v1 as pb;
use tiepdan_server::app::App;
use tiepdan_server::domain::deadlines::{DeadlineTable, local_date};
use tiepdan_server::domain::model::{
    Channel, Classification, Eligibility, Field, Jurisdiction, Petition, PetitionStatus,
    PetitionType, UnitLevel,
};
use tiepdan_server::domain::period::{self, Calendar};
use tiepdan_server::domain::tally::{self, Delta};
use tiepdan_server::report::Source;
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
    let app = App::open(
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
    app.reload_tree().await?;
    let tree = app.tree();
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
    drop(app);
    store.close().await?;
    Ok(())
}

/// The outcome of a report run.
pub struct ReportLatency {
    pub petitions: u64,
    pub load: Duration,
    /// The calendar year 2019 over gRPC (the figure).
    pub latency: Percentiles,
    /// The first request of the run, before any statement is cached.
    pub cold: Duration,
    /// The statistical year 2019 (15 Dec 2018 – 14 Dec 2019) over gRPC.
    pub statistical: Percentiles,
    /// A range with edge days at both ends over gRPC.
    pub edges: Percentiles,
    /// The calendar year in process, read from the rollups.
    pub in_process: Percentiles,
    /// The same read from the day rows alone (the reading before the rollups): the baseline.
    pub day_rows: Percentiles,
    /// Listing the known units, which every report does.
    pub units: Percentiles,
    pub received: u64,
}

/// The range the edge figure reads: 16 edge days at each end.
pub const EDGE_RANGE: &str = "2019-02-16..2019-11-30";

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
    let client = pb::report_service_client::ReportServiceClient::new(channel);
    let request = |period: &str, calendar: pb::PeriodCalendar| pb::GetReportRequest {
        unit_code: CITY.into(),
        period: period.into(),
        scope: pb::ReportScope::Subtree as i32,
        calendar: calendar as i32,
    };
    let year = request("2019", pb::PeriodCalendar::Calendar);
    let timed = |request: pb::GetReportRequest, warm: usize| {
        let mut client = client.clone();
        async move {
            let mut sample = Vec::with_capacity(requests);
            let mut first = Duration::ZERO;
            let mut received = 0;
            for i in 0..requests + warm {
                let t = Instant::now();
                let report = client.get_report(request.clone()).await?.into_inner();
                let elapsed = t.elapsed();
                if i == 0 {
                    first = elapsed;
                }
                // The first few warm the caches and the connection.
                if i >= warm {
                    sample.push(elapsed);
                }
                received = report
                    .report
                    .and_then(|r| r.totals)
                    .context("a report without totals")?
                    .petitions_received;
            }
            anyhow::Ok((Percentiles::of(sample), first, received))
        }
    };
    let (latency, cold, received) = timed(year, 5).await?;
    let (statistical, _, _) = timed(request("2019", pb::PeriodCalendar::Statistical), 5).await?;
    let (edges, _, _) = timed(request(EDGE_RANGE, pb::PeriodCalendar::Calendar), 5).await?;

    // In process: the same report from the rollups and from the day rows alone, and the
    // units listing every report starts with.
    let app = &city.app;
    let period = period::parse("2019", Calendar::Plain)?;
    let now = chrono::Utc::now();
    let mut in_process = Vec::new();
    let mut day_rows = Vec::new();
    let mut units = Vec::new();
    for i in 0..requests.min(50) + 2 {
        let t = Instant::now();
        tiepdan_server::report::report_from(app, CITY, period, true, now, Source::Rollups).await?;
        let rolled = t.elapsed();
        let t = Instant::now();
        app.known_units().await?;
        let listed = t.elapsed();
        if i >= 2 {
            in_process.push(rolled);
            units.push(listed);
        }
    }
    for i in 0..requests.min(10) + 1 {
        let t = Instant::now();
        tiepdan_server::report::report_from(app, CITY, period, true, now, Source::DayRows).await?;
        if i >= 1 {
            day_rows.push(t.elapsed());
        }
    }
    let _ = city.stop().await;
    db.remove().await;
    Ok(ReportLatency {
        petitions,
        load: load_time,
        latency,
        cold,
        statistical,
        edges,
        in_process: Percentiles::of(in_process),
        day_rows: Percentiles::of(day_rows),
        units: Percentiles::of(units),
        received,
    })
}
