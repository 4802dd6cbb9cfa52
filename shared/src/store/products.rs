//! Products: one item each, `PRODUCT#{id}`; created once, then updated in place (price,
//! title, new editions).

use time::OffsetDateTime;

use super::codec;
use super::{Store, StoreError};
use crate::ids::ProductId;
use crate::product::Product;

impl Store {
    /// Add a new product; refuses an id that is taken.
    pub async fn create_product(&self, p: &Product, now: OffsetDateTime) -> Result<(), StoreError> {
        match self
            .put_if(
                codec::product_item(p, now),
                codec::NEW_ITEM,
                "PutItem(product)",
            )
            .await?
        {
            true => Ok(()),
            false => Err(StoreError::ProductExists(p.id().clone())),
        }
    }

    /// Replace an existing product (new price, title, edition); refuses an unknown id.
    pub async fn update_product(&self, p: &Product, now: OffsetDateTime) -> Result<(), StoreError> {
        match self
            .put_if(
                codec::product_item(p, now),
                codec::EXISTING_ITEM,
                "PutItem(product)",
            )
            .await?
        {
            true => Ok(()),
            false => Err(StoreError::ProductNotFound(p.id().clone())),
        }
    }

    pub async fn get_product(&self, id: &ProductId) -> Result<Option<Product>, StoreError> {
        let item = self
            .get(codec::product_key(id), false, "GetItem(product)")
            .await?;
        item.as_ref().map(codec::product_from).transpose()
    }
}
