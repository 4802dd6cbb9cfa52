//! The visitor funnel's items ([`crate::visit`]):
//!
//! - `SALT` / `DAY#{date}`: one UTC day's salt. Made on the day's first view (a
//!   conditional put, so concurrent first views agree on one); whoever made it deletes
//!   every earlier day's, with a TTL as the backstop.
//! - `SECRET` / `VARIANTS`: the stable secret A/B variants are chosen under.
//! - `VIEWS#{date}` / `{row}`: counters, `views` and `visitors`, raised with `ADD` (exact
//!   under any concurrency). A row is `P#{product}#S#{source}` (every view) or
//!   `P#{product}#T#{test}#{variant}` (a view that took part in a test).
//! - `VISIT#{date}#{visitor}` / `P#{product}`: "this visitor was counted for this product
//!   today", written once (conditional put) and gone with the day (TTL).
//!
//! Reading a day's counters is one query on its `VIEWS#` partition.

use aws_sdk_dynamodb::types::AttributeValue;
use time::{Date, Duration, OffsetDateTime, Time};

use super::codec::attr::{ENTITY, TTL};
use super::codec::{Item, n, s, ts};
use super::{Store, StoreError, aws, conditional};
use crate::visit::DailySalt;

const SALT_PK: &str = "SALT";

fn day_key(day: Date) -> String {
    format!("DAY#{day}")
}

fn key(pk: String, sk: String) -> Item {
    Item::from([("pk".to_owned(), s(pk)), ("sk".to_owned(), s(sk))])
}

fn end_of(day: Date) -> OffsetDateTime {
    day.next_day()
        .unwrap_or(day)
        .with_time(Time::MIDNIGHT)
        .assume_utc()
}

/// One counter row of one day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewCount {
    /// `P#{product}#S#{source}` or `P#{product}#T#{test}#{variant}`.
    pub row: String,
    pub views: u64,
    pub visitors: u64,
}

impl Store {
    /// The tag every per-network counter of `now`'s day is keyed by: `network` under
    /// the day's salt ([`DailySalt::network`]), never its address. The salt is read (or
    /// made) once a day per instance and kept in memory; made here, the earlier days'
    /// are left to their TTL (the collect function, which makes most days' salt, deletes
    /// them at once).
    pub async fn network_tag(
        &self,
        network: &crate::net::Network,
        now: OffsetDateTime,
    ) -> Result<crate::net::NetworkTag, StoreError> {
        let day = now.to_offset(time::UtcOffset::UTC).date();
        if let Ok(guard) = self.salt.lock()
            && let Some((d, salt)) = guard.as_ref()
            && *d == day
        {
            return Ok(salt.network(network));
        }
        let salt = match self.stored_salt(day).await? {
            Some(salt) => salt,
            None => self.make_salt(day, false).await?,
        };
        let tag = salt.network(network);
        if let Ok(mut guard) = self.salt.lock() {
            *guard = Some((day, salt));
        }
        Ok(tag)
    }

    /// `day`'s salt: the stored one, or a new one if this is the day's first view; every
    /// earlier day's salt is deleted on the way.
    pub async fn daily_salt(&self, day: Date) -> Result<DailySalt, StoreError> {
        if let Some(salt) = self.stored_salt(day).await? {
            return Ok(salt);
        }
        self.make_salt(day, true).await
    }

    /// Make `day`'s salt (a conditional put: of concurrent makers, one wins and the
    /// others read its salt); the winner deletes the earlier days' when `clean_up`.
    async fn make_salt(&self, day: Date, clean_up: bool) -> Result<DailySalt, StoreError> {
        let fresh = DailySalt::generate().ok_or_else(|| StoreError::Corrupt {
            entity: "salt",
            detail: "no randomness".into(),
        })?;
        let mut item = key(SALT_PK.into(), day_key(day));
        item.insert(ENTITY.into(), s("salt"));
        item.insert(
            "salt".into(),
            AttributeValue::B(fresh.as_bytes().to_vec().into()),
        );
        item.insert(TTL.into(), ts(end_of(day) + Duration::hours(1)));
        let won = self
            .put_if(item, "attribute_not_exists(pk)", "PutItem(salt)")
            .await?;
        if !won {
            // Another instance made the day's salt first (and deletes the old ones).
            return self
                .stored_salt(day)
                .await?
                .ok_or_else(|| StoreError::Corrupt {
                    entity: "salt",
                    detail: format!("{day}: neither written nor readable"),
                });
        }
        // The instance that made the day's salt deletes the earlier days'; should it stop
        // before that, their TTL removes them within hours.
        if !clean_up {
            return Ok(fresh);
        }
        for past in self.salt_days().await?.into_iter().filter(|d| *d < day) {
            self.client
                .delete_item()
                .table_name(&self.table)
                .set_key(Some(key(SALT_PK.into(), day_key(past))))
                .send()
                .await
                .map_err(aws("DeleteItem(salt)"))?;
        }
        Ok(fresh)
    }

    /// The stable secret A/B variants are chosen under: made on first use (a conditional
    /// put, so every function agrees on one), then read.
    pub async fn variant_secret(&self) -> Result<crate::visit::VariantSecret, StoreError> {
        let k = || key("SECRET".into(), "VARIANTS".into());
        for _ in 0..2 {
            let out = self
                .client
                .get_item()
                .table_name(&self.table)
                .set_key(Some(k()))
                .consistent_read(true)
                .send()
                .await
                .map_err(aws("GetItem(variant secret)"))?;
            if let Some(item) = out.item {
                return match item.get("secret") {
                    Some(AttributeValue::B(b)) => {
                        crate::visit::VariantSecret::from_bytes(b.as_ref())
                    }
                    _ => None,
                }
                .ok_or_else(|| StoreError::Corrupt {
                    entity: "variant secret",
                    detail: "not 32 bytes".into(),
                });
            }
            let fresh =
                crate::visit::VariantSecret::generate().ok_or_else(|| StoreError::Corrupt {
                    entity: "variant secret",
                    detail: "no randomness".into(),
                })?;
            let mut item = k();
            item.insert(ENTITY.into(), s("secret"));
            item.insert(
                "secret".into(),
                AttributeValue::B(fresh.as_bytes().to_vec().into()),
            );
            if self
                .put_if(item, "attribute_not_exists(pk)", "PutItem(variant secret)")
                .await?
            {
                return Ok(fresh);
            }
        }
        Err(StoreError::Corrupt {
            entity: "variant secret",
            detail: "neither written nor readable".into(),
        })
    }

    async fn stored_salt(&self, day: Date) -> Result<Option<DailySalt>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(SALT_PK.into(), day_key(day))))
            .consistent_read(true)
            .send()
            .await
            .map_err(aws("GetItem(salt)"))?;
        let Some(item) = out.item else {
            return Ok(None);
        };
        let bytes = match item.get("salt") {
            Some(AttributeValue::B(b)) => b.as_ref().to_vec(),
            _ => Vec::new(),
        };
        DailySalt::from_bytes(&bytes)
            .map(Some)
            .ok_or_else(|| StoreError::Corrupt {
                entity: "salt",
                detail: format!("{day}: not 32 bytes"),
            })
    }

    /// The days whose salt is still stored (at most today's once a view came today).
    pub async fn salt_days(&self) -> Result<Vec<Date>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(SALT_PK))
            .projection_expression("sk")
            .consistent_read(true)
            .send()
            .await
            .map_err(aws("Query(salts)"))?;
        let format = time::macros::format_description!("[year]-[month]-[day]");
        Ok(out
            .items()
            .iter()
            .filter_map(|i| {
                i.get("sk")?
                    .as_s()
                    .ok()?
                    .strip_prefix("DAY#")
                    .map(str::to_owned)
            })
            .filter_map(|d| Date::parse(&d, format).ok())
            .collect())
    }

    /// Mark `visitor` as counted for `product` on `day`: `Ok(true)` the first time that
    /// day, `Ok(false)` after.
    pub async fn first_visit(
        &self,
        day: Date,
        visitor: &crate::visit::VisitorId,
        product: &crate::ids::ProductId,
    ) -> Result<bool, StoreError> {
        let mut item = key(
            format!("VISIT#{day}#{}", visitor.as_str()),
            format!("P#{product}"),
        );
        item.insert(ENTITY.into(), s("visit"));
        item.insert(TTL.into(), ts(end_of(day) + Duration::hours(1)));
        self.put_if(item, "attribute_not_exists(pk)", "PutItem(visit)")
            .await
    }

    /// Count one view on each of `rows` of `day` (and one visitor when `new_visitor`).
    pub async fn count_view(
        &self,
        day: Date,
        rows: &[String],
        new_visitor: bool,
    ) -> Result<(), StoreError> {
        for row in rows {
            let res = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key(format!("VIEWS#{day}"), row.clone())))
                .update_expression("ADD #views :one, #visitors :new SET #entity = :entity")
                .expression_attribute_names("#views", "views")
                .expression_attribute_names("#visitors", "visitors")
                .expression_attribute_names("#entity", ENTITY)
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":new", n(u8::from(new_visitor)))
                .expression_attribute_values(":entity", s("views"))
                .send()
                .await;
            conditional(res, "UpdateItem(views)")?;
        }
        Ok(())
    }

    /// Every counter row of `day`.
    pub async fn views_of(&self, day: Date) -> Result<Vec<ViewCount>, StoreError> {
        let mut rows = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", s(format!("VIEWS#{day}")))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(aws("Query(views)"))?;
            for item in out.items() {
                let num = |k: &str| {
                    item.get(k)
                        .and_then(|v| v.as_n().ok())
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0)
                };
                if let Some(row) = item.get("sk").and_then(|v| v.as_s().ok()) {
                    rows.push(ViewCount {
                        row: row.clone(),
                        views: num("views"),
                        visitors: num("visitors"),
                    });
                }
            }
            start = out.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        Ok(rows)
    }
}
