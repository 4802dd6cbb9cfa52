//! Loading the two RSA keys in every encoding the Alipay console and common tools emit.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, ParsedPublicKey, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("key is empty")]
    Empty,
    #[error("key text is neither PEM nor bare base64")]
    Encoding,
    #[error("PEM block {0:?} is not a supported {1}")]
    PemLabel(String, &'static str),
    #[error("key bytes were rejected: {0}")]
    Rejected(String),
    #[error("RSA key is {0} bits; Alipay RSA2 needs at least 2048")]
    TooSmall(usize),
    #[error("signing failed")]
    SignFailed,
}

/// The merchant's private key: signs our requests to Alipay.
pub struct AppPrivateKey {
    pair: RsaKeyPair,
    rng: SystemRandom,
}

impl std::fmt::Debug for AppPrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AppPrivateKey(..)")
    }
}

/// Alipay's public key: verifies notifications, returns and gateway responses.
/// (Not the app's own public key -- the most common integration mistake.)
#[derive(Clone)]
pub struct AlipayPublicKey {
    key: ParsedPublicKey,
}

impl std::fmt::Debug for AlipayPublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AlipayPublicKey(..)")
    }
}

/// A PEM block's label and DER, or bare base64 (no label) as the Alipay console shows it.
fn decode(text: &str) -> Result<(Option<String>, Vec<u8>), KeyError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(KeyError::Empty);
    }
    let (label, body) = if let Some(rest) = text.strip_prefix("-----BEGIN ") {
        let (label, rest) = rest.split_once("-----").ok_or(KeyError::Encoding)?;
        let end = format!("-----END {label}-----");
        let body = rest.split_once(&end).ok_or(KeyError::Encoding)?.0;
        (Some(label.to_owned()), body)
    } else {
        (None, text)
    };
    let b64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    let der = STANDARD.decode(b64).map_err(|_| KeyError::Encoding)?;
    Ok((label, der))
}

impl AppPrivateKey {
    /// PKCS#1 PEM (label `RSA PRIVATE KEY`), PKCS#8 PEM (label `PRIVATE KEY`), or bare
    /// base64 of either DER form.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let (label, der) = decode(text)?;
        let pair = match label.as_deref() {
            Some("PRIVATE KEY") => RsaKeyPair::from_pkcs8(&der),
            Some("RSA PRIVATE KEY") => RsaKeyPair::from_der(&der),
            Some(other) => return Err(KeyError::PemLabel(other.to_owned(), "RSA private key")),
            None => RsaKeyPair::from_pkcs8(&der).or_else(|_| RsaKeyPair::from_der(&der)),
        }
        .map_err(|e| KeyError::Rejected(e.to_string()))?;
        let bits = pair.public_modulus_len() * 8;
        if bits < 2048 {
            return Err(KeyError::TooSmall(bits));
        }
        Ok(AppPrivateKey {
            pair,
            rng: SystemRandom::new(),
        })
    }

    /// RSASSA-PKCS1-v1_5 with SHA-256 over `message`, standard base64 without newlines.
    pub fn sign(&self, message: &[u8]) -> Result<String, KeyError> {
        let mut sig = vec![0u8; self.pair.public_modulus_len()];
        self.pair
            .sign(&signature::RSA_PKCS1_SHA256, &self.rng, message, &mut sig)
            .map_err(|_| KeyError::SignFailed)?;
        Ok(STANDARD.encode(sig))
    }
}

impl AlipayPublicKey {
    /// SPKI PEM (label `PUBLIC KEY`), PKCS#1 PEM (label `RSA PUBLIC KEY`), or bare base64
    /// of either (the console shows SPKI base64).
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let (label, der) = decode(text)?;
        match label.as_deref() {
            None | Some("PUBLIC KEY") | Some("RSA PUBLIC KEY") => {}
            Some(other) => return Err(KeyError::PemLabel(other.to_owned(), "RSA public key")),
        }
        let key = ParsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, &der)
            .map_err(|e| KeyError::Rejected(e.to_string()))?;
        Ok(AlipayPublicKey { key })
    }

    /// Verify a base64 RSA2 signature over `message`.
    pub fn verify(&self, message: &[u8], sign_b64: &str) -> Result<(), super::VerifyError> {
        let sig = STANDARD
            .decode(sign_b64.trim())
            .map_err(|_| super::VerifyError::SignEncoding)?;
        self.key
            .verify_sig(message, &sig)
            .map_err(|_| super::VerifyError::BadSignature)
    }
}
