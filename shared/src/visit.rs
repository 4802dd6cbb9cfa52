//! Who a page view is, privately: what the visitor funnel and the A/B tests know of a
//! visitor, and nothing more.
//!
//! - A visitor is counted once a day by a keyed hash of (network, user agent, site) under
//!   that day's salt ([`DailySalt`]): random, kept for the day, deleted after it, so
//!   yesterday's visitors cannot be told apart again, not even by whoever holds the table.
//!   No cookie, no storage in the browser.
//! - A variant of an A/B test is chosen by a keyed hash of (network, user agent, test)
//!   under a stable secret ([`VariantSecret`]), so the same device on the same network
//!   sees the same variant every visit, and checkout (seeing the same request) records the
//!   same variant on the order. Only the variant is ever stored, never the hash.
//! - `Sec-GPC: 1` or `DNT: 1`: the view is counted, but nothing derived from the network
//!   or the agent is kept (no visitor id, so no unique-visitor count for it).
//! - Known bots are not counted at all.

use aws_lc_rs::hmac;

use crate::net::{Network, NetworkTag};

/// A name an author gives a test or a variant in their page (`data-kiosk-test`,
/// `data-kiosk-variant`): lowercase letters, digits and `-`, 1–32 long.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Name(String);

impl Name {
    pub fn parse(s: &str) -> Option<Name> {
        let ok = (1..=32).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        ok.then(|| Name(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A 32-byte secret.
#[derive(Clone, PartialEq, Eq)]
struct Key([u8; 32]);

impl Key {
    fn generate() -> Option<Key> {
        let mut k = [0u8; 32];
        aws_lc_rs::rand::fill(&mut k).ok()?;
        Some(Key(k))
    }

    fn from_bytes(b: &[u8]) -> Option<Key> {
        Some(Key(b.try_into().ok()?))
    }

    /// HMAC-SHA256 of the parts, each length-prefixed so no two lists hash alike.
    fn mac(&self, parts: &[&str]) -> hmac::Tag {
        let key = hmac::Key::new(hmac::HMAC_SHA256, &self.0);
        let mut ctx = hmac::Context::with_key(&key);
        for p in parts {
            ctx.update(&(p.len() as u64).to_be_bytes());
            ctx.update(p.as_bytes());
        }
        ctx.sign()
    }
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(…)")
    }
}

/// One UTC day's salt for visitor ids; its item is deleted when the day is over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailySalt(Key);

impl DailySalt {
    pub fn generate() -> Option<DailySalt> {
        Key::generate().map(DailySalt)
    }

    pub fn from_bytes(b: &[u8]) -> Option<DailySalt> {
        Key::from_bytes(b).map(DailySalt)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0.0
    }

    /// The visitor's id for this day on `site` (32 hex digits): the same for every view
    /// that day from one agent on one network, unrelated to any other day's.
    pub fn visitor(&self, network: &Network, user_agent: &str, site: &str) -> VisitorId {
        let tag = self.0.mac(&[network.as_str(), user_agent, site]);
        VisitorId(
            tag.as_ref()[..16]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
        )
    }
}

impl DailySalt {
    /// The network under this day's salt (`h:` and 32 hex digits): what every
    /// per-network counter (checkouts, free claims, code lookups, "email me my links",
    /// beacons) is keyed by, so no address is stored, and no one can tell which network
    /// it was once the day's salt is gone.
    pub fn network(&self, network: &Network) -> NetworkTag {
        let tag = self.0.mac(&["throttle", network.as_str()]);
        let hex: String = tag.as_ref()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        NetworkTag::new(hex)
    }
}

/// A visitor for one day (see [`DailySalt::visitor`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VisitorId(String);

impl VisitorId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The stable secret variants are chosen under (an SSM parameter, like the providers'
/// keys).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariantSecret(Key);

impl VariantSecret {
    pub fn generate() -> Option<VariantSecret> {
        Key::generate().map(VariantSecret)
    }

    pub fn from_bytes(b: &[u8]) -> Option<VariantSecret> {
        Key::from_bytes(b).map(VariantSecret)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0.0
    }

    /// HMAC-SHA256 of `parts` under this secret, for the shop's other short-lived proofs
    /// ([`crate::claim`]); the first part names the use, so no two uses' tags can stand
    /// in for each other or for a variant.
    pub(crate) fn tag(&self, parts: &[&str]) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(self.0.mac(parts).as_ref());
        out
    }

    /// The visitor as an order may record it (16 hex digits): keyed under this secret,
    /// so it says nothing of the network or agent, and changes with the day's visitor id.
    pub fn visitor_key(&self, visitor: &VisitorId) -> String {
        self.tag(&["visitor", visitor.as_str()])[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// The variant of `test` this visitor sees: one of `variants` (in the page's order),
    /// the same on every visit from the same agent and network; independent between
    /// tests. `None` without variants.
    pub fn variant<'a>(
        &self,
        network: &Network,
        user_agent: &str,
        test: &Name,
        variants: &'a [Name],
    ) -> Option<&'a Name> {
        if variants.is_empty() {
            return None;
        }
        let tag = self.0.mac(&[network.as_str(), user_agent, test.as_str()]);
        let mut first = [0u8; 8];
        first.copy_from_slice(&tag.as_ref()[..8]);
        // 64 bits modulo a handful of variants: the bias is below 1e-17.
        let i = u64::from_be_bytes(first) % variants.len() as u64;
        variants.get(usize::try_from(i).ok()?)
    }
}

/// A page's tests as `kiosk.js` passes them to the buy page and checkout
/// (`headline:a.b,price-box:x.y`): malformed parts are dropped, at most 5 tests of at most
/// 4 variants.
pub fn parse_tests(s: &str) -> Vec<(Name, Vec<Name>)> {
    s.split(',')
        .filter_map(|part| {
            let (test, variants) = part.split_once(':')?;
            let test = Name::parse(test.trim())?;
            let variants: Vec<Name> = variants
                .split('.')
                .map(|v| Name::parse(v.trim()))
                .collect::<Option<Vec<_>>>()?;
            (!variants.is_empty() && variants.len() <= 4).then_some((test, variants))
        })
        .take(5)
        .collect()
}

/// [`parse_tests`]'s form.
pub fn format_tests(tests: &[(Name, Vec<Name>)]) -> String {
    tests
        .iter()
        .map(|(t, vs)| {
            let vs: Vec<&str> = vs.iter().map(Name::as_str).collect();
            format!("{t}:{}", vs.join("."))
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Agents that announce themselves as robots, crawlers, previews or HTTP libraries.
const BOTS: &[&str] = &[
    "bot",
    "crawl",
    "spider",
    "slurp",
    "headlesschrome",
    "phantomjs",
    "lighthouse",
    "preview",
    "facebookexternalhit",
    "curl/",
    "wget/",
    "python-requests",
    "python-urllib",
    "go-http-client",
    "java/",
    "okhttp",
    "axios/",
    "node-fetch",
    "libwww",
    "httpclient",
];

/// Is this a known robot (or no browser at all)? Robots are not counted.
pub fn is_bot(user_agent: Option<&str>) -> bool {
    let Some(ua) = user_agent.map(str::trim).filter(|u| !u.is_empty()) else {
        return true;
    };
    let ua = ua.to_ascii_lowercase();
    !ua.starts_with("mozilla/") || BOTS.iter().any(|b| ua.contains(b))
}

/// Did the visitor ask not to be tracked (`Sec-GPC: 1`, `DNT: 1`)? Then nothing derived
/// from their network or agent is kept.
pub fn opted_out(sec_gpc: Option<&str>, dnt: Option<&str>) -> bool {
    sec_gpc.is_some_and(|v| v.trim() == "1") || dnt.is_some_and(|v| v.trim() == "1")
}

#[cfg(test)]
mod tests {
    use super::*;

    const UA: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126 Safari/537.36";

    fn net(ip: &str) -> Network {
        Network::of(Some(ip))
    }

    fn names(v: &[&str]) -> Vec<Name> {
        v.iter().map(|s| Name::parse(s).unwrap()).collect()
    }

    #[test]
    fn a_visitor_is_the_same_all_day_and_unrelated_the_next() {
        let today = DailySalt::generate().unwrap();
        let tomorrow = DailySalt::generate().unwrap();
        let v = today.visitor(&net("192.0.2.1"), UA, "books.example.com");
        assert_eq!(v.as_str().len(), 32);
        assert_eq!(v, today.visitor(&net("192.0.2.1"), UA, "books.example.com"));
        assert_ne!(v, today.visitor(&net("192.0.2.2"), UA, "books.example.com"));
        assert_ne!(
            v,
            today.visitor(&net("192.0.2.1"), "Mozilla/5.0 other", "books.example.com")
        );
        assert_ne!(v, today.visitor(&net("192.0.2.1"), UA, "other.example.com"));
        assert_ne!(
            v,
            tomorrow.visitor(&net("192.0.2.1"), UA, "books.example.com")
        );
        // Parts cannot slide into each other.
        let s = DailySalt::from_bytes(&[7; 32]).unwrap();
        assert_ne!(
            s.visitor(&net("192.0.2.1"), "ab", "c"),
            s.visitor(&net("192.0.2.1"), "a", "bc")
        );
        assert!(DailySalt::from_bytes(&[1; 31]).is_none());
        // The throttle's name for a network: stable for the day, no address in it.
        let n = today.network(&net("192.0.2.1"));
        assert_eq!(n, today.network(&net("192.0.2.1")));
        assert_ne!(n, tomorrow.network(&net("192.0.2.1")));
        assert_ne!(n, today.network(&net("192.0.2.2")));
        // `h:` and 32 hex digits: never the address (a hex digest may well hold "192" by
        // chance, never a dot).
        let hex = n.as_str().strip_prefix("h:").unwrap();
        assert!(
            hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()),
            "{n:?}"
        );
        assert_eq!(format!("{today:?}"), "DailySalt(Key(…))");
    }

    #[test]
    fn variants_are_stable_spread_and_independent_between_tests() {
        let secret = VariantSecret::from_bytes(&[42; 32]).unwrap();
        let ab = names(&["a", "b"]);
        let headline = Name::parse("headline").unwrap();
        let price = Name::parse("price-box").unwrap();
        let mut seen = std::collections::BTreeMap::new();
        let mut differ = 0;
        for i in 0..400 {
            let n = net(&format!("198.51.100.{}", i % 250));
            let ua = format!("Mozilla/5.0 visitor {i}");
            let v = secret.variant(&n, &ua, &headline, &ab).unwrap();
            assert_eq!(Some(v), secret.variant(&n, &ua, &headline, &ab), "stable");
            *seen.entry(v.as_str()).or_insert(0) += 1;
            if secret.variant(&n, &ua, &price, &ab) != Some(v) {
                differ += 1;
            }
        }
        // About half each way, and the two tests do not move together.
        assert!(seen.values().all(|&c| (140..=260).contains(&c)), "{seen:?}");
        assert!((120..=280).contains(&differ), "{differ}");
        assert_eq!(secret.variant(&net("192.0.2.1"), UA, &headline, &[]), None);
    }

    #[test]
    fn tests_round_trip_and_junk_is_dropped() {
        let t = parse_tests("headline:a.b,price-box:x.y.z");
        assert_eq!(format_tests(&t), "headline:a.b,price-box:x.y.z");
        assert_eq!(
            format_tests(&parse_tests("Bad:a,ok:,x:a.b.c.d.e,y:q,<s>:a")),
            "y:q"
        );
        assert!(parse_tests("").is_empty());
    }

    #[test]
    fn bots_and_opt_outs() {
        assert!(!is_bot(Some(UA)));
        for bot in [
            None,
            Some(""),
            Some("Googlebot/2.1 (+http://www.google.com/bot.html)"),
            Some("Mozilla/5.0 (compatible; bingbot/2.0)"),
            Some("Mozilla/5.0 HeadlessChrome/126"),
            Some("curl/8.5.0"),
            Some("python-requests/2.31"),
            Some("facebookexternalhit/1.1"),
        ] {
            assert!(is_bot(bot), "{bot:?}");
        }
        assert!(opted_out(Some("1"), None));
        assert!(opted_out(None, Some(" 1")));
        assert!(!opted_out(Some("0"), Some("0")));
        assert!(!opted_out(None, None));
        for bad in ["", "A", "a b", "ä", &"x".repeat(33)] {
            assert!(Name::parse(bad).is_none(), "{bad:?}");
        }
    }
}
