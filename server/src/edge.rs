//! What every request meets at the edge, before any handler: who the client is (the peer,
//! or `X-Forwarded-For` only through a trusted proxy), and the settings of the edge layers
//! (metrics token, HSTS).

use std::net::IpAddr;

/// An IP network in CIDR notation (`10.0.0.0/8`, `::1/128`); a bare address is a /32 or
/// /128.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            // An IPv4 peer seen through an IPv6 socket (::ffff:a.b.c.d).
            (IpAddr::V4(_), IpAddr::V6(ip)) => {
                ip.to_ipv4_mapped().is_some_and(|v4| self.contains(IpAddr::V4(v4)))
            }
            (IpAddr::V6(_), IpAddr::V4(_)) => false,
        }
    }
}

impl std::str::FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr =
            addr.parse().map_err(|_| format!("`{s}` is not an IP address or CIDR network"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => match p.parse::<u8>() {
                Ok(n) if n <= max => n,
                _ => return Err(format!("`{s}`: the prefix must be 0–{max}")),
            },
        };
        Ok(Cidr { addr, prefix })
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// Parses a comma-separated list of CIDRs (`VIGIL_TRUSTED_PROXIES`).
pub fn parse_cidrs(list: &str) -> Result<Vec<Cidr>, String> {
    list.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::parse).collect()
}

/// Settings of the edge layers.
#[derive(Debug, Clone, Default)]
pub struct EdgePolicy {
    /// Peers whose `X-Forwarded-For` is believed (default: none).
    pub trusted_proxies: Vec<Cidr>,
    /// When set, `/metrics` needs `Authorization: Bearer <token>`.
    pub metrics_token: Option<String>,
    /// Send `Strict-Transport-Security` (the public URL is https).
    pub hsts: bool,
}

impl EdgePolicy {
    fn trusted(&self, ip: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|c| c.contains(ip))
    }

    /// The client's address. The TCP peer, unless the peer is a trusted proxy: then the
    /// `X-Forwarded-For` hops are read from the right (the hop the proxy itself added)
    /// and the first one that is not a trusted proxy is the client. A client can prepend
    /// any hop it likes, so hops left of that are never believed; an unparsable hop stops
    /// the walk at the last good one.
    pub fn client_ip(&self, peer: Option<IpAddr>, forwarded_for: &[&str]) -> Option<IpAddr> {
        let peer = peer?;
        if !self.trusted(peer) {
            return Some(peer);
        }
        let mut client = peer;
        for hop in forwarded_for.iter().flat_map(|h| h.split(',')).map(str::trim).rev() {
            let Ok(ip) = hop.parse::<IpAddr>() else { break };
            client = ip;
            if !self.trusted(ip) {
                break;
            }
        }
        Some(client)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn cidrs_parse_and_match() {
        let nets = parse_cidrs("10.0.0.0/8, 192.168.1.7 ,fd00::/8").expect("valid");
        assert_eq!(nets.len(), 3);
        assert!(nets[0].contains(ip("10.200.3.4")));
        assert!(!nets[0].contains(ip("11.0.0.1")));
        assert!(nets[1].contains(ip("192.168.1.7")));
        assert!(!nets[1].contains(ip("192.168.1.8")));
        assert!(nets[2].contains(ip("fd12::1")));
        assert!(nets[0].contains(ip("::ffff:10.1.2.3")), "v4-mapped peer");
        assert!("0.0.0.0/0".parse::<Cidr>().expect("all").contains(ip("8.8.8.8")));
        for bad in ["10.0.0.0/33", "nope", "10.0.0/8", "::/129"] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
        assert!(parse_cidrs("").expect("empty").is_empty());
    }

    #[test]
    fn forwarded_for_is_believed_only_through_trusted_proxies() {
        let none = EdgePolicy::default();
        // Untrusted peer: its header is ignored, whatever it says.
        assert_eq!(none.client_ip(Some(ip("203.0.113.9")), &["1.2.3.4"]), Some(ip("203.0.113.9")));
        let behind = EdgePolicy {
            trusted_proxies: parse_cidrs("10.0.0.0/8").expect("cidr"),
            ..EdgePolicy::default()
        };
        // Through the proxy: the hop it added (rightmost) is the client.
        assert_eq!(
            behind.client_ip(Some(ip("10.0.0.2")), &["198.51.100.7"]),
            Some(ip("198.51.100.7"))
        );
        // A client that forges hops to the left does not change the answer.
        assert_eq!(
            behind.client_ip(Some(ip("10.0.0.2")), &["6.6.6.6, 7.7.7.7, 198.51.100.7"]),
            Some(ip("198.51.100.7"))
        );
        // Two proxies in a row, the header in two lines.
        assert_eq!(
            behind.client_ip(Some(ip("10.0.0.2")), &["198.51.100.7", "10.0.0.5"]),
            Some(ip("198.51.100.7"))
        );
        // Garbage from the right: the proxy's peer stays the client.
        assert_eq!(behind.client_ip(Some(ip("10.0.0.2")), &["not-an-ip"]), Some(ip("10.0.0.2")));
    }
}
