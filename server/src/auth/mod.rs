//! Operator tokens and who may call what. A person at a desk, or a script, calls a node with a
//! bearer token signed by the node's secret (HMAC-SHA256): it names who (subject), the role
//! (reception staff, head, auditor, reporter), the unit it is valid at and when it expires. The
//! permission table maps every RPC to the roles that may call it; a method not in the table is
//! refused. The tier link is not an operator call: a child proves its unit with its certificate
//! (see [`crate::tls`]). This module decides; [`layer`] puts the decision in front of the
//! server's routes and turns a refusal into a gRPC status.

pub mod layer;
mod token;

pub use token::*;

// ---- who may call what ----

/// Who may call a method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Holders of a token with one of these roles.
    Roles(&'static [Role]),
    /// The tier link: the child proves its unit with its certificate, not with a token (the
    /// handler refuses a link without one when TLS is on). A plaintext node serves loopback
    /// only and was asked for explicitly; there the link stays open as before.
    TierLink,
}

use Role::{Auditor, Head, Reception, Reporter};

/// What is done at the desk: visits, incoming petitions and their classification.
const DESK: Access = Access::Roles(&[Reception, Head]);
/// Decisions, routing, the published schedule and the unit tree: the head's.
const HEAD: Access = Access::Roles(&[Head]);
/// The unit's records, read-only.
const READ: Access = Access::Roles(&[Reception, Head, Auditor]);
/// The journal, its digests and reconciliation: for the head and for audit.
const AUDIT: Access = Access::Roles(&[Head, Auditor]);
/// The personal-data audit trail: the auditor's alone, since it records the head's reads too.
const OVERSIGHT: Access = Access::Roles(&[Auditor]);
/// Totals and the state of the links: for everyone, reporters included.
const TOTALS: Access = Access::Roles(&[Reception, Head, Auditor, Reporter]);
const TIER_LINK: Access = Access::TierLink;

/// `/tiepdan.v1.Service/Method` paths from a table written service by service.
macro_rules! permissions {
    ($($service:literal { $($method:literal => $access:expr),+ $(,)? })+) => {
        &[$($((concat!("/tiepdan.v1.", $service, "/", $method), $access),)+)+]
    };
}

/// Every RPC of every tiepdan service and who may call it. Anything else is refused, except
/// the services in [`OPEN_SERVICES`].
pub const PERMISSIONS: &[(&str, Access)] = permissions! {
    "UnitService" {
        "GetUnit" => READ,
        "ListUnits" => READ,
        "RegisterUnit" => HEAD,
        "Reorganise" => HEAD,
        "GetUnitHistory" => READ,
        "ListReorganisations" => READ,
    }
    "ReceptionService" {
        "RecordVisit" => DESK,
        "ListVisits" => READ,
        "PublishScheduleEntry" => HEAD,
        "ListScheduleEntries" => READ,
        "RecordConclusion" => HEAD,
        "UpdateConclusion" => HEAD,
        "ListConclusions" => READ,
    }
    "PetitionService" {
        "ReceivePetition" => DESK,
        "ClassifyPetition" => DESK,
        "AcceptPetition" => HEAD,
        "GuidePetition" => HEAD,
        "TransferPetition" => HEAD,
        "UrgePetition" => HEAD,
        "ReturnPetition" => HEAD,
        "WithdrawPetition" => HEAD,
        "FilePetition" => HEAD,
        "GetPetition" => READ,
        "ListPetitions" => READ,
        "ListOverdueItems" => READ,
        "GetDeadlineTable" => READ,
        "ListPersonalDataAccess" => OVERSIGHT,
    }
    "CaseService" {
        "GetCase" => READ,
        "ListCases" => READ,
        "ExtendCase" => HEAD,
        "ResolveCase" => HEAD,
        "RecordCaseInForce" => HEAD,
        "RecordEnforcement" => HEAD,
    }
    "JournalService" {
        "ListJournalEvents" => AUDIT,
    }
    "SyncService" {
        "Link" => TIER_LINK,
        "GetSyncStatus" => TOTALS,
        "GetJournalDigest" => AUDIT,
        "Reconcile" => AUDIT,
    }
    "ReportService" {
        "GetReport" => TOTALS,
        "WatchReport" => TOTALS,
        "GetFormReport" => TOTALS,
    }
};

/// Methods whose answer is a stream that lasts (a server stream behind a token): it ends
/// with TOKEN_EXPIRED when the token that opened it expires.
pub const STREAMS: &[&str] = &["/tiepdan.v1.ReportService/WatchReport"];

/// Whether the answer of `path` is a lasting stream, one of [`STREAMS`].
pub fn is_stream(path: &str) -> bool {
    STREAMS.contains(&path)
}

/// Services every caller reaches without a token: health checks and server reflection.
pub const OPEN_SERVICES: &[&str] = &[
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
];

/// Who may call the method at `path` (`/package.Service/Method`); `None` when no one may.
pub fn access(path: &str) -> Option<Access> {
    PERMISSIONS
        .iter()
        .find(|(method, _)| *method == path)
        .map(|(_, access)| *access)
}

/// Whether `path` is `/service/method` of an open service (nothing else: no further slashes).
fn is_open(path: &str) -> bool {
    path.strip_prefix('/')
        .and_then(|p| p.split_once('/'))
        .is_some_and(|(service, method)| {
            OPEN_SERVICES.contains(&service) && !method.is_empty() && !method.contains('/')
        })
}

// ---- the decision ----

/// The `authorization` headers of a call.
#[derive(Debug, Clone, Copy)]
pub enum Presented<'a> {
    /// None.
    Nothing,
    /// Exactly one, as sent.
    One(&'a [u8]),
    /// More than one: refused, there is no telling which to believe.
    Several,
}

/// Why a call was refused; each is an `ErrorInfo` reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// No token.
    TokenMissing,
    /// Not a token of this node's, or malformed.
    TokenInvalid,
    /// A token past its expiry.
    TokenExpired,
    /// A token of another unit.
    WrongUnit,
    /// A token whose role may not call the method.
    RoleNotAllowed,
}

impl Reason {
    /// The `ErrorInfo.reason`.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::TokenMissing => "TOKEN_MISSING",
            Reason::TokenInvalid => "TOKEN_INVALID",
            Reason::TokenExpired => "TOKEN_EXPIRED",
            Reason::WrongUnit => "WRONG_UNIT",
            Reason::RoleNotAllowed => "ROLE_NOT_ALLOWED",
        }
    }

    /// Whether the caller is unknown (UNAUTHENTICATED) rather than known and not allowed
    /// (PERMISSION_DENIED).
    pub fn is_authentication(self) -> bool {
        matches!(
            self,
            Reason::TokenMissing | Reason::TokenInvalid | Reason::TokenExpired
        )
    }
}

/// A refused call: why, in words, and what the token said when it could be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub reason: Reason,
    pub message: String,
    pub claims: Option<Claims>,
}

/// Why a call was let through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Health or reflection.
    Open,
    /// The tier link, authenticated by the handler.
    TierLink,
    /// A token whose role may call the method.
    Token(Claims),
}

/// Checks calls against a node's secret, unit and the permission table.
#[derive(Debug, Clone)]
pub struct Authorizer {
    secret: Secret,
    unit: String,
    max_lifetime_days: u32,
}

impl Authorizer {
    /// Checks for the node of `unit`, whose tokens are signed with `secret`, accepting
    /// lifetimes up to [`DEFAULT_TOKEN_MAX_DAYS`].
    pub fn new(secret: Secret, unit: impl Into<String>) -> Authorizer {
        Authorizer {
            secret,
            unit: unit.into(),
            max_lifetime_days: DEFAULT_TOKEN_MAX_DAYS,
        }
    }

    /// Accepts tokens whose expiry is at most `days` after their issue time.
    pub fn with_token_max_days(mut self, days: u32) -> Authorizer {
        self.max_lifetime_days = days;
        self
    }

    /// Decides a call of `path` with the `authorization` headers presented, at `now` (seconds
    /// since the Unix epoch). The token is checked before the method, so an unknown caller
    /// learns nothing about the table.
    pub fn admit(
        &self,
        path: &str,
        presented: Presented<'_>,
        now: i64,
    ) -> Result<Admission, Refusal> {
        if is_open(path) {
            return Ok(Admission::Open);
        }
        let access = access(path);
        if access == Some(Access::TierLink) {
            return Ok(Admission::TierLink);
        }
        let refuse = |reason, message: &str, claims| Refusal {
            reason,
            message: message.to_string(),
            claims,
        };
        let header = match presented {
            Presented::Nothing => {
                return Err(refuse(
                    Reason::TokenMissing,
                    "this call needs an operator token: authorization: Bearer <token>",
                    None,
                ));
            }
            Presented::Several => {
                return Err(refuse(
                    Reason::TokenInvalid,
                    "more than one authorization header",
                    None,
                ));
            }
            Presented::One(header) => header,
        };
        let token = bearer(header).map_err(|m| refuse(Reason::TokenInvalid, m, None))?;
        let claims = match verify(&self.secret, token, now) {
            Ok(claims) => claims,
            Err(TokenError::Invalid(m)) => {
                return Err(refuse(Reason::TokenInvalid, &format!("token: {m}"), None));
            }
            Err(TokenError::Expired(claims)) => {
                return Err(refuse(
                    Reason::TokenExpired,
                    "the token has expired; ask for a new one",
                    Some(claims),
                ));
            }
        };
        if claims.issued_at > now.saturating_add(ISSUE_SKEW_SECS) {
            return Err(refuse(
                Reason::TokenInvalid,
                "the token is issued in the future; check the issuing machine's clock",
                None,
            ));
        }
        let lifetime = claims.expires_at.saturating_sub(claims.issued_at);
        let most = i64::from(self.max_lifetime_days) * SECONDS_PER_DAY;
        if lifetime > most {
            let message = format!(
                "the token is valid for more than {} days, the most this node accepts; \
                 ask for a shorter one",
                self.max_lifetime_days
            );
            return Err(refuse(Reason::TokenInvalid, &message, None));
        }
        if claims.unit != self.unit {
            let message = format!(
                "the token is for unit {}; this node serves unit {}",
                claims.unit, self.unit
            );
            return Err(refuse(Reason::WrongUnit, &message, Some(claims)));
        }
        match access {
            Some(Access::Roles(roles)) if roles.contains(&claims.role) => {
                Ok(Admission::Token(claims))
            }
            _ => {
                let message = format!("role {} may not call {path}", claims.role);
                Err(refuse(Reason::RoleNotAllowed, &message, Some(claims)))
            }
        }
    }

    /// The unit this node serves.
    pub fn unit(&self) -> &str {
        &self.unit
    }
}

/// The token of an `authorization: Bearer <token>` header.
fn bearer(header: &[u8]) -> Result<&str, &'static str> {
    if header.len() > MAX_TOKEN_BYTES + "Bearer ".len() {
        return Err("the authorization header is too long");
    }
    let text = std::str::from_utf8(header).map_err(|_| "the authorization header is not text")?;
    let (scheme, token) = text
        .split_once(' ')
        .ok_or("the authorization header is not `Bearer <token>`")?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err("the authorization scheme is not Bearer");
    }
    let token = token.trim_matches(' ');
    if token.is_empty() {
        return Err("the bearer token is empty");
    }
    Ok(token)
}

#[cfg(test)]
mod tests;
