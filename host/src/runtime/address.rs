//! Which kind of network an IP address belongs to, for the outbound-HTTP
//! address check (P2).
//!
//! An IPv6 address can carry an IPv4 address inside it (IPv4-mapped
//! `::ffff:a.b.c.d`, IPv4-compatible `::a.b.c.d`, NAT64 `64:ff9b::/96`,
//! 6to4 `2002::/16`). A NAT64 gateway or a 6to4 relay delivers such an
//! address to the IPv4 inside, so it is classified by that IPv4: otherwise
//! `64:ff9b::a9fe:a9fe` would be a "public" way to the cloud metadata
//! service at 169.254.169.254.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The kind of network an address is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressClass {
    /// Routable on the internet.
    Public,
    /// This machine (127.0.0.0/8, ::1).
    Loopback,
    /// A LAN or carrier range (RFC 1918, 100.64.0.0/10, fc00::/7,
    /// fec0::/10, local-use NAT64 64:ff9b:1::/48).
    Private,
    /// Link-local (169.254.0.0/16, fe80::/10).
    LinkLocal,
    /// Not a destination at all: unspecified, broadcast, multicast,
    /// documentation, benchmarking and reserved ranges.
    Reserved,
    /// A cloud provider's instance-metadata service: never reachable,
    /// whatever the grant, because it hands out the machine's credentials.
    Metadata,
}

impl fmt::Display for AddressClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AddressClass::Public => "public",
            AddressClass::Loopback => "loopback",
            AddressClass::Private => "private",
            AddressClass::LinkLocal => "link-local",
            AddressClass::Reserved => "reserved",
            AddressClass::Metadata => "metadata",
        })
    }
}

/// Instance-metadata endpoints (IPv4). 169.254.169.254 serves AWS, GCP,
/// Azure, OpenStack, DigitalOcean and Oracle; 169.254.170.2 is the AWS ECS
/// task-credentials endpoint; 100.100.100.200 is Alibaba Cloud's.
const METADATA_V4: [Ipv4Addr; 3] = [
    Ipv4Addr::new(169, 254, 169, 254),
    Ipv4Addr::new(169, 254, 170, 2),
    Ipv4Addr::new(100, 100, 100, 200),
];

/// Instance-metadata endpoints (IPv6): AWS's IMDS on Nitro instances.
const METADATA_V6: [Ipv6Addr; 1] = [Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254)];

/// The class of `ip`. Total: every address has one, nothing panics.
pub fn classify(ip: IpAddr) -> AddressClass {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(v4: Ipv4Addr) -> AddressClass {
    let o = v4.octets();
    if METADATA_V4.contains(&v4) {
        AddressClass::Metadata
    } else if v4.is_loopback() {
        AddressClass::Loopback
    } else if v4.is_private() || (o[0] == 100 && (o[1] & 0xc0) == 64) {
        AddressClass::Private
    } else if v4.is_link_local() {
        AddressClass::LinkLocal
    } else if o[0] == 0
        || o[0] >= 224 // multicast 224/4, reserved 240/4, broadcast
        || (o[0] == 192 && o[1] == 0 && (o[2] == 0 || o[2] == 2))
        || (o[0] == 198 && (o[1] & 0xfe) == 18)
        || (o[0] == 198 && o[1] == 51 && o[2] == 100)
        || (o[0] == 203 && o[1] == 0 && o[2] == 113)
    {
        AddressClass::Reserved
    } else {
        AddressClass::Public
    }
}

fn classify_v6(v6: Ipv6Addr) -> AddressClass {
    if METADATA_V6.contains(&v6) {
        return AddressClass::Metadata;
    }
    if let Some(v4) = embedded_v4(v6) {
        return classify_v4(v4);
    }
    let s = v6.segments();
    let documentation = s[0] == 0x2001 && s[1] == 0x0db8;
    let discard_only = s[..4] == [0x0100, 0, 0, 0];
    if v6.is_loopback() {
        AddressClass::Loopback
    } else if (s[0] & 0xfe00) == 0xfc00 || (s[0] & 0xffc0) == 0xfec0 {
        // Unique local fc00::/7; the deprecated site-local fec0::/10.
        AddressClass::Private
    } else if s[0] == 0x0064 && s[1] == 0xff9b && s[2] == 0x0001 {
        // Local-use NAT64 (RFC 8215): where the IPv4 sits depends on the
        // site's prefix length, so the whole range counts as the LAN.
        AddressClass::Private
    } else if (s[0] & 0xffc0) == 0xfe80 {
        AddressClass::LinkLocal
    } else if v6.is_unspecified() || v6.is_multicast() || documentation || discard_only {
        AddressClass::Reserved
    } else {
        AddressClass::Public
    }
}

/// The IPv4 address an IPv6 address delivers to, for the forms that carry
/// one: IPv4-mapped, IPv4-compatible (`::a.b.c.d`, not `::` or `::1`),
/// NAT64 well-known prefix `64:ff9b::/96`, and 6to4 `2002:AABB:CCDD::/48`.
pub fn embedded_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = v6.segments();
    let low = |hi: u16, lo: u16| {
        let [a, b] = hi.to_be_bytes();
        let [c, d] = lo.to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    };
    if let Some(v4) = v6.to_ipv4_mapped() {
        return Some(v4);
    }
    if s[..6] == [0; 6] {
        // `::` and `::1` are IPv6's own unspecified and loopback addresses.
        return if s[6] == 0 && s[7] <= 1 {
            None
        } else {
            Some(low(s[6], s[7]))
        };
    }
    if s[..6] == [0x0064, 0xff9b, 0, 0, 0, 0] {
        return Some(low(s[6], s[7]));
    }
    if s[0] == 0x2002 {
        return Some(low(s[1], s[2]));
    }
    None
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use AddressClass::*;

    #[test]
    fn p2_addresses_are_classified_by_the_network_they_reach() {
        let table: &[(&str, AddressClass)] = &[
            // IPv4
            ("93.184.216.34", Public),
            ("8.8.8.8", Public),
            ("127.0.0.1", Loopback),
            ("127.255.0.9", Loopback),
            ("10.1.2.3", Private),
            ("172.16.0.1", Private),
            ("192.168.1.1", Private),
            ("100.64.0.1", Private),
            ("100.127.255.255", Private),
            ("100.128.0.1", Public),
            ("169.254.1.1", LinkLocal),
            ("169.254.169.254", Metadata),
            ("169.254.170.2", Metadata),
            ("100.100.100.200", Metadata),
            ("0.0.0.0", Reserved),
            ("0.1.2.3", Reserved),
            ("255.255.255.255", Reserved),
            ("224.0.0.1", Reserved),
            ("240.0.0.1", Reserved),
            ("192.0.2.7", Reserved),
            ("198.18.0.1", Reserved),
            ("198.19.255.1", Reserved),
            ("198.51.100.1", Reserved),
            ("203.0.113.1", Reserved),
            // IPv6 proper
            ("2606:4700::1111", Public),
            ("::1", Loopback),
            ("::", Reserved),
            ("fd00::1", Private),
            ("fc12::1", Private),
            ("fec0::1", Private),
            ("fe80::1", LinkLocal),
            ("ff02::1", Reserved),
            ("2001:db8::1", Reserved),
            ("100::1", Reserved),
            ("64:ff9b:1::a00:1", Private),
            ("fd00:ec2::254", Metadata),
            // IPv4-mapped
            ("::ffff:10.0.0.1", Private),
            ("::ffff:127.0.0.1", Loopback),
            ("::ffff:169.254.169.254", Metadata),
            ("::ffff:8.8.8.8", Public),
            // IPv4-compatible
            ("::127.0.0.1", Loopback),
            ("::169.254.169.254", Metadata),
            ("::10.0.0.1", Private),
            ("::0.0.0.2", Reserved),
            ("::8.8.8.8", Public),
            // NAT64 well-known prefix
            ("64:ff9b::169.254.169.254", Metadata),
            ("64:ff9b::a9fe:a9fe", Metadata),
            ("64:ff9b::127.0.0.1", Loopback),
            ("64:ff9b::192.168.0.1", Private),
            ("64:ff9b::8.8.8.8", Public),
            // 6to4
            ("2002:a9fe:a9fe::", Metadata),
            ("2002:a9fe:a9fe:1::5", Metadata),
            ("2002:7f00:1::", Loopback),
            ("2002:c0a8:101::1", Private),
            ("2002:a9fe:101::", LinkLocal),
            ("2002:808:808::1", Public),
        ];
        for (text, want) in table {
            let ip: IpAddr = text.parse().unwrap();
            assert_eq!(classify(ip), *want, "{text}");
        }
    }

    #[test]
    fn p2_embedded_ipv4_is_found_only_in_the_forms_that_carry_one() {
        let v6 = |s: &str| s.parse::<Ipv6Addr>().unwrap();
        let v4 = |s: &str| Some(s.parse::<Ipv4Addr>().unwrap());
        assert_eq!(embedded_v4(v6("::ffff:1.2.3.4")), v4("1.2.3.4"));
        assert_eq!(embedded_v4(v6("::1.2.3.4")), v4("1.2.3.4"));
        assert_eq!(embedded_v4(v6("64:ff9b::1.2.3.4")), v4("1.2.3.4"));
        assert_eq!(embedded_v4(v6("2002:102:304::")), v4("1.2.3.4"));
        assert_eq!(embedded_v4(v6("::")), None);
        assert_eq!(embedded_v4(v6("::1")), None);
        assert_eq!(embedded_v4(v6("2606:4700::1111")), None);
        assert_eq!(embedded_v4(v6("64:ff9b:0:1::1.2.3.4")), None);
    }
}
