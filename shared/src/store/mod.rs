//! The DynamoDB single-table store (docs/architecture.md, "Data model").
//!
//! Every state change is one conditional write (or one transaction), so concurrent
//! notifications, double clicks and retries cannot double-pay, double-grant or
//! over-download. When a condition fails we read the item back once and let the pure
//! domain rules explain why, so callers get a precise error rather than "condition
//! failed".

mod codec;
mod editions;
mod reports;
mod resend;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, Put, ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
    Update,
};
use time::OffsetDateTime;

pub use codec::UNPAID_RETENTION;
use codec::{Item, Reader, n, s, ts};
pub use editions::EditionClaim;
pub use reports::{LATE_PAYMENT, Reads};

use crate::grant::{Grant, Unusable};
use crate::ids::{DownloadToken, IdError, OrderId, ProductId};
use crate::order::{
    ChannelKind, Order, OrderStatus, PayOutcome, Payment, RefundOutcome, TransitionError,
};
use crate::product::Product;

/// Index names, as declared in template.yaml.
pub mod index {
    pub const BUYERS_BY_PRODUCT: &str = "BuyersByProduct";
    pub const PENDING_BY_AGE: &str = "PendingByAge";
    pub const MAIL_DUE: &str = "MailDue";
    pub const ORDERS_BY_EMAIL: &str = "OrdersByEmail";
    pub const BY_CREATED_AT: &str = "ByCreatedAt";
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("DynamoDB {op} failed")]
    Aws {
        op: &'static str,
        #[source]
        source: BoxError,
    },
    #[error("stored {entity} is malformed: {detail}")]
    Corrupt {
        entity: &'static str,
        detail: String,
    },
    #[error("product {0} already exists")]
    ProductExists(ProductId),
    #[error("product {0} does not exist")]
    ProductNotFound(ProductId),
    #[error("order {0} already exists")]
    OrderExists(OrderId),
    #[error("order {0} does not exist")]
    OrderNotFound(OrderId),
    #[error("a grant with this token already exists")]
    GrantExists,
    #[error("order cannot be paid: {0}")]
    Transition(#[source] TransitionError),
    #[error("order {0} changed while we wrote it; try again")]
    Contention(OrderId),
    #[error("could not make a download token")]
    Token(#[source] IdError),
}

fn aws<E, R>(op: &'static str) -> impl FnOnce(SdkError<E, R>) -> StoreError
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    move |e| StoreError::Aws {
        op,
        source: Box::new(e),
    }
}

/// Why a download could not be counted.
#[derive(Debug, thiserror::Error)]
pub enum ConsumeError {
    #[error("no such download link")]
    NotFound,
    #[error("{why}")]
    Unusable { why: Unusable, grant: Box<Grant> },
    #[error(transparent)]
    Store(#[from] StoreError),
}

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
}

#[derive(Clone, Debug)]
pub struct Store {
    client: Client,
    table: String,
}

impl Store {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Store {
            client,
            table: table.into(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Put `item` if `condition` holds. `Ok(false)`: the condition failed, nothing written.
    async fn put_if(
        &self,
        item: Item,
        condition: &str,
        op: &'static str,
    ) -> Result<bool, StoreError> {
        let res = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition)
            .send()
            .await;
        match res {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(aws(op)(e)),
        }
    }

    /// Send a conditional UpdateItem: `true` if it wrote, `false` if its condition
    /// failed (the caller says what that means).
    async fn update_if(
        update: aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder,
        op: &'static str,
    ) -> Result<bool, StoreError> {
        match update.send().await {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(aws(op)(e)),
        }
    }

    /// Read one item by key.
    async fn get(
        &self,
        key: Item,
        consistent: bool,
        op: &'static str,
    ) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(consistent)
            .send()
            .await
            .map_err(aws(op))?;
        Ok(out.item)
    }

    /// A query on one of the table's indexes; finish it with `collect_orders`.
    fn query(
        &self,
        index: &str,
    ) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        self.client
            .query()
            .table_name(&self.table)
            .index_name(index)
    }

    /// Every page of an order query, decoded.
    async fn collect_orders(
        q: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
        op: &'static str,
    ) -> Result<Vec<Order>, StoreError> {
        let items = q
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<Item>, _>>()
            .await
            .map_err(aws(op))?;
        items.iter().map(codec::order_from).collect()
    }

    // ---- products -----------------------------------------------------------------

    /// Add a new product; refuses an id that is taken.
    pub async fn create_product(&self, p: &Product, now: OffsetDateTime) -> Result<(), StoreError> {
        match self
            .put_if(
                codec::product_item(p, now),
                "attribute_not_exists(pk)",
                "PutItem(product)",
            )
            .await?
        {
            true => Ok(()),
            false => Err(StoreError::ProductExists(p.id.clone())),
        }
    }

    /// Replace an existing product (new price, title, edition); refuses an unknown id.
    pub async fn update_product(&self, p: &Product, now: OffsetDateTime) -> Result<(), StoreError> {
        match self
            .put_if(
                codec::product_item(p, now),
                "attribute_exists(pk)",
                "PutItem(product)",
            )
            .await?
        {
            true => Ok(()),
            false => Err(StoreError::ProductNotFound(p.id.clone())),
        }
    }

    pub async fn get_product(&self, id: &ProductId) -> Result<Option<Product>, StoreError> {
        let item = self
            .get(codec::product_key(id), false, "GetItem(product)")
            .await?;
        item.as_ref().map(codec::product_from).transpose()
    }

    // ---- orders -------------------------------------------------------------------

    /// Store a new pending order. Fails without overwriting if the id exists.
    pub async fn create_order(&self, order: &Order) -> Result<(), StoreError> {
        match self
            .put_if(
                codec::order_item(order),
                "attribute_not_exists(pk)",
                "PutItem(order)",
            )
            .await?
        {
            true => Ok(()),
            false => Err(StoreError::OrderExists(order.id.clone())),
        }
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
        let Some(item) = self
            .get(codec::txn_key(channel, txn), false, "GetItem(txn)")
            .await?
        else {
            return Ok(None);
        };
        let r = Reader::new(&item, "txn");
        Ok(Some(r.id("order_id", OrderId::parse)?))
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
    pub async fn mark_paid(
        &self,
        order: &Order,
        payment: &Payment,
        event: Option<(ChannelKind, &str)>,
        grant_expires_at: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Result<Paid, StoreError> {
        let token = DownloadToken::generate().map_err(StoreError::Token)?;
        let paid = match order
            .pay(payment, token.clone(), now)
            .map_err(StoreError::Transition)?
        {
            PayOutcome::AlreadyPaid => {
                return Ok(Paid::Already {
                    order: Box::new(order.clone()),
                });
            }
            PayOutcome::Paid(paid) => paid,
        };
        let grant = Grant::for_order(&paid, token, grant_expires_at, now);

        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(codec::order_key(&order.id)))
            .update_expression(
                "SET #status = :paid, provider_txn_id = :txn, paid_at = :now, grant_token = :token, \
                 mail_state = :due, mail_due = :due, mail_attempts = :zero, mail_next_at = :lease \
                 REMOVE pending, #ttl, check_at ADD grant_tokens :tokens",
            )
            .condition_expression(
                "attribute_exists(pk) AND #status IN (:pending, :expired) \
                 AND amount_minor = :amount AND currency = :currency",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":paid", s(OrderStatus::Paid.as_str()))
            .expression_attribute_values(":pending", s(OrderStatus::Pending.as_str()))
            .expression_attribute_values(":expired", s(OrderStatus::Expired.as_str()))
            .expression_attribute_values(":txn", s(&payment.provider_txn_id))
            .expression_attribute_values(":now", ts(now))
            .expression_attribute_values(":token", s(grant.token.expose()))
            .expression_attribute_values(":tokens", AttributeValue::Ss(vec![grant.token.expose().to_owned()]))
            .expression_attribute_values(":due", s(codec::MAIL_DUE_MARK))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":lease", ts(now + crate::delivery::MAIL_LEASE))
            .expression_attribute_values(":amount", n(payment.amount.minor()))
            .expression_attribute_values(":currency", s(payment.amount.currency().code()))
            .build()
            .map_err(|e| StoreError::Aws { op: "build Update", source: Box::new(e) })?;
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(codec::grant_item(&grant)))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(|e| StoreError::Aws {
                op: "build Put",
                source: Box::new(e),
            })?;

        // Unconditional: one payment id belongs to one order, and a repeat writes the
        // same item.
        let txn = Put::builder()
            .table_name(&self.table)
            .set_item(Some(codec::txn_item(
                order.channel,
                &payment.provider_txn_id,
                &order.id,
            )))
            .build()
            .map_err(|e| StoreError::Aws {
                op: "build Put",
                source: Box::new(e),
            })?;

        let mut tx = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(update).build())
            .transact_items(TransactWriteItem::builder().put(put).build())
            .transact_items(TransactWriteItem::builder().put(txn).build());
        if let Some((channel, event_id)) = event {
            let record = Put::builder()
                .table_name(&self.table)
                .set_item(Some(codec::event_item(channel, event_id, &order.id, now)))
                .condition_expression("attribute_not_exists(pk)")
                .build()
                .map_err(|e| StoreError::Aws {
                    op: "build Put",
                    source: Box::new(e),
                })?;
            tx = tx.transact_items(TransactWriteItem::builder().put(record).build());
        }
        let res = tx.send().await;
        match res {
            Ok(_) => Ok(Paid::Now {
                order: paid,
                grant: Box::new(grant),
            }),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_transaction_canceled_exception()) =>
            {
                // Someone else changed the order first (or it vanished). Explain from the
                // stored state, with the same rules that guarded the write.
                let current = self
                    .get_order(&order.id)
                    .await?
                    .ok_or_else(|| StoreError::OrderNotFound(order.id.clone()))?;
                let retry_token = DownloadToken::generate().map_err(StoreError::Token)?;
                match current
                    .pay(payment, retry_token, now)
                    .map_err(StoreError::Transition)?
                {
                    PayOutcome::AlreadyPaid => Ok(Paid::Already {
                        order: Box::new(current),
                    }),
                    // The stored order would accept this payment, so the cancellation was
                    // a transient conflict; the caller (or the provider's retry) tries again.
                    PayOutcome::Paid(_) => Err(StoreError::Contention(order.id.clone())),
                }
            }
            Err(e) => Err(aws("TransactWriteItems(pay)")(e)),
        }
    }

    /// A pending order the provider closed (or reconcile closed after its expiry). From
    /// now on DynamoDB's TTL may delete it, [`UNPAID_RETENTION`] from `now`: long enough
    /// for a late notification, which still pays it. Returns `false` (and writes nothing)
    /// if the order is no longer pending.
    pub async fn expire_order(
        &self,
        id: &OrderId,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        Self::update_if(
            self.client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(codec::order_key(id)))
                .update_expression("SET #status = :expired, #ttl = :ttl REMOVE pending, check_at")
                .condition_expression("#status = :pending")
                .expression_attribute_names("#status", "status")
                .expression_attribute_names("#ttl", "ttl")
                .expression_attribute_values(":ttl", ts(now + UNPAID_RETENTION))
                .expression_attribute_values(":expired", s(OrderStatus::Expired.as_str()))
                .expression_attribute_values(":pending", s(OrderStatus::Pending.as_str())),
            "UpdateItem(expire)",
        )
        .await
    }

    /// Record a refund the provider reported (see [`Order::record_refund`]). A full
    /// refund moves the order to REFUNDED and revokes every download link of the
    /// purchase in one transaction, so no link outlives the refund; a partial one
    /// records the amount. Conditions make a repeat, or a race with another report,
    /// change nothing.
    pub async fn apply_refund(
        &self,
        outcome: &RefundOutcome,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let build = |e: aws_sdk_dynamodb::error::BuildError| StoreError::Aws {
            op: "build refund",
            source: Box::new(e),
        };
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
                        .update_expression("SET refunded_minor = :total")
                        .condition_expression(
                            "#status = :paid AND (attribute_not_exists(refunded_minor) OR refunded_minor < :total)",
                        )
                        .expression_attribute_names("#status", "status")
                        .expression_attribute_values(":total", n(total.minor()))
                        .expression_attribute_values(":paid", s(OrderStatus::Paid.as_str())),
                    "UpdateItem(partial refund)",
                )
                .await
            }
            RefundOutcome::Full(order) => {
                let update = Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(codec::order_key(&order.id)))
                    .update_expression(
                        "SET #status = :refunded, refunded_at = :now, refunded_minor = :total",
                    )
                    .condition_expression("#status = :paid")
                    .expression_attribute_names("#status", "status")
                    .expression_attribute_values(":refunded", s(OrderStatus::Refunded.as_str()))
                    .expression_attribute_values(":paid", s(OrderStatus::Paid.as_str()))
                    .expression_attribute_values(":now", ts(now))
                    .expression_attribute_values(":total", n(order.amount.minor()))
                    .build()
                    .map_err(build)?;
                let mut tx = self
                    .client
                    .transact_write_items()
                    .transact_items(TransactWriteItem::builder().update(update).build());
                for token in order.all_grants() {
                    let revoke = Update::builder()
                        .table_name(&self.table)
                        .set_key(Some(codec::grant_key(&token)))
                        .update_expression("SET revoked = :true")
                        .condition_expression("attribute_exists(pk)")
                        .expression_attribute_values(":true", AttributeValue::Bool(true))
                        .build()
                        .map_err(build)?;
                    tx = tx.transact_items(TransactWriteItem::builder().update(revoke).build());
                }
                match tx.send().await {
                    Ok(_) => Ok(true),
                    Err(e)
                        if e.as_service_error()
                            .is_some_and(|e| e.is_transaction_canceled_exception()) =>
                    {
                        // Refunded by a concurrent report, or the order changed: explain
                        // from what is stored.
                        match self.get_order(&order.id).await? {
                            Some(o) if o.status == OrderStatus::Refunded => Ok(false),
                            _ => Err(StoreError::Contention(order.id.clone())),
                        }
                    }
                    Err(e) => Err(aws("TransactWriteItems(refund)")(e)),
                }
            }
        }
    }

    /// The purchase mail is no longer wanted (the order was refunded before it went
    /// out): out of `MailDue`, nothing sent.
    pub async fn mail_not_needed(&self, id: &OrderId) -> Result<(), StoreError> {
        Self::update_if(
            self.client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(codec::order_key(id)))
                .update_expression("SET mail_state = :not_due REMOVE mail_due, mail_next_at")
                .condition_expression("mail_state = :due")
                .expression_attribute_values(":not_due", s("NOT_DUE"))
                .expression_attribute_values(":due", s(codec::MAIL_DUE_MARK)),
            "UpdateItem(mail not needed)",
        )
        .await?;
        Ok(())
    }

    /// The purchase mail went out: clear the due mark.
    pub async fn mail_sent(&self, id: &OrderId, now: OffsetDateTime) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(codec::order_key(id)))
            .update_expression(
                "SET mail_state = :sent, mail_sent_at = :now REMOVE mail_due, mail_next_at",
            )
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":sent", s("SENT"))
            .expression_attribute_values(":now", ts(now))
            .send()
            .await
            .map_err(aws("UpdateItem(mail sent)"))?;
        Ok(())
    }

    /// Sending failed: keep it due, count the attempt and say when to try next.
    pub async fn mail_failed(
        &self,
        id: &OrderId,
        attempts: u32,
        next_at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(codec::order_key(id)))
            .update_expression("SET mail_attempts = :n, mail_next_at = :next")
            .condition_expression("mail_state = :due")
            .expression_attribute_values(":n", n(attempts))
            .expression_attribute_values(":next", ts(next_at))
            .expression_attribute_values(":due", s(codec::MAIL_DUE_MARK))
            .send()
            .await
            .map_err(aws("UpdateItem(mail failed)"))?;
        Ok(())
    }

    /// The mail is given up after its last failed attempt: out of `MailDue`, for the
    /// author to see (`kiosk orders --mail failed`).
    pub async fn mail_given_up(
        &self,
        id: &OrderId,
        attempts: u32,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(codec::order_key(id)))
            .update_expression(
                "SET mail_state = :failed, mail_attempts = :n, mail_failed_at = :now \
                 REMOVE mail_due, mail_next_at",
            )
            .condition_expression("mail_state = :due")
            .expression_attribute_values(":failed", s("FAILED"))
            .expression_attribute_values(":n", n(attempts))
            .expression_attribute_values(":now", ts(now))
            .expression_attribute_values(":due", s(codec::MAIL_DUE_MARK))
            .send()
            .await
            .map_err(aws("UpdateItem(mail given up)"))?;
        Ok(())
    }

    /// Up to `limit` orders whose purchase mail is due at `now`, longest-waiting first.
    pub async fn due_mails(
        &self,
        now: OffsetDateTime,
        limit: i32,
    ) -> Result<Vec<Order>, StoreError> {
        let out = self
            .query(index::MAIL_DUE)
            .key_condition_expression("mail_due = :due AND mail_next_at <= :now")
            .expression_attribute_values(":due", s(codec::MAIL_DUE_MARK))
            .expression_attribute_values(":now", ts(now))
            .limit(limit)
            .send()
            .await
            .map_err(aws("Query(MailDue)"))?;
        out.items().iter().map(codec::order_from).collect()
    }

    /// Take a due mail for sending: move its next try to `lease_until`, on condition that
    /// it is still due with the next-try time `seen` (what the caller read). Exactly one
    /// of several racing claimers gets the order back (as stored now); the others `None`.
    pub async fn claim_due_mail(
        &self,
        id: &OrderId,
        seen: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> Result<Option<Order>, StoreError> {
        let res = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(codec::order_key(id)))
            .update_expression("SET mail_next_at = :lease")
            .condition_expression("mail_state = :due AND mail_next_at = :seen")
            .expression_attribute_values(":lease", ts(lease_until))
            .expression_attribute_values(":seen", ts(seen))
            .expression_attribute_values(":due", s(codec::MAIL_DUE_MARK))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match res {
            Ok(out) => out
                .attributes()
                .map(codec::order_from)
                .transpose()?
                .map(Some)
                .ok_or_else(|| StoreError::Corrupt {
                    entity: "order",
                    detail: "claimed mail returned no attributes".into(),
                }),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(aws("UpdateItem(claim mail)")(e)),
        }
    }

    /// Paid orders of a product that were not refunded, oldest payment first.
    pub async fn buyers_of(&self, product: &ProductId) -> Result<Vec<Order>, StoreError> {
        let q = self
            .query(index::BUYERS_BY_PRODUCT)
            .key_condition_expression("product_id = :p")
            .filter_expression("#status = :paid")
            .expression_attribute_names("#status", "status")
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
            .key_condition_expression("pending = :p AND created_at < :cutoff")
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
            .key_condition_expression("pending = :p AND created_at < :cutoff")
            .filter_expression("attribute_not_exists(check_at) OR check_at <= :now")
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
                    let checks = codec::Reader::new(&item, "order").opt_n("checks")?;
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
                .update_expression("SET check_at = :next, checks = :n")
                .condition_expression("#status = :pending")
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":next", ts(next_at))
                .expression_attribute_values(":n", n(checks))
                .expression_attribute_values(":pending", s(OrderStatus::Pending.as_str())),
            "UpdateItem(record check)",
        )
        .await?;
        Ok(())
    }

    // ---- grants -------------------------------------------------------------------

    /// The download grants of `email`'s paid orders that can still serve a download,
    /// newest order first. One query on `OrdersByEmail`, one batch read of the grants.
    pub async fn usable_grants_for(
        &self,
        email: &crate::email::Email,
        now: OffsetDateTime,
    ) -> Result<Vec<Grant>, StoreError> {
        let q = self
            .query(index::ORDERS_BY_EMAIL)
            .key_condition_expression("email = :e")
            .filter_expression("#status = :paid")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":e", s(email.as_str()))
            .expression_attribute_values(":paid", s(OrderStatus::Paid.as_str()))
            .scan_index_forward(false);
        let tokens: Vec<DownloadToken> = Self::collect_orders(q, "Query(OrdersByEmail)")
            .await?
            .into_iter()
            .filter_map(|o| o.grant_token)
            .collect();
        let mut grants = Vec::with_capacity(tokens.len());
        for chunk in tokens.chunks(100) {
            let mut keys: Vec<Item> = chunk.iter().map(codec::grant_key).collect();
            // BatchGetItem may return part of the keys as unprocessed; ask again for those.
            for _ in 0..5 {
                if keys.is_empty() {
                    break;
                }
                let req = aws_sdk_dynamodb::types::KeysAndAttributes::builder()
                    .set_keys(Some(std::mem::take(&mut keys)))
                    .consistent_read(true)
                    .build()
                    .map_err(|e| StoreError::Aws {
                        op: "build BatchGetItem",
                        source: Box::new(e),
                    })?;
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, req)
                    .send()
                    .await
                    .map_err(aws("BatchGetItem(grants)"))?;
                for item in out
                    .responses()
                    .and_then(|r| r.get(&self.table))
                    .into_iter()
                    .flatten()
                {
                    let token = Reader::new(item, "grant")
                        .s("pk")?
                        .strip_prefix("GRANT#")
                        .and_then(|t| DownloadToken::parse(t).ok())
                        .ok_or_else(|| StoreError::Corrupt {
                            entity: "grant",
                            detail: "bad key".into(),
                        })?;
                    grants.push(codec::grant_from(&token, item)?);
                }
                keys = out
                    .unprocessed_keys()
                    .and_then(|u| u.get(&self.table))
                    .map(|k| k.keys().to_vec())
                    .unwrap_or_default();
            }
        }
        // Keep the order of `tokens` (newest order first).
        grants.sort_by_key(|g| tokens.iter().position(|t| *t == g.token));
        grants.retain(|g| g.usable(now).is_ok());
        Ok(grants)
    }

    /// Store a new grant on its own (the pay transaction creates the usual ones; this is
    /// for new editions and fixtures). Refuses to overwrite an existing token.
    pub async fn create_grant(&self, grant: &Grant) -> Result<(), StoreError> {
        match self
            .put_if(
                codec::grant_item(grant),
                "attribute_not_exists(pk)",
                "PutItem(grant)",
            )
            .await?
        {
            true => Ok(()),
            false => Err(StoreError::GrantExists),
        }
    }

    pub async fn get_grant(&self, token: &DownloadToken) -> Result<Option<Grant>, StoreError> {
        let item = self
            .get(codec::grant_key(token), true, "GetItem(grant)")
            .await?;
        item.as_ref()
            .map(|i| codec::grant_from(token, i))
            .transpose()
    }

    /// Spend one download: a single conditional decrement (downloads left, not expired,
    /// not revoked). Returns the grant as it is after the decrement, which carries the
    /// file to serve. One round trip, success or not: on failure DynamoDB hands back the
    /// item it refused, which says why.
    pub async fn consume_download(
        &self,
        token: &DownloadToken,
        now: OffsetDateTime,
    ) -> Result<Grant, ConsumeError> {
        let res = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(codec::grant_key(token)))
            .update_expression("SET downloads_left = downloads_left - :one")
            .condition_expression(
                "attribute_exists(pk) AND downloads_left > :zero AND revoked = :false \
                 AND (attribute_not_exists(expires_at) OR expires_at > :now)",
            )
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":false", AttributeValue::Bool(false))
            .expression_attribute_values(":now", ts(now))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match res {
            Ok(out) => {
                let item = out.attributes().ok_or_else(|| StoreError::Corrupt {
                    entity: "grant",
                    detail: "UpdateItem returned no attributes".into(),
                })?;
                Ok(codec::grant_from(token, item)?)
            }
            Err(SdkError::ServiceError(ctx)) => match ctx.err() {
                UpdateItemError::ConditionalCheckFailedException(e) => {
                    let Some(item) = e.item() else {
                        return Err(ConsumeError::NotFound);
                    };
                    let grant = codec::grant_from(token, item)?;
                    match grant.usable(now) {
                        Err(why) => Err(ConsumeError::Unusable {
                            why,
                            grant: Box::new(grant),
                        }),
                        // The stored grant looks usable yet the condition failed: the item
                        // is not what we wrote. Report it rather than guess.
                        Ok(()) => Err(StoreError::Corrupt {
                            entity: "grant",
                            detail: "condition failed on a usable grant".into(),
                        }
                        .into()),
                    }
                }
                _ => Err(aws("UpdateItem(download)")(SdkError::ServiceError(ctx)).into()),
            },
            Err(e) => Err(aws("UpdateItem(download)")(e).into()),
        }
    }
}
