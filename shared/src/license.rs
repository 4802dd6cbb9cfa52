//! License keys for software products (docs/license-format.md): what a licensed
//! product's paid order gets, and the online check (`POST /license/verify`,
//! `GET /license/revoked`, the license function's [`Licenses`] handle).
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
use time::{Duration, OffsetDateTime};

use crate::ids::{IdError, OrderId, ProductId};
use crate::net::{Network, NetworkCounter};
use crate::order::Order;
use crate::product::Edition;
use crate::store::StoreError;
use crate::store::views::LicenseStore;

/// How many activations a license allows (`--seats`, default 1): 1 to 1000.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Seats(u32);

impl Seats {
    pub const MAX: u32 = 1000;

    pub fn new(n: u32) -> Result<Seats, LicenseError> {
        if (1..=Self::MAX).contains(&n) {
            Ok(Seats(n))
        } else {
            Err(LicenseError::Seats(n))
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

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

impl LicenseRecord {
    /// The record a paid `order` writes for `key`.
    pub fn for_order(order: &Order, seats: Seats, key: LicenseKey, now: OffsetDateTime) -> Self {
        LicenseRecord {
            key,
            order_id: order.id.clone(),
            product_id: order.product_id.clone(),
            edition: order.edition.clone(),
            seats,
            uses: 0,
            refunded: false,
            issued: now,
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

    /// The signed license of `order` (paid at `issued`) for `seats`.
    pub fn sign_license(&self, order: &Order, seats: Seats, issued: OffsetDateTime) -> String {
        let digest = aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA256,
            kiosk_license::email_digest_input(order.id.as_str(), order.email.as_str()).as_bytes(),
        );
        let license = kiosk_license::License {
            v: kiosk_license::VERSION,
            product: order.product_id.to_string(),
            order: order.id.to_string(),
            edition: order.edition.to_string(),
            seats: seats.get(),
            issued: date(issued),
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

/// The license `order` gets when its payment is recorded `now`: a new key, signed by
/// `signer` when the shop has one. `None` for an order of a product without licenses.
pub fn issue(
    order: &Order,
    signer: Option<&LicenseSigner>,
    now: OffsetDateTime,
) -> Result<Option<IssuedLicense>, IdError> {
    let Some(seats) = order.license_seats else {
        return Ok(None);
    };
    let signed = signer.map(|s| s.sign_license(order, seats, now));
    if signed.is_none() {
        tracing::error!(order_id = %order.id, "licensed product paid but the shop has no license signing key (kiosk license keygen): only the short key is issued");
    }
    Ok(Some(IssuedLicense {
        key: LicenseKey::generate()?,
        signed,
    }))
}

#[derive(Debug, thiserror::Error)]
pub enum LicenseError {
    #[error("seats must be 1 to 1000, got {0}")]
    Seats(u32),
    #[error("license signing key: {0}")]
    Key(&'static str),
    /// Over a per-network or the shop-wide allowance: one answer for all.
    #[error("too many license checks; try again later")]
    TooMany,
    #[error("this shop has no license signing key")]
    NoSigner,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks one network may make per hour (an office of a program's users checking at
/// start-up stays far below; a script does not).
pub const CHECKS_PER_NETWORK_HOUR: u32 = 300;
/// Checks of keys that do not exist (or cannot) one network may make per hour.
pub const MISSES_PER_NETWORK_HOUR: u32 = 20;
/// Checks the whole shop answers per hour, whatever the networks: what caps the bill of
/// a script spread over many.
pub const CHECKS_PER_SHOP_HOUR: u32 = 20_000;
const WINDOW: Duration = Duration::hours(1);

/// What `POST /license/verify` answers about a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Unknown, or not a key at all: one answer for both.
    Unknown,
    Known {
        record: LicenseRecord,
        /// Asked to count an activation: whether it was counted (`false`: every seat is
        /// taken, or the order was refunded).
        activated: Option<bool>,
    },
}

/// What activating a license (one conditional `ADD`) came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Activation {
    Counted(LicenseRecord),
    Refused(LicenseRecord),
    Unknown,
}

/// The license function's handle: the online check and the revocation list.
pub struct Licenses {
    store: LicenseStore,
    signer: Option<LicenseSigner>,
}

impl Licenses {
    pub fn new(store: crate::store::Store, signer: Option<LicenseSigner>) -> Licenses {
        Licenses {
            store: LicenseStore::of(store),
            signer,
        }
    }

    /// Built once at cold start: the table names from the environment, the signing key
    /// from SSM (`LICENSE_KEY_PARAM`, one `GetParameters` call).
    pub async fn from_env(
        sdk: &aws_config::SdkConfig,
    ) -> Result<Licenses, crate::startup::InitError> {
        let env = crate::config::ProcessEnv;
        let table = crate::config::required(&env, "TABLE_NAME")?;
        let param = crate::config::required(&env, "LICENSE_KEY_PARAM")?;
        Licenses::open(sdk, &table, Some(&param)).await
    }

    /// The handle on `table`, the signing key read from SSM parameter `param` (if it
    /// exists yet).
    pub async fn open(
        sdk: &aws_config::SdkConfig,
        table: &str,
        param: Option<&str>,
    ) -> Result<Licenses, crate::startup::InitError> {
        let ssm = aws_sdk_ssm::Client::new(sdk);
        let signer = crate::secrets::license_signer(&ssm, param).await?;
        Ok(Licenses::new(
            crate::startup::open_store(sdk, table),
            signer,
        ))
    }

    /// The check of `key` (as typed) from `network`; with `activate`, count one
    /// activation if a seat is free. Over an allowance: [`LicenseError::TooMany`].
    pub async fn verify(
        &self,
        key: &str,
        activate: bool,
        network: &Network,
        now: OffsetDateTime,
    ) -> Result<Verdict, LicenseError> {
        let tag = self.store.network_tag(network, now).await?;
        let s = &self.store;
        // The three counts at once (one round trip): the network's checks, the shop's,
        // and a miss counted in advance, given back when the key is found, so a network
        // over its misses cannot look up even a good key (it is guessing).
        // Each on the heap: three SDK calls side by side inline make a future too big
        // for a test thread's stack in a debug build.
        let (network_ok, shop_ok, misses_ok) = tokio::try_join!(
            Box::pin(s.count_from_network(
                NetworkCounter::License,
                &tag,
                CHECKS_PER_NETWORK_HOUR,
                WINDOW,
                now
            )),
            Box::pin(s.count_shop(NetworkCounter::License, CHECKS_PER_SHOP_HOUR, WINDOW, now)),
            Box::pin(s.count_from_network(
                NetworkCounter::LicenseMiss,
                &tag,
                MISSES_PER_NETWORK_HOUR,
                WINDOW,
                now
            )),
        )?;
        if !(network_ok && shop_ok && misses_ok) {
            tracing::warn!(network = %tag, "license check: over an allowance");
            return Err(LicenseError::TooMany);
        }
        let Some(key) = LicenseKey::parse(key) else {
            return Ok(Verdict::Unknown);
        };
        let verdict = if activate {
            match s.activate_license(&key).await? {
                Activation::Counted(record) => Verdict::Known {
                    record,
                    activated: Some(true),
                },
                Activation::Refused(record) => Verdict::Known {
                    record,
                    activated: Some(false),
                },
                Activation::Unknown => Verdict::Unknown,
            }
        } else {
            match s.get_license(&key).await? {
                Some(record) => Verdict::Known {
                    record,
                    activated: None,
                },
                None => Verdict::Unknown,
            }
        };
        if verdict != Verdict::Unknown {
            s.uncount_from_network(NetworkCounter::LicenseMiss, &tag, WINDOW, now)
                .await?;
        }
        Ok(verdict)
    }

    /// The signed list of every order whose license a refund took back (`KR1.…`).
    pub async fn revocation_list(&self, now: OffsetDateTime) -> Result<String, LicenseError> {
        let signer = self.signer.as_ref().ok_or(LicenseError::NoSigner)?;
        let orders = self.store.revoked_licenses().await?;
        Ok(signer.sign_revocations(orders.iter().map(|o| o.to_string()).collect(), now))
    }

    /// The shop's public key, when it has a signing key.
    pub fn public_key(&self) -> Option<String> {
        self.signer.as_ref().map(LicenseSigner::public_key)
    }
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
