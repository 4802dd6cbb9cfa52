//! RSA keys as payment providers hand them out, and the one signature scheme they all
//! use here: RSASSA-PKCS1-v1_5 with SHA-256 (Alipay's RSA2, WeChat Pay's
//! `WECHATPAY2-SHA256-RSA2048`), standard base64 on the wire, with aws-lc-rs.
//!
//! Owns key parsing (PEM in PKCS#1, PKCS#8 or SPKI, or the bare base64 consoles show),
//! the 2048-bit floor, signing and verifying. The protocols that sign what (the strings
//! to sign, the headers) live with their providers ([`crate::alipay`],
//! [`crate::wechat`]).

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
    #[error("RSA key is {0} bits; at least 2048 are needed")]
    TooSmall(usize),
    #[error("signing failed")]
    SignFailed,
}

/// Why a signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the signature is not valid base64")]
    Encoding,
    #[error("the signature does not verify with the provider's public key")]
    Mismatch,
}

/// A private key that signs our requests. Never printed.
pub struct SigningKey {
    pair: RsaKeyPair,
    rng: SystemRandom,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(..)")
    }
}

/// A provider's public key: verifies what it signs.
#[derive(Clone)]
pub struct VerifyingKey {
    key: ParsedPublicKey,
}

impl std::fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VerifyingKey(..)")
    }
}

/// A PEM block's label and DER, or bare base64 (no label) as consoles show keys.
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

impl SigningKey {
    /// PKCS#1 PEM (label `RSA PRIVATE KEY`), PKCS#8 PEM (label `PRIVATE KEY`), or bare
    /// base64 of either DER form; at least 2048 bits.
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
        Ok(SigningKey {
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

impl VerifyingKey {
    /// SPKI PEM (label `PUBLIC KEY`), PKCS#1 PEM (label `RSA PUBLIC KEY`), or bare base64
    /// of either (consoles show SPKI base64).
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let (label, der) = decode(text)?;
        match label.as_deref() {
            None | Some("PUBLIC KEY") | Some("RSA PUBLIC KEY") => {}
            Some(other) => return Err(KeyError::PemLabel(other.to_owned(), "RSA public key")),
        }
        let key = ParsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, &der)
            .map_err(|e| KeyError::Rejected(e.to_string()))?;
        Ok(VerifyingKey { key })
    }

    /// Verify a base64 RSASSA-PKCS1-v1_5 SHA-256 signature over `message`.
    pub fn verify(&self, message: &[u8], sign_b64: &str) -> Result<(), SignatureError> {
        let sig = STANDARD
            .decode(sign_b64.trim())
            .map_err(|_| SignatureError::Encoding)?;
        self.key
            .verify_sig(message, &sig)
            .map_err(|_| SignatureError::Mismatch)
    }
}
