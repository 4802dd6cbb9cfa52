//! The local mailbox: every mail SES accepted, read back from the emulator, newest first,
//! with clickable links.

use kiosk::mail::html_escape as e;
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

pub async fn page(http: &reqwest::Client, endpoint: &str) -> String {
    let data: serde_json::Value = match http
        .get(format!("{endpoint}/moto-api/data.json"))
        .send()
        .await
    {
        Ok(r) => r
            .text()
            .await
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default(),
        Err(_) => serde_json::Value::Null,
    };
    let mails = data["ses"]["Message"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut items = String::new();
    for m in mails.iter().rev() {
        let to: Vec<&str> = m["destinations"]["ToAddresses"]
            .as_array()
            .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
            .unwrap_or_default();
        let body = m["body"].as_str().unwrap_or_default();
        // Mail from Kiosk itself (escaped when composed); shown as the buyer would see it.
        let shown = if body.contains("<html") {
            body_of(body).to_owned()
        } else {
            format!("<pre style=\"white-space:pre-wrap\">{}</pre>", e(body))
        };
        items.push_str(&format!(
            "<article class=\"mail\" style=\"border-top:1px solid #d0d7de;padding:1rem 0\">\
             <p class=\"muted\">From {from} to {to}</p><h2 style=\"font-size:1.1rem;margin:.25rem 0\">{subject}</h2>\
             <div class=\"mail-body\">{shown}</div></article>",
            from = e(m["source"].as_str().unwrap_or_default()),
            to = e(&to.join(", ")),
            subject = e(m["subject"].as_str().unwrap_or_default()),
        ));
    }
    if items.is_empty() {
        items = "<p class=\"muted\">No mail yet. Buy something in the shop and the purchase email appears here.</p>".into();
    }
    frame(
        "Mailbox",
        "<meta http-equiv=\"refresh\" content=\"10\">",
        &format!(
            "<h1>Mailbox</h1><p class=\"muted\">{} mail(s) SES accepted in the local emulator. <a href=\"/\">Back to the shop</a></p>{items}",
            mails.len()
        ),
    )
}
