//! Translate a checkout request into [`Checkout::start`] and its result into a response:
//! `303` to the payment page for forms, `{order_id, pay_url}` for JSON clients; errors as
//! an HTML page or JSON per `Accept`. Nothing is written on any error. A checkout not
//! finished within the request's deadline ([`kiosk::deadline`]) answers 503 "try again" (an order it wrote meanwhile stays pending and expires).

use kiosk::channel::{ChannelError, Device};
use kiosk::checkout::{BuyPage, Checkout, CheckoutError, CheckoutRequest, Started};
use kiosk::form::parse_form;
use kiosk::i18n::{Arg, Lang};
use kiosk::order::{ChannelKind, Source};
use kiosk::pricing::PriceError;
use kiosk::{Email, ProductId};
use kiosk_web::{BodyError, body_text, header_str, is_json_body, pages, request_lang, wants_json};
use lambda_http::http::{Method, StatusCode, header};
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::json;
use time::OffsetDateTime;

/// A client error, naming the field when there is one: `message` in English for JSON
/// clients (scripts, read by developers), `id` the catalog message a buyer's HTML page
/// shows in their language.
#[derive(Debug)]
struct Problem {
    status: StatusCode,
    field: Option<&'static str>,
    message: String,
    id: &'static str,
    args: Vec<(&'static str, String)>,
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
fn read_body(req: &Request) -> Result<JsonBody, Problem> {
    if req.method() != Method::POST {
        return Err(Problem::status(
            StatusCode::METHOD_NOT_ALLOWED,
            "checkout-unreadable",
            "use POST",
        ));
    }
    let text = body_text(req).map_err(|e| match e {
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
    if is_json_body(req) {
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

fn parse(req: &Request, body: JsonBody, lang: Lang) -> Result<CheckoutRequest, Problem> {
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
    let device = Device::choose(body.device.as_deref(), header_str(req, header::USER_AGENT))
        .map_err(|m| Problem::field("device", "checkout-device", m))?;
    let channel = match body.channel.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(c) => Some(c.parse::<ChannelKind>().map_err(|_| {
            Problem::field(
                "channel",
                "checkout-channel",
                format!("channel must be \"alipay\" or \"stripe\", got {c:?}"),
            )
        })?),
    };
    let source = Source {
        utm_source: Source::field(body.utm_source.as_deref()),
        utm_medium: Source::field(body.utm_medium.as_deref()),
        utm_campaign: Source::field(body.utm_campaign.as_deref()),
        referrer: Source::field(
            body.referrer
                .as_deref()
                .or_else(|| header_str(req, header::REFERER)),
        ),
        // Set from the signed token, never from the request (kiosk::checkout).
        visit: None,
    };
    Ok(CheckoutRequest {
        product_id,
        email,
        device,
        channel,
        source,
        network: kiosk::resend::Network::of(kiosk_web::source_ip(req)),
        lang,
        // A visitor who asked not to be tracked (or a robot) is in no test.
        variants: match kiosk::visit::opted_out(
            header_str(req, header::HeaderName::from_static("sec-gpc")),
            header_str(req, header::HeaderName::from_static("dnt")),
        ) || kiosk::visit::is_bot(header_str(req, header::USER_AGENT))
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

/// A price that could not be made, for the buyer: the English message for JSON clients,
/// the catalog's for the page, each naming the bound or the code.
fn price_problem(lang: Lang, e: &PriceError) -> Problem {
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
const CODE_INVALID: &str = "this discount code cannot be used here";

/// The name of a way to pay, in the buyer's language.
fn channel_name(lang: Lang, name: &str) -> String {
    lang.t(if name == "alipay" {
        "channel-alipay"
    } else {
        "channel-card"
    })
}

fn problem_response(req: &Request, lang: Lang, p: &Problem) -> Response<Body> {
    if wants_json(req) {
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

/// CORS for a shop page on another origin that calls checkout with `fetch` (JSON): the
/// origins in `CORS_ALLOWED_ORIGINS` get their preflight answered and
/// `Access-Control-Allow-Origin` on every reply; any other origin gets no CORS header, so
/// its browser keeps the reply from its script. No credentials are involved (checkout
/// uses no cookies), so none are allowed.
pub async fn handle(shop: &Checkout, req: Request, now: OffsetDateTime) -> Response<Body> {
    if req.uri().path() == "/kiosk.js" {
        return kiosk_js(&req);
    }
    if let Some(id) = req.uri().path().strip_prefix("/buy/") {
        // Boxed: the page's future is large, and callers nest it in their own.
        return Box::pin(buy_page(shop, &req, id, now)).await;
    }
    if let Some(id) = req.uri().path().strip_prefix("/products/") {
        return product_json(shop, &req, id).await;
    }
    let origin = header_str(&req, header::ORIGIN)
        .filter(|o| {
            shop.cors_origins()
                .iter()
                .any(|a| a.eq_ignore_ascii_case(o))
        })
        .map(str::to_owned);
    let mut resp = if req.method() == Method::OPTIONS {
        let status = if origin.is_some() {
            StatusCode::NO_CONTENT
        } else {
            StatusCode::FORBIDDEN
        };
        let mut r = kiosk_web::text(status, "");
        if origin.is_some() {
            let h = r.headers_mut();
            h.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                header::HeaderValue::from_static("POST"),
            );
            h.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                header::HeaderValue::from_static("content-type, accept"),
            );
            h.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                header::HeaderValue::from_static("600"),
            );
        }
        r
    } else {
        let deadline = kiosk_web::deadline(&req);
        let json = wants_json(&req);
        match deadline.run(Box::pin(checkout(shop, &req, now))).await {
            Some(resp) => resp,
            None => {
                tracing::error!("checkout: out of time");
                out_of_time(request_lang(&req, None, shop.default_lang()), json)
            }
        }
    };
    if !shop.cors_origins().is_empty() {
        resp.headers_mut()
            .append(header::VARY, header::HeaderValue::from_static("Origin"));
    }
    if let Some(value) = origin.and_then(|o| header::HeaderValue::from_str(&o).ok()) {
        resp.headers_mut()
            .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
    }
    resp
}

/// `kiosk.js` (the overlay checkout for the author's pages), built into this binary.
pub const KIOSK_JS: &str = include_str!("../assets/kiosk.js");

/// The version of [`KIOSK_JS`] this binary serves: its `ETag`, and the `v=` of the URL
/// that may be cached for a year (`/kiosk.js?v={version}`).
pub fn kiosk_js_version() -> &'static str {
    static VERSION: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    VERSION.get_or_init(|| kiosk_web::version_of(KIOSK_JS.as_bytes()))
}

/// `GET /kiosk.js`.
fn kiosk_js(req: &Request) -> Response<Body> {
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        return kiosk_web::text(StatusCode::METHOD_NOT_ALLOWED, "use GET");
    }
    kiosk_web::script(req, KIOSK_JS, kiosk_js_version())
}

/// `GET /buy/{product_id}`: the hosted buy page, rendered from the product as stored.
/// The `utm_*` parameters of its URL and the page that linked to it (`Referer`) ride
/// along as hidden fields, since the buy page itself sends no referrer.
///
/// `?embed={origin}` (what `kiosk.js` adds) asks for the page in its overlay: when
/// `origin` is one the shop allows (`EMBED_ORIGINS`), that origin alone may frame it and
/// the page talks to it with `postMessage`; any other value gets the ordinary page,
/// which no site may frame.
async fn buy_page(shop: &Checkout, req: &Request, id: &str, now: OffsetDateTime) -> Response<Body> {
    let query = parse_form(req.uri().query().unwrap_or("")).unwrap_or_default();
    let lang = request_lang(
        req,
        query.get("lang").map(String::as_str),
        shop.default_lang(),
    );
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        return kiosk_web::html(
            StatusCode::METHOD_NOT_ALLOWED,
            pages::error(lang, "buy-view-only-title", "buy-view-only-body"),
        );
    }
    let page = match lookup(shop, req, id).await {
        Ok(page) => page,
        Err(Missing::NotFound) => {
            return kiosk_web::html(
                StatusCode::NOT_FOUND,
                pages::error(lang, "product-not-found-title", "product-not-found-body"),
            );
        }
        Err(Missing::Failed) => {
            return kiosk_web::html(
                StatusCode::INTERNAL_SERVER_ERROR,
                pages::error(lang, "error-title", "error-try-again"),
            );
        }
        Err(Missing::OutOfTime) => return out_of_time(lang, false),
    };
    let embed = query
        .get("embed")
        .and_then(|o| shop.embed_origin(o))
        .map(str::to_owned);
    let mut hidden: Vec<(&str, String)> = ["utm_source", "utm_medium", "utm_campaign"]
        .into_iter()
        .filter_map(|k| Source::field(query.get(k).map(String::as_str)).map(|v| (k, v)))
        .collect();
    // The page that linked here; a language switch carries it along, since this page
    // sends no referrer itself.
    let referrer = Source::field(header_str(req, header::REFERER))
        .or_else(|| Source::field(query.get("referrer").map(String::as_str)));
    if let Some(r) = &referrer {
        hidden.push(("referrer", r.clone()));
    }
    // The variants the page showed, signed by the collect function: carried to
    // checkout as they are (checkout verifies them), when they look like a token.
    if let Some(vt) = query
        .get("vt")
        .filter(|v| kiosk::abtest::VariantToken::looks_like(v))
    {
        hidden.push(("vt", vt.clone()));
        if query.get("vn").is_some_and(|v| v == "1") {
            hidden.push(("vn", "1".to_owned()));
        }
    }
    let other_languages: Vec<(Lang, String)> = Lang::all()
        .filter(|l| *l != lang)
        .map(|l| {
            let mut params: Vec<(String, String)> = hidden
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect();
            if let Some(origin) = &embed {
                params.push(("embed".into(), origin.clone()));
            }
            params.push(("lang".into(), l.tag().to_owned()));
            (
                l,
                format!("{}?{}", page.buy_url, kiosk::form::encode_pairs(&params)),
            )
        })
        .collect();
    let network = kiosk::net::Network::of(kiosk_web::source_ip(req));
    // The proof a free claim from this page needs ([`kiosk::claim`]); every product
    // carries it, since a code or an amount of 0 can make any product free.
    match kiosk_web::deadline(req)
        .run(shop.claim_token(page.product.id(), &network, now))
        .await
    {
        Some(Ok(token)) => hidden.push(("claim", token.as_str().to_owned())),
        Some(Err(e)) => {
            tracing::error!(error = %kiosk::error_chain(&e), "buy page: no claim token");
        }
        None => return out_of_time(lang, false),
    }
    let hidden: Vec<(&str, &str)> = hidden.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let channels: Vec<&str> = page.channels.iter().map(|k| k.as_str()).collect();
    let product = &page.product;
    let list = lang.price(product.price());
    let mut price = list.clone();
    // Pay what you want: the field, with the suggested amount filled in.
    let bounds = product.pay_what_you_want().map(|b| {
        (
            product.price().to_decimal(),
            lang.price(b.min),
            lang.price(b.max),
        )
    });
    let amount = bounds
        .as_ref()
        .map(|(suggested, min, max)| pages::AmountField {
            suggested,
            min,
            max,
            suggested_price: &list,
        });
    // A code the buyer arrived with (`?code=`): the page shows the price it makes, or
    // why it cannot be used; the checkout decides again when the form is sent.
    let code_text = query
        .get("code")
        .map(|c| kiosk::pricing::CodeName::as_typed(c))
        .unwrap_or_default();
    let mut applied = None;
    let mut problem = None;
    let offer_code = kiosk::pricing::offers_codes(product).is_ok();
    let mut code_value = code_text.as_str();
    if offer_code && !code_text.is_empty() {
        let tried = kiosk_web::deadline(req)
            .run(shop.try_code(product, &code_text, &network, now))
            .await;
        match tried {
            None => return out_of_time(lang, false),
            Some(Err(CheckoutError::TooManyCodes)) => {
                return kiosk_web::html(
                    StatusCode::TOO_MANY_REQUESTS,
                    pages::error(
                        lang,
                        "checkout-codes-too-many-title",
                        "checkout-codes-too-many",
                    ),
                );
            }
            Some(Err(CheckoutError::Price(e))) => {
                if e.hides_code() {
                    // Not echoed: the page is the same whatever was typed.
                    code_value = "";
                }
                let p = price_problem(lang, &e);
                let args: Vec<(&str, Arg)> =
                    p.args.iter().map(|(k, v)| (*k, Arg::Text(v))).collect();
                problem = Some(lang.tr(p.id, &args));
            }
            Some(Err(e)) => {
                tracing::error!(error = %kiosk::error_chain(&e), "buy page: code lookup failed");
                return kiosk_web::html(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    pages::error(lang, "error-title", "error-try-again"),
                );
            }
            Some(Ok(q)) => {
                let was = std::mem::replace(&mut price, lang.price(q.amount));
                applied = Some(lang.tr(
                    "buy-code-applied",
                    &[
                        ("code", Arg::Text(&code_text.to_ascii_uppercase())),
                        ("price", Arg::Text(&price)),
                        ("was", Arg::Text(&was)),
                    ],
                ));
            }
        }
    }
    let code = offer_code.then_some(pages::CodeField {
        value: code_value,
        applied: applied.as_deref(),
        problem: problem.as_deref(),
    });
    let file = &product.file().name;
    let kind = file
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_uppercase())
        .filter(|ext| !ext.is_empty() && ext.len() <= 8);
    let html = pages::buy(&pages::BuyForm {
        lang,
        product_id: product.id().as_str(),
        title: product.title(),
        price: &price,
        edition: product.edition().as_str(),
        file_kind: kind.as_deref(),
        downloads: product.download_limit(),
        action: &page.checkout_url,
        channels: &channels,
        hidden: &hidden,
        embed: embed.as_deref(),
        other_languages: &other_languages,
        amount,
        code,
        free: product.is_free(),
    });
    match &embed {
        Some(host) => kiosk_web::html_embedded(StatusCode::OK, html, host),
        None => kiosk_web::html(StatusCode::OK, html),
    }
}

/// `GET /products/{product_id}`: the product's public facts as JSON, for a page that
/// shows the live price (`data-kiosk-price`): any origin may read it (nothing private,
/// no credentials), and it is never cached, so a price changed with `kiosk` shows at once.
async fn product_json(shop: &Checkout, req: &Request, id: &str) -> Response<Body> {
    let reply = |status, value: serde_json::Value| {
        let mut r = kiosk_web::json(status, &value);
        r.headers_mut().insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            header::HeaderValue::from_static("*"),
        );
        r
    };
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        return reply(
            StatusCode::METHOD_NOT_ALLOWED,
            json!({ "error": { "field": null, "message": "use GET" } }),
        );
    }
    let retry = json!({ "error": { "field": null, "message": "please try again in a moment" } });
    let page = match lookup(shop, req, id).await {
        Ok(page) => page,
        Err(Missing::NotFound) => {
            return reply(
                StatusCode::NOT_FOUND,
                json!({ "error": { "field": "product_id", "message": "no such product" } }),
            );
        }
        Err(Missing::Failed) => return reply(StatusCode::INTERNAL_SERVER_ERROR, retry),
        Err(Missing::OutOfTime) => return reply(StatusCode::SERVICE_UNAVAILABLE, retry),
    };
    let p = &page.product;
    let channels: Vec<&str> = page.channels.iter().map(|k| k.as_str()).collect();
    reply(
        StatusCode::OK,
        json!({
            "id": p.id().as_str(),
            "title": p.title(),
            "price": p.price().to_decimal(),
            "currency": p.price().currency().code(),
            "display_price": request_lang(req, None, shop.default_lang()).price(p.price()),
            // Pay what you want: `price` is the suggested amount, within these bounds.
            "pay_what_you_want": p.pay_what_you_want().map(|b| json!({
                "min": b.min.to_decimal(),
                "max": b.max.to_decimal(),
            })),
            "edition": p.edition().as_str(),
            "downloads": p.download_limit(),
            "channels": channels,
            "buy_url": page.buy_url,
        }),
    )
}

/// Why a product's page or facts cannot be shown.
enum Missing {
    NotFound,
    Failed,
    OutOfTime,
}

/// The product `id` (from the path) as the buy page and its JSON show it, read within
/// the request's deadline; a malformed id is simply not found.
async fn lookup(shop: &Checkout, req: &Request, id: &str) -> Result<BuyPage, Missing> {
    let id = ProductId::parse(id).map_err(|_| Missing::NotFound)?;
    match kiosk_web::deadline(req).run(shop.buy_page(&id)).await {
        Some(Ok(Some(page))) => Ok(page),
        Some(Ok(None)) => Err(Missing::NotFound),
        Some(Err(e)) => {
            tracing::error!(error = %kiosk::error_chain(&e), "product lookup failed");
            Err(Missing::Failed)
        }
        None => Err(Missing::OutOfTime),
    }
}

/// The reply when checkout did not finish within the request's deadline (a slow
/// provider or store): nothing the buyer must undo; an order written meanwhile stays
/// pending and expires like any unpaid one.
fn out_of_time(lang: Lang, json: bool) -> Response<Body> {
    if json {
        let message = "We could not start your checkout in time. Please try again in a moment.";
        kiosk_web::json(
            StatusCode::SERVICE_UNAVAILABLE,
            &json!({ "error": { "field": null, "message": message } }),
        )
    } else {
        kiosk_web::html(
            StatusCode::SERVICE_UNAVAILABLE,
            pages::error(lang, "error-title", "checkout-out-of-time"),
        )
    }
}

async fn checkout(shop: &Checkout, req: &Request, now: OffsetDateTime) -> Response<Body> {
    let body = match read_body(req) {
        Ok(b) => b,
        Err(p) => return problem_response(req, request_lang(req, None, shop.default_lang()), &p),
    };
    let lang = request_lang(req, body.lang.as_deref(), shop.default_lang());
    let parsed = match parse(req, body, lang) {
        Ok(r) => r,
        Err(p) => return problem_response(req, lang, &p),
    };
    let problem = match shop.start(parsed, now).await {
        Ok(Started::Pay(started)) if wants_json(req) => {
            return kiosk_web::json(
                StatusCode::OK,
                &json!({ "order_id": started.order_id.as_str(), "pay_url": started.pay_url }),
            );
        }
        Ok(Started::Pay(started)) => return kiosk_web::see_other(lang, &started.pay_url),
        // Free: the link goes by mail only (the address is proven by it), so the reply
        // says where it went and shows no link.
        Ok(Started::Mailed { email, .. }) if wants_json(req) => {
            // No order id: a claim for a blocked address (nothing mailed) must read the
            // same as one that was mailed.
            return kiosk_web::json(StatusCode::OK, &json!({ "mailed_to": email.as_str() }));
        }
        // A free claim without the shop page's token: nothing mailed until the buyer
        // confirms on this page (which carries a fresh token).
        Ok(Started::Confirm { product_id, email, title, claim, code, amount }) => {
            let confirm_url = format!("{}/buy/{}", shop.public_base_url(), product_id);
            if wants_json(req) {
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
    problem_response(req, lang, &problem)
}
