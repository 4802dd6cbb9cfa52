//! The `Authorization` header on our requests and the signature on WeChat Pay's answers
//! and notifications.
//!
//! A request signs `METHOD\nPATH?QUERY\nTIMESTAMP\nNONCE\nBODY\n` (an empty body for a
//! GET) with the merchant's key; the header names the merchant id, the nonce, the
//! timestamp and the serial number of the merchant's certificate. WeChat Pay signs
//! `TIMESTAMP\nNONCE\nBODY\n` with its own key and names the key in `Wechatpay-Serial`
//! (its public key's id, `PUB_KEY_ID_…`): a message under another id, another signature
//! type, or a timestamp more than [`TOLERANCE_SECONDS`] from now (a replay) is refused
//! before its signature is even checked.

use crate::rsa::{KeyError, SignatureError, SigningKey, VerifyingKey};

/// How far a message's timestamp may be from now, either way, as WeChat Pay's own
/// libraries check it.
pub const TOLERANCE_SECONDS: i64 = 300;

/// The one signature type API v3 uses.
pub const SIGNATURE_TYPE: &str = "WECHATPAY2-SHA256-RSA2048";

/// The merchant as it signs requests: its id, its certificate's serial number and its
/// private key.
#[derive(Debug)]
pub struct Merchant {
    pub mchid: String,
    pub serial_no: String,
    pub key: SigningKey,
}

/// WeChat Pay's public key and its id (`PUB_KEY_ID_…`, sent back in `Wechatpay-Serial`).
#[derive(Debug, Clone)]
pub struct PlatformKey {
    pub id: String,
    pub key: VerifyingKey,
}

impl Merchant {
    /// The `Authorization` header for a request: `method` in capitals, `path` with its
    /// query exactly as sent, `body` exactly as sent ("" for a GET).
    pub fn authorization(
        &self,
        method: &str,
        path: &str,
        body: &str,
        timestamp: i64,
        nonce: &str,
    ) -> Result<String, KeyError> {
        let message = format!("{method}\n{path}\n{timestamp}\n{nonce}\n{body}\n");
        let signature = self.key.sign(message.as_bytes())?;
        Ok(format!(
            "{SIGNATURE_TYPE} mchid=\"{}\",nonce_str=\"{nonce}\",signature=\"{signature}\",timestamp=\"{timestamp}\",serial_no=\"{}\"",
            self.mchid, self.serial_no
        ))
    }
}

/// A 32-character random nonce (hex, capitals), as WeChat Pay's libraries make them.
pub fn nonce() -> Result<String, aws_lc_rs::error::Unspecified> {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02X}")).collect())
}

/// The `Wechatpay-*` headers of an answer or a notification.
#[derive(Debug, Clone, Copy)]
pub struct SignedHeaders<'a> {
    pub timestamp: &'a str,
    pub nonce: &'a str,
    pub serial: &'a str,
    pub signature: &'a str,
    /// `Wechatpay-Signature-Type`; answers may leave it out (then it is the one type).
    pub signature_type: Option<&'a str>,
}

impl<'a> SignedHeaders<'a> {
    /// The headers from any header lookup (case-insensitive names are the caller's).
    pub fn from_lookup(
        get: impl Fn(&'static str) -> Option<&'a str>,
    ) -> Result<SignedHeaders<'a>, VerifyError> {
        let need = |name: &'static str| get(name).ok_or(VerifyError::Missing(name));
        Ok(SignedHeaders {
            timestamp: need("Wechatpay-Timestamp")?,
            nonce: need("Wechatpay-Nonce")?,
            serial: need("Wechatpay-Serial")?,
            signature: need("Wechatpay-Signature")?,
            signature_type: get("Wechatpay-Signature-Type"),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("header {0} is missing")]
    Missing(&'static str),
    #[error("signature type {0:?} is not {SIGNATURE_TYPE}")]
    SignatureType(String),
    #[error("signed with key {0:?}, not WeChat Pay's key configured here")]
    Serial(String),
    #[error("timestamp {0:?} is not a number")]
    Timestamp(String),
    #[error("timestamp is {0} s from now, more than {TOLERANCE_SECONDS} s")]
    Stale(i64),
    #[error(transparent)]
    Signature(#[from] SignatureError),
}

/// Verify an answer or a notification: its key id, its signature type, its timestamp
/// within [`TOLERANCE_SECONDS`] of `now`, and WeChat Pay's signature over
/// `TIMESTAMP\nNONCE\nBODY\n` with the exact bytes received.
pub fn verify(
    headers: &SignedHeaders<'_>,
    body: &[u8],
    key: &PlatformKey,
    now: time::OffsetDateTime,
) -> Result<(), VerifyError> {
    if let Some(t) = headers.signature_type
        && t != SIGNATURE_TYPE
    {
        return Err(VerifyError::SignatureType(t.to_owned()));
    }
    if headers.serial != key.id {
        return Err(VerifyError::Serial(headers.serial.to_owned()));
    }
    let ts: i64 = headers
        .timestamp
        .parse()
        .map_err(|_| VerifyError::Timestamp(headers.timestamp.to_owned()))?;
    let off = now.unix_timestamp() - ts;
    if off.abs() > TOLERANCE_SECONDS {
        return Err(VerifyError::Stale(off));
    }
    let mut message = Vec::with_capacity(body.len() + 64);
    message.extend_from_slice(headers.timestamp.as_bytes());
    message.push(b'\n');
    message.extend_from_slice(headers.nonce.as_bytes());
    message.push(b'\n');
    message.extend_from_slice(body);
    message.push(b'\n');
    key.key.verify(&message, headers.signature)?;
    Ok(())
}

/// WeChat Pay's side of [`verify`], for the local stand-in and tests: the signature over
/// `TIMESTAMP\nNONCE\nBODY\n` with a private key.
pub fn sign_message(
    key: &SigningKey,
    timestamp: i64,
    nonce: &str,
    body: &[u8],
) -> Result<String, KeyError> {
    let mut message = format!("{timestamp}\n{nonce}\n").into_bytes();
    message.extend_from_slice(body);
    message.push(b'\n');
    key.sign(&message)
}

/// An `Authorization` header's parts, for the stand-in that checks our requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    pub mchid: String,
    pub nonce: String,
    pub signature: String,
    pub timestamp: String,
    pub serial_no: String,
}

impl Authorization {
    /// Parse `WECHATPAY2-SHA256-RSA2048 k="v",…`; every one of the five fields, once.
    pub fn parse(header: &str) -> Option<Authorization> {
        let rest = header.strip_prefix(SIGNATURE_TYPE)?.strip_prefix(' ')?;
        let mut fields = std::collections::HashMap::new();
        for part in rest.split(',') {
            let (k, v) = part.trim().split_once('=')?;
            let v = v.strip_prefix('"')?.strip_suffix('"')?;
            if fields.insert(k, v.to_owned()).is_some() {
                return None;
            }
        }
        let mut take = |k: &str| fields.remove(k);
        let a = Authorization {
            mchid: take("mchid")?,
            nonce: take("nonce_str")?,
            signature: take("signature")?,
            timestamp: take("timestamp")?,
            serial_no: take("serial_no")?,
        };
        fields.is_empty().then_some(a)
    }

    /// Whether this header signs `method path body` under `key` (the merchant's public
    /// key).
    pub fn verifies(
        &self,
        key: &VerifyingKey,
        method: &str,
        path: &str,
        body: &str,
    ) -> Result<(), SignatureError> {
        let message = format!(
            "{method}\n{path}\n{}\n{}\n{body}\n",
            self.timestamp, self.nonce
        );
        key.verify(message.as_bytes(), &self.signature)
    }
}
