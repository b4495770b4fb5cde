//! A typed client of one tiepdan node: the five generated tonic clients behind one cheap-to-
//! clone value, each call answering the record it is about and a refusal as [`Error`]. With an
//! operator token every call carries `authorization: Bearer <token>`.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tiepdan_proto::v1 as pb;
use tonic::metadata::{AsciiMetadataValue, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use crate::error::Error;

/// TLS to a node: the tree's CA, and a certificate of that CA when the node asks for one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsFiles {
    /// The CA certificate (PEM) the node's certificate is signed by.
    pub ca: Option<PathBuf>,
    /// This client's certificate (PEM), for mutual TLS.
    pub cert: Option<PathBuf>,
    /// This client's private key (PEM).
    pub key: Option<PathBuf>,
}

impl TlsFiles {
    /// Whether any file is given.
    pub fn is_empty(&self) -> bool {
        self.ca.is_none() && self.cert.is_none() && self.key.is_none()
    }

    fn config(&self) -> Result<ClientTlsConfig, Error> {
        let read = |path: &Path| {
            std::fs::read_to_string(path).map_err(|source| Error::Tls {
                path: path.to_path_buf(),
                detail: source.to_string(),
            })
        };
        let mut config = ClientTlsConfig::new();
        if let Some(ca) = &self.ca {
            config = config.ca_certificate(Certificate::from_pem(read(ca)?));
        }
        match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => {
                config = config.identity(Identity::from_pem(read(cert)?, read(key)?));
            }
            (None, None) => {}
            (Some(path), None) | (None, Some(path)) => {
                return Err(Error::Tls {
                    path: path.clone(),
                    detail: "a client certificate needs its key, and a key its certificate".into(),
                });
            }
        }
        Ok(config)
    }
}

/// Puts the operator token, if any, on every call.
#[derive(Debug, Clone, Default)]
pub struct Bearer(Option<AsciiMetadataValue>);

impl Bearer {
    /// `authorization: Bearer <token>`; the value is marked sensitive so that it is never
    /// logged nor indexed by HPACK.
    pub fn new(token: &str) -> Result<Bearer, Error> {
        let token = token.trim();
        if token.is_empty() {
            return Err(Error::InvalidToken);
        }
        let mut value: AsciiMetadataValue =
            MetadataValue::try_from(format!("Bearer {token}")).map_err(|_| Error::InvalidToken)?;
        value.set_sensitive(true);
        Ok(Bearer(Some(value)))
    }
}

impl Interceptor for Bearer {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(value) = &self.0 {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        Ok(request)
    }
}

/// What the generated clients run on: the channel, with the token put on each call.
pub type Transport = InterceptedService<Channel, Bearer>;

/// Largest page the node serves.
pub const MAX_PAGE_SIZE: usize = 1000;

/// A connection to one node. Clones share the connection.
#[derive(Debug, Clone)]
pub struct Client {
    units: pb::unit_service_client::UnitServiceClient<Transport>,
    reception: pb::reception_service_client::ReceptionServiceClient<Transport>,
    petitions: pb::petition_service_client::PetitionServiceClient<Transport>,
    cases: pb::case_service_client::CaseServiceClient<Transport>,
    journal: pb::journal_service_client::JournalServiceClient<Transport>,
    channel: Transport,
    raw: Channel,
}

/// Defines unary calls, one a line: `name, service, Request => field: Type` answers that field
/// of the response, `name, service, Request => Response` the whole response.
macro_rules! calls {
    () => {};
    ($(#[$doc:meta])* $name:ident, $svc:ident, $req:ty => $field:ident: $out:ty; $($rest:tt)*) => {
        $(#[$doc])*
        pub async fn $name(&self, request: $req) -> Result<$out, Error> {
            self.$svc
                .clone()
                .$name(request)
                .await?
                .into_inner()
                .$field
                .ok_or(Error::MissingField(stringify!($field)))
        }
        calls!($($rest)*);
    };
    ($(#[$doc:meta])* $name:ident, $svc:ident, $req:ty => $out:ty; $($rest:tt)*) => {
        $(#[$doc])*
        pub async fn $name(&self, request: $req) -> Result<$out, Error> {
            Ok(self.$svc.clone().$name(request).await?.into_inner())
        }
        calls!($($rest)*);
    };
}

impl Client {
    /// Connects to the node at `url`, e.g. `http://127.0.0.1:50051`, without TLS.
    pub async fn connect(url: &str) -> Result<Client, Error> {
        Client::connect_with(url, &TlsFiles::default()).await
    }

    /// Connects to the node at `url`; an `https` URL uses TLS with `tls`.
    pub async fn connect_with(url: &str, tls: &TlsFiles) -> Result<Client, Error> {
        let invalid = |source| Error::InvalidUrl {
            url: url.to_string(),
            source,
        };
        let mut endpoint = Endpoint::from_shared(url.to_string())
            .map_err(invalid)?
            .connect_timeout(Duration::from_secs(10))
            .tcp_nodelay(true);
        if url.starts_with("https://") {
            endpoint = endpoint.tls_config(tls.config()?).map_err(invalid)?;
        } else if !tls.is_empty() {
            return Err(Error::PlainWithTls {
                url: url.to_string(),
            });
        }
        let channel = endpoint.connect().await.map_err(|source| Error::Connect {
            url: url.to_string(),
            source,
        })?;
        Ok(Client::from_channel(channel))
    }

    /// The channel with the token on each call, for services this client does not wrap
    /// (sync, reports).
    pub fn channel(&self) -> Transport {
        self.channel.clone()
    }

    /// A client over an existing channel.
    pub fn from_channel(channel: Channel) -> Client {
        Client::over(channel, Bearer::default())
    }

    /// The same connection, with every call carrying the operator `token`.
    pub fn with_token(self, token: &str) -> Result<Client, Error> {
        Ok(Client::over(self.raw, Bearer::new(token)?))
    }

    fn over(raw: Channel, bearer: Bearer) -> Client {
        let channel = InterceptedService::new(raw.clone(), bearer);
        Client {
            units: pb::unit_service_client::UnitServiceClient::new(channel.clone()),
            reception: pb::reception_service_client::ReceptionServiceClient::new(channel.clone()),
            petitions: pb::petition_service_client::PetitionServiceClient::new(channel.clone()),
            cases: pb::case_service_client::CaseServiceClient::new(channel.clone()),
            journal: pb::journal_service_client::JournalServiceClient::new(channel.clone()),
            channel,
            raw,
        }
    }

    calls! {
        /// This node's own unit.
        get_unit, units, pb::GetUnitRequest => unit: pb::Unit;
        /// One page of the node's subtree.
        list_units, units, pb::ListUnitsRequest => pb::ListUnitsResponse;
        /// Registers a unit below the node.
        register_unit, units, pb::RegisterUnitRequest => unit: pb::Unit;
        /// Issues a reorganisation at the node (the authority above every unit involved).
        reorganise, units, pb::ReorganiseRequest => reorganisation: pb::Reorganisation;
        /// A unit's versions and predecessors.
        get_unit_history, units, pb::GetUnitHistoryRequest => pb::GetUnitHistoryResponse;
        /// Every reorganisation the node knows.
        list_reorganisations, units, pb::ListReorganisationsRequest => pb::ListReorganisationsResponse;

        /// Records a reception visit.
        record_visit, reception, pb::RecordVisitRequest => visit: pb::Visit;
        /// One page of visits, newest first.
        list_visits, reception, pb::ListVisitsRequest => pb::ListVisitsResponse;
        /// Publishes a head's reception day.
        publish_schedule_entry, reception, pb::PublishScheduleEntryRequest => entry: pb::ScheduleEntry;
        /// One page of the published schedule.
        list_schedule_entries, reception, pb::ListScheduleEntriesRequest => pb::ListScheduleEntriesResponse;
        /// Records a head's conclusion after a session.
        record_conclusion, reception, pb::RecordConclusionRequest => conclusion: pb::Conclusion;
        /// Records progress on a conclusion.
        update_conclusion, reception, pb::UpdateConclusionRequest => conclusion: pb::Conclusion;
        /// One page of conclusions.
        list_conclusions, reception, pb::ListConclusionsRequest => pb::ListConclusionsResponse;

        /// Receives a petition.
        receive_petition, petitions, pb::ReceivePetitionRequest => petition: pb::Petition;
        /// Classifies a petition.
        classify_petition, petitions, pb::ClassifyPetitionRequest => petition: pb::Petition;
        /// Guides the petitioner elsewhere (hướng dẫn).
        guide_petition, petitions, pb::GuidePetitionRequest => petition: pb::Petition;
        /// Transfers a petition (chuyển đơn).
        transfer_petition, petitions, pb::TransferPetitionRequest => petition: pb::Petition;
        /// Urges the lower body that is late (đôn đốc).
        urge_petition, petitions, pb::UrgePetitionRequest => petition: pb::Petition;
        /// Returns a petition to the petitioner.
        return_petition, petitions, pb::ReturnPetitionRequest => petition: pb::Petition;
        /// Records a withdrawal (rút).
        withdraw_petition, petitions, pb::WithdrawPetitionRequest => petition: pb::Petition;
        /// Files a petition without action (lưu đơn).
        file_petition, petitions, pb::FilePetitionRequest => petition: pb::Petition;
        /// One petition with the petitioner's details.
        get_petition, petitions, pb::GetPetitionRequest => petition: pb::Petition;
        /// One page of petitions, newest first.
        list_petitions, petitions, pb::ListPetitionsRequest => pb::ListPetitionsResponse;
        /// One page of petitions and cases past their limit.
        list_overdue_items, petitions, pb::ListOverdueItemsRequest => pb::ListOverdueItemsResponse;
        /// The statutory deadline table the node computes with.
        get_deadline_table, petitions, pb::GetDeadlineTableRequest => pb::GetDeadlineTableResponse;
        /// One page of the node's personal-data audit trail, oldest first (auditors only).
        list_personal_data_access, petitions, pb::ListPersonalDataAccessRequest => pb::ListPersonalDataAccessResponse;

        /// One case.
        get_case, cases, pb::GetCaseRequest => case: pb::Case;
        /// One page of cases, newest first.
        list_cases, cases, pb::ListCasesRequest => pb::ListCasesResponse;
        /// Extends a case's limit or declares it complex.
        extend_case, cases, pb::ExtendCaseRequest => case: pb::Case;
        /// Records the decision that resolves a case.
        resolve_case, cases, pb::ResolveCaseRequest => case: pb::Case;
        /// Records that a decision came into force.
        record_case_in_force, cases, pb::RecordCaseInForceRequest => case: pb::Case;
        /// Records a step of enforcement.
        record_enforcement, cases, pb::RecordEnforcementRequest => case: pb::Case;

        /// Journal events after a sequence number.
        list_journal_events, journal, pb::ListJournalEventsRequest => pb::ListJournalEventsResponse;
    }

    /// Thụ lý: accepts a petition into a new or an open case; answers both.
    pub async fn accept_petition(
        &self,
        request: pb::AcceptPetitionRequest,
    ) -> Result<(pb::Petition, pb::Case), Error> {
        let answer = self
            .petitions
            .clone()
            .accept_petition(request)
            .await?
            .into_inner();
        Ok((
            answer.petition.ok_or(Error::MissingField("petition"))?,
            answer.case.ok_or(Error::MissingField("case"))?,
        ))
    }
}

/// Collects pages of a listing until the last page or `limit` items (`None`: all).
/// `fetch(page_size, page_token)` asks for one page and answers its items and next token.
pub async fn collect_pages<T, F, Fut>(limit: Option<usize>, mut fetch: F) -> Result<Vec<T>, Error>
where
    F: FnMut(i32, String) -> Fut,
    Fut: Future<Output = Result<(Vec<T>, String), Error>>,
{
    let mut items = Vec::new();
    let mut token = String::new();
    loop {
        let want = limit.map_or(MAX_PAGE_SIZE, |l| l.saturating_sub(items.len()));
        if want == 0 {
            break;
        }
        let size = i32::try_from(want.min(MAX_PAGE_SIZE)).unwrap_or(100);
        let (page, next) = fetch(size, token).await?;
        let empty = page.is_empty();
        items.extend(page);
        if next.is_empty() || empty {
            break;
        }
        token = next;
    }
    if let Some(l) = limit {
        items.truncate(l);
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A listing of `n` numbered items served in pages of at most `page` items.
    async fn fetch(
        n: usize,
        page: usize,
        size: i32,
        token: String,
    ) -> Result<(Vec<usize>, String), Error> {
        let from: usize = token.parse().unwrap_or(0);
        let size = usize::try_from(size).unwrap_or(0).min(page);
        let to = (from + size).min(n);
        let next = if to < n {
            to.to_string()
        } else {
            String::new()
        };
        Ok(((from..to).collect(), next))
    }

    #[tokio::test]
    async fn pages_are_collected_up_to_the_limit() {
        let all = collect_pages(None, |s, t| fetch(2500, 1000, s, t)).await;
        assert_eq!(all.ok().map(|v| v.len()), Some(2500));
        let some = collect_pages(Some(1200), |s, t| fetch(2500, 1000, s, t)).await;
        assert_eq!(some.ok(), Some((0..1200).collect()));
        let small_pages = collect_pages(Some(7), |s, t| fetch(10, 3, s, t)).await;
        assert_eq!(small_pages.ok(), Some((0..7).collect()));
        let none = collect_pages(None, |s, t| fetch(0, 3, s, t)).await;
        assert_eq!(none.ok(), Some(vec![]));
    }
}
