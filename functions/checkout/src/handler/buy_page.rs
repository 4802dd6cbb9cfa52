//! `GET /buy/{product_id}`: the hosted buy page.

use kiosk::checkout::{Checkout, CheckoutError};
use kiosk::form::parse_form;
use kiosk::i18n::{Arg, Lang};
use kiosk::order::Source;
use kiosk_web::{header_str, pages, request_lang};
use lambda_http::http::{Method, StatusCode, header};
use lambda_http::{Body, Request, Response};
use time::OffsetDateTime;

use super::checkout::price_problem;
use super::{Missing, lookup, out_of_time};

/// `GET /buy/{product_id}`: the hosted buy page, rendered from the product as stored.
/// The `utm_*` parameters of its URL and the page that linked to it (`Referer`) ride
/// along as hidden fields, since the buy page itself sends no referrer.
///
/// `?embed={origin}` (what `kiosk.js` adds) asks for the page in its overlay: when
/// `origin` is one the shop allows (`EMBED_ORIGINS`), that origin alone may frame it and
/// the page talks to it with `postMessage`; any other value gets the ordinary page,
/// which no site may frame.
pub(super) async fn buy_page(
    shop: &Checkout,
    req: &Request,
    id: &str,
    now: OffsetDateTime,
) -> Response<Body> {
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
    // "PDF", or "PDF + EPUB + ZIP": each file's extension, when every file has one.
    let kinds: Option<Vec<String>> = product
        .files()
        .iter()
        .map(|f| {
            f.name
                .rsplit_once('.')
                .map(|(_, ext)| ext.to_ascii_uppercase())
                .filter(|ext| !ext.is_empty() && ext.len() <= 8)
        })
        .collect();
    let kind = kinds.map(|k| k.join(" + "));
    let names: Vec<&str> = product.files().iter().map(|f| f.name.as_str()).collect();
    let html = pages::buy(&pages::BuyForm {
        lang,
        product_id: product.id().as_str(),
        title: product.title(),
        price: &price,
        edition: product.edition().as_str(),
        file_kind: kind.as_deref(),
        files: &names,
        stamped: product.stamp(),
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
