//! One reconcile run (docs/architecture.md, "Delivery and reconcile"): the purchase mails
//! that are due ([`crate::delivery`]), then the pending orders nobody has heard about.
//!
//! A pending order older than [`GRACE`] (a notification usually arrives within seconds)
//! is checked with the provider -- active verification, as the return page does:
//! - paid with the right amount: fulfilled through [`Shop::fulfil`], the notification's
//!   own path (one transaction, one mail), so a late notification then changes nothing;
//! - still open and past the order's expiry: closed at the provider (a trade the
//!   provider never created counts as closed) and expired here, which lets the TTL take
//!   it later; if the provider refuses the close because the buyer has just paid, it is
//!   asked again and the payment fulfilled, so such a buyer ends PAID, never EXPIRED;
//! - closed by the provider: expired;
//! - otherwise (open, not yet expired, or the provider could not be asked): checked
//!   again later, with a growing interval, so a run does not ask about every order.

use time::{Duration, OffsetDateTime};

use crate::channel::{Channel, ChannelError, CloseOutcome, ProviderStatus};
use crate::delivery::MailRun;
use crate::order::Order;
use crate::shop::Shop;
use crate::store::StoreError;

/// How old a pending order must be before reconcile asks the provider about it.
pub const GRACE: Duration = Duration::minutes(2);

/// When to check a still-open order again: 1, 2, 4, … minutes after its `checks`-th
/// check, at most an hour apart.
pub fn check_backoff(checks: u32) -> Duration {
    Duration::minutes(1i64 << checks.min(6)).min(Duration::hours(1))
}

/// How many pending orders one query reads; a run queries again while it has time.
const PAGE: usize = 50;

/// What one run over the pending orders did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PendingRun {
    /// Paid at the provider: payment recorded now (grant, mail).
    pub fulfilled: u32,
    /// Closed at the provider (or there already) and expired here.
    pub expired: u32,
    /// Paid and refunded in full at the provider before we heard: recorded as
    /// refunded (no link, no mail).
    pub refunded: u32,
    /// Still open at the provider; checked again later.
    pub still_open: u32,
    /// The provider could not be asked or answered something we cannot act on (logged;
    /// checked again later).
    pub errors: u32,
    pub out_of_time: bool,
}

/// What one whole run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reconciled {
    pub mail: MailRun,
    pub pending: PendingRun,
}

/// What one batch of the free-orders queue came to.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct FreeRun {
    /// Recorded paid with their grant, link mailed (or due).
    pub granted: u32,
    /// Already paid (a repeated message).
    pub already: u32,
    /// Not a free order the shop could have made, or no such order: nothing written.
    pub refused: u32,
    /// Not a message of ours.
    pub ignored: u32,
}

/// The outcome for one pending order.
enum Checked {
    Fulfilled,
    Expired,
    Refunded,
    StillOpen,
}

/// The reconcile function's handle: due purchase mails and pending orders, nothing
/// else. It owns its [`Shop`] privately, so the reconcile handler cannot take a
/// notification, and payment-notify's handle (a bare `Shop`) has no reconcile run.
pub struct Reconciler {
    shop: Shop,
    /// Reconcile's own view of the shop's store (pending orders due for a check).
    store: crate::store::views::ReconcileStore,
}

impl Reconciler {
    /// Build the reconcile function's state once: the shop (config, channels' API keys
    /// from SSM, clients), from the environment.
    pub async fn from_env(sdk: &aws_config::SdkConfig) -> Result<Self, crate::startup::InitError> {
        let config = crate::Config::from_env()?;
        let channels = crate::startup::ChannelsConfig::from_env()?;
        Ok(Reconciler::new(Shop::new(sdk, config, channels).await?))
    }

    pub fn new(shop: Shop) -> Self {
        Reconciler {
            store: shop.store.reconcile(),
            shop,
        }
    }

    /// One reconcile run: due mails first (money already taken), then pending orders,
    /// both stopping at `deadline` between whole items.
    pub async fn run(
        &self,
        now: OffsetDateTime,
        deadline: crate::deadline::Deadline,
    ) -> Result<Reconciled, StoreError> {
        let mail = self.shop.delivery().retry_due_mails(now, deadline).await?;
        let pending = self.pending(now, deadline).await?;
        Ok(Reconciled { mail, pending })
    }

    /// Check every pending order that is due for a check (see the module docs).
    pub async fn pending(
        &self,
        now: OffsetDateTime,
        deadline: crate::deadline::Deadline,
    ) -> Result<PendingRun, StoreError> {
        let mut run = PendingRun::default();
        let mut seen = std::collections::HashSet::new();
        loop {
            let page = self
                .store
                .pending_due_for_check(now - GRACE, now, PAGE)
                .await?;
            let fresh: Vec<(Order, u32)> = page
                .into_iter()
                .filter(|(o, _)| seen.insert(o.id.clone()))
                .collect();
            if fresh.is_empty() {
                return Ok(run);
            }
            for (order, checks) in fresh {
                if deadline.passed() {
                    run.out_of_time = true;
                    return Ok(run);
                }
                match self.check_pending(&order, now).await {
                    Ok(Checked::Fulfilled) => run.fulfilled += 1,
                    Ok(Checked::Expired) => run.expired += 1,
                    Ok(Checked::Refunded) => run.refunded += 1,
                    Ok(Checked::StillOpen) => {
                        run.still_open += 1;
                        self.store
                            .record_check(&order.id, checks + 1, now + check_backoff(checks))
                            .await?;
                    }
                    Err(e) => {
                        tracing::error!(message = crate::alarm::RECONCILE_ITEM_FAILED, order_id = %order.id, error = %e, source = ?std::error::Error::source(&e));
                        run.errors += 1;
                        self.store
                            .record_check(&order.id, checks + 1, now + check_backoff(checks))
                            .await?;
                    }
                }
            }
        }
    }

    /// Fulfil the free orders named by the queue's messages ([`crate::free`]). A store
    /// error stops the batch (the queue delivers it again; fulfilling twice changes
    /// nothing); a message that names no order is logged and dropped.
    pub async fn free_orders(
        &self,
        bodies: &[&str],
        now: OffsetDateTime,
    ) -> Result<FreeRun, StoreError> {
        let mut run = FreeRun::default();
        for body in bodies {
            let Some(id) = crate::free::parse_message(body) else {
                tracing::warn!("free order message ignored: not {{\"free_order\": ID}}");
                run.ignored += 1;
                continue;
            };
            match self.shop.fulfil_free(&id, now).await? {
                crate::free::FreeOutcome::Granted => run.granted += 1,
                crate::free::FreeOutcome::Already => run.already += 1,
                crate::free::FreeOutcome::Refused(_) | crate::free::FreeOutcome::Unknown => {
                    run.refused += 1
                }
            }
        }
        Ok(run)
    }

    async fn check_pending(
        &self,
        order: &Order,
        now: OffsetDateTime,
    ) -> Result<Checked, CheckError> {
        // A free order whose fulfilment request was lost: fulfilled here (no provider).
        if order.channel == crate::order::ChannelKind::Free {
            return match self.shop.fulfil_free(&order.id, now).await? {
                crate::free::FreeOutcome::Granted | crate::free::FreeOutcome::Already => {
                    Ok(Checked::Fulfilled)
                }
                _ => {
                    // Not a free order the shop could have made: it never becomes one.
                    self.store.expire_order(order, now).await?;
                    Ok(Checked::Expired)
                }
            };
        }
        let channel = self
            .shop
            .channel_for(order)
            .ok_or(CheckError::ChannelOff(order.channel.as_str()))?;
        // A session completed with a method that settles later is neither abandoned nor
        // paid: it is never closed, and checked again later without an error.
        let status = match channel.query(order, now).await? {
            ProviderStatus::Waiting if now >= order.expires_at => {
                match channel.close(order, now).await? {
                    CloseOutcome::Closed => {
                        tracing::info!(order_id = %order.id, "reconcile: closed an abandoned order");
                        ProviderStatus::Closed
                    }
                    // The buyer paid between our query and the close: ask again.
                    CloseOutcome::NotOpen => channel.query(order, now).await?,
                }
            }
            other => other,
        };
        match status {
            ProviderStatus::Paid(payment) => {
                self.shop.fulfil(order, &payment, None, now).await?;
                tracing::info!(order_id = %order.id, "reconcile: recorded a payment no notification reported");
                Ok(Checked::Fulfilled)
            }
            // Paid and (partly or wholly) refunded before we heard: the refund is
            // recorded first, so a full one leaves no link and sends no mail.
            ProviderStatus::PaidRefunded { payment, total } => {
                match self
                    .shop
                    .settle_refunded(order, &payment, total, now)
                    .await?
                {
                    crate::shop::Fulfilled::AfterRefund { .. } => {
                        tracing::info!(order_id = %order.id, "reconcile: a payment refunded before we heard of it; no link, no mail");
                        Ok(Checked::Refunded)
                    }
                    _ => Ok(Checked::Fulfilled),
                }
            }
            // A query reports a refunded Alipay trade as closed; `Refunded` comes only in
            // notifications. Either way no payment of this order stands.
            ProviderStatus::Closed | ProviderStatus::Refunded { .. } => {
                self.store.expire_order(order, now).await?;
                Ok(Checked::Expired)
            }
            ProviderStatus::Waiting | ProviderStatus::Processing => Ok(Checked::StillOpen),
            ProviderStatus::Disputed { .. } => Err(CheckError::Channel(ChannelError::BadReply(
                "a query answered a dispute".into(),
            ))),
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum CheckError {
    /// The order was started through a channel this shop no longer has configured.
    #[error("payment channel {0} is not configured, so the order cannot be checked")]
    ChannelOff(&'static str),
    #[error(transparent)]
    Channel(#[from] ChannelError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_back_off_to_an_hour() {
        assert_eq!(check_backoff(0), Duration::minutes(1));
        assert_eq!(check_backoff(3), Duration::minutes(8));
        assert_eq!(check_backoff(6), Duration::hours(1));
        assert_eq!(check_backoff(40), Duration::hours(1));
    }
}
