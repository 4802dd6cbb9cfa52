//! `GET /products/{product_id}`: a product's public facts as JSON (live prices).

use kiosk::checkout::Checkout;
use kiosk_web::request_lang;
use lambda_http::http::{Method, StatusCode, header};
use lambda_http::{Body, Request, Response};
use serde_json::json;

use super::{Missing, lookup};

/// `GET /products/{product_id}`: the product's public facts as JSON, for a page that
/// shows the live price (`data-kiosk-price`): any origin may read it (nothing private,
/// no credentials), and it is never cached, so a price changed with `kiosk` shows at once.
pub(super) async fn product_json(shop: &Checkout, req: &Request, id: &str) -> Response<Body> {
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
            // Downloads of each file.
            "downloads": p.download_limit(),
            // What a buyer gets: each file's name and size in bytes (null: not recorded).
            "files": p.files().iter().map(|f| json!({ "name": f.name, "size": f.size })).collect::<Vec<_>>(),
            "stamped": p.stamp(),
            "channels": channels,
            "buy_url": page.buy_url,
        }),
    )
}
