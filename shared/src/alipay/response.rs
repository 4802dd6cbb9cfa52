//! The signed part of a gateway reply.
//!
//! Alipay answers `{"alipay_trade_query_response": {...}, "sign": "..."}` and signs the
//! exact raw text of the `*_response` value, from its `{` to the matching `}`. We locate
//! that slice with a small scanner that understands JSON strings and escapes (a `}` or
//! `"` inside a string must not end the slice), verify the signature over those bytes,
//! and only then parse that same slice. Duplicate top-level keys are refused: with two
//! `*_response` members a verifier and a parser could look at different ones
//! (python-alipay-sdk issue #69).

use serde::de::DeserializeOwned;

use super::keys::AlipayPublicKey;
use super::params::VerifyError;

#[derive(Debug, thiserror::Error)]
pub enum ResponseError {
    #[error("gateway reply is not the expected JSON object: {0}")]
    Malformed(&'static str),
    #[error("gateway reply has the member {0:?} twice")]
    DuplicateKey(String),
    #[error("gateway reply has no {0:?} member")]
    Missing(String),
    #[error("gateway reply is not signed")]
    Unsigned,
    #[error("gateway reply signature: {0}")]
    Signature(#[source] VerifyError),
    #[error("gateway reply did not parse")]
    Parse(#[source] serde_json::Error),
}

/// The signed slice of a reply and its signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedResponse<'a> {
    /// The member name it was found under (`alipay_trade_query_response` or `error_response`).
    pub member: String,
    /// Exact raw text of the member's value, as signed.
    pub slice: &'a str,
    pub sign: Option<String>,
}

struct Scanner<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Scanner<'a> {
    fn ws(&mut self) {
        while self.i < self.s.len() && matches!(self.s[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }

    fn expect(&mut self, b: u8, what: &'static str) -> Result<(), ResponseError> {
        self.ws();
        if self.s.get(self.i) == Some(&b) {
            self.i += 1;
            Ok(())
        } else {
            Err(ResponseError::Malformed(what))
        }
    }

    /// Skip a string starting at the opening quote; leaves `i` after the closing quote.
    fn string(&mut self) -> Result<(), ResponseError> {
        self.i += 1;
        while let Some(&b) = self.s.get(self.i) {
            match b {
                b'\\' => self.i += 2,
                b'"' => {
                    self.i += 1;
                    return Ok(());
                }
                _ => self.i += 1,
            }
        }
        Err(ResponseError::Malformed("unterminated string"))
    }

    /// Skip one value of any kind; returns its start and end (exclusive).
    fn value(&mut self) -> Result<(usize, usize), ResponseError> {
        self.ws();
        let start = self.i;
        match self.s.get(self.i) {
            Some(b'"') => self.string()?,
            Some(b'{' | b'[') => {
                let mut depth = 0usize;
                loop {
                    match self.s.get(self.i) {
                        None => return Err(ResponseError::Malformed("unbalanced brackets")),
                        Some(b'"') => {
                            self.string()?;
                            continue;
                        }
                        Some(b'{' | b'[') => depth += 1,
                        Some(b'}' | b']') => {
                            depth -= 1;
                            if depth == 0 {
                                self.i += 1;
                                break;
                            }
                        }
                        Some(_) => {}
                    }
                    self.i += 1;
                }
            }
            Some(_) => {
                while self.i < self.s.len()
                    && !matches!(
                        self.s[self.i],
                        b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'
                    )
                {
                    self.i += 1;
                }
                if self.i == start {
                    return Err(ResponseError::Malformed("empty value"));
                }
            }
            None => return Err(ResponseError::Malformed("truncated")),
        }
        Ok((start, self.i))
    }
}

/// Find the `{method}_response` member (dots become underscores), or `error_response`
/// when the gateway rejected the call, and the top-level `sign`.
pub fn find_signed_response<'a>(
    raw: &'a str,
    method: &str,
) -> Result<SignedResponse<'a>, ResponseError> {
    let wanted = format!("{}_response", method.replace('.', "_"));
    let mut sc = Scanner {
        s: raw.as_bytes(),
        i: 0,
    };
    sc.expect(b'{', "expected an object")?;
    let mut members: Vec<(String, (usize, usize))> = Vec::new();
    sc.ws();
    if sc.s.get(sc.i) == Some(&b'}') {
        return Err(ResponseError::Missing(wanted));
    }
    loop {
        sc.ws();
        if sc.s.get(sc.i) != Some(&b'"') {
            return Err(ResponseError::Malformed("expected a member name"));
        }
        let (ks, ke) = sc.value()?;
        // Decode the name properly so an escaped spelling cannot smuggle a duplicate.
        let key: String = serde_json::from_str(&raw[ks..ke]).map_err(ResponseError::Parse)?;
        sc.expect(b':', "expected ':'")?;
        let span = sc.value()?;
        if members.iter().any(|(k, _)| *k == key) {
            return Err(ResponseError::DuplicateKey(key));
        }
        members.push((key, span));
        sc.ws();
        match sc.s.get(sc.i) {
            Some(b',') => sc.i += 1,
            Some(b'}') => {
                sc.i += 1;
                break;
            }
            _ => return Err(ResponseError::Malformed("expected ',' or '}'")),
        }
    }
    sc.ws();
    if sc.i != sc.s.len() {
        return Err(ResponseError::Malformed("trailing data after the object"));
    }
    let get = |name: &str| {
        members
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, (s, e))| &raw[*s..*e])
    };
    let (member, slice) = match (get(&wanted), get("error_response")) {
        (Some(slice), _) => (wanted, slice),
        (None, Some(slice)) => ("error_response".to_owned(), slice),
        (None, None) => return Err(ResponseError::Missing(wanted)),
    };
    if !slice.starts_with('{') {
        return Err(ResponseError::Malformed("response member is not an object"));
    }
    let sign = match get("sign") {
        Some(s) => Some(serde_json::from_str::<String>(s).map_err(ResponseError::Parse)?),
        None => None,
    };
    Ok(SignedResponse {
        member,
        slice,
        sign,
    })
}

/// Verify a gateway reply over exactly its signed slice and parse only that slice.
/// An `error_response` is verified the same way when signed; the caller sees it as the
/// parsed `T` only if `T` fits it, which response types make explicit via `code`.
pub fn verify_response<T: DeserializeOwned>(
    raw: &str,
    method: &str,
    key: &AlipayPublicKey,
) -> Result<T, ResponseError> {
    let signed = find_signed_response(raw, method)?;
    let sign = signed.sign.as_deref().ok_or(ResponseError::Unsigned)?;
    key.verify(signed.slice.as_bytes(), sign)
        .map_err(ResponseError::Signature)?;
    serde_json::from_str(signed.slice).map_err(ResponseError::Parse)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_slice_despite_braces_and_quotes_in_strings() {
        let raw = r#"{ "x_response" : {"a":"} \" {","b":[1,{"c":"]"}]} , "sign":"c2ln"}"#;
        let s = find_signed_response(raw, "x").unwrap();
        assert_eq!(s.slice, r#"{"a":"} \" {","b":[1,{"c":"]"}]}"#);
        assert_eq!(s.sign.as_deref(), Some("c2ln"));
    }

    #[test]
    fn refuses_duplicates_and_garbage() {
        let dup = r#"{"x_response":{"code":"10000"},"x_response":{"code":"40004"},"sign":"c2ln"}"#;
        assert!(matches!(
            find_signed_response(dup, "x"),
            Err(ResponseError::DuplicateKey(_))
        ));
        let escaped_dup = r#"{"x_response":{"a":1},"x\u005fresponse":{"a":2},"sign":"c2ln"}"#;
        assert!(matches!(
            find_signed_response(escaped_dup, "x"),
            Err(ResponseError::DuplicateKey(_))
        ));
        for bad in [
            "",
            "[]",
            "{",
            r#"{"x_response":{"a":"}"#,
            r#"{"x_response":{}} extra"#,
            r#"{"x_response":"str"}"#,
            "{}",
        ] {
            assert!(find_signed_response(bad, "x").is_err(), "{bad:?}");
        }
        assert!(matches!(
            find_signed_response(r#"{"y_response":{}}"#, "x"),
            Err(ResponseError::Missing(_))
        ));
    }
}
