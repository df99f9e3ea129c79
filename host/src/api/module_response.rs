//! What a module's `handle-request` answer may put on the host's HTTP
//! response (P2, P7): a pure filter, no I/O, total on any input, so it can
//! be unit-tested and fuzzed.
//!
//! A module answers under the host's origin and next to the host's own
//! headers. Left unfiltered it could set cookies for the whole API,
//! overwrite `hamgam-plugin`, reframe the response (`content-length`,
//! `transfer-encoding`), switch protocols (`101`, `upgrade`), or prompt the
//! caller's browser for credentials.
//!
//! **Statuses a module may answer** ([`module_may_answer`]): the
//! registered final statuses 200–208, 226; 300–304, 307, 308; 400–406,
//! 408–418, 421–426, 428, 429, 431, 451; 500–504, 506–508, 510. Not:
//! every 1xx (interim answers belong to the host's connection, and `101`
//! would switch it to another protocol), 305 and 306 (deprecated and
//! unused), 407 (proxy authentication is a proxy's), 505 (the HTTP
//! version is the host's), 511 (captive-portal sign-in), and anything
//! unregistered. Any other status becomes a 502 naming the status.
//!
//! **Headers dropped** ([`host_owns`]): hop-by-hop headers; the framing
//! the host computes (`content-length`); `set-cookie`/`set-cookie2`;
//! every `hamgam-*` header; the origin-wide policies (`strict-transport-
//! security`, `alt-svc`, `clear-site-data`, `access-control-*`);
//! `www-authenticate`; `server` and `date`; and anything that is not a
//! valid header name or value. Other headers pass, repeated ones too.

use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};

/// A module answer the host can send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filtered {
    /// The module's status.
    pub status: StatusCode,
    /// The headers that passed.
    pub headers: HeaderMap,
    /// Names of the headers dropped (for the log), lower case, or
    /// `<invalid>` for a name that is not a header name.
    pub dropped: Vec<String>,
}

/// The module answered a status it may not.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the module answered status {0}, which a module may not send \
     (2xx, 3xx but 305/306, 4xx but 407, 5xx but 505/511, registered codes only)"
)]
pub struct StatusRefused(pub u16);

/// Filter a module's status and headers.
pub fn filter_module_response(
    status: u16,
    headers: &[(String, String)],
) -> Result<Filtered, StatusRefused> {
    if !module_may_answer(status) {
        return Err(StatusRefused(status));
    }
    let status = StatusCode::from_u16(status).map_err(|_| StatusRefused(status))?;
    let mut out = HeaderMap::new();
    let mut dropped = Vec::new();
    for (name, value) in headers {
        let Ok(parsed) = HeaderName::from_bytes(name.as_bytes()) else {
            dropped.push("<invalid>".to_string());
            continue;
        };
        if host_owns(&parsed) {
            dropped.push(parsed.as_str().to_string());
            continue;
        }
        match HeaderValue::from_str(value) {
            Ok(v) => {
                out.append(parsed, v);
            }
            Err(_) => dropped.push(parsed.as_str().to_string()),
        }
    }
    Ok(Filtered {
        status,
        headers: out,
        dropped,
    })
}

/// Whether a module may answer `status` (the set in the module docs).
pub fn module_may_answer(status: u16) -> bool {
    matches!(
        status,
        200..=208
            | 226
            | 300..=304
            | 307
            | 308
            | 400..=406
            | 408..=418
            | 421..=426
            | 428
            | 429
            | 431
            | 451
            | 500..=504
            | 506..=508
            | 510
    )
}

/// Whether a response header is the host's, not a module's.
pub fn host_owns(name: &HeaderName) -> bool {
    const OWNED: [&str; 19] = [
        // Hop-by-hop: the host's connection to its caller.
        "connection",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "te",
        "trailer",
        "upgrade",
        "proxy-authenticate",
        "proxy-authorization",
        "http2-settings",
        // Framing: the host sets it from the body it sends.
        "content-length",
        // Cookies would apply to the whole API origin.
        "set-cookie",
        "set-cookie2",
        // Origin-wide policies.
        "strict-transport-security",
        "alt-svc",
        "clear-site-data",
        // A credential prompt on the host's origin.
        "www-authenticate",
        // Who answered and when: the host's.
        "server",
        "date",
    ];
    let n = name.as_str();
    OWNED.contains(&n) || n.starts_with("hamgam-") || n.starts_with("access-control-")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn p2_a_module_response_loses_the_headers_the_host_owns() {
        let f = filter_module_response(
            200,
            &h(&[
                ("Content-Type", "application/json"),
                ("Set-Cookie", "session=stolen; Path=/"),
                ("hamgam-plugin", "vendor-approved@9.9.9"),
                ("Hamgam-Tenant", "other"),
                ("Connection", "close"),
                ("Transfer-Encoding", "chunked"),
                ("Upgrade", "websocket"),
                ("Content-Length", "0"),
                ("Strict-Transport-Security", "max-age=0"),
                ("Access-Control-Allow-Origin", "*"),
                ("WWW-Authenticate", "Basic realm=\"hamgam\""),
                ("Server", "fake"),
                ("bad name", "x"),
                ("x-split", "a\r\nset-cookie: b"),
                ("Link", "</a>; rel=next"),
                ("Link", "</b>; rel=prev"),
                (
                    "Content-Disposition",
                    "attachment; filename=\"statement.pdf\"",
                ),
                ("x-total-count", "12"),
            ]),
        )
        .unwrap();
        assert_eq!(f.status, StatusCode::OK);
        let names: Vec<&str> = f.headers.keys().map(|k| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "content-type",
                "link",
                "content-disposition",
                "x-total-count"
            ]
        );
        assert_eq!(f.headers.get_all("link").iter().count(), 2);
        for gone in [
            "set-cookie",
            "hamgam-plugin",
            "hamgam-tenant",
            "connection",
            "transfer-encoding",
            "upgrade",
            "content-length",
            "strict-transport-security",
            "access-control-allow-origin",
            "www-authenticate",
            "server",
            "<invalid>",
            "x-split",
        ] {
            assert!(
                f.dropped.iter().any(|d| d == gone),
                "{gone}: {:?}",
                f.dropped
            );
        }
    }

    #[test]
    fn p2_a_module_status_outside_the_allowed_set_is_refused() {
        for bad in [
            0,
            1,
            99,
            100,
            101,
            102,
            103,
            199,
            209,
            299,
            305,
            306,
            309,
            407,
            419,
            420,
            499,
            505,
            509,
            511,
            599,
            600,
            999,
            1000,
            u16::MAX,
        ] {
            assert_eq!(
                filter_module_response(bad, &[]),
                Err(StatusRefused(bad)),
                "{bad}"
            );
        }
        for good in [
            200, 201, 204, 206, 226, 301, 302, 303, 304, 307, 308, 400, 401, 403, 404, 409, 418,
            422, 429, 451, 500, 502, 503, 504,
        ] {
            let f = filter_module_response(good, &[]).unwrap();
            assert_eq!(f.status.as_u16(), good);
        }
        // Every allowed status is a real one.
        for s in 0..=u16::MAX {
            if module_may_answer(s) {
                assert!(
                    StatusCode::from_u16(s)
                        .unwrap()
                        .canonical_reason()
                        .is_some(),
                    "{s}"
                );
            }
        }
        assert!(StatusRefused(101).to_string().contains("101"));
    }
}
