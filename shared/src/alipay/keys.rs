//! Alipay's two RSA keys, over [`crate::rsa`] (every encoding the Alipay console and
//! common tools emit).

pub use crate::rsa::KeyError;
use crate::rsa::{SignatureError, SigningKey, VerifyingKey};

/// The merchant's private key: signs our requests to Alipay.
#[derive(Debug)]
pub struct AppPrivateKey(SigningKey);

/// Alipay's public key: verifies notifications, returns and gateway responses.
/// (Not the app's own public key -- the most common integration mistake.)
#[derive(Debug, Clone)]
pub struct AlipayPublicKey(VerifyingKey);

impl AppPrivateKey {
    /// PKCS#1 PEM (label `RSA PRIVATE KEY`), PKCS#8 PEM (label `PRIVATE KEY`), or bare
    /// base64 of either DER form.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        SigningKey::parse(text).map(AppPrivateKey)
    }

    /// RSASSA-PKCS1-v1_5 with SHA-256 over `message`, standard base64 without newlines.
    pub fn sign(&self, message: &[u8]) -> Result<String, KeyError> {
        self.0.sign(message)
    }
}

impl AlipayPublicKey {
    /// SPKI PEM (label `PUBLIC KEY`), PKCS#1 PEM (label `RSA PUBLIC KEY`), or bare base64
    /// of either (the console shows SPKI base64).
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        VerifyingKey::parse(text).map(AlipayPublicKey)
    }

    /// Verify a base64 RSA2 signature over `message`.
    pub fn verify(&self, message: &[u8], sign_b64: &str) -> Result<(), super::VerifyError> {
        self.0.verify(message, sign_b64).map_err(|e| match e {
            SignatureError::Encoding => super::VerifyError::SignEncoding,
            SignatureError::Mismatch => super::VerifyError::BadSignature,
        })
    }
}
