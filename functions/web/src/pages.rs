//! The HTML pages buyers see. Self-contained: inline CSS, no fonts, scripts or CDNs, so
//! they load fast, work with a strict CSP and look the same everywhere (390 px phones
//! to desktops). The one script is the buy page's in `kiosk.js`'s overlay
//! ([`EMBED_SCRIPT`]), allowed by its hash.

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

/// The page frame. `head_extra` is trusted markup (e.g. a refresh meta tag).
pub fn frame(title: &str, head_extra: &str, body: &str) -> String {
    framed("", title, head_extra, body, "")
}

/// [`frame`] with trusted attributes for `<html>` and markup after `<main>`.
fn framed(html_attrs: &str, title: &str, head_extra: &str, body: &str, tail: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"{html_attrs}><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex\">{head_extra}<title>{title}</title><style>{STYLE}</style></head>\
         <body><main>{body}</main>{tail}</body></html>",
        title = e(title),
    )
}

/// What the hosted buy page shows, already formatted for the buyer.
pub struct BuyForm<'a> {
    pub product_id: &'a str,
    pub title: &'a str,
    /// The price as a buyer reads it, e.g. `¥9.00`.
    pub price: &'a str,
    pub edition: &'a str,
    /// What the file is, e.g. `PDF`.
    pub file_kind: &'a str,
    pub downloads: u32,
    /// Where the form posts.
    pub action: &'a str,
    /// (`channel` value, label) of each way to pay, the default first; empty: none takes
    /// this product's currency.
    pub channels: &'a [(&'a str, &'a str)],
    /// Attribution carried into the order (`utm_*`, `referrer`), already sanitised.
    pub hidden: &'a [(&'a str, &'a str)],
    /// In `kiosk.js`'s overlay: the host page's origin (one the shop allows to frame
    /// this page). The form then opens the provider in the top window, since payment
    /// pages do not run inside frames.
    pub embed: Option<&'a str>,
}

/// The hosted buy page: the product as stored, an email field and Buy Now, as a plain
/// form (no script), labelled for screen readers and usable by keyboard.
pub fn buy(f: &BuyForm) -> String {
    let downloads = if f.downloads == 1 {
        "1 download".to_owned()
    } else {
        format!("{} downloads", f.downloads)
    };
    let about = format!(
        "<p><strong class=\"price\">{price}</strong></p>\
         <p class=\"muted\">Edition {edition} · {kind} · {downloads}. The download link comes \
         on the next page and by email.</p>",
        price = e(f.price),
        edition = e(f.edition),
        kind = e(f.file_kind),
    );
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
            &html_attrs,
            f.title,
            "",
            &format!(
                "<h1>{}</h1>{about}<p>This product cannot be bought here right now.</p>",
                e(f.title)
            ),
            &tail,
        );
    }
    let hidden: String = std::iter::once(("product_id", f.product_id))
        .chain(f.hidden.iter().copied())
        .map(|(k, v)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                e(k),
                e(v)
            )
        })
        .collect();
    let pay = if let [(value, _)] = f.channels {
        format!(
            "<input type=\"hidden\" name=\"channel\" value=\"{}\">",
            e(value)
        )
    } else {
        let options: String = f
            .channels
            .iter()
            .enumerate()
            .map(|(i, (value, label))| {
                format!(
                    "<label class=\"choice\"><input type=\"radio\" name=\"channel\" value=\"{v}\"{checked}> {l}</label>",
                    v = e(value),
                    l = e(label),
                    checked = if i == 0 { " checked" } else { "" },
                )
            })
            .collect();
        format!("<fieldset><legend>Pay with</legend>{options}</fieldset>")
    };
    framed(
        &html_attrs,
        f.title,
        "",
        &format!(
            "<h1>{title}</h1>{about}\
             <form method=\"post\" action=\"{action}\"{target}>{hidden}\
             <p><label for=\"email\">Your email</label><br>\
             <input id=\"email\" name=\"email\" type=\"email\" required autocomplete=\"email\" \
             inputmode=\"email\" aria-describedby=\"email-help\" class=\"field\"></p>\
             <p id=\"email-help\" class=\"muted\">Where we send your download link.</p>\
             {pay}<p><button class=\"btn\" type=\"submit\">Buy Now · {price}</button></p></form>",
            title = e(f.title),
            action = e(f.action),
            price = e(f.price),
        ),
        &tail,
    )
}

pub fn error(title: &str, message: &str) -> String {
    frame(
        title,
        "",
        &format!("<h1>{}</h1><p>{}</p>", e(title), e(message)),
    )
}

pub fn redirecting(location: &str) -> String {
    frame(
        "Redirecting",
        "",
        &format!(
            "<h1>Taking you to the payment page…</h1><p><a class=\"btn\" href=\"{0}\">Continue</a></p>",
            e(location)
        ),
    )
}

pub fn paid(product_title: &str, order_id: &str, download_url: &str, email: &str) -> String {
    frame(
        "Thank you",
        "",
        &format!(
            "<h1>Thank you! Your purchase is ready.</h1>\
             <p><strong>{title}</strong></p>\
             <p><a class=\"btn\" href=\"{url}\">Go to your download</a></p>\
             <p class=\"muted\">We also sent this link to {email}. Keep it: it is yours alone.</p>\
             <p class=\"link\">{url}</p>\
             <p class=\"muted\">Order {order}</p>",
            title = e(product_title),
            url = e(download_url),
            email = e(email),
            order = e(order_id),
        ),
    )
}

pub fn confirming(product_title: &str, order_id: &str) -> String {
    frame(
        "Confirming your payment",
        "<meta http-equiv=\"refresh\" content=\"5\">",
        &format!(
            "<h1>Confirming your payment…</h1>\
             <p>We are waiting for the payment provider to confirm your payment for <strong>{title}</strong>. \
             This page refreshes by itself; your download link will appear here and in your email.</p>\
             <p class=\"muted\">Order {order}. If you cancelled the payment, you can close this page.</p>",
            title = e(product_title),
            order = e(order_id),
        ),
    )
}

/// The confirming page when the order could not be looked at in time (the provider or
/// the store too slow for this request): it refreshes itself like [`confirming`], and the
/// next load usually finds the answer.
pub fn confirming_later() -> String {
    frame(
        "Confirming your payment",
        "<meta http-equiv=\"refresh\" content=\"5\">",
        "<h1>Confirming your payment…</h1>\
         <p>We could not get an answer from the payment provider just now. This page refreshes by itself; \
         if you paid, your download link will appear here and in your email.</p>",
    )
}

pub fn refunded(product_title: &str, order_id: &str) -> String {
    frame(
        "Order refunded",
        "",
        &format!(
            "<h1>This order was refunded</h1><p>The payment for <strong>{}</strong> was returned, so there is no download \
             for it. If this is a mistake, reply to your purchase email with order {}.</p>",
            e(product_title),
            e(order_id)
        ),
    )
}

fn resend_form() -> String {
    "<form method=\"post\" action=\"/download/resend\" style=\"margin-top:1.5rem\">\
     <p class=\"muted\">Lost a link? Enter the email you bought with and we will send you every link that still works.</p>\
     <p><input type=\"email\" name=\"email\" required autocomplete=\"email\" placeholder=\"you@example.com\" \
     style=\"width:100%;padding:.6rem;font:inherit;border:1px solid #d0d7de;border-radius:8px\"></p>\
     <p><button class=\"btn\" type=\"submit\" style=\"background:#0969da\">Email me my links</button></p></form>"
        .to_owned()
}

/// The page a download link opens: what it is, how many downloads are left, and a button
/// that POSTs (GET never spends a download).
pub fn download(
    title: &str,
    edition: &str,
    left: u32,
    limit: u32,
    expires: Option<&str>,
    token: &str,
) -> String {
    let expiry = match expires {
        Some(d) => format!("<p class=\"muted\">This link works until {}.</p>", e(d)),
        None => String::new(),
    };
    frame(
        &format!("Download {title}"),
        "",
        &format!(
            "<h1>{title}</h1><p class=\"muted\">Edition {edition}</p>\
             <p><strong>{left}</strong> of {limit} downloads left.</p>{expiry}\
             <form method=\"post\" action=\"/download/{token}\"><button class=\"btn\" type=\"submit\">Download</button></form>\
             <p class=\"muted\">Each click on Download uses one download. The file link it opens is valid for a few minutes.</p>",
            title = e(title),
            edition = e(edition),
            token = e(token),
        ),
    )
}

pub fn not_found_link() -> String {
    frame(
        "Link not found",
        "",
        &format!(
            "<h1>This download link does not exist</h1><p>Please check that you copied the whole link from your email.</p>{}",
            resend_form()
        ),
    )
}

/// 410: the link exists but cannot serve a download; says which and what to do.
pub fn gone(
    why: kiosk::grant::Unusable,
    title: &str,
    order_id: &str,
    help: &str,
    expired_on: Option<&str>,
) -> String {
    use kiosk::grant::Unusable;
    let (heading, detail) = match why {
        Unusable::Exhausted => (
            "All downloads used",
            format!(
                "You have used every download this purchase of <strong>{}</strong> allows.",
                e(title)
            ),
        ),
        Unusable::Expired => (
            "This link has expired",
            format!(
                "The download link for <strong>{}</strong> expired{}.",
                e(title),
                expired_on
                    .map(|d| format!(" on {}", e(d)))
                    .unwrap_or_default()
            ),
        ),
        Unusable::Suspended => (
            "This link is paused",
            format!(
                "The card payment for <strong>{}</strong> is disputed with the card issuer, so its download link is paused until the dispute is settled.",
                e(title)
            ),
        ),
        Unusable::Revoked => (
            "This purchase was refunded",
            format!(
                "The payment for <strong>{}</strong> was refunded, so its download link no longer works.",
                e(title)
            ),
        ),
    };
    frame(
        heading,
        "",
        &format!(
            "<h1>{heading}</h1><p>{detail}</p>\
             <p>Need it again or think this is a mistake? Write to <a href=\"mailto:{help}\">{help}</a> \
             and mention order <strong>{order}</strong>.</p>{form}",
            help = e(help),
            order = e(order_id),
            form = resend_form(),
        ),
    )
}

/// The same answer whether or not the address bought anything.
pub fn resend_sent() -> String {
    frame(
        "Check your email",
        "",
        "<h1>Check your email</h1><p>If that address bought something here, we have sent it every download link that \
         still works. It can take a minute to arrive; please look in your spam folder too.</p>\
         <p class=\"muted\">An address gets its links at most once every 10 minutes, and at most 5 times a day.</p>",
    )
}
