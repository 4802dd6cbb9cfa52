//! A refund the author asks for (`kiosk refund`), once however often it is run
//! (docs/architecture.md, "Refunds").
//!
//! The request is written on the order before the provider is called (its number,
//! `{order}RF{n}`, and amount) and reused by every rerun until its outcome is recorded.
//! A run that dies after the provider refunded, or whose answer was lost, is rerun with
//! the same number, which the provider does not refund twice (Alipay: the same
//! `out_request_no`; Stripe: the PaymentIntent's refunds are listed for it first). The
//! number no longer depends on the order's refunded total, which the provider's own
//! refund notification may have moved in between.
//!
//! A run can also stop after it recorded everything but before it said so (its last
//! write applied, the answer never seen). Its rerun finds no request in progress; if it
//! asks for the same amount as the last refund settled within [`RERUN_WINDOW`], it is
//! taken for a rerun of that one and asks nothing ([`RefundDone::earlier`]): a second
//! refund of the same amount soon after needs [`RefundAsk::again`] (`--again`).

use time::OffsetDateTime;

use crate::channel::{Channel, ChannelError};
use crate::ids::OrderId;
use crate::money::Money;
use crate::order::{Order, OrderStatus, RefundOutcome, RefundRequest, SettledRefund};
use crate::shop::Shop;
use crate::store::StoreError;

/// How long a settled refund is recognised: a refund asked for with the same amount
/// within this time of the last one is taken for a rerun of it (Stripe keeps an
/// idempotency key as long).
pub const RERUN_WINDOW: time::Duration = time::Duration::hours(24);

/// What the author asks for (`kiosk refund`'s arguments).
#[derive(Debug, Clone, Copy, Default)]
pub struct RefundAsk<'a> {
    /// A decimal in the order's currency (`3.00`); all that is left when `None`.
    pub amount: Option<&'a str>,
    /// Why, as the buyer sees it at the provider.
    pub reason: Option<&'a str>,
    /// Another refund of the same amount as the last one, even within [`RERUN_WINDOW`].
    pub again: bool,
}

/// The last refund settled on `order`, if asking for `amount` now is a rerun of it: no
/// request in progress, the same amount asked for explicitly (all that is left is never a
/// repeat: once given, nothing is left), within [`RERUN_WINDOW`], and not `again`.
fn rerun_of(
    order: &Order,
    amount: Option<Money>,
    again: bool,
    now: OffsetDateTime,
) -> Option<&SettledRefund> {
    let last = order.last_refund.as_ref()?;
    let same = amount? == last.request.amount;
    (same && !again && order.refund_request.is_none() && now - last.at < RERUN_WINDOW)
        .then_some(last)
}

/// What a refund would do, worked out before anything is asked of the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundPlan {
    /// The request to send: a new one, or the unsettled one of an earlier run.
    pub request: RefundRequest,
    /// True when `request` is an earlier run's that was never settled.
    pub resumed: bool,
    /// The order's refunded total if it succeeds (as far as this shop knows).
    pub total_after: Money,
    /// Whether it refunds everything (every link stops working).
    pub full: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum RefundError {
    #[error("no order {0}")]
    UnknownOrder(OrderId),
    #[error("order {id} is {status}, so there is nothing to refund")]
    NotPaid { id: OrderId, status: &'static str },
    #[error("amount {asked:?}: {source} (write it like 3.00)")]
    AmountFormat {
        asked: String,
        #[source]
        source: crate::money::MoneyError,
    },
    #[error("amount {asked}: between 0.01 and what is left to refund ({left})")]
    Amount { asked: Money, left: Money },
    #[error(
        "refund {} of {} for order {id} was asked of the provider by an earlier run and is not settled; run the command again without --amount (or with --amount {}) to finish it first",
        request.request_no, request.amount, request.amount.to_decimal()
    )]
    Unsettled { id: OrderId, request: RefundRequest },
    #[error("order {id} was paid through {channel}, and this shop has no settings for it")]
    ChannelOff { id: OrderId, channel: &'static str },
    #[error("{channel} refused the refund")]
    Channel {
        channel: &'static str,
        #[source]
        source: ChannelError,
    },
    #[error("the provider reports {total} refunded, which does not fit the order")]
    Reported {
        total: Money,
        #[source]
        source: StoreError,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a refund did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundDone {
    /// The refund asked of the provider; `None` when the order was refunded in full
    /// already and nothing was asked.
    pub plan: Option<RefundPlan>,
    /// The provider's total refunded for the order after it.
    pub total: Money,
    pub outcome: RefundOutcome,
    /// Download links the purchase had (all revoked by a full refund).
    pub links: usize,
    /// What the order cost.
    pub amount: Money,
    /// The refund this run was taken for a rerun of (nothing asked, nothing changed);
    /// `plan` is `None` then.
    pub earlier: Option<SettledRefund>,
}

impl RefundPlan {
    /// The refund `amount` (all that is left when `None`) of a paid `order` would make,
    /// or the unsettled one an earlier run left, which comes first.
    pub fn for_order(order: &Order, amount: Option<Money>) -> Result<RefundPlan, RefundError> {
        if order.status() != OrderStatus::Paid {
            return Err(RefundError::NotPaid {
                id: order.id.clone(),
                status: order.status().as_str(),
            });
        }
        let already = order.refunded.map_or(0, |m| m.minor());
        let currency = order.amount.currency();
        let money = |minor| {
            Money::from_minor(minor, currency).map_err(|e| StoreError::Corrupt {
                entity: "order",
                detail: e.to_string(),
            })
        };
        if let Some(request) = &order.refund_request {
            if amount.is_some_and(|a| a != request.amount) {
                return Err(RefundError::Unsettled {
                    id: order.id.clone(),
                    request: request.clone(),
                });
            }
            let total_after = money((already + request.amount.minor()).min(order.amount.minor()))?;
            return Ok(RefundPlan {
                request: request.clone(),
                resumed: true,
                full: total_after == order.amount,
                total_after,
            });
        }
        let left = money(order.amount.minor().saturating_sub(already))?;
        let amount = amount.unwrap_or(left);
        if amount.currency() != currency || amount.minor() == 0 || amount.minor() > left.minor() {
            return Err(RefundError::Amount {
                asked: amount,
                left,
            });
        }
        let total_after = money(already + amount.minor())?;
        Ok(RefundPlan {
            request: RefundRequest::new(&order.id, order.refund_seq + 1, amount),
            resumed: false,
            full: total_after == order.amount,
            total_after,
        })
    }
}

/// `amount` as a decimal in `order`'s currency (`3.00`); `None`: all that is left.
fn amount_of(order: &Order, amount: Option<&str>) -> Result<Option<Money>, RefundError> {
    amount
        .map(|s| {
            Money::parse_decimal(s, order.amount.currency()).map_err(|source| {
                RefundError::AmountFormat {
                    asked: s.to_owned(),
                    source,
                }
            })
        })
        .transpose()
}

/// What `kiosk refund --dry-run` shows: the order, and the refund a real run would make
/// (`None`: refunded in full already, nothing to do).
#[derive(Debug, Clone)]
pub struct RefundPreview {
    pub order: Order,
    pub plan: Option<RefundPlan>,
    /// The refund a real run would be taken for a rerun of (`plan` is `None` then).
    pub earlier: Option<SettledRefund>,
}

impl crate::author::Author {
    /// What the refund `ask` of order `id` would do at `now`. Reads the order; asks and
    /// changes nothing.
    pub async fn preview_refund(
        &self,
        id: &OrderId,
        ask: RefundAsk<'_>,
        now: OffsetDateTime,
    ) -> Result<RefundPreview, RefundError> {
        let order = self
            .store
            .get_order(id)
            .await?
            .ok_or_else(|| RefundError::UnknownOrder(id.clone()))?;
        if order.status() == OrderStatus::Refunded && order.refund_request.is_none() {
            return Ok(RefundPreview {
                order,
                plan: None,
                earlier: None,
            });
        }
        let amount = amount_of(&order, ask.amount)?;
        if let Some(earlier) = rerun_of(&order, amount, ask.again, now).cloned() {
            return Ok(RefundPreview {
                order,
                plan: None,
                earlier: Some(earlier),
            });
        }
        let plan = RefundPlan::for_order(&order, amount)?;
        Ok(RefundPreview {
            order,
            plan: Some(plan),
            earlier: None,
        })
    }
}

/// The author's refund workflow (`kiosk refund`): a handle of its own over the shop's
/// parts, so payment-notify's [`Shop`] has no way to start a refund and this one no way
/// to take a notification.
pub struct Refunds {
    shop: Shop,
}

impl Refunds {
    pub fn new(shop: Shop) -> Self {
        Refunds { shop }
    }

    /// Make the refund `ask` of order `id` through its channel and apply the refund
    /// rule, at most once however often it runs (see the module docs). An order already
    /// refunded in full is `Ok` with [`RefundOutcome::Already`] and no plan; a rerun of
    /// the last refund is `Ok` with it as [`RefundDone::earlier`] and no plan.
    pub async fn refund_order(
        &self,
        id: &OrderId,
        ask: RefundAsk<'_>,
        now: OffsetDateTime,
    ) -> Result<RefundDone, RefundError> {
        self.shop.refund_order(id, ask, now).await
    }
}

impl Shop {
    async fn refund_order(
        &self,
        id: &OrderId,
        ask: RefundAsk<'_>,
        now: OffsetDateTime,
    ) -> Result<RefundDone, RefundError> {
        let order = self
            .store
            .get_order(id)
            .await?
            .ok_or_else(|| RefundError::UnknownOrder(id.clone()))?;
        let links = order.all_grants().len();
        if order.status() == OrderStatus::Refunded && order.refund_request.is_none() {
            return Ok(RefundDone {
                plan: None,
                total: order.refunded.unwrap_or(order.amount),
                outcome: RefundOutcome::Already,
                links,
                amount: order.amount,
                earlier: None,
            });
        }
        let amount = amount_of(&order, ask.amount)?;
        if let Some(earlier) = rerun_of(&order, amount, ask.again, now).cloned() {
            return Ok(RefundDone {
                plan: None,
                total: order.refunded.unwrap_or(earlier.request.amount),
                outcome: RefundOutcome::Already,
                links,
                amount: order.amount,
                earlier: Some(earlier),
            });
        }
        let channel = self.channel_for(&order).ok_or(RefundError::ChannelOff {
            id: id.clone(),
            channel: order.channel.as_str(),
        })?;
        // A refund left unsettled by a run whose order was refunded in full meanwhile
        // (the provider's notification) is finished like any other.
        let plan = if order.status() == OrderStatus::Refunded {
            let request = order.refund_request.clone().ok_or(RefundError::NotPaid {
                id: id.clone(),
                status: order.status().as_str(),
            })?;
            RefundPlan {
                request,
                resumed: true,
                total_after: order.amount,
                full: true,
            }
        } else {
            RefundPlan::for_order(&order, amount)?
        };
        if !plan.resumed {
            self.store
                .begin_refund_request(&order, &plan.request, now)
                .await?;
        }
        let total = channel
            .refund(
                &order,
                plan.request.amount,
                &plan.request.request_no,
                ask.reason,
                now,
            )
            .await
            .map_err(|source| RefundError::Channel {
                channel: order.channel.as_str(),
                source,
            })?;
        let current = self
            .store
            .get_order(id)
            .await?
            .ok_or_else(|| RefundError::UnknownOrder(id.clone()))?;
        let (outcome, _) = self
            .record_refund(current, total, now)
            .await
            .map_err(|source| match source {
                StoreError::Transition(_) => RefundError::Reported { total, source },
                e => RefundError::Store(e),
            })?;
        self.store
            .settle_refund_request(id, &plan.request, now)
            .await?;
        tracing::info!(order_id = %id, request = %plan.request.request_no, refunded = %total, "refund made");
        Ok(RefundDone {
            plan: Some(plan),
            total,
            outcome,
            links,
            amount: order.amount,
            earlier: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_numbers_count_the_orders_requests_and_fit_alipay() {
        let id = OrderId::parse("K20261121093015123abc4567def89012").unwrap();
        let amount = Money::parse_decimal("9.00", crate::Currency::Cny).unwrap();
        let r = RefundRequest::new(&id, 2, amount);
        assert_eq!(r.request_no, "K20261121093015123abc4567def89012RF2");
        assert!(
            r.request_no.len() <= 64,
            "Alipay's out_request_no is at most 64 characters"
        );
    }
}
