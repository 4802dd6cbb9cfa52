//! Every page and mail a buyer can see (`kiosk preview`'s samples) in every language: no
//! message id missing from a catalog, no placeholder left unfilled, the right `<html
//! lang>`, and no English left in the Chinese ones beyond the author's words, addresses
//! and codes.

use kiosk::i18n::{Lang, MISSING_OPEN};
use kiosk_cli::samples::{self as preview, Rendered};

fn zh() -> Lang {
    Lang::parse("zh-CN").expect("a zh-CN catalog")
}

/// What a reader sees of `html`: the text between tags (styles and scripts dropped) and
/// the accessible names (`aria-label`), entities decoded.
fn visible_text(html: &str) -> String {
    let mut html = html.to_owned();
    for (open, close) in [("<style", "</style>"), ("<script", "</script>")] {
        while let Some(a) = html.find(open) {
            let Some(b) = html[a..].find(close) else {
                break;
            };
            html.replace_range(a..a + b + close.len(), " ");
        }
    }
    let mut out = String::new();
    for label in html.split("aria-label=\"").skip(1) {
        out.push_str(label.split('"').next().unwrap_or_default());
        out.push(' ');
    }
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
}

/// Text that is never translated: the author's titles and note, addresses, links,
/// order ids, file types and codes, and each language's own name in the switch.
fn without_exceptions(text: &str) -> String {
    let mut text = text
        .split_whitespace()
        .filter(|w| !w.contains("://") && !w.contains('@'))
        .collect::<Vec<_>>()
        .join(" ");
    for keep in [
        preview::SAMPLE_TITLE,
        preview::SAMPLE_NOTE,
        "Desk Wallpapers",
        preview::SAMPLE_ORDER,
        "ExampleGrantToken000000000000001",
        // The sample license's key and signed form are not words.
        preview::SAMPLE_LICENSE_KEY,
        preview::SAMPLE_SIGNED_LICENSE,
        "English",
        // The sample's files: their names and kinds are the author's.
        "book.pdf",
        "book.epub",
        "code.zip",
        "PDF",
        "EPUB",
        "ZIP",
        "USD",
        "KiB",
        "KB",
        "MB",
        "v2",
        // A discount code's name is the author's text.
        "LAUNCH",
    ] {
        text = text.replace(keep, " ");
    }
    text
}

fn parts(r: &Rendered) -> Vec<(&'static str, String)> {
    let mut parts = vec![("html", visible_text(&r.html))];
    if let Some(s) = &r.subject {
        parts.push(("subject", s.clone()));
    }
    if let Some(t) = &r.text {
        parts.push(("text", t.clone()));
    }
    parts
}

#[test]
fn every_page_and_mail_is_whole_in_every_language() {
    assert_eq!(kiosk::i18n::catalog_errors(), Vec::<String>::new());
    let en_ids = kiosk::i18n::message_ids(Lang::EN);
    let mut checked = 0;
    for lang in Lang::all() {
        assert_eq!(kiosk::i18n::message_ids(lang), en_ids, "{}", lang.tag());
        let all = preview::all(lang);
        assert!(all.len() >= 40, "{} renderings", all.len());
        for r in &all {
            assert!(
                r.html.contains(&format!("<html lang=\"{}\"", lang.tag())),
                "{} {}: <html lang>",
                lang.tag(),
                r.name
            );
            for (part, text) in parts(r).into_iter().chain([("raw", r.html.clone())]) {
                let at =
                    |what: &str| format!("{} {} ({part}): {what} in {text}", lang.tag(), r.name);
                assert!(!text.contains(MISSING_OPEN), "{}", at("a message missing"));
                assert!(
                    !text.contains("{$") && !text.contains("{ $"),
                    "{}",
                    at("a placeholder left")
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 100);

    // No English in the Chinese renderings but the exceptions.
    let english_word = |s: &str| {
        s.split(|c: char| !c.is_ascii_alphabetic())
            .find(|w| w.len() >= 2)
            .map(str::to_owned)
    };
    let en_all = preview::all(Lang::EN);
    for (r, en) in preview::all(zh()).iter().zip(&en_all) {
        assert_eq!(r.name, en.name);
        for (part, text) in parts(r) {
            let rest = without_exceptions(&text);
            assert_eq!(
                english_word(&rest),
                None,
                "zh-CN {} ({part}) has untranslated English: {rest}",
                r.name
            );
        }
        assert_ne!(visible_text(&r.html), visible_text(&en.html), "{}", r.name);
    }
}
