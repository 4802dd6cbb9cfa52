//! Discount codes: one item each under the `CODES` partition, the use a code's order
//! reserves, and the one pending use each network may hold (`HOLD#`). A use is reserved in the transaction that writes the order, conditioned on
//! the code still having one, so a code with 5 uses is used at most 5 times whatever the
//! concurrency; an order that expires unpaid gives its use back in the transaction that
//! expires it ([`Store::expire_order`]). Codes are never deleted, only disabled, so the
//! orders that name one can always find it.

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use time::OffsetDateTime;

use super::codec::attr::*;
use super::codec::{self, n, s, ts};
use super::{Store, StoreError, aws, building};
use crate::order::Order;
use crate::pricing::{Code, CodeName};

impl Store {
    /// Add a new code; `false` (nothing written) if the name is taken.
    pub async fn create_code(&self, code: &Code) -> Result<bool, StoreError> {
        self.put_if(codec::code_item(code), codec::NEW_ITEM, "PutItem(code)")
            .await
    }

    pub async fn get_code(&self, name: &CodeName) -> Result<Option<Code>, StoreError> {
        let item = self
            .get(codec::code_key(name), true, "GetItem(code)")
            .await?;
        item.as_ref().map(codec::code_from).transpose()
    }

    /// Every code, by name: one query of the `CODES` partition.
    pub async fn codes(&self) -> Result<Vec<Code>, StoreError> {
        let items = self.partition(codec::CODES_PK, "Query(codes)").await?;
        items.iter().map(codec::code_from).collect()
    }

    /// Stop a code working for new orders; `false` if there is no such code.
    pub async fn disable_code(&self, name: &CodeName) -> Result<bool, StoreError> {
        Self::update_if(
            self.client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(codec::code_key(name)))
                .update_expression(format!("SET {DISABLED} = :t"))
                .condition_expression(codec::EXISTING_ITEM)
                .expression_attribute_values(":t", AttributeValue::Bool(true)),
            "UpdateItem(disable code)",
        )
        .await
    }

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

    /// The order holding `network`'s pending use of `code`, if one was recorded (it may
    /// no longer be pending).
    pub async fn code_hold(
        &self,
        code: &CodeName,
        network: &crate::net::NetworkTag,
    ) -> Result<Option<crate::ids::OrderId>, StoreError> {
        let item = self
            .get(
                codec::code_hold_key(code, network.as_str()),
                true,
                "GetItem(code hold)",
            )
            .await?;
        item.map(|i| {
            codec::Reader::new(&i, "code hold")
                .s(ORDER_ID)
                .and_then(|id| {
                    crate::ids::OrderId::parse(id).map_err(|_| StoreError::Corrupt {
                        entity: "code hold",
                        detail: "not an order id".into(),
                    })
                })
        })
        .transpose()
    }

    /// The update that gives back the use `code`'s order reserved (for the transaction
    /// that expires the order).
    pub(super) fn release_code(&self, code: &CodeName) -> Result<Update, StoreError> {
        Update::builder()
            .table_name(&self.table)
            .set_key(Some(codec::code_key(code)))
            .update_expression(format!("SET {USES} = {USES} - :one"))
            .condition_expression(format!("{USES} > :zero"))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":zero", n(0))
            .build()
            .map_err(building("build Update"))
    }
}
