//! Orders and their payment: creating one at checkout, recording the payment (the order,
//! its grant and the payment id in one transaction), expiry, refunds, and the queries
//! reconcile and `kiosk update` drive (pending by age, buyers of a product).

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use time::OffsetDateTime;

use super::codec::attr::*;
use super::codec::{self, Reader, UNPAID_RETENTION, n, s, ts};
use super::{Store, StoreError, aws, building, index};
use crate::email::Email;
use crate::grant::Grant;
use crate::ids::{DownloadToken, OrderId, ProductId};
use crate::license::{IssuedLicense, LicenseKey, LicenseRecord};
use crate::order::{
    ChannelKind, Dispute, Order, OrderStatus, PayOutcome, Payment, RefundOutcome, RefundRequest,
};

/// The result of recording a payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Paid {
    /// This call recorded the payment and created the grant.
    Now {
        order: Box<Order>,
        grant: Box<Grant>,
    },
    /// The same provider transaction was already recorded: nothing was written.
    Already { order: Box<Order> },
    /// The whole amount had been reported refunded before this payment: the payment is
    /// recorded (its id and the lookup from it), the order stays REFUNDED, no grant.
    Refunded { order: Box<Order> },
}

/// What became of a dispute naming a payment id no order is recorded under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DisputeHold {
    /// Kept on the payment id's lookup item, in this state (a closed dispute is not
    /// reopened by a late copy of its opening); the payment's recording applies it.
    Held(Dispute),
    /// The payment was recorded meanwhile, for this order: apply the dispute to it.
    Recorded(OrderId),
}

/// How a payment's transaction writes the payment id's lookup item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TxnGuard {
    /// Whatever is there (a payment after a full refund: the links are revoked anyway).
    Overwrite,
    /// Only if no dispute is held for the payment.
    NoHold,
    /// Only if this dispute state is held (the payment records it).
    Hold(Dispute),
}

/// One try at recording a payment.
enum Attempt {
    Done(Paid),
    /// A dispute is held for the payment: try again, recording it.
    Held(Dispute),
}

/// Which network's hold on a code's use a new order takes over, and the order that held
/// it when it was read (`None`: none did).
#[derive(Debug, Clone, Copy)]
pub struct CodeHold<'a> {
    pub network: &'a crate::net::NetworkTag,
    pub previous: Option<&'a crate::ids::OrderId>,
}

impl Store {
    /// Write a new order with, in one transaction, the grant of a free order and the use
    /// of the code it names: all or nothing. A code that cannot be used (disabled,
    /// expired, used up: re-read to say which) is [`StoreError::CodeRefused`], and
    /// nothing is written.
    pub(super) async fn create_order_with(
        &self,
        order: &Order,
        grant: Option<&crate::grant::Grant>,
        hold: Option<super::CodeHold<'_>>,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let put = |item| {
            Put::builder()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression(codec::NEW_ITEM)
                .build()
                .map_err(building("build Put"))
        };
        let mut tx = self.client.transact_write_items().transact_items(
            TransactWriteItem::builder()
                .put(put(codec::order_item(order))?)
                .build(),
        );
        if let Some(g) = grant {
            tx = tx.transact_items(
                TransactWriteItem::builder()
                    .put(put(codec::grant_item(g))?)
                    .build(),
            );
        }
        let Some(code) = &order.code else {
            return match tx.send().await {
                Ok(_) => Ok(()),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|e| e.is_transaction_canceled_exception()) =>
                {
                    Err(StoreError::OrderExists(order.id.clone()))
                }
                Err(e) => Err(aws("TransactWriteItems(order)")(e)),
            };
        };
        let hold_put = |h: super::CodeHold<'_>| -> Result<Put, StoreError> {
            let mut item = codec::code_hold_key(code, h.network.as_str());
            item.insert(ENTITY.into(), s("code_hold"));
            item.insert(ORDER_ID.into(), s(order.id.as_str()));
            // Gone a day after the order would have expired; a hold naming an order that
            // is no longer pending holds nothing anyway.
            item.insert(TTL.into(), ts(order.expires_at + time::Duration::days(1)));
            let put = Put::builder().table_name(&self.table).set_item(Some(item));
            match h.previous {
                None => put.condition_expression("attribute_not_exists(pk)"),
                Some(prev) => put
                    .condition_expression("#order = :prev")
                    .expression_attribute_names("#order", ORDER_ID)
                    .expression_attribute_values(":prev", s(prev.as_str())),
            }
            .build()
            .map_err(building("build Put"))
        };
        // The network's earlier order still pending with this code: the new order takes
        // over its use (the earlier one no longer names the code, so its expiry gives
        // nothing back; paid after all, it keeps the price it was offered). No new use.
        if let Some(h) = hold
            && let Some(prev) = h.previous
        {
            let release = Update::builder()
                .table_name(&self.table)
                .set_key(Some(codec::order_key(prev)))
                .update_expression(format!("REMOVE {CODE}"))
                .condition_expression(format!("#status = :pending AND {CODE} = :code"))
                .expression_attribute_names("#status", STATUS)
                .expression_attribute_values(
                    ":pending",
                    s(crate::order::OrderStatus::Pending.as_str()),
                )
                .expression_attribute_values(":code", s(code.as_str()))
                .build()
                .map_err(building("build Update"))?;
            let took_over = tx
                .clone()
                .transact_items(TransactWriteItem::builder().put(hold_put(h)?).build())
                .transact_items(TransactWriteItem::builder().update(release).build())
                .send()
                .await;
            match took_over {
                Ok(_) => return Ok(()),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|e| e.is_transaction_canceled_exception()) =>
                {
                    // Paid or expired meanwhile (or the hold moved): reserve a use of
                    // its own below, which says which.
                }
                Err(e) => return Err(aws("TransactWriteItems(order taking a code use over)")(e)),
            }
        }
        let reserve = Update::builder()
            .table_name(&self.table)
            .set_key(Some(codec::code_key(code)))
            .update_expression(format!("SET {USES} = {USES} + :one"))
            .condition_expression(format!(
                "attribute_exists(pk) AND {DISABLED} = :f \
                 AND (attribute_not_exists({MAX_USES}) OR {USES} < {MAX_USES}) \
                 AND (attribute_not_exists({EXPIRES_AT}) OR {EXPIRES_AT} > :now)"
            ))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":f", AttributeValue::Bool(false))
            .expression_attribute_values(":now", ts(now))
            .build()
            .map_err(building("build Update"))?;
        let mut tx = tx.transact_items(TransactWriteItem::builder().update(reserve).build());
        if let Some(h) = hold {
            tx = tx.transact_items(TransactWriteItem::builder().put(hold_put(h)?).build());
        }
        let sent = tx.send().await;
        match sent {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_transaction_canceled_exception()) =>
            {
                if let Some(h) = hold
                    && self.code_hold(code, h.network).await?.as_ref() != h.previous
                {
                    return Err(StoreError::CodeHeld);
                }
                match self.get_code(code).await? {
                    None => Err(StoreError::CodeRefused(
                        crate::pricing::PriceError::UnknownCode(code.to_string()),
                    )),
                    Some(c) => match c.check(now) {
                        Err(why) => Err(StoreError::CodeRefused(why)),
                        // The code had a use: the order id was taken.
                        Ok(()) => Err(StoreError::OrderExists(order.id.clone())),
                    },
                }
            }
            Err(e) => Err(aws("TransactWriteItems(order with code)")(e)),
        }
    }

    /// Store a new order. Fails without overwriting if the id exists. An order that names
    /// a discount code reserves one use of it in the same transaction
    /// ([`StoreError::CodeRefused`] when it has none left, or had expired when the order
    /// was created).
    pub async fn create_order(&self, order: &Order) -> Result<(), StoreError> {
        if order.code.is_some() {
            return self
                .create_order_with(order, None, None, order.created_at)
                .await;
        }
        match self
            .put_if(codec::order_item(order), codec::NEW_ITEM, "PutItem(order)")
            .await?
        {
            true => Ok(()),
            false => Err(StoreError::OrderExists(order.id.clone())),
        }
    }

    /// Store a new order that names a discount code, and make it the one order holding
    /// a use of that code for `hold.network` (see [`CodeHold`]), in one transaction.
    /// [`StoreError::CodeHeld`] when another order took the hold since `hold.previous`
    /// was read (a concurrent checkout from the same network): nothing written.
    pub async fn create_order_holding(
        &self,
        order: &Order,
        hold: CodeHold<'_>,
    ) -> Result<(), StoreError> {
        self.create_order_with(order, None, Some(hold), order.created_at)
            .await
    }

    /// Store a new free order, paid at once, with its grant (and its code's use) in one
    /// transaction; see [`Store::create_order`].
    pub async fn create_free_order(&self, order: &Order, grant: &Grant) -> Result<(), StoreError> {
        self.create_order_with(order, Some(grant), None, order.created_at)
            .await
    }

    /// Correct `order`'s address to `to`, keeping the old one in `previous_emails` and
    /// clearing a bounce or complaint recorded for the old one (the new address has
    /// none): conditioned on the address `order` was read with, so two corrections at
    /// once cannot lose one. `false`: the order changed meanwhile (or is gone), nothing
    /// written.
    pub async fn change_order_email(&self, order: &Order, to: &Email) -> Result<bool, StoreError> {
        Self::update_if(
            self.client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(codec::order_key(&order.id)))
                .update_expression(format!(
                    "SET {EMAIL} = :to, {PREVIOUS_EMAILS} = list_append(if_not_exists({PREVIOUS_EMAILS}, :none), :old) \
                     REMOVE {MAIL_BLOCK}, {MAIL_BLOCK_AT}, {MAIL_BLOCK_DETAIL}"
                ))
                .condition_expression(format!("attribute_exists({PK}) AND {EMAIL} = :was"))
                .expression_attribute_values(":to", s(to.as_str()))
                .expression_attribute_values(":was", s(order.email.as_str()))
                .expression_attribute_values(":old", AttributeValue::L(vec![s(order.email.as_str())]))
                .expression_attribute_values(":none", AttributeValue::L(Vec::new())),
            "UpdateItem(order email)",
        )
        .await
    }

    pub async fn get_order(&self, id: &OrderId) -> Result<Option<Order>, StoreError> {
        let item = self
            .get(codec::order_key(id), true, "GetItem(order)")
            .await?;
        item.as_ref().map(codec::order_from).transpose()
    }

    /// The order a provider's payment id was recorded for (see [`Store::mark_paid`]).
    pub async fn order_id_by_txn(
        &self,
        channel: ChannelKind,
        txn: &str,
    ) -> Result<Option<OrderId>, StoreError> {
        Ok(self.txn_lookup(channel, txn, false).await?.0)
    }

    /// The payment id's lookup item, read once: the order it names (none while it holds
    /// only a dispute, [`Store::hold_dispute`]) and the dispute it holds.
    async fn txn_lookup(
        &self,
        channel: ChannelKind,
        txn: &str,
        consistent: bool,
    ) -> Result<(Option<OrderId>, Option<Dispute>), StoreError> {
        let Some(item) = self
            .get(codec::txn_key(channel, txn), consistent, "GetItem(txn)")
            .await?
        else {
            return Ok((None, None));
        };
        let r = Reader::new(&item, "txn");
        let order = match r.opt_s(ORDER_ID)? {
            Some(_) => Some(r.id(ORDER_ID, OrderId::parse)?),
            None => None,
        };
        let held = r
            .opt_s(HELD_DISPUTE)?
            .map(|d| {
                d.parse()
                    .map_err(|_| r.corrupt(HELD_DISPUTE, "unknown dispute state"))
            })
            .transpose()?;
        Ok((order, held))
    }

    /// A dispute named `txn`, a payment no order is recorded under yet (its webhook
    /// overtook the payment's): keep it on the payment id's lookup item, where recording
    /// the payment finds it ([`Store::mark_paid`]), for [`codec::DISPUTE_HOLD`]. A closed
    /// dispute is not reopened by a late copy of its opening.
    pub async fn hold_dispute(
        &self,
        channel: ChannelKind,
        txn: &str,
        state: Dispute,
        now: OffsetDateTime,
    ) -> Result<DisputeHold, StoreError> {
        let mut condition = format!("attribute_not_exists({ORDER_ID})");
        if state == Dispute::Open {
            condition.push_str(&format!(
                " AND (attribute_not_exists({HELD_DISPUTE}) OR {HELD_DISPUTE} = :state)"
            ));
        }
        let written = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(codec::txn_key(channel, txn)))
            .update_expression(format!(
                "SET {ENTITY} = :entity, {HELD_DISPUTE} = :state, #ttl = :ttl"
            ))
            .condition_expression(condition)
            .expression_attribute_names("#ttl", TTL)
            .expression_attribute_values(":entity", s("txn"))
            .expression_attribute_values(":state", s(state.as_str()))
            .expression_attribute_values(":ttl", ts(now + codec::DISPUTE_HOLD))
            .send()
            .await;
        match written {
            Ok(_) => Ok(DisputeHold::Held(state)),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                match self.txn_lookup(channel, txn, true).await? {
                    (Some(id), _) => Ok(DisputeHold::Recorded(id)),
                    (None, held) => Ok(DisputeHold::Held(held.unwrap_or(state))),
                }
            }
            Err(e) => Err(aws("UpdateItem(hold dispute)")(e)),
        }
    }

    /// Record a confirmed payment: in one transaction, move the order to PAID (condition:
    /// still pending or expired, same amount), create its download grant and the lookup
    /// from the provider's payment id to the order.
    ///
    /// `order` is the caller's recent read; the write is conditioned on the stored state,
    /// not on that snapshot. A repeat of the same provider transaction (a provider retry,
    /// or a race lost to an identical call) is `Paid::Already` and writes nothing; a
    /// different transaction or amount is an error and writes nothing.
    ///
    /// `event`, when given, is the provider notification that reported the payment
    /// (`(channel, notify_id)`); it is recorded in the same transaction, with a TTL, as the
    /// notification that paid this order.
    ///
    /// A dispute that named the payment before it was recorded ([`Store::hold_dispute`])
    /// is recorded with it: the order carries it and the grant is made suspended, so the
    /// links are never live.
    pub async fn mark_paid(
        &self,
        order: &Order,
        payment: &Payment,
        event: Option<(ChannelKind, &str)>,
        grant_expires_at: Option<OffsetDateTime>,
        license: Option<&IssuedLicense>,
        now: OffsetDateTime,
    ) -> Result<Paid, StoreError> {
        let mut held = None;
        // A held dispute changes state at most twice (open, then closed).
        for _ in 0..3 {
            match self
                .try_mark_paid(
                    order,
                    payment,
                    event,
                    (grant_expires_at, license),
                    held,
                    now,
                )
                .await?
            {
                Attempt::Done(paid) => return Ok(paid),
                Attempt::Held(state) => held = Some(state),
            }
        }
        Err(StoreError::Contention(order.id.clone()))
    }

    async fn try_mark_paid(
        &self,
        order: &Order,
        payment: &Payment,
        event: Option<(ChannelKind, &str)>,
        (grant_expires_at, license): (Option<OffsetDateTime>, Option<&IssuedLicense>),
        held: Option<Dispute>,
        now: OffsetDateTime,
    ) -> Result<Attempt, StoreError> {
        let token = DownloadToken::generate().map_err(StoreError::Token)?;
        let mut paid = match order
            .pay(payment, token.clone(), now)
            .map_err(StoreError::Transition)?
        {
            PayOutcome::AlreadyPaid => {
                return Ok(Attempt::Done(Paid::Already {
                    order: Box::new(order.clone()),
                }));
            }
            PayOutcome::AlreadyRefunded(after) => {
                return self
                    .record_payment_after_refund(order, after, payment, event, now)
                    .await;
            }
            PayOutcome::Paid(paid) => paid,
        };
        paid.dispute = held.or(paid.dispute);
        // The license is the order's from its payment on: only an order made for a
        // licensed product gets one.
        let license = license.filter(|_| paid.license_seats.is_some());
        paid.license = license.cloned();
        let mut grant = Grant::for_order(&paid, token, grant_expires_at, now);
        grant.suspended = held.is_some_and(Dispute::suspends);
        // What this payment sets beyond every payment's attributes: a held dispute, the
        // license.
        let mut also = match held {
            Some(_) => format!(", {DISPUTE} = :dispute"),
            None => String::new(),
        };
        if let Some(l) = license {
            also.push_str(&format!(", {LICENSE_KEY} = :lkey"));
            if l.signed.is_some() {
                also.push_str(&format!(", {LICENSE_SIGNED} = :lsigned"));
            }
        }
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(codec::order_key(&order.id)))
            .update_expression(format!("SET #status = :paid, {PROVIDER_TXN_ID} = :txn, {PAID_AT} = :now, {GRANT_TOKEN} = :token, \
                 {MAIL_STATE} = :due, {MAIL_DUE} = :due, {MAIL_ATTEMPTS} = :zero, {MAIL_NEXT_AT} = :lease{also} \
                 REMOVE {PENDING}, #ttl, {CHECK_AT} ADD {GRANT_TOKENS} :tokens"),
            )
            .condition_expression(format!("attribute_exists({PK}) AND #status IN (:pending, :expired) \
                 AND {AMOUNT_MINOR} = :amount AND {CURRENCY} = :currency"),
            )
            .expression_attribute_names("#status", STATUS)
            .expression_attribute_names("#ttl", TTL)
            .expression_attribute_values(":paid", s(OrderStatus::Paid.as_str()))
            .expression_attribute_values(":pending", s(OrderStatus::Pending.as_str()))
            .expression_attribute_values(":expired", s(OrderStatus::Expired.as_str()))
            .expression_attribute_values(":txn", s(&payment.provider_txn_id))
            .expression_attribute_values(":now", ts(now))
            .expression_attribute_values(":token", s(grant.token.expose()))
            .expression_attribute_values(":tokens", AttributeValue::Ss(vec![grant.token.expose().to_owned()]))
            .expression_attribute_values(":due", s(codec::MAIL_DUE_MARK))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":lease", ts(now + crate::order::MAIL_LEASE))
            .expression_attribute_values(":amount", n(payment.amount.minor()))
            .expression_attribute_values(":currency", s(payment.amount.currency().code()));
        if let Some(d) = held {
            update = update.expression_attribute_values(":dispute", s(d.as_str()));
        }
        if let Some(l) = license {
            update = update.expression_attribute_values(":lkey", s(l.key.expose()));
            if let Some(signed) = &l.signed {
                update = update.expression_attribute_values(":lsigned", s(signed));
            }
        }
        let update = update.build().map_err(building("build Update"))?;
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(codec::grant_item(&grant)))
            .condition_expression(format!("attribute_not_exists({PK})"))
            .build()
            .map_err(building("build Put"))?;
        let mut items = vec![
            TransactWriteItem::builder().update(update).build(),
            TransactWriteItem::builder().put(put).build(),
        ];
        if let (Some(l), Some(terms)) = (license, paid.license_terms(now)) {
            let record = LicenseRecord::new(&terms, l.key.clone());
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(codec::license_item(&record)))
                .condition_expression(format!("attribute_not_exists({PK})"))
                .build()
                .map_err(building("build Put(license)"))?;
            items.push(TransactWriteItem::builder().put(put).build());
        }
        let done = Paid::Now {
            order: paid,
            grant: Box::new(grant),
        };
        let guard = match held {
            Some(d) => TxnGuard::Hold(d),
            None => TxnGuard::NoHold,
        };
        self.write_payment(
            order,
            items,
            payment,
            (event, guard),
            now,
            done,
            "TransactWriteItems(pay)",
        )
        .await
    }

    /// One payment transaction: `items` (the order's own write, its grant), the lookup
    /// from the provider's payment id to the order and, when given, the provider event
    /// that reported it. `done` on success; a cancellation is explained from the stored
    /// order with the rules that guarded the write: the same payment already recorded is
    /// [`Paid::Already`], anything else a transient conflict the caller (or the
    /// provider's retry) tries again.
    #[allow(clippy::too_many_arguments)]
    async fn write_payment(
        &self,
        order: &Order,
        items: Vec<TransactWriteItem>,
        payment: &Payment,
        (event, guard): (Option<(ChannelKind, &str)>, TxnGuard),
        now: OffsetDateTime,
        done: Paid,
        op: &'static str,
    ) -> Result<Attempt, StoreError> {
        // One payment id belongs to one order, and a repeat writes the same item; it
        // replaces a dispute held for the payment only when this write records it.
        let mut txn = Put::builder()
            .table_name(&self.table)
            .set_item(Some(codec::txn_item(
                order.channel,
                &payment.provider_txn_id,
                &order.id,
            )));
        txn = match guard {
            TxnGuard::Overwrite => txn,
            TxnGuard::NoHold => {
                txn.condition_expression(format!("attribute_not_exists({HELD_DISPUTE})"))
            }
            TxnGuard::Hold(d) => txn
                .condition_expression(format!("{HELD_DISPUTE} = :held"))
                .expression_attribute_values(":held", s(d.as_str())),
        };
        let txn = txn.build().map_err(building("build Put"))?;
        let mut tx = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .transact_items(TransactWriteItem::builder().put(txn).build());
        if let Some((channel, event_id)) = event {
            let record = Put::builder()
                .table_name(&self.table)
                .set_item(Some(codec::event_item(channel, event_id, &order.id, now)))
                .condition_expression(format!("attribute_not_exists({PK})"))
                .build()
                .map_err(building("build Put"))?;
            tx = tx.transact_items(TransactWriteItem::builder().put(record).build());
        }
        match tx.send().await {
            Ok(_) => Ok(Attempt::Done(done)),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_transaction_canceled_exception()) =>
            {
                if guard != TxnGuard::Overwrite
                    && let Some(held) = self
                        .txn_lookup(order.channel, &payment.provider_txn_id, true)
                        .await?
                        .1
                    && guard != TxnGuard::Hold(held)
                {
                    return Ok(Attempt::Held(held));
                }
                let current = self
                    .get_order(&order.id)
                    .await?
                    .ok_or_else(|| StoreError::OrderNotFound(order.id.clone()))?;
                let retry_token = DownloadToken::generate().map_err(StoreError::Token)?;
                match current
                    .pay(payment, retry_token, now)
                    .map_err(StoreError::Transition)?
                {
                    PayOutcome::AlreadyPaid => Ok(Attempt::Done(Paid::Already {
                        order: Box::new(current),
                    })),
                    PayOutcome::Paid(_) | PayOutcome::AlreadyRefunded(_) => {
                        Err(StoreError::Contention(order.id.clone()))
                    }
                }
            }
            Err(e) => Err(aws(op)(e)),
        }
    }

    /// The payment of an order whose full refund was reported first: record the payment
    /// id (and the lookup from it, and the event) so repeats are recognised, and nothing
    /// else: no grant, no mail, the order stays REFUNDED.
    async fn record_payment_after_refund(
        &self,
        order: &Order,
        after: Box<Order>,
        payment: &Payment,
        event: Option<(ChannelKind, &str)>,
        now: OffsetDateTime,
    ) -> Result<Attempt, StoreError> {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(codec::order_key(&order.id)))
            .update_expression(format!("SET {PROVIDER_TXN_ID} = :txn, {PAID_AT} = :now"))
            .condition_expression(format!(
                "#status = :refunded AND attribute_not_exists({PROVIDER_TXN_ID}) \
                 AND {AMOUNT_MINOR} = :amount AND {CURRENCY} = :currency"
            ))
            .expression_attribute_names("#status", STATUS)
            .expression_attribute_values(":refunded", s(OrderStatus::Refunded.as_str()))
            .expression_attribute_values(":txn", s(&payment.provider_txn_id))
            .expression_attribute_values(":now", ts(now))
            .expression_attribute_values(":amount", n(payment.amount.minor()))
            .expression_attribute_values(":currency", s(payment.amount.currency().code()))
            .build()
            .map_err(building("build Update"))?;
        let items = vec![TransactWriteItem::builder().update(update).build()];
        let done = Paid::Refunded { order: after };
        self.write_payment(
            order,
            items,
            payment,
            (event, TxnGuard::Overwrite),
            now,
            done,
            "TransactWriteItems(pay after refund)",
        )
        .await
    }

    /// A pending order the provider closed (or reconcile closed after its expiry). From
    /// now on DynamoDB's TTL may delete it, [`UNPAID_RETENTION`] from `now`: long enough
    /// for a late notification, which still pays it. An order that reserved a discount
    /// code's use gives it back in the same transaction (a late payment keeps its price
    /// all the same: the money was taken). Returns `false` (and writes nothing) if the
    /// order is no longer pending.
    pub async fn expire_order(
        &self,
        order: &Order,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let expire = Update::builder()
            .table_name(&self.table)
            .set_key(Some(codec::order_key(&order.id)))
            .update_expression(format!(
                "SET #status = :expired, #ttl = :ttl REMOVE {PENDING}, {CHECK_AT}"
            ))
            .condition_expression("#status = :pending")
            .expression_attribute_names("#status", STATUS)
            .expression_attribute_names("#ttl", TTL)
            .expression_attribute_values(":ttl", ts(now + UNPAID_RETENTION))
            .expression_attribute_values(":expired", s(OrderStatus::Expired.as_str()))
            .expression_attribute_values(":pending", s(OrderStatus::Pending.as_str()))
            .build()
            .map_err(building("build Update"))?;
        let Some(code) = &order.code else {
            let res = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(expire.key))
                .set_update_expression(Some(expire.update_expression))
                .set_condition_expression(expire.condition_expression)
                .set_expression_attribute_names(expire.expression_attribute_names)
                .set_expression_attribute_values(expire.expression_attribute_values)
                .send()
                .await;
            return Ok(super::conditional(res, "UpdateItem(expire)")?.is_some());
        };
        let sent = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(expire).build())
            .transact_items(
                TransactWriteItem::builder()
                    .update(self.release_code(code)?)
                    .build(),
            )
            .send()
            .await;
        match sent {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_transaction_canceled_exception()) =>
            {
                let still_pending = self
                    .get_order(&order.id)
                    .await?
                    .is_some_and(|o| o.status() == OrderStatus::Pending);
                if still_pending {
                    // The code had no use to give back (it cannot: every pending order
                    // reserved one); expire the order regardless, never keep it pending.
                    tracing::error!(order_id = %order.id, code = %code, "expiring an order whose code had no use to give back");
                    let mut plain = order.clone();
                    plain.code = None;
                    return Box::pin(self.expire_order(&plain, now)).await;
                }
                Ok(false)
            }
            Err(e) => Err(aws("TransactWriteItems(expire)")(e)),
        }
    }

    /// Record a refund the provider reported (see [`Order::record_refund`]), whatever
    /// state the order was in. A full refund moves the order to REFUNDED and revokes
    /// every download link of the purchase in one transaction, conditioned on the state
    /// and the link set it was computed from, so no link outlives the refund (a link
    /// `kiosk update` adds at the same moment makes the write fail, and the caller reads
    /// again: [`crate::shop::Shop::record_refund`]); a partial one records the amount.
    /// Conditions make a repeat, or a race with another report, change nothing.
    pub async fn apply_refund(
        &self,
        outcome: &RefundOutcome,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        match outcome {
            RefundOutcome::Already => Ok(false),
            RefundOutcome::Partial(order) => {
                let Some(total) = order.refunded else {
                    return Ok(false);
                };
                Self::update_if(
                    self.client
                        .update_item()
                        .table_name(&self.table)
                        .set_key(Some(codec::order_key(&order.id)))
                        .update_expression(format!("SET {REFUNDED_MINOR} = :total"))
                        .condition_expression(format!("#status IN (:pending, :expired, :paid) \
                             AND (attribute_not_exists({REFUNDED_MINOR}) OR {REFUNDED_MINOR} < :total)"),
                        )
                        .expression_attribute_names("#status", STATUS)
                        .expression_attribute_values(":total", n(total.minor()))
                        .expression_attribute_values(":pending", s(OrderStatus::Pending.as_str()))
                        .expression_attribute_values(":expired", s(OrderStatus::Expired.as_str()))
                        .expression_attribute_values(":paid", s(OrderStatus::Paid.as_str())),
                    "UpdateItem(partial refund)",
                )
                .await
            }
            RefundOutcome::Full { order, from } => {
                // No TTL: a refunded order stays in the books (`kiosk sales`); nothing
                // is left pending for reconcile.
                let update = Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(codec::order_key(&order.id)))
                    .update_expression(format!(
                        "SET #status = :refunded, {REFUNDED_AT} = :now, {REFUNDED_MINOR} = :total \
                         REMOVE {PENDING}, {CHECK_AT}, #ttl"
                    ))
                    .condition_expression("#status = :from")
                    .expression_attribute_names("#status", STATUS)
                    .expression_attribute_names("#ttl", TTL)
                    .expression_attribute_values(":refunded", s(OrderStatus::Refunded.as_str()))
                    .expression_attribute_values(":from", s(from.as_str()))
                    .expression_attribute_values(":now", ts(now))
                    .expression_attribute_values(":total", n(order.amount.minor()));
                let mut tx = self.with_every_link(order, update, REVOKED, true)?;
                // Its license is taken back with it: the online check says refunded and
                // the signed revocation list names the order.
                if let Some(l) = &order.license {
                    for update in self.revoke_license(&l.key, &order.id)? {
                        tx = tx.transact_items(TransactWriteItem::builder().update(update).build());
                    }
                }
                // Refunded before its payment was recorded, the order never became a
                // sale: its code's use goes back, as at expiry (an expired order's went
                // back then). A code's uses are its pending, paid and granted-then-
                // refunded orders.
                if *from == OrderStatus::Pending
                    && let Some(code) = &order.code
                {
                    tx = tx.transact_items(
                        TransactWriteItem::builder()
                            .update(self.release_code(code)?)
                            .build(),
                    );
                }
                match tx.send().await {
                    Ok(_) => Ok(true),
                    Err(e)
                        if e.as_service_error()
                            .is_some_and(|e| e.is_transaction_canceled_exception()) =>
                    {
                        // Refunded by a concurrent report, or the order changed (paid, a
                        // new link): explain from what is stored.
                        match self.get_order(&order.id).await? {
                            Some(o) if o.status() == OrderStatus::Refunded => Ok(false),
                            _ => Err(StoreError::Contention(order.id.clone())),
                        }
                    }
                    Err(e) => Err(aws("TransactWriteItems(refund)")(e)),
                }
            }
        }
    }

    /// One transaction: `update` of the order, conditioned in addition on its link set
    /// being the one `order` holds (links are only ever added, so the same count is the
    /// same set), and `flag` set to `on` on every one of those links. A link added since
    /// `order` was read makes the whole transaction fail, so none outlives the write.
    fn with_every_link(
        &self,
        order: &Order,
        update: aws_sdk_dynamodb::types::builders::UpdateBuilder,
        flag: &str,
        on: bool,
    ) -> Result<aws_sdk_dynamodb::operation::transact_write_items::builders::TransactWriteItemsFluentBuilder, StoreError>{
        let links = order.grant_tokens.len();
        let same_links = if links == 0 {
            format!("attribute_not_exists({GRANT_TOKENS})")
        } else {
            format!("size({GRANT_TOKENS}) = :links")
        };
        let condition = match update.get_condition_expression() {
            Some(c) => format!("({c}) AND {same_links}"),
            None => same_links,
        };
        let mut update = update.condition_expression(condition);
        if links > 0 {
            update = update.expression_attribute_values(":links", n(links as u64));
        }
        let update = update.build().map_err(building("build order update"))?;
        let mut tx = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(update).build());
        for token in order.all_grants() {
            tx = tx.transact_items(
                TransactWriteItem::builder()
                    .update(self.grant_flag(&token, flag, on)?)
                    .build(),
            );
        }
        Ok(tx)
    }

    /// The two writes that take back `order`'s license `key` in a refund's transaction:
    /// the key's item marked refunded, the order added to the revocation list.
    fn revoke_license(&self, key: &LicenseKey, order: &OrderId) -> Result<[Update; 2], StoreError> {
        let mark = Update::builder()
            .table_name(&self.table)
            .set_key(Some(codec::license_key(key)))
            .update_expression(format!("SET {REFUNDED} = :yes"))
            .condition_expression(format!("attribute_exists({PK})"))
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .build()
            .map_err(building("build license revoke"))?;
        let list = Update::builder()
            .table_name(&self.table)
            .set_key(Some(codec::revoked_licenses_key()))
            .update_expression(format!("ADD #orders :order SET {ENTITY} = :entity"))
            .expression_attribute_names("#orders", codec::REVOKED_ORDERS)
            .expression_attribute_values(":order", AttributeValue::Ss(vec![order.to_string()]))
            .expression_attribute_values(":entity", s("revoked licenses"))
            .build()
            .map_err(building("build revocation list"))?;
        Ok([mark, list])
    }

    /// Set a boolean flag (`revoked`, `suspended`) on an existing grant, as one item of a
    /// transaction.
    fn grant_flag(
        &self,
        token: &DownloadToken,
        flag: &str,
        on: bool,
    ) -> Result<Update, StoreError> {
        Update::builder()
            .table_name(&self.table)
            .set_key(Some(codec::grant_key(token)))
            .update_expression("SET #flag = :on")
            .condition_expression(format!("attribute_exists({PK})"))
            .expression_attribute_names("#flag", flag)
            .expression_attribute_values(":on", AttributeValue::Bool(on))
            .build()
            .map_err(building("build grant flag"))
    }

    /// Record where a dispute of `order`'s payment stands and suspend (open, lost) or
    /// restore (won) every link of the purchase, in one transaction conditioned on the
    /// link set read, like a refund. `Ok(false)`: the order changed meanwhile (read and
    /// try again).
    pub async fn set_dispute(&self, order: &Order, state: Dispute) -> Result<bool, StoreError> {
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(codec::order_key(&order.id)))
            .update_expression(format!("SET {DISPUTE} = :state"))
            .condition_expression(format!("attribute_exists({PK})"))
            .expression_attribute_values(":state", s(state.as_str()));
        if state == Dispute::Open {
            // A closed dispute is not reopened by a late copy of its opening.
            update = update.condition_expression(format!(
                "attribute_exists({PK}) AND (attribute_not_exists({DISPUTE}) OR {DISPUTE} = :state)"
            ));
        }
        let tx = self.with_every_link(order, update, SUSPENDED, state.suspends())?;
        match tx.send().await {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_transaction_canceled_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(aws("TransactWriteItems(dispute)")(e)),
        }
    }

    /// Write `request` as `order`'s refund in progress before the provider is asked, so
    /// a rerun reuses it. Fails ([`StoreError::Contention`]) if another request was
    /// written since `order` was read.
    pub async fn begin_refund_request(
        &self,
        order: &Order,
        request: &RefundRequest,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let written = Self::update_if(
            self.client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(codec::order_key(&order.id)))
                .update_expression(format!("SET {REFUND_REQ_NO} = :no, {REFUND_REQ_MINOR} = :amount, {REFUND_REQ_SEQ} = :seq, \
                     {REFUND_REQ_AT} = :now, {REFUND_SEQ} = :seq"),
                )
                .condition_expression(format!("#status = :paid AND attribute_not_exists({REFUND_REQ_NO}) \
                     AND (attribute_not_exists({REFUND_SEQ}) OR {REFUND_SEQ} = :prev)"),
                )
                .expression_attribute_names("#status", STATUS)
                .expression_attribute_values(":paid", s(OrderStatus::Paid.as_str()))
                .expression_attribute_values(":no", s(&request.request_no))
                .expression_attribute_values(":amount", n(request.amount.minor()))
                .expression_attribute_values(":seq", n(request.seq))
                .expression_attribute_values(":prev", n(order.refund_seq))
                .expression_attribute_values(":now", ts(now)),
            "UpdateItem(refund request)",
        )
        .await?;
        if written {
            Ok(())
        } else {
            Err(StoreError::Contention(order.id.clone()))
        }
    }

    /// The refund `request` is settled (its outcome recorded) at `now`: a later refund
    /// gets a new number, and the order remembers this one as its last
    /// ([`crate::order::Order::last_refund`]).
    pub async fn settle_refund_request(
        &self,
        id: &OrderId,
        request: &RefundRequest,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        Self::update_if(
            self.client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(codec::order_key(id)))
                .update_expression(format!(
                    "SET {REFUND_LAST_NO} = :no, {REFUND_LAST_MINOR} = :amount, {REFUND_LAST_AT} = :now \
                     REMOVE {REFUND_REQ_NO}, {REFUND_REQ_MINOR}, {REFUND_REQ_SEQ}, {REFUND_REQ_AT}"
                ))
                .condition_expression(format!("{REFUND_REQ_NO} = :no"))
                .expression_attribute_values(":no", s(&request.request_no))
                .expression_attribute_values(":amount", n(request.amount.minor()))
                .expression_attribute_values(":now", ts(now)),
            "UpdateItem(settle refund request)",
        )
        .await
    }

    /// Paid orders of a product that were not refunded, oldest payment first.
    pub async fn buyers_of(&self, product: &ProductId) -> Result<Vec<Order>, StoreError> {
        let q = self
            .query(index::BUYERS_BY_PRODUCT)
            .key_condition_expression(format!("{PRODUCT_ID} = :p"))
            .filter_expression("#status = :paid")
            .expression_attribute_names("#status", STATUS)
            .expression_attribute_values(":p", s(product.as_str()))
            .expression_attribute_values(":paid", s(OrderStatus::Paid.as_str()));
        Self::collect_orders(q, "Query(BuyersByProduct)").await
    }

    /// Orders still pending that were created before `cutoff`, oldest first.
    pub async fn pending_older_than(
        &self,
        cutoff: OffsetDateTime,
    ) -> Result<Vec<Order>, StoreError> {
        let q = self
            .query(index::PENDING_BY_AGE)
            .key_condition_expression(format!("{PENDING} = :p AND {CREATED_AT} < :cutoff"))
            .expression_attribute_values(":p", s(codec::PENDING_MARK))
            .expression_attribute_values(":cutoff", ts(cutoff));
        Self::collect_orders(q, "Query(PendingByAge)").await
    }

    /// Pending orders created before `created_before` that are due for a check with the
    /// provider at `now` (never checked, or their next check has come), oldest first, at
    /// most `limit`; each with the number of checks made so far.
    pub async fn pending_due_for_check(
        &self,
        created_before: OffsetDateTime,
        now: OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<(Order, u32)>, StoreError> {
        let mut pages = self
            .query(index::PENDING_BY_AGE)
            .key_condition_expression(format!("{PENDING} = :p AND {CREATED_AT} < :cutoff"))
            .filter_expression(format!(
                "attribute_not_exists({CHECK_AT}) OR {CHECK_AT} <= :now"
            ))
            .expression_attribute_values(":p", s(codec::PENDING_MARK))
            .expression_attribute_values(":cutoff", ts(created_before))
            .expression_attribute_values(":now", ts(now))
            .into_paginator()
            .items()
            .send();
        let mut out = Vec::new();
        while out.len() < limit {
            match pages.next().await {
                Some(item) => {
                    let item = item.map_err(aws("Query(PendingByAge)"))?;
                    let checks = codec::Reader::new(&item, "order").opt_n(CHECKS)?;
                    out.push((codec::order_from(&item)?, checks.unwrap_or(0)));
                }
                None => break,
            }
        }
        Ok(out)
    }

    /// The provider was asked about a pending order and it is still open: ask again at
    /// `next_at` (`checks` counts the checks so far, for the backoff).
    pub async fn record_check(
        &self,
        id: &OrderId,
        checks: u32,
        next_at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        // Paid or expired meanwhile (the condition fails): nothing left to check.
        Self::update_if(
            self.client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(codec::order_key(id)))
                .update_expression(format!("SET {CHECK_AT} = :next, {CHECKS} = :n"))
                .condition_expression("#status = :pending")
                .expression_attribute_names("#status", STATUS)
                .expression_attribute_values(":next", ts(next_at))
                .expression_attribute_values(":n", n(checks))
                .expression_attribute_values(":pending", s(OrderStatus::Pending.as_str())),
            "UpdateItem(record check)",
        )
        .await?;
        Ok(())
    }
}
