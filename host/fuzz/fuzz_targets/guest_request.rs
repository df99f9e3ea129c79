//! A guest's outgoing HTTP request as the host checks it: any method, URL,
//! headers and body chunks, against any declared and granted patterns, then
//! any resolved addresses. Redirects are not followed by the host, so each
//! hop is one more request through this same check.
//!
//! Beyond "never panics": a request that passes never declares a body over
//! its cap, a body budget never lets more than its cap through, and a cloud
//! metadata address never passes the address check, whatever the grant.
#![no_main]
use arbitrary::Arbitrary;
use hamgam::config::Grants;
use hamgam::runtime::grants::Effective;
use hamgam::runtime::outgoing::{BodyBudget, check_outgoing};
use hamgam::plugins::manifest::Capabilities;
use libfuzzer_sys::fuzz_target;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

#[derive(Arbitrary, Debug)]
struct Input {
    declared: Vec<String>,
    granted: Vec<String>,
    allow_private_network: bool,
    method: String,
    uri: String,
    headers: Vec<(String, Vec<u8>)>,
    body_cap: u32,
    chunks: Vec<u32>,
    v4: Vec<[u8; 4]>,
    v6: Vec<[u8; 16]>,
}

const METADATA: Ipv4Addr = Ipv4Addr::new(169, 254, 169, 254);

fuzz_target!(|input: Input| {
    let caps = Capabilities {
        http: input.declared.into_iter().take(4).collect(),
        ..Capabilities::default()
    };
    let grants = Grants {
        http: input.granted.into_iter().take(4).collect(),
        allow_private_network: input.allow_private_network,
        ..Grants::default()
    };
    let effective = Effective::intersect(&caps, &grants);

    let cap = u64::from(input.body_cap);
    let mut budget = BodyBudget::new(cap);
    let mut let_through = 0u64;
    for chunk in input.chunks.into_iter().take(64) {
        if budget.take(chunk as usize).is_err() {
            break;
        }
        let_through += u64::from(chunk);
        assert!(let_through <= cap, "{let_through} bytes passed a {cap}-byte cap");
    }

    let (Ok(method), Ok(uri)) = (
        http::Method::from_bytes(input.method.as_bytes()),
        input.uri.parse::<http::Uri>(),
    ) else {
        return;
    };
    let mut headers = http::HeaderMap::new();
    for (name, value) in input.headers.into_iter().take(16) {
        if let (Ok(n), Ok(v)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            http::HeaderValue::from_bytes(&value),
        ) {
            headers.append(n, v);
        }
    }
    let Ok(checked) = check_outgoing(&effective, cap, &method, &uri, &headers) else {
        return;
    };
    assert!(checked.declared_len.is_none_or(|n| n <= cap));
    let addresses = input
        .v4
        .into_iter()
        .map(|b| IpAddr::V4(Ipv4Addr::from(b)))
        .chain(input.v6.into_iter().map(|b| IpAddr::V6(Ipv6Addr::from(b))))
        .chain([
            IpAddr::V4(METADATA),
            IpAddr::V6(METADATA.to_ipv6_mapped()),
        ])
        .take(32);
    for ip in addresses {
        let passed = effective.check_address(&checked.host, ip, checked.reach).is_ok();
        let is_metadata = match ip {
            IpAddr::V4(v4) => v4 == METADATA,
            IpAddr::V6(v6) => v6.to_ipv4_mapped() == Some(METADATA),
        };
        assert!(!(passed && is_metadata), "{ip} passed for {}", checked.host);
    }
});
