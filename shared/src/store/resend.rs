//! The items behind "email me my links"' limits ([`crate::resend`] has the policy),
//! checkout's per-network rates and the free copies' caps: a slot per address and
//! network, and fixed-window counters. Each is one conditional write, so a limit holds
//! across concurrent Lambda instances. What is keyed by a network (its counters, the
//! resend slots) lives in the second table ([`super::visits_table_of`]), which keeps no
//! backups; the per-address and shop-wide counters in the main one.

use time::{Duration, OffsetDateTime};

use super::codec::attr::*;
use super::codec::{self, Item, n, s, ts};
use super::{Store, StoreError, conditional};
use crate::email::Email;
use crate::net::{NetworkCounter, NetworkTag};

impl Store {
    /// Claim the right to mail `email` its links for a request from `network`: at most
    /// once per `window` for each pair.
    pub async fn claim_resend(
        &self,
        email: &Email,
        network: &NetworkTag,
        window: Duration,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let res = self
            .client
            .put_item()
            .table_name(&self.visits)
            .set_item(Some(codec::resend_item(
                email,
                network.as_str(),
                now + window,
            )))
            .condition_expression(format!("attribute_not_exists({PK}) OR #until <= :now"))
            .expression_attribute_names("#until", UNTIL)
            .expression_attribute_values(":now", ts(now))
            .send()
            .await;
        Ok(conditional(res, "PutItem(resend)")?.is_some())
    }

    /// Count one of `counter`'s requests from `network` in the current `window`-long
    /// window: `Ok(false)` (nothing counted) once `limit` were counted in it.
    pub async fn count_from_network(
        &self,
        counter: NetworkCounter,
        network: &NetworkTag,
        limit: u32,
        window: Duration,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.count_now(
            &self.visits,
            |start| codec::network_counter_key(counter, network.as_str(), start),
            limit,
            window,
            now,
        )
        .await
    }

    /// Take back one count of `counter` from `network` in the current window (a code
    /// lookup counted in advance that found a usable code); never below zero.
    pub async fn uncount_from_network(
        &self,
        counter: NetworkCounter,
        network: &NetworkTag,
        window: Duration,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let start = window_start(now, window);
        let res = self
            .client
            .update_item()
            .table_name(&self.visits)
            .set_key(Some(codec::network_counter_key(
                counter,
                network.as_str(),
                start,
            )))
            .update_expression("ADD #count :minus")
            .condition_expression("#count > :zero")
            .expression_attribute_names("#count", COUNT)
            .expression_attribute_values(":minus", n(-1))
            .expression_attribute_values(":zero", n(0))
            .send()
            .await;
        conditional(res, "UpdateItem(uncount)")?;
        Ok(())
    }

    /// Count one of `counter`'s events for the whole shop in the current `window`-long
    /// window (free copies mailed this hour, this day): `Ok(false)` (nothing counted)
    /// once `limit` were counted in it.
    pub async fn count_shop(
        &self,
        counter: NetworkCounter,
        limit: u32,
        window: Duration,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let span = window.whole_seconds();
        self.count_now(
            &self.table,
            |start| codec::shop_counter_key(counter, span, start),
            limit,
            window,
            now,
        )
        .await
    }

    /// Count one links mail to `email` in the current `window`-long window: `Ok(false)`
    /// (nothing counted) once `limit` were counted in it.
    pub async fn count_resend_mail(
        &self,
        email: &Email,
        limit: u32,
        window: Duration,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.count_mail_to(NetworkCounter::Resend, email, limit, window, now)
            .await
    }

    /// Count one of `counter`'s mails to `email` in the current `window`-long window:
    /// `Ok(false)` (nothing counted) once `limit` were counted in it.
    pub async fn count_mail_to(
        &self,
        counter: NetworkCounter,
        email: &Email,
        limit: u32,
        window: Duration,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.count_now(
            &self.table,
            |start| codec::address_counter_key(counter, email, start),
            limit,
            window,
            now,
        )
        .await
    }

    /// Count one in the `window`-long window holding `now`, at the counter `key` names
    /// for that window's start.
    async fn count_now(
        &self,
        table: &str,
        key: impl FnOnce(OffsetDateTime) -> Item,
        limit: u32,
        window: Duration,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let start = window_start(now, window);
        self.count_in_window(table, key(start), limit, start + window)
            .await
    }

    /// Add one to the counter at `key` unless it already holds `limit`; DynamoDB's TTL
    /// removes it a day after its window `ends`.
    async fn count_in_window(
        &self,
        table: &str,
        key: Item,
        limit: u32,
        ends: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let res = self
            .client
            .update_item()
            .table_name(table)
            .set_key(Some(key))
            .update_expression("ADD #count :one SET #entity = :entity, #ttl = :ttl")
            .condition_expression("attribute_not_exists(#count) OR #count < :limit")
            .expression_attribute_names("#count", COUNT)
            .expression_attribute_names("#entity", ENTITY)
            .expression_attribute_names("#ttl", TTL)
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":limit", n(limit))
            .expression_attribute_values(":entity", s("resend_count"))
            .expression_attribute_values(":ttl", ts(ends + Duration::days(1)))
            .send()
            .await;
        Ok(conditional(res, "UpdateItem(resend count)")?.is_some())
    }
}

/// The start of the fixed `window`-long window holding `now` (windows start at the epoch).
fn window_start(now: OffsetDateTime, window: Duration) -> OffsetDateTime {
    let w = window.whole_seconds().max(1);
    let t = now.unix_timestamp();
    OffsetDateTime::from_unix_timestamp(t - t.rem_euclid(w)).unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_fixed_and_contain_now() {
        let now = OffsetDateTime::from_unix_timestamp(1_790_000_123).unwrap();
        let start = window_start(now, Duration::hours(1));
        assert_eq!(start.unix_timestamp() % 3600, 0);
        assert!(start <= now && now < start + Duration::hours(1));
        assert_eq!(
            window_start(now + Duration::seconds(1), Duration::hours(1)),
            start
        );
    }
}
