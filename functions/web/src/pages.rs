//! The HTML pages buyers see. Self-contained: inline CSS, no fonts, scripts or CDNs, so
//! they load fast, work with a strict CSP and look the same everywhere (390 px phones
//! to desktops). The one script is the buy page's in `kiosk.js`'s overlay
//! ([`EMBED_SCRIPT`]), allowed by its hash. Every word on them comes from the buyer's
//! language's catalog ([`kiosk::i18n`]); what the author wrote (product titles) and
//! addresses are shown as they are.

use kiosk::i18n::{Arg, Lang};
use kiosk::text::html_escape as e;

const STYLE: &str = "*{box-sizing:border-box}body{margin:0;font:16px/1.55 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;\
color:#1f2328;background:#f6f8fa}main{max-width:34rem;margin:2.5rem auto;padding:2rem 1.5rem;background:#fff;\
border:1px solid #d0d7de;border-radius:12px}h1{font-size:1.45rem;line-height:1.25;margin:0 0 1rem}p{margin:.75rem 0}\
.muted{color:#59636e;font-size:.92rem}.btn{display:inline-block;padding:.75rem 1.4rem;border:0;border-radius:8px;\
background:#1a7f37;color:#fff;font:inherit;font-weight:600;text-decoration:none;cursor:pointer}\
.field{width:100%;padding:.65rem .75rem;border:1px solid #8c959f;border-radius:8px;font:inherit}\
fieldset{border:0;padding:0;margin:.75rem 0}legend{padding:0;margin-bottom:.25rem}.choice{display:block;padding:.3rem 0}\
.price{font-size:1.3rem}:focus-visible{outline:3px solid #0969da;outline-offset:2px}\
.link{word-break:break-all;background:#f6f8fa;padding:.5rem .75rem;border-radius:6px;font-size:.9rem}\
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

/// The page frame, in `lang` (`<html lang>`). `head_extra` is trusted markup (e.g. a
/// refresh meta tag).
pub fn frame(lang: Lang, title: &str, head_extra: &str, body: &str) -> String {
    framed(lang, "", title, head_extra, body, "")
}

/// [`frame`] with trusted attributes for `<html>` and markup after `<main>`.
fn framed(
    lang: Lang,
    html_attrs: &str,
    title: &str,
    head_extra: &str,
    body: &str,
    tail: &str,
) -> String {
    format!(
        "<!doctype html><html lang=\"{tag}\"{html_attrs}><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex\">{head_extra}<title>{title}</title><style>{STYLE}</style></head>\
         <body><main>{body}</main>{tail}</body></html>",
        tag = lang.tag(),
        title = e(title),
    )
}

/// A message of `lang`'s catalog, escaped for HTML.
fn t(lang: Lang, id: &str) -> String {
    e(&lang.t(id))
}

/// A message with placeholders, escaped for HTML.
fn tr(lang: Lang, id: &str, args: &[(&str, Arg)]) -> String {
    e(&lang.tr(id, args))
}

/// What the hosted buy page shows, already formatted for the buyer.
pub struct BuyForm<'a> {
    pub lang: Lang,
    pub product_id: &'a str,
    pub title: &'a str,
    /// The price as a buyer reads it, e.g. `¥9.00`.
    pub price: &'a str,
    pub edition: &'a str,
    /// What the file is, e.g. `PDF`; `None`: a file of no telling type.
    pub file_kind: Option<&'a str>,
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

/// Hidden form fields, escaped.
fn hidden_fields<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    pairs
        .map(|(k, v)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                e(k),
                e(v)
            )
        })
        .collect()
}

/// After a free claim: where the link went (it is never shown on the page).
pub fn free_sent(lang: Lang, title: &str, email: &str) -> String {
    let heading = lang.t("free-sent-title");
    frame(
        lang,
        &heading,
        "",
        &format!(
            "<h1>{}</h1><p>{}</p>",
            e(&heading),
            tr(
                lang,
                "free-sent-body",
                &[("title", Arg::Text(title)), ("email", Arg::Text(email))]
            )
        ),
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
    let fields = hidden_fields(hidden.iter().copied());
    frame(
        lang,
        &heading,
        "",
        &format!(
            "<h1>{}</h1><p>{}</p><form method=\"post\" action=\"{}\">{fields}\
             <p><button class=\"btn\" type=\"submit\">{}</button></p></form>",
            e(&heading),
            tr(
                lang,
                "free-confirm-body",
                &[("title", Arg::Text(title)), ("email", Arg::Text(email))]
            ),
            e(action),
            t(lang, "buy-button-free"),
        ),
    )
}

/// The hosted buy page: the product as stored, an email field and Buy Now, as a plain
/// form (no script), labelled for screen readers and usable by keyboard.
pub fn buy(f: &BuyForm) -> String {
    let lang = f.lang;
    let downloads = lang.tr("downloads-count", &[("count", f.downloads.into())]);
    let kind = f
        .file_kind
        .map(str::to_owned)
        .unwrap_or_else(|| lang.t("buy-file"));
    let about = format!(
        "<p><strong class=\"price\">{price}</strong></p><p class=\"muted\">{about}</p>",
        price = e(f.price),
        about = tr(
            lang,
            "buy-about",
            &[
                ("edition", f.edition.into()),
                ("kind", Arg::Text(&kind)),
                ("downloads", Arg::Text(&downloads)),
            ]
        ),
    );
    let about = if f.free {
        format!("{about}<p>{}</p>", t(lang, "buy-free-note"))
    } else {
        about
    };
    let switch = if f.other_languages.is_empty() {
        String::new()
    } else {
        let links: Vec<String> = f
            .other_languages
            .iter()
            .map(|(other, url)| {
                format!(
                    "<a href=\"{url}\" hreflang=\"{tag}\" lang=\"{tag}\">{name}</a>",
                    url = e(url),
                    tag = other.tag(),
                    name = t(*other, "language-name"),
                )
            })
            .collect();
        format!(
            "<nav class=\"muted\" aria-label=\"{label}\">{links}</nav>",
            label = t(lang, "buy-other-language"),
            links = links.join(" · ")
        )
    };
    let (html_attrs, tail, target) = match f.embed {
        Some(host) => (
            format!(" class=\"embed\" data-host=\"{}\"", e(host)),
            format!("<script>{EMBED_SCRIPT}</script>"),
            " target=\"_top\"",
        ),
        None => (String::new(), String::new(), ""),
    };
    if f.channels.is_empty() {
        return framed(
            lang,
            &html_attrs,
            f.title,
            "",
            &format!(
                "<h1>{}</h1>{about}<p>{}</p>{switch}",
                e(f.title),
                t(lang, "buy-unavailable")
            ),
            &tail,
        );
    }
    let hidden = hidden_fields(
        std::iter::once(("product_id", f.product_id))
            .chain(std::iter::once(("lang", lang.tag())))
            .chain(f.hidden.iter().copied()),
    );
    let label = |channel: &str| match channel {
        "alipay" => t(lang, "channel-alipay"),
        _ => t(lang, "channel-card"),
    };
    let pay = if let [value] = f.channels {
        format!(
            "<input type=\"hidden\" name=\"channel\" value=\"{}\">",
            e(value)
        )
    } else {
        let options: String = f
            .channels
            .iter()
            .enumerate()
            .map(|(i, value)| {
                format!(
                    "<label class=\"choice\"><input type=\"radio\" name=\"channel\" value=\"{v}\"{checked}> {l}</label>",
                    v = e(value),
                    l = label(value),
                    checked = if i == 0 { " checked" } else { "" },
                )
            })
            .collect();
        format!(
            "<fieldset><legend>{}</legend>{options}</fieldset>",
            t(lang, "buy-pay-with")
        )
    };
    framed(
        lang,
        &html_attrs,
        f.title,
        "",
        &format!(
            "<h1>{title}</h1>{about}\
             <form method=\"post\" action=\"{action}\"{target}>{hidden}\
             <p><label for=\"email\">{email_label}</label><br>\
             <input id=\"email\" name=\"email\" type=\"email\" required autocomplete=\"email\" \
             inputmode=\"email\" aria-describedby=\"email-help\" class=\"field\"></p>\
             <p id=\"email-help\" class=\"muted\">{email_help}</p>\
             {amount}{code}{pay}<p><button class=\"btn\" type=\"submit\">{button}</button></p></form>{switch}",
            title = e(f.title),
            action = e(f.action),
            email_label = t(lang, "buy-email-label"),
            email_help = t(lang, "buy-email-help"),
            amount = amount_field(lang, f.amount.as_ref()),
            code = code_field(lang, f.code.as_ref()),
            button = if f.free {
                t(lang, "buy-button-free")
            } else if f.amount.is_some() {
                t(lang, "buy-button-pwyw")
            } else {
                tr(lang, "buy-button", &[("price", f.price.into())])
            },
        ),
        &tail,
    )
}

fn amount_field(lang: Lang, a: Option<&AmountField>) -> String {
    let Some(a) = a else {
        return String::new();
    };
    format!(
        "<p><label for=\"amount\">{label}</label><br>\
         <input id=\"amount\" name=\"amount\" type=\"text\" inputmode=\"decimal\" required \
         value=\"{value}\" aria-describedby=\"amount-help\" class=\"field\" autocomplete=\"off\"></p>\
         <p id=\"amount-help\" class=\"muted\">{help}</p>",
        label = tr(lang, "buy-amount-label", &[("min", Arg::Text(a.min))]),
        value = e(a.suggested),
        help = tr(
            lang,
            "buy-amount-help",
            &[
                ("suggested", Arg::Text(a.suggested_price)),
                ("max", Arg::Text(a.max))
            ]
        ),
    )
}

fn code_field(lang: Lang, c: Option<&CodeField>) -> String {
    let Some(c) = c else {
        return String::new();
    };
    let note = match (c.applied, c.problem) {
        (_, Some(problem)) => format!(
            "<p id=\"code-note\" class=\"error\" role=\"alert\">{}</p>",
            e(problem)
        ),
        (Some(applied), None) => format!("<p id=\"code-note\" class=\"muted\">{}</p>", e(applied)),
        (None, None) => String::new(),
    };
    format!(
        "<p><label for=\"code\">{label}</label><br>\
         <input id=\"code\" name=\"code\" type=\"text\" value=\"{value}\" class=\"field\" \
         autocomplete=\"off\" autocapitalize=\"characters\" spellcheck=\"false\" maxlength=\"32\"></p>{note}",
        label = t(lang, "buy-code-label"),
        value = e(c.value),
    )
}

/// An error page: its title and message from the catalog.
pub fn error(lang: Lang, title_id: &str, message_id: &str) -> String {
    error_with(lang, title_id, &lang.t(message_id))
}

/// An error page whose message is already in the buyer's language.
pub fn error_with(lang: Lang, title_id: &str, message: &str) -> String {
    let title = lang.t(title_id);
    frame(
        lang,
        &title,
        "",
        &format!("<h1>{}</h1><p>{}</p>", e(&title), e(message)),
    )
}

pub fn redirecting(lang: Lang, location: &str) -> String {
    frame(
        lang,
        &lang.t("redirecting-title"),
        "",
        &format!(
            "<h1>{heading}</h1><p><a class=\"btn\" href=\"{url}\">{cont}</a></p>",
            heading = t(lang, "redirecting-heading"),
            url = e(location),
            cont = t(lang, "redirecting-continue"),
        ),
    )
}

/// "Questions about your order? Write to …", the address a `mailto:` link.
fn help_line(lang: Lang, help: &str) -> String {
    let text = tr(lang, "page-help", &[("help", help.into())]);
    let link = format!("<a href=\"mailto:{0}\">{0}</a>", e(help));
    format!(
        "<p class=\"muted\">{}</p>",
        text.replacen(&e(help), &link, 1)
    )
}

pub fn paid(
    lang: Lang,
    product_title: &str,
    order_id: &str,
    download_url: &str,
    email: &str,
    help: &str,
) -> String {
    frame(
        lang,
        &lang.t("paid-title"),
        "",
        &format!(
            "<h1>{heading}</h1>\
             <p><strong>{title}</strong></p>\
             <p><a class=\"btn\" href=\"{url}\">{button}</a></p>\
             <p class=\"muted\">{sent}</p>\
             <p class=\"link\">{url}</p>\
             <p class=\"muted\">{order}</p>{help}",
            help = help_line(lang, help),
            heading = t(lang, "paid-heading"),
            title = e(product_title),
            url = e(download_url),
            button = t(lang, "paid-button"),
            sent = tr(lang, "paid-sent", &[("email", email.into())]),
            order = tr(lang, "order-number", &[("order", order_id.into())]),
        ),
    )
}

pub fn confirming(lang: Lang, product_title: &str, order_id: &str, help: &str) -> String {
    frame(
        lang,
        &lang.t("confirming-title"),
        "<meta http-equiv=\"refresh\" content=\"5\">",
        &format!(
            "<h1>{heading}</h1><p>{body}</p><p class=\"muted\">{note}</p>{help}",
            help = help_line(lang, help),
            heading = t(lang, "confirming-heading"),
            body = tr(lang, "confirming-body", &[("title", product_title.into())]),
            note = tr(lang, "confirming-note", &[("order", order_id.into())]),
        ),
    )
}

/// The confirming page when the order could not be looked at in time (the provider or
/// the store too slow for this request): it refreshes itself like [`confirming`], and the
/// next load usually finds the answer.
pub fn confirming_later(lang: Lang) -> String {
    frame(
        lang,
        &lang.t("confirming-title"),
        "<meta http-equiv=\"refresh\" content=\"5\">",
        &format!(
            "<h1>{}</h1><p>{}</p>",
            t(lang, "confirming-heading"),
            t(lang, "confirming-later-body")
        ),
    )
}

pub fn refunded(lang: Lang, product_title: &str, order_id: &str, help: &str) -> String {
    frame(
        lang,
        &lang.t("refunded-title"),
        "",
        &format!(
            "<h1>{}</h1><p>{}</p>{}",
            t(lang, "refunded-heading"),
            tr(
                lang,
                "refunded-body",
                &[("title", product_title.into()), ("order", order_id.into())]
            ),
            help_line(lang, help)
        ),
    )
}

fn resend_form(lang: Lang) -> String {
    format!(
        "<form method=\"post\" action=\"/download/resend\" style=\"margin-top:1.5rem\">\
         <input type=\"hidden\" name=\"lang\" value=\"{tag}\">\
         <p class=\"muted\"><label for=\"resend-email\">{prompt}</label></p>\
         <p><input id=\"resend-email\" type=\"email\" name=\"email\" required autocomplete=\"email\" placeholder=\"you@example.com\" class=\"field\"></p>\
         <p><button class=\"btn\" type=\"submit\" style=\"background:#0969da\">{button}</button></p></form>",
        tag = lang.tag(),
        prompt = t(lang, "resend-prompt"),
        button = t(lang, "resend-button"),
    )
}

/// The page a download link opens: what it is, how many downloads are left, and a button
/// that POSTs (GET never spends a download).
pub fn download(
    lang: Lang,
    title: &str,
    edition: &str,
    left: u32,
    limit: u32,
    expires: Option<&str>,
    token: &str,
) -> String {
    let expiry = match expires {
        Some(d) => format!(
            "<p class=\"muted\">{}</p>",
            tr(lang, "download-until", &[("date", d.into())])
        ),
        None => String::new(),
    };
    frame(
        lang,
        &lang.tr("download-title", &[("title", title.into())]),
        "",
        &format!(
            "<h1>{title}</h1><p class=\"muted\">{edition}</p>\
             <p>{left}</p>{expiry}\
             <form method=\"post\" action=\"/download/{token}\"><button class=\"btn\" type=\"submit\">{button}</button></form>\
             <p class=\"muted\">{note}</p>",
            title = e(title),
            edition = tr(lang, "download-edition", &[("edition", edition.into())]),
            left = tr(
                lang,
                "download-left",
                &[("left", left.into()), ("limit", limit.into())]
            ),
            token = e(token),
            button = t(lang, "download-button"),
            note = t(lang, "download-note"),
        ),
    )
}

pub fn not_found_link(lang: Lang) -> String {
    frame(
        lang,
        &lang.t("link-not-found-title"),
        "",
        &format!(
            "<h1>{}</h1><p>{}</p>{}",
            t(lang, "link-not-found-heading"),
            t(lang, "link-not-found-body"),
            resend_form(lang)
        ),
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
    let with_title = |id: &str| tr(lang, id, &[("title", title.into())]);
    let (heading, detail) = match why {
        Unusable::Exhausted => ("gone-exhausted-heading", with_title("gone-exhausted-body")),
        Unusable::Expired => (
            "gone-expired-heading",
            match expired_on {
                Some(d) => tr(
                    lang,
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
    let help_text = tr(
        lang,
        "gone-help",
        &[("help", help.into()), ("order", order_id.into())],
    )
    .replacen(
        &e(help),
        &format!("<a href=\"mailto:{0}\">{0}</a>", e(help)),
        1,
    );
    frame(
        lang,
        &heading,
        "",
        &format!(
            "<h1>{}</h1><p>{detail}</p><p>{help_text}</p>{form}",
            e(&heading),
            form = resend_form(lang),
        ),
    )
}

/// The same answer whether or not the address bought anything.
pub fn resend_sent(lang: Lang) -> String {
    frame(
        lang,
        &lang.t("resend-sent-title"),
        "",
        &format!(
            "<h1>{}</h1><p>{}</p><p class=\"muted\">{}</p>",
            t(lang, "resend-sent-title"),
            t(lang, "resend-sent-body"),
            t(lang, "resend-sent-note")
        ),
    )
}
