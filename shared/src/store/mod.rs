//! The DynamoDB single-table store (docs/architecture.md, "Data model").
//!
//! Every state change is one conditional write (or one transaction), so concurrent
//! notifications, double clicks and retries cannot double-pay, double-grant or
//! over-download. When a condition fails we read the item back once and let the pure
//! domain rules explain why, so callers get a precise error rather than "condition
//! failed".

mod abtests;
mod codec;
mod codes;
mod editions;
mod grants;
mod licenses;
mod mail;
mod orders;
mod products;
mod reports;
mod resend;
pub mod views;
mod visits;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

use codec::Item;
pub use codec::UNPAID_RETENTION;
pub use codec::ViewCell;
pub use editions::EditionClaim;
pub use grants::{AddressLinks, ConsumeError};
pub use orders::{CodeHold, DisputeHold, Paid};
pub use reports::{LATE_PAYMENT, Reads};
pub use visits::{TestCells, ViewCount};

use crate::ids::{IdError, OrderId, ProductId};
use crate::order::{Order, TransitionError};

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
    /// The order's discount code could not be used (nothing was written).
    #[error(transparent)]
    CodeRefused(crate::pricing::PriceError),
    /// Another order of the same network took the code's hold meanwhile (nothing was
    /// written).
    #[error("another order from this network holds the code's use")]
    CodeHeld,
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

/// A conditional write's outcome: `Some(output)` when it wrote, `None` when its condition
/// failed (nothing written; the caller says what that means), or the failure.
fn conditional<T, E, R>(
    res: Result<T, SdkError<E, R>>,
    op: &'static str,
) -> Result<Option<T>, StoreError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match res {
        Ok(out) => Ok(Some(out)),
        Err(e)
            if e.as_service_error().and_then(ProvideErrorMetadata::code)
                == Some("ConditionalCheckFailedException") =>
        {
            Ok(None)
        }
        Err(e) => Err(aws(op)(e)),
    }
}

/// For an SDK request builder's error (a required field missing: our bug), reported as the
/// operation that could not be built; use as `.build().map_err(building(op))?`.
fn building(op: &'static str) -> impl FnOnce(aws_sdk_dynamodb::error::BuildError) -> StoreError {
    move |e| StoreError::Aws {
        op,
        source: Box::new(e),
    }
}

/// The name of the second table that belongs to `table`: the template names it so
/// (`VisitsTable`, `{Table}-visits`), and the local emulator makes it beside every table.
pub fn visits_table_of(table: &str) -> String {
    format!("{table}-visits")
}

#[derive(Clone, Debug)]
pub struct Store {
    client: Client,
    table: String,
    /// The second table (docs/architecture.md, "Data model"): what may be known of a
    /// visitor or a network for a day (the day's salt, visit markers, the per-network
    /// counters and resend slots). No point-in-time recovery, no backups: gone is gone.
    visits: String,
    /// The day's salt, kept in memory while the day lasts, for [`Store::network_tag`].
    salt: std::sync::Arc<std::sync::Mutex<Option<(time::Date, crate::visit::DailySalt)>>>,
}

impl Store {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        let table = table.into();
        Store {
            client,
            visits: visits_table_of(&table),
            table,
            salt: Default::default(),
        }
    }

    /// The second table's name ([`visits_table_of`] the main one).
    pub fn visits_table(&self) -> &str {
        &self.visits
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
        Ok(conditional(res, op)?.is_some())
    }

    /// Send a conditional UpdateItem: `true` if it wrote, `false` if its condition
    /// failed (the caller says what that means).
    async fn update_if(
        update: aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder,
        op: &'static str,
    ) -> Result<bool, StoreError> {
        Ok(conditional(update.send().await, op)?.is_some())
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

    /// Every item of the main table's partition `pk`, in sort-key order (every page).
    async fn partition(&self, pk: &str, op: &'static str) -> Result<Vec<Item>, StoreError> {
        self.client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", codec::s(pk))
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(aws(op))
    }

    /// Every item of `keys` that exists (strongly consistent; `projection`, if given,
    /// names the attributes read): one `BatchGetItem` per 100 keys, asking again for
    /// the keys DynamoDB hands back unprocessed (at most five rounds).
    async fn batch_get(
        &self,
        keys: Vec<Item>,
        projection: Option<&str>,
        op: &'static str,
    ) -> Result<Vec<Item>, StoreError> {
        let mut out = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(100) {
            let mut keys = chunk.to_vec();
            for _ in 0..5 {
                if keys.is_empty() {
                    break;
                }
                let req = aws_sdk_dynamodb::types::KeysAndAttributes::builder()
                    .set_keys(Some(std::mem::take(&mut keys)))
                    .consistent_read(true)
                    .set_projection_expression(projection.map(str::to_owned))
                    .build()
                    .map_err(building("build BatchGetItem"))?;
                let got = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, req)
                    .send()
                    .await
                    .map_err(aws(op))?;
                out.extend(
                    got.responses()
                        .and_then(|r| r.get(&self.table))
                        .into_iter()
                        .flatten()
                        .cloned(),
                );
                keys = got
                    .unprocessed_keys()
                    .and_then(|u| u.get(&self.table))
                    .map(|k| k.keys().to_vec())
                    .unwrap_or_default();
            }
        }
        Ok(out)
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
}
