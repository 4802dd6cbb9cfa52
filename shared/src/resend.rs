//! "Email me my links" (`POST /download/resend`): who may make the shop mail an address
//! its links, and how often.
//!
//! The reply must be the same for a buyer's address and a stranger's, and no one but
//! the buyer may be able to stop the buyer getting links. So:
//! - **Per network** (an IPv4 address, or an IPv6 /48, one subscriber's block, under a
//!   keyed hash: [`crate::net`]): at
//!   most [`PER_NETWORK`] requests per [`NETWORK_WINDOW`], counted first, for every
//!   request alike. Past it the requester gets a 429, which depends on the requester
//!   alone and says nothing about the address.
//! - **Per address and network**: one mail per [`PAIR_WINDOW`]. Someone posting a
//!   buyer's address uses up only their own network's slot; the buyer asking from theirs
//!   still gets the mail.
//! - **Per address**: at most [`PER_ADDRESS`] mails per [`ADDRESS_WINDOW`] from all
//!   networks together, so no one floods an inbox from many networks. This is the one
//!   allowance others can use up, and only by having mailed the buyer their links that
//!   many times.
//! - Nothing is written for an address without a usable link, and the reply comes no
//!   sooner than [`ANSWER_AFTER`] after the request: a lookup and a mail (a buyer) and a
//!   lookup alone (a stranger) look the same from outside, as far as a function can make
//!   them.

use time::{Duration, OffsetDateTime};

use crate::downloads::Downloads;
use crate::email::Email;
use crate::store::{AddressLinks, StoreError};

/// Requests one network may make per [`NETWORK_WINDOW`].
pub const PER_NETWORK: u32 = 10;
pub const NETWORK_WINDOW: Duration = Duration::hours(1);
/// One mail per address and network per this window.
pub const PAIR_WINDOW: Duration = Duration::minutes(10);
/// Mails one address may get per [`ADDRESS_WINDOW`], from every network together.
pub const PER_ADDRESS: u32 = 5;
pub const ADDRESS_WINDOW: Duration = Duration::days(1);
/// The reply waits until this long after the request: longer than a lookup and an SES
/// call take, so the time to answer does not tell a buyer from a stranger.
pub const ANSWER_AFTER: std::time::Duration = std::time::Duration::from_millis(1200);

pub use crate::net::Network;

/// What a request led to. Only [`Resent::TooManyFromNetwork`] may be shown differently;
/// the rest must all get the same reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resent {
    Mailed {
        links: usize,
    },
    /// The address has no usable link (or none at all).
    NoLinks,
    /// Mail to the address bounced for good or was marked as spam
    /// ([`crate::mail_events`]): the shop mails it nothing, asked or not.
    Blocked,
    /// This address was mailed for this network within [`PAIR_WINDOW`].
    AlreadyMailed,
    /// This address got [`PER_ADDRESS`] mails in the current window.
    AddressFull,
    /// SES refused the mail (logged); the buyer may ask again after the window.
    MailFailed,
    /// The network used up its requests for this window; nothing else was done.
    TooManyFromNetwork,
}

impl Downloads {
    /// One "email me my links" request for `email` from `network` (see the module
    /// docs). Answers no sooner than [`ANSWER_AFTER`] after it was called, but for
    /// [`Resent::TooManyFromNetwork`].
    pub async fn resend(
        &self,
        email: &Email,
        network: &Network,
        lang: crate::i18n::Lang,
        now: OffsetDateTime,
    ) -> Result<Resent, StoreError> {
        let answer_at = tokio::time::Instant::now() + ANSWER_AFTER;
        let network = self.store.network_tag(network, now).await?;
        if !self
            .store
            .count_from_network(
                crate::net::NetworkCounter::Resend,
                &network,
                PER_NETWORK,
                NETWORK_WINDOW,
                now,
            )
            .await?
        {
            tracing::warn!(network = %network, "resend: network over its limit");
            return Ok(Resent::TooManyFromNetwork);
        }
        let outcome = self.resend_to(email, &network, lang, now).await;
        tokio::time::sleep_until(answer_at).await;
        outcome
    }

    async fn resend_to(
        &self,
        email: &Email,
        network: &crate::net::NetworkTag,
        lang: crate::i18n::Lang,
        now: OffsetDateTime,
    ) -> Result<Resent, StoreError> {
        let grants = match self.store.usable_grants_for(email, now).await? {
            AddressLinks::Blocked(_) => return Ok(Resent::Blocked),
            AddressLinks::Usable(g) if g.is_empty() => return Ok(Resent::NoLinks),
            AddressLinks::Usable(g) => g,
        };
        if !self
            .store
            .claim_resend(email, network, PAIR_WINDOW, now)
            .await?
        {
            return Ok(Resent::AlreadyMailed);
        }
        if !self
            .store
            .count_resend_mail(email, PER_ADDRESS, ADDRESS_WINDOW, now)
            .await?
        {
            return Ok(Resent::AddressFull);
        }
        match self.mail_links(email, grants, lang).await {
            Ok(links) => Ok(Resent::Mailed { links }),
            Err(e) => {
                tracing::warn!(error = %e, reason = %e.reason(), "resend mail failed");
                Ok(Resent::MailFailed)
            }
        }
    }
}
