//! The buyer's language: the message catalogs every buyer-facing page and mail is
//! written from (Fluent, one `shared/locales/LANG.ftl` per language, compiled in by
//! `build.rs`), choosing a language for a buyer, and the formats each language expects
//! (prices, dates and the time zone they are given in). Product titles and other text the
//! author wrote are never translated. The author's side (CLI, logs, alarms) stays English.
//!
//! Choosing: an explicit `lang=` (a link, the buy page's switch) wins, then the buyer's
//! `Accept-Language` with its quality values, then the shop's `DEFAULT_LANGUAGE`. A tag
//! matches a catalog exactly (case aside) or by its primary language (`zh-TW`, `zh-Hans`
//! → `zh-CN`; `en-GB` → `en`): a reader of Traditional Chinese reads the Simplified
//! catalog better than the English one.

use std::sync::OnceLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use time::OffsetDateTime;

use crate::money::Money;

include!(concat!(env!("OUT_DIR"), "/catalogs.rs"));

/// What a message id that no catalog has renders as, so a test (and a reader) sees it.
pub const MISSING_OPEN: char = '⟦';

/// A language with a catalog: its tag, as the catalog file is named (`en`, `zh-CN`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Lang(&'static str);

/// A value for a message's placeholder.
#[derive(Debug, Clone, Copy)]
pub enum Arg<'a> {
    Text(&'a str),
    Number(i64),
}

impl<'a> From<&'a str> for Arg<'a> {
    fn from(s: &'a str) -> Self {
        Arg::Text(s)
    }
}

impl<'a> From<&'a String> for Arg<'a> {
    fn from(s: &'a String) -> Self {
        Arg::Text(s)
    }
}

impl From<u32> for Arg<'_> {
    fn from(n: u32) -> Self {
        Arg::Number(n.into())
    }
}

impl From<usize> for Arg<'_> {
    fn from(n: usize) -> Self {
        Arg::Number(i64::try_from(n).unwrap_or(i64::MAX))
    }
}

struct Catalog {
    tag: &'static str,
    bundle: FluentBundle<FluentResource>,
    /// What the catalog's text could not be read as (a test keeps this empty).
    errors: Vec<String>,
}

fn catalogs() -> &'static [Catalog] {
    static LOADED: OnceLock<Vec<Catalog>> = OnceLock::new();
    LOADED.get_or_init(|| {
        CATALOGS
            .iter()
            .map(|(tag, text)| {
                let mut errors = Vec::new();
                let resource = FluentResource::try_new((*text).to_owned()).unwrap_or_else(
                    |(partial, errs)| {
                        errors.extend(errs.iter().map(|e| format!("{tag}.ftl: {e:?}")));
                        partial
                    },
                );
                let id = tag.parse().unwrap_or_default();
                let mut bundle = FluentBundle::new_concurrent(vec![id]);
                // Pages and mails are not bidirectional text; the isolation marks Fluent
                // puts around placeables would end up inside URLs and addresses.
                bundle.set_use_isolating(false);
                if let Err(errs) = bundle.add_resource(resource) {
                    errors.extend(errs.iter().map(|e| format!("{tag}.ftl: {e:?}")));
                }
                Catalog {
                    tag,
                    bundle,
                    errors,
                }
            })
            .collect()
    })
}

/// Problems reading the catalogs (syntax errors, messages defined twice); empty when
/// they are sound.
pub fn catalog_errors() -> Vec<String> {
    catalogs().iter().flat_map(|c| c.errors.clone()).collect()
}

/// Every message id a catalog defines.
pub fn message_ids(lang: Lang) -> Vec<String> {
    let Some(c) = catalogs().iter().find(|c| c.tag == lang.0) else {
        return Vec::new();
    };
    let mut ids: Vec<String> = CATALOGS
        .iter()
        .find(|(tag, _)| *tag == c.tag)
        .map(|(_, text)| {
            text.lines()
                .filter_map(|line| {
                    let (id, _) = line.split_once('=')?;
                    let id = id.trim_end();
                    let ok = id.starts_with(|ch: char| ch.is_ascii_alphabetic())
                        && id
                            .chars()
                            .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_');
                    ok.then(|| id.to_owned())
                })
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids.dedup();
    ids
}

impl Lang {
    pub const EN: Lang = Lang("en");

    /// Every language with a catalog, in tag order.
    pub fn all() -> impl Iterator<Item = Lang> {
        CATALOGS.iter().map(|(tag, _)| Lang(tag))
    }

    pub fn tag(self) -> &'static str {
        self.0
    }

    /// The catalog for `tag`: the same tag (case aside), else the first catalog of the
    /// same primary language.
    pub fn parse(tag: &str) -> Option<Lang> {
        let tag = tag.trim();
        if tag.is_empty() || tag.len() > 35 {
            return None;
        }
        if let Some(l) = Lang::all().find(|l| l.0.eq_ignore_ascii_case(tag)) {
            return Some(l);
        }
        let primary = tag.split(['-', '_']).next()?;
        Lang::all().find(|l| {
            l.0.split('-')
                .next()
                .is_some_and(|p| p.eq_ignore_ascii_case(primary))
        })
    }

    /// The best language with a catalog for an `Accept-Language` header: highest
    /// quality first (equal ones in the order given); `q=0` means "not this one"; `*`
    /// and unknown tags match nothing.
    pub fn negotiate(accept_language: &str) -> Option<Lang> {
        let mut ranked: Vec<(u16, usize, &str)> = accept_language
            .split(',')
            .enumerate()
            .filter_map(|(i, item)| {
                let mut parts = item.split(';');
                let tag = parts.next()?.trim();
                let mut q = 1000u16;
                for p in parts {
                    if let Some(v) = p
                        .trim()
                        .strip_prefix("q=")
                        .or_else(|| p.trim().strip_prefix("Q="))
                    {
                        q = parse_quality(v)?;
                    }
                }
                (q > 0 && !tag.is_empty() && tag != "*").then_some((q, i, tag))
            })
            .collect();
        ranked.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        ranked.into_iter().find_map(|(_, _, tag)| Lang::parse(tag))
    }

    /// The language of every page and mail about a purchase: the one the buyer chose at
    /// checkout (recorded on the order and its grants), else the shop's default
    /// (`DefaultLanguage`). The one fallback: purchase and new-edition mails, the
    /// author's resend, the return and download pages all use it.
    pub fn of_purchase(recorded: Option<Lang>, shop_default: Lang) -> Lang {
        recorded.unwrap_or(shop_default)
    }

    /// A buyer's language: `explicit` (`lang=`) if it names a catalog, else the best
    /// for `accept_language`, else `default`.
    pub fn choose(explicit: Option<&str>, accept_language: Option<&str>, default: Lang) -> Lang {
        explicit
            .and_then(Lang::parse)
            .or_else(|| accept_language.and_then(Lang::negotiate))
            .unwrap_or(default)
    }

    /// The message `id` without placeholders.
    pub fn t(self, id: &str) -> String {
        self.tr(id, &[])
    }

    /// The message `id` with its placeholders filled. A message this language lacks
    /// comes from English (and is logged); one no catalog has renders as `⟦id⟧`.
    pub fn tr(self, id: &str, args: &[(&str, Arg)]) -> String {
        let mut fluent_args = FluentArgs::new();
        for (name, value) in args {
            match value {
                Arg::Text(s) => fluent_args.set(*name, FluentValue::from(*s)),
                Arg::Number(n) => fluent_args.set(*name, FluentValue::from(*n)),
            }
        }
        let all = catalogs();
        let lookup = |tag: &str| {
            let c = all.iter().find(|c| c.tag == tag)?;
            let pattern = c.bundle.get_message(id)?.value()?;
            let mut errors = Vec::new();
            let text = c
                .bundle
                .format_pattern(pattern, Some(&fluent_args), &mut errors)
                .into_owned();
            if !errors.is_empty() {
                tracing::error!(lang = tag, id, errors = ?errors, "message formatted with errors");
            }
            Some(text)
        };
        if let Some(text) = lookup(self.0) {
            return text;
        }
        tracing::error!(lang = self.0, id, "message missing from the catalog");
        lookup(Lang::EN.0).unwrap_or_else(|| format!("{MISSING_OPEN}{id}⟧"))
    }

    /// A price as this language's buyers read it (`¥9.00`; `US$19.00` in Chinese): the
    /// catalog's `price-CUR` message around the exact amount.
    pub fn price(self, m: Money) -> String {
        let amount = m.to_decimal();
        self.tr(
            &format!("price-{}", m.currency().code()),
            &[("amount", Arg::Text(&amount))],
        )
    }

    /// The minutes east of UTC this language's dates are given in (the catalog's
    /// `time-zone-offset-minutes`: 0 for English, 480, Beijing time, for Chinese).
    fn offset(self) -> time::UtcOffset {
        let minutes: i32 = self
            .t("time-zone-offset-minutes")
            .trim()
            .parse()
            .unwrap_or(0);
        time::UtcOffset::from_whole_seconds(minutes.clamp(-1439, 1439) * 60)
            .unwrap_or(time::UtcOffset::UTC)
    }

    /// A date and time in this language's form and time zone, the zone named
    /// (`28 November 2026, 21:05 UTC`; `2026年11月29日 05:05（北京时间）`).
    pub fn datetime(self, t: OffsetDateTime) -> String {
        let t = t.to_offset(self.offset());
        let minute = format!("{:02}", t.minute());
        let hour = format!("{:02}", t.hour());
        let month_name = self.t(&format!("month-{}", u8::from(t.month())));
        self.tr(
            "datetime",
            &[
                ("year", Arg::Number(t.year().into())),
                ("month", Arg::Number(u8::from(t.month()).into())),
                ("month_name", Arg::Text(&month_name)),
                ("day", Arg::Number(t.day().into())),
                ("hour", Arg::Text(&hour)),
                ("minute", Arg::Text(&minute)),
            ],
        )
    }
}

/// An `Accept-Language` quality (`0`–`1`, up to three decimals) in thousandths.
fn parse_quality(v: &str) -> Option<u16> {
    let v = v.trim();
    let (int, frac) = v.split_once('.').unwrap_or((v, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole: u16 = match int {
        "0" => 0,
        "1" => 1,
        _ => return None,
    };
    let frac: u16 = format!("{frac:0<3}").parse().ok()?;
    let q = whole * 1000 + frac;
    (q <= 1000).then_some(q)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zh() -> Lang {
        Lang::parse("zh-CN").expect("a zh-CN catalog")
    }

    #[test]
    fn catalogs_are_sound_and_have_the_same_messages() {
        assert_eq!(catalog_errors(), Vec::<String>::new());
        let en = message_ids(Lang::EN);
        assert!(en.len() > 40, "{en:?}");
        for lang in Lang::all() {
            assert_eq!(
                message_ids(lang),
                en,
                "{} has other message ids",
                lang.tag()
            );
        }
    }

    #[test]
    fn tags_match_exactly_or_by_primary_language() {
        assert_eq!(Lang::parse("EN"), Some(Lang::EN));
        assert_eq!(Lang::parse("en-GB"), Some(Lang::EN));
        assert_eq!(Lang::parse("zh-cn"), Some(zh()));
        assert_eq!(Lang::parse("zh-Hans-CN"), Some(zh()));
        assert_eq!(Lang::parse("zh_TW"), Some(zh()));
        for bad in ["", "fr", "x", "*", "english", &"a".repeat(40)] {
            assert_eq!(Lang::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn accept_language_honours_quality_values() {
        assert_eq!(Lang::negotiate("zh-CN,zh;q=0.9,en;q=0.8"), Some(zh()));
        assert_eq!(
            Lang::negotiate("en-US,en;q=0.9,zh-CN;q=0.8"),
            Some(Lang::EN)
        );
        assert_eq!(Lang::negotiate("fr;q=1, zh;q=0.5, en;q=0.4"), Some(zh()));
        assert_eq!(Lang::negotiate("en;q=0.2, zh-TW;q=0.7"), Some(zh()));
        assert_eq!(Lang::negotiate("zh;q=0, en;q=0.1"), Some(Lang::EN));
        assert_eq!(
            Lang::negotiate("en;q=0.3, zh;q=0.30"),
            Some(Lang::EN),
            "ties keep order"
        );
        for none in [
            "",
            "*",
            "fr, de;q=0.5",
            "zh;q=2",
            "zh;q=0.1234",
            "zh;q=x",
            "zh;q=0",
        ] {
            assert_eq!(Lang::negotiate(none), None, "{none}");
        }
        assert_eq!(Lang::choose(Some("en"), Some("zh-CN"), zh()), Lang::EN);
        assert_eq!(Lang::choose(Some("fr"), Some("zh-CN"), Lang::EN), zh());
        assert_eq!(Lang::choose(None, Some("fr"), zh()), zh());
        assert_eq!(Lang::choose(None, None, Lang::EN), Lang::EN);
    }

    #[test]
    fn plurals_and_placeholders_come_from_the_catalog() {
        let left = |lang: Lang, n: u32| lang.tr("downloads-count", &[("count", n.into())]);
        assert_eq!(left(Lang::EN, 1), "1 download");
        assert_eq!(left(Lang::EN, 5), "5 downloads");
        assert_eq!(left(zh(), 1), "1 次下载");
        assert_eq!(left(zh(), 5), "5 次下载");
        assert!(Lang::EN.t("no-such-message").starts_with(MISSING_OPEN));
    }

    #[test]
    fn prices_and_dates_per_language() {
        use crate::money::Currency;
        let cny = Money::parse_decimal("9.00", Currency::Cny).unwrap();
        let usd = Money::parse_decimal("19.00", Currency::Usd).unwrap();
        assert_eq!(Lang::EN.price(cny), "¥9.00");
        assert_eq!(Lang::EN.price(usd), "$19.00");
        assert_eq!(zh().price(cny), "¥9.00");
        assert_eq!(zh().price(usd), "US$19.00");
        let t = time::macros::datetime!(2026-11-28 21:05 UTC);
        assert_eq!(Lang::EN.datetime(t), "28 November 2026, 21:05 UTC");
        assert_eq!(zh().datetime(t), "2026年11月29日 05:05（北京时间）");
    }
}
