//! Operator tokens: every method of every tiepdan service, enumerated from the descriptor, is
//! refused to a role the permission table does not list and reaches its handler for one it
//! does; a missing, malformed, forged, expired or foreign token is refused with its reason; a
//! refused change stores nothing; health, reflection and the tier link need no token.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use crate::support::server::UnitLevel;
use crate::support::server::tls;
use crate::support::server::wait_synced;
use crate::support::server::{Access, Claims, Role, Secret, auth};
use crate::support::server::{NodeConfig, node};
use tiepdan_client::{Bearer, Client};
use tiepdan_proto::v1 as pb;
use tiepdan_tests::{Backend, TestDb, TestNode, unit};
use tokio::time::timeout;
use tonic::codegen::http::uri::PathAndQuery;
use tonic::metadata::MetadataValue;
use tonic::transport::Channel;
use tonic::{Code, Status};

use crate::support::{assert_refused_with as assert_refused, home_unit, reason, ts, visit_req};

const HOME: &str = crate::support::HOME;

/// A node of [`home_unit`] that checks tokens signed with the returned secret.
async fn guarded() -> (TestNode, Secret) {
    let secret = Secret::generate();
    let for_node = secret.clone();
    let node = TestNode::start_with(TestDb::new(Backend::Sqlite).await, home_unit(), None, |c| {
        c.auth = Some(for_node)
    })
    .await;
    (node, secret)
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// A token of `role` at `unit`, valid from an hour ago for `hours` more hours (negative:
/// already expired).
fn token_for(secret: &Secret, role: Role, unit: &str, hours: i64) -> String {
    auth::issue(
        secret,
        &Claims {
            subject: format!("test {role}"),
            role,
            unit: unit.to_string(),
            issued_at: now() - 7200,
            expires_at: now() + hours * 3600,
        },
    )
    .unwrap()
}

fn token(secret: &Secret, role: Role) -> String {
    token_for(secret, role, HOME, 1)
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// Calls `path` as any gRPC client could, with one empty message (every request type's
/// defaults) and the given `authorization` headers; answers the status the call ends with.
async fn call(channel: &Channel, path: &str, authorization: &[String]) -> Result<(), Status> {
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready()
        .await
        .map_err(|e| Status::unavailable(e.to_string()))?;
    let mut request = tonic::Request::new(tokio_stream::iter([()]));
    for value in authorization {
        request.metadata_mut().append(
            "authorization",
            MetadataValue::try_from(value.as_str()).unwrap(),
        );
    }
    let path = PathAndQuery::try_from(path).unwrap();
    let codec = tonic_prost::ProstCodec::<(), ()>::default();
    let mut answers = grpc.streaming(request, path, codec).await?.into_inner();
    // A stream that stays open (a watch) was let through.
    match timeout(Duration::from_secs(2), answers.message()).await {
        Ok(Err(status)) => Err(status),
        Ok(Ok(_)) | Err(_) => Ok(()),
    }
}

mod roles;
mod transport;
