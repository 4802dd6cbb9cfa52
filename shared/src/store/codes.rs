//! Discount codes: one item each under the `CODES` partition, the use a code's order
//! reserves, and the one pending use each network may hold (`HOLD#`). A use is reserved
//! in the transaction that writes the order ([`Store::create_order`], in `orders.rs`), conditioned on
//! the code still having one, so a code with 5 uses is used at most 5 times whatever the
//! concurrency; an order that expires unpaid gives its use back in the transaction that
//! expires it ([`Store::expire_order`]). Codes are never deleted, only disabled, so the
//! orders that name one can always find it.

use aws_sdk_dynamodb::types::{AttributeValue, Update};

use super::codec::attr::*;
use super::codec::{self, n};
use super::{Store, StoreError, building};
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
    /// that expires the order, or refunds it before its payment was recorded).
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
