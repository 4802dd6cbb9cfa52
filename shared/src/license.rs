//! License keys for software products (docs/license-format.md): what a licensed
//! product's paid order gets. The online check (`POST /license/verify`,
//! `GET /license/revoked`) is [`crate::licenses`]'.
//!
//! A product sold `--license` gives each order, when its payment is recorded, one license
//! in two forms: a short [`LicenseKey`] to type, checked online against its `LICENSE#`
//! item (seats, activations, refunded), and a signed license (`KL1.…`, the
//! `kiosk-license` crate's format) that the author's program checks offline with the
//! shop's public key. Both are written with the payment, in its one transaction, on the
//! order and its grants; a full refund marks the key refunded and adds the order to the
//! signed revocation list, in the refund's transaction. The signing key is an Ed25519
//! PKCS#8 document in SSM (SecureString, `LICENSE_KEY_PARAM`), read with the channels'
//! secrets in the one `GetParameters` call at cold start.

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use time::OffsetDateTime;

use crate::email::Email;
use crate::ids::{IdError, OrderId, ProductId};
use crate::product::Edition;
pub use crate::product::Seats;

/// The alphabet of short keys: digits and capitals without 0, 1, I and O, which read
/// alike. 32 symbols, 5 bits each.
const ALPHABET: &[u8; 32] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
/// Symbols in a key: 25, five groups of five, 125 random bits.
const SYMBOLS: usize = 25;

/// A short license key, `XXXXX-XXXXX-XXXXX-XXXXX-XXXXX`: secret like a download link
/// (whoever holds it can activate a seat), so its `Debug` shows the first group only.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct LicenseKey(String);

impl std::fmt::Debug for LicenseKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LicenseKey({}-…)", &self.0[..5])
    }
}

impl LicenseKey {
    /// A new key from the operating system's random numbers.
    pub fn generate() -> Result<LicenseKey, IdError> {
        use aws_lc_rs::rand::{SecureRandom, SystemRandom};
        let mut raw = [0u8; SYMBOLS];
        SystemRandom::new()
            .fill(&mut raw)
            .map_err(|_| IdError::Rng)?;
        // 256 is a multiple of 32: each byte's low five bits are uniform.
        let symbols: Vec<u8> = raw.iter().map(|b| ALPHABET[(b & 31) as usize]).collect();
        Ok(LicenseKey::grouped(&symbols))
    }

    fn grouped(symbols: &[u8]) -> LicenseKey {
        let groups: Vec<&str> = symbols
            .chunks(5)
            .map(|c| std::str::from_utf8(c).unwrap_or_default())
            .collect();
        LicenseKey(groups.join("-"))
    }

    /// A key as a buyer may type it: any case, with or without the dashes, spaces
    /// around it. `None` for anything that cannot be a key (answered like an unknown
    /// one, without a read).
    pub fn parse(text: &str) -> Option<LicenseKey> {
        if text.len() > 64 {
            return None;
        }
        let symbols: Vec<u8> = text
            .trim()
            .bytes()
            .filter(|b| *b != b'-')
            .map(|b| b.to_ascii_uppercase())
            .collect();
        (symbols.len() == SYMBOLS && symbols.iter().all(|b| ALPHABET.contains(b)))
            .then(|| LicenseKey::grouped(&symbols))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// The license an order got: both forms, as the order and its grants carry them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedLicense {
    pub key: LicenseKey,
    /// The signed license (`KL1.…`); `None` when the shop had no signing key when the
    /// payment was recorded (logged as an error: `kiosk license keygen` makes one).
    pub signed: Option<String>,
}

/// What the online check knows of a key (its `LICENSE#` item).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LicenseRecord {
    pub key: LicenseKey,
    pub order_id: OrderId,
    pub product_id: ProductId,
    pub edition: Edition,
    pub seats: Seats,
    /// Activations counted so far (`increment_uses`), never more than `seats`.
    pub uses: u32,
    /// Set by the order's full refund.
    pub refunded: bool,
    pub issued: OffsetDateTime,
}

/// What a paid order's license is: its product, edition and seats, when it was issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LicenseTerms<'a> {
    pub order: &'a OrderId,
    pub product: &'a ProductId,
    pub edition: &'a Edition,
    pub email: &'a Email,
    pub seats: Seats,
    pub issued: OffsetDateTime,
}

impl LicenseRecord {
    /// The record a paid order writes for `key`: no uses, not refunded.
    pub fn new(terms: &LicenseTerms<'_>, key: LicenseKey) -> Self {
        LicenseRecord {
            key,
            order_id: terms.order.clone(),
            product_id: terms.product.clone(),
            edition: terms.edition.clone(),
            seats: terms.seats,
            uses: 0,
            refunded: false,
            issued: terms.issued,
        }
    }
}

/// The shop's Ed25519 signing key.
pub struct LicenseSigner(Ed25519KeyPair);

impl std::fmt::Debug for LicenseSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LicenseSigner(public {})", self.public_key())
    }
}

impl LicenseSigner {
    /// A new key: the PKCS#8 document in base64, as the SSM parameter holds it.
    pub fn generate() -> Result<String, LicenseError> {
        let doc = Ed25519KeyPair::generate_pkcs8(&aws_lc_rs::rand::SystemRandom::new())
            .map_err(|_| LicenseError::Key("the random number generator failed"))?;
        Ok(STANDARD.encode(doc.as_ref()))
    }

    /// The key the SSM parameter holds (base64 of a PKCS#8 document, v1 or v2).
    pub fn parse(text: &str) -> Result<LicenseSigner, LicenseError> {
        let der = STANDARD
            .decode(text.trim())
            .map_err(|_| LicenseError::Key("not base64"))?;
        Ed25519KeyPair::from_pkcs8(&der)
            .or_else(|_| Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der))
            .map(LicenseSigner)
            .map_err(|_| LicenseError::Key("not an Ed25519 PKCS#8 key"))
    }

    /// The public key as programs hold it: 32 bytes in standard base64.
    pub fn public_key(&self) -> String {
        STANDARD.encode(self.0.public_key().as_ref())
    }

    fn sign(&self, prefix: &str, payload: &[u8]) -> String {
        let input = kiosk_license::signing_input(prefix, payload);
        let signature = self.0.sign(input.as_bytes());
        kiosk_license::assemble(&input, signature.as_ref())
    }

    /// The signed license of `terms`.
    pub fn sign_license(&self, terms: &LicenseTerms<'_>) -> String {
        let digest = aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA256,
            kiosk_license::email_digest_input(terms.order.as_str(), terms.email.as_str())
                .as_bytes(),
        );
        let license = kiosk_license::License {
            v: kiosk_license::VERSION,
            product: terms.product.to_string(),
            order: terms.order.to_string(),
            edition: terms.edition.to_string(),
            seats: terms.seats.get(),
            issued: date(terms.issued),
            email_sha256: digest.as_ref().iter().map(|b| format!("{b:02x}")).collect(),
        };
        self.sign(kiosk_license::LICENSE_PREFIX, &license.payload())
    }

    /// The signed revocation list of `orders`, made `now`.
    pub fn sign_revocations(&self, mut orders: Vec<String>, now: OffsetDateTime) -> String {
        orders.sort();
        orders.dedup();
        let list = kiosk_license::RevocationList {
            v: kiosk_license::VERSION,
            issued: second(now),
            orders,
        };
        self.sign(kiosk_license::REVOCATIONS_PREFIX, &list.payload())
    }
}

fn date(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day())
}

fn second(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        date(t),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// What a signing key is not.
#[derive(Debug, thiserror::Error)]
pub enum LicenseError {
    #[error("license signing key: {0}")]
    Key(&'static str),
}

/// What activating a license (one conditional `ADD`) came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Activation {
    Counted(LicenseRecord),
    Refused(LicenseRecord),
    Unknown,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_25_symbols_of_the_alphabet_and_parse_as_typed() {
        let k = LicenseKey::generate().unwrap();
        let text = k.expose();
        assert_eq!(text.len(), 29);
        assert_eq!(text.matches('-').count(), 4);
        assert!(
            text.bytes()
                .filter(|b| *b != b'-')
                .all(|b| ALPHABET.contains(&b))
        );
        assert_eq!(LicenseKey::parse(text), Some(k.clone()));
        let typed = format!("  {} ", text.replace('-', "").to_lowercase());
        assert_eq!(LicenseKey::parse(&typed), Some(k.clone()));
        assert_ne!(LicenseKey::generate().unwrap(), k);
        assert!(!format!("{k:?}").contains(&text[6..]));
        for junk in [
            "",
            "AAAAA-AAAAA",
            "OOOOO-22222-22222-22222-22222",
            "22222-22222-22222-22222-222221",
            "22222-22222-22222-22222-2222!",
        ] {
            assert_eq!(LicenseKey::parse(junk), None, "{junk:?}");
        }
    }

    #[test]
    fn seats_are_one_to_a_thousand() {
        assert!(Seats::new(0).is_err() && Seats::new(1001).is_err());
        assert_eq!(Seats::new(2).unwrap().get(), 2);
    }

    #[test]
    fn a_generated_key_signs_what_the_verifier_crate_accepts() {
        let signer = LicenseSigner::parse(&LicenseSigner::generate().unwrap()).unwrap();
        let public = kiosk_license::PublicKey::parse(&signer.public_key()).unwrap();
        let list = signer.sign_revocations(
            vec!["B2".into(), "A1".into(), "B2".into()],
            OffsetDateTime::UNIX_EPOCH,
        );
        let read = kiosk_license::verify_revocations(&list, &public).unwrap();
        assert_eq!(read.orders, vec!["A1", "B2"]);
        assert_eq!(read.issued, "1970-01-01T00:00:00Z");
        assert!(LicenseSigner::parse("bm90IGEga2V5").is_err());
    }
}
