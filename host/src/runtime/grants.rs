//! Capability grants: what the manifest declares ∩ what the operator
//! grants, and the outbound-HTTP check applied to every request.
//!
//! Deny is the default everywhere: an empty list grants nothing, and a
//! capability the manifest did not declare is never granted, whatever the
//! operator wrote.

use crate::config::Grants;
use hamgam_trust::manifest::{Capabilities, CrmAccess, CrmEntity};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;

pub use super::address::{AddressClass, classify};
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
        class: AddressClass,
    },
    /// The URL could not be understood, or carries what a plugin may not
    /// send (credentials in the authority, a port 0…).
    #[error("malformed request URL: {0}")]
    Malformed(String),
    /// A header the host owns or that would change how the request is
    /// framed or routed.
    #[error("request header `{name}` is not allowed: {why}")]
    Header {
        /// Header name, lower case.
        name: String,
        /// The rule it breaks.
        why: &'static str,
    },
    /// The request body is larger than the instance's
    /// `limits.http_request_mib`.
    #[error(
        "request body {} is over limits.http_request_mib ({cap} bytes)",
        size.map(|n| format!("of {n} bytes")).unwrap_or_else(|| "read so far".into())
    )]
    BodyTooLarge {
        /// The declared length, or the bytes read when it crossed the cap.
        size: Option<u64>,
        /// The cap in bytes.
        cap: u64,
    },
}

/// Which non-public addresses a granted destination may resolve to,
/// decided before DNS from the grant and the host as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrivateReach {
    /// Public addresses only: a wildcard grant, or an exact grant of a
    /// name. A name is only what DNS says it is, so naming it does not
    /// vouch for where it points.
    None,
    /// The grant names this IP literal exactly: that address, whatever
    /// its class (metadata excepted).
    Literal(IpAddr),
    /// The grant names `localhost` exactly: loopback addresses.
    Loopback,
    /// The instance has `allow_private_network`: every class but metadata.
    Any,
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
    /// CRM store access (own records and events).
    pub crm: CrmAccess,
    /// CRM records per kind: declared ∩ granted; a kind not here is none.
    pub entities: BTreeMap<CrmEntity, CrmAccess>,
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
            entities: declared
                .entities
                .iter()
                .filter_map(|(kind, d)| {
                    let access = (*d).min(granted.entities.get(kind).copied().unwrap_or_default());
                    (access != CrmAccess::None).then_some((*kind, access))
                })
                .collect(),
            port: if declared.port {
                granted.port.clone()
            } else {
                None
            },
        }
    }

    /// First check of an outbound request, before any DNS: the destination
    /// must be both declared and granted. Returns which non-public
    /// addresses it may then resolve to.
    pub fn check_destination(
        &self,
        scheme: &str,
        host: &str,
        port: u16,
    ) -> Result<PrivateReach, EgressDenied> {
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
        if self.allow_private_network {
            return Ok(PrivateReach::Any);
        }
        if !granted.iter().any(|p| p.names_exactly(host)) {
            return Ok(PrivateReach::None);
        }
        Ok(if let Ok(ip) = host.parse::<IpAddr>() {
            PrivateReach::Literal(ip)
        } else if host.eq_ignore_ascii_case("localhost") {
            PrivateReach::Loopback
        } else {
            PrivateReach::None
        })
    }

    /// Second check, after DNS: every resolved address must be public, or
    /// covered by the destination's [`PrivateReach`]. Metadata addresses
    /// never are.
    pub fn check_address(
        &self,
        host: &str,
        ip: IpAddr,
        reach: PrivateReach,
    ) -> Result<(), EgressDenied> {
        let class = classify(ip);
        let allowed = match (class, reach) {
            (AddressClass::Public, _) => true,
            (AddressClass::Metadata, _) => false,
            (_, PrivateReach::Any) => true,
            (_, PrivateReach::Literal(literal)) => literal == ip,
            (AddressClass::Loopback, PrivateReach::Loopback) => true,
            (_, PrivateReach::Loopback | PrivateReach::None) => false,
        };
        if allowed {
            Ok(())
        } else {
            Err(EgressDenied::Address {
                host: host.into(),
                ip,
                class,
            })
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
        // Named exactly, but a name: public addresses only.
        assert_eq!(
            e.check_destination("https", "api.example.com", 443),
            Ok(PrivateReach::None)
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
        let by_wildcard = e.check_destination("http", "erp.corp.test", 80).unwrap();
        assert!(
            e.check_address("erp.corp.test", public, by_wildcard)
                .is_ok()
        );
        assert!(e.check_address("erp.corp.test", ten, by_wildcard).is_err());
        let literal = e.check_destination("http", "127.0.0.1", 80).unwrap();
        assert_eq!(literal, PrivateReach::Literal(lo));
        assert!(e.check_address("127.0.0.1", lo, literal).is_ok());
        let meta: IpAddr = "169.254.169.254".parse().unwrap();
        assert!(e.check_address("x", meta, literal).is_err());
        let mut open = e.clone();
        open.allow_private_network = true;
        let reach = open.check_destination("http", "erp.corp.test", 80).unwrap();
        assert!(open.check_address("erp.corp.test", ten, reach).is_ok());
        assert_eq!(
            classify("::ffff:10.0.0.1".parse().unwrap()),
            AddressClass::Private
        );
        assert_eq!(classify("fd00::1".parse().unwrap()), AddressClass::Private);
    }

    #[test]
    fn p2_an_exact_host_grant_resolving_to_a_private_address_is_refused() {
        let e = eff(
            &["http://*:*"],
            &[
                "http://erp.corp.test",
                "http://localhost:8080",
                "http://10.0.0.5",
            ],
        );
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        // A name granted exactly is still only what DNS says it is.
        let name = e.check_destination("http", "erp.corp.test", 80).unwrap();
        assert_eq!(name, PrivateReach::None);
        for private in [
            "10.1.2.3",
            "127.0.0.1",
            "169.254.1.1",
            "fd00::5",
            "::ffff:192.168.1.9",
        ] {
            let denied = e.check_address("erp.corp.test", ip(private), name);
            assert!(
                matches!(denied, Err(EgressDenied::Address { .. })),
                "{private}: {denied:?}"
            );
        }
        assert!(
            e.check_address("erp.corp.test", ip("93.184.216.34"), name)
                .is_ok()
        );
        // `localhost` named exactly: loopback, and nothing else.
        let local = e.check_destination("http", "localhost", 8080).unwrap();
        assert_eq!(local, PrivateReach::Loopback);
        assert!(e.check_address("localhost", ip("127.0.0.1"), local).is_ok());
        assert!(e.check_address("localhost", ip("::1"), local).is_ok());
        assert!(e.check_address("localhost", ip("10.0.0.5"), local).is_err());
        // An IP literal named exactly: that address.
        let literal = e.check_destination("http", "10.0.0.5", 80).unwrap();
        assert!(e.check_address("10.0.0.5", ip("10.0.0.5"), literal).is_ok());
        assert!(
            e.check_address("10.0.0.5", ip("10.0.0.6"), literal)
                .is_err()
        );
        // The instance's opt-in opens the LAN to the name.
        let mut open = e.clone();
        open.allow_private_network = true;
        let any = open.check_destination("http", "erp.corp.test", 80).unwrap();
        assert!(
            open.check_address("erp.corp.test", ip("10.1.2.3"), any)
                .is_ok()
        );
    }

    #[test]
    fn p2_metadata_addresses_are_refused_whatever_the_grant() {
        let e = eff(&["http://*:*"], &["http://*:*"]);
        for meta in [
            "169.254.169.254",
            "169.254.170.2",
            "100.100.100.200",
            "fd00:ec2::254",
            "::ffff:169.254.169.254",
            "::169.254.169.254",
            "64:ff9b::169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "2002:a9fe:a9fe::",
            "2002:a9fe:a9fe:ffff::1",
        ] {
            let ip: IpAddr = meta.parse().unwrap();
            for reach in [
                PrivateReach::None,
                PrivateReach::Loopback,
                PrivateReach::Literal(ip),
                PrivateReach::Any,
            ] {
                let r = e.check_address(meta, ip, reach);
                assert!(
                    matches!(
                        r,
                        Err(EgressDenied::Address {
                            class: AddressClass::Metadata,
                            ..
                        })
                    ),
                    "{meta} {reach:?}: {r:?}"
                );
            }
        }
    }
}
