//! Identifiers: `ProductId`, `OrderId` (Alipay's `out_trade_no`, not secret) and
//! `DownloadToken` (secret, random, never logged in full).
//!
//! Each is parsed once at the boundary; holding one means it is well-formed.

use std::fmt;

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("product id must be 1-64 characters of a-z, 0-9 and '-', got {0:?}")]
    Product(String),
    #[error("order id must be 1-64 characters of A-Z, a-z, 0-9 and '_'")]
    Order,
    #[error("not a download token")]
    Token,
    #[error("the operating system's random number generator failed")]
    Rng,
}

fn fill_random(buf: &mut [u8]) -> Result<(), IdError> {
    SystemRandom::new().fill(buf).map_err(|_| IdError::Rng)
}

/// A product's id as the author chose it, used in URLs, S3 keys and the shop page:
/// lowercase so it is the same everywhere.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ProductId(String);

impl ProductId {
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let ok = (1..=64).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !s.starts_with('-');
        if ok {
            Ok(ProductId(s.to_owned()))
        } else {
            Err(IdError::Product(s.to_owned()))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ProductId {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, IdError> {
        ProductId::parse(&s)
    }
}
impl From<ProductId> for String {
    fn from(id: ProductId) -> String {
        id.0
    }
}
impl fmt::Display for ProductId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An order id, also sent to Alipay as `out_trade_no` (at most 64 chars of
/// `[A-Za-z0-9_]`). Not secret: it appears on receipts and in return URLs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OrderId(String);

impl OrderId {
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let ok = (1..=64).contains(&s.len())
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if ok {
            Ok(OrderId(s.to_owned()))
        } else {
            Err(IdError::Order)
        }
    }

    /// `K` + UTC `yyyyMMddHHmmss` + 16 random hex digits: sortable by time when read in a
    /// console, 64 random bits so two checkouts in the same second never collide in
    /// practice (and the store refuses to overwrite if they ever did).
    pub fn generate(now: OffsetDateTime) -> Result<Self, IdError> {
        let mut rnd = [0u8; 8];
        fill_random(&mut rnd)?;
        let t = now.to_offset(time::UtcOffset::UTC);
        let mut s = format!(
            "K{:04}{:02}{:02}{:02}{:02}{:02}",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        );
        for b in rnd {
            s.push_str(&format!("{b:02x}"));
        }
        OrderId::parse(&s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for OrderId {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, IdError> {
        OrderId::parse(&s)
    }
}
impl From<OrderId> for String {
    fn from(id: OrderId) -> String {
        id.0
    }
}
impl fmt::Display for OrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The secret in a download link: 192 bits from the OS RNG, URL-safe base64 without
/// padding (32 characters). `Debug` shows only a prefix, so logging an order or grant
/// never leaks a usable link; use `expose()` only to build the link itself.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct DownloadToken(String);

impl DownloadToken {
    /// The buyer's download page for this token on a shop served at `public_base_url`.
    pub fn url_under(&self, public_base_url: &str) -> String {
        format!("{public_base_url}/download/{}", self.expose())
    }

    const BYTES: usize = 24;
    /// Length of the encoded token: 24 bytes -> 32 base64 characters, no padding.
    pub const LEN: usize = 32;

    pub fn generate() -> Result<Self, IdError> {
        let mut raw = [0u8; Self::BYTES];
        fill_random(&mut raw)?;
        Ok(DownloadToken(URL_SAFE_NO_PAD.encode(raw)))
    }

    /// Accepts exactly what `generate` makes. Anything else cannot be a token, so callers
    /// can answer 404 without a database read.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let ok = s.len() == Self::LEN
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            && URL_SAFE_NO_PAD
                .decode(s)
                .is_ok_and(|raw| raw.len() == Self::BYTES);
        if ok {
            Ok(DownloadToken(s.to_owned()))
        } else {
            Err(IdError::Token)
        }
    }

    /// The full secret, for building the download URL or the store key.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// A short, non-secret prefix for logs and support ("token abc123…").
    pub fn redacted(&self) -> String {
        format!("{}…", &self.0[..6])
    }
}

impl fmt::Debug for DownloadToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DownloadToken({})", self.redacted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use time::macros::datetime;

    #[test]
    fn tokens_are_long_random_and_url_safe() {
        let mut seen = HashSet::new();
        for _ in 0..1000 {
            let t = DownloadToken::generate().unwrap();
            assert_eq!(t.expose().len(), DownloadToken::LEN);
            assert!(
                t.expose()
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            );
            assert_eq!(DownloadToken::parse(t.expose()).unwrap(), t);
            assert!(seen.insert(t.expose().to_owned()), "duplicate token");
        }
        // At least 128 random bits carried in every token.
        let t = DownloadToken::generate().unwrap();
        assert!(URL_SAFE_NO_PAD.decode(t.expose()).unwrap().len() * 8 >= 128);
    }

    #[test]
    fn token_debug_does_not_leak_the_secret() {
        let t = DownloadToken::generate().unwrap();
        let shown = format!("{t:?}");
        assert!(!shown.contains(t.expose()));
        assert!(shown.contains(&t.expose()[..6]));
    }

    #[test]
    fn token_parse_rejects_what_cannot_be_a_token() {
        let good = DownloadToken::generate().unwrap();
        let s = good.expose();
        assert!(DownloadToken::parse(&s[1..]).is_err());
        assert!(DownloadToken::parse(&format!("{s}A")).is_err());
        assert!(DownloadToken::parse(&format!("{}+", &s[1..])).is_err());
        assert!(DownloadToken::parse(&format!("{}=", &s[1..])).is_err());
        assert!(DownloadToken::parse("../../../../etc/passwd/aaaaaaaaaa").is_err());
        assert!(DownloadToken::parse("").is_err());
    }

    #[test]
    fn order_ids_are_valid_out_trade_nos() {
        let id = OrderId::generate(datetime!(2026-11-21 10:30:00 UTC)).unwrap();
        assert!(id.as_str().starts_with("K20261121103000"));
        assert_eq!(id.as_str().len(), 31);
        assert_eq!(OrderId::parse(id.as_str()).unwrap(), id);
        assert_ne!(
            id,
            OrderId::generate(datetime!(2026-11-21 10:30:00 UTC)).unwrap()
        );
        assert!(OrderId::parse(&"a".repeat(64)).is_ok());
        for bad in ["", "K-1", "K 1", "ü", "K1;DROP"] {
            assert!(OrderId::parse(bad).is_err(), "{bad:?}");
        }
        assert!(OrderId::parse(&"a".repeat(65)).is_err());
    }

    #[test]
    fn product_ids() {
        assert!(ProductId::parse("little-book-of-rust").is_ok());
        for bad in ["", "Book", "a b", "-x", "a/b", &"a".repeat(65)] {
            assert!(ProductId::parse(bad).is_err(), "{bad:?}");
        }
    }
}
