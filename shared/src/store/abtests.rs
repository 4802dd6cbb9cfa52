//! The author's registered A/B tests ([`crate::abtest`]): one item each under the
//! `TESTS` partition, read by the collect function in one query (cached a minute).

use aws_sdk_dynamodb::types::AttributeValue;
use time::OffsetDateTime;

use super::codec::attr::{ENTITY, PK};
use super::codec::{Item, Reader, s, ts};
use super::{Store, StoreError};
use crate::abtest::AbTest;
use crate::ids::ProductId;
use crate::visit::Name;

const TESTS_PK: &str = "TESTS";

fn key(name: &Name) -> Item {
    Item::from([
        ("pk".to_owned(), s(TESTS_PK)),
        ("sk".to_owned(), s(name.as_str())),
    ])
}

fn from_item(item: &Item) -> Result<AbTest, StoreError> {
    let r = Reader::new(item, "ab test");
    let name = Name::parse(r.s("sk")?).ok_or_else(|| r.corrupt("sk", "not a test name"))?;
    let variants = r
        .s("variants")?
        .split(',')
        .map(|v| Name::parse(v).ok_or_else(|| r.corrupt("variants", "not a variant name")))
        .collect::<Result<Vec<_>, _>>()?;
    let product = r
        .opt_s("product")?
        .map(|p| ProductId::parse(p).map_err(|_| r.corrupt("product", "not a product id")))
        .transpose()?;
    Ok(AbTest {
        name,
        variants,
        product,
        created_at: r.ts("created_at")?,
        stopped_at: r.opt_ts("stopped_at")?,
    })
}

impl Store {
    /// Register a test; `false` (nothing written) if one of that name exists (running or
    /// stopped: a name keeps its numbers).
    pub async fn create_test(&self, t: &AbTest) -> Result<bool, StoreError> {
        let mut item = key(&t.name);
        item.insert(ENTITY.into(), s("ab_test"));
        let variants: Vec<&str> = t.variants.iter().map(Name::as_str).collect();
        item.insert("variants".into(), s(variants.join(",")));
        if let Some(p) = &t.product {
            item.insert("product".into(), s(p.as_str()));
        }
        item.insert("created_at".into(), ts(t.created_at));
        self.put_if(
            item,
            &format!("attribute_not_exists({PK})"),
            "PutItem(ab test)",
        )
        .await
    }

    /// Every registered test, by name.
    pub async fn tests(&self) -> Result<Vec<AbTest>, StoreError> {
        let items = self.partition(TESTS_PK, "Query(ab tests)").await?;
        items.iter().map(from_item).collect()
    }

    /// Stop a running test; `false` if there is no such running test.
    pub async fn stop_test(&self, name: &Name, now: OffsetDateTime) -> Result<bool, StoreError> {
        Self::update_if(
            self.client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key(name)))
                .update_expression("SET stopped_at = :now")
                .condition_expression(format!(
                    "attribute_exists({PK}) AND attribute_not_exists(stopped_at)"
                ))
                .expression_attribute_values(":now", ts(now)),
            "UpdateItem(stop ab test)",
        )
        .await
    }

    /// Which of `ids` are products of this shop (one batch read of their keys).
    pub async fn existing_products(&self, ids: &[ProductId]) -> Result<Vec<ProductId>, StoreError> {
        let keys: Vec<Item> = ids.iter().map(super::codec::product_key).collect();
        let mut found = Vec::new();
        for item in self
            .batch_get(keys, Some("pk"), "BatchGetItem(products)")
            .await?
        {
            if let Some(AttributeValue::S(pk)) = item.get("pk")
                && let Some(id) = pk.strip_prefix("PRODUCT#")
                && let Ok(id) = ProductId::parse(id)
            {
                found.push(id);
            }
        }
        Ok(found)
    }
}
