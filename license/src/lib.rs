//! Kiosk's signed licenses and revocation lists, as an author's program reads them
//! offline: the format (written out for any language in `docs/license-format.md`) and,
//! with the default `verify` feature, the checks.
//!
//! A shop that sells a product with licenses signs, for each paid order, a [`License`]
//! with its Ed25519 key; the buyer pastes the one-line string into the author's program,
//! which checks it against the shop's public key (printed by `kiosk license keygen`)
//! without calling anyone:
//!
//! ```no_run
//! # #[cfg(feature = "verify")] {
//! use kiosk_license::{PublicKey, verify_license};
//! let key = PublicKey::parse("<the shop's public key, base64>").unwrap();
//! let license = verify_license("KL1.eyJ2Ijox….3q2-…", &key).expect("a license of this shop");
//! assert!(license.is_for_email("buyer@example.com"));
//! # }
//! ```
//!
//! A signed license cannot be taken back once given; a refunded order's id is listed in
//! the shop's signed revocation list (`GET /license/revoked`), which a program may fetch
//! now and then and check with [`verify_revocations`].
//!
//! The string is `PREFIX.PAYLOAD.SIGNATURE`: the prefix names the kind and version
//! ([`LICENSE_PREFIX`], [`REVOCATIONS_PREFIX`]), the payload is compact JSON, and the
//! signature is Ed25519 over the ASCII text `PREFIX.PAYLOAD` (so a license can never
//! pass for a list, or the reverse); payload and signature are base64url without padding.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

/// A signed license's prefix: kind and format version 1.
pub const LICENSE_PREFIX: &str = "KL1";
/// A signed revocation list's prefix: kind and format version 1.
pub const REVOCATIONS_PREFIX: &str = "KR1";
/// The payload's `v` in this version of both formats.
pub const VERSION: u32 = 1;

/// What a signed license says. The shop serialises it with exactly these keys in this
/// order and no spaces; a verifier checks the signature over the bytes it was given and
/// never serialises again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct License {
    /// Always [`VERSION`].
    pub v: u32,
    /// The product's id (`a-z`, `0-9`, `-`).
    pub product: String,
    /// The order's id (`A-Z`, `a-z`, `0-9`, `_`).
    pub order: String,
    /// The edition bought (`v1`, `2026-11-21`): letters, digits, `.`, `-`, `_`.
    pub edition: String,
    /// How many activations the author allows (the online check counts them).
    pub seats: u32,
    /// The payment's date, UTC, `YYYY-MM-DD`.
    pub issued: String,
    /// Lowercase hex SHA-256 of [`email_digest_input`]: the buyer's address is never in
    /// the license.
    pub email_sha256: String,
}

/// A shop's list of orders whose licenses it took back (refunds), signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevocationList {
    /// Always [`VERSION`].
    pub v: u32,
    /// When the shop made this list, UTC, `YYYY-MM-DDTHH:MM:SSZ` (compares as text): a
    /// program should keep the newest list it has seen and refuse an older one.
    pub issued: String,
    /// The revoked orders' ids, ascending, each once.
    pub orders: Vec<String>,
}

impl RevocationList {
    /// Whether `order` is revoked.
    pub fn contains(&self, order: &str) -> bool {
        self.orders
            .binary_search_by(|o| o.as_str().cmp(order))
            .is_ok()
    }

    /// Whether `license`'s order is revoked.
    pub fn revokes(&self, license: &License) -> bool {
        self.contains(&license.order)
    }
}

/// The text whose SHA-256 a license carries instead of the buyer's address: the order id,
/// `:`, and the address with ASCII `A`-`Z` lowercased (nothing else changed, no spaces
/// around it). Salted by the order so that one hash tells nothing about another license.
pub fn email_digest_input(order: &str, email: &str) -> String {
    format!("{order}:{}", email.trim().to_ascii_lowercase())
}

/// The bytes a shop signs: `prefix`, `.`, the payload in base64url without padding.
pub fn signing_input(prefix: &str, payload: &[u8]) -> String {
    format!("{prefix}.{}", URL_SAFE_NO_PAD.encode(payload))
}

/// The whole string: the signing input, `.`, the 64-byte signature in base64url.
pub fn assemble(signing_input: &str, signature: &[u8]) -> String {
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

impl License {
    /// The payload bytes as the shop signs them (compact JSON, fields in order).
    pub fn payload(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

impl RevocationList {
    /// The payload bytes as the shop signs them (compact JSON, fields in order).
    pub fn payload(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// Why a string is not a good license or list of this shop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// Not `PREFIX.PAYLOAD.SIGNATURE` with the expected prefix, or not base64url, or
    /// the payload is not the expected JSON.
    Malformed(&'static str),
    /// The signature is not the shop's over this payload: changed, or another shop's.
    BadSignature,
    /// A format version this verifier does not know.
    Version(u32),
    /// The public key given is not 32 bytes of base64.
    PublicKey,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Malformed(why) => write!(f, "not a signed license or list: {why}"),
            Error::BadSignature => f.write_str("the signature does not match the shop's key"),
            Error::Version(v) => write!(f, "format version {v} is not known to this verifier"),
            Error::PublicKey => f.write_str("the public key is not 32 bytes in base64"),
        }
    }
}

impl std::error::Error for Error {}

/// `text` split into its signing input, payload and signature, for `prefix`.
#[cfg(feature = "verify")]
fn split<'a>(text: &'a str, prefix: &str) -> Result<(&'a str, Vec<u8>, Vec<u8>), Error> {
    let text = text.trim();
    let mut parts = text.split('.');
    let (Some(kind), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Error::Malformed("expected three parts separated by '.'"));
    };
    if kind != prefix {
        return Err(Error::Malformed("wrong kind or version prefix"));
    }
    let input = &text[..kind.len() + 1 + payload.len()];
    let payload = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| Error::Malformed("payload is not base64url"))?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| Error::Malformed("signature is not base64url"))?;
    Ok((input, payload, signature))
}

#[cfg(feature = "verify")]
mod verify {
    use super::*;
    use base64::engine::general_purpose::STANDARD;
    use sha2::Digest;

    /// A shop's Ed25519 public key, as `kiosk license keygen` prints it (32 bytes,
    /// standard base64).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct PublicKey(ed25519_dalek::VerifyingKey);

    impl PublicKey {
        pub fn parse(text: &str) -> Result<PublicKey, Error> {
            let bytes: [u8; 32] = STANDARD
                .decode(text.trim())
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or(Error::PublicKey)?;
            ed25519_dalek::VerifyingKey::from_bytes(&bytes)
                .map(PublicKey)
                .map_err(|_| Error::PublicKey)
        }
    }

    fn checked(text: &str, prefix: &str, key: &PublicKey) -> Result<Vec<u8>, Error> {
        let (input, payload, signature) = split(text, prefix)?;
        let signature = ed25519_dalek::Signature::from_slice(&signature)
            .map_err(|_| Error::Malformed("signature is not 64 bytes"))?;
        key.0
            .verify_strict(input.as_bytes(), &signature)
            .map_err(|_| Error::BadSignature)?;
        Ok(payload)
    }

    /// The license `text` says, if the shop whose public key is `key` signed it.
    pub fn verify_license(text: &str, key: &PublicKey) -> Result<License, Error> {
        let payload = checked(text, LICENSE_PREFIX, key)?;
        let license: License = serde_json::from_slice(&payload)
            .map_err(|_| Error::Malformed("payload is not a version 1 license"))?;
        if license.v != VERSION {
            return Err(Error::Version(license.v));
        }
        Ok(license)
    }

    /// The revocation list `text` says, if the shop whose public key is `key` signed it.
    pub fn verify_revocations(text: &str, key: &PublicKey) -> Result<RevocationList, Error> {
        let payload = checked(text, REVOCATIONS_PREFIX, key)?;
        let mut list: RevocationList = serde_json::from_slice(&payload)
            .map_err(|_| Error::Malformed("payload is not a version 1 revocation list"))?;
        if list.v != VERSION {
            return Err(Error::Version(list.v));
        }
        // Ascending as the format says; sorted again so `contains` never depends on it.
        list.orders.sort();
        list.orders.dedup();
        Ok(list)
    }

    impl License {
        /// Whether the license was issued to `email` (see [`email_digest_input`]).
        pub fn is_for_email(&self, email: &str) -> bool {
            let digest = sha2::Sha256::digest(email_digest_input(&self.order, email).as_bytes());
            let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
            hex == self.email_sha256
        }
    }
}

#[cfg(feature = "verify")]
pub use verify::{PublicKey, verify_license, verify_revocations};

#[cfg(all(test, feature = "verify"))]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[7; 32])
    }

    fn public(k: &SigningKey) -> PublicKey {
        PublicKey::parse(
            &base64::engine::general_purpose::STANDARD.encode(k.verifying_key().as_bytes()),
        )
        .unwrap()
    }

    fn sign(k: &SigningKey, prefix: &str, payload: &[u8]) -> String {
        let input = signing_input(prefix, payload);
        assemble(&input, &k.sign(input.as_bytes()).to_bytes())
    }

    fn sample() -> License {
        let digest = {
            use sha2::Digest;
            let d = sha2::Sha256::digest(b"K20261208A1:buyer@example.com");
            d.iter().map(|b| format!("{b:02x}")).collect()
        };
        License {
            v: 1,
            product: "tool".into(),
            order: "K20261208A1".into(),
            edition: "v2".into(),
            seats: 2,
            issued: "2026-12-08".into(),
            email_sha256: digest,
        }
    }

    #[test]
    fn a_signed_license_verifies_and_any_changed_byte_does_not() {
        let k = key();
        let text = sign(&k, LICENSE_PREFIX, &sample().payload());
        assert_eq!(verify_license(&text, &public(&k)), Ok(sample()));
        assert!(sample().is_for_email("Buyer@Example.com "));
        assert!(!sample().is_for_email("other@example.com"));
        for i in 0..text.len() {
            let mut bytes = text.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let changed = String::from_utf8(bytes).unwrap();
            assert!(verify_license(&changed, &public(&k)).is_err(), "byte {i}");
        }
        let other = SigningKey::from_bytes(&[8; 32]);
        assert_eq!(
            verify_license(&text, &public(&other)),
            Err(Error::BadSignature)
        );
    }

    #[test]
    fn the_payload_is_compact_json_in_field_order() {
        assert_eq!(
            String::from_utf8(sample().payload()).unwrap(),
            format!(
                "{{\"v\":1,\"product\":\"tool\",\"order\":\"K20261208A1\",\"edition\":\"v2\",\"seats\":2,\"issued\":\"2026-12-08\",\"email_sha256\":\"{}\"}}",
                sample().email_sha256
            )
        );
    }

    #[test]
    fn a_license_is_not_a_list_and_a_list_is_not_a_license() {
        let k = key();
        let list = RevocationList {
            v: 1,
            issued: "2026-12-08T04:00:00Z".into(),
            orders: vec!["A1".into(), "K20261208A1".into()],
        };
        let text = sign(&k, REVOCATIONS_PREFIX, &list.payload());
        let read = verify_revocations(&text, &public(&k)).unwrap();
        assert!(read.revokes(&sample()) && read.contains("A1") && !read.contains("A2"));
        // The same payload under the other prefix fails its signature.
        let swapped = text.replacen(REVOCATIONS_PREFIX, LICENSE_PREFIX, 1);
        assert_eq!(
            verify_license(&swapped, &public(&k)),
            Err(Error::BadSignature)
        );
        let license = sign(&k, LICENSE_PREFIX, &sample().payload());
        assert!(verify_revocations(&license, &public(&k)).is_err());
    }

    /// The example in docs/license-format.md, made by Python's `cryptography` from the
    /// document alone, verifies here: the two implementations agree on the format.
    #[test]
    fn the_documented_example_verifies() {
        let doc = include_str!("../../docs/license-format.md");
        let line = |label: &str| {
            doc.lines()
                .find_map(|l| l.strip_prefix(label))
                .unwrap_or_else(|| panic!("no {label:?} line"))
                .trim()
                .to_owned()
        };
        let public = PublicKey::parse(&line("public key: ")).unwrap();
        let license = verify_license(&line("license: "), &public).unwrap();
        assert_eq!((license.order.as_str(), license.seats), ("K20261208A1", 2));
        assert!(license.is_for_email("buyer@example.com"));
        let list = verify_revocations(&line("revocations: "), &public).unwrap();
        assert!(list.revokes(&license));
        assert_eq!(
            public,
            super::tests::public(&key()),
            "the seed of 32 sevens"
        );
    }

    #[test]
    fn malformed_strings_and_keys_are_refused() {
        let k = key();
        for junk in ["", "KL1", "KL1..", "KL1.a.b.c", "KL1.!!.??", "KL2.e30.AAAA"] {
            assert!(verify_license(junk, &public(&k)).is_err(), "{junk:?}");
        }
        let v2 = License { v: 2, ..sample() };
        assert_eq!(
            verify_license(&sign(&k, LICENSE_PREFIX, &v2.payload()), &public(&k)),
            Err(Error::Version(2))
        );
        assert_eq!(PublicKey::parse("AAAA"), Err(Error::PublicKey));
    }
}
