//! `application/x-www-form-urlencoded`, as the providers' own libraries write it: the
//! encoding of Alipay's signed query strings and Stripe's API requests, and the one
//! parser of form bodies and query strings (a repeated field is refused).

use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    #[error("body is not form-encoded: {0}")]
    Malformed(&'static str),
    #[error("parameter {0:?} appears more than once")]
    Duplicate(String),
}

/// `application/x-www-form-urlencoded` encoding of one value, byte-for-byte what
/// Python's `urlencode` (and so python-alipay-sdk) produces: RFC 3986 unreserved
/// characters stay, space becomes `+`, everything else is `%XX`.
pub fn form_encode(s: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in s.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => {
                out.push('%');
                out.push(HEX[usize::from(b >> 4)] as char);
                out.push(HEX[usize::from(b & 15)] as char);
            }
        }
    }
}

/// `k=v&k=v` in the given order, keys and values encoded. Stripe's nested keys such as
/// `line_items[0][quantity]` get their brackets escaped, which Stripe decodes like any
/// other byte (stripe-python leaves them bare; both decode to the same pairs).
pub fn encode_pairs(pairs: &[(String, String)]) -> String {
    let mut out = String::new();
    for (k, v) in pairs {
        if !out.is_empty() {
            out.push('&');
        }
        form_encode(k, &mut out);
        out.push('=');
        form_encode(v, &mut out);
    }
    out
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn form_decode(s: &str) -> Result<String, FormError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = bytes.get(i + 1).copied().and_then(hex_val);
                let lo = bytes.get(i + 2).copied().and_then(hex_val);
                let (Some(hi), Some(lo)) = (hi, lo) else {
                    return Err(FormError::Malformed("bad %-escape"));
                };
                out.push(hi << 4 | lo);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| FormError::Malformed("not UTF-8"))
}

/// Parse a form body or query string into params. A repeated key is refused: the signed
/// value and the value we act on could otherwise differ.
pub fn parse_form(body: &str) -> Result<BTreeMap<String, String>, FormError> {
    let mut params = BTreeMap::new();
    for pair in body.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair
            .split_once('=')
            .ok_or(FormError::Malformed("a field has no '='"))?;
        let k = form_decode(k)?;
        if k.is_empty() {
            return Err(FormError::Malformed("empty field name"));
        }
        let v = form_decode(v)?;
        if params.insert(k.clone(), v).is_some() {
            return Err(FormError::Duplicate(k));
        }
    }
    if params.is_empty() {
        return Err(FormError::Malformed("no fields"));
    }
    Ok(params)
}
