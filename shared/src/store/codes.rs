//! Discount codes: one item each under the `CODES` partition, and the use a code's order
//! reserves. A use is reserved in the transaction that writes the order, conditioned on
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
        let items = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(codec::CODES_PK))
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(aws("Query(codes)"))?;
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
        let sent = tx
            .transact_items(TransactWriteItem::builder().update(reserve).build())
            .send()
            .await;
        match sent {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_transaction_canceled_exception()) =>
            {
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
