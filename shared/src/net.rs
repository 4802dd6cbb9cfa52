//! Where a request came from, as the per-network limits count it ("email me my links",
//! checkout): a leaf the store and the workflows both use.

use std::net::IpAddr;

/// The network a request came from, as the limits count it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Network(String);

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
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
            None => "unknown".to_owned(),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A stand-in name for a network that must not be stored as its address (see
    /// [`crate::visit::DailySalt::network`]).
    pub(crate) fn pseudonym(name: String) -> Network {
        Network(name)
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
}

impl NetworkCounter {
    /// The counter items' key prefix (and sort key).
    pub fn key_prefix(self) -> &'static str {
        match self {
            NetworkCounter::Resend => "RESEND",
            NetworkCounter::Checkout => "CHECKOUT",
            NetworkCounter::Beacon => "BEACON",
            NetworkCounter::Free => "FREE",
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
            Network::of(Some("2001:db8:1:2:ffff:1:2:3")),
            "one /64 is one network"
        );
        assert_ne!(
            Network::of(Some("2001:db8:1:2::1")),
            Network::of(Some("2001:db8:1:3::1"))
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
