//! The shop's flows, written once for every channel (docs/architecture.md, "Flows"):
//! checkout, the asynchronous notification, the browser return, and fulfilment (pay +
//! grant in one transaction, then the mail).
//!
//! Handlers parse HTTP into the types here and render what comes back; every rule lives
//! here or below.
//!
//! Over 400 lines: the flows share their error types and fulfilment; split, each would
//! import the rest.

use time::OffsetDateTime;

use crate::channel::{
    AnyChannel, Channel, ChannelError, Channels, Headers, Notice, OrderRef, ProviderStatus,
};
use crate::config::Config;
use crate::delivery::{Delivery, MailOutcome};
use crate::grant::Grant;
use crate::ids::OrderId;
use crate::mail::Mailer;
use crate::order::{Order, OrderState, OrderStatus, Payment, RefundOutcome, TransitionError};
use crate::store::views::{MailStore, PaymentStore};
use crate::store::{Paid, Store, StoreError};

/// Everything a function needs, built once at cold start.
pub struct Shop {
    pub(crate) config: Config,
    pub(crate) store: PaymentStore,
    /// The purchase mail's view of the same store ([`Shop::delivery`]).
    mail: MailStore,
    pub(crate) mailer: Mailer,
    pub(crate) channels: Channels,
    /// Signs the licenses of licensed products' orders at payment ([`crate::license`]);
    /// `None` when the shop has no signing key (only the short key is issued then).
    license: Option<crate::license::LicenseSigner>,
}

/// What handling a notification did. Every variant is answered with the channel's ack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotifyOutcome {
    /// Recorded the payment now (grant created, mail attempted).
    Paid { mail_sent: bool },
    /// The same payment was recorded before: nothing changed.
    AlreadyPaid,
    /// Not a payment (e.g. WAIT_BUYER_PAY): nothing changed.
    Ignored,
    /// Authentic, but about nothing the shop acts on (an event type Kiosk does not
    /// use): acknowledged, nothing changed.
    Irrelevant,
    /// The provider closed the trade; a pending order was expired.
    Closed,
    /// A refund: `full` revoked access (now or before); `changed` is false for a repeat.
    Refunded { full: bool, changed: bool },
    /// A payment whose full refund had been recorded first: noted, the order stays
    /// refunded, no link and no mail.
    PaidAfterRefund,
    /// A dispute of the payment opened or closed: the links were suspended or restored.
    Disputed { state: crate::order::Dispute },
}

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("no payment channel {0:?} here")]
    NoChannel(String),
    #[error(transparent)]
    Rejected(ChannelError),
    #[error("notification for unknown order {0}")]
    UnknownOrder(OrderId),
    #[error("notification through {got} for order {order}, which is paid through {expected}")]
    WrongChannel {
        order: OrderId,
        expected: &'static str,
        got: &'static str,
    },
    #[error("notification refused: {0}")]
    Refused(TransitionError),
    /// The event is about a checkout or payment other than the order's own.
    #[error("notification about order {order} names {what} {got}, which is not the order's")]
    NotTheOrders {
        order: OrderId,
        what: &'static str,
        got: String,
    },
    #[error("could not confirm the payment with the provider")]
    Provider(#[source] ChannelError),
    #[error(transparent)]
    Store(StoreError),
}

/// What the buyer's browser should see after coming back from the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReturnView {
    Paid {
        order: Box<Order>,
        download_url: String,
    },
    Confirming {
        order: Box<Order>,
    },
    Refunded {
        order: Box<Order>,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum ReturnError {
    #[error("no payment channel {0:?} here")]
    NoChannel(String),
    #[error(transparent)]
    Rejected(ChannelError),
    /// The return could not be checked with the provider just now (Stripe's return is
    /// checked by retrieving its session).
    #[error("could not confirm the return with the provider")]
    Provider(#[source] ChannelError),
    #[error("no order {0}")]
    UnknownOrder(OrderId),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Shop {
    /// A handle over parts built elsewhere (tests that put channels in front of
    /// nothing).
    pub fn from_parts(config: Config, store: Store, mailer: Mailer, channels: Channels) -> Self {
        let store = PaymentStore::of(store);
        Shop {
            config,
            mail: store.mail(),
            store,
            mailer,
            channels,
            license: None,
        }
    }

    /// This handle signing licenses with `signer` ([`crate::license`]).
    pub fn with_license_signer(mut self, signer: Option<crate::license::LicenseSigner>) -> Self {
        self.license = signer;
        self
    }

    /// The settings it was built with (links, languages, the help address).
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The channel of a checkout that names none.
    pub fn default_channel(&self) -> crate::order::ChannelKind {
        self.channels.default
    }

    /// The channel a notification or return URL names (`/notify/{channel}`), if this
    /// shop has it configured.
    pub fn channel_named(&self, name: &str) -> Option<crate::channel::AnyChannel<'_>> {
        self.channels.named(name)
    }

    /// The channel that handles `order` (the one it was started with), if this shop
    /// still has it configured.
    pub fn channel_for(&self, order: &Order) -> Option<AnyChannel<'_>> {
        self.channels.get(order.channel)
    }

    /// Handle a provider's asynchronous notification to `/notify/{channel}`:
    /// authenticate (raw body, headers, time), find the order, check the payment against
    /// it, record it, mail the buyer.
    pub async fn notify(
        &self,
        channel: &str,
        body: &[u8],
        headers: &Headers,
        now: OffsetDateTime,
    ) -> Result<NotifyOutcome, NotifyError> {
        let ch = self
            .channels
            .named(channel)
            .ok_or_else(|| NotifyError::NoChannel(channel.to_owned()))?;
        let event = match ch
            .authenticate_notification(body, headers, now)
            .map_err(NotifyError::Rejected)?
        {
            Notice::Payment(event) => event,
            Notice::Irrelevant { what } => {
                tracing::info!(channel, what, "notification about nothing Kiosk acts on");
                return Ok(NotifyOutcome::Irrelevant);
            }
        };
        let order_id = match event.order {
            OrderRef::Id(id) => id,
            OrderRef::ProviderTxn(txn) => match self
                .store
                .order_id_by_txn(ch.kind(), &txn)
                .await
                .map_err(NotifyError::Store)?
            {
                Some(id) => id,
                // A dispute of a payment not recorded yet (its webhook overtook the
                // payment's, or it is another integration's): kept for the payment, which
                // records it, so the links are never live.
                None => match &event.status {
                    ProviderStatus::Disputed { payment, state } => match self
                        .store
                        .hold_dispute(ch.kind(), payment, *state, now)
                        .await
                        .map_err(NotifyError::Store)?
                    {
                        crate::store::DisputeHold::Recorded(id) => id,
                        crate::store::DisputeHold::Held(kept) => {
                            tracing::warn!(channel, payment = %txn, state = kept.as_str(), "a dispute of a payment not recorded yet: kept until it is");
                            return Ok(NotifyOutcome::Disputed { state: kept });
                        }
                    },
                    // A payment this shop never recorded (another integration's, or one it
                    // has not heard of yet and whose event will name the order): nothing
                    // to act on.
                    _ => {
                        tracing::info!(channel, payment = %txn, "notification about a payment this shop did not record");
                        return Ok(NotifyOutcome::Irrelevant);
                    }
                },
            },
        };
        let order = self
            .store
            .get_order(&order_id)
            .await
            .map_err(NotifyError::Store)?
            .ok_or_else(|| NotifyError::UnknownOrder(order_id.clone()))?;
        if order.channel != ch.kind() {
            return Err(NotifyError::WrongChannel {
                order: order.id,
                expected: order.channel.as_str(),
                got: ch.kind().as_str(),
            });
        }
        if let Some(got) = &event.checkout_ref
            && order.checkout_ref.as_ref() != Some(got)
        {
            return Err(NotifyError::NotTheOrders {
                order: order.id,
                what: "checkout",
                got: got.clone(),
            });
        }
        match event.status {
            ProviderStatus::Paid(payment) => {
                match self
                    .fulfil(&order, &payment, Some(&event.event_id), now)
                    .await
                {
                    Ok(Fulfilled::Now { mail_sent, .. }) => Ok(NotifyOutcome::Paid { mail_sent }),
                    Ok(Fulfilled::Already { .. }) => Ok(NotifyOutcome::AlreadyPaid),
                    Ok(Fulfilled::AfterRefund { .. }) => Ok(NotifyOutcome::PaidAfterRefund),
                    Err(StoreError::Transition(e)) => Err(NotifyError::Refused(e)),
                    Err(e) => Err(NotifyError::Store(e)),
                }
            }
            ProviderStatus::Waiting | ProviderStatus::Processing => Ok(NotifyOutcome::Ignored),
            ProviderStatus::Closed => {
                if order.status() == OrderStatus::Pending {
                    self.store
                        .expire_order(&order, now)
                        .await
                        .map_err(NotifyError::Store)?;
                }
                Ok(NotifyOutcome::Closed)
            }
            ProviderStatus::Refunded { total, payment } => {
                self.check_payment(ch, &order, payment.as_deref(), now)
                    .await?;
                self.refund(&order, total, now).await
            }
            // A query's answer, never a notification's; recorded as it says all the same.
            ProviderStatus::PaidRefunded { payment, total } => {
                self.check_payment(ch, &order, Some(&payment.provider_txn_id), now)
                    .await?;
                self.refund(&order, total, now).await
            }
            ProviderStatus::Disputed { payment, state } => {
                self.check_payment(ch, &order, Some(&payment), now).await?;
                self.dispute(order, state).await
            }
        }
    }

    /// An authentic refund or dispute names `payment`: it must be the order's. Against
    /// the payment recorded; with none recorded yet (the refund overtook the payment's
    /// own event), the channel confirms it.
    async fn check_payment(
        &self,
        ch: AnyChannel<'_>,
        order: &Order,
        payment: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<(), NotifyError> {
        let Some(payment) = payment else {
            return Ok(());
        };
        let ok = match order.provider_txn_id() {
            Some(recorded) => recorded == payment,
            None => ch
                .confirm_payment(order, payment, now)
                .await
                .map_err(NotifyError::Provider)?,
        };
        if ok {
            Ok(())
        } else {
            Err(NotifyError::NotTheOrders {
                order: order.id.clone(),
                what: "payment",
                got: payment.to_owned(),
            })
        }
    }

    /// Apply a refund the provider reports for `order` (`total` refunded so far), in
    /// any state: the rule of [`Order::record_refund`], written by
    /// [`Shop::record_refund`]. A repeat changes nothing.
    pub async fn refund(
        &self,
        order: &Order,
        total: crate::money::Money,
        now: OffsetDateTime,
    ) -> Result<NotifyOutcome, NotifyError> {
        let (outcome, changed) = self
            .record_refund(order.clone(), total, now)
            .await
            .map_err(|e| match e {
                StoreError::Transition(t) => NotifyError::Refused(t),
                e => NotifyError::Store(e),
            })?;
        let full = matches!(outcome, RefundOutcome::Full { .. })
            || order.status() == OrderStatus::Refunded;
        if changed {
            tracing::info!(order_id = %order.id, refunded = %total, full, "refund recorded");
        }
        Ok(NotifyOutcome::Refunded { full, changed })
    }

    /// Record `total` refunded of `order` (read recently): compute the outcome from the
    /// order, write it conditioned on what it was computed from, and on a conflict (the
    /// order was paid, got a new edition's link, another report came) read again and
    /// redo, so the outcome always covers the links the order has when it is written.
    pub async fn record_refund(
        &self,
        mut order: Order,
        total: crate::money::Money,
        now: OffsetDateTime,
    ) -> Result<(RefundOutcome, bool), StoreError> {
        let mut tries = 0;
        loop {
            tries += 1;
            let outcome = order
                .record_refund(total, now)
                .map_err(StoreError::Transition)?;
            match self.store.apply_refund(&outcome, now).await {
                Ok(changed) => return Ok((outcome, changed)),
                Err(StoreError::Contention(_)) if tries < 5 => {
                    order = self
                        .store
                        .get_order(&order.id)
                        .await?
                        .ok_or_else(|| StoreError::OrderNotFound(order.id.clone()))?;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// A dispute of `order`'s payment opened (links suspended; the author is told, an
    /// alarm counts it) or closed (won: links restored; lost: they stay off).
    async fn dispute(
        &self,
        mut order: Order,
        state: crate::order::Dispute,
    ) -> Result<NotifyOutcome, NotifyError> {
        for _ in 0..5 {
            // Stripe does not promise order: an opening that arrives after the close
            // changes nothing (a charge is disputed once).
            if let Some(closed) = order.dispute.filter(|d| *d != crate::order::Dispute::Open)
                && state == crate::order::Dispute::Open
            {
                tracing::info!(order_id = %order.id, "a dispute's opening arrived after its close");
                return Ok(NotifyOutcome::Disputed { state: closed });
            }
            if self
                .store
                .set_dispute(&order, state)
                .await
                .map_err(NotifyError::Store)?
            {
                match state {
                    crate::order::Dispute::Open => {
                        tracing::error!(message = crate::alarm::DISPUTE_OPENED, order_id = %order.id, "the links are suspended until the dispute is closed")
                    }
                    crate::order::Dispute::Lost => {
                        tracing::error!(message = crate::alarm::DISPUTE_LOST, order_id = %order.id, "the links stay suspended")
                    }
                    crate::order::Dispute::Won => {
                        tracing::info!(order_id = %order.id, "dispute won: links restored")
                    }
                }
                return Ok(NotifyOutcome::Disputed { state });
            }
            order = self
                .store
                .get_order(&order.id)
                .await
                .map_err(NotifyError::Store)?
                .ok_or_else(|| NotifyError::UnknownOrder(order.id.clone()))?;
        }
        Err(NotifyError::Store(StoreError::Contention(order.id)))
    }

    /// The buyer's browser came back from the provider (`/return/{channel}`). Never
    /// marks paid from the return parameters alone: a still-pending order is checked
    /// with the provider first.
    pub async fn return_page(
        &self,
        channel: &str,
        query: &str,
        now: OffsetDateTime,
    ) -> Result<ReturnView, ReturnError> {
        let ch = self
            .channels
            .named(channel)
            .ok_or_else(|| ReturnError::NoChannel(channel.to_owned()))?;
        let returned = match ch.authenticate_return(query, now).await {
            Ok(r) => r,
            Err(e @ ChannelError::Rejected(_)) => return Err(ReturnError::Rejected(e)),
            Err(e) => return Err(ReturnError::Provider(e)),
        };
        let order = self
            .store
            .get_order(&returned.order_id)
            .await?
            .filter(|o| o.channel == ch.kind())
            .filter(|o| {
                returned
                    .checkout_ref
                    .as_ref()
                    .is_none_or(|r| o.checkout_ref.as_ref() == Some(r))
            })
            .ok_or_else(|| ReturnError::UnknownOrder(returned.order_id.clone()))?;
        match order.status() {
            OrderStatus::Paid => Ok(self.paid_view(order)),
            OrderStatus::Refunded => Ok(ReturnView::Refunded {
                order: Box::new(order),
            }),
            OrderStatus::Pending | OrderStatus::Expired => {
                let status = match returned.status {
                    Some(known) => Ok(known),
                    None => ch.query(&order, now).await,
                };
                match status {
                    Ok(ProviderStatus::Paid(payment)) => {
                        let recorded = self.fulfil(&order, &payment, None, now).await;
                        Ok(self.recorded_view(order, recorded))
                    }
                    // Paid and refunded already: the refund wins (recorded first).
                    Ok(ProviderStatus::PaidRefunded { payment, total }) => {
                        let recorded = self.settle_refunded(&order, &payment, total, now).await;
                        Ok(self.recorded_view(order, recorded))
                    }
                    Ok(_) => Ok(ReturnView::Confirming {
                        order: Box::new(order),
                    }),
                    Err(e) => {
                        // The notification will still arrive; the page refreshes meanwhile.
                        tracing::warn!(order_id = %order.id, error = %e, "return: provider query failed");
                        Ok(ReturnView::Confirming {
                            order: Box::new(order),
                        })
                    }
                }
            }
        }
    }

    /// What the buyer sees once a payment the provider confirmed was recorded (or could
    /// not be: the confirming page, and the notification or reconcile finish it).
    fn recorded_view(&self, order: Order, recorded: Result<Fulfilled, StoreError>) -> ReturnView {
        match recorded {
            Ok(Fulfilled::Now { order, .. } | Fulfilled::Already { order }) => {
                self.paid_view(*order)
            }
            Ok(Fulfilled::AfterRefund { order }) => ReturnView::Refunded { order },
            Err(e) => {
                tracing::error!(order_id = %order.id, error = %e, "return: provider says paid but recording failed");
                ReturnView::Confirming {
                    order: Box::new(order),
                }
            }
        }
    }

    /// The page for an order whose payment is recorded: its link while it is paid, the
    /// refund notice once it is refunded (a repeated payment of a refunded order).
    fn paid_view(&self, order: Order) -> ReturnView {
        match order.state() {
            OrderState::Paid(granted) => ReturnView::Paid {
                download_url: granted.grant.url_under(&self.config.public_base_url),
                order: Box::new(order),
            },
            OrderState::Refunded(_) => ReturnView::Refunded {
                order: Box::new(order),
            },
            OrderState::Pending | OrderState::Expired => ReturnView::Confirming {
                order: Box::new(order),
            },
        }
    }

    /// Record a confirmed payment (order + grant in one transaction) and mail the buyer.
    /// Shared by notify and the return-time query. If the mail fails the payment stays
    /// recorded and the order keeps a due mail with its next-try time in the `MailDue`
    /// index, which reconcile retries (see [`crate::delivery`]).
    pub async fn fulfil(
        &self,
        order: &Order,
        payment: &Payment,
        event_id: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<Fulfilled, StoreError> {
        let event = event_id.map(|id| (order.channel, id));
        let license = order
            .issue_license(self.license.as_ref(), now)
            .map_err(StoreError::Token)?;
        match self
            .store
            .mark_paid(order, payment, event, None, license.as_ref(), now)
            .await?
        {
            Paid::Already { order } => Ok(Fulfilled::Already { order }),
            Paid::Refunded { order } => {
                tracing::info!(order_id = %order.id, "payment recorded after its full refund: no link, no mail");
                Ok(Fulfilled::AfterRefund { order })
            }
            Paid::Now { order, grant } => {
                tracing::info!(order_id = %order.id, grant = ?grant.token, "order paid");
                match order.dispute {
                    // A dispute that arrived before the payment: recorded with it, the
                    // links suspended from the start.
                    Some(crate::order::Dispute::Open) => {
                        tracing::error!(message = crate::alarm::DISPUTE_OPENED, order_id = %order.id, "paid with a dispute already open: the links are suspended until it is closed")
                    }
                    Some(crate::order::Dispute::Lost) => {
                        tracing::error!(message = crate::alarm::DISPUTE_LOST, order_id = %order.id, "paid with its dispute already lost: the links stay suspended")
                    }
                    _ => {}
                }
                let mail_sent = self
                    .delivery()
                    .send_purchase_mail(&order, &grant, now)
                    .await
                    == MailOutcome::Sent;
                Ok(Fulfilled::Now {
                    order,
                    grant,
                    mail_sent,
                })
            }
        }
    }

    /// A payment the provider reports paid with `total` of it already refunded (a query
    /// by reconcile or the return page): the refund is recorded first, then the
    /// payment, so a full refund leaves the order refunded with no link and no mail, and
    /// a partial one is kept.
    pub async fn settle_refunded(
        &self,
        order: &Order,
        payment: &Payment,
        total: crate::money::Money,
        now: OffsetDateTime,
    ) -> Result<Fulfilled, StoreError> {
        self.record_refund(order.clone(), total, now).await?;
        let current = self
            .store
            .get_order(&order.id)
            .await?
            .ok_or_else(|| StoreError::OrderNotFound(order.id.clone()))?;
        self.fulfil(&current, payment, None, now).await
    }

    /// The purchase mail's sender, over this shop's store and SES client.
    pub fn delivery(&self) -> Delivery<'_> {
        Delivery::new(
            &self.mail,
            &self.mailer,
            &self.config.public_base_url,
            self.config.default_lang,
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fulfilled {
    Now {
        order: Box<Order>,
        grant: Box<Grant>,
        mail_sent: bool,
    },
    Already {
        order: Box<Order>,
    },
    /// Recorded after a full refund: no grant, no mail.
    AfterRefund {
        order: Box<Order>,
    },
}
