//! A buyer's email address, parsed once at the boundary.
//!
//! Deliberately pragmatic rather than RFC 5322-complete: we accept what real buyers type
//! and SES delivers (`local@domain.tld`, no spaces, no quotes, no comments), and reject
//! what would fail to deliver or could inject headers. Addresses are stored lowercased so
//! "resend my links" finds a purchase however the buyer capitalised it the second time.
//!
//! SES sends only to an ASCII local part and an ASCII (punycode) domain. An international
//! domain (`例子.中国`) is converted to its punycode form (`xn--fsqu00a.xn--fiqs8s`) by the
//! `idna` crate (UTS #46, strict) and stored, shown and mailed in that one form; a
//! non-ASCII local part (`读者@...`) is refused at checkout, before the buyer pays, because
//! no mail could ever reach it.
//!
//! [`Sender`] is the shop's own From address: checked the same way but kept exactly as
//! configured, because IAM's `ses:FromAddress` condition compares the configured text.

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
    #[error(
        "the part before '@' must use plain letters, digits and . _ % + - (mail cannot be delivered to {0:?})"
    )]
    LocalNotAscii(String),
    #[error("give the shop's address in ASCII (punycode for an international domain), not {0:?}")]
    SenderNotAscii(String),
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
        if !local.is_ascii() {
            return Err(EmailError::LocalNotAscii(s.to_owned()));
        }
        if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
            return Err(EmailError::Shape);
        }
        // Lowercases and maps to punycode; refuses what no DNS name can be (bad labels,
        // disallowed code points, over-long names).
        let domain = idna::domain_to_ascii_strict(domain)
            .map_err(|_| EmailError::Domain(domain.to_owned()))?;
        let labels: Vec<&str> = domain.split('.').collect();
        let label_ok = |l: &&str| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
        };
        if labels.len() < 2 || !labels.iter().all(label_ok) {
            return Err(EmailError::Domain(domain));
        }
        let email = format!("{}@{domain}", local.to_ascii_lowercase());
        if email.len() > 254 {
            return Err(EmailError::TooLong);
        }
        Ok(Email(email))
    }

    /// An address read back from the table: as [`Email::parse`], except that one stored
    /// before non-ASCII local parts were refused at checkout (they were accepted until
    /// then) is kept as stored, so its order stays readable by reports, reconcile and
    /// refunds; SES refuses to send to it, and the author sees that mail failed.
    pub fn from_stored(s: &str) -> Result<Self, EmailError> {
        match Email::parse(s) {
            Err(EmailError::LocalNotAscii(_)) => Ok(Email(s.trim().to_lowercase())),
            other => other,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The shop's From address, exactly as configured (`SENDER_EMAIL`, the template's
/// `SenderEmail`): SES sends from this text and IAM's `ses:FromAddress` condition compares
/// it case-sensitively, so lowercasing it (as [`Email`] does) would deny every send from
/// `Shop@Example.com`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sender(String);

impl Sender {
    pub fn parse(input: &str) -> Result<Self, EmailError> {
        let s = input.trim();
        if !s.is_ascii() {
            return Err(EmailError::SenderNotAscii(s.to_owned()));
        }
        Email::parse(s)?;
        Ok(Sender(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Sender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
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
            ("读者@例子.中国", |e| {
                matches!(e, EmailError::LocalNotAscii(_))
            }),
            ("josé@example.com", |e| {
                matches!(e, EmailError::LocalNotAscii(_))
            }),
            ("a@exa_mple.com", |e| matches!(e, EmailError::Domain(_))),
            ("a@xn--zz.com", |e| matches!(e, EmailError::Domain(_))),
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

    /// SES needs an ASCII domain: an international one is stored, shown and mailed as
    /// punycode, whatever form (or case) the buyer typed it in.
    #[test]
    fn international_domains_become_punycode() {
        for typed in [
            "reader@例子.中国",
            "Reader@例子.中国",
            "reader@xn--fsqu00a.xn--fiqs8s",
        ] {
            assert_eq!(
                Email::parse(typed).unwrap().as_str(),
                "reader@xn--fsqu00a.xn--fiqs8s",
                "{typed}"
            );
        }
        assert_eq!(
            Email::parse("kunde@Bücher.example").unwrap().as_str(),
            "kunde@xn--bcher-kva.example"
        );
        // Every accepted address is what SES can send to.
        assert!(Email::parse("a@bücher.de").unwrap().as_str().is_ascii());
    }

    #[test]
    fn an_address_stored_before_the_ascii_rule_still_reads() {
        let old = Email::from_stored("读者@例子.中国").unwrap();
        assert_eq!(old.as_str(), "读者@例子.中国");
        assert_eq!(
            Email::from_stored("Reader@例子.中国").unwrap().as_str(),
            "reader@xn--fsqu00a.xn--fiqs8s"
        );
        assert!(Email::from_stored("not an address").is_err());
    }

    #[test]
    fn the_sender_keeps_its_case_and_must_be_ascii() {
        let s = Sender::parse(" Shop@Example.com ").unwrap();
        assert_eq!(s.as_str(), "Shop@Example.com");
        assert!(matches!(
            Sender::parse("shop@例子.中国"),
            Err(EmailError::SenderNotAscii(_))
        ));
        assert!(Sender::parse("not an address").is_err());
    }
}
