//! The check in front of the server's routes: a tower layer that reads the method path and the
//! `authorization` header of each call, asks the [`Authorizer`], and either passes the call on
//! (with the token's [`Claims`] in the request's extensions) or answers it at once with
//! UNAUTHENTICATED or PERMISSION_DENIED. A refused call reaches no handler. (A tonic
//! interceptor would not do: it does not see the method.)

use std::collections::HashMap;
use std::future::{Ready, ready};
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::Either;
use tonic::body::Body;
use tonic::codegen::Service;
use tonic::codegen::http::header::AUTHORIZATION;
use tonic::codegen::http::{Request, Response};
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use super::{Admission, Authorizer, Presented, Refusal};
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
    type Future = Either<S::Future, Ready<Result<Response<Body>, S::Error>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let Some(auth) = &self.auth else {
            return Either::Left(self.inner.call(request));
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
                request.extensions_mut().insert(claims);
                Either::Left(self.inner.call(request))
            }
            Ok(Admission::Open | Admission::TierLink) => Either::Left(self.inner.call(request)),
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
