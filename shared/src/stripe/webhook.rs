//! `Stripe-Signature` verification, as Stripe's own libraries do it: the header is
//! `t=TIMESTAMP,v1=HEX[,v1=HEX...]`; the signed string is `"{t}.{raw body}"`; the
//! HMAC-SHA256 key is the whole `whsec_...` secret; any one `v1` may match (Stripe sends
//! two while a secret is being rolled); hex is lowercase; a timestamp more than
//! [`TOLERANCE_SECONDS`] older than now is refused (a replay). The clock is a parameter.

use std::fmt;

use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::hmac;

/// How old a signature may be, as Stripe's libraries default.
pub const TOLERANCE_SECONDS: i64 = 300;

/// The endpoint's signing secret (`whsec_...`). Never printed.
#[derive(Clone)]
pub struct WebhookSecret {
    key: hmac::Key,
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(whsec_…)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error(
        "a Stripe webhook signing secret starts with whsec_ (Dashboard > Webhooks > the endpoint > Signing secret)"
    )]
    NotASigningSecret,
}

impl WebhookSecret {
    pub fn parse(s: &str) -> Result<Self, SecretError> {
        let text = s.trim();
        if !text.starts_with("whsec_") || text.len() <= "whsec_".len() {
            return Err(SecretError::NotASigningSecret);
        }
        Ok(WebhookSecret {
            key: hmac::Key::new(hmac::HMAC_SHA256, text.as_bytes()),
        })
    }

    fn hex_signature(&self, t: i64, payload: &[u8]) -> String {
        let mut ctx = hmac::Context::with_key(&self.key);
        ctx.update(t.to_string().as_bytes());
        ctx.update(b".");
        ctx.update(payload);
        let tag = ctx.sign();
        let mut hex = String::with_capacity(64);
        for b in tag.as_ref() {
            hex.push_str(&format!("{b:02x}"));
        }
        hex
    }

    /// The `Stripe-Signature` header Stripe would send for `payload` at time `t` (for the
    /// local stand-in and tests).
    pub fn header(&self, t: i64, payload: &[u8]) -> String {
        format!("t={t},v1={}", self.hex_signature(t, payload))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the Stripe-Signature header has no timestamp (t=...)")]
    NoTimestamp,
    #[error("the Stripe-Signature header has no v1 signature")]
    NoSignature,
    #[error("no v1 signature in the Stripe-Signature header matches the body")]
    NoMatch,
    #[error(
        "the signature is from {t}, more than {TOLERANCE_SECONDS} s before now ({now}): a replay?"
    )]
    TooOld { t: i64, now: i64 },
}

/// Verify `header` over the raw `payload` at Unix time `now`; the signed timestamp.
pub fn verify(
    payload: &[u8],
    header: &str,
    secret: &WebhookSecret,
    now: i64,
) -> Result<i64, SignatureError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for item in header.split(',') {
        // As stripe-python: `item.split("=", 2)`, the value is the second piece.
        let mut parts = item.splitn(3, '=');
        let (Some(key), Some(value)) = (parts.next(), parts.next()) else {
            continue;
        };
        match key {
            "t" if timestamp.is_none() => {
                timestamp = Some(
                    value
                        .trim()
                        .parse::<i64>()
                        .map_err(|_| SignatureError::NoTimestamp)?,
                );
            }
            "v1" => signatures.push(value),
            _ => {}
        }
    }
    let t = timestamp.ok_or(SignatureError::NoTimestamp)?;
    if signatures.is_empty() {
        return Err(SignatureError::NoSignature);
    }
    let expected = secret.hex_signature(t, payload);
    if !signatures
        .iter()
        .any(|s| verify_slices_are_equal(expected.as_bytes(), s.as_bytes()).is_ok())
    {
        return Err(SignatureError::NoMatch);
    }
    if t < now.saturating_sub(TOLERANCE_SECONDS) {
        return Err(SignatureError::TooOld { t, now });
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_what_it_verifies_and_refuses_the_rest() {
        let s = WebhookSecret::parse("whsec_test").unwrap();
        let body = br#"{"id":"evt_1"}"#;
        let h = s.header(1000, body);
        assert_eq!(verify(body, &h, &s, 1000), Ok(1000));
        assert_eq!(verify(body, &h, &s, 1300), Ok(1000));
        assert_eq!(
            verify(body, &h, &s, 1301),
            Err(SignatureError::TooOld { t: 1000, now: 1301 })
        );
        assert_eq!(verify(b"{}", &h, &s, 1000), Err(SignatureError::NoMatch));
        let other = WebhookSecret::parse("whsec_other").unwrap();
        assert_eq!(verify(body, &h, &other, 1000), Err(SignatureError::NoMatch));
        assert_eq!(
            verify(body, "v1=ab", &s, 1000),
            Err(SignatureError::NoTimestamp)
        );
        assert_eq!(
            verify(body, "t=x,v1=ab", &s, 1000),
            Err(SignatureError::NoTimestamp)
        );
        assert_eq!(
            verify(body, "t=1000", &s, 1000),
            Err(SignatureError::NoSignature)
        );
        assert_eq!(verify(body, "", &s, 1000), Err(SignatureError::NoTimestamp));
        assert!(WebhookSecret::parse("sk_test_123").is_err());
        assert!(WebhookSecret::parse("whsec_").is_err());
        assert_eq!(format!("{s:?}"), "WebhookSecret(whsec_…)");
    }
}
