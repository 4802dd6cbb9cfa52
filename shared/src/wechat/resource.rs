//! A notification's encrypted resource: `AEAD_AES_256_GCM` with the merchant's APIv3
//! key (32 characters, used as its bytes), the resource's 12-character `nonce`, and its
//! `associated_data` (`transaction`, `refund`) authenticated with it. The ciphertext is
//! standard base64 of the encrypted bytes followed by the 16-byte tag.

use std::fmt;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// The APIv3 key the merchant set in WeChat Pay's console. Never printed.
pub struct ApiV3Key {
    key: LessSafeKey,
}

impl fmt::Debug for ApiV3Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiV3Key(..)")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ApiV3KeyError {
    #[error(
        "the APIv3 key is 32 characters (letters and digits) as set in WeChat Pay's console, got {0}"
    )]
    Length(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecryptError {
    #[error("the resource's algorithm is not AEAD_AES_256_GCM")]
    Algorithm,
    #[error("the resource's nonce is not 12 bytes")]
    Nonce,
    #[error("the ciphertext is not base64")]
    Encoding,
    #[error("the resource does not decrypt with the APIv3 key and its associated data")]
    Open,
}

/// The only algorithm API v3 encrypts with.
pub const ALGORITHM: &str = "AEAD_AES_256_GCM";

impl ApiV3Key {
    pub fn parse(text: &str) -> Result<ApiV3Key, ApiV3KeyError> {
        let bytes = text.trim().as_bytes();
        if bytes.len() != 32 {
            return Err(ApiV3KeyError::Length(bytes.len()));
        }
        let key =
            UnboundKey::new(&AES_256_GCM, bytes).map_err(|_| ApiV3KeyError::Length(bytes.len()))?;
        Ok(ApiV3Key {
            key: LessSafeKey::new(key),
        })
    }

    fn nonce(nonce: &str) -> Result<Nonce, DecryptError> {
        Nonce::try_assume_unique_for_key(nonce.as_bytes()).map_err(|_| DecryptError::Nonce)
    }

    /// The plaintext of a resource, checked against its associated data.
    pub fn decrypt(
        &self,
        algorithm: &str,
        nonce: &str,
        associated_data: &str,
        ciphertext_b64: &str,
    ) -> Result<Vec<u8>, DecryptError> {
        if algorithm != ALGORITHM {
            return Err(DecryptError::Algorithm);
        }
        let nonce = Self::nonce(nonce)?;
        let mut data = STANDARD
            .decode(ciphertext_b64)
            .map_err(|_| DecryptError::Encoding)?;
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(associated_data.as_bytes()), &mut data)
            .map_err(|_| DecryptError::Open)?;
        Ok(plain.to_vec())
    }

    /// WeChat Pay's side of [`ApiV3Key::decrypt`], for the local stand-in and tests.
    pub fn encrypt(
        &self,
        nonce: &str,
        associated_data: &str,
        plaintext: &[u8],
    ) -> Result<String, DecryptError> {
        let nonce = Self::nonce(nonce)?;
        let mut data = plaintext.to_vec();
        self.key
            .seal_in_place_append_tag(nonce, Aad::from(associated_data.as_bytes()), &mut data)
            .map_err(|_| DecryptError::Open)?;
        Ok(STANDARD.encode(data))
    }
}
