//! The local mailbox: every mail SES accepted, read back from the emulator, newest first,
//! with clickable links, and buttons that make SES report a mail bounced (for good or for
//! now) or marked as spam, so the bounce handling can be watched locally.

use kiosk::text::html_escape as e;
use kiosk_web::pages::frame;

/// The part of our own mail HTML between `<body ...>` and `</body>`.
fn body_of(html: &str) -> &str {
    let start = html
        .find("<body")
        .and_then(|i| html[i..].find('>').map(|j| i + j + 1))
        .unwrap_or(0);
    let end = html.rfind("</body>").unwrap_or(html.len());
    if start <= end {
        &html[start..end]
    } else {
        html
    }
}

pub async fn page(http: &reqwest::Client, endpoint: &str, note: Option<&str>) -> String {
    // A page for a person: an emulator that does not answer shows as an empty mailbox
    // with the reason, not an error page.
    let (mails, trouble) = match kiosk_localaws::sent_mail(http, endpoint, None).await {
        Ok(m) => (m, None),
        Err(e) => (Vec::new(), Some(format!("{e:#}"))),
    };
    let mut items = String::new();
    for m in mails.iter().rev() {
        // Mail from Kiosk itself (escaped when composed); shown as the buyer would see it.
        let shown = if m.body.contains("<html") {
            body_of(&m.body).to_owned()
        } else {
            format!("<pre style=\"white-space:pre-wrap\">{}</pre>", e(&m.body))
        };
        let report = |value: &str, label: &str| {
            format!(
                "<button name=\"report\" value=\"{value}\" style=\"margin-right:.5rem\">{label}</button>"
            )
        };
        items.push_str(&format!(
            "<article class=\"mail\" style=\"border-top:1px solid #d0d7de;padding:1rem 0\">\
             <p class=\"muted\">From {from} to {to} (configuration set: {set})</p><h2 style=\"font-size:1.1rem;margin:.25rem 0\">{subject}</h2>\
             <div class=\"mail-body\">{shown}</div>\
             <form method=\"post\" action=\"/mailbox\" class=\"report\" data-to=\"{to}\">\
             <input type=\"hidden\" name=\"id\" value=\"{id}\">\
             <input type=\"hidden\" name=\"to\" value=\"{first}\">\
             <span class=\"muted\">Make SES report this mail: </span>{bounce}{transient}{complaint}</form></article>",
            from = e(&m.source),
            to = e(&m.to.join(", ")),
            set = e(m.configuration_set.as_deref().unwrap_or("none")),
            subject = e(&m.subject),
            id = e(&m.id),
            first = e(m.to.first().map(String::as_str).unwrap_or_default()),
            bounce = report("bounce", "Bounced (address does not exist)"),
            transient = report("transient", "Bounced for now (mailbox full)"),
            complaint = report("complaint", "Marked as spam"),
        ));
    }
    if let Some(t) = trouble {
        items = format!(
            "<p class=\"muted\">Could not read the emulator's mail: {}</p>",
            e(&t)
        );
    }
    if items.is_empty() {
        items = "<p class=\"muted\">No mail yet. Buy something in the shop and the purchase email appears here.</p>".into();
    }
    frame(
        kiosk::i18n::Lang::EN,
        "Mailbox",
        "<meta http-equiv=\"refresh\" content=\"10\">",
        &format!(
            "<h1>Mailbox</h1><p class=\"muted\">{} mail(s) SES accepted in the local emulator. <a href=\"/\">Back to the shop</a></p>{note}{items}",
            mails.len(),
            note = note
                .map(|n| format!(
                    "<p class=\"note\" role=\"status\"><strong>{}</strong></p>",
                    e(n)
                ))
                .unwrap_or_default()
        ),
    )
}
