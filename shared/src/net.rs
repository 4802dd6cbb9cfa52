//! Where a request came from, as the per-network limits count it ("email me my links",
//! checkout, free copies, code lookups, beacons): a leaf the store and the workflows both
//! use.
//!
//! A [`Network`] holds the address's network (an IPv4 address, or an IPv6 /48: one
//! subscriber or tunnel broker's customer gets a /48, so counting by /64 would give one
//! person 65,536 allowances). It is never stored or logged: its `Debug` is redacted and
//! what the store keys its counters by is a [`NetworkTag`], a keyed hash of it under the
//! day's salt ([`crate::visit::DailySalt::network`]), which no one can reverse once the
//! day's salt is gone.

use std::net::IpAddr;

/// The network a request came from, as the limits count it. Never stored, never logged.
#[derive(Clone, PartialEq, Eq)]
pub struct Network(String);

impl std::fmt::Debug for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Network(…)")
    }
}

/// What the store and the logs know of a [`Network`]: `h:` and 32 hex digits, a keyed
/// hash under the day's salt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkTag(String);

impl NetworkTag {
    pub(crate) fn new(hex: String) -> NetworkTag {
        NetworkTag(format!("h:{hex}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for NetworkTag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Network {
    /// From the source address API Gateway saw (`requestContext.http.sourceIp`; not a
    /// header, which the client could write). Without one (the devstack, a direct
    /// invocation) every request shares one allowance, `unknown`.
    pub fn of(source_ip: Option<&str>) -> Network {
        let ip = source_ip.and_then(|s| s.trim().parse::<IpAddr>().ok());
        Network(match ip.map(|ip| ip.to_canonical()) {
            Some(IpAddr::V4(a)) => a.to_string(),
            Some(IpAddr::V6(a)) => {
                let s = a.segments();
                format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2])
            }
            None => "unknown".to_owned(),
        })
    }

    /// The network's own text: only for keyed hashes, never to store or log.
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }

    /// The text tests compare (`192.0.2.10`, `2001:db8:1::/48`).
    #[doc(hidden)]
    pub fn text_for_tests(&self) -> &str {
        &self.0
    }
}

/// The buyer's own address, for the one provider call that requires it (WeChat Pay's H5
/// `payer_client_ip`, which its cashier checks against the phone that opens it): passed
/// through to the provider, never stored, never logged.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PayerAddress(IpAddr);

impl std::fmt::Debug for PayerAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PayerAddress(…)")
    }
}

impl PayerAddress {
    /// From the source address API Gateway saw, as [`Network::of`] reads it.
    pub fn of(source_ip: Option<&str>) -> Option<PayerAddress> {
        source_ip
            .and_then(|s| s.trim().parse::<IpAddr>().ok())
            .map(|ip| PayerAddress(ip.to_canonical()))
    }

    /// The address as the provider takes it.
    pub fn ip(self) -> IpAddr {
        self.0
    }
}

/// What a per-network counter counts: each has its own allowance and its own items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetworkCounter {
    /// "Email me my links" requests.
    Resend,
    /// Checkouts started.
    Checkout,
    /// Page-view beacons (`POST /t`).
    Beacon,
    /// Free claims (a product given for an email address), and their mails per address.
    Free,
    /// New visitors of the funnel per day.
    Visitors,
    /// Discount-code lookups that found no usable code (the buy page's `?code=` and
    /// checkout's `code`): a small allowance, so codes cannot be guessed.
    CodeMiss,
    /// License checks (`POST /license/verify`).
    License,
    /// License checks of keys that do not exist: a small allowance, so keys cannot be
    /// guessed (counted in advance, given back when the key is found).
    LicenseMiss,
}

impl NetworkCounter {
    /// The counter items' key prefix (and sort key).
    pub fn key_prefix(self) -> &'static str {
        match self {
            NetworkCounter::Resend => "RESEND",
            NetworkCounter::Checkout => "CHECKOUT",
            NetworkCounter::Beacon => "BEACON",
            NetworkCounter::Free => "FREE",
            NetworkCounter::CodeMiss => "CODEMISS",
            NetworkCounter::Visitors => "VISITORS",
            NetworkCounter::License => "LICCHECK",
            NetworkCounter::LicenseMiss => "LICMISS",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_are_addresses_and_ipv6_blocks() {
        assert_eq!(Network::of(Some("192.0.2.10")).as_str(), "192.0.2.10");
        assert_eq!(
            Network::of(Some("2001:db8:1:2:aaaa::1")),
            Network::of(Some("2001:db8:1:ffff:ffff:1:2:3")),
            "one /48 is one network: a tunnel broker's customer holds 65,536 /64s"
        );
        assert_eq!(
            Network::of(Some("2001:db8:1::9")).as_str(),
            "2001:db8:1::/48"
        );
        assert_ne!(
            Network::of(Some("2001:db8:1:2::1")),
            Network::of(Some("2001:db8:2:2::1"))
        );
        assert_eq!(
            format!("{:?}", Network::of(Some("192.0.2.10"))),
            "Network(…)",
            "a network is never printed"
        );
        assert_eq!(
            Network::of(Some("::ffff:192.0.2.10")).as_str(),
            "192.0.2.10",
            "an IPv4-mapped address is its IPv4 address"
        );
        for missing in [
            None,
            Some(""),
            Some("not an ip"),
            Some("192.0.2.10, 10.0.0.1"),
        ] {
            assert_eq!(Network::of(missing).as_str(), "unknown", "{missing:?}");
        }
    }
}
