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

use maud::{Markup, PreEscaped, html};

use crate::i18n::{Arg, Lang};
use crate::text::with_mailto;

const BODY_STYLE: &str = "font-family:system-ui,sans-serif;line-height:1.5;color:#222";
const BUTTON_STYLE: &str = "display:inline-block;padding:.6em 1.2em;background:#1a7f37;color:#fff;\
text-decoration:none;border-radius:6px";

/// A mail's HTML part: `lang` on `<html>`, around `body` (made by [`maud::html!`], so
/// every value in it was escaped unless it was asked for unescaped by name).
fn html_mail(lang: Lang, body: Markup) -> String {
    html! {
        (PreEscaped("<!doctype html>"))
        html lang=(lang.tag()) {
            head { meta charset="utf-8"; }
            body style=(BODY_STYLE) { (body) }
        }
    }
    .into_string()
}

/// The mail a buyer gets once the payment is recorded, in the order's language (or
/// `default`): what they bought, the link, how many downloads it allows, the order id,
/// what was paid and when, and where to get help.
pub fn purchase_mail(
    order: &Order,
    grant: &Grant,
    link: &str,
    help: &Sender,
    default: Lang,
) -> Mail {
    let lang = Lang::of_purchase(order.lang, default);
    let title = order.product_title.as_str();
    let downloads = downloads_text(lang, grant);
    let amount = lang.price(order.amount);
    let date = lang.datetime(order.paid_at().unwrap_or(grant.created_at));
    let subject = lang.tr("mail-purchase-subject", &[("title", title.into())]);
    let thanks = lang.tr("mail-purchase-thanks", &[("title", title.into())]);
    let order_line = lang.tr("mail-order", &[("order", order.id.as_str().into())]);
    // A free copy says so rather than "Paid: ¥0.00".
    let paid_line = if order.amount.is_zero() {
        lang.tr("mail-free", &[("date", Arg::Text(&date))])
    } else {
        lang.tr(
            "mail-paid",
            &[("amount", Arg::Text(&amount)), ("date", Arg::Text(&date))],
        )
    };
    let edition_line = lang.tr(
        "mail-edition-line",
        &[("edition", order.edition.as_str().into())],
    );
    let files_line = files_line(lang, grant);
    let license = license_lines(lang, grant);
    let keep = lang.tr("mail-purchase-keep", &[("help", help.as_str().into())]);
    let text = format!(
        "{thanks}\n\n{here}\n{link}\n\n{order_line}\n{paid_line}\n{edition_line}\n{files_line}\n{license_text}\n{keep}\n",
        here = lang.tr(
            "mail-purchase-here",
            &[("downloads", Arg::Text(&downloads))]
        ),
        license_text = license
            .iter()
            .map(|l| format!("\n{l}\n"))
            .collect::<String>(),
    );
    let button = lang.tr("mail-purchase-button", &[("title", title.into())]);
    let allows = lang.tr("mail-link-allows", &[("downloads", Arg::Text(&downloads))]);
    let html = html_mail(
        lang,
        html! {
            p { (thanks) }
            p { a href=(link) style=(BUTTON_STYLE) { (button) } }
            p { (allows) br; a href=(link) { (link) } }
            p style="color:#555" { (order_line) br; (paid_line) br; (edition_line) br; (files_line) }
            @for line in &license {
                p style="font-family:monospace;word-break:break-all" { (line) }
            }
            p style="color:#555" { (with_mailto(&keep, help.as_str())) }
        },
    );
    Mail {
        subject,
        text,
        html,
    }
}

/// A new edition is out (`kiosk update`): the buyer's fresh link to it, with the full
/// download count, the author's note (in the author's words), and the reassurance that
/// the old link still works; in the order's language (or the shop's, `default`).
pub fn edition_mail(
    order: &Order,
    grant: &Grant,
    link: &str,
    note: Option<&str>,
    help: &Sender,
    default: Lang,
) -> Mail {
    let lang = Lang::of_purchase(order.lang, default);
    let title = grant.product_title.as_str();
    let downloads = downloads_text(lang, grant);
    let files_line = files_line(lang, grant);
    let subject = lang.tr("mail-edition-subject", &[("title", title.into())]);
    let intro = lang.tr(
        "mail-edition-intro",
        &[
            ("title", title.into()),
            ("edition", grant.edition.as_str().into()),
            ("order", order.id.as_str().into()),
        ],
    );
    let keep = lang.tr("mail-edition-keep", &[("help", help.as_str().into())]);
    let note = note.map(str::trim).filter(|n| !n.is_empty());
    let text = format!(
        "{intro}\n\n{note_text}{here}\n{link}\n{files_line}\n\n{keep}\n",
        note_text = note.map(|n| format!("{n}\n\n")).unwrap_or_default(),
        here = lang.tr("mail-edition-here", &[("downloads", Arg::Text(&downloads))]),
    );
    let allows = lang.tr("mail-link-allows", &[("downloads", Arg::Text(&downloads))]);
    let html = html_mail(
        lang,
        html! {
            p { (intro) }
            @if let Some(n) = note { p style="white-space:pre-line" { (n) } }
            p { a href=(link) style=(BUTTON_STYLE) { (lang.t("mail-edition-button")) } }
            p { (allows) br; a href=(link) { (link) } }
            p style="color:#555" { (files_line) }
            p style="color:#555" { (with_mailto(&keep, help.as_str())) }
        },
    );
    Mail {
        subject,
        text,
        html,
    }
}

/// "5 downloads", or for a grant of several files "5 downloads of each file".
fn downloads_text(lang: Lang, grant: &Grant) -> String {
    let key = if grant.files.len() > 1 {
        "downloads-each"
    } else {
        "downloads-count"
    };
    lang.tr(key, &[("count", grant.download_limit.into())])
}

/// "Files: book.pdf, book.epub, code.zip".
fn files_line(lang: Lang, grant: &Grant) -> String {
    let names: Vec<&str> = grant.files.iter().map(|f| f.name.as_str()).collect();
    lang.tr(
        "mail-files-line",
        &[("files", Arg::Text(&names.join(", ")))],
    )
}

/// The purchase's license lines (key, then the signed license), if it has one.
fn license_lines(lang: Lang, grant: &Grant) -> Vec<String> {
    let Some(l) = &grant.license else {
        return Vec::new();
    };
    let mut lines = vec![lang.tr("mail-license-key", &[("key", l.key.expose().into())])];
    if let Some(signed) = &l.signed {
        lines.push(lang.tr("mail-license-signed", &[("signed", signed.as_str().into())]));
    }
    lines
}

/// "Resend my links": one mail listing every link the buyer can still use, in `lang`.
pub fn links_mail(links: &[(Grant, String)], help: &Sender, lang: Lang) -> Mail {
    let first_title = links
        .first()
        .map(|(g, _)| g.product_title.as_str())
        .unwrap_or_default();
    let subject = lang.tr(
        "mail-links-subject",
        &[("count", links.len().into()), ("title", first_title.into())],
    );
    let intro = lang.t("mail-links-intro");
    let mut text = format!("{intro}\n\n");
    let mut items = Vec::new();
    for (g, url) in links {
        let line = lang.tr(
            "mail-links-item",
            &[
                ("title", g.product_title.as_str().into()),
                ("edition", g.edition.as_str().into()),
                // The most any one file has left (the limit counts per file).
                (
                    "left",
                    g.downloads_left.iter().copied().max().unwrap_or(0).into(),
                ),
                ("limit", g.download_limit.into()),
            ],
        );
        let license = license_lines(lang, g);
        text.push_str(&format!("{line}\n{url}\n"));
        for l in &license {
            text.push_str(&format!("{l}\n"));
        }
        text.push('\n');
        items.push((line, url.as_str(), license));
    }
    let footer = lang.tr("mail-links-footer", &[("help", help.as_str().into())]);
    text.push_str(&format!("{footer}\n"));
    let html = html_mail(
        lang,
        html! {
            p { (intro) }
            ul style="padding-left:1.2em" {
                @for (line, url, license) in &items {
                    li style="margin:.8em 0" {
                        (line) br; a href=(url) { (url) }
                        @for l in license {
                            br; span style="font-family:monospace;word-break:break-all" { (l) }
                        }
                    }
                }
            }
            p style="color:#555" { (with_mailto(&footer, help.as_str())) }
        },
    );
    Mail {
        subject,
        text,
        html,
    }
}

/// The SES client every mailer uses: `sdk`'s, with its own attempt timeout,
/// [`crate::tls::AWS_ATTEMPT_TIMEOUT`], whatever `sdk` sets. A `SendEmail` attempt given
/// up on after SES accepted the mail is sent again by the SDK's retry (SES takes no
/// idempotency key), so SES's attempts are never cut shorter than the functions' 3 s --
/// not by a timeout tuned for another service, as the soak tunes DynamoDB's (found by
/// the soak: a buyer mailed twice when a send outlasted its 1 s).
pub fn ses_client(sdk: &aws_config::SdkConfig) -> aws_sdk_ses::Client {
    let conf = aws_sdk_ses::config::Builder::from(sdk)
        .timeout_config(crate::tls::aws_timeouts(crate::tls::AWS_ATTEMPT_TIMEOUT))
        .build();
    aws_sdk_ses::Client::from_conf(conf)
}

#[derive(Clone, Debug)]
pub struct Mailer {
    ses: aws_sdk_ses::Client,
    from: Sender,
    /// The author's support address (`SUPPORT_EMAIL`): every mail's `Reply-To`, and the
    /// address mails and pages name for help. `None`: the sender is both.
    reply_to: Option<Sender>,
    /// The SES configuration set every mail is sent with (`MAIL_CONFIGURATION_SET`):
    /// its event destination reports bounces and complaints to the mail-events
    /// function ([`crate::mail_events`]).
    configuration_set: Option<String>,
}

impl Mailer {
    pub fn new(ses: aws_sdk_ses::Client, from: Sender) -> Self {
        Mailer {
            ses,
            from,
            reply_to: None,
            configuration_set: None,
        }
    }

    /// The shop's mailer as `config` sets it up: its sender, Reply-To and configuration
    /// set.
    pub fn for_shop(ses: aws_sdk_ses::Client, config: &crate::config::Config) -> Self {
        Mailer::new(ses, config.sender_email.clone())
            .with_reply_to(config.support_email.clone())
            .with_configuration_set(config.mail_configuration_set.clone())
    }

    /// Send every mail with this SES configuration set.
    pub fn with_configuration_set(mut self, name: Option<String>) -> Self {
        self.configuration_set = name;
        self
    }

    /// Replies (and the help the mails offer) go to `support` instead of the sender.
    pub fn with_reply_to(mut self, support: Option<Sender>) -> Self {
        self.reply_to = support;
        self
    }

    pub fn from_address(&self) -> &Sender {
        &self.from
    }

    /// Where a buyer who needs help writes: the support address, else the sender.
    pub fn help(&self) -> &Sender {
        self.reply_to.as_ref().unwrap_or(&self.from)
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
            .set_reply_to_addresses(self.reply_to.as_ref().map(|r| vec![r.as_str().to_owned()]))
            .set_configuration_set_name(self.configuration_set.clone())
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

    /// An order of a product titled `title` (9.00 CNY, edition v2, 5 downloads), made
    /// 2026-11-21 10:00 UTC with no language, and its grant.
    fn sample(title: &str) -> (Order, Grant) {
        let product = Product::new(
            ProductId::parse("b").unwrap(),
            title,
            Money::parse_decimal("9.00", Currency::Cny).unwrap(),
            crate::product::Edition::parse("v2").expect("valid product"),
            crate::product::FileSet::one(FileRef {
                key: "k".into(),
                name: "b.pdf".into(),
                content_type: "application/pdf".into(),
                sha256: None,
                size: None,
            }),
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
        (order, grant)
    }

    #[test]
    fn purchase_mail_has_link_count_order_and_help_and_escapes_html() {
        let (order, grant) = sample("Tips & <script>alert(1)</script>");
        let link = format!("https://shop.example.com/download/{}", grant.token.expose());
        let help = Sender::parse("help@shop.example.com").unwrap();
        let m = purchase_mail(&order, &grant, &link, &help, Lang::EN);
        assert_eq!(m.subject, "Your download: Tips & <script>alert(1)</script>");
        for part in [&m.text, &m.html] {
            assert!(part.contains(&link));
            assert!(part.contains("5 downloads"));
            assert!(part.contains("K1"));
            assert!(part.contains("help@shop.example.com"));
            assert!(part.contains("¥9.00"));
            assert!(part.contains("UTC"), "the time zone is named");
        }
        assert!(m.html.contains("Tips &amp; &lt;script&gt;"));
        assert!(!m.html.contains("<script>"));
        assert!(m.html.contains("<html lang=\"en\">"));
        assert!(m.text.contains("Files: b.pdf\n"), "{}", m.text);

        // Several files: the mail names each, and the count is of each file.
        let mut three = grant.clone();
        let f = three.files.first().clone();
        three.files = crate::product::FileSet::new(
            ["b.pdf", "b.epub", "code.zip"]
                .iter()
                .map(|n| FileRef {
                    name: (*n).into(),
                    ..f.clone()
                })
                .collect(),
        )
        .unwrap();
        let m = purchase_mail(&order, &three, &link, &help, Lang::EN);
        for part in [&m.text, &m.html] {
            assert!(part.contains("Files: b.pdf, b.epub, code.zip"), "{part}");
            assert!(part.contains("5 downloads of each file"), "{part}");
        }

        // The order's language wins over the shop's default; the title stays the author's.
        let mut zh_order = order.clone();
        zh_order.lang = Lang::parse("zh-CN");
        let m = purchase_mail(&zh_order, &grant, &link, &help, Lang::EN);
        assert_eq!(m.subject, "你的下载：Tips & <script>alert(1)</script>");
        for part in [&m.text, &m.html] {
            assert!(
                part.contains("5 次下载") && part.contains("北京时间"),
                "{part}"
            );
            assert!(part.contains(&link) && part.contains("help@shop.example.com"));
        }
        assert!(m.html.contains("<html lang=\"zh-CN\">"));
    }

    /// One language fallback (issue 34): an order that recorded no language gets the
    /// shop's default in its purchase and its new-edition mail alike (the edition mail
    /// used to fall back to English).
    #[test]
    fn every_mail_about_an_order_without_a_language_uses_the_shop_default() {
        let (order, grant) = sample("Book");
        assert_eq!(order.lang, None);
        let help = Sender::parse("help@shop.example.com").unwrap();
        let zh = Lang::parse("zh-CN").unwrap();
        let purchase = purchase_mail(&order, &grant, "https://x/d", &help, zh);
        let edition = edition_mail(&order, &grant, "https://x/d", None, &help, zh);
        for m in [&purchase, &edition] {
            assert!(m.html.contains("<html lang=\"zh-CN\">"), "{}", m.subject);
        }
    }
}
