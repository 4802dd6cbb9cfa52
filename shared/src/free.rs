//! A free order's fulfilment (docs/architecture.md, Flows: Free), on a narrower path than
//! the checkout function: checkout writes a free claim as a *pending* order of the `free`
//! channel and asks for it to be fulfilled ([`FreeFulfilment`]: a message on the stack's
//! `FreeOrdersQueue`, which the reconcile function consumes); the fulfiller
//! ([`Shop::fulfil_free`]) reads the order, its product and its code again, grants only
//! an order that could be free at all ([`could_be_free`]), and records it paid with its
//! grant and mails the link through the notifications' own path ([`Shop::fulfil`]). So
//! the checkout function, the most exposed one, never writes a grant, never marks an
//! order paid and sends no mail: a compromised checkout could at worst queue pending
//! orders that the fulfiller refuses unless their product or code makes them free.
//! Reconcile's run also fulfils free orders still pending after [`crate::reconcile::GRACE`]
//! (a message lost), so nothing is lost.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use time::OffsetDateTime;

use crate::ids::OrderId;
use crate::order::{ChannelKind, Order, OrderStatus, Payment};
use crate::pricing::{Code, Discount};
use crate::product::Product;
use crate::shop::{Fulfilled, Shop};
use crate::store::StoreError;

/// A fulfilment request, as the queue carries it: `{"free_order": "ID"}`.
pub fn message(id: &OrderId) -> String {
    serde_json::json!({ "free_order": id.as_str() }).to_string()
}

/// The order a queue message asks to fulfil (`None`: not such a message).
pub fn parse_message(body: &str) -> Option<OrderId> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    OrderId::parse(v.get("free_order")?.as_str()?).ok()
}

/// A function that fulfils a free order in this process (tests, `make dev`).
pub type InProcess =
    Arc<dyn Fn(OrderId) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send + Sync>;

/// How checkout asks for a free order to be fulfilled.
#[derive(Clone)]
pub enum FreeFulfilment {
    /// The stack's queue (`FREE_ORDERS_QUEUE_URL`), consumed by the reconcile function.
    Queue {
        client: aws_sdk_sqs::Client,
        url: String,
    },
    /// Right here (a local shop that has the fulfiller at hand).
    InProcess(InProcess),
}

impl std::fmt::Debug for FreeFulfilment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FreeFulfilment::Queue { url, .. } => write!(f, "Queue({url})"),
            FreeFulfilment::InProcess(_) => f.write_str("InProcess"),
        }
    }
}

impl FreeFulfilment {
    /// Fulfilment by `shop` in this process, as the reconcile function does it from the
    /// queue (a local shop, tests), at the time `clock` tells (the caller's clock: the
    /// library reads none).
    pub fn by(shop: Arc<Shop>, clock: fn() -> time::OffsetDateTime) -> FreeFulfilment {
        FreeFulfilment::InProcess(Arc::new(move |id: OrderId| {
            let shop = shop.clone();
            Box::pin(async move {
                shop.fulfil_free(&id, clock())
                    .await
                    .map(|_| ())
                    .map_err(|e| crate::error_chain(&e))
            })
        }))
    }

    /// Ask for `id` to be fulfilled. An error leaves the order pending, and reconcile
    /// fulfils it on a later run.
    pub async fn request(&self, id: &OrderId) -> Result<(), String> {
        match self {
            FreeFulfilment::Queue { client, url } => client
                .send_message()
                .queue_url(url)
                .message_body(message(id))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| crate::error_chain(&e)),
            FreeFulfilment::InProcess(f) => f(id.clone()).await,
        }
    }
}

/// Could `order` of `product` (with `code`, the code it names, as stored now) cost
/// nothing at all? A product priced 0, a pay-what-you-want product whose minimum is 0, or
/// a 100% code for this product. Whether the code was still usable was checked (and its
/// use reserved) at checkout; this is the fulfiller's own check that a free order is no
/// paid product given away.
pub fn could_be_free(product: &Product, order: &Order, code: Option<&Code>) -> bool {
    if !order.amount.is_zero() || order.amount.currency() != product.price().currency() {
        return false;
    }
    if product.price().is_zero() {
        return true;
    }
    if let Some(pwyw) = product.pay_what_you_want() {
        return pwyw.min.is_zero() && order.code.is_none();
    }
    match (order.code.as_ref(), code) {
        (Some(name), Some(c)) => {
            c.name() == name
                && c.covers(product.id())
                && match c.discount() {
                    Discount::Percent(p) => p >= 100,
                    Discount::Off(off) => {
                        off.currency() == product.price().currency()
                            && off.minor() >= product.price().minor()
                    }
                }
        }
        _ => false,
    }
}

/// What fulfilling a free order came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FreeOutcome {
    /// Recorded paid with its grant now (and its link mailed, or due).
    Granted,
    /// Already paid (a repeated request): nothing more.
    Already,
    /// Not a free order this shop could have made (another channel, a price, a product or
    /// code that is not free): nothing written (logged).
    Refused(&'static str),
    /// No such order.
    Unknown,
}

impl Shop {
    /// Fulfil free order `id` (see the module docs); repeated requests are harmless.
    pub async fn fulfil_free(
        &self,
        id: &OrderId,
        now: OffsetDateTime,
    ) -> Result<FreeOutcome, StoreError> {
        let Some(order) = self.store.get_order(id).await? else {
            return Ok(FreeOutcome::Unknown);
        };
        if order.channel != ChannelKind::Free {
            return Ok(refused(&order, "not a free order"));
        }
        match order.status() {
            OrderStatus::Paid => return Ok(FreeOutcome::Already),
            OrderStatus::Pending => {}
            _ => return Ok(refused(&order, "not pending")),
        }
        let Some(product) = self.store.get_product(&order.product_id).await? else {
            return Ok(refused(&order, "no such product"));
        };
        let code = match &order.code {
            Some(name) => self.store.get_code(name).await?,
            None => None,
        };
        if !could_be_free(&product, &order, code.as_ref()) {
            return Ok(refused(&order, "its product or code does not make it free"));
        }
        let payment = Payment {
            provider_txn_id: format!("free-{id}"),
            amount: order.amount,
        };
        Ok(match self.fulfil(&order, &payment, None, now).await? {
            Fulfilled::Now { .. } => FreeOutcome::Granted,
            Fulfilled::Already { .. } | Fulfilled::AfterRefund { .. } => FreeOutcome::Already,
        })
    }
}

fn refused(order: &Order, why: &'static str) -> FreeOutcome {
    tracing::warn!(order_id = %order.id, why, "free order refused: nothing granted");
    FreeOutcome::Refused(why)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_and_junk_is_none() {
        let id = OrderId::parse("K20261207A1").unwrap();
        assert_eq!(parse_message(&message(&id)), Some(id));
        for junk in [
            "",
            "{}",
            "{\"free_order\": 5}",
            "{\"free_order\": \"a b\"}",
            "nope",
        ] {
            assert_eq!(parse_message(junk), None, "{junk:?}");
        }
    }
}
