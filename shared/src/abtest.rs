//! The author's A/B tests (docs/architecture.md, "The visitor funnel"): registered with
//! `kiosk test add NAME --variants a,b [--product ID]`, so a beacon can no longer name
//! its own tests or variants, and the [`VariantToken`] that carries the variants a page
//! showed to checkout, so the order records exactly those.
//!
//! A page marks its alternatives (`data-kiosk-test`, `data-kiosk-variant`) as before;
//! the collect function counts a test only while it is registered and running, only
//! when the page's variants are the registered ones, and only for the registered product
//! (or, for a test without one, the page's products). It answers the variants it chose
//! with a token signed under the shop's stable secret; `kiosk.js` passes the token on
//! only when it showed those variants (the answer came in time), and checkout records
//! the token's variants, or none. Nothing is ever recomputed.

use time::{Duration, OffsetDateTime};

use crate::ids::ProductId;
use crate::visit::{Name, VariantSecret};

/// Most variants a test may have.
pub const MAX_VARIANTS: usize = 4;
/// Most running tests a shop may have (a beacon counts at most this many).
pub const MAX_RUNNING: usize = 5;

/// A registered test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AbTest {
    pub name: Name,
    /// 2 to [`MAX_VARIANTS`] variants, the first the baseline.
    pub variants: Vec<Name>,
    /// The one product it is about; `None`: every product of the pages it is on.
    pub product: Option<ProductId>,
    pub created_at: OffsetDateTime,
    /// Stopped tests count nothing more (their numbers stay in the reports).
    pub stopped_at: Option<OffsetDateTime>,
}

impl AbTest {
    pub fn running(&self) -> bool {
        self.stopped_at.is_none()
    }

    /// Does a page carrying this test with `page_variants` take part in it? Only when
    /// its variants are exactly the registered ones (in any order).
    pub fn matches(&self, page_variants: &[Name]) -> bool {
        page_variants.len() == self.variants.len()
            && self.variants.iter().all(|v| page_variants.contains(v))
    }
}

/// `kiosk test add`'s variants, `a,b`: 2 to [`MAX_VARIANTS`] distinct names.
pub fn parse_variants(raw: &str) -> Result<Vec<Name>, String> {
    let mut out: Vec<Name> = Vec::new();
    for part in raw.split(',').map(str::trim) {
        let name = Name::parse(part).ok_or_else(|| {
            format!("variant {part:?}: use 1-32 lowercase letters, digits and '-'")
        })?;
        if out.contains(&name) {
            return Err(format!("variant {name} is named twice"));
        }
        out.push(name);
    }
    if !(2..=MAX_VARIANTS).contains(&out.len()) {
        return Err(format!("give 2 to {MAX_VARIANTS} variants, e.g. a,b"));
    }
    Ok(out)
}

/// How long a page's variants may take to reach checkout (a buyer who leaves a tab open
/// overnight still has them).
pub const TOKEN_LIFETIME: Duration = Duration::days(1);

/// A counted visit, signed for checkout: the variants the visitor was assigned, the
/// source the view counted under and the visitor (a keyed hash of the day's visitor id):
/// `{test}:{variant},…~{source}~{visitor}.{issued}.{tag}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariantToken(String);

/// What a good token says.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Signed {
    pub variants: Vec<(Name, Name)>,
    pub visit: Option<crate::order::Visit>,
}

impl VariantToken {
    /// The token of `variants` (test, variant) and `visit`, issued `now`.
    pub fn issue(
        secret: &VariantSecret,
        variants: &[(Name, Name)],
        visit: Option<&crate::order::Visit>,
        now: OffsetDateTime,
    ) -> Self {
        let mut body = format_list(variants);
        if let Some(v) = visit {
            body = format!("{body}~{}~{}", v.source, v.visitor);
        }
        let issued = now.unix_timestamp();
        VariantToken(format!("{body}.{issued}.{}", tag(secret, &body, issued)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What a token this shop issued within [`TOKEN_LIFETIME`] of `now` says; `None`
    /// for anything else (malformed, forged, altered, too old).
    pub fn verify(secret: &VariantSecret, text: &str, now: OffsetDateTime) -> Option<Signed> {
        let text = text.trim();
        if text.len() > 400 {
            return None;
        }
        let mut parts = text.rsplitn(3, '.');
        let (mac, issued, body) = (parts.next()?, parts.next()?, parts.next()?);
        if issued.is_empty() || issued.len() > 12 || !issued.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let issued: i64 = issued.parse().ok()?;
        let age = now.unix_timestamp() - issued;
        if !(-60..=TOKEN_LIFETIME.whole_seconds()).contains(&age) {
            return None;
        }
        let expected = tag(secret, body, issued);
        if mac.len() != expected.len()
            || aws_lc_rs::constant_time::verify_slices_are_equal(
                mac.as_bytes(),
                expected.as_bytes(),
            )
            .is_err()
        {
            return None;
        }
        let mut fields = body.split('~');
        let variants = parse_list(fields.next()?)?;
        let visit = match (fields.next(), fields.next(), fields.next()) {
            (None, None, None) => None,
            (Some(source), Some(visitor), None)
                if visitor.len() == 16
                    && visitor
                        .bytes()
                        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()) =>
            {
                Some(crate::order::Visit {
                    source: crate::sales::clean_source(source).filter(|s| s == source)?,
                    visitor: visitor.to_owned(),
                })
            }
            _ => return None,
        };
        Some(Signed { variants, visit })
    }

    /// The characters a token is written in (the buy page carries only such text on).
    pub fn looks_like(text: &str) -> bool {
        text.len() <= 400
            && text
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b":,.-_~".contains(&b))
    }
}

fn format_list(variants: &[(Name, Name)]) -> String {
    variants
        .iter()
        .map(|(t, v)| format!("{t}:{v}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn parse_list(list: &str) -> Option<Vec<(Name, Name)>> {
    if list.is_empty() {
        return Some(Vec::new());
    }
    list.split(',')
        .map(|pair| {
            let (t, v) = pair.split_once(':')?;
            Some((Name::parse(t)?, Name::parse(v)?))
        })
        .collect()
}

fn tag(secret: &VariantSecret, list: &str, issued: i64) -> String {
    secret.tag(&["variants", list, &issued.to_string()])[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> Name {
        Name::parse(s).unwrap()
    }

    #[test]
    fn a_token_carries_exactly_its_variants_and_visit_and_cannot_be_altered() {
        let secret = VariantSecret::from_bytes(&[5; 32]).unwrap();
        let t0 = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let v = vec![
            (name("headline"), name("b")),
            (name("price-box"), name("a")),
        ];
        let visit = crate::order::Visit {
            source: "news.example.com".into(),
            visitor: "0123456789abcdef".into(),
        };
        let token = VariantToken::issue(&secret, &v, Some(&visit), t0);
        assert!(VariantToken::looks_like(token.as_str()));
        let want = Signed {
            variants: v.clone(),
            visit: Some(visit.clone()),
        };
        assert_eq!(
            VariantToken::verify(&secret, token.as_str(), t0),
            Some(want.clone())
        );
        assert_eq!(
            VariantToken::verify(&secret, token.as_str(), t0 + TOKEN_LIFETIME),
            Some(want)
        );
        assert_eq!(
            VariantToken::verify(
                &secret,
                token.as_str(),
                t0 + TOKEN_LIFETIME + Duration::seconds(1)
            ),
            None
        );
        // Another variant or source with the same tag, another secret, junk: nothing.
        for altered in [
            token.as_str().replacen("headline:b", "headline:a", 1),
            token.as_str().replacen("news.example.com", "newsletter", 1),
            token
                .as_str()
                .replacen("0123456789abcdef", "0123456789abcdee", 1),
        ] {
            assert_eq!(VariantToken::verify(&secret, &altered, t0), None);
        }
        let other = VariantSecret::from_bytes(&[6; 32]).unwrap();
        assert_eq!(VariantToken::verify(&other, token.as_str(), t0), None);
        for junk in [
            "",
            ".",
            "..",
            "a:b.1.x",
            "headline:b.1800000000.",
            &"x".repeat(500),
        ] {
            assert_eq!(VariantToken::verify(&secret, junk, t0), None, "{junk:?}");
        }
        // A token the shop signed with a malformed visit is still refused.
        let bad = crate::order::Visit {
            source: "News".into(),
            visitor: "0123456789abcdef".into(),
        };
        let t = VariantToken::issue(&secret, &[], Some(&bad), t0);
        assert_eq!(VariantToken::verify(&secret, t.as_str(), t0), None);
        let none = VariantToken::issue(&secret, &[], None, t0);
        assert_eq!(
            VariantToken::verify(&secret, none.as_str(), t0),
            Some(Signed::default())
        );
    }

    #[test]
    fn variants_are_two_to_four_distinct_names() {
        assert_eq!(parse_variants("a, b").unwrap(), vec![name("a"), name("b")]);
        for bad in ["a", "a,a", "a,b,c,d,e", "A,b", "a,,b", ""] {
            assert!(parse_variants(bad).is_err(), "{bad:?}");
        }
        let t = AbTest {
            name: name("headline"),
            variants: vec![name("a"), name("b")],
            product: None,
            created_at: OffsetDateTime::UNIX_EPOCH,
            stopped_at: None,
        };
        assert!(t.matches(&[name("b"), name("a")]));
        assert!(!t.matches(&[name("a")]));
        assert!(!t.matches(&[name("a"), name("c")]));
        assert!(!t.matches(&[name("a"), name("b"), name("c")]));
    }
}
