//! The resumable new-edition mail-out behind `kiosk update`.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{Put, TransactWriteItem, Update};
use time::OffsetDateTime;

use super::codec::attr::*;
use super::codec::{self, Item, n, s, ts};
use super::{Store, StoreError, aws, building};
use crate::edition::EditionMail;
use crate::grant::Grant;
use crate::ids::{DownloadToken, OrderId, ProductId};
use crate::order::{Order, OrderStatus};

/// The outcome of claiming one buyer's new-edition mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EditionClaim {
    /// Recorded now, in one transaction with the new grant and the order now pointing at
    /// it (so "email me my links" gives the new edition): send the mail.
    New,
    /// An earlier run recorded it but did not finish, or SES refused it: send again with
    /// the link recorded then (its grant exists).
    Unfinished { token: DownloadToken },
    /// Already mailed: skip.
    Sent,
    /// The order is no longer paid (refunded since the list was read), or its payment is
    /// disputed: skip.
    NotPaid,
}

impl Store {
    /// Claim `order`'s mail about `grant`'s edition. See [`EditionClaim`].
    pub async fn claim_edition_mail(
        &self,
        order: &Order,
        grant: &Grant,
        now: OffsetDateTime,
    ) -> Result<EditionClaim, StoreError> {
        let record = Put::builder()
            .table_name(&self.table)
            .set_item(Some(codec::edition_mail_item(
                &grant.product_id,
                &grant.edition,
                order,
                &grant.token,
                now,
            )))
            .condition_expression(format!("attribute_not_exists({PK})"))
            .build()
            .map_err(building("build Put"))?;
        let new_grant = Put::builder()
            .table_name(&self.table)
            .set_item(Some(codec::grant_item(grant)))
            .condition_expression(format!("attribute_not_exists({PK})"))
            .build()
            .map_err(building("build Put"))?;
        let point = Update::builder()
            .table_name(&self.table)
            .set_key(Some(codec::order_key(&order.id)))
            .update_expression(format!(
                "SET {GRANT_TOKEN} = :token ADD {GRANT_TOKENS} :tokens"
            ))
            // Not while the payment is disputed: a new link would outlive the suspension.
            .condition_expression(format!(
                "#status = :paid AND (attribute_not_exists({DISPUTE}) OR {DISPUTE} = :won)"
            ))
            .expression_attribute_values(":won", s(crate::order::Dispute::Won.as_str()))
            .expression_attribute_names("#status", STATUS)
            .expression_attribute_values(":token", s(grant.token.expose()))
            .expression_attribute_values(
                ":tokens",
                aws_sdk_dynamodb::types::AttributeValue::Ss(vec![grant.token.expose().to_owned()]),
            )
            .expression_attribute_values(":paid", s(OrderStatus::Paid.as_str()))
            .build()
            .map_err(building("build Update"))?;
        let res = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(record).build())
            .transact_items(TransactWriteItem::builder().put(new_grant).build())
            .transact_items(TransactWriteItem::builder().update(point).build())
            .send()
            .await;
        match res {
            Ok(_) => Ok(EditionClaim::New),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_transaction_canceled_exception()) =>
            {
                if let Some(existing) = self
                    .edition_mail(&grant.product_id, &grant.edition, &order.id)
                    .await?
                {
                    return Ok(match existing.state {
                        crate::edition::EditionMailState::Sent { .. } => EditionClaim::Sent,
                        _ => EditionClaim::Unfinished {
                            token: existing.grant_token,
                        },
                    });
                }
                match self.get_order(&order.id).await? {
                    Some(o)
                        if o.status() == OrderStatus::Paid
                            && !o.dispute.is_some_and(|d| d.suspends()) =>
                    {
                        Err(StoreError::Contention(order.id.clone()))
                    }
                    _ => Ok(EditionClaim::NotPaid),
                }
            }
            Err(e) => Err(aws("TransactWriteItems(edition mail)")(e)),
        }
    }

    pub async fn edition_mail(
        &self,
        product: &ProductId,
        edition: &crate::product::Edition,
        order: &OrderId,
    ) -> Result<Option<EditionMail>, StoreError> {
        let item = self
            .get(
                codec::edition_mail_key(product, edition, order),
                true,
                "GetItem(edition mail)",
            )
            .await?;
        item.as_ref().map(codec::edition_mail_from).transpose()
    }

    /// Every mail record of one edition's mail-out, by order.
    pub async fn edition_mails(
        &self,
        product: &ProductId,
        edition: &crate::product::Edition,
    ) -> Result<HashMap<OrderId, EditionMail>, StoreError> {
        let items = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression(format!("{PK} = :pk"))
            .expression_attribute_values(":pk", s(codec::edition_mail_pk(product, edition)))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<Item>, _>>()
            .await
            .map_err(aws("Query(edition mails)"))?;
        items
            .iter()
            .map(|i| codec::edition_mail_from(i).map(|m| (m.order_id.clone(), m)))
            .collect()
    }

    /// SES accepted the mail.
    pub async fn edition_mail_sent(
        &self,
        product: &ProductId,
        edition: &crate::product::Edition,
        order: &OrderId,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(codec::edition_mail_key(product, edition, order)))
            .update_expression(format!(
                "SET #state = :sent, {SENT_AT} = :now REMOVE {LAST_ERROR}"
            ))
            .condition_expression(format!("attribute_exists({PK})"))
            .expression_attribute_names("#state", STATE)
            .expression_attribute_values(":sent", s(codec::edition_state::SENT))
            .expression_attribute_values(":now", ts(now))
            .send()
            .await
            .map_err(aws("UpdateItem(edition mail sent)"))?;
        Ok(())
    }

    /// SES refused the mail: keep the record (and its link) for the next run.
    pub async fn edition_mail_failed(
        &self,
        product: &ProductId,
        edition: &crate::product::Edition,
        order: &OrderId,
        reason: &str,
    ) -> Result<(), StoreError> {
        // A reason is one line for the author; keep items small whatever a cause prints.
        let reason: String = reason.chars().take(500).collect();
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(codec::edition_mail_key(product, edition, order)))
            .update_expression(format!(
                "SET #state = :failed, {LAST_ERROR} = :why ADD {FAILURES} :one"
            ))
            .condition_expression(format!("attribute_exists({PK}) AND #state <> :sent"))
            .expression_attribute_names("#state", STATE)
            .expression_attribute_values(":failed", s(codec::edition_state::FAILED))
            .expression_attribute_values(":sent", s(codec::edition_state::SENT))
            .expression_attribute_values(":why", s(reason))
            .expression_attribute_values(":one", n(1))
            .send()
            .await
            .map_err(aws("UpdateItem(edition mail failed)"))?;
        Ok(())
    }
}
