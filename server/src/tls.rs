//! Mutual TLS on the tier link (rustls through tonic). Every node holds a certificate signed
//! by its tree's CA that names its unit (`urn:tiepdan:unit:CODE`); a parent accepts a child's
//! stream only as the unit its certificate names. `tiepdan-node certs` makes the CA and the
//! node certificates.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};

/// The certificate, key and CA files of a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub ca: PathBuf,
}

/// A node's TLS settings for serving and for its link to the parent.
#[derive(Debug, Clone)]
pub struct NodeTls {
    pub server: ServerTlsConfig,
    pub client: ClientTlsConfig,
}

/// A TLS setup that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("certificate: {0}")]
    Cert(#[from] rcgen::Error),
    #[error("{0}")]
    Invalid(String),
}

fn read(path: &Path) -> Result<String, TlsError> {
    std::fs::read_to_string(path).map_err(|source| TlsError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn write(path: &Path, text: &str) -> Result<(), TlsError> {
    std::fs::write(path, text).map_err(|source| TlsError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// The URI a node certificate carries for its unit.
pub fn unit_uri(code: &str) -> String {
    format!("urn:tiepdan:unit:{code}")
}

/// Loads a node's TLS settings. Clients must present a certificate of the same CA to open a
/// tier link; operator clients may connect without one (their calls carry tokens).
pub fn load(files: &TlsFiles) -> Result<NodeTls, TlsError> {
    let cert = read(&files.cert)?;
    let key = read(&files.key)?;
    let ca = Certificate::from_pem(read(&files.ca)?);
    let identity = Identity::from_pem(cert, key);
    Ok(NodeTls {
        server: ServerTlsConfig::new()
            .identity(identity.clone())
            .client_ca_root(ca.clone())
            .client_auth_optional(true),
        client: ClientTlsConfig::new().ca_certificate(ca).identity(identity),
    })
}

/// The unit a DER certificate names, if it names exactly one.
pub fn unit_of_certificate(der: &[u8]) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let san = cert.subject_alternative_name().ok()??;
    let mut units = san
        .value
        .general_names
        .iter()
        .filter_map(|name| match name {
            x509_parser::extensions::GeneralName::URI(uri) => {
                uri.strip_prefix("urn:tiepdan:unit:").map(str::to_string)
            }
            _ => None,
        });
    let unit = units.next()?;
    units.next().is_none().then_some(unit)
}

/// Creates a tree's CA in `dir` (`ca.pem`, `ca.key`).
pub fn init_ca(dir: &Path, name: &str) -> Result<(), TlsError> {
    std::fs::create_dir_all(dir).map_err(|source| TlsError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, name);
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let cert = params.self_signed(&key)?;
    write(&dir.join("ca.pem"), &cert.pem())?;
    write(&dir.join("ca.key"), &key.serialize_pem())?;
    Ok(())
}

/// Issues a node certificate for `unit` signed by the CA in `dir`: `UNIT.pem`, `UNIT.key`.
/// `hosts` are the names and addresses the node is reached at (localhost and 127.0.0.1 are
/// always included).
pub fn issue(dir: &Path, unit: &str, hosts: &[String]) -> Result<TlsFiles, TlsError> {
    if !crate::domain::validate::is_unit_code(unit) {
        return Err(TlsError::Invalid(format!("{unit:?} is not a unit code")));
    }
    let ca_key = KeyPair::from_pem(&read(&dir.join("ca.key"))?)?;
    let issuer = Issuer::from_ca_cert_pem(&read(&dir.join("ca.pem"))?, ca_key)?;
    let key = KeyPair::generate()?;
    let mut names: Vec<String> = vec!["localhost".into(), "127.0.0.1".into()];
    names.extend(hosts.iter().cloned());
    let mut params = CertificateParams::new(names)?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, format!("tiepdan unit {unit}"));
    params.distinguished_name = dn;
    params
        .subject_alt_names
        .push(SanType::URI(unit_uri(unit).try_into()?));
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![
        rcgen::ExtendedKeyUsagePurpose::ServerAuth,
        rcgen::ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let cert = params.signed_by(&key, &issuer)?;
    let files = TlsFiles {
        cert: dir.join(format!("{unit}.pem")),
        key: dir.join(format!("{unit}.key")),
        ca: dir.join("ca.pem"),
    };
    write(&files.cert, &cert.pem())?;
    write(&files.key, &key.serialize_pem())?;
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_certificates_name_their_unit() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        init_ca(dir.path(), "test CA").unwrap_or_else(|e| panic!("{e}"));
        let files = issue(dir.path(), "09574", &[]).unwrap_or_else(|e| panic!("{e}"));
        let pem = std::fs::read_to_string(&files.cert).unwrap_or_default();
        let der = x509_parser::pem::parse_x509_pem(pem.as_bytes())
            .map(|(_, p)| p.contents)
            .unwrap_or_default();
        assert_eq!(unit_of_certificate(&der).as_deref(), Some("09574"));
        assert!(issue(dir.path(), "bad", &[]).is_err());
        assert!(load(&files).is_ok());
    }
}
