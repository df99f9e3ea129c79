//! Outbound URL patterns (`scheme://host:port`), shared by plugin
//! manifests (what a plugin declares) and operator grants.

/// A `scheme://host:port` pattern. `host` may be `*` or start with `*.`;
/// `port` may be `*` or absent (the scheme's default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlPattern {
    scheme: String,
    host: HostPattern,
    port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    Any,
    Suffix(String),
    Exact(String),
}

impl UrlPattern {
    /// Parse a pattern; the error says which part is wrong.
    pub fn parse(pattern: &str) -> Result<UrlPattern, String> {
        let (scheme, rest) = pattern
            .split_once("://")
            .ok_or_else(|| format!("`{pattern}` must look like scheme://host:port"))?;
        if scheme != "http" && scheme != "https" {
            return Err(format!("`{pattern}`: scheme must be http or https"));
        }
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains('/') || rest.contains('@') || rest.contains('?') {
            return Err(format!(
                "`{pattern}`: only scheme, host and port are allowed"
            ));
        }
        let (host, port) =
            split_host_port(rest).ok_or_else(|| format!("`{pattern}`: bad host or port"))?;
        let port = match port {
            None => Some(default_port(scheme)),
            Some("*") => None,
            Some(p) => Some(
                p.parse::<u16>()
                    .map_err(|_| format!("`{pattern}`: port `{p}` is not a number or `*`"))?,
            ),
        };
        let host = host.to_ascii_lowercase();
        let host = if host == "*" {
            HostPattern::Any
        } else if let Some(suffix) = host.strip_prefix("*.") {
            if suffix.is_empty() || suffix.contains('*') {
                return Err(format!("`{pattern}`: `*` may only be the first label"));
            }
            HostPattern::Suffix(suffix.to_string())
        } else if host.is_empty() || host.contains('*') {
            return Err(format!("`{pattern}`: `*` may only be the first label"));
        } else {
            HostPattern::Exact(host)
        };
        Ok(UrlPattern {
            scheme: scheme.to_string(),
            host,
            port,
        })
    }

    /// Whether a request's scheme, host and port match.
    pub fn matches(&self, scheme: &str, host: &str, port: u16) -> bool {
        if self.scheme != scheme || self.port.is_some_and(|p| p != port) {
            return false;
        }
        let host = host.to_ascii_lowercase();
        match &self.host {
            HostPattern::Any => true,
            HostPattern::Exact(h) => *h == host,
            HostPattern::Suffix(s) => host
                .strip_suffix(s.as_str())
                .is_some_and(|head| head.ends_with('.') && head.len() > 1),
        }
    }

    /// Whether the pattern names this host exactly (not by wildcard): the
    /// operator's explicit word that a loopback or private target is meant.
    pub fn names_exactly(&self, host: &str) -> bool {
        matches!(&self.host, HostPattern::Exact(h) if h.eq_ignore_ascii_case(host))
    }
}

fn default_port(scheme: &str) -> u16 {
    if scheme == "https" { 443 } else { 80 }
}

fn split_host_port(s: &str) -> Option<(&str, Option<&str>)> {
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        return match after {
            "" => Some((host, None)),
            p => Some((host, Some(p.strip_prefix(':')?))),
        };
    }
    match s.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => Some((h, Some(p))),
        Some(_) => None,
        None => Some((s, None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        let p = UrlPattern::parse("https://*.sepidar.ir").unwrap();
        assert!(p.matches("https", "api.sepidar.ir", 443));
        assert!(!p.matches("https", "sepidar.ir", 443));
        assert!(!p.matches("https", "evilsepidar.ir", 443));
        assert!(!p.matches("http", "api.sepidar.ir", 443));
        assert!(!p.matches("https", "api.sepidar.ir", 8443));
        let p = UrlPattern::parse("http://127.0.0.1:*").unwrap();
        assert!(p.matches("http", "127.0.0.1", 1234));
        assert!(!p.matches("http", "127.0.0.2", 1234));
        assert!(!p.matches("http", "localhost", 1234));
        assert!(
            UrlPattern::parse("http://[::1]:80")
                .unwrap()
                .matches("http", "::1", 80)
        );
        for bad in [
            "ftp://x",
            "x",
            "http://a/b",
            "http://a:b",
            "http://a.*.b",
            "http://u@a",
        ] {
            assert!(UrlPattern::parse(bad).is_err(), "{bad}");
        }
    }
}
