//! Operator tokens: a bearer token signed by the node's secret (HMAC-SHA256), naming who
//! (subject), the role, the unit it is valid at and when it expires; issued and verified here.

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
pub(crate) const SECONDS_PER_DAY: i64 = 86_400;

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
pub struct Secret(pub(super) Arc<[u8]>);

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

    pub(super) fn mac(&self) -> HmacSha256 {
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
