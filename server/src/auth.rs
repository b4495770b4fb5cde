//! Operator tokens and who may call what. A person at a desk, or a script, calls a node with a
//! bearer token signed by the node's secret (HMAC-SHA256): it names who (subject), the role
//! (reception staff, head, auditor, reporter), the unit it is valid at and when it expires. The
//! permission table maps every RPC to the roles that may call it; a method not in the table is
//! refused. The tier link is not an operator call: a child proves its unit with its certificate
//! (see [`crate::tls`]). This module decides; [`layer`] puts the decision in front of the
//! server's routes and turns a refusal into a gRPC status.

use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::domain::validate::is_unit_code;

pub mod layer;

type HmacSha256 = Hmac<Sha256>;

/// First part of every token: the format's version.
pub const TOKEN_PREFIX: &str = "tdn1";
/// Longest token a node reads; anything longer is refused before it is decoded.
pub const MAX_TOKEN_BYTES: usize = 1024;
/// Longest subject, in characters.
pub const MAX_SUBJECT_CHARS: usize = 64;
/// Bytes of a secret made by [`Secret::generate`]; also the least a secret may have.
pub const SECRET_BYTES: usize = 32;
/// Most bytes a secret file may hold.
const MAX_SECRET_BYTES: usize = 1024;
/// Length of an HMAC-SHA256 tag.
const MAC_BYTES: usize = 32;
/// Longest lifetime (expiry minus issue time) of a token a node accepts unless configured
/// otherwise, and the most `tiepdan-node token issue --days` signs.
pub const DEFAULT_TOKEN_MAX_DAYS: u32 = 366;
/// How far ahead of the node's clock a token's issue time may be: the issuing machine's
/// clock may run a little fast, not hours.
pub const ISSUE_SKEW_SECS: i64 = 5 * 60;
const SECONDS_PER_DAY: i64 = 86_400;

/// What a token holder does at the unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Cán bộ tiếp công dân: records visits, receives and classifies petitions, reads.
    Reception,
    /// Thủ trưởng: everything operational — accept, route, decide, resolve, manage units.
    Head,
    /// Thanh tra, kiểm tra: reads everything, changes nothing.
    Auditor,
    /// A statistics client: reads reports and the state of the links, nothing else.
    Reporter,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 4] = [Role::Reception, Role::Head, Role::Auditor, Role::Reporter];

    /// The role's name in tokens and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Reception => "reception",
            Role::Head => "head",
            Role::Auditor => "auditor",
            Role::Reporter => "reporter",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Role, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("{s:?}: one of reception, head, auditor, reporter"))
    }
}

/// What a token says. Times are seconds since the Unix epoch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claims {
    /// Who holds the token: a person's or a program's name, for the logs.
    #[serde(rename = "sub")]
    pub subject: String,
    /// What the holder may do.
    pub role: Role,
    /// The unit whose node accepts the token.
    pub unit: String,
    /// When the token was issued.
    #[serde(rename = "iat")]
    pub issued_at: i64,
    /// From when the token is refused.
    #[serde(rename = "exp")]
    pub expires_at: i64,
}

impl Claims {
    /// What is wrong with the claims, if anything.
    fn problem(&self) -> Option<&'static str> {
        let chars = self.subject.chars().count();
        if chars == 0 || chars > MAX_SUBJECT_CHARS {
            return Some("the subject must have 1 to 64 characters");
        }
        if self.subject.chars().any(char::is_control) {
            return Some("the subject must not hold control characters");
        }
        if !is_unit_code(&self.unit) {
            return Some("the unit is not a unit code");
        }
        if self.expires_at <= self.issued_at {
            return Some("the token expires before it is issued");
        }
        None
    }
}

/// A node's secret: the key its tokens are signed with. Never printed.
#[derive(Clone)]
pub struct Secret(Arc<[u8]>);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// A secret, a claim set or a file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(String),
}

impl Secret {
    /// A new random secret of [`SECRET_BYTES`] bytes.
    pub fn generate() -> Secret {
        let bytes: [u8; SECRET_BYTES] = rand::random();
        Secret(Arc::from(bytes.as_slice()))
    }

    /// A secret of the given bytes: at least [`SECRET_BYTES`] of them.
    pub fn from_bytes(bytes: &[u8]) -> Result<Secret, AuthError> {
        if !(SECRET_BYTES..=MAX_SECRET_BYTES).contains(&bytes.len()) {
            return Err(AuthError::Invalid(format!(
                "a secret has {SECRET_BYTES} to {MAX_SECRET_BYTES} bytes, not {}",
                bytes.len()
            )));
        }
        Ok(Secret(Arc::from(bytes)))
    }

    /// Reads a secret file: its bytes, as written by [`Secret::write_new`], are the key.
    pub fn read(path: &Path) -> Result<Secret, AuthError> {
        let bytes = std::fs::read(path).map_err(|source| AuthError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            if let Ok(meta) = std::fs::metadata(path)
                && meta.permissions().mode() & 0o077 != 0
            {
                tracing::warn!(path = %path.display(), "the auth secret file is readable by others; chmod 600 it");
            }
        }
        Secret::from_bytes(&bytes)
            .map_err(|e| AuthError::Invalid(format!("{}: {e}", path.display())))
    }

    /// Makes a new secret and writes it to a new file readable by its owner only (0600).
    /// An existing file is never overwritten: tokens signed with it would stop working.
    pub fn write_new(path: &Path) -> Result<Secret, AuthError> {
        use std::io::Write;
        let secret = Secret::generate();
        let write_error = |source| AuthError::Write {
            path: path.to_path_buf(),
            source,
        };
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(path).map_err(write_error)?;
        file.write_all(&secret.0).map_err(write_error)?;
        file.sync_all().map_err(write_error)?;
        Ok(secret)
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC takes a key of any length; the secret's length is checked when it is made.
        match HmacSha256::new_from_slice(&self.0) {
            Ok(mac) => mac,
            Err(_) => unreachable!("HMAC accepts keys of every length"),
        }
    }
}

/// Signs `claims` with `secret`: `tdn1.<claims>.<mac>`, both parts base64url without padding,
/// the claims a JSON object, the MAC an HMAC-SHA256 over `tdn1.<claims>`.
pub fn issue(secret: &Secret, claims: &Claims) -> Result<String, AuthError> {
    if let Some(problem) = claims.problem() {
        return Err(AuthError::Invalid(problem.to_string()));
    }
    let json = serde_json::to_vec(claims).map_err(|e| AuthError::Invalid(e.to_string()))?;
    let signed = format!("{TOKEN_PREFIX}.{}", URL_SAFE_NO_PAD.encode(json));
    let mut mac = secret.mac();
    mac.update(signed.as_bytes());
    let token = format!(
        "{signed}.{}",
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    );
    if token.len() > MAX_TOKEN_BYTES {
        return Err(AuthError::Invalid(format!(
            "the token would be longer than {MAX_TOKEN_BYTES} bytes"
        )));
    }
    Ok(token)
}

/// Why a token was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    /// Not a token of this format, or not signed with this node's secret.
    Invalid(&'static str),
    /// Signed correctly but past its expiry.
    Expired(Claims),
}

/// Checks a token's signature with `secret` and its expiry against `now`, and returns its
/// claims. The MAC is checked (in constant time) before the claims are read.
pub fn verify(secret: &Secret, token: &str, now: i64) -> Result<Claims, TokenError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(TokenError::Invalid("the token is too long"));
    }
    let mut parts = token.split('.');
    let (Some(prefix), Some(claims_part), Some(mac_part), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Invalid("a token has three parts"));
    };
    if prefix != TOKEN_PREFIX {
        return Err(TokenError::Invalid("not a tdn1 token"));
    }
    let tag = URL_SAFE_NO_PAD
        .decode(mac_part)
        .map_err(|_| TokenError::Invalid("the signature is not base64url"))?;
    if tag.len() != MAC_BYTES {
        return Err(TokenError::Invalid("the signature has the wrong length"));
    }
    let mut mac = secret.mac();
    mac.update(&token.as_bytes()[..prefix.len() + 1 + claims_part.len()]);
    mac.verify_slice(&tag)
        .map_err(|_| TokenError::Invalid("the signature does not match"))?;
    let json = URL_SAFE_NO_PAD
        .decode(claims_part)
        .map_err(|_| TokenError::Invalid("the claims are not base64url"))?;
    let claims: Claims = serde_json::from_slice(&json)
        .map_err(|_| TokenError::Invalid("the claims do not parse"))?;
    if claims.problem().is_some() {
        return Err(TokenError::Invalid("the claims are not valid"));
    }
    if now >= claims.expires_at {
        return Err(TokenError::Expired(claims));
    }
    Ok(claims)
}

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
        // Being added to sync.proto on another branch; listed here so that it is neither
        // open nor closed to the head and auditor by accident when the branches meet.
        "Reconcile" => AUDIT,
    }
    "ReportService" {
        "GetReport" => TOTALS,
        "WatchReport" => TOTALS,
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
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000;

    fn claims(role: Role) -> Claims {
        Claims {
            subject: "Nguyễn Thị Hoa".into(),
            role,
            unit: "269".into(),
            issued_at: NOW - 60,
            expires_at: NOW + 3600,
        }
    }

    fn secret(byte: u8) -> Secret {
        Secret::from_bytes(&[byte; 32]).unwrap_or_else(|e| panic!("{e}"))
    }

    fn token(role: Role) -> String {
        issue(&secret(7), &claims(role)).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_token_round_trips() {
        for role in Role::ALL {
            let t = token(role);
            assert!(t.starts_with("tdn1."));
            assert_eq!(verify(&secret(7), &t, NOW), Ok(claims(role)));
        }
    }

    #[test]
    fn a_tampered_token_is_invalid() {
        let t = token(Role::Reporter);
        // A token of another secret.
        assert!(matches!(
            verify(&secret(8), &t, NOW),
            Err(TokenError::Invalid(_))
        ));
        // Every single flipped byte, in any part, is refused.
        for i in 0..t.len() {
            let mut bytes = t.clone().into_bytes();
            bytes[i] ^= 0x01;
            let Ok(tampered) = String::from_utf8(bytes) else {
                continue;
            };
            assert!(
                matches!(
                    verify(&secret(7), &tampered, NOW),
                    Err(TokenError::Invalid(_))
                ),
                "byte {i} flipped: {tampered}"
            );
        }
        // Claims re-encoded with another role, the old MAC kept.
        let (signed, mac) = t.rsplit_once('.').unwrap_or_default();
        let forged_claims = serde_json::to_vec(&claims(Role::Head)).unwrap_or_default();
        let forged = format!("tdn1.{}.{mac}", URL_SAFE_NO_PAD.encode(forged_claims));
        assert_ne!(signed, forged.rsplit_once('.').unwrap_or_default().0);
        assert!(matches!(
            verify(&secret(7), &forged, NOW),
            Err(TokenError::Invalid(_))
        ));
    }

    #[test]
    fn malformed_tokens_are_invalid_never_a_panic() {
        let t = token(Role::Head);
        let long = "a".repeat(MAX_TOKEN_BYTES + 1);
        let padded = format!("{t}=");
        let cases = [
            "",
            ".",
            "..",
            "...",
            "tdn1",
            "tdn1..",
            "tdn2.e30.AAAA",
            "tdn1.e30.AAAA",
            "tdn1.!!!.!!!",
            long.as_str(),
            padded.as_str(),
            "tdn1.é.é",
        ];
        for case in cases {
            assert!(
                matches!(verify(&secret(7), case, NOW), Err(TokenError::Invalid(_))),
                "{case:?}"
            );
        }
        let with_extra_part = format!("{t}.x");
        assert!(verify(&secret(7), &with_extra_part, NOW).is_err());
    }

    #[test]
    fn claims_signed_but_unusable_are_invalid() {
        // Signed with the right secret, but not what `issue` would sign.
        let sign = |json: &str| {
            let signed = format!("tdn1.{}", URL_SAFE_NO_PAD.encode(json));
            let mut mac = secret(7).mac();
            mac.update(signed.as_bytes());
            format!(
                "{signed}.{}",
                URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
            )
        };
        let cases = [
            r#"{"sub":"a","role":"king","unit":"269","iat":1,"exp":2000000000}"#,
            r#"{"sub":"a","role":"head","unit":"26x","iat":1,"exp":2000000000}"#,
            r#"{"sub":"","role":"head","unit":"269","iat":1,"exp":2000000000}"#,
            r#"{"sub":"a","role":"head","unit":"269","iat":1,"exp":2000000000,"admin":true}"#,
            r#"{"sub":"a","role":"head","role":"head","unit":"269","iat":1,"exp":2000000000}"#,
            r#"{"sub":"a","role":"head","unit":"269","iat":1}"#,
            r#"[]"#,
        ];
        for json in cases {
            assert!(
                matches!(
                    verify(&secret(7), &sign(json), NOW),
                    Err(TokenError::Invalid(_))
                ),
                "{json}"
            );
        }
        let good = r#"{"sub":"a","role":"head","unit":"269","iat":1,"exp":2000000000}"#;
        assert!(verify(&secret(7), &sign(good), NOW).is_ok());
    }

    #[test]
    fn expiry_is_exclusive() {
        let mut c = claims(Role::Head);
        c.expires_at = NOW;
        let t = issue(&secret(7), &c).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(verify(&secret(7), &t, NOW), Err(TokenError::Expired(c)));
        assert!(verify(&secret(7), &t, NOW - 1).is_ok());
    }

    #[test]
    fn issue_refuses_bad_claims() {
        let mut c = claims(Role::Head);
        c.subject = "x".repeat(MAX_SUBJECT_CHARS + 1);
        assert!(issue(&secret(7), &c).is_err());
        c.subject = "a\nb".into();
        assert!(issue(&secret(7), &c).is_err());
        c = claims(Role::Head);
        c.unit = "01x".into();
        assert!(issue(&secret(7), &c).is_err());
        // The longest subject still fits.
        c = claims(Role::Head);
        c.subject = "Ữ".repeat(MAX_SUBJECT_CHARS);
        assert!(issue(&secret(7), &c).is_ok());
    }

    #[test]
    fn secrets_are_checked_and_not_printed() {
        assert!(Secret::from_bytes(&[1; 31]).is_err());
        assert!(Secret::from_bytes(&[1; 32]).is_ok());
        assert_eq!(format!("{:?}", secret(7)), "Secret(…)");
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("secret");
        let written = Secret::write_new(&path).unwrap_or_else(|e| panic!("{e}"));
        assert!(Secret::write_new(&path).is_err(), "never overwritten");
        let read = Secret::read(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(written.0, read.0);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path)
                .map(|m| m.permissions().mode())
                .unwrap_or_default();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    fn admit(auth: &Authorizer, path: &str, header: Option<String>) -> Result<Admission, Reason> {
        let presented = match &header {
            Some(h) => Presented::One(h.as_bytes()),
            None => Presented::Nothing,
        };
        auth.admit(path, presented, NOW).map_err(|r| r.reason)
    }

    #[test]
    fn the_decision() {
        let auth = Authorizer::new(secret(7), "269");
        let bearer = |role| Some(format!("Bearer {}", token(role)));
        let visit = "/tiepdan.v1.ReceptionService/RecordVisit";
        assert_eq!(
            admit(&auth, "/grpc.health.v1.Health/Check", None),
            Ok(Admission::Open)
        );
        assert_eq!(
            admit(&auth, "/tiepdan.v1.SyncService/Link", None),
            Ok(Admission::TierLink)
        );
        assert_eq!(
            admit(
                &auth,
                "/grpc.health.v1.Health/../tiepdan.v1.UnitService/RegisterUnit",
                None
            ),
            Err(Reason::TokenMissing),
            "open means exactly /service/method"
        );
        assert_eq!(admit(&auth, visit, None), Err(Reason::TokenMissing));
        assert!(matches!(
            admit(&auth, visit, bearer(Role::Reception)),
            Ok(Admission::Token(_))
        ));
        let lowercase = Some(format!("bearer {}", token(Role::Reception)));
        assert!(admit(&auth, visit, lowercase).is_ok());
        assert_eq!(
            admit(&auth, visit, bearer(Role::Auditor)),
            Err(Reason::RoleNotAllowed)
        );
        assert_eq!(
            admit(&auth, "/tiepdan.v1.NoService/Nothing", bearer(Role::Head)),
            Err(Reason::RoleNotAllowed),
            "default deny"
        );
        assert_eq!(
            admit(&auth, "/tiepdan.v1.NoService/Nothing", None),
            Err(Reason::TokenMissing),
            "the token first"
        );
        assert_eq!(
            admit(&auth, visit, Some(token(Role::Head))),
            Err(Reason::TokenInvalid),
            "no scheme"
        );
        assert_eq!(
            admit(&auth, visit, Some(format!("Basic {}", token(Role::Head)))),
            Err(Reason::TokenInvalid)
        );
        let other = Authorizer::new(secret(7), "09574");
        assert_eq!(
            admit(&other, visit, bearer(Role::Head)),
            Err(Reason::WrongUnit)
        );
        let header = format!("Bearer {}", token(Role::Head));
        assert_eq!(
            auth.admit(visit, Presented::Several, NOW)
                .map_err(|r| r.reason),
            Err(Reason::TokenInvalid)
        );
        assert!(
            auth.admit(visit, Presented::One(header.as_bytes()), NOW)
                .is_ok()
        );
        assert_eq!(
            auth.admit(visit, Presented::One(header.as_bytes()), NOW + 3600)
                .map_err(|r| r.reason),
            Err(Reason::TokenExpired)
        );
        assert_eq!(
            auth.admit(visit, Presented::One(&[0xff, 0xfe]), NOW)
                .map_err(|r| r.reason),
            Err(Reason::TokenInvalid)
        );
    }

    #[test]
    fn lifetimes_are_capped_and_issue_times_not_far_ahead() {
        let auth = Authorizer::new(secret(7), "269");
        let visit = "/tiepdan.v1.ReceptionService/RecordVisit";
        let day = SECONDS_PER_DAY;
        let admit_between = |auth: &Authorizer, issued_at: i64, expires_at: i64| {
            let c = Claims {
                issued_at,
                expires_at,
                ..claims(Role::Head)
            };
            let header = format!("Bearer {}", issue(&secret(7), &c).unwrap_or_default());
            auth.admit(visit, Presented::One(header.as_bytes()), NOW)
                .map(|_| ())
                .map_err(|r| (r.reason, r.message))
        };
        let refused = |result: Result<(), (Reason, String)>| result.map_err(|(reason, _)| reason);
        assert_eq!(admit_between(&auth, NOW - 60, NOW - 60 + 366 * day), Ok(()));
        let too_long = admit_between(&auth, NOW - 60, NOW - 59 + 366 * day);
        assert!(
            too_long
                .as_ref()
                .is_err_and(|(_, m)| m.contains("more than 366 days")),
            "{too_long:?}"
        );
        assert_eq!(
            refused(admit_between(&auth, NOW - 60, NOW + 400 * day)),
            Err(Reason::TokenInvalid)
        );
        assert_eq!(
            refused(admit_between(&auth, NOW + 3600, NOW + 7200)),
            Err(Reason::TokenInvalid)
        );
        assert_eq!(
            admit_between(&auth, NOW + ISSUE_SKEW_SECS, NOW + 7200),
            Ok(())
        );
        assert_eq!(
            refused(admit_between(&auth, NOW + ISSUE_SKEW_SECS + 1, NOW + 7200)),
            Err(Reason::TokenInvalid)
        );
        // The cap is the node's to set.
        let strict = Authorizer::new(secret(7), "269").with_token_max_days(30);
        assert_eq!(
            admit_between(&strict, NOW - 60, NOW - 60 + 30 * day),
            Ok(())
        );
        assert_eq!(
            refused(admit_between(&strict, NOW - 60, NOW + 31 * day)),
            Err(Reason::TokenInvalid)
        );
        let lenient = Authorizer::new(secret(7), "269").with_token_max_days(730);
        assert_eq!(admit_between(&lenient, NOW - 60, NOW + 400 * day), Ok(()));
    }

    #[test]
    fn the_table_covers_every_method_of_the_descriptor() {
        use prost::Message;
        let set = prost_types::FileDescriptorSet::decode(tiepdan_proto::FILE_DESCRIPTOR_SET)
            .unwrap_or_else(|e| panic!("{e}"));
        let mut described = Vec::new();
        for file in &set.file {
            for service in &file.service {
                for method in &service.method {
                    described.push(format!(
                        "/{}.{}/{}",
                        file.package(),
                        service.name(),
                        method.name()
                    ));
                }
            }
        }
        for path in &described {
            assert!(
                access(path).is_some(),
                "{path} is not in the permission table"
            );
        }
        // Every server stream behind a token ends with it; the tier link proves its unit
        // with a certificate, not a token.
        for file in &set.file {
            for service in &file.service {
                for method in &service.method {
                    let path = format!("/{}.{}/{}", file.package(), service.name(), method.name());
                    let behind_token = matches!(access(&path), Some(Access::Roles(_)));
                    assert_eq!(
                        is_stream(&path),
                        behind_token && method.server_streaming(),
                        "{path}: a stream behind a token belongs in STREAMS, nothing else"
                    );
                }
            }
        }
        // No method of the table that no service has.
        for (path, _) in PERMISSIONS {
            assert!(
                described.iter().any(|d| d == path),
                "{path} is in the table but no service has it"
            );
        }
        // No method is listed twice, and readers write nothing.
        for (i, (path, _)) in PERMISSIONS.iter().enumerate() {
            assert!(
                PERMISSIONS[i + 1..].iter().all(|(p, _)| p != path),
                "{path} twice"
            );
        }
        for (path, access) in PERMISSIONS {
            if let Access::Roles(roles) = access
                && (roles.contains(&Auditor) || roles.contains(&Reporter))
            {
                let method = path.rsplit('/').next().unwrap_or_default();
                assert!(
                    ["Get", "List", "Watch", "Reconcile"]
                        .iter()
                        .any(|p| method.starts_with(p)),
                    "{path} is open to a read-only role"
                );
            }
        }
    }
}
