//! The host's check of a guest's outgoing HTTP request, as pure functions
//! (no I/O, no panics on any input) so they can be unit-tested and fuzzed:
//!
//! - [`check_outgoing`]: before any DNS — the URL (scheme, authority
//!   without credentials, host, port), the destination against the
//!   declared ∩ granted patterns, the method, the headers (nothing that
//!   reframes or reroutes the request), and a declared `Content-Length`
//!   against `limits.http_request_mib`;
//! - [`BodyBudget`]: the same cap applied while the body streams in, so
//!   the host never holds more than the cap of one request body;
//! - [`Effective::check_address`]: after DNS, each resolved address.
//!
//! Redirects need no rule of their own: the host never follows one. A 3xx
//! goes back to the plugin, and following it is a new request that comes
//! through here again.

use super::grants::{Effective, EgressDenied, PrivateReach};
use http::{HeaderMap, Method, Uri, header};

/// What the first check established about a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedRequest {
    /// `http` or `https`.
    pub scheme: &'static str,
    /// Host as written, IPv6 literals without brackets.
    pub host: String,
    /// Port, the scheme's default when the URL has none.
    pub port: u16,
    /// Which non-public addresses the host may resolve to.
    pub reach: PrivateReach,
    /// The body length the request declares, if it does.
    pub declared_len: Option<u64>,
}

/// Headers that describe one hop's connection, not the request: a plugin
/// setting them could smuggle a second request, switch protocols or talk
/// to a proxy the host does not know about. `wasi:http` already drops most
/// of them; this is the host's own word, whatever that list becomes.
const HOP_BY_HOP: [&str; 10] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
    "te",
    "trailer",
    "proxy-authorization",
    "proxy-authenticate",
    "http2-settings",
];

/// Check a request before DNS. `body_cap` is `limits.http_request_mib` in
/// bytes.
pub fn check_outgoing(
    effective: &Effective,
    body_cap: u64,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<CheckedRequest, EgressDenied> {
    let malformed = |why: &str| EgressDenied::Malformed(format!("{uri}: {why}"));
    let scheme = match uri.scheme_str() {
        Some(s) if s.eq_ignore_ascii_case("http") => "http",
        Some(s) if s.eq_ignore_ascii_case("https") => "https",
        _ => return Err(malformed("the scheme must be http or https")),
    };
    let Some(authority) = uri.authority() else {
        return Err(malformed("no host"));
    };
    if authority.as_str().contains('@') {
        // Credentials in the URL end up in logs and the audit trail, and
        // `user@host` is a classic way to make a URL look like another.
        return Err(malformed(
            "credentials in the URL are not allowed; send them in a header",
        ));
    }
    let host = authority
        .host()
        .trim_matches(['[', ']'])
        .to_ascii_lowercase();
    if host.is_empty() {
        return Err(malformed("no host"));
    }
    let port = match authority.port_u16() {
        Some(0) => return Err(malformed("port 0")),
        Some(p) => p,
        None if scheme == "https" => 443,
        None => 80,
    };
    if *method == Method::CONNECT {
        return Err(malformed("CONNECT (a tunnel) is not allowed"));
    }
    let reach = effective.check_destination(scheme, &host, port)?;
    let mut declared_len = None;
    for (name, value) in headers {
        let refused = |why| EgressDenied::Header {
            name: name.as_str().to_string(),
            why,
        };
        if HOP_BY_HOP.contains(&name.as_str()) {
            return Err(refused("it describes the connection, which is the host's"));
        }
        if name == header::HOST
            && !value
                .as_bytes()
                .eq_ignore_ascii_case(authority.as_str().as_bytes())
        {
            return Err(refused("it must name the URL's own host and port"));
        }
        if name == header::CONTENT_LENGTH {
            let len = std::str::from_utf8(value.as_bytes())
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .ok_or_else(|| refused("it must be one decimal number"))?;
            if declared_len.is_some_and(|d| d != len) {
                return Err(refused("it must be given once"));
            }
            declared_len = Some(len);
        }
    }
    if let Some(len) = declared_len
        && len > body_cap
    {
        return Err(EgressDenied::BodyTooLarge {
            size: Some(len),
            cap: body_cap,
        });
    }
    Ok(CheckedRequest {
        scheme,
        host,
        port,
        reach,
        declared_len,
    })
}

/// `limits.http_request_mib` applied to a body as it streams in: each
/// chunk is counted before the host keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyBudget {
    cap: u64,
    taken: u64,
}

impl BodyBudget {
    /// A budget of `cap` bytes.
    pub fn new(cap: u64) -> Self {
        BodyBudget { cap, taken: 0 }
    }

    /// Count `len` more bytes; refused once the total passes the cap.
    pub fn take(&mut self, len: usize) -> Result<(), EgressDenied> {
        let total = self
            .taken
            .saturating_add(u64::try_from(len).unwrap_or(u64::MAX));
        if total > self.cap {
            return Err(EgressDenied::BodyTooLarge {
                size: Some(total),
                cap: self.cap,
            });
        }
        self.taken = total;
        Ok(())
    }
}

/// A `limits.*_mib` value in bytes.
pub fn mib(n: u64) -> u64 {
    n.saturating_mul(1 << 20)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::Grants;
    use hamgam_trust::manifest::Capabilities;

    fn granted(patterns: &[&str]) -> Effective {
        let caps = Capabilities {
            http: vec!["http://*:*".into(), "https://*:*".into()],
            ..Default::default()
        };
        let grants = Grants {
            http: patterns.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        };
        Effective::intersect(&caps, &grants)
    }

    fn check(
        e: &Effective,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
    ) -> Result<CheckedRequest, EgressDenied> {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                http::HeaderValue::from_str(v).unwrap(),
            );
        }
        check_outgoing(
            e,
            1000,
            &Method::from_bytes(method.as_bytes()).unwrap(),
            &url.parse().unwrap(),
            &map,
        )
    }

    #[test]
    fn p2_a_granted_request_passes_with_what_the_address_check_needs() {
        let e = granted(&["https://api.example.com", "http://[::1]:8080"]);
        let ok = check(
            &e,
            "POST",
            "https://API.example.com/v1?x=1",
            &[("host", "API.example.com"), ("content-length", "1000")],
        )
        .unwrap();
        assert_eq!(ok.host, "api.example.com");
        assert_eq!((ok.scheme, ok.port), ("https", 443));
        assert_eq!(ok.reach, PrivateReach::None);
        assert_eq!(ok.declared_len, Some(1000));
        let v6 = check(&e, "GET", "http://[::1]:8080/", &[]).unwrap();
        assert_eq!(v6.host, "::1");
        assert_eq!(v6.reach, PrivateReach::Literal("::1".parse().unwrap()));
    }

    #[test]
    fn p2_a_declared_request_body_over_http_request_mib_is_refused_before_it_is_read() {
        let e = granted(&["https://api.example.com"]);
        let r = check(
            &e,
            "POST",
            "https://api.example.com/",
            &[("content-length", "1001")],
        );
        assert_eq!(
            r,
            Err(EgressDenied::BodyTooLarge {
                size: Some(1001),
                cap: 1000
            })
        );
        assert!(
            r.unwrap_err()
                .to_string()
                .contains("limits.http_request_mib")
        );
    }

    #[test]
    fn p2_a_streamed_request_body_is_refused_where_it_crosses_the_cap() {
        let mut budget = BodyBudget::new(1000);
        budget.take(600).unwrap();
        budget.take(400).unwrap();
        assert_eq!(
            budget.take(1),
            Err(EgressDenied::BodyTooLarge {
                size: Some(1001),
                cap: 1000
            })
        );
        // Sizes near the top of the range saturate instead of wrapping.
        let mut near = BodyBudget::new(u64::MAX - 1);
        assert!(near.take(usize::MAX).is_err());
        let mut unbounded = BodyBudget::new(u64::MAX);
        unbounded.take(usize::MAX).unwrap();
        unbounded.take(usize::MAX).unwrap();
    }

    #[test]
    fn p2_urls_and_headers_that_reroute_or_reframe_a_request_are_refused() {
        let e = granted(&["http://*:*", "https://*:*"]);
        for (method, url, headers) in [
            ("GET", "http://user:pw@api.example.com/", vec![]),
            ("GET", "http://api.example.com:0/", vec![]),
            ("CONNECT", "http://api.example.com/", vec![]),
            (
                "GET",
                "http://api.example.com/",
                vec![("host", "intranet.local")],
            ),
            (
                "GET",
                "http://api.example.com/",
                vec![("transfer-encoding", "chunked")],
            ),
            (
                "GET",
                "http://api.example.com/",
                vec![("connection", "upgrade")],
            ),
            (
                "GET",
                "http://api.example.com/",
                vec![("upgrade", "websocket")],
            ),
            ("GET", "http://api.example.com/", vec![("te", "trailers")]),
            (
                "GET",
                "http://api.example.com/",
                vec![("proxy-authorization", "x")],
            ),
            (
                "POST",
                "http://api.example.com/",
                vec![("content-length", "ten")],
            ),
            (
                "POST",
                "http://api.example.com/",
                vec![("content-length", "1"), ("content-length", "2")],
            ),
        ] {
            let r = check(&e, method, url, &headers);
            assert!(
                matches!(
                    r,
                    Err(EgressDenied::Malformed(_) | EgressDenied::Header { .. })
                ),
                "{method} {url} {headers:?}: {r:?}"
            );
        }
        // The path alone ("origin form") has no host to check.
        assert!(matches!(
            check(&e, "GET", "/relative", &[]),
            Err(EgressDenied::Malformed(_))
        ));
    }
}
