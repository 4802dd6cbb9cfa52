//! A free claim's proof that it comes from a page this shop served to the same network
//! (docs/architecture.md, Flows: Free). A free copy is mailed to whatever address the
//! request names, so without a proof any web site could auto-submit a hidden form from
//! each of its visitors' browsers (each its own network) and make the shop mail strangers.
//!
//! The hosted buy page (and so the overlay, which frames it) carries a [`ClaimToken`]:
//! an HMAC under the shop's stable secret of (product, network, time it was issued). A
//! free claim is mailed only with a token for that product and network issued within
//! [`TOKEN_LIFETIME`]; any other claim gets a page to confirm, which carries a fresh
//! token, and is mailed only once the buyer presses its button. The token is not stored
//! anywhere, and says nothing of the network to whoever reads it.

use time::{Duration, OffsetDateTime};

use crate::ids::ProductId;
use crate::net::Network;
use crate::visit::VariantSecret;

/// How long a buy page's token stays good: long enough to read the page and type an
/// address, short enough that a token copied off a page is soon useless.
pub const TOKEN_LIFETIME: Duration = Duration::hours(2);
/// A token issued this far in the future (a clock ahead on another instance) still
/// counts.
const CLOCK_SKEW: Duration = Duration::minutes(1);

/// `{issued unix seconds}.{32 hex digits}`.
#[derive(Clone, PartialEq, Eq)]
pub struct ClaimToken(String);

impl std::fmt::Debug for ClaimToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClaimToken(…)")
    }
}

impl ClaimToken {
    /// The token a page served now to `network` for `product` carries.
    pub fn issue(
        secret: &VariantSecret,
        product: &ProductId,
        network: &Network,
        now: OffsetDateTime,
    ) -> ClaimToken {
        let issued = now.unix_timestamp();
        ClaimToken(format!(
            "{issued}.{}",
            mac(secret, product, network, issued)
        ))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Is `text` a token this shop issued for `product` to `network` within
    /// [`TOKEN_LIFETIME`] of `now`? Anything else (malformed, another product's, another
    /// network's, too old, forged) is simply not.
    pub fn verify(
        secret: &VariantSecret,
        text: &str,
        product: &ProductId,
        network: &Network,
        now: OffsetDateTime,
    ) -> bool {
        let Some((issued, tag)) = text.trim().split_once('.') else {
            return false;
        };
        if issued.is_empty() || issued.len() > 12 || !issued.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
        let Ok(issued) = issued.parse::<i64>() else {
            return false;
        };
        let age = now.unix_timestamp() - issued;
        if age < -CLOCK_SKEW.whole_seconds() || age > TOKEN_LIFETIME.whole_seconds() {
            return false;
        }
        let expected = mac(secret, product, network, issued);
        // Constant time: the tag is a secret until it is right.
        tag.len() == expected.len()
            && aws_lc_rs::constant_time::verify_slices_are_equal(
                tag.as_bytes(),
                expected.as_bytes(),
            )
            .is_ok()
    }
}

fn mac(secret: &VariantSecret, product: &ProductId, network: &Network, issued: i64) -> String {
    secret.tag(&[
        "free-claim",
        product.as_str(),
        network.as_str(),
        &issued.to_string(),
    ])[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_binds_product_network_and_time() {
        let secret = VariantSecret::from_bytes(&[9; 32]).unwrap();
        let other_secret = VariantSecret::from_bytes(&[8; 32]).unwrap();
        let book = ProductId::parse("book").unwrap();
        let zine = ProductId::parse("zine").unwrap();
        let home = Network::of(Some("192.0.2.1"));
        let away = Network::of(Some("192.0.2.2"));
        let t0 = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let token = ClaimToken::issue(&secret, &book, &home, t0);
        let ok = |text: &str, p, n, at| ClaimToken::verify(&secret, text, p, n, at);
        assert!(ok(token.as_str(), &book, &home, t0));
        assert!(ok(token.as_str(), &book, &home, t0 + TOKEN_LIFETIME));
        assert!(!ok(
            token.as_str(),
            &book,
            &home,
            t0 + TOKEN_LIFETIME + Duration::seconds(1)
        ));
        assert!(!ok(token.as_str(), &book, &home, t0 - Duration::minutes(2)));
        assert!(!ok(token.as_str(), &zine, &home, t0), "another product");
        assert!(!ok(token.as_str(), &book, &away, t0), "another network");
        assert!(!ClaimToken::verify(
            &other_secret,
            token.as_str(),
            &book,
            &home,
            t0
        ));
        // The time cannot be moved without the tag.
        let (_, tag) = token.as_str().split_once('.').unwrap();
        assert!(!ok(
            &format!("{}.{tag}", t0.unix_timestamp() + 60),
            &book,
            &home,
            t0
        ));
        for junk in [
            "",
            ".",
            "x.y",
            "1800000000.",
            "-5.abcd",
            &"9".repeat(40),
            "1800000000.zz",
        ] {
            assert!(!ok(junk, &book, &home, t0), "{junk:?}");
        }
        assert_eq!(format!("{token:?}"), "ClaimToken(…)");
    }
}
