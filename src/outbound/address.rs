//! The address rules of SPEC §5.7: which destinations an outbound request
//! (an upload from a URL, a webhook delivery, the upload hook) may reach.
//! Everything that is not a public unicast address is refused — loopback,
//! private (RFC 1918, `fc00::/7`), link-local (`169.254.0.0/16` with the
//! cloud metadata service, `fe80::/10`), shared (`100.64.0.0/10`),
//! unspecified, multicast, broadcast, reserved and documentation ranges, and
//! the IPv6 forms that embed an IPv4 address (mapped, compatible, NAT64,
//! 6to4) whenever the embedded address is refused — unless the operator
//! lists it in `STOWAGE_FETCH_ALLOWED_NETWORKS`.

use ipnet::IpNet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Networks the operator opened (`STOWAGE_FETCH_ALLOWED_NETWORKS`, CIDRs).
#[derive(Clone, Debug, Default)]
pub struct Allowed(Vec<IpNet>);

impl Allowed {
    /// Comma- or space-separated CIDRs (a bare address is a /32 or /128).
    pub fn parse(list: &str) -> Result<Allowed, String> {
        let nets = list
            .split([',', ' ', '\n'])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<IpNet>()
                    .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        format!(
                            "STOWAGE_FETCH_ALLOWED_NETWORKS: {s:?} is not a CIDR such as 10.0.0.0/8"
                        )
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Allowed(nets))
    }

    fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|n| n.contains(&ip))
    }
}

/// Why an address may not be reached, or None when it may.
pub fn refused(ip: IpAddr, allowed: &Allowed) -> Option<&'static str> {
    if allowed.contains(ip) {
        return None;
    }
    match ip {
        IpAddr::V4(v4) => v4_class(v4),
        // An address that carries an IPv4 one reaches that one.
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some(v4) if allowed.contains(IpAddr::V4(v4)) => None,
            Some(v4) => v4_class(v4),
            None => v6_class(v6),
        },
    }
}

/// The class of an IPv4 address that is not public unicast.
pub fn v4_class(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        _ if ip.is_broadcast() => "broadcast",
        (0, _, _) => "unspecified",
        (127, _, _) => "loopback",
        (10, _, _) | (192, 168, _) => "private",
        (172, 16..=31, _) => "private",
        (169, 254, _) => "link-local",
        (100, 64..=127, _) => "shared",
        (224..=239, _, _) => "multicast",
        (240..=255, _, _) => "reserved",
        (192, 0, 0) | (198, 18..=19, _) => "reserved",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "documentation",
        _ => return None,
    })
}

/// The class of an IPv6 address (its own ranges only) that is not public
/// unicast.
pub fn v6_class(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    Some(match s {
        _ if ip.is_unspecified() => "unspecified",
        _ if ip.is_loopback() => "loopback",
        [0, 0, 0, 0, 0, 0, _, _] => "IPv4-compatible",
        [0x100, 0, 0, 0, ..] => "discard",
        [0x2001, 0xdb8, ..] => "documentation",
        [x, ..] if x & 0xfe00 == 0xfc00 => "private",
        [x, ..] if x & 0xffc0 == 0xfe80 => "link-local",
        [x, ..] if x & 0xffc0 == 0xfec0 => "site-local",
        [x, ..] if x & 0xff00 == 0xff00 => "multicast",
        _ => return None,
    })
}

/// The IPv4 address an IPv6 one reaches: mapped (`::ffff:a.b.c.d`), NAT64
/// (`64:ff9b::a.b.c.d`), 6to4 (`2002:aabb:ccdd::`). (The deprecated
/// compatible form `::a.b.c.d` is refused as a whole.)
pub fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let v4 = |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    match s {
        [0, 0, 0, 0, 0, 0xffff, hi, lo] => Some(v4(hi, lo)),
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => Some(v4(hi, lo)),
        [0x2002, hi, lo, ..] => Some(v4(hi, lo)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The reference: SPEC §5.7's list as CIDRs, checked by plain containment.
    const REFUSED_V4: &[&str] = &[
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
    ];
    const REFUSED_V6: &[&str] = &[
        "::/96",
        "100::/64",
        "2001:db8::/32",
        "fc00::/7",
        "fe80::/10",
        "fec0::/10",
        "ff00::/8",
    ];

    fn in_table(ip: IpAddr, table: &[&str]) -> bool {
        table
            .iter()
            .any(|n| n.parse::<IpNet>().unwrap().contains(&ip))
    }

    fn reference(ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(_) => in_table(ip, REFUSED_V4),
            IpAddr::V6(v6) => match embedded_v4(v6) {
                Some(v4) => in_table(v4.into(), REFUSED_V4),
                None => in_table(ip, REFUSED_V6),
            },
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(10_000))]
        #[test]
        fn v4_matches_the_table(raw in any::<u32>()) {
            let ip = IpAddr::V4(Ipv4Addr::from(raw));
            prop_assert_eq!(refused(ip, &Allowed::default()).is_some(), reference(ip), "{}", ip);
        }

        #[test]
        fn v6_matches_the_table(raw in any::<u128>(), prefix in 0usize..8) {
            // Random addresses rarely land in the small ranges: force a
            // prefix from the interesting ones half of the time.
            let prefixes: [u128; 8] = [0, 0xffff << 32, 0x64_ff9b << 96, 0xfc << 120,
                0xfe80 << 112, 0xff << 120, 0x2002 << 112, 0x2001_0db8 << 96];
            let ip6 = if prefix % 2 == 0 { raw } else {
                let p = prefixes[prefix];
                let width = if p == 0 || p == 0xffff << 32 { 32 } else { 96 };
                p | (raw & ((1u128 << width) - 1))
            };
            let ip = IpAddr::V6(Ipv6Addr::from(ip6));
            prop_assert_eq!(refused(ip, &Allowed::default()).is_some(), reference(ip), "{}", ip);
        }
    }

    #[test]
    fn named_cases() {
        let none = Allowed::default();
        for (ip, why) in [
            ("127.0.0.1", "loopback"),
            ("169.254.169.254", "link-local"),
            ("0.0.0.0", "unspecified"),
            ("255.255.255.255", "broadcast"),
            ("100.64.0.1", "shared"),
            ("::1", "loopback"),
            ("::127.0.0.1", "IPv4-compatible"),
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:169.254.169.254", "link-local"),
            ("64:ff9b::10.0.0.1", "private"),
            ("2002:c0a8:0101::", "private"),
            ("fd00::1", "private"),
            ("fe80::1", "link-local"),
        ] {
            assert_eq!(refused(ip.parse().unwrap(), &none), Some(why), "{ip}");
        }
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:1.1.1.1",
            "64:ff9b::1.1.1.1",
        ] {
            assert_eq!(refused(ip.parse().unwrap(), &none), None, "{ip}");
        }
        let open = Allowed::parse("127.0.0.1/32, 10.0.0.0/8").unwrap();
        assert_eq!(refused("127.0.0.1".parse().unwrap(), &open), None);
        assert_eq!(refused("::ffff:127.0.0.1".parse().unwrap(), &open), None);
        assert_eq!(
            refused("127.0.0.2".parse().unwrap(), &open),
            Some("loopback")
        );
        assert!(Allowed::parse("10.0.0.0/33").is_err());
        assert!(Allowed::parse("localhost").is_err());
    }
}
