//! Reads for the author's reports (`kiosk orders`, `kiosk sales`, `kiosk product list`).
//!
//! Orders come from the `ByCreatedAt` index (entity, created_at), so a report reads the
//! orders of the asked range and nothing else: not the grants, handled events, payment
//! ids and mail records beside them, and not the orders outside the range. Each read
//! says what it cost ([`Reads`]), which the CLI prints.

use aws_sdk_dynamodb::types::AttributeValue;
use time::{Duration, OffsetDateTime};

use super::codec::attr::*;
use super::codec::{self, Item, UNPAID_RETENTION, s, ts};
use super::{Store, StoreError, aws, index};
use crate::order::Order;
use crate::product::Product;

/// The longest an order's payment can be recorded after the order was created: its
/// checkout lasts at most a day (`ORDER_TTL_MINUTES` ≤ 1440), an expired order is kept
/// [`UNPAID_RETENTION`] for a late payment, and DynamoDB's TTL may take about two more
/// days to delete it. Sales paid since a day are read from orders created this long
/// before it.
pub const LATE_PAYMENT: Duration = Duration::days(1 + UNPAID_RETENTION.whole_days() + 2);

/// What a report read from DynamoDB: requests sent and items read (billed by their
/// size: an eventually consistent read is half a capacity unit per 4 KB).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reads {
    pub requests: u32,
    pub items: u64,
}

impl Store {
    /// Orders created at or after `since` (all of them without), oldest first.
    pub async fn orders_created_since(
        &self,
        since: Option<OffsetDateTime>,
    ) -> Result<(Vec<Order>, Reads), StoreError> {
        self.orders_by_creation(since).await
    }

    /// Orders paid at or after `since` (every order ever paid without; refunded ones
    /// included, as they were paid), oldest creation first. Reads the orders created
    /// from [`LATE_PAYMENT`] before `since`.
    pub async fn orders_paid_since(
        &self,
        since: Option<OffsetDateTime>,
    ) -> Result<(Vec<Order>, Reads), StoreError> {
        let (mut orders, reads) = self
            .orders_by_creation(since.map(|t| t - LATE_PAYMENT))
            .await?;
        orders.retain(|o| o.paid_at().is_some_and(|p| since.is_none_or(|t| p >= t)));
        Ok((orders, reads))
    }

    async fn orders_by_creation(
        &self,
        since: Option<OffsetDateTime>,
    ) -> Result<(Vec<Order>, Reads), StoreError> {
        let mut q = self
            .query(index::BY_CREATED_AT)
            .expression_attribute_values(":e", s("order"));
        q = match since {
            Some(t) => q
                .key_condition_expression(format!("{ENTITY} = :e AND {CREATED_AT} >= :since"))
                .expression_attribute_values(":since", ts(t)),
            None => q.key_condition_expression(format!("{ENTITY} = :e")),
        };
        let mut pages = q.into_paginator().send();
        let (mut orders, mut reads) = (Vec::new(), Reads::default());
        while let Some(page) = pages.next().await {
            let page = page.map_err(aws("Query(ByCreatedAt)"))?;
            reads.requests += 1;
            reads.items += u64::try_from(page.scanned_count()).unwrap_or(0);
            for item in page.items() {
                orders.push(codec::order_from(item)?);
            }
        }
        Ok((orders, reads))
    }

    /// All products, by id. A scan of the whole table: products carry no creation time
    /// for the index, and `kiosk product list` is run by hand, rarely.
    pub async fn all_products(&self) -> Result<Vec<Product>, StoreError> {
        let items: Vec<Item> = self
            .client
            .scan()
            .table_name(&self.table)
            .filter_expression(format!("{ENTITY} = :e"))
            .expression_attribute_values(":e", AttributeValue::S("product".into()))
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<Item>, _>>()
            .await
            .map_err(aws("Scan(products)"))?;
        let mut products = items
            .iter()
            .map(codec::product_from)
            .collect::<Result<Vec<_>, _>>()?;
        products.sort_by(|a, b| a.id().cmp(b.id()));
        Ok(products)
    }
}
