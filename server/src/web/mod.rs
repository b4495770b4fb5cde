//! The dashboard for people (`--http-listen`): a second listener that serves the page at `/`
//! (HTML, script and style embedded in the binary, built from `server/web/`) and the reads the
//! page makes over gRPC-Web (tonic-web). The calls go to the same tonic services as the gRPC
//! port, behind the same [`AuthLayer`] and TLS configuration; only [`PAGE_METHODS`] are
//! served, so a browser can read reports, forms, link states and overdue items but change
//! nothing. `GET /forms.xlsx?form=…&period=…` answers a form as the `.xlsx` the CLI writes: it
//! is made by sending GetFormReport through the same gRPC path (ReadsOnly, the token check, the
//! ReportService) with the request's `authorization` header, and writing the answer with
//! `tiepdan-xlsx`.

use std::future::{Future, Ready, ready};
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::future::Either;
use http_body_util::{BodyExt, Full};
use prost::Message;
use tiepdan_proto::v1 as pb;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::body::Body;
use tonic::codegen::Bytes;
use tonic::codegen::Service;
use tonic::codegen::http::{HeaderValue, Method, Request, Response, StatusCode, header};
use tonic::transport::{Server, ServerTlsConfig};
use tonic::{Code, Status};
use tonic_web::GrpcWebLayer;

use crate::api::{PetitionApi, ReportApi};
use crate::auth::Authorizer;
use crate::auth::layer::AuthLayer;
use crate::net::{self, CallsLayer, ConnectionLimits, Connections};
use crate::sync::link::SyncApi;
use crate::wire::MAX_MESSAGE_BYTES;

/// The methods the page calls, and all this listener answers: reads only.
pub const PAGE_METHODS: &[&str] = &[
    "/tiepdan.v1.ReportService/GetReport",
    "/tiepdan.v1.ReportService/WatchReport",
    "/tiepdan.v1.ReportService/GetFormReport",
    "/tiepdan.v1.SyncService/GetSyncStatus",
    "/tiepdan.v1.PetitionService/ListOverdueItems",
];

/// The download of a form as `.xlsx` (GET, with the token in `authorization`).
pub const FORMS_XLSX: &str = "/forms.xlsx";

/// The call the download makes, under that method's token rules.
const GET_FORM_REPORT: &str = "/tiepdan.v1.ReportService/GetFormReport";

/// How long calls in flight may run on after the node is told to stop.
const GRACE: Duration = Duration::from_secs(5);

/// One file of the page, embedded at build time from `server/web/dist/`.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

const ASSETS: &[Asset] = &[
    Asset {
        path: "/",
        content_type: "text/html; charset=utf-8",
        bytes: include_bytes!("../../web/dist/index.html"),
    },
    Asset {
        path: "/app.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../web/dist/app.js"),
    },
    Asset {
        path: "/app.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../../web/dist/app.css"),
    },
];

/// The page's own origin only: no inline script, no third-party host, no framing.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The services behind the page, built by the node from the same application as its gRPC port.
pub struct PageServices {
    pub reports: ReportApi,
    pub petitions: PetitionApi,
    pub sync: SyncApi,
}

/// Checks that the page may be served on `addr`: the same rules as the gRPC port (plaintext on
/// loopback only; another address needs tokens unless asked not to).
pub fn check_address(
    addr: SocketAddr,
    tls: bool,
    auth: bool,
    insecure_no_auth: bool,
) -> Result<(), String> {
    if !tls && !addr.ip().is_loopback() {
        return Err(format!(
            "the page in plaintext is allowed on loopback only; {addr} needs TLS"
        ));
    }
    if !auth && !insecure_no_auth && !addr.ip().is_loopback() {
        return Err(format!(
            "the page on {addr} is reachable from other machines: give the node an auth secret, \
             or --insecure-no-auth"
        ));
    }
    Ok(())
}

/// Serves the page and its gRPC-Web reads on `listener` until `shutdown` is cancelled (calls
/// still open [`GRACE`] later are cut).
pub async fn serve(
    listener: TcpListener,
    tls: Option<ServerTlsConfig>,
    auth: Option<Authorizer>,
    limits: ConnectionLimits,
    services: PageServices,
    shutdown: CancellationToken,
) -> Result<(), tonic::transport::Error> {
    macro_rules! limited {
        ($server:expr) => {
            $server
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES)
        };
    }
    let connections = Connections::default();
    let incoming = net::incoming(listener, limits.clone(), connections.clone());
    let mut builder = Server::builder();
    if let Some(tls) = tls {
        builder = builder.tls_config(tls)?;
    }
    let router = builder
        // Browsers speak HTTP/1.1 to a plaintext address; over TLS they negotiate HTTP/2.
        .accept_http1(true)
        .max_concurrent_streams(limits.max_streams_per_connection)
        .layer(CallsLayer::new(connections))
        .layer(PageLayer)
        .layer(GrpcWebLayer::new())
        .layer(ReadsOnlyLayer)
        .layer(AuthLayer::new(auth))
        .http2_keepalive_interval(Some(Duration::from_secs(10)))
        .http2_keepalive_timeout(Some(Duration::from_secs(5)))
        .timeout(Duration::from_secs(60))
        .add_service(limited!(
            pb::report_service_server::ReportServiceServer::new(services.reports)
        ))
        .add_service(limited!(
            pb::petition_service_server::PetitionServiceServer::new(services.petitions)
        ))
        .add_service(limited!(pb::sync_service_server::SyncServiceServer::new(
            services.sync
        )));
    let stop = shutdown.clone();
    let server = router.serve_with_incoming_shutdown(incoming, stop.cancelled_owned());
    tokio::pin!(server);
    tokio::select! {
        result = &mut server => result,
        _ = async { shutdown.cancelled().await; tokio::time::sleep(GRACE).await } => {
            tracing::warn!("page: calls still open after the grace period; closing them");
            Ok(())
        }
    }
}

/// Answers the page's files itself and passes every gRPC(-Web) call on.
#[derive(Debug, Clone, Copy)]
struct PageLayer;

impl<S> tower_layer::Layer<S> for PageLayer {
    type Service = PageService<S>;

    fn layer(&self, inner: S) -> PageService<S> {
        PageService { inner }
    }
}

#[derive(Debug, Clone)]
struct PageService<S> {
    inner: S,
}

type BoxedCall<E> = Pin<Box<dyn Future<Output = Result<Response<Body>, E>> + Send>>;

impl<S> Service<Request<Body>> for PageService<S>
where
    S: Service<Request<Body>, Response = Response<Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = Either<S::Future, BoxedCall<S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let is_grpc = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/grpc"));
        if is_grpc {
            return Either::Left(self.inner.call(request));
        }
        if request.uri().path() == FORMS_XLSX {
            if request.method() != Method::GET {
                return Either::Right(Box::pin(ready(Ok(plain(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "GET only\n",
                )))));
            }
            // The service readied by poll_ready makes the call; a clone stays for the next.
            let clone = self.inner.clone();
            let inner = std::mem::replace(&mut self.inner, clone);
            return Either::Right(Box::pin(form_download(inner, request)));
        }
        let page = page_file(request.method(), request.uri().path());
        Either::Right(Box::pin(ready(Ok(page))))
    }
}

/// What `/forms.xlsx` is asked for, from its query string.
#[derive(Debug, PartialEq)]
struct FormQuery {
    request: pb::GetFormReportRequest,
}

/// Reads `form`, `period`, `calendar` (`calendar` or `statistical`, the default) and `unit`.
fn form_query(query: Option<&str>) -> Result<FormQuery, String> {
    let mut request = pb::GetFormReportRequest {
        calendar: pb::PeriodCalendar::Statistical as i32,
        ..Default::default()
    };
    for (key, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match key.as_ref() {
            "form" => request.form = value.into_owned(),
            "period" => request.period = value.into_owned(),
            "unit" => request.unit_code = value.into_owned(),
            "calendar" => {
                request.calendar = match value.as_ref() {
                    "calendar" => pb::PeriodCalendar::Calendar as i32,
                    "" | "statistical" => pb::PeriodCalendar::Statistical as i32,
                    other => {
                        return Err(format!(
                            "calendar is 'calendar' or 'statistical', not '{other}'"
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    if request.form.is_empty() || request.period.is_empty() {
        return Err("give form= and period=, e.g. ?form=03/GQKN&period=2026-Q3".to_string());
    }
    Ok(FormQuery { request })
}

/// The `.xlsx` of a form: GetFormReport sent down the same path as the page's gRPC-Web calls
/// (with the caller's `authorization` header, so the same token rules hold), then written by
/// the CLI's writer. A refused or failed call answers its HTTP status and no file.
async fn form_download<S>(mut inner: S, request: Request<Body>) -> Result<Response<Body>, S::Error>
where
    S: Service<Request<Body>, Response = Response<Body>>,
{
    let query = match form_query(request.uri().query()) {
        Ok(query) => query,
        Err(message) => return Ok(text(StatusCode::BAD_REQUEST, message)),
    };
    let message = query.request.encode_to_vec();
    let mut frame = Vec::with_capacity(message.len() + 5);
    frame.push(0); // not compressed
    frame.extend_from_slice(
        &u32::try_from(message.len())
            .unwrap_or(u32::MAX)
            .to_be_bytes(),
    );
    frame.extend_from_slice(&message);
    let mut call = Request::new(Body::new(Full::new(Bytes::from(frame))));
    *call.method_mut() = Method::POST;
    *call.version_mut() = tonic::codegen::http::Version::HTTP_2;
    *call.uri_mut() = tonic::codegen::http::Uri::from_static(GET_FORM_REPORT);
    let headers = call.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    headers.insert(header::TE, HeaderValue::from_static("trailers"));
    for value in request.headers().get_all(header::AUTHORIZATION) {
        headers.append(header::AUTHORIZATION, value.clone());
    }
    let response = inner.call(call).await?;
    // A refusal comes as a status in the headers (trailers-only); an answer ends with one.
    if let Some(status) = Status::from_header_map(response.headers())
        && status.code() != Code::Ok
    {
        return Ok(refused(&status));
    }
    let collected = match response.into_body().collect().await {
        Ok(collected) => collected,
        Err(status) => return Ok(refused(&status)),
    };
    if let Some(status) = collected.trailers().and_then(Status::from_header_map)
        && status.code() != Code::Ok
    {
        return Ok(refused(&status));
    }
    let bytes = collected.to_bytes();
    let report = bytes
        .get(5..)
        .filter(|_| bytes.first() == Some(&0))
        .and_then(|m| pb::GetFormReportResponse::decode(m).ok())
        .and_then(|r| r.report);
    let Some(report) = report else {
        return Ok(text(
            StatusCode::BAD_GATEWAY,
            "GetFormReport gave no report".to_string(),
        ));
    };
    let xlsx = match tiepdan_xlsx::form_xlsx(&report) {
        Ok(xlsx) => xlsx,
        Err(e) => {
            tracing::error!(error = %e, form = %report.code, "page: the form's .xlsx failed");
            return Ok(text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the .xlsx could not be written".to_string(),
            ));
        }
    };
    let name = tiepdan_xlsx::file_name(&report.code, &query.request.period);
    let mut response = Response::new(Body::new(Full::new(Bytes::from(xlsx))));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(tiepdan_xlsx::CONTENT_TYPE),
    );
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok(response)
}

/// The HTTP answer to a refused or failed GetFormReport: the status's message, no file.
fn refused(status: &Status) -> Response<Body> {
    let code = match status.code() {
        Code::Unauthenticated => StatusCode::UNAUTHORIZED,
        Code::PermissionDenied => StatusCode::FORBIDDEN,
        Code::InvalidArgument | Code::OutOfRange => StatusCode::BAD_REQUEST,
        Code::NotFound => StatusCode::NOT_FOUND,
        Code::FailedPrecondition => StatusCode::CONFLICT,
        Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        Code::Unimplemented => StatusCode::NOT_IMPLEMENTED,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    let mut response = text(code, format!("{:?}: {}\n", status.code(), status.message()));
    if code == StatusCode::UNAUTHORIZED {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}

/// The answer to a plain HTTP request: one of the page's files, or 404 / 405.
fn page_file(method: &Method, path: &str) -> Response<Body> {
    let Some(asset) = ASSETS.iter().find(|a| a.path == path) else {
        return plain(StatusCode::NOT_FOUND, "not found\n");
    };
    if method != Method::GET && method != Method::HEAD {
        return plain(StatusCode::METHOD_NOT_ALLOWED, "GET only\n");
    }
    let body = if method == Method::HEAD {
        Body::empty()
    } else {
        Body::new(Full::new(Bytes::from_static(asset.bytes)))
    };
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    // The files change with the binary: always ask again, so an upgraded node is never shown
    // with a stale script.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

fn plain(status: StatusCode, message: &'static str) -> Response<Body> {
    text(status, message.to_string())
}

fn text(status: StatusCode, message: String) -> Response<Body> {
    let mut response = Response::new(Body::new(Full::new(Bytes::from(message))));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// Refuses every call but [`PAGE_METHODS`] with UNIMPLEMENTED, before the token check: the
/// page's port writes nothing, whoever asks.
#[derive(Debug, Clone, Copy)]
struct ReadsOnlyLayer;

impl<S> tower_layer::Layer<S> for ReadsOnlyLayer {
    type Service = ReadsOnly<S>;

    fn layer(&self, inner: S) -> ReadsOnly<S> {
        ReadsOnly { inner }
    }
}

#[derive(Debug, Clone)]
struct ReadsOnly<S> {
    inner: S,
}

impl<S, B> Service<Request<B>> for ReadsOnly<S>
where
    S: Service<Request<B>, Response = Response<Body>>,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = Either<S::Future, Ready<Result<Response<Body>, S::Error>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        if PAGE_METHODS.contains(&request.uri().path()) {
            return Either::Left(self.inner.call(request));
        }
        let status = Status::new(
            Code::Unimplemented,
            "the page's port serves the dashboard's reads only; use the gRPC port",
        );
        Either::Right(ready(Ok(status.into_http())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_page_method_is_in_the_permission_table() {
        for method in PAGE_METHODS {
            assert!(
                crate::auth::PERMISSIONS.iter().any(|(m, _)| m == method),
                "{method}"
            );
        }
    }

    #[test]
    fn the_page_is_served_and_nothing_else() {
        let index = page_file(&Method::GET, "/");
        assert_eq!(index.status(), StatusCode::OK);
        assert!(
            index
                .headers()
                .contains_key(header::CONTENT_SECURITY_POLICY)
        );
        assert_eq!(
            page_file(&Method::GET, "/../Cargo.toml").status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            page_file(&Method::POST, "/app.js").status(),
            StatusCode::METHOD_NOT_ALLOWED
        );
    }

    #[test]
    fn the_download_reads_its_query() {
        let q = form_query(Some(
            "form=03%2FGQKN&period=2026-Q3&calendar=calendar&unit=269",
        ));
        let q = q.map(|q| q.request);
        assert_eq!(
            q,
            Ok(pb::GetFormReportRequest {
                unit_code: "269".into(),
                period: "2026-Q3".into(),
                calendar: pb::PeriodCalendar::Calendar as i32,
                form: "03/GQKN".into(),
            })
        );
        assert!(form_query(Some("form=03/GQKN")).is_err());
        assert!(form_query(Some("form=03/GQKN&period=2026&calendar=lunar")).is_err());
        assert!(form_query(None).is_err());
    }

    #[test]
    fn plaintext_and_open_pages_stay_on_loopback() {
        let lo: SocketAddr = ([127, 0, 0, 1], 8080).into();
        let any: SocketAddr = ([0, 0, 0, 0], 8080).into();
        assert!(check_address(lo, false, false, false).is_ok());
        assert!(check_address(any, false, true, false).is_err());
        assert!(check_address(any, true, false, false).is_err());
        assert!(check_address(any, true, false, true).is_ok());
        assert!(check_address(any, true, true, false).is_ok());
    }
}
