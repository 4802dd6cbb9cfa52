//! License items (`LICENSE#{key}`, written with the payment, [`Store::mark_paid`]) and
//! the one list of revoked licenses' orders (`LICENSES`/`REVOKED`, added to by a full
//! refund, [`Store::apply_refund`]): what the online check reads and counts
//! ([`crate::license`]).

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};

use super::codec::attr::*;
use super::codec::{self, n};
use super::{Store, StoreError, aws};
use crate::ids::OrderId;
use crate::license::{Activation, LicenseKey, LicenseRecord};

impl Store {
    /// The license with short key `key`; `None`: no such key.
    pub async fn get_license(&self, key: &LicenseKey) -> Result<Option<LicenseRecord>, StoreError> {
        let item = self
            .get(codec::license_key(key), true, "GetItem(license)")
            .await?;
        item.map(|i| codec::license_from(key, &i)).transpose()
    }

    /// Count one activation of `key`, in one conditional write: only while a seat is
    /// free and the order is not refunded, so concurrent activations never pass the
    /// seats. A refusal comes with the record as it stood.
    pub async fn activate_license(&self, key: &LicenseKey) -> Result<Activation, StoreError> {
        let res = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(codec::license_key(key)))
            .update_expression(format!("ADD {USES} :one"))
            .condition_expression(format!(
                "attribute_exists({PK}) AND {USES} < {SEATS} AND {REFUNDED} = :no"
            ))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":no", AttributeValue::Bool(false))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match res {
            Ok(out) => match out.attributes() {
                Some(item) => Ok(Activation::Counted(codec::license_from(key, item)?)),
                None => Err(StoreError::Corrupt {
                    entity: "license",
                    detail: "UpdateItem returned no item".into(),
                }),
            },
            Err(e) => {
                let failed = e.as_service_error().and_then(|e| match e {
                    aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(c) => Some(c.item().cloned()),
                    _ => None,
                });
                match failed {
                    Some(Some(item)) => Ok(Activation::Refused(codec::license_from(key, &item)?)),
                    Some(None) => Ok(Activation::Unknown),
                    None => Err(aws("UpdateItem(activate license)")(e)),
                }
            }
        }
    }

    /// Every order whose license a full refund revoked.
    pub async fn revoked_licenses(&self) -> Result<Vec<OrderId>, StoreError> {
        let item = self
            .get(
                codec::revoked_licenses_key(),
                true,
                "GetItem(revoked licenses)",
            )
            .await?;
        let Some(item) = item else {
            return Ok(Vec::new());
        };
        match item.get(codec::REVOKED_ORDERS) {
            None => Ok(Vec::new()),
            Some(AttributeValue::Ss(ids)) => ids
                .iter()
                .map(|id| {
                    OrderId::parse(id).map_err(|_| StoreError::Corrupt {
                        entity: "revoked licenses",
                        detail: "not an order id".into(),
                    })
                })
                .collect(),
            Some(_) => Err(StoreError::Corrupt {
                entity: "revoked licenses",
                detail: "orders is not a string set".into(),
            }),
        }
    }
}
