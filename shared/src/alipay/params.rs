//! Parameter sets, the two string-to-sign rules, and the signed query string.

use std::collections::BTreeMap;

use super::keys::{AlipayPublicKey, AppPrivateKey, KeyError};
use crate::form::form_encode;
pub use crate::form::{FormError, parse_form};

/// Protocol parameters, kept sorted by key in byte order -- the order Alipay signs in
/// (`String`'s `Ord` is byte-wise on UTF-8).
pub type Params = BTreeMap<String, String>;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the sign parameter is missing")]
    MissingSign,
    #[error("sign_type {0:?} is not RSA2")]
    SignType(String),
    #[error("the sign parameter is not valid base64")]
    SignEncoding,
    #[error("the signature does not verify with Alipay's public key")]
    BadSignature,
}

/// `k=v&k=v` over the sorted params, skipping `excluded` keys and empty values, with raw
/// (not URL-encoded) values.
fn join_for_signing(params: &Params, excluded: &[&str]) -> String {
    let mut out = String::new();
    for (k, v) in params {
        if v.is_empty() || excluded.contains(&k.as_str()) {
            continue;
        }
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

/// What we sign on requests: everything but `sign` (so `sign_type` IS included).
pub fn string_to_sign_request(params: &Params) -> String {
    join_for_signing(params, &["sign"])
}

/// What Alipay signs on notifications and returns: everything but `sign` and `sign_type`.
pub fn string_to_sign_callback(params: &Params) -> String {
    join_for_signing(params, &["sign", "sign_type"])
}

/// Add `sign` to a request's params.
pub fn sign_request(params: &mut Params, key: &AppPrivateKey) -> Result<(), KeyError> {
    params.remove("sign");
    let sign = key.sign(string_to_sign_request(params).as_bytes())?;
    params.insert("sign".to_owned(), sign);
    Ok(())
}

/// Authenticate a notification or return: `sign_type` must be RSA2 and `sign` must verify
/// with Alipay's public key over the callback string-to-sign.
pub fn verify_callback(params: &Params, key: &AlipayPublicKey) -> Result<(), VerifyError> {
    match params.get("sign_type").map(String::as_str) {
        Some("RSA2") => {}
        Some(other) => return Err(VerifyError::SignType(other.to_owned())),
        None => return Err(VerifyError::SignType(String::new())),
    }
    let sign = params
        .get("sign")
        .filter(|s| !s.is_empty())
        .ok_or(VerifyError::MissingSign)?;
    key.verify(string_to_sign_callback(params).as_bytes(), sign)
}

/// The final query string: sorted params with every value URL-encoded, `sign` last.
pub fn query_string(params: &Params) -> String {
    let mut out = String::new();
    let sign = params.get("sign");
    for (k, v) in params.iter().filter(|(k, _)| k.as_str() != "sign") {
        if v.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push('&');
        }
        form_encode(k, &mut out);
        out.push('=');
        form_encode(v, &mut out);
    }
    if let Some(sign) = sign {
        out.push_str("&sign=");
        form_encode(sign, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_round_trip_and_rejections() {
        let mut p = Params::new();
        p.insert("subject".into(), "小书 & friends = 100% fun+".into());
        p.insert("a".into(), "x y~*".into());
        let q = query_string(&p);
        assert_eq!(
            q,
            "a=x+y~%2A&subject=%E5%B0%8F%E4%B9%A6+%26+friends+%3D+100%25+fun%2B"
        );
        assert_eq!(parse_form(&q).unwrap(), p);
        assert_eq!(parse_form("a=1&a=2"), Err(FormError::Duplicate("a".into())));
        assert!(parse_form("a=%zz").is_err());
        assert!(parse_form("a=%e5").is_err());
        assert!(parse_form("{\"json\":true}").is_err());
        assert!(parse_form("").is_err());
    }
}
