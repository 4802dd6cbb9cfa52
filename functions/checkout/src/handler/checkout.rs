//! `POST /checkout`: the request's fields, their problems, and the checkout itself.

use kiosk::channel::{ChannelError, Device};
use kiosk::checkout::{Checkout, CheckoutError, CheckoutRequest, Started};
use kiosk::form::parse_form;
use kiosk::i18n::{Arg, Lang};
use kiosk::order::{ChannelKind, Source};
use kiosk::pricing::PriceError;
use kiosk::{Email, ProductId};
use kiosk_web::{BodyError, Incoming, pages};
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::json;
use time::OffsetDateTime;

/// A client error, naming the field when there is one: `message` in English for JSON
/// clients (scripts, read by developers), `id` the catalog message a buyer's HTML page
/// shows in their language.
#[derive(Debug)]
pub(super) struct Problem {
    status: StatusCode,
    field: Option<&'static str>,
    message: String,
    pub(super) id: &'static str,
    pub(super) args: Vec<(&'static str, String)>,
}

impl Problem {
    fn field(field: &'static str, id: &'static str, message: impl Into<String>) -> Self {
        Problem {
            status: StatusCode::BAD_REQUEST,
            field: Some(field),
            message: message.into(),
            id,
            args: Vec::new(),
        }
    }
    fn status(status: StatusCode, id: &'static str, message: impl Into<String>) -> Self {
        Problem {
            status,
            field: None,
            message: message.into(),
            id,
            args: Vec::new(),
        }
    }
    fn arg(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.args.push((name, value.into()));
        self
    }
}

#[derive(Deserialize, Default)]
struct JsonBody {
    product_id: Option<String>,
    email: Option<String>,
    device: Option<String>,
    channel: Option<String>,
    utm_source: Option<String>,
    utm_medium: Option<String>,
    utm_campaign: Option<String>,
    /// The page that linked to the hosted buy page (which itself sends no referrer).
    referrer: Option<String>,
    /// The buyer's language (the buy page's choice); else `Accept-Language`.
    lang: Option<String>,
    /// The signed A/B variants the page showed (`vt`), as `kiosk.js` passed them to
    /// the buy page ([`kiosk::abtest::VariantToken`]).
    vt: Option<String>,
    /// `1` when the page showed each test's first variant, not the token's (`kiosk.js`'s
    /// answer came too late): the order then records the visit but no variants.
    vn: Option<String>,
    /// Pay what you want: the amount the buyer typed (`"12.50"`).
    amount: Option<String>,
    /// A discount code, as typed.
    code: Option<String>,
    /// The buy page's token for a free claim ([`kiosk::claim`]).
    claim: Option<String>,
}

/// The request's fields, as a form or JSON.
fn read_body(req: &Incoming<'_>) -> Result<JsonBody, Problem> {
    if *req.method != Method::POST {
        return Err(Problem::status(
            StatusCode::METHOD_NOT_ALLOWED,
            "checkout-unreadable",
            "use POST",
        ));
    }
    let text = req.body.map_err(|e| match e {
        BodyError::TooLarge => Problem::status(
            StatusCode::PAYLOAD_TOO_LARGE,
            "checkout-too-large",
            "request body is larger than 16 KiB",
        ),
        BodyError::NotUtf8 => Problem::status(
            StatusCode::BAD_REQUEST,
            "checkout-unreadable",
            "request body is not UTF-8",
        ),
    })?;
    if req.json_body {
        serde_json::from_str(text).map_err(|e| {
            Problem::status(
                StatusCode::BAD_REQUEST,
                "checkout-unreadable",
                format!("request body is not valid JSON: {e}"),
            )
        })
    } else {
        let mut f = parse_form(text).map_err(|e| {
            Problem::status(
                StatusCode::BAD_REQUEST,
                "checkout-unreadable",
                e.to_string(),
            )
        })?;
        Ok(JsonBody {
            product_id: f.remove("product_id"),
            email: f.remove("email"),
            device: f.remove("device"),
            channel: f.remove("channel"),
            utm_source: f.remove("utm_source"),
            utm_medium: f.remove("utm_medium"),
            utm_campaign: f.remove("utm_campaign"),
            referrer: f.remove("referrer"),
            lang: f.remove("lang"),
            vt: f.remove("vt"),
            vn: f.remove("vn"),
            amount: f.remove("amount"),
            code: f.remove("code"),
            claim: f.remove("claim"),
        })
    }
}

fn parse(req: &Incoming<'_>, body: JsonBody, lang: Lang) -> Result<CheckoutRequest, Problem> {
    let product_id = body
        .product_id
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| {
            Problem::field("product_id", "checkout-product", "product_id is required")
        })?;
    let product_id = ProductId::parse(product_id.trim())
        .map_err(|e| Problem::field("product_id", "checkout-product", e.to_string()))?;
    let email = body
        .email
        .ok_or_else(|| Problem::field("email", "checkout-email", "email is required"))?;
    let email = Email::parse(&email)
        .map_err(|e| Problem::field("email", "checkout-email", e.to_string()))?;
    let device = Device::choose(body.device.as_deref(), req.user_agent)
        .map_err(|m| Problem::field("device", "checkout-device", m))?;
    let channel = match body.channel.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(c) => Some(c.parse::<ChannelKind>().map_err(|_| {
            Problem::field(
                "channel",
                "checkout-channel",
                format!("channel must be \"alipay\", \"stripe\" or \"wechat\", got {c:?}"),
            )
        })?),
    };
    let source = Source {
        utm_source: Source::field(body.utm_source.as_deref()),
        utm_medium: Source::field(body.utm_medium.as_deref()),
        utm_campaign: Source::field(body.utm_campaign.as_deref()),
        referrer: Source::field(body.referrer.as_deref().or(req.referer)),
        // Set from the signed token, never from the request (kiosk::checkout).
        visit: None,
    };
    Ok(CheckoutRequest {
        product_id,
        email,
        device,
        channel,
        source,
        network: kiosk::resend::Network::of(req.source_ip),
        // Inside WeChat's own browser, WeChat Pay's H5 cashier refuses to open (and JSAPI
        // pay needs an official account): without the address such a buyer is shown
        // the QR page, which says what they can do. Other channels ignore the address.
        payer: match in_wechat(req.user_agent) {
            true => None,
            false => kiosk::net::PayerAddress::of(req.source_ip),
        },
        lang,
        // A visitor who asked not to be tracked (or a robot) is in no test.
        variants: match kiosk::visit::opted_out(req.sec_gpc, req.dnt)
            || kiosk::visit::is_bot(req.user_agent)
        {
            true => None,
            false => body.vt,
        },
        variants_shown: body.vn.as_deref() != Some("1"),
        amount: body.amount,
        code: body.code,
        claim: body.claim,
    })
}

/// Whether the request comes from WeChat's own in-app browser.
fn in_wechat(user_agent: Option<&str>) -> bool {
    user_agent.is_some_and(|ua| ua.to_ascii_lowercase().contains("micromessenger"))
}

/// A price that could not be made, for the buyer: the English message for JSON clients,
/// the catalog's for the page, each naming the bound or the code.
pub(super) fn price_problem(lang: Lang, e: &PriceError) -> Problem {
    let price = |m: kiosk::Money| lang.price(m);
    let code = |id, c: &kiosk::pricing::CodeName| ("code", id, vec![("code", c.to_string())]);
    let (field, id, args): (&str, &str, Vec<(&str, String)>) = match e {
        PriceError::AmountFormat { input, min } => (
            "amount",
            "checkout-amount-format",
            vec![
                ("input", input.clone()),
                ("min", price(*min)),
                ("example", min.currency().example().to_owned()),
            ],
        ),
        PriceError::BelowMinimum { min } => {
            ("amount", "checkout-amount-low", vec![("min", price(*min))])
        }
        PriceError::AboveMaximum { max } => {
            ("amount", "checkout-amount-high", vec![("max", price(*max))])
        }
        PriceError::FixedPrice { price: p } => (
            "amount",
            "checkout-amount-fixed",
            vec![("price", price(*p))],
        ),
        // One answer, without the code, for every code that does not work here
        // (`PriceError::hides_code`).
        PriceError::UnknownCode(_)
        | PriceError::ExpiredCode(_)
        | PriceError::DisabledCode(_)
        | PriceError::NotForProduct(_) => ("code", "checkout-code-invalid", Vec::new()),
        PriceError::UsedUpCode(c) => code("checkout-code-used-up", c),
        PriceError::CodeWithPayWhatYouWant => ("code", "checkout-code-pwyw", Vec::new()),
        PriceError::CodeOnFreeProduct => ("code", "checkout-code-free", Vec::new()),
    };
    let message = if e.hides_code() {
        CODE_INVALID.to_owned()
    } else {
        e.to_string()
    };
    let mut p = Problem::field(field, id, message);
    p.args = args;
    p
}

/// The one answer (for JSON clients) to a code that does not exist, is disabled, has
/// expired or is another product's.
pub(super) const CODE_INVALID: &str = "this discount code cannot be used here";

/// The name of a way to pay, in the buyer's language.
pub(super) fn channel_name(lang: Lang, name: &str) -> String {
    kiosk_web::pages::channel_label(lang, name)
}

/// `p` as JSON (for a caller that `wants_json`) or as a page in `lang`.
pub(super) fn problem_response(wants_json: bool, lang: Lang, p: &Problem) -> Response<Body> {
    if wants_json {
        kiosk_web::json(
            p.status,
            &json!({ "error": { "field": p.field, "message": p.message } }),
        )
    } else {
        let title = match p.status {
            StatusCode::NOT_FOUND => "product-not-found-title",
            StatusCode::TOO_MANY_REQUESTS => "checkout-too-many-title",
            StatusCode::CONFLICT => "checkout-check-title",
            StatusCode::PAYLOAD_TOO_LARGE => "checkout-too-large-title",
            s if s.is_server_error() => "error-title",
            _ => "checkout-check-title",
        };
        let args: Vec<(&str, Arg)> = p.args.iter().map(|(k, v)| (*k, Arg::Text(v))).collect();
        kiosk_web::html(
            p.status,
            pages::error_with(lang, title, &lang.tr(p.id, &args)),
        )
    }
}

pub(super) async fn checkout(
    shop: &Checkout,
    req: &Request,
    now: OffsetDateTime,
) -> Response<Body> {
    // Everything this route reads of the request, read once.
    let req = &Incoming::of(req);
    let json = req.wants_json;
    let body = match read_body(req) {
        Ok(b) => b,
        Err(p) => {
            let lang = Lang::choose(None, req.accept_language, shop.default_lang());
            return problem_response(json, lang, &p);
        }
    };
    let lang = Lang::choose(
        body.lang.as_deref(),
        req.accept_language,
        shop.default_lang(),
    );
    let parsed = match parse(req, body, lang) {
        Ok(r) => r,
        Err(p) => return problem_response(json, lang, &p),
    };
    let problem = match shop.start(parsed, now).await {
        Ok(Started::Pay(started)) if json => {
            return kiosk_web::json(
                StatusCode::OK,
                &json!({ "order_id": started.order_id.as_str(), "pay_url": started.pay_url }),
            );
        }
        Ok(Started::Pay(started)) => return kiosk_web::see_other(lang, &started.pay_url),
        // Free: the link goes by mail only (the address is proven by it), so the reply
        // says where it went and shows no link.
        Ok(Started::Mailed { email, .. }) if json => {
            // No order id: a claim for a blocked address (nothing mailed) must read the
            // same as one that was mailed.
            return kiosk_web::json(StatusCode::OK, &json!({ "mailed_to": email.as_str() }));
        }
        // A free claim without the shop page's token: nothing mailed until the buyer
        // confirms on this page (which carries a fresh token).
        Ok(Started::Confirm { product_id, email, title, claim, code, amount }) => {
            let confirm_url = format!("{}/buy/{}", shop.public_base_url(), product_id);
            if json {
                return kiosk_web::json(
                    StatusCode::FORBIDDEN,
                    &json!({ "error": {
                        "field": "claim",
                        "message": "a free copy is mailed only from the shop's own page; confirm it there",
                    }, "confirm_url": confirm_url }),
                );
            }
            let mut hidden = vec![
                ("product_id", product_id.as_str()),
                ("email", email.as_str()),
                ("lang", lang.tag()),
                ("claim", claim.as_str()),
            ];
            // What made it free comes along, so the confirmed claim is the same claim.
            if let Some(c) = code.as_deref().filter(|c| !c.is_empty()) {
                hidden.push(("code", c));
            }
            if let Some(a) = amount.as_deref().filter(|a| !a.is_empty()) {
                hidden.push(("amount", a));
            }
            return kiosk_web::html(
                StatusCode::OK,
                pages::free_confirm(lang, &title, email.as_str(), &format!("{}/checkout", shop.public_base_url()), &hidden),
            );
        }
        Ok(Started::Mailed { email, title, .. }) => {
            return kiosk_web::html(
                StatusCode::OK,
                pages::free_sent(lang, &title, email.as_str()),
            );
        }
        Err(CheckoutError::Price(e)) => price_problem(lang, &e),
        Err(CheckoutError::Channel(ChannelError::TooSmall { channel, smallest })) => {
            let mut p = Problem::field(
                "amount",
                "checkout-amount-channel",
                format!("{channel} cannot charge less than {smallest}"),
            );
            p.args = vec![
                ("channel", channel_name(lang, channel)),
                ("smallest", lang.price(smallest)),
            ];
            p
        }
        Err(CheckoutError::TooManyFree) => Problem::status(
            StatusCode::TOO_MANY_REQUESTS,
            "checkout-free-too-many",
            "Too many free copies were asked for from your network or for this address. Please try again later.",
        ),
        Err(CheckoutError::FreeCapReached) => Problem::status(
            StatusCode::TOO_MANY_REQUESTS,
            "checkout-free-cap",
            "This shop has sent as many free copies as it can for now. Please try again in an hour.",
        ),
        Err(CheckoutError::TooManyCodes) => Problem::status(
            StatusCode::TOO_MANY_REQUESTS,
            "checkout-codes-too-many",
            "Too many discount codes that do not work were tried from your network. Please try again later.",
        ),
        Err(CheckoutError::CodeBusy) => Problem::status(
            StatusCode::CONFLICT,
            "checkout-code-busy",
            "Another checkout with this code is starting from your network. Please try again.",
        ),
        Err(CheckoutError::FreeOff) => Problem::status(
            StatusCode::SERVICE_UNAVAILABLE,
            "checkout-free-off",
            "This shop cannot send free copies right now.",
        ),
        Err(CheckoutError::UnknownProduct(id)) => Problem {
            status: StatusCode::NOT_FOUND,
            field: Some("product_id"),
            message: format!("there is no product {id}"),
            id: "checkout-unknown-product",
            args: Vec::new(),
        },
        Err(CheckoutError::Channel(ChannelError::Currency(c))) => Problem::field(
            "channel",
            "checkout-channel-currency",
            format!(
                "this product is priced in {c}, which this payment method cannot take; choose another"
            ),
        )
        .arg("currency", c.code()),
        Err(CheckoutError::TooMany) => Problem::status(
            StatusCode::TOO_MANY_REQUESTS,
            "checkout-too-many",
            "Too many checkouts were started from your network in the last hour. Please try again later; nothing was charged.",
        ),
        Err(CheckoutError::ChannelOff(name)) => Problem::field(
            "channel",
            "checkout-channel-off",
            format!("this shop does not take payments through {name}"),
        )
        .arg("channel", channel_name(lang, name)),
        Err(e) => {
            tracing::error!(error = %e, source = ?std::error::Error::source(&e), "checkout failed");
            Problem::status(
                StatusCode::INTERNAL_SERVER_ERROR,
                "checkout-failed",
                "We could not start your checkout. Please try again in a moment.",
            )
        }
    };
    problem_response(json, lang, &problem)
}
