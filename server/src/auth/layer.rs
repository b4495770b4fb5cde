//! The check in front of the server's routes: a tower layer that reads the method path and the
//! `authorization` header of each call, asks the [`Authorizer`], and either passes the call on
//! (with the token's [`Claims`] in the request's extensions) or answers it at once with
//! UNAUTHENTICATED or PERMISSION_DENIED. A refused call reaches no handler. (A tonic
//! interceptor would not do: it does not see the method.) A lasting stream let through on a
//! token ([`super::STREAMS`]) ends with UNAUTHENTICATED / TOKEN_EXPIRED when the token
//! expires: the check holds for as long as the answer flows, not only when it starts.

use std::collections::HashMap;
use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::future::Either;
use http_body::Frame;
use tonic::body::Body;
use tonic::codegen::http::header::AUTHORIZATION;
use tonic::codegen::http::{HeaderMap, Request, Response};
use tonic::codegen::{Bytes, Service};
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use super::{Admission, Authorizer, Claims, Presented, Reason, Refusal, is_stream};
use crate::api::error::ERROR_DOMAIN;

/// Installs the check; without an authorizer every call passes, as on a node without auth.
#[derive(Debug, Clone, Default)]
pub struct AuthLayer {
    auth: Option<Arc<Authorizer>>,
}

impl AuthLayer {
    /// A layer checking calls with `auth`, or letting everything through with `None`.
    pub fn new(auth: Option<Authorizer>) -> AuthLayer {
        AuthLayer {
            auth: auth.map(Arc::new),
        }
    }
}

impl<S> tower_layer::Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> AuthService<S> {
        AuthService {
            inner,
            auth: self.auth.clone(),
        }
    }
}

/// The routes behind the check.
#[derive(Debug, Clone)]
pub struct AuthService<S> {
    inner: S,
    auth: Option<Arc<Authorizer>>,
}

impl<S, B> Service<Request<B>> for AuthService<S>
where
    S: Service<Request<B>, Response = Response<Body>>,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future =
        Either<Either<S::Future, UntilExpiry<S::Future>>, Ready<Result<Response<Body>, S::Error>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let Some(auth) = &self.auth else {
            return Either::Left(Either::Left(self.inner.call(request)));
        };
        let mut values = request.headers().get_all(AUTHORIZATION).iter();
        let presented = match (values.next(), values.next()) {
            (None, _) => Presented::Nothing,
            (Some(value), None) => Presented::One(value.as_bytes()),
            (Some(_), Some(_)) => Presented::Several,
        };
        let path = request.uri().path();
        match auth.admit(path, presented, chrono::Utc::now().timestamp()) {
            Ok(Admission::Token(claims)) => {
                let expiry = is_stream(path).then(|| Expiry::of(&claims, path, auth.unit()));
                request.extensions_mut().insert(claims);
                let call = self.inner.call(request);
                match expiry {
                    Some(expiry) => Either::Left(Either::Right(UntilExpiry {
                        call: Box::pin(call),
                        expiry: Some(expiry),
                    })),
                    None => Either::Left(Either::Left(call)),
                }
            }
            Ok(Admission::Open | Admission::TierLink) => {
                Either::Left(Either::Left(self.inner.call(request)))
            }
            Err(refusal) => {
                log(&refusal, path);
                Either::Right(ready(Ok(status(&refusal, path, auth.unit()).into_http())))
            }
        }
    }
}

/// Logs a refusal: who and what, never the token.
fn log(refusal: &Refusal, method: &str) {
    let reason = refusal.reason.as_str();
    match &refusal.claims {
        Some(c) => tracing::warn!(
            reason,
            method,
            subject = %c.subject,
            role = %c.role,
            token_unit = %c.unit,
            "call refused"
        ),
        None => tracing::warn!(reason, method, detail = %refusal.message, "call refused"),
    }
}

/// The status of a refusal, with an `ErrorInfo` a program can act on.
fn status(refusal: &Refusal, method: &str, unit: &str) -> Status {
    let code = if refusal.reason.is_authentication() {
        Code::Unauthenticated
    } else {
        Code::PermissionDenied
    };
    let mut metadata = HashMap::from([
        ("method".to_string(), method.to_string()),
        ("unit".to_string(), unit.to_string()),
    ]);
    if let Some(claims) = &refusal.claims {
        metadata.insert("role".to_string(), claims.role.to_string());
        metadata.insert("token_unit".to_string(), claims.unit.clone());
    }
    Status::with_error_details(
        code,
        refusal.message.clone(),
        ErrorDetails::with_error_info(refusal.reason.as_str(), ERROR_DOMAIN, metadata),
    )
}

/// When a stream's token expires, and the status it then ends with.
struct Expiry {
    at: Pin<Box<tokio::time::Sleep>>,
    status: Status,
    method: String,
    subject: String,
}

impl Expiry {
    fn of(claims: &Claims, method: &str, unit: &str) -> Expiry {
        let expires =
            UNIX_EPOCH + Duration::from_secs(u64::try_from(claims.expires_at).unwrap_or(0));
        let left = expires
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO);
        let refusal = Refusal {
            reason: Reason::TokenExpired,
            message: "the token has expired; open the stream again with a new one".to_string(),
            claims: Some(claims.clone()),
        };
        Expiry {
            at: Box::pin(tokio::time::sleep(left)),
            status: status(&refusal, method, unit),
            method: method.to_string(),
            subject: claims.subject.clone(),
        }
    }
}

/// The answer of a lasting stream, ending when its token expires.
pub struct UntilExpiry<F> {
    call: Pin<Box<F>>,
    expiry: Option<Expiry>,
}

impl<F, E> Future for UntilExpiry<F>
where
    F: Future<Output = Result<Response<Body>, E>>,
{
    type Output = Result<Response<Body>, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let response = std::task::ready!(self.call.as_mut().poll(cx))?;
        // An answer that is only a status (the handler refused) has nothing to cut short.
        let refused = response.headers().contains_key(Status::GRPC_STATUS);
        let Some(expiry) = self.expiry.take().filter(|_| !refused) else {
            return Poll::Ready(Ok(response));
        };
        Poll::Ready(Ok(response.map(|inner| {
            Body::new(ExpiringBody {
                inner,
                expiry: Some(expiry),
            })
        })))
    }
}

/// A streamed body that, once the token expires, drops the handler's stream and ends with
/// the expiry's status in its trailers.
struct ExpiringBody {
    inner: Body,
    expiry: Option<Expiry>,
}

impl http_body::Body for ExpiringBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let this = &mut *self;
        if let Some(expiry) = &mut this.expiry
            && expiry.at.as_mut().poll(cx).is_ready()
        {
            let expired = this.expiry.take();
            // Dropping the handler's stream ends its task.
            this.inner = Body::empty();
            let mut trailers = HeaderMap::new();
            if let Some(Expiry {
                status,
                method,
                subject,
                ..
            }) = expired
            {
                tracing::info!(%method, %subject, "stream ended: its token expired");
                if let Err(e) = status.add_header(&mut trailers) {
                    return Poll::Ready(Some(Err(e)));
                }
            }
            return Poll::Ready(Some(Ok(Frame::trailers(trailers))));
        }
        let frame = std::task::ready!(Pin::new(&mut this.inner).poll_frame(cx));
        if frame.is_none() {
            this.expiry = None;
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.expiry.is_none() && self.inner.is_end_stream()
    }
}
