//! The HTML pages buyers see. Self-contained: inline CSS, no fonts, scripts or CDNs, so
//! they load fast, work with a strict CSP and look the same everywhere (390 px phones
//! to desktops). The one script is the buy page's in `kiosk.js`'s overlay
//! ([`EMBED_SCRIPT`]), allowed by its hash. Every word on them comes from the buyer's
//! language's catalog ([`kiosk::i18n`]); what the author wrote (product titles) and
//! addresses are shown as they are.
//!
//! Every page is a `maud::html!` template: each value is escaped by construction, and
//! what is written unescaped is asked for by name (`PreEscaped`: the stylesheet, the
//! overlay's script, and the trusted markup a caller of [`frame`] passes).

use kiosk::i18n::{Arg, Lang};
use kiosk::text::with_mailto;
use maud::{Markup, PreEscaped, html};

const STYLE: &str = "*{box-sizing:border-box}body{margin:0;font:16px/1.55 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;\
color:#1f2328;background:#f6f8fa}main{max-width:34rem;margin:2.5rem auto;padding:2rem 1.5rem;background:#fff;\
border:1px solid #d0d7de;border-radius:12px}h1{font-size:1.45rem;line-height:1.25;margin:0 0 1rem}p{margin:.75rem 0}\
.muted{color:#59636e;font-size:.92rem}.btn{display:inline-block;padding:.75rem 1.4rem;border:0;border-radius:8px;\
background:#1a7f37;color:#fff;font:inherit;font-weight:600;text-decoration:none;cursor:pointer}\
.field{width:100%;padding:.65rem .75rem;border:1px solid #8c959f;border-radius:8px;font:inherit}\
fieldset{border:0;padding:0;margin:.75rem 0}legend{padding:0;margin-bottom:.25rem}.choice{display:block;padding:.3rem 0}\
.price{font-size:1.3rem}:focus-visible{outline:3px solid #0969da;outline-offset:2px}\
.link{word-break:break-all;background:#f6f8fa;padding:.5rem .75rem;border-radius:6px;font-size:.9rem}\
.license-key{font:1.05rem ui-monospace,monospace;letter-spacing:.04em;user-select:all}\
.signed-license{width:100%;padding:.5rem;border:1px solid #8c959f;border-radius:6px;font:.8rem ui-monospace,monospace;word-break:break-all}\
@media (max-width:480px){main{margin:0;border:0;border-radius:0;min-height:100vh}}\
html.embed body{background:#fff}html.embed main{margin:0 auto;border:0}html.embed h1{padding-right:2.5rem}";

/// The buy page's script in the overlay: it talks to the host page only through
/// `postMessage` to the one origin the server allowed to frame it (`data-host`), and
/// listens to that origin alone: "ready" (the host then moves focus in), "resize", Esc →
/// "close", and "payment-started" when the form goes to the provider in the top window.
/// Allowed by its hash ([`crate::embed_script_hash`]), so it must stay byte-identical.
pub const EMBED_SCRIPT: &str = "(function(){var d=document,h=d.documentElement.getAttribute(\"data-host\"),p=window.parent;\
if(!h||p===window)return;function s(m){p.postMessage(m,h)}\
d.addEventListener(\"keydown\",function(e){if(e.key===\"Escape\")s({kiosk:\"close\"})});\
var f=d.querySelector(\"form\");if(f)f.addEventListener(\"submit\",function(){s({kiosk:\"payment-started\",product:f.elements.product_id.value})});\
function r(){s({kiosk:\"resize\",height:Math.ceil(d.body.getBoundingClientRect().height)})}\
if(window.ResizeObserver)new ResizeObserver(r).observe(d.body);\
window.addEventListener(\"message\",function(e){if(e.origin!==h||e.source!==p||!e.data||e.data.kiosk!==\"focus\")return;\
var i=d.getElementById(\"email\");if(i)i.focus()});s({kiosk:\"ready\"});r()})();";

/// The page frame, in `lang` (`<html lang>`). `head_extra` and `body` are trusted
/// markup, written as given (the local stand-ins' pages): the pages below build theirs
/// with [`page`].
pub fn frame(lang: Lang, title: &str, head_extra: &str, body: &str) -> String {
    html! {
        (PreEscaped("<!doctype html>"))
        html lang=(lang.tag()) {
            (head(title, PreEscaped(head_extra.to_owned())))
            body { main { (PreEscaped(body)) } }
        }
    }
    .into_string()
}

fn head(title: &str, extra: Markup) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width,initial-scale=1";
            meta name="robots" content="noindex";
            (extra)
            title { (title) }
            style { (PreEscaped(STYLE)) }
        }
    }
}

/// Whether a page refreshes itself (the confirming pages).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Refresh {
    No,
    Every5s,
}

/// The name of a way to pay (a `channel` value), in the buyer's language.
pub fn channel_label(lang: Lang, channel: &str) -> String {
    lang.t(match channel {
        "alipay" => "channel-alipay",
        "wechat" => "channel-wechat",
        _ => "channel-card",
    })
}

/// `text` as a QR code in SVG (medium error correction, a 4-module quiet zone), or
/// `None` if it is too long for one. Built from numbers alone, so nothing in `text`
/// reaches the markup.
pub fn qr_svg(text: &str) -> Option<String> {
    use qrcodegen::{QrCode, QrCodeEcc};
    let qr = QrCode::encode_text(text, QrCodeEcc::Medium).ok()?;
    let size = qr.size();
    let border = 4;
    let mut path = String::new();
    for y in 0..size {
        for x in 0..size {
            if qr.get_module(x, y) {
                path.push_str(&format!("M{},{}h1v1h-1z", x + border, y + border));
            }
        }
    }
    let dim = size + border * 2;
    Some(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {dim} {dim}\" width=\"240\" height=\"240\" shape-rendering=\"crispEdges\" role=\"img\"><rect width=\"100%\" height=\"100%\" fill=\"#fff\"/><path d=\"{path}\" fill=\"#000\"/></svg>"
    ))
}

/// A WeChat Pay order's page while it is unpaid: the QR code to scan with WeChat (also a
/// link, for a desktop with WeChat installed), what it pays for, the time left, and
/// what a buyer inside WeChat's own browser can do. It refreshes itself like
/// [`confirming`] and becomes the purchase's page once WeChat Pay says paid.
pub struct PayByQr<'a> {
    pub lang: Lang,
    pub product_title: &'a str,
    /// The amount as a buyer reads it, e.g. `¥9.00`.
    pub amount: &'a str,
    pub order_id: &'a str,
    /// WeChat Pay's `code_url`.
    pub code_url: &'a str,
    /// Whole minutes until the order expires (0: it has).
    pub minutes_left: i64,
    pub help: &'a str,
}

pub fn pay_by_qr(p: &PayByQr<'_>) -> String {
    let lang = p.lang;
    if p.minutes_left <= 0 {
        return page(
            lang,
            &lang.t("wechat-qr-title"),
            Refresh::Every5s,
            html! {
                h1 { (lang.t("wechat-qr-expired-heading")) }
                p { (lang.tr("wechat-qr-expired-body", &[("title", p.product_title.into())])) }
                p class="muted" { (lang.tr("confirming-note", &[("order", p.order_id.into())])) }
                (help_line(lang, p.help))
            },
        );
    }
    let svg = qr_svg(p.code_url).unwrap_or_default();
    page(
        lang,
        &lang.t("wechat-qr-title"),
        Refresh::Every5s,
        html! {
            h1 { (lang.t("wechat-qr-heading")) }
            p { (lang.tr("wechat-qr-body", &[("title", p.product_title.into()), ("amount", p.amount.into())])) }
            p { a id="wechat-qr" href=(p.code_url) target="_blank" rel="noopener" { (PreEscaped(svg)) } }
            p id="wechat-time-left" { (lang.tr("wechat-qr-time-left", &[("minutes", Arg::Number(p.minutes_left))])) }
            p class="muted" { (lang.t("wechat-qr-inside")) }
            p class="muted" { (lang.tr("confirming-note", &[("order", p.order_id.into())])) }
            (help_line(lang, p.help))
        },
    )
}

/// A page: its `<title>`, its `<main>`, in `lang`.
fn page(lang: Lang, title: &str, refresh: Refresh, main: Markup) -> String {
    let extra = match refresh {
        Refresh::Every5s => html! { meta http-equiv="refresh" content="5"; },
        Refresh::No => html! {},
    };
    html! {
        (PreEscaped("<!doctype html>"))
        html lang=(lang.tag()) {
            (head(title, extra))
            body { main { (main) } }
        }
    }
    .into_string()
}

/// What the hosted buy page shows, already formatted for the buyer.
pub struct BuyForm<'a> {
    pub lang: Lang,
    pub product_id: &'a str,
    pub title: &'a str,
    /// The price as a buyer reads it, e.g. `¥9.00`.
    pub price: &'a str,
    pub edition: &'a str,
    /// What the files are, e.g. `PDF` or `PDF + EPUB + ZIP`; `None`: one file of no
    /// telling type.
    pub file_kind: Option<&'a str>,
    /// The files a buyer gets, by name (listed when more than one).
    pub files: &'a [&'a str],
    /// The PDFs are stamped with the buyer's address (said before they pay).
    pub stamped: bool,
    /// Downloads of each file.
    pub downloads: u32,
    /// Where the form posts.
    pub action: &'a str,
    /// The `channel` value of each way to pay, the default first; empty: none takes
    /// this product's currency.
    pub channels: &'a [&'a str],
    /// Attribution carried into the order (`utm_*`, `referrer`), already sanitised.
    pub hidden: &'a [(&'a str, &'a str)],
    /// In `kiosk.js`'s overlay: the host page's origin (one the shop allows to frame
    /// this page). The form then opens the provider in the top window, since payment
    /// pages do not run inside frames.
    pub embed: Option<&'a str>,
    /// This page in each other language: (language, URL).
    pub other_languages: &'a [(Lang, String)],
    /// Pay what you want: the buyer's amount field.
    pub amount: Option<AmountField<'a>>,
    /// The discount code field (fixed-price products that cost something).
    pub code: Option<CodeField<'a>>,
    /// Nothing to pay: the button mails the link.
    pub free: bool,
}

/// The amount field of a pay-what-you-want product.
pub struct AmountField<'a> {
    /// Filled in: the suggested amount as typed (`12.00`).
    pub suggested: &'a str,
    /// The bounds and the suggestion as a buyer reads them (`¥5.00`).
    pub min: &'a str,
    pub max: &'a str,
    pub suggested_price: &'a str,
}

/// The discount code field: the code the buyer arrived with (`?code=`), and what it did.
pub struct CodeField<'a> {
    pub value: &'a str,
    /// The code applied: the line that says so (the page's price is already the
    /// reduced one).
    pub applied: Option<&'a str>,
    /// The code could not be used: why, in the buyer's language.
    pub problem: Option<&'a str>,
}

/// Hidden form fields.
fn hidden_fields<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> Markup {
    html! {
        @for (k, v) in pairs { input type="hidden" name=(k) value=(v); }
    }
}

/// After a free claim: where the link went (it is never shown on the page).
pub fn free_sent(lang: Lang, title: &str, email: &str) -> String {
    let heading = lang.t("free-sent-title");
    page(
        lang,
        &heading,
        Refresh::No,
        html! {
            h1 { (heading) }
            p { (lang.tr("free-sent-body", &[("title", Arg::Text(title)), ("email", Arg::Text(email))])) }
        },
    )
}

/// A free claim that did not come from the shop's own page (or whose page was left open
/// too long): nothing was mailed; one button sends the claim again with a fresh token
/// (`hidden`: the claim's fields), so only a person who sees this page can make the shop
/// mail the address.
pub fn free_confirm(
    lang: Lang,
    title: &str,
    email: &str,
    action: &str,
    hidden: &[(&str, &str)],
) -> String {
    let heading = lang.t("free-confirm-title");
    page(
        lang,
        &heading,
        Refresh::No,
        html! {
            h1 { (heading) }
            p { (lang.tr("free-confirm-body", &[("title", Arg::Text(title)), ("email", Arg::Text(email))])) }
            form method="post" action=(action) {
                (hidden_fields(hidden.iter().copied()))
                p { button class="btn" type="submit" { (lang.t("buy-button-free")) } }
            }
        },
    )
}

/// The hosted buy page: the product as stored, an email field and Buy Now, as a plain
/// form (no script), labelled for screen readers and usable by keyboard.
pub fn buy(f: &BuyForm) -> String {
    let lang = f.lang;
    let downloads = downloads_text(lang, f.downloads, f.files.len());
    let kind = f
        .file_kind
        .map(str::to_owned)
        .unwrap_or_else(|| lang.t("buy-file"));
    let about = html! {
        p { strong class="price" { (f.price) } }
        p class="muted" {
            (lang.tr("buy-about", &[
                ("edition", f.edition.into()),
                ("kind", Arg::Text(&kind)),
                ("downloads", Arg::Text(&downloads)),
            ]))
        }
        @if f.files.len() > 1 {
            p class="muted" { (lang.t("buy-includes")) }
            ul class="muted" { @for name in f.files { li { (name) } } }
        }
        @if f.stamped { p class="muted" { (lang.t("buy-stamped")) } }
        @if f.free { p { (lang.t("buy-free-note")) } }
    };
    let switch = html! {
        @if !f.other_languages.is_empty() {
            nav class="muted" aria-label=(lang.t("buy-other-language")) {
                @for (i, (other, url)) in f.other_languages.iter().enumerate() {
                    @if i > 0 { " · " }
                    a href=(url) hreflang=(other.tag()) lang=(other.tag()) { (other.t("language-name")) }
                }
            }
        }
    };
    let main = if f.channels.is_empty() {
        html! {
            h1 { (f.title) }
            (about)
            p { (lang.t("buy-unavailable")) }
            (switch)
        }
    } else {
        let label = |channel: &str| channel_label(lang, channel);
        let button = if f.free {
            lang.t("buy-button-free")
        } else if f.amount.is_some() {
            lang.t("buy-button-pwyw")
        } else {
            lang.tr("buy-button", &[("price", f.price.into())])
        };
        html! {
            h1 { (f.title) }
            (about)
            form method="post" action=(f.action) target=[f.embed.map(|_| "_top")] {
                (hidden_fields(
                    std::iter::once(("product_id", f.product_id))
                        .chain(std::iter::once(("lang", lang.tag())))
                        .chain(f.hidden.iter().copied()),
                ))
                p {
                    label for="email" { (lang.t("buy-email-label")) }
                    br;
                    input id="email" name="email" type="email" required autocomplete="email"
                        inputmode="email" aria-describedby="email-help" class="field";
                }
                p id="email-help" class="muted" { (lang.t("buy-email-help")) }
                (amount_field(lang, f.amount.as_ref()))
                (code_field(lang, f.code.as_ref()))
                @if let [value] = f.channels {
                    input type="hidden" name="channel" value=(value);
                } @else {
                    fieldset {
                        legend { (lang.t("buy-pay-with")) }
                        @for (i, value) in f.channels.iter().enumerate() {
                            label class="choice" {
                                input type="radio" name="channel" value=(value) checked[i == 0];
                                " " (label(value))
                            }
                        }
                    }
                }
                p { button class="btn" type="submit" { (button) } }
            }
            (switch)
        }
    };
    html! {
        (PreEscaped("<!doctype html>"))
        html lang=(lang.tag()) class=[f.embed.map(|_| "embed")] data-host=[f.embed] {
            (head(f.title, html! {}))
            body {
                main { (main) }
                @if f.embed.is_some() { script { (PreEscaped(EMBED_SCRIPT)) } }
            }
        }
    }
    .into_string()
}

fn amount_field(lang: Lang, a: Option<&AmountField>) -> Markup {
    let Some(a) = a else {
        return html! {};
    };
    html! {
        p {
            label for="amount" { (lang.tr("buy-amount-label", &[("min", Arg::Text(a.min))])) }
            br;
            input id="amount" name="amount" type="text" inputmode="decimal" required
                value=(a.suggested) aria-describedby="amount-help" class="field" autocomplete="off";
        }
        p id="amount-help" class="muted" {
            (lang.tr("buy-amount-help", &[
                ("suggested", Arg::Text(a.suggested_price)),
                ("max", Arg::Text(a.max)),
            ]))
        }
    }
}

fn code_field(lang: Lang, c: Option<&CodeField>) -> Markup {
    let Some(c) = c else {
        return html! {};
    };
    html! {
        p {
            label for="code" { (lang.t("buy-code-label")) }
            br;
            input id="code" name="code" type="text" value=(c.value) class="field"
                autocomplete="off" autocapitalize="characters" spellcheck="false" maxlength="32";
        }
        @match (c.applied, c.problem) {
            (_, Some(problem)) => { p id="code-note" class="error" role="alert" { (problem) } }
            (Some(applied), None) => { p id="code-note" class="muted" { (applied) } }
            (None, None) => {}
        }
    }
}

/// An error page: its title and message from the catalog.
pub fn error(lang: Lang, title_id: &str, message_id: &str) -> String {
    error_with(lang, title_id, &lang.t(message_id))
}

/// An error page whose message is already in the buyer's language.
pub fn error_with(lang: Lang, title_id: &str, message: &str) -> String {
    let title = lang.t(title_id);
    page(
        lang,
        &title,
        Refresh::No,
        html! { h1 { (title) } p { (message) } },
    )
}

pub fn redirecting(lang: Lang, location: &str) -> String {
    page(
        lang,
        &lang.t("redirecting-title"),
        Refresh::No,
        html! {
            h1 { (lang.t("redirecting-heading")) }
            p { a class="btn" href=(location) { (lang.t("redirecting-continue")) } }
        },
    )
}

/// "Questions about your order? Write to …", the address a `mailto:` link.
fn help_line(lang: Lang, help: &str) -> Markup {
    html! {
        p class="muted" { (with_mailto(&lang.tr("page-help", &[("help", help.into())]), help)) }
    }
}

pub fn paid(
    lang: Lang,
    product_title: &str,
    order_id: &str,
    download_url: &str,
    email: &str,
    help: &str,
) -> String {
    page(
        lang,
        &lang.t("paid-title"),
        Refresh::No,
        html! {
            h1 { (lang.t("paid-heading")) }
            p { strong { (product_title) } }
            p { a class="btn" href=(download_url) { (lang.t("paid-button")) } }
            p class="muted" { (lang.tr("paid-sent", &[("email", email.into())])) }
            p class="link" { (download_url) }
            p class="muted" { (lang.tr("order-number", &[("order", order_id.into())])) }
            (help_line(lang, help))
        },
    )
}

pub fn confirming(lang: Lang, product_title: &str, order_id: &str, help: &str) -> String {
    page(
        lang,
        &lang.t("confirming-title"),
        Refresh::Every5s,
        html! {
            h1 { (lang.t("confirming-heading")) }
            p { (lang.tr("confirming-body", &[("title", product_title.into())])) }
            p class="muted" { (lang.tr("confirming-note", &[("order", order_id.into())])) }
            (help_line(lang, help))
        },
    )
}

/// The confirming page when the order could not be looked at in time (the provider or
/// the store too slow for this request): it refreshes itself like [`confirming`], and the
/// next load usually finds the answer.
pub fn confirming_later(lang: Lang) -> String {
    page(
        lang,
        &lang.t("confirming-title"),
        Refresh::Every5s,
        html! {
            h1 { (lang.t("confirming-heading")) }
            p { (lang.t("confirming-later-body")) }
        },
    )
}

pub fn refunded(lang: Lang, product_title: &str, order_id: &str, help: &str) -> String {
    page(
        lang,
        &lang.t("refunded-title"),
        Refresh::No,
        html! {
            h1 { (lang.t("refunded-heading")) }
            p { (lang.tr("refunded-body", &[("title", product_title.into()), ("order", order_id.into())])) }
            (help_line(lang, help))
        },
    )
}

fn resend_form(lang: Lang) -> Markup {
    html! {
        form method="post" action="/download/resend" style="margin-top:1.5rem" {
            input type="hidden" name="lang" value=(lang.tag());
            p class="muted" { label for="resend-email" { (lang.t("resend-prompt")) } }
            p {
                input id="resend-email" type="email" name="email" required autocomplete="email"
                    placeholder="you@example.com" class="field";
            }
            p { button class="btn" type="submit" style="background:#0969da" { (lang.t("resend-button")) } }
        }
    }
}

/// "5 downloads", or with several files "5 downloads of each file".
pub fn downloads_text(lang: Lang, limit: u32, files: usize) -> String {
    let key = if files > 1 {
        "downloads-each"
    } else {
        "downloads-count"
    };
    lang.tr(key, &[("count", limit.into())])
}

/// A file's size as a buyer reads it: `840 KB`, `12.4 MB`.
pub fn size_text(bytes: u64) -> String {
    const KB: u64 = 1024;
    const MB: u64 = 1024 * 1024;
    if bytes < MB {
        format!("{} KB", bytes.div_ceil(KB).max(1))
    } else {
        format!("{:.1} MB", bytes as f64 / MB as f64)
    }
}

/// One file of a download page.
pub struct DownloadFile<'a> {
    pub name: &'a str,
    /// `None`: uploaded before sizes were recorded.
    pub size: Option<u64>,
    pub left: u32,
}

/// What a download page shows.
pub struct DownloadPage<'a> {
    pub lang: Lang,
    pub title: &'a str,
    pub edition: &'a str,
    pub files: &'a [DownloadFile<'a>],
    pub limit: u32,
    pub expires: Option<&'a str>,
    pub token: &'a str,
    /// The PDFs are stamped copies.
    pub stamped: bool,
    /// The file whose stamped copy is being made (the page reloads itself).
    pub preparing: Option<&'a str>,
    /// The purchase's license: its short key and, when signed, the signed license.
    pub license: Option<(&'a str, Option<&'a str>)>,
}

/// The page a download link opens: what it is, each file with its size, how many
/// downloads of it are left and its own button that POSTs its position (GET never spends
/// a download).
pub fn download(d: &DownloadPage<'_>) -> String {
    let lang = d.lang;
    page(
        lang,
        &lang.tr("download-title", &[("title", d.title.into())]),
        if d.preparing.is_some() {
            Refresh::Every5s
        } else {
            Refresh::No
        },
        html! {
            h1 { (d.title) }
            p class="muted" { (lang.tr("download-edition", &[("edition", d.edition.into())])) }
            @if let Some(name) = d.preparing {
                p role="status" { strong { (lang.tr("download-preparing", &[("file", name.into())])) } }
            }
            @for (i, f) in d.files.iter().enumerate() {
                div class="file" {
                    p {
                        strong { (f.name) }
                        @if let Some(n) = f.size { span class="muted" { " · " (size_text(n)) } }
                        br;
                        @if f.left > 0 {
                            (lang.tr("download-left", &[("left", f.left.into()), ("limit", d.limit.into())]))
                        } @else {
                            (lang.t("download-used-up"))
                        }
                    }
                    @if f.left > 0 {
                        form method="post" action={ "/download/" (d.token) } {
                            input type="hidden" name="file" value=(i);
                            button class="btn" type="submit" aria-label={ (lang.t("download-button")) " " (f.name) } {
                                (lang.t("download-button"))
                            }
                        }
                    }
                }
            }
            @if let Some(day) = d.expires {
                p class="muted" { (lang.tr("download-until", &[("date", day.into())])) }
            }
            @if d.files.len() > 1 {
                p class="muted" { (lang.tr("download-per-file", &[("limit", d.limit.into())])) }
            }
            @if d.stamped { p class="muted" { (lang.t("download-stamped")) } }
            @if let Some((key, signed)) = d.license {
                section class="license" aria-labelledby="license" {
                    h2 id="license" { (lang.t("license-heading")) }
                    p { (lang.t("license-key")) br; code class="license-key" { (key) } }
                    @if let Some(signed) = signed {
                        p { label for="signed-license" { (lang.t("license-signed")) } }
                        textarea id="signed-license" class="signed-license" readonly rows="4" spellcheck="false" { (signed) }
                    }
                    p class="muted" { (lang.t("license-note")) }
                }
            }
            p class="muted" { (lang.t("download-note")) }
        },
    )
}

pub fn not_found_link(lang: Lang) -> String {
    page(
        lang,
        &lang.t("link-not-found-title"),
        Refresh::No,
        html! {
            h1 { (lang.t("link-not-found-heading")) }
            p { (lang.t("link-not-found-body")) }
            (resend_form(lang))
        },
    )
}

/// 410: the link exists but cannot serve a download; says which and what to do.
pub fn gone(
    lang: Lang,
    why: kiosk::grant::Unusable,
    title: &str,
    order_id: &str,
    help: &str,
    expired_on: Option<&str>,
) -> String {
    use kiosk::grant::Unusable;
    let with_title = |id: &str| lang.tr(id, &[("title", title.into())]);
    let (heading, detail) = match why {
        Unusable::Exhausted => ("gone-exhausted-heading", with_title("gone-exhausted-body")),
        Unusable::FileExhausted => (
            "gone-file-exhausted-heading",
            with_title("gone-file-exhausted-body"),
        ),
        Unusable::Expired => (
            "gone-expired-heading",
            match expired_on {
                Some(d) => lang.tr(
                    "gone-expired-on-body",
                    &[("title", title.into()), ("date", d.into())],
                ),
                None => with_title("gone-expired-body"),
            },
        ),
        Unusable::Suspended => ("gone-suspended-heading", with_title("gone-suspended-body")),
        Unusable::Revoked => ("gone-revoked-heading", with_title("gone-revoked-body")),
    };
    let heading = lang.t(heading);
    // The address becomes a mail link inside the translated sentence.
    let help_text = lang.tr(
        "gone-help",
        &[("help", help.into()), ("order", order_id.into())],
    );
    page(
        lang,
        &heading,
        Refresh::No,
        html! {
            h1 { (heading) }
            p { (detail) }
            p { (with_mailto(&help_text, help)) }
            (resend_form(lang))
        },
    )
}

/// The same answer whether or not the address bought anything.
pub fn resend_sent(lang: Lang) -> String {
    page(
        lang,
        &lang.t("resend-sent-title"),
        Refresh::No,
        html! {
            h1 { (lang.t("resend-sent-title")) }
            p { (lang.t("resend-sent-body")) }
            p class="muted" { (lang.t("resend-sent-note")) }
        },
    )
}
