//! Every page and mail a buyer can see, rendered with sample data in any language: what
//! `kiosk preview` shows an author who adds or edits a language, and what the language
//! test walks (so the two can never disagree about what exists).

use kiosk::grant::{Grant, Unusable};
use kiosk::i18n::{Arg, Lang};
use kiosk::mail::{Mail, edition_mail, links_mail, purchase_mail};
use kiosk::order::{ChannelKind, Order, PayOutcome, Payment, Source};
use kiosk::product::{Edition, FileRef, FileSet, Product};
use kiosk::{Currency, DownloadToken, Email, Money, OrderId, ProductId, Sender};
use time::OffsetDateTime;
use time::macros::datetime;

use kiosk_web::pages;

/// The sample product's title: the author's text, never translated.
pub const SAMPLE_TITLE: &str = "The Little Book of Rust";
/// The sample buyer.
pub const SAMPLE_EMAIL: &str = "reader@example.com";
/// The sample shop's address for help (its `SenderEmail`).
pub const SAMPLE_HELP: &str = "help@example.com";
/// The sample order id.
pub const SAMPLE_ORDER: &str = "K20261128A1B2C3";
/// The sample author's note in a new-edition mail: the author's words, not translated.
pub const SAMPLE_NOTE: &str = "Two new chapters on async Rust.";
/// The sample purchase's license: its key and its signed form (shape only: not signed).
pub const SAMPLE_LICENSE_KEY: &str = "7KQ2M-XH9DP-4RWTB-ZC3NA-8YFJE";
pub const SAMPLE_SIGNED_LICENSE: &str =
    "KL1.eyJ2IjoxLCJwcm9kdWN0Ijoic2FtcGxlIn0.c2FtcGxlIHNpZ25hdHVyZQ";
const SAMPLE_TOKEN: &str = "ExampleGrantToken000000000000001";
const SAMPLE_BASE: &str = "https://api.example.com";

/// A page (HTML) or a mail (subject, text and HTML).
#[derive(Debug, Clone)]
pub struct Rendered {
    pub name: String,
    pub subject: Option<String>,
    pub text: Option<String>,
    pub html: String,
}

/// (title id, message id, placeholders) of one error page.
pub type ErrorPage = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

/// Error pages the functions show: (title id, message id, placeholders). A placeholder
/// value that is itself a message id (`channel-card`) is shown in the page's language,
/// as the functions do.
pub const ERROR_PAGES: &[ErrorPage] = &[
    ("error-title", "error-try-again", &[]),
    ("error-title", "error-refresh", &[]),
    ("error-title", "checkout-failed", &[]),
    ("error-title", "checkout-out-of-time", &[]),
    ("not-found-title", "not-found-body", &[]),
    ("product-not-found-title", "product-not-found-body", &[]),
    ("product-not-found-title", "checkout-unknown-product", &[]),
    ("buy-view-only-title", "buy-view-only-body", &[]),
    ("checkout-check-title", "checkout-unreadable", &[]),
    ("checkout-check-title", "checkout-product", &[]),
    ("checkout-check-title", "checkout-email", &[]),
    ("checkout-check-title", "checkout-device", &[]),
    ("checkout-check-title", "checkout-channel", &[]),
    (
        "checkout-check-title",
        "checkout-channel-off",
        &[("channel", "channel-card")],
    ),
    (
        "checkout-check-title",
        "checkout-channel-currency",
        &[("currency", "USD")],
    ),
    ("checkout-too-many-title", "checkout-too-many", &[]),
    ("checkout-too-large-title", "checkout-too-large", &[]),
    (
        "checkout-check-title",
        "checkout-amount-format",
        &[("input", "9.501"), ("min", "¥5.00"), ("example", "9.00")],
    ),
    (
        "checkout-check-title",
        "checkout-amount-low",
        &[("min", "¥5.00")],
    ),
    (
        "checkout-check-title",
        "checkout-amount-high",
        &[("max", "¥1200.00")],
    ),
    (
        "checkout-check-title",
        "checkout-amount-fixed",
        &[("price", "¥9.00")],
    ),
    (
        "checkout-check-title",
        "checkout-amount-channel",
        &[("channel", "channel-card"), ("smallest", "$0.50")],
    ),
    ("checkout-check-title", "checkout-code-invalid", &[]),
    (
        "checkout-check-title",
        "checkout-code-used-up",
        &[("code", "LAUNCH")],
    ),
    ("checkout-check-title", "checkout-code-free", &[]),
    ("checkout-check-title", "checkout-code-busy", &[]),
    (
        "checkout-codes-too-many-title",
        "checkout-codes-too-many",
        &[],
    ),
    ("checkout-too-many-title", "checkout-free-cap", &[]),
    ("checkout-check-title", "checkout-code-pwyw", &[]),
    ("checkout-too-many-title", "checkout-free-too-many", &[]),
    ("error-title", "checkout-free-off", &[]),
    ("return-invalid-title", "return-invalid-body", &[]),
    ("order-not-found-title", "order-not-found-body", &[]),
    ("resend-bad-email-title", "resend-bad-email-body", &[]),
    ("resend-no-email-title", "resend-no-email-body", &[]),
    ("resend-too-many-title", "resend-too-many-body", &[]),
];

fn at() -> OffsetDateTime {
    datetime!(2026-11-28 21:05 UTC)
}

fn sample() -> Option<(Product, Order, Grant, Sender)> {
    let id = ProductId::parse("little-book-of-rust").ok()?;
    let edition = Edition::parse("v2").ok()?;
    // Three files, the PDF stamped: every part of the pages that several files add shows.
    let files = [
        ("book.pdf", "application/pdf", 2_480_000),
        ("book.epub", "application/epub+zip", 910_000),
        ("code.zip", "application/zip", 64_000),
    ]
    .iter()
    .map(|(name, kind, size)| FileRef::for_edition(&id, &edition, name, kind, None, Some(*size)))
    .collect();
    let price = Money::parse_decimal("9.00", Currency::Cny).ok()?;
    let product = Product::new(
        id,
        SAMPLE_TITLE,
        price,
        edition,
        FileSet::new(files).ok()?,
        5,
    )
    .ok()?
    .with_stamp(true)
    .ok()?;
    let pending = Order::new_pending(
        OrderId::parse(SAMPLE_ORDER).ok()?,
        &product,
        Email::parse(SAMPLE_EMAIL).ok()?,
        ChannelKind::Alipay,
        Source::default(),
        at(),
        time::Duration::minutes(30),
    );
    let token = DownloadToken::parse(SAMPLE_TOKEN).ok()?;
    let payment = Payment {
        provider_txn_id: format!("T-{SAMPLE_ORDER}"),
        amount: pending.amount,
    };
    let Ok(PayOutcome::Paid(order)) = pending.pay(&payment, token.clone(), at()) else {
        return None;
    };
    let mut order = *order;
    // A licensed product's purchase: every page and mail that shows a license shows it.
    order.license = Some(kiosk::license::IssuedLicense {
        key: kiosk::license::LicenseKey::parse(SAMPLE_LICENSE_KEY)?,
        signed: Some(SAMPLE_SIGNED_LICENSE.to_owned()),
    });
    let mut grant = Grant::for_order(&order, token, Some(at() + time::Duration::days(30)), at());
    grant.downloads_left = vec![3, 5, 0];
    Some((product, order, grant, Sender::parse(SAMPLE_HELP).ok()?))
}

/// The sample grant's download page (three files, one used up).
fn download_page(lang: Lang, until: &str, preparing: Option<&str>) -> String {
    let files = [
        pages::DownloadFile {
            name: "book.pdf",
            size: Some(2_480_000),
            left: 3,
        },
        pages::DownloadFile {
            name: "book.epub",
            size: Some(910_000),
            left: 5,
        },
        pages::DownloadFile {
            name: "code.zip",
            size: Some(64_000),
            left: 0,
        },
    ];
    pages::download(&pages::DownloadPage {
        lang,
        title: SAMPLE_TITLE,
        edition: "v2",
        files: &files,
        limit: 5,
        expires: Some(until),
        token: SAMPLE_TOKEN,
        stamped: true,
        preparing,
        license: Some((SAMPLE_LICENSE_KEY, Some(SAMPLE_SIGNED_LICENSE))),
    })
}

fn page(name: &str, html: String) -> Rendered {
    Rendered {
        name: name.to_owned(),
        subject: None,
        text: None,
        html,
    }
}

fn mail(name: &str, m: Mail) -> Rendered {
    Rendered {
        name: name.to_owned(),
        subject: Some(m.subject),
        text: Some(m.text),
        html: m.html,
    }
}

/// Every page a buyer can see, in `lang`.
pub fn pages(lang: Lang) -> Vec<Rendered> {
    let Some((product, _, grant, help)) = sample() else {
        return Vec::new();
    };
    let price = lang.price(product.price());
    let others: Vec<(Lang, String)> = Lang::all()
        .filter(|l| *l != lang)
        .map(|l| {
            (
                l,
                format!("{SAMPLE_BASE}/buy/little-book-of-rust?lang={}", l.tag()),
            )
        })
        .collect();
    let min = lang.price(Money::from_minor(500, Currency::Cny).unwrap_or(product.price()));
    let max = lang.price(Money::from_minor(90_000, Currency::Cny).unwrap_or(product.price()));
    let reduced = lang.price(Money::from_minor(720, Currency::Cny).unwrap_or(product.price()));
    let applied = lang.tr(
        "buy-code-applied",
        &[
            ("code", Arg::Text("LAUNCH")),
            ("price", Arg::Text(&reduced)),
            ("was", Arg::Text(&price)),
        ],
    );
    let used_up = lang.tr("checkout-code-used-up", &[("code", Arg::Text("LAUNCH"))]);
    #[derive(Clone, Copy)]
    enum Pricing {
        Fixed,
        Code(bool),
        Pwyw,
        Free,
    }
    let priced =
        |pricing: Pricing, embed: Option<&'static str>, channels: &'static [&'static str]| {
            let suggested = product.price().to_decimal();
            pages::buy(&pages::BuyForm {
                lang,
                product_id: product.id().as_str(),
                title: product.title(),
                price: if matches!(pricing, Pricing::Code(true)) {
                    &reduced
                } else {
                    &price
                },
                edition: product.edition().as_str(),
                file_kind: Some("PDF + EPUB + ZIP"),
                files: &["book.pdf", "book.epub", "code.zip"],
                stamped: true,
                downloads: product.download_limit(),
                action: &format!("{SAMPLE_BASE}/checkout"),
                channels,
                hidden: &[("utm_source", "newsletter")],
                embed,
                other_languages: &others,
                amount: matches!(pricing, Pricing::Pwyw).then(|| pages::AmountField {
                    suggested: &suggested,
                    min: &min,
                    max: &max,
                    suggested_price: &price,
                }),
                code: match pricing {
                    Pricing::Fixed => Some(pages::CodeField {
                        value: "",
                        applied: None,
                        problem: None,
                    }),
                    Pricing::Code(true) => Some(pages::CodeField {
                        value: "LAUNCH",
                        applied: Some(&applied),
                        problem: None,
                    }),
                    Pricing::Code(false) => Some(pages::CodeField {
                        value: "LAUNCH",
                        applied: None,
                        problem: Some(&used_up),
                    }),
                    Pricing::Pwyw | Pricing::Free => None,
                },
                free: matches!(pricing, Pricing::Free),
            })
        };
    let form = |embed: Option<&'static str>, channels: &'static [&'static str]| {
        priced(Pricing::Fixed, embed, channels)
    };
    let url = grant.token.url_under(SAMPLE_BASE);
    let until = lang.datetime(at() + time::Duration::days(30));
    let mut all = vec![
        page("buy", form(None, &["alipay", "stripe"])),
        page(
            "buy-embedded",
            form(Some("https://books.example.com"), &["alipay"]),
        ),
        page("buy-unavailable", form(None, &[])),
        page("buy-code", priced(Pricing::Code(true), None, &["alipay"])),
        page(
            "buy-code-refused",
            priced(Pricing::Code(false), None, &["alipay"]),
        ),
        page(
            "buy-pay-what-you-want",
            priced(Pricing::Pwyw, None, &["alipay", "stripe"]),
        ),
        page("buy-free", priced(Pricing::Free, None, &["alipay"])),
        page(
            "free-sent",
            pages::free_sent(lang, SAMPLE_TITLE, SAMPLE_EMAIL),
        ),
        page(
            "free-confirm",
            pages::free_confirm(
                lang,
                SAMPLE_TITLE,
                SAMPLE_EMAIL,
                "https://shop.example.com/checkout",
                &[
                    ("product_id", "little-book"),
                    ("claim", "1800000000.0123456789abcdef0123456789abcdef"),
                ],
            ),
        ),
        page("redirecting", pages::redirecting(lang, &url)),
        page(
            "paid",
            pages::paid(
                lang,
                SAMPLE_TITLE,
                SAMPLE_ORDER,
                &url,
                SAMPLE_EMAIL,
                SAMPLE_HELP,
            ),
        ),
        page(
            "confirming",
            pages::confirming(lang, SAMPLE_TITLE, SAMPLE_ORDER, SAMPLE_HELP),
        ),
        page("confirming-later", pages::confirming_later(lang)),
        page(
            "refunded",
            pages::refunded(lang, SAMPLE_TITLE, SAMPLE_ORDER, SAMPLE_HELP),
        ),
        page("download", download_page(lang, &until, None)),
        page(
            "download-preparing",
            download_page(lang, &until, Some("book.pdf")),
        ),
        page("link-not-found", pages::not_found_link(lang)),
        page("resend-sent", pages::resend_sent(lang)),
    ];
    for (name, why, expired) in [
        ("used-up", Unusable::Exhausted, None),
        ("expired", Unusable::Expired, Some(until.as_str())),
        ("paused", Unusable::Suspended, None),
        ("refunded-link", Unusable::Revoked, None),
    ] {
        all.push(page(
            name,
            pages::gone(
                lang,
                why,
                SAMPLE_TITLE,
                SAMPLE_ORDER,
                help.as_str(),
                expired,
            ),
        ));
    }
    for (title, message, args) in ERROR_PAGES {
        let values: Vec<(&str, String)> = args
            .iter()
            .map(|(k, v)| {
                let v = if v.starts_with("channel-") {
                    lang.t(v)
                } else {
                    (*v).to_owned()
                };
                (*k, v)
            })
            .collect();
        let args: Vec<(&str, Arg)> = values.iter().map(|(k, v)| (*k, Arg::Text(v))).collect();
        all.push(page(
            &format!("error {message}"),
            pages::error_with(lang, title, &lang.tr(message, &args)),
        ));
    }
    all
}

/// Every mail a buyer can get, in `lang` (the sample order's language).
pub fn mails(lang: Lang) -> Vec<Rendered> {
    let Some((product, mut order, grant, help)) = sample() else {
        return Vec::new();
    };
    order.lang = Some(lang);
    let url = grant.token.url_under(SAMPLE_BASE);
    let mut free = order.clone();
    free.amount = Money::from_minor(0, Currency::Cny).unwrap_or(order.amount);
    let mut second = grant.clone();
    second.product_title = "Desk Wallpapers".into();
    second.edition = product.edition().clone();
    vec![
        mail("purchase", purchase_mail(&order, &grant, &url, &help, lang)),
        mail(
            "purchase-free",
            purchase_mail(&free, &grant, &url, &help, lang),
        ),
        mail(
            "edition",
            edition_mail(&order, &grant, &url, Some(SAMPLE_NOTE), &help, lang),
        ),
        mail(
            "links",
            links_mail(&[(grant.clone(), url.clone())], &help, lang),
        ),
        mail(
            "links-several",
            links_mail(&[(grant, url.clone()), (second, url)], &help, lang),
        ),
    ]
}

/// Every page and mail, in `lang`.
pub fn all(lang: Lang) -> Vec<Rendered> {
    let mut all = pages(lang);
    all.extend(mails(lang));
    all
}
