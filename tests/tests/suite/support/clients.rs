//! Clients of a node's services, the readings the suites take through them (journal, link
//! status, reports, units) and the records of one unit as a node holds them.

use super::*;

pub fn reception(ch: &Channel) -> pb::reception_service_client::ReceptionServiceClient<Channel> {
    pb::reception_service_client::ReceptionServiceClient::new(ch.clone())
}

pub fn petitions(ch: &Channel) -> pb::petition_service_client::PetitionServiceClient<Channel> {
    pb::petition_service_client::PetitionServiceClient::new(ch.clone())
}

pub fn cases(ch: &Channel) -> pb::case_service_client::CaseServiceClient<Channel> {
    pb::case_service_client::CaseServiceClient::new(ch.clone())
}

pub fn journal_client(ch: &Channel) -> pb::journal_service_client::JournalServiceClient<Channel> {
    pb::journal_service_client::JournalServiceClient::new(ch.clone())
}

pub fn reports(ch: &Channel) -> pb::report_service_client::ReportServiceClient<Channel> {
    pb::report_service_client::ReportServiceClient::new(ch.clone())
}

pub fn sync(ch: &Channel) -> pb::sync_service_client::SyncServiceClient<Channel> {
    pb::sync_service_client::SyncServiceClient::new(ch.clone())
}

/// The subtree report of `unit` (the node's own unit when empty) over `PERIOD_ALL`.
pub async fn subtree_report(ch: &Channel, unit: &str) -> pb::Report {
    reports(ch)
        .get_report(pb::GetReportRequest {
            unit_code: unit.to_string(),
            period: PERIOD_ALL.into(),
            scope: pb::ReportScope::Subtree as i32,
            calendar: 0,
        })
        .await
        .unwrap()
        .into_inner()
        .report
        .unwrap()
}

/// Every unit the node of `ch` stores.
pub async fn list_units(ch: &Channel) -> Vec<pb::Unit> {
    let units = pb::unit_service_client::UnitServiceClient::new(ch.clone())
        .list_units(pb::ListUnitsRequest {
            page_size: 1000,
            page_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(units.next_page_token.is_empty());
    units.units
}

/// The node's link status.
pub async fn sync_status(ch: &Channel) -> pb::GetSyncStatusResponse {
    sync(ch)
        .get_sync_status(pb::GetSyncStatusRequest {})
        .await
        .unwrap()
        .into_inner()
}

/// Highest sequence of `origin` in the node's journal.
pub async fn journal_last(ch: &Channel, origin: &str) -> u64 {
    journal_client(ch)
        .list_journal_events(pb::ListJournalEventsRequest {
            origin_unit: origin.to_string(),
            after_sequence: u64::MAX - 1,
            page_size: 1,
        })
        .await
        .unwrap()
        .into_inner()
        .last_sequence
}

/// Every event of `origin` in the node's journal, read page by page.
pub async fn journal(ch: &Channel, origin: &str) -> Vec<pb::JournalEvent> {
    let mut client = journal_client(ch);
    let mut out: Vec<pb::JournalEvent> = Vec::new();
    loop {
        let after = out.last().map_or(0, |e| e.sequence);
        let page = client
            .list_journal_events(pb::ListJournalEventsRequest {
                origin_unit: origin.to_string(),
                after_sequence: after,
                page_size: 1000,
            })
            .await
            .unwrap()
            .into_inner();
        if page.events.is_empty() {
            assert_eq!(
                after, page.last_sequence,
                "journal of {origin}: pages end at {after} but the last sequence is {}",
                page.last_sequence
            );
            return out;
        }
        out.extend(page.events);
    }
}

/// The events of `origin`, encoded as they travel (prost reproduces the stored bytes).
pub async fn journal_bytes(ch: &Channel, origin: &str) -> Vec<Vec<u8>> {
    journal(ch, origin)
        .await
        .iter()
        .map(Message::encode_to_vec)
        .collect()
}

/// The records of one unit as a node holds them, without the fields that legitimately differ
/// between tiers or with the clock (deadlines evaluated now, personal data).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Records {
    pub visits: BTreeMap<String, pb::Visit>,
    pub petitions: BTreeMap<String, pb::Petition>,
    pub cases: BTreeMap<String, pb::Case>,
}

/// Every item of a paged listing: `page(token)` answers one page's items and the next
/// token, empty after the last page.
pub async fn all_pages<T, F, Fut>(mut page: F) -> Vec<T>
where
    F: FnMut(String) -> Fut,
    Fut: std::future::Future<Output = (Vec<T>, String)>,
{
    let mut out = Vec::new();
    let mut token = String::new();
    loop {
        let (items, next) = page(token).await;
        out.extend(items);
        if next.is_empty() {
            return out;
        }
        token = next;
    }
}

/// Every visit the node at `ch` lists.
pub async fn visits_at(ch: &Channel) -> Vec<pb::Visit> {
    all_pages(|page_token| async move {
        let page = reception(ch)
            .list_visits(pb::ListVisitsRequest {
                page_size: 1000,
                page_token,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        (page.visits, page.next_page_token)
    })
    .await
}

/// Every petition of `unit` the node at `ch` lists.
pub async fn petitions_of(ch: &Channel, unit: &str) -> Vec<pb::Petition> {
    all_pages(|page_token| async move {
        let page = petitions(ch)
            .list_petitions(pb::ListPetitionsRequest {
                unit_code: unit.to_string(),
                page_size: 1000,
                page_token,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        (page.petitions, page.next_page_token)
    })
    .await
}

/// Every case `unit` owns that the node at `ch` lists.
pub async fn cases_of(ch: &Channel, unit: &str) -> Vec<pb::Case> {
    all_pages(|page_token| async move {
        let page = cases(ch)
            .list_cases(pb::ListCasesRequest {
                owner_unit: unit.to_string(),
                page_size: 1000,
                page_token,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        (page.cases, page.next_page_token)
    })
    .await
}

/// Inserts `item` under `id`, failing if `at` listed it already.
fn insert_once<T>(map: &mut BTreeMap<String, T>, id: String, item: T, at: &str) {
    let again = map.insert(id.clone(), item).is_some();
    assert!(!again, "{at} lists {id} twice");
}

/// The records of `unit` held by the node at `ch`. Fails if the node lists a record twice.
pub async fn records_of(ch: &Channel, unit: &str, at: &str) -> Records {
    let mut out = Records::default();
    for v in visits_at(ch).await {
        if v.unit_code == unit {
            insert_once(&mut out.visits, v.id.clone(), v, at);
        }
    }
    for mut p in petitions_of(ch, unit).await {
        assert_eq!(p.unit_code, unit, "{at}: ListPetitions filter by unit");
        p.deadline = None;
        p.petitioner = None;
        insert_once(&mut out.petitions, p.id.clone(), p, at);
    }
    for mut c in cases_of(ch, unit).await {
        assert_eq!(c.owner_unit, unit, "{at}: ListCases filter by owner");
        c.deadline = None;
        insert_once(&mut out.cases, c.id.clone(), c, at);
    }
    out
}

pub fn diff_maps<T: PartialEq + std::fmt::Debug>(
    what: &str,
    expected: &BTreeMap<String, T>,
    actual: &BTreeMap<String, T>,
) -> Option<String> {
    if expected == actual {
        return None;
    }
    let mut s = format!(
        "{what}: expected {} records, found {}",
        expected.len(),
        actual.len()
    );
    let missing: Vec<_> = expected
        .keys()
        .filter(|k| !actual.contains_key(*k))
        .collect();
    let extra: Vec<_> = actual
        .keys()
        .filter(|k| !expected.contains_key(*k))
        .collect();
    if !missing.is_empty() {
        let _ = write!(s, "; missing {missing:?}");
    }
    if !extra.is_empty() {
        let _ = write!(s, "; unexpected {extra:?}");
    }
    for (k, e) in expected {
        if let Some(a) = actual.get(k)
            && a != e
        {
            let _ = write!(s, "; {k} differs:\n  expected {e:?}\n  found    {a:?}");
            break;
        }
    }
    Some(s)
}
