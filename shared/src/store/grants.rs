//! Download grants: one item each, `GRANT#{token}`; the atomic spend of one download,
//! and a buyer's usable links (by their orders' `grant_tokens`, for "email me my links").

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use time::OffsetDateTime;

use super::codec::attr::*;
use super::codec::{self, Item, Reader, n, s, ts};
use super::{Store, StoreError, aws, index};
use crate::grant::{Grant, Unusable};
use crate::ids::DownloadToken;
use crate::order::OrderStatus;

/// Why a download could not be counted.
#[derive(Debug, thiserror::Error)]
pub enum ConsumeError {
    #[error("no such download link")]
    NotFound,
    #[error("{why}")]
    Unusable { why: Unusable, grant: Box<Grant> },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What an address may be mailed: its usable links (maybe none), or nothing at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddressLinks {
    Usable(Vec<Grant>),
    /// Mail to the address bounced for good or was marked as spam (the newest order's
    /// record): the shop mails it nothing.
    Blocked(crate::order::MailBlock),
}

impl Store {
    /// The download grants of `email`'s paid orders that can still serve a download,
    /// newest order first. One query on `OrdersByEmail`, one batch read of the grants.
    /// When one of those orders records that mail to the address bounced or complained,
    /// that is the answer instead ([`AddressLinks::Blocked`]) and no grant is read.
    pub async fn usable_grants_for(
        &self,
        email: &crate::email::Email,
        now: OffsetDateTime,
    ) -> Result<AddressLinks, StoreError> {
        let q = self
            .query(index::ORDERS_BY_EMAIL)
            .key_condition_expression(format!("{EMAIL} = :e"))
            .filter_expression("#status = :paid")
            .expression_attribute_names("#status", STATUS)
            .expression_attribute_values(":e", s(email.as_str()))
            .expression_attribute_values(":paid", s(OrderStatus::Paid.as_str()))
            .scan_index_forward(false);
        let orders = Self::collect_orders(q, "Query(OrdersByEmail)").await?;
        if let Some(block) = orders.iter().find_map(|o| o.mail_block.clone()) {
            return Ok(AddressLinks::Blocked(block));
        }
        if orders.is_empty() {
            return Ok(AddressLinks::Usable(Vec::new()));
        }
        if let Some(block) = self.address_block(email).await? {
            return Ok(AddressLinks::Blocked(block));
        }
        let tokens: Vec<DownloadToken> = orders
            .into_iter()
            .filter_map(|o| o.grant_token().cloned())
            .collect();
        let keys: Vec<Item> = tokens.iter().map(codec::grant_key).collect();
        let mut grants = Vec::with_capacity(tokens.len());
        for item in self.batch_get(keys, None, "BatchGetItem(grants)").await? {
            let token = Reader::new(&item, "grant")
                .s(PK)?
                .strip_prefix("GRANT#")
                .and_then(|t| DownloadToken::parse(t).ok())
                .ok_or_else(|| StoreError::Corrupt {
                    entity: "grant",
                    detail: "bad key".into(),
                })?;
            grants.push(codec::grant_from(&token, &item)?);
        }
        // Keep the order of `tokens` (newest order first).
        grants.sort_by_key(|g| tokens.iter().position(|t| *t == g.token));
        grants.retain(|g| g.usable(now).is_ok());
        Ok(AddressLinks::Usable(grants))
    }

    /// Store a new grant on its own (the pay transaction creates the usual ones; this is
    /// for new editions and fixtures). Refuses to overwrite an existing token.
    pub async fn create_grant(&self, grant: &Grant) -> Result<(), StoreError> {
        match self
            .put_if(codec::grant_item(grant), codec::NEW_ITEM, "PutItem(grant)")
            .await?
        {
            true => Ok(()),
            false => Err(StoreError::GrantExists),
        }
    }

    pub async fn get_grant(&self, token: &DownloadToken) -> Result<Option<Grant>, StoreError> {
        let item = self
            .get(codec::grant_key(token), true, "GetItem(grant)")
            .await?;
        item.as_ref()
            .map(|i| codec::grant_from(token, i))
            .transpose()
    }

    /// An UpdateItem of `token`'s grant, to be given its expressions.
    fn update_grant(
        &self,
        token: &DownloadToken,
    ) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(codec::grant_key(token)))
    }

    /// Give back one download of file `file` (its stamped copy was not ready, so nothing
    /// was served): one conditional increment, never past the grant's limit.
    pub async fn give_back_download(
        &self,
        token: &DownloadToken,
        file: usize,
    ) -> Result<(), StoreError> {
        let left = codec::downloads_left_attr(file);
        let res = self
            .update_grant(token)
            .update_expression(format!("SET {left} = {left} + :one"))
            .condition_expression(format!(
                "attribute_exists({left}) AND {left} < {DOWNLOAD_LIMIT}"
            ))
            .expression_attribute_values(":one", n(1))
            .send()
            .await;
        match res {
            Ok(_) => Ok(()),
            // Already at its limit: nothing to give back.
            Err(SdkError::ServiceError(ctx))
                if matches!(
                    ctx.err(),
                    UpdateItemError::ConditionalCheckFailedException(_)
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(aws("UpdateItem(give back a download)")(e)),
        }
    }

    /// Spend one download of file `file` (its position in the grant's set): a single
    /// conditional decrement of that file's count (downloads left of it, not expired, not
    /// revoked). Returns the grant as it is after the decrement, which carries the file
    /// to serve. One round trip, success or not: on failure DynamoDB hands back the item
    /// it refused, which says why (a position the grant has no file at: not found).
    pub async fn consume_download(
        &self,
        token: &DownloadToken,
        file: usize,
        now: OffsetDateTime,
    ) -> Result<Grant, ConsumeError> {
        let left = codec::downloads_left_attr(file);
        let res = self
            .update_grant(token)
            .update_expression(format!("SET {left} = {left} - :one"))
            .condition_expression(format!(
                "attribute_exists({PK}) AND {left} > :zero AND {REVOKED} = :false \
                 AND (attribute_not_exists({SUSPENDED}) OR {SUSPENDED} = :false) \
                 AND (attribute_not_exists({EXPIRES_AT}) OR {EXPIRES_AT} > :now)"
            ))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":false", AttributeValue::Bool(false))
            .expression_attribute_values(":now", ts(now))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match res {
            Ok(out) => {
                let item = out.attributes().ok_or_else(|| StoreError::Corrupt {
                    entity: "grant",
                    detail: "UpdateItem returned no attributes".into(),
                })?;
                Ok(codec::grant_from(token, item)?)
            }
            Err(SdkError::ServiceError(ctx)) => match ctx.err() {
                UpdateItemError::ConditionalCheckFailedException(e) => {
                    let Some(item) = e.item() else {
                        return Err(ConsumeError::NotFound);
                    };
                    let grant = codec::grant_from(token, item)?;
                    match grant.usable_file(file, now).ok_or(ConsumeError::NotFound)? {
                        Err(why) => Err(ConsumeError::Unusable {
                            why,
                            grant: Box::new(grant),
                        }),
                        // The stored grant looks usable yet the condition failed: the item
                        // is not what we wrote. Report it rather than guess.
                        Ok(()) => Err(StoreError::Corrupt {
                            entity: "grant",
                            detail: "condition failed on a usable grant".into(),
                        }
                        .into()),
                    }
                }
                _ => Err(aws("UpdateItem(download)")(SdkError::ServiceError(ctx)).into()),
            },
            Err(e) => Err(aws("UpdateItem(download)")(e).into()),
        }
    }
}
