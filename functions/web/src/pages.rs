//! The HTML pages buyers see. Self-contained: inline CSS, no fonts, scripts or CDNs, so
//! they load fast, work with a strict CSP and look the same everywhere (390 px phones
//! to desktops).

use kiosk::mail::html_escape as e;

const STYLE: &str = "*{box-sizing:border-box}body{margin:0;font:16px/1.55 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;\
color:#1f2328;background:#f6f8fa}main{max-width:34rem;margin:2.5rem auto;padding:2rem 1.5rem;background:#fff;\
border:1px solid #d0d7de;border-radius:12px}h1{font-size:1.45rem;line-height:1.25;margin:0 0 1rem}p{margin:.75rem 0}\
.muted{color:#59636e;font-size:.92rem}.btn{display:inline-block;padding:.75rem 1.4rem;border:0;border-radius:8px;\
background:#1a7f37;color:#fff;font:inherit;font-weight:600;text-decoration:none;cursor:pointer}\
.link{word-break:break-all;background:#f6f8fa;padding:.5rem .75rem;border-radius:6px;font-size:.9rem}\
@media (max-width:480px){main{margin:0;border:0;border-radius:0;min-height:100vh}}";

/// The page frame. `head_extra` is trusted markup (e.g. a refresh meta tag).
pub fn frame(title: &str, head_extra: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex\">{head_extra}<title>{title}</title><style>{STYLE}</style></head>\
         <body><main>{body}</main></body></html>",
        title = e(title),
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
