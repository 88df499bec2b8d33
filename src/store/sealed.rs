//! Secrets at rest in the shared store, sealed with the operator's key.
//!
//! AES-256-GCM (ring's AEAD, which the TLS stack already brings) with a fresh 96-bit nonce
//! from the OS generator per record, the key's id as associated data. A sealed record is `s1.` + the key's id (the first 8 hex digits of
//! the key's SHA-256; never the key) + `.` + base64(nonce ‖ ciphertext ‖ tag). The key itself
//! is never stored: it comes from `DATASOURCE_MCP_STORE_KEY` (32 bytes, base64 or 64 hex
//! digits), and a rotation gives the new key there and the old one in
//! `DATASOURCE_MCP_STORE_KEY_PREVIOUS`: records sealed with either are read, new ones are
//! sealed with the new key. Without a key, records are kept as they are (`p1.` + the bytes),
//! which suits one process's memory; with one, such a record is refused.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};

struct Key {
    id: String,
    key: LessSafeKey,
}

/// Seals and opens records with the operator's keys (none: records are kept as they are).
#[derive(Default)]
pub struct Sealer {
    /// The key new records are sealed with, then the previous one.
    keys: Vec<Key>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|k| k.id.as_str()).collect();
        f.debug_struct("Sealer").field("keys", &ids).finish()
    }
}

/// A key's bytes from its text: 32 bytes as base64 or as 64 hex digits.
fn key_bytes(text: &str) -> Result<Vec<u8>, String> {
    let text = text.trim();
    let bytes = if text.len() == 64 && text.chars().all(|c| c.is_ascii_hexdigit()) {
        (0..32)
            .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).unwrap_or(0))
            .collect()
    } else {
        STANDARD
            .decode(text)
            .map_err(|_| "is neither base64 nor 64 hex digits".to_string())?
    };
    match bytes.len() {
        32 => Ok(bytes),
        n => Err(format!(
            "is {n} bytes; it must be 32 (e.g. `openssl rand -base64 32`)"
        )),
    }
}

impl Sealer {
    /// The sealer of `current` (and `previous`, read only); either may be absent.
    pub fn new(current: Option<&str>, previous: Option<&str>) -> Result<Sealer, String> {
        let mut keys = Vec::new();
        for (var, text) in [
            ("DATASOURCE_MCP_STORE_KEY", current),
            ("DATASOURCE_MCP_STORE_KEY_PREVIOUS", previous),
        ] {
            let Some(text) = text else { continue };
            // Masked by value in every output from now on, like every other secret.
            crate::redact::register_secret(text.trim());
            if var.ends_with("PREVIOUS") && keys.is_empty() {
                return Err(
                    "DATASOURCE_MCP_STORE_KEY_PREVIOUS is set without DATASOURCE_MCP_STORE_KEY"
                        .into(),
                );
            }
            let bytes = key_bytes(text).map_err(|e| format!("{var} {e}"))?;
            let digest = ring::digest::digest(&ring::digest::SHA256, &bytes);
            let id: String = digest.as_ref()[..4]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            let unbound = UnboundKey::new(&AES_256_GCM, &bytes)
                .map_err(|_| format!("{var} cannot be used as an AES-256 key"))?;
            keys.push(Key {
                id,
                key: LessSafeKey::new(unbound),
            });
        }
        Ok(Sealer { keys })
    }

    /// Whether records are sealed.
    pub fn seals(&self) -> bool {
        !self.keys.is_empty()
    }

    /// `plain` as a record to keep.
    pub fn seal(&self, plain: &[u8]) -> Vec<u8> {
        let Some(key) = self.keys.first() else {
            let mut out = b"p1.".to_vec();
            out.extend_from_slice(plain);
            return out;
        };
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).expect("the OS random generator works");
        let mut sealed = plain.to_vec();
        key.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(key.id.as_bytes()),
                &mut sealed,
            )
            .expect("AES-GCM seals any record of this size");
        let mut body = nonce.to_vec();
        body.extend_from_slice(&sealed);
        format!("s1.{}.{}", key.id, STANDARD.encode(body)).into_bytes()
    }

    /// What `record` holds; why not, never with a value.
    pub fn open(&self, record: &[u8]) -> Result<Vec<u8>, String> {
        if let Some(plain) = record.strip_prefix(b"p1.") {
            return match self.seals() {
                true => Err("it is not sealed, and a key is set".into()),
                false => Ok(plain.to_vec()),
            };
        }
        let text = std::str::from_utf8(record).map_err(|_| "it is not a record".to_string())?;
        let Some(rest) = text.strip_prefix("s1.") else {
            return Err("it is not a record".into());
        };
        let (id, body) = rest.split_once('.').ok_or("it is not a record")?;
        let key = self.keys.iter().find(|k| k.id == id).ok_or_else(|| {
            format!(
                "it is sealed with key {id}, which is neither DATASOURCE_MCP_STORE_KEY nor DATASOURCE_MCP_STORE_KEY_PREVIOUS"
            )
        })?;
        let body = STANDARD.decode(body).map_err(|_| "it is not a record")?;
        if body.len() < NONCE_LEN {
            return Err("it is not a record".into());
        }
        let (nonce, sealed) = body.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| "it is not a record")?;
        let mut buffer = sealed.to_vec();
        let plain = key
            .key
            .open_in_place(nonce, Aad::from(key.id.as_bytes()), &mut buffer)
            .map_err(|_| "it does not open with its key (altered, or another key of that id)")?;
        Ok(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const B: &str = "1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100";

    #[test]
    fn a_sealed_record_opens_only_with_its_key_and_hides_its_value() {
        let a = Sealer::new(Some(A), None).unwrap();
        let record = a.seal(b"the-value-42");
        let text = String::from_utf8(record.clone()).unwrap();
        assert!(text.starts_with("s1."), "{text}");
        assert!(!text.contains("the-value-42"));
        assert_eq!(a.open(&record).unwrap(), b"the-value-42");
        // Two seals of one value differ (a fresh nonce each).
        assert_ne!(a.seal(b"the-value-42"), record);
        // Another key refuses it, naming the key id, never the value.
        let b = Sealer::new(Some(B), None).unwrap();
        let why = b.open(&record).unwrap_err();
        assert!(why.starts_with("it is sealed with key "), "{why}");
        // An altered record is refused.
        let mut altered = record.clone();
        // A character in the middle of the base64 body (its last ones carry padding bits).
        let middle = altered.len() / 2;
        altered[middle] = if altered[middle] == b'A' { b'B' } else { b'A' };
        assert_eq!(
            a.open(&altered).unwrap_err(),
            "it does not open with its key (altered, or another key of that id)"
        );
    }

    #[test]
    fn a_rotation_reads_the_old_key_and_seals_with_the_new() {
        let old = Sealer::new(Some(A), None).unwrap();
        let record = old.seal(b"kept");
        let rotated = Sealer::new(Some(B), Some(A)).unwrap();
        assert_eq!(rotated.open(&record).unwrap(), b"kept");
        let resealed = rotated.seal(b"kept");
        assert!(old.open(&resealed).is_err());
        assert_eq!(
            Sealer::new(Some(B), None).unwrap().open(&resealed).unwrap(),
            b"kept"
        );
    }

    #[test]
    fn without_a_key_records_are_kept_as_they_are_and_a_key_refuses_them() {
        let none = Sealer::default();
        let record = none.seal(b"v");
        assert_eq!(record, b"p1.v");
        assert_eq!(none.open(&record).unwrap(), b"v");
        assert_eq!(
            Sealer::new(Some(A), None)
                .unwrap()
                .open(&record)
                .unwrap_err(),
            "it is not sealed, and a key is set"
        );
    }

    #[test]
    fn a_bad_key_is_refused_at_start_without_showing_it() {
        assert_eq!(
            Sealer::new(Some("c2hvcnQ="), None).err().unwrap(),
            "DATASOURCE_MCP_STORE_KEY is 5 bytes; it must be 32 (e.g. `openssl rand -base64 32`)"
        );
        assert_eq!(
            Sealer::new(None, Some(A)).err().unwrap(),
            "DATASOURCE_MCP_STORE_KEY_PREVIOUS is set without DATASOURCE_MCP_STORE_KEY"
        );
    }
}
