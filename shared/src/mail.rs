//! Purchase emails through SES: composing them (pure) and sending them.

use aws_sdk_ses::types::{Body, Content, Destination, Message};

use crate::email::{Email, Sender};
use crate::grant::Grant;
use crate::order::Order;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// SES did not take a mail. Logs show [`MailError::reason`], which never holds the
/// buyer's address (SES's own messages may quote it: "The following identities failed
/// the check: reader@example.com"); the source is kept for the CLI's error chains.
#[derive(Debug, thiserror::Error)]
#[error("SES did not accept the mail")]
pub struct MailError {
    #[source]
    source: Box<dyn std::error::Error + Send + Sync>,
    /// The recipient, to keep out of what is logged.
    recipient: String,
}

impl MailError {
    fn new(to: &Email, e: impl std::error::Error + Send + Sync + 'static) -> MailError {
        MailError {
            source: Box::new(e),
            recipient: to.as_str().to_owned(),
        }
    }

    fn ses_error(
        &self,
    ) -> Option<&aws_sdk_ses::error::SdkError<aws_sdk_ses::operation::send_email::SendEmailError>>
    {
        self.source.downcast_ref()
    }

    /// SES's error code (`Throttling`, `MessageRejected`, ...) when SES answered.
    pub fn code(&self) -> Option<&str> {
        use aws_sdk_ses::error::ProvideErrorMetadata;
        self.ses_error()?.code()
    }

    /// Whether SES refused for sending too fast (or past the day's quota): worth a pause.
    pub fn is_throttling(&self) -> bool {
        self.code() == Some("Throttling")
    }

    /// One line for a log or a report: SES's code and message when it answered, else
    /// the cause (a network error, a timeout), with the recipient's address replaced
    /// by `<recipient>`.
    pub fn reason(&self) -> String {
        use aws_sdk_ses::error::ProvideErrorMetadata;
        let text = match self.ses_error() {
            Some(e) if e.code().is_some() => format!(
                "{}: {}",
                e.code().unwrap_or_default(),
                e.message().unwrap_or("(no message)")
            ),
            _ => crate::error_chain(&*self.source),
        };
        redact(&text, &self.recipient)
    }
}

/// `text` with every occurrence of `address` (in any case) replaced by `<recipient>`.
pub fn redact(text: &str, address: &str) -> String {
    if address.is_empty() {
        return text.to_owned();
    }
    let lower = text.to_ascii_lowercase();
    let needle = address.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut rest = 0;
    while let Some(at) = lower[rest..].find(&needle) {
        out.push_str(&text[rest..rest + at]);
        out.push_str("<recipient>");
        rest += at + needle.len();
    }
    out.push_str(&text[rest..]);
    out
}

pub use crate::text::html_escape;

/// The mail a buyer gets once the payment is recorded: what they bought, the link, how
/// many downloads it allows, the order id, and where to get help.
pub fn purchase_mail(order: &Order, grant: &Grant, link: &str, help: &Sender) -> Mail {
    let title = &order.product_title;
    let n = grant.download_limit;
    let downloads = if n == 1 {
        "1 download".to_owned()
    } else {
        format!("{n} downloads")
    };
    let subject = format!("Your download: {title}");
    let text = format!(
        "Thank you for buying {title}.\n\n\
         Download it here ({downloads}):\n{link}\n\n\
         Order: {order_id}\nPaid: {amount}\nEdition: {edition}\n\n\
         The link is yours alone; please do not share it. If it stops working or you need \
         help, reply to this email or write to {help}, and mention your order number.\n",
        order_id = order.id,
        amount = order.amount,
        edition = order.edition,
    );
    let e = html_escape;
    let html = format!(
        "<!doctype html><html><body style=\"font-family:system-ui,sans-serif;line-height:1.5;color:#222\">\
         <p>Thank you for buying <strong>{title}</strong>.</p>\
         <p><a href=\"{link}\" style=\"display:inline-block;padding:.6em 1.2em;background:#1a7f37;color:#fff;\
         text-decoration:none;border-radius:6px\">Download {title}</a></p>\
         <p>This link allows {downloads}. If the button does not work, copy this address into your browser:<br>\
         <a href=\"{link}\">{link}</a></p>\
         <p style=\"color:#555\">Order: {order_id}<br>Paid: {amount}<br>Edition: {edition}</p>\
         <p style=\"color:#555\">The link is yours alone; please do not share it. If it stops working or you need help, \
         reply to this email or write to <a href=\"mailto:{help}\">{help}</a>, and mention your order number.</p>\
         </body></html>",
        title = e(title),
        link = e(link),
        downloads = e(&downloads),
        order_id = e(order.id.as_str()),
        amount = e(&order.amount.to_string()),
        edition = e(&order.edition),
        help = e(help.as_str()),
    );
    Mail {
        subject,
        text,
        html,
    }
}

/// A new edition is out (`kiosk update`): the buyer's fresh link to it, with the full
/// download count, the author's note, and the reassurance that the old link still works.
pub fn edition_mail(
    order: &Order,
    grant: &Grant,
    link: &str,
    note: Option<&str>,
    help: &Sender,
) -> Mail {
    let title = &grant.product_title;
    let n = grant.download_limit;
    let downloads = if n == 1 {
        "1 download".to_owned()
    } else {
        format!("{n} downloads")
    };
    let subject = format!("New edition: {title}");
    let note_text = note
        .filter(|n| !n.trim().is_empty())
        .map(|n| format!("{}\n\n", n.trim()))
        .unwrap_or_default();
    let text = format!(
        "A new edition of {title} is out ({edition}), and it is yours: you bought {title} \
         (order {order_id}).\n\n{note_text}\
         Download the new edition here ({downloads}):\n{link}\n\n\
         Your earlier link keeps working for the edition you bought. The link is yours alone; \
         please do not share it. Need help? Reply to this email or write to {help}.\n",
        edition = grant.edition,
        order_id = order.id,
    );
    let e = html_escape;
    let note_html = note
        .filter(|n| !n.trim().is_empty())
        .map(|n| format!("<p style=\"white-space:pre-line\">{}</p>", e(n.trim())))
        .unwrap_or_default();
    let html = format!(
        "<!doctype html><html><body style=\"font-family:system-ui,sans-serif;line-height:1.5;color:#222\">\
         <p>A new edition of <strong>{title}</strong> is out ({edition}), and it is yours: you bought it \
         (order {order_id}).</p>{note_html}\
         <p><a href=\"{link}\" style=\"display:inline-block;padding:.6em 1.2em;background:#1a7f37;color:#fff;\
         text-decoration:none;border-radius:6px\">Download the new edition</a></p>\
         <p>This link allows {downloads}. If the button does not work, copy this address into your browser:<br>\
         <a href=\"{link}\">{link}</a></p>\
         <p style=\"color:#555\">Your earlier link keeps working for the edition you bought. The link is yours alone; \
         please do not share it. Need help? Reply to this email or write to <a href=\"mailto:{help}\">{help}</a>.</p>\
         </body></html>",
        title = e(title),
        edition = e(&grant.edition),
        order_id = e(order.id.as_str()),
        link = e(link),
        downloads = e(&downloads),
        help = e(help.as_str()),
    );
    Mail {
        subject,
        text,
        html,
    }
}

/// "Resend my links": one mail listing every link the buyer can still use.
pub fn links_mail(links: &[(Grant, String)], help: &Sender) -> Mail {
    let subject = if links.len() == 1 {
        format!("Your download link: {}", links[0].0.product_title)
    } else {
        format!("Your {} download links", links.len())
    };
    let mut text = String::from("Here are the download links for your purchases.\n\n");
    let mut items = String::new();
    for (g, url) in links {
        text.push_str(&format!(
            "{title} (edition {edition}), {left} of {limit} downloads left:\n{url}\n\n",
            title = g.product_title,
            edition = g.edition,
            left = g.downloads_left,
            limit = g.download_limit,
        ));
        items.push_str(&format!(
            "<li style=\"margin:.8em 0\"><strong>{title}</strong> (edition {edition}), {left} of {limit} downloads left<br>\
             <a href=\"{url}\">{url}</a></li>",
            title = html_escape(&g.product_title),
            edition = html_escape(&g.edition),
            left = g.downloads_left,
            limit = g.download_limit,
            url = html_escape(url),
        ));
    }
    text.push_str(&format!(
        "You asked for these links on our download page. If you did not, you can ignore this mail: \
         the links only ever go to this address. Need help? Write to {help}.\n"
    ));
    let html = format!(
        "<!doctype html><html><body style=\"font-family:system-ui,sans-serif;line-height:1.5;color:#222\">\
         <p>Here are the download links for your purchases.</p><ul style=\"padding-left:1.2em\">{items}</ul>\
         <p style=\"color:#555\">You asked for these links on our download page. If you did not, you can ignore this \
         mail: the links only ever go to this address. Need help? Write to <a href=\"mailto:{help}\">{help}</a>.</p>\
         </body></html>",
        help = html_escape(help.as_str()),
    );
    Mail {
        subject,
        text,
        html,
    }
}

#[derive(Clone, Debug)]
pub struct Mailer {
    ses: aws_sdk_ses::Client,
    from: Sender,
}

impl Mailer {
    pub fn new(ses: aws_sdk_ses::Client, from: Sender) -> Self {
        Mailer { ses, from }
    }

    pub fn from_address(&self) -> &Sender {
        &self.from
    }

    pub async fn send(&self, to: &Email, mail: &Mail) -> Result<(), MailError> {
        let content = |s: &str| Content::builder().data(s).charset("UTF-8").build();
        let message = Message::builder()
            .subject(content(&mail.subject).map_err(|e| MailError::new(to, e))?)
            .body(
                Body::builder()
                    .text(content(&mail.text).map_err(|e| MailError::new(to, e))?)
                    .html(content(&mail.html).map_err(|e| MailError::new(to, e))?)
                    .build(),
            )
            .build();
        self.ses
            .send_email()
            .source(self.from.as_str())
            .destination(Destination::builder().to_addresses(to.as_str()).build())
            .message(message)
            .send()
            .await
            .map_err(|e| MailError::new(to, e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mail_errors_never_carry_the_buyers_address_into_logs() {
        let to = Email::parse("Reader.One@Example.com").unwrap();
        let e = MailError::new(
            &to,
            std::io::Error::other(
                "Email address is not verified. The following identities failed the check in region US-EAST-1: reader.one@example.com, READER.ONE@EXAMPLE.COM",
            ),
        );
        let reason = e.reason();
        assert!(
            !reason.to_ascii_lowercase().contains("reader.one"),
            "{reason}"
        );
        assert!(
            reason.contains("failed the check in region US-EAST-1: <recipient>, <recipient>"),
            "{reason}"
        );
        assert_eq!(redact("a x@y.z b", ""), "a x@y.z b");
        assert_eq!(redact("dünn x@y.z", "x@y.z"), "dünn <recipient>");
    }
    use crate::order::{ChannelKind, Source};
    use crate::product::{FileRef, Product};
    use crate::{Currency, DownloadToken, Money, OrderId, ProductId};
    use time::macros::datetime;

    #[test]
    fn purchase_mail_has_link_count_order_and_help_and_escapes_html() {
        let product = Product::new(
            ProductId::parse("b").unwrap(),
            "Tips & <script>alert(1)</script>",
            Money::parse_decimal("9.00", Currency::Cny).unwrap(),
            crate::product::Edition::parse("v2").expect("valid product"),
            FileRef {
                key: "k".into(),
                name: "b.pdf".into(),
                content_type: "application/pdf".into(),
                sha256: None,
            },
            5,
        )
        .expect("valid product");
        let now = datetime!(2026-11-21 10:00 UTC);
        let order = Order::new_pending(
            OrderId::parse("K1").unwrap(),
            &product,
            Email::parse("a@example.com").unwrap(),
            ChannelKind::Alipay,
            Source::default(),
            now,
            time::Duration::minutes(30),
        );
        let grant = Grant::for_order(&order, DownloadToken::generate().unwrap(), None, now);
        let link = format!("https://shop.example.com/download/{}", grant.token.expose());
        let help = Sender::parse("help@shop.example.com").unwrap();
        let m = purchase_mail(&order, &grant, &link, &help);
        assert_eq!(m.subject, "Your download: Tips & <script>alert(1)</script>");
        for part in [&m.text, &m.html] {
            assert!(part.contains(&link));
            assert!(part.contains("5 downloads"));
            assert!(part.contains("K1"));
            assert!(part.contains("help@shop.example.com"));
            assert!(part.contains("9.00 CNY"));
        }
        assert!(m.html.contains("Tips &amp; &lt;script&gt;"));
        assert!(!m.html.contains("<script>"));
    }
}
