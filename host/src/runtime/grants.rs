//! Capability grants: what the manifest declares ∩ what the operator
//! grants, and the outbound-HTTP check applied to every request.
//!
//! Deny is the default everywhere: an empty list grants nothing, and a
//! capability the manifest did not declare is never granted, whatever the
//! operator wrote.

use crate::config::Grants;
use crate::plugins::manifest::{Capabilities, CrmAccess};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;

pub use hamgam_trust::url_pattern::UrlPattern;

/// Why an outbound request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EgressDenied {
    /// The plugin's manifest does not declare this destination.
    #[error("{0} is not declared in the plugin manifest")]
    NotDeclared(String),
    /// The operator did not grant this destination.
    #[error("{0} is not granted to this instance")]
    NotGranted(String),
    /// The name resolved to an address the grant does not cover.
    #[error("{host} resolves to {ip}, a {class} address this instance may not reach")]
    Address {
        /// Requested host.
        host: String,
        /// Resolved address.
        ip: IpAddr,
        /// loopback, private, link-local…
        class: &'static str,
    },
    /// The URL could not be understood.
    #[error("malformed request URL: {0}")]
    Malformed(String),
}

/// The capabilities one instance actually has.
#[derive(Debug, Clone, Default)]
pub struct Effective {
    declared_http: Vec<UrlPattern>,
    granted_http: Vec<UrlPattern>,
    allow_private_network: bool,
    /// Declared name → granted real directory.
    pub files: BTreeMap<String, PathBuf>,
    /// Key-value state.
    pub state: bool,
    /// Declared and granted databases with the declared statements.
    pub sql: super::sql_gate::SqlGate,
    /// Secret names the plugin may read.
    pub secrets: Vec<String>,
    /// CRM store access.
    pub crm: CrmAccess,
    /// Device port.
    pub port: Option<crate::config::PortGrant>,
}

impl Effective {
    /// Intersect a manifest's declarations with an operator grant.
    pub fn intersect(declared: &Capabilities, granted: &Grants) -> Effective {
        let parse_all = |v: &[String]| -> Vec<UrlPattern> {
            v.iter().filter_map(|p| UrlPattern::parse(p).ok()).collect()
        };
        Effective {
            declared_http: parse_all(&declared.http),
            granted_http: parse_all(&granted.http),
            allow_private_network: granted.allow_private_network,
            files: granted
                .files
                .iter()
                .filter(|(name, _)| declared.files.contains(name))
                .map(|(n, p)| (n.clone(), p.clone()))
                .collect(),
            state: declared.state && granted.state,
            sql: super::sql_gate::SqlGate::new(&declared.sql, &granted.sql),
            secrets: declared.secrets.clone(),
            crm: declared.crm.min(granted.crm),
            port: if declared.port {
                granted.port.clone()
            } else {
                None
            },
        }
    }

    /// First check of an outbound request, before any DNS: the destination
    /// must be both declared and granted. Returns whether the operator named
    /// the host exactly (which lets it be a loopback/private address).
    pub fn check_destination(
        &self,
        scheme: &str,
        host: &str,
        port: u16,
    ) -> Result<bool, EgressDenied> {
        let target = format!("{scheme}://{host}:{port}");
        if !self
            .declared_http
            .iter()
            .any(|p| p.matches(scheme, host, port))
        {
            return Err(EgressDenied::NotDeclared(target));
        }
        let granted: Vec<&UrlPattern> = self
            .granted_http
            .iter()
            .filter(|p| p.matches(scheme, host, port))
            .collect();
        if granted.is_empty() {
            return Err(EgressDenied::NotGranted(target));
        }
        Ok(granted.iter().any(|p| p.names_exactly(host)))
    }

    /// Second check, after DNS: every resolved address must be public, or
    /// the operator must have named the host exactly, or opted this
    /// instance into the private network.
    pub fn check_address(
        &self,
        host: &str,
        ip: IpAddr,
        named_exactly: bool,
    ) -> Result<(), EgressDenied> {
        match classify(ip) {
            None => Ok(()),
            // Cloud metadata endpoints are never reachable, whatever the grant.
            Some("metadata") => Err(EgressDenied::Address {
                host: host.into(),
                ip,
                class: "metadata",
            }),
            Some(_) if named_exactly || self.allow_private_network => Ok(()),
            Some(class) => Err(EgressDenied::Address {
                host: host.into(),
                ip,
                class,
            }),
        }
    }
}

/// Which non-public range an address is in, if any.
pub fn classify(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            if o == [169, 254, 169, 254] {
                Some("metadata")
            } else if v4.is_loopback() {
                Some("loopback")
            } else if v4.is_private() || (o[0] == 100 && (o[1] & 0xc0) == 64) {
                Some("private")
            } else if v4.is_link_local() {
                Some("link-local")
            } else if v4.is_unspecified() || v4.is_broadcast() || v4.is_multicast() || o[0] == 0 {
                Some("reserved")
            } else {
                None
            }
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return classify(IpAddr::V4(v4));
            }
            let seg0 = v6.segments()[0];
            if v6.is_loopback() {
                Some("loopback")
            } else if (seg0 & 0xfe00) == 0xfc00 {
                Some("private")
            } else if (seg0 & 0xffc0) == 0xfe80 {
                Some("link-local")
            } else if v6.is_unspecified() || v6.is_multicast() {
                Some("reserved")
            } else {
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eff(declared: &[&str], granted: &[&str]) -> Effective {
        let caps = Capabilities {
            http: declared.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        };
        let grants = Grants {
            http: granted.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        };
        Effective::intersect(&caps, &grants)
    }

    #[test]
    fn destination_needs_declaration_and_grant() {
        let e = eff(&["https://*.example.com"], &["https://api.example.com"]);
        assert_eq!(
            e.check_destination("https", "api.example.com", 443),
            Ok(true)
        );
        assert!(matches!(
            e.check_destination("https", "www.example.com", 443),
            Err(EgressDenied::NotGranted(_))
        ));
        assert!(matches!(
            e.check_destination("https", "evil.test", 443),
            Err(EgressDenied::NotDeclared(_))
        ));
        // The operator cannot grant what the plugin did not declare.
        let e = eff(&[], &["https://*"]);
        assert!(e.check_destination("https", "a.b", 443).is_err());
    }

    #[test]
    fn private_addresses_need_an_exact_name_or_opt_in() {
        let e = eff(&["http://*"], &["http://*.corp.test", "http://127.0.0.1"]);
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        let ten: IpAddr = "10.1.2.3".parse().unwrap();
        let public: IpAddr = "93.184.216.34".parse().unwrap();
        assert!(e.check_address("erp.corp.test", public, false).is_ok());
        assert!(e.check_address("erp.corp.test", ten, false).is_err());
        assert!(e.check_address("127.0.0.1", lo, true).is_ok());
        let meta: IpAddr = "169.254.169.254".parse().unwrap();
        assert!(e.check_address("x", meta, true).is_err());
        let mut open = e.clone();
        open.allow_private_network = true;
        assert!(open.check_address("erp.corp.test", ten, false).is_ok());
        assert_eq!(
            classify("::ffff:10.0.0.1".parse().unwrap()),
            Some("private")
        );
        assert_eq!(classify("fd00::1".parse().unwrap()), Some("private"));
    }
}
