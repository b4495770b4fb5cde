//! Sealing: a transfer's personal details are sealed (an X25519 sealed box) to the node of
//! the unit the petition is transferred to, so the nodes it crosses on the way hold and
//! forward bytes they cannot read. Each node makes its key pair at its first start and keeps
//! the secret in its own database; public keys travel over the tier links (Hello up; Welcome
//! and Directory down), each accepted only from the side that speaks for that unit.

use crypto_box::{PublicKey, SecretKey};
use prost::Message;
use tiepdan_proto::v1 as pb;

use super::App;
use crate::domain::DomainError;
use crate::storage::Read;
use crate::storage::keys::{self, UnitKey};

/// Bytes of an X25519 public or secret key.
const KEY_BYTES: usize = 32;

impl App {
    /// Makes this node's key pair if it has none yet.
    pub(crate) async fn ensure_sealing_key(&self) -> Result<(), DomainError> {
        let me = self.code();
        let mine = keys::find(self.store().reader(), &me).await?;
        if mine.as_ref().is_some_and(|k| k.secret_key.is_some()) {
            return Ok(());
        }
        let secret = SecretKey::generate(&mut rand_core::OsRng);
        let key = UnitKey {
            unit_code: me,
            public_key: secret.public_key().as_bytes().to_vec(),
            secret_key: Some(secret.to_bytes().to_vec()),
        };
        let tx = self.store().begin_write().await?;
        keys::put_own(&tx, key).await?;
        self.store().commit(tx).await?;
        Ok(())
    }

    /// The public keys known of `units`.
    pub async fn sealing_keys(&self, units: &[String]) -> Result<Vec<pb::UnitKey>, DomainError> {
        if units.is_empty() {
            return Ok(Vec::new());
        }
        // Fixed-size lists (the last padded with a repeat): one statement shape, not one
        // prepared and cached per list length, each holding an opcode per parameter.
        const CHUNK: usize = 64;
        let mut out = Vec::new();
        for chunk in units.chunks(CHUNK) {
            let last = chunk.last().cloned().unwrap_or_default();
            let padded = chunk
                .iter()
                .cloned()
                .chain(std::iter::repeat(last))
                .take(CHUNK);
            out.extend(
                keys::public_keys(self.store().reader(), padded)
                    .await?
                    .into_iter()
                    .map(|(unit_code, public_key)| pb::UnitKey {
                        unit_code,
                        public_key,
                    }),
            );
        }
        Ok(out)
    }

    /// Learns the public keys a neighbour sent, keeping those of units `speaks_for` accepts;
    /// this node's own key is never replaced. Malformed keys are refused.
    pub async fn learn_keys(
        &self,
        keys: &[pb::UnitKey],
        speaks_for: impl Fn(&str) -> bool,
    ) -> Result<(), DomainError> {
        let me = self.code();
        let mut rows = Vec::new();
        for (i, k) in keys.iter().enumerate() {
            if k.public_key.len() != KEY_BYTES {
                return Err(DomainError::invalid(
                    format!("sealing_keys[{i}].public_key"),
                    format!("an X25519 public key is {KEY_BYTES} bytes"),
                ));
            }
            if k.unit_code == me || !speaks_for(&k.unit_code) {
                continue;
            }
            rows.push((k.unit_code.clone(), k.public_key.clone()));
        }
        if rows.is_empty() {
            return Ok(());
        }
        let known = self.sealing_keys(&rows_codes(&rows)).await?;
        rows.retain(|(unit, key)| {
            !known
                .iter()
                .any(|k| &k.unit_code == unit && &k.public_key == key)
        });
        if rows.is_empty() {
            return Ok(());
        }
        let learnt = rows_codes(&rows);
        let tx = self.store().begin_write().await?;
        keys::put_public(&tx, rows).await?;
        self.store().commit(tx).await?;
        self.resend_units(&learnt);
        Ok(())
    }

    /// Seals `petitioner` to `destination`'s key; None when that key is not known.
    pub(crate) async fn seal_for(
        &self,
        db: &impl Read,
        destination: &str,
        petitioner: &pb::Petitioner,
    ) -> Result<Option<Vec<u8>>, DomainError> {
        let Some(key) = keys::find(db, destination).await? else {
            return Ok(None);
        };
        let key: [u8; KEY_BYTES] = key
            .public_key
            .as_slice()
            .try_into()
            .map_err(|_| DomainError::Storage(format!("sealing key of {destination}")))?;
        let sealed = PublicKey::from(key)
            .seal(&mut rand_core::OsRng, &petitioner.encode_to_vec())
            .map_err(|_| DomainError::Storage("sealing failed".into()))?;
        Ok(Some(sealed))
    }

    /// Opens personal details sealed to this node.
    pub(crate) async fn unseal(
        &self,
        db: &impl Read,
        sealed: &[u8],
    ) -> Result<pb::Petitioner, DomainError> {
        let secret = keys::find(db, &self.code())
            .await?
            .and_then(|k| k.secret_key)
            .ok_or_else(|| DomainError::Storage("this node has no sealing key".into()))?;
        let secret: [u8; KEY_BYTES] = secret
            .as_slice()
            .try_into()
            .map_err(|_| DomainError::Storage("this node's sealing key is malformed".into()))?;
        let opened = SecretKey::from(secret).unseal(sealed).map_err(|_| {
            DomainError::invalid(
                "mail.petition_transfer.sealed_petitioner",
                "not sealed to this node",
            )
        })?;
        pb::Petitioner::decode(opened.as_slice()).map_err(|e| {
            DomainError::invalid(
                "mail.petition_transfer.sealed_petitioner",
                format!("does not decode: {e}"),
            )
        })
    }
}

fn rows_codes(rows: &[(String, Vec<u8>)]) -> Vec<String> {
    rows.iter().map(|(unit, _)| unit.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_secret_opens_a_sealed_box() {
        let secret = SecretKey::generate(&mut rand_core::OsRng);
        let other = SecretKey::generate(&mut rand_core::OsRng);
        let sealed = secret
            .public_key()
            .seal(&mut rand_core::OsRng, b"Nguyen Van A")
            .unwrap_or_default();
        assert!(!sealed.windows(6).any(|w| w == b"Nguyen"));
        assert_eq!(
            secret.unseal(&sealed).ok().as_deref(),
            Some(&b"Nguyen Van A"[..])
        );
        assert!(other.unseal(&sealed).is_err());
    }
}
