//! A buyer's email address, parsed once at the boundary.
//!
//! Deliberately pragmatic rather than RFC 5322-complete: we accept what real buyers type
//! and SES delivers (`local@domain.tld`, no spaces, no quotes, no comments), and reject
//! what would fail to deliver or could inject headers. Addresses are stored lowercased so
//! "resend my links" finds a purchase however the buyer capitalised it the second time.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("email address is empty")]
    Empty,
    #[error("email address is longer than 254 characters")]
    TooLong,
    #[error("email address needs exactly one '@' with text on both sides")]
    Shape,
    #[error("email address contains a character that is not allowed ({0:?})")]
    BadChar(char),
    #[error("email domain {0:?} is not a valid domain name")]
    Domain(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    pub fn parse(input: &str) -> Result<Self, EmailError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(EmailError::Empty);
        }
        if s.len() > 254 {
            return Err(EmailError::TooLong);
        }
        if let Some(c) = s.chars().find(|c| {
            c.is_whitespace()
                || c.is_control()
                || matches!(
                    c,
                    '"' | '(' | ')' | ',' | ':' | ';' | '<' | '>' | '[' | '\\' | ']'
                )
        }) {
            return Err(EmailError::BadChar(c));
        }
        let (local, domain) = s.split_once('@').ok_or(EmailError::Shape)?;
        if local.is_empty() || domain.is_empty() || domain.contains('@') || local.len() > 64 {
            return Err(EmailError::Shape);
        }
        if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
            return Err(EmailError::Shape);
        }
        let labels: Vec<&str> = domain.split('.').collect();
        let label_ok = |l: &&str| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        };
        if labels.len() < 2 || !labels.iter().all(label_ok) {
            return Err(EmailError::Domain(domain.to_owned()));
        }
        Ok(Email(s.to_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Email {
    type Error = EmailError;
    fn try_from(s: String) -> Result<Self, EmailError> {
        Email::parse(&s)
    }
}
impl From<Email> for String {
    fn from(e: Email) -> String {
        e.0
    }
}
impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_addresses() {
        for ok in [
            "reader@example.com",
            "a.b+books@mail.example.co.uk",
            "x@xn--fiqs8s.cn",
            "读者@例子.中国",
        ] {
            assert!(Email::parse(ok).is_ok(), "{ok}");
        }
        assert_eq!(
            Email::parse("  Reader@Example.COM ").unwrap().as_str(),
            "reader@example.com"
        );
    }

    #[test]
    fn rejects_malformed_addresses() {
        type Expect = fn(&EmailError) -> bool;
        let cases: &[(&str, Expect)] = &[
            ("", |e| matches!(e, EmailError::Empty)),
            ("   ", |e| matches!(e, EmailError::Empty)),
            ("plainaddress", |e| matches!(e, EmailError::Shape)),
            ("@example.com", |e| matches!(e, EmailError::Shape)),
            ("a@", |e| matches!(e, EmailError::Shape)),
            ("a@b@example.com", |e| matches!(e, EmailError::Shape)),
            ("a..b@example.com", |e| matches!(e, EmailError::Shape)),
            ("a@localhost", |e| matches!(e, EmailError::Domain(_))),
            ("a@-x.com", |e| matches!(e, EmailError::Domain(_))),
            ("a@x..com", |e| matches!(e, EmailError::Domain(_))),
            ("a b@example.com", |e| matches!(e, EmailError::BadChar(' '))),
            ("a@example.com\r\nBcc: x@evil.com", |e| {
                matches!(e, EmailError::BadChar(_))
            }),
            ("\"a\"@example.com", |e| {
                matches!(e, EmailError::BadChar('"'))
            }),
            ("<a@example.com>", |e| matches!(e, EmailError::BadChar('<'))),
        ];
        for (input, want) in cases {
            let err = Email::parse(input).unwrap_err();
            assert!(want(&err), "{input:?} gave {err:?}");
        }
        assert!(matches!(
            Email::parse(&format!("{}@example.com", "a".repeat(250))),
            Err(EmailError::TooLong)
        ));
        assert!(matches!(
            Email::parse(&format!("{}@example.com", "a".repeat(65))),
            Err(EmailError::Shape)
        ));
    }
}
