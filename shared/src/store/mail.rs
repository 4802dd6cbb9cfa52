//! An order's purchase mail state: marked sent, failed (retried later) or given up, and
//! the `MailDue` index reconcile reads, with the claim that keeps two senders from
//! mailing one buyer twice ([`crate::delivery`] has the policy); and the bounces and
//! complaints recorded on the orders of an address ([`crate::mail_events`]).

use aws_sdk_dynamodb::types::ReturnValue;
use time::OffsetDateTime;

use super::codec::attr::*;
use super::codec::{self, n, s, ts};
use super::{Store, StoreError, aws, conditional, index};
use crate::email::Email;
use crate::ids::OrderId;
use crate::order::{MailBlock, MailBlockKind, Order};

impl Store {
    /// The purchase mail is no longer wanted (the order was refunded before it went
    /// out, or its address bounced or complained): out of `MailDue`, nothing sent.
    pub async fn mail_not_needed(&self, id: &OrderId) -> Result<(), StoreError> {
        Self::update_if(
            self.client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(codec::order_key(id)))
                .update_expression(format!(
                    "SET {MAIL_STATE} = :not_due REMOVE {MAIL_DUE}, {MAIL_NEXT_AT}"
                ))
                .condition_expression(format!("{MAIL_STATE} = :due"))
                .expression_attribute_values(":not_due", s(codec::mail_state::NOT_DUE))
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
            .update_expression(format!(
                "SET {MAIL_STATE} = :sent, {MAIL_SENT_AT} = :now REMOVE {MAIL_DUE}, {MAIL_NEXT_AT}"
            ))
            .condition_expression(format!("attribute_exists({PK})"))
            .expression_attribute_values(":sent", s(codec::mail_state::SENT))
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
            .update_expression(format!("SET {MAIL_ATTEMPTS} = :n, {MAIL_NEXT_AT} = :next"))
            .condition_expression(format!("{MAIL_STATE} = :due"))
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
            .update_expression(format!(
                "SET {MAIL_STATE} = :failed, {MAIL_ATTEMPTS} = :n, {MAIL_FAILED_AT} = :now \
                 REMOVE {MAIL_DUE}, {MAIL_NEXT_AT}"
            ))
            .condition_expression(format!("{MAIL_STATE} = :due"))
            .expression_attribute_values(":failed", s(codec::mail_state::FAILED))
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
            .key_condition_expression(format!("{MAIL_DUE} = :due AND {MAIL_NEXT_AT} <= :now"))
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
            .update_expression(format!("SET {MAIL_NEXT_AT} = :lease"))
            .condition_expression(format!("{MAIL_STATE} = :due AND {MAIL_NEXT_AT} = :seen"))
            .expression_attribute_values(":lease", ts(lease_until))
            .expression_attribute_values(":seen", ts(seen))
            .expression_attribute_values(":due", s(codec::MAIL_DUE_MARK))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        let Some(out) = conditional(res, "UpdateItem(claim mail)")? else {
            return Ok(None);
        };
        out.attributes()
            .map(codec::order_from)
            .transpose()?
            .map(Some)
            .ok_or_else(|| StoreError::Corrupt {
                entity: "order",
                detail: "claimed mail returned no attributes".into(),
            })
    }

    /// Every order of `email`, in any state, newest first: one query on `OrdersByEmail`.
    pub async fn orders_of(&self, email: &Email) -> Result<Vec<Order>, StoreError> {
        let q = self
            .query(index::ORDERS_BY_EMAIL)
            .key_condition_expression(format!("{EMAIL} = :e"))
            .expression_attribute_values(":e", s(email.as_str()))
            .scan_index_forward(false);
        Self::collect_orders(q, "Query(OrdersByEmail)").await
    }

    /// Record on order `id` that mail to `email` stopped. Conditioned on the order still
    /// having that address (a correction made meanwhile wins) and, for a bounce, on no
    /// complaint being recorded (a complaint is the stronger reason and stays). `false`:
    /// nothing written.
    pub async fn block_mail(
        &self,
        id: &OrderId,
        email: &Email,
        block: &MailBlock,
    ) -> Result<bool, StoreError> {
        let mut condition = format!("attribute_exists({PK}) AND {EMAIL} = :e");
        if block.kind == MailBlockKind::Bounced {
            condition.push_str(&format!(
                " AND (attribute_not_exists({MAIL_BLOCK}) OR {MAIL_BLOCK} <> :complained)"
            ));
        }
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(codec::order_key(id)))
            .update_expression(format!(
                "SET {MAIL_BLOCK} = :kind, {MAIL_BLOCK_AT} = :at, {MAIL_BLOCK_DETAIL} = :detail"
            ))
            .condition_expression(condition)
            .expression_attribute_values(":e", s(email.as_str()))
            .expression_attribute_values(":kind", s(block.kind.as_str()))
            .expression_attribute_values(":at", ts(block.at))
            .expression_attribute_values(":detail", s(&block.detail));
        if block.kind == MailBlockKind::Bounced {
            update = update
                .expression_attribute_values(":complained", s(MailBlockKind::Complained.as_str()));
        }
        Self::update_if(update, "UpdateItem(mail block)").await
    }

    /// Forget a bounce or complaint recorded on order `id` (the author vouches for the
    /// address), conditioned on the order still having `email`.
    pub async fn clear_mail_block(&self, id: &OrderId, email: &Email) -> Result<bool, StoreError> {
        Self::update_if(
            self.client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(codec::order_key(id)))
                .update_expression(format!(
                    "REMOVE {MAIL_BLOCK}, {MAIL_BLOCK_AT}, {MAIL_BLOCK_DETAIL}"
                ))
                .condition_expression(format!("attribute_exists({PK}) AND {EMAIL} = :e"))
                .expression_attribute_values(":e", s(email.as_str())),
            "UpdateItem(clear mail block)",
        )
        .await
    }

    /// Record that mail to `email` stopped (SES's report): one item per address,
    /// `MAILBLOCK#{email}`, whatever the number of its orders. A bounce does not replace a
    /// complaint (the stronger reason stays). `false`: nothing written (a complaint was
    /// there for a bounce).
    pub async fn block_address(
        &self,
        email: &Email,
        block: &MailBlock,
    ) -> Result<bool, StoreError> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(codec::address_block_key(email)))
            .update_expression(format!(
                "SET {MAIL_BLOCK} = :kind, {MAIL_BLOCK_AT} = :at, {MAIL_BLOCK_DETAIL} = :detail, {ENTITY} = :entity"
            ))
            .expression_attribute_values(":kind", s(block.kind.as_str()))
            .expression_attribute_values(":at", ts(block.at))
            .expression_attribute_values(":detail", s(&block.detail))
            .expression_attribute_values(":entity", s("mail_block"));
        if block.kind == MailBlockKind::Bounced {
            update = update
                .condition_expression(format!(
                    "attribute_not_exists({MAIL_BLOCK}) OR {MAIL_BLOCK} <> :complained"
                ))
                .expression_attribute_values(":complained", s(MailBlockKind::Complained.as_str()));
        }
        Self::update_if(update, "UpdateItem(address block)").await
    }

    /// The bounce or complaint SES reported for `email`, if any (one strongly
    /// consistent read).
    pub async fn address_block(&self, email: &Email) -> Result<Option<MailBlock>, StoreError> {
        let item = self
            .get(
                codec::address_block_key(email),
                true,
                "GetItem(address block)",
            )
            .await?;
        item.as_ref().map(codec::mail_block_from).transpose()
    }

    /// The blocks of several addresses (one batch read per 100).
    pub async fn address_blocks(
        &self,
        emails: &[Email],
    ) -> Result<std::collections::HashMap<Email, MailBlock>, StoreError> {
        let mut out = std::collections::HashMap::new();
        let mut unique: Vec<&Email> = emails.iter().collect();
        unique.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        unique.dedup();
        let keys: Vec<codec::Item> = unique.iter().map(|e| codec::address_block_key(e)).collect();
        for item in self
            .batch_get(keys, None, "BatchGetItem(address blocks)")
            .await?
        {
            let email = codec::Reader::new(&item, "mail block")
                .s(PK)?
                .strip_prefix("MAILBLOCK#")
                .and_then(|e| Email::parse(e).ok());
            if let Some(email) = email {
                out.insert(email, codec::mail_block_from(&item)?);
            }
        }
        Ok(out)
    }

    /// Give each of `orders` without a mark of its own its address's block, if any: what
    /// a reader of orders (a mail-out, `kiosk orders --mail bounced`) sees of SES's
    /// reports.
    pub async fn with_address_blocks(&self, orders: &mut [Order]) -> Result<(), StoreError> {
        let emails: Vec<Email> = orders.iter().map(|o| o.email.clone()).collect();
        let blocks = self.address_blocks(&emails).await?;
        for o in orders.iter_mut() {
            if o.mail_block.is_none()
                && let Some(b) = blocks.get(&o.email)
            {
                o.mail_block = Some(b.clone());
            }
        }
        Ok(())
    }

    /// Forget the bounce or complaint recorded for `email` (the author vouches for it).
    pub async fn clear_address_block(&self, email: &Email) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(codec::address_block_key(email)))
            .send()
            .await
            .map_err(super::aws("DeleteItem(address block)"))?;
        Ok(())
    }
}
