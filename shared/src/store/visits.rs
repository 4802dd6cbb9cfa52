//! The visitor funnel's items ([`crate::visit`]). In the second table
//! ([`super::visits_table_of`]: no point-in-time recovery, no backups):
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
use super::codec::{self, SALT_PK, ViewCell, ViewsRow, n, s, ts};
use super::{Store, StoreError, aws, conditional};
use crate::visit::DailySalt;

fn end_of(day: Date) -> OffsetDateTime {
    day.next_day()
        .unwrap_or(day)
        .with_time(Time::MIDNIGHT)
        .assume_utc()
}

/// The shards each day's view counters are spread over: a launch's page views land on
/// `VIEWS#{day}#0` … `#7` at random instead of one partition and item
/// (docs/architecture.md, "The visitor funnel", for the arithmetic).
pub const VIEW_SHARDS: u8 = 8;

/// One running test's cells of one page view: the test, and per product counted the
/// visitor's variant and whether the visitor is new for that product today.
pub type TestCells = (
    crate::visit::Name,
    Vec<(crate::ids::ProductId, crate::visit::Name, bool)>,
);

/// One counted cell of one day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewCount {
    pub cell: ViewCell,
    /// The cell as text: `P#{product}#S#{source}` or `P#{product}#T#{test}#{variant}`.
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
        let mut item = codec::salt_key(day);
        item.insert(ENTITY.into(), s("salt"));
        item.insert(
            "salt".into(),
            AttributeValue::B(fresh.as_bytes().to_vec().into()),
        );
        item.insert(TTL.into(), ts(end_of(day) + Duration::hours(1)));
        let res = self
            .client
            .put_item()
            .table_name(&self.visits)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        let won = conditional(res, "PutItem(salt)")?.is_some();
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
                .table_name(&self.visits)
                .set_key(Some(codec::salt_key(past)))
                .send()
                .await
                .map_err(aws("DeleteItem(salt)"))?;
        }
        Ok(fresh)
    }

    /// The stable secret A/B variants are chosen under: made on first use (a conditional
    /// put, so every function agrees on one), then read.
    pub async fn variant_secret(&self) -> Result<crate::visit::VariantSecret, StoreError> {
        let k = codec::variant_secret_key;
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
            .table_name(&self.visits)
            .set_key(Some(codec::salt_key(day)))
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
            .table_name(&self.visits)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(SALT_PK))
            .projection_expression("sk")
            .consistent_read(true)
            .send()
            .await
            .map_err(aws("Query(salts)"))?;
        Ok(out
            .items()
            .iter()
            .filter_map(|i| codec::salt_day(i.get("sk")?.as_s().ok()?))
            .collect())
    }

    /// Mark `visitor` as seen on `day` for each of `products` (one item per visitor and
    /// day holding the set of products it was counted for: one write, however many
    /// products): returns the products it had not been counted for yet today.
    pub async fn visit(
        &self,
        day: Date,
        visitor: &crate::visit::VisitorId,
        products: &[crate::ids::ProductId],
    ) -> Result<Vec<crate::ids::ProductId>, StoreError> {
        if products.is_empty() {
            return Ok(Vec::new());
        }
        let out = self
            .client
            .update_item()
            .table_name(&self.visits)
            .set_key(Some(codec::visit_key(day, visitor)))
            .update_expression("ADD #products :p SET #entity = :entity, #ttl = :ttl")
            .expression_attribute_names("#products", "products")
            .expression_attribute_names("#entity", ENTITY)
            .expression_attribute_names("#ttl", TTL)
            .expression_attribute_values(
                ":p",
                AttributeValue::Ss(products.iter().map(|p| p.as_str().to_owned()).collect()),
            )
            .expression_attribute_values(":entity", s("visit"))
            .expression_attribute_values(":ttl", ts(end_of(day) + Duration::hours(1)))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(aws("UpdateItem(visit)"))?;
        let before: Vec<String> = match out.attributes().and_then(|a| a.get("products")) {
            Some(AttributeValue::Ss(set)) => set.clone(),
            _ => Vec::new(),
        };
        Ok(products
            .iter()
            .filter(|p| !before.iter().any(|b| b == p.as_str()))
            .cloned()
            .collect())
    }

    /// The sources that have a counter row of their own on `day` (at most the cap
    /// [`Store::claim_source`] was given; every other source counts as `other`).
    pub async fn day_sources(&self, day: Date) -> Result<Vec<String>, StoreError> {
        let item = self
            .get(codec::sources_key(day), true, "GetItem(sources)")
            .await?;
        Ok(match item.as_ref().and_then(|i| i.get("names")) {
            Some(AttributeValue::Ss(set)) => set.clone(),
            _ => Vec::new(),
        })
    }

    /// Give `source` a counter row of its own on `day`, unless `max` sources have one
    /// already: the sources of the day after the call (`None`: full, and `source` is
    /// not among them). One conditional write.
    pub async fn claim_source(
        &self,
        day: Date,
        source: &str,
        max: usize,
    ) -> Result<Option<Vec<String>>, StoreError> {
        let res = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(codec::sources_key(day)))
            .update_expression("ADD #names :s SET #entity = :entity")
            .condition_expression(
                "attribute_not_exists(#names) OR size(#names) < :max OR contains(#names, :one)",
            )
            .expression_attribute_names("#names", "names")
            .expression_attribute_names("#entity", ENTITY)
            .expression_attribute_values(":s", AttributeValue::Ss(vec![source.to_owned()]))
            .expression_attribute_values(":one", s(source))
            .expression_attribute_values(":max", n(max))
            .expression_attribute_values(":entity", s("sources"))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
            .send()
            .await;
        Ok(conditional(res, "UpdateItem(sources)")?.map(|out| {
            match out.attributes().and_then(|a| a.get("names")) {
                Some(AttributeValue::Ss(set)) => set.clone(),
                _ => vec![source.to_owned()],
            }
        }))
    }

    /// Count one page view on `day` in counter shard `shard` (of [`VIEW_SHARDS`]): on
    /// the `source`'s row, a view of each of `products` (and a visitor where `true`);
    /// on each test's row, a view of (product, variant) (and a visitor where `true`).
    /// One `ADD` per row, so a beacon writes `1 + tests.len()` counter items.
    pub async fn count_views(
        &self,
        day: Date,
        shard: u8,
        source: &str,
        products: &[(crate::ids::ProductId, bool)],
        tests: &[TestCells],
    ) -> Result<(), StoreError> {
        let shard = shard % VIEW_SHARDS;
        let mut rows: Vec<(ViewsRow<'_>, Vec<(String, bool)>)> = vec![(
            ViewsRow::Source(source),
            products
                .iter()
                .map(|(p, new)| (p.as_str().to_owned(), *new))
                .collect(),
        )];
        for (test, counted) in tests {
            rows.push((
                ViewsRow::Test(test.as_str()),
                counted
                    .iter()
                    .map(|(p, v, new)| (codec::test_cell(p, v), *new))
                    .collect(),
            ));
        }
        for (row, cells) in rows {
            if cells.is_empty() {
                continue;
            }
            let mut update = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(codec::views_key(day, shard, &row)))
                .expression_attribute_names("#entity", ENTITY)
                .expression_attribute_values(":entity", s("views"))
                .expression_attribute_values(":one", n(1));
            if cells.iter().any(|(_, new)| !new) {
                update = update.expression_attribute_values(":zero", n(0));
            }
            let mut adds = Vec::new();
            for (i, (cell, new)) in cells.iter().enumerate() {
                let (views, visitors) = codec::view_attrs(cell);
                update = update
                    .expression_attribute_names(format!("#v{i}"), views)
                    .expression_attribute_names(format!("#u{i}"), visitors);
                adds.push(format!(
                    "#v{i} :one, #u{i} {}",
                    if *new { ":one" } else { ":zero" }
                ));
            }
            let res = update
                .update_expression(format!("ADD {} SET #entity = :entity", adds.join(", ")))
                .send()
                .await;
            conditional(res, "UpdateItem(views)")?;
        }
        Ok(())
    }

    /// Every counter row of `day`, summed over its shards, as
    /// `P#{product}#S#{source}` and `P#{product}#T#{test}#{variant}` rows (the rows of
    /// the unsharded `VIEWS#{day}` partition that shops wrote before are read too).
    pub async fn views_of(&self, day: Date) -> Result<Vec<ViewCount>, StoreError> {
        let mut sums: std::collections::BTreeMap<ViewCell, (u64, u64)> = Default::default();
        for pk in codec::views_partitions(day, VIEW_SHARDS) {
            let items = self.partition(&pk, "Query(views)").await?;
            for item in &items {
                let Some(sk) = item.get("sk").and_then(|v| v.as_s().ok()) else {
                    continue;
                };
                let num = |v: &AttributeValue| {
                    v.as_n()
                        .ok()
                        .and_then(|v| v.parse::<u64>().ok())
                        .unwrap_or(0)
                };
                if let Some(cell) = ViewCell::legacy(sk) {
                    // Written before the counters were sharded: one row per cell.
                    let e = sums.entry(cell).or_default();
                    e.0 += item.get("views").map(num).unwrap_or(0);
                    e.1 += item.get("visitors").map(num).unwrap_or(0);
                    continue;
                }
                for (attr, value) in item {
                    let Some((cell, is_views)) = ViewCell::of_attribute(sk, attr) else {
                        continue;
                    };
                    let e = sums.entry(cell).or_default();
                    if is_views {
                        e.0 += num(value);
                    } else {
                        e.1 += num(value);
                    }
                }
            }
        }
        Ok(sums
            .into_iter()
            .map(|(cell, (views, visitors))| ViewCount {
                row: cell.to_string(),
                cell,
                views,
                visitors,
            })
            .collect())
    }
}
