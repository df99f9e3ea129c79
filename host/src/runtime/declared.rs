//! What a module's `describe` declared — its routes, record types and
//! event subscriptions — checked once and kept for the host's gates
//! (issue 15 §6): a request to a route the module did not declare is
//! refused before it reaches the module, a record of an undeclared type is
//! refused at `put-record`, and the OpenAPI document lists the routes.

use super::records::RecordSchemas;
use std::collections::BTreeSet;
use std::fmt;

/// The methods a module route may take.
const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE"];

/// One segment of a declared route path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    /// Matched exactly.
    Literal(String),
    /// `{name}`: any one non-empty segment.
    Param(String),
}

/// A declared route: a method and a path pattern below the mount point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutePattern {
    /// Upper case: `GET`, `POST`, `PUT`, `PATCH`, `DELETE`.
    pub method: String,
    /// As declared: `/bills/{id}/approve`.
    pub path: String,
    segments: Vec<Segment>,
}

impl RoutePattern {
    /// A route as `describe` gave it, checked.
    ///
    /// # Errors
    /// A method outside [`METHODS`], a path that does not start with `/`,
    /// or a `{…}` segment that is not one whole segment named with
    /// `a-z0-9_`.
    pub fn parse(method: &str, path: &str) -> Result<Self, DescribeError> {
        let method = method.to_ascii_uppercase();
        if !METHODS.contains(&method.as_str()) {
            return Err(DescribeError::Route {
                route: format!("{method} {path}"),
                rule: format!("the method must be one of {}", METHODS.join(", ")),
            });
        }
        let bad = |rule: &str| DescribeError::Route {
            route: format!("{method} {path}"),
            rule: rule.into(),
        };
        let Some(rest) = path.strip_prefix('/') else {
            return Err(bad("the path must start with `/`"));
        };
        let mut segments = Vec::new();
        if !rest.is_empty() {
            for seg in rest.split('/') {
                if seg.is_empty() {
                    return Err(bad(
                        "the path has an empty segment (`//` or a trailing `/`)",
                    ));
                }
                segments.push(
                    match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                        Some(name)
                            if !name.is_empty()
                                && name.bytes().all(|b| {
                                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'
                                }) =>
                        {
                            Segment::Param(name.to_owned())
                        }
                        Some(_) => {
                            return Err(bad("a `{name}` segment is named with a-z, 0-9 and `_`"));
                        }
                        None if seg.contains(['{', '}', '?', '#']) => {
                            return Err(bad(
                                "`{`, `}`, `?` and `#` appear only as a whole `{name}` segment",
                            ));
                        }
                        None => Segment::Literal(seg.to_owned()),
                    },
                );
            }
        }
        Ok(RoutePattern {
            method,
            path: path.to_owned(),
            segments,
        })
    }

    /// Does `path` (no query string) fit the pattern?
    fn fits(&self, path: &str) -> bool {
        let rest = path.strip_prefix('/').unwrap_or(path);
        let parts: Vec<&str> = if rest.is_empty() {
            Vec::new()
        } else {
            rest.split('/').collect()
        };
        parts.len() == self.segments.len()
            && self.segments.iter().zip(&parts).all(|(s, p)| match s {
                Segment::Literal(l) => l == p,
                Segment::Param(_) => !p.is_empty(),
            })
    }

    /// Whether both take the same paths (`/a/{x}` and `/a/{y}` do).
    fn same_shape(&self, other: &RoutePattern) -> bool {
        self.segments.len() == other.segments.len()
            && self
                .segments
                .iter()
                .zip(&other.segments)
                .all(|pair| match pair {
                    (Segment::Literal(a), Segment::Literal(b)) => a == b,
                    (Segment::Param(_), Segment::Param(_)) => true,
                    _ => false,
                })
    }

    /// The `{name}`s of the path, in order.
    pub fn params(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().filter_map(|s| match s {
            Segment::Param(name) => Some(name.as_str()),
            Segment::Literal(_) => None,
        })
    }
}

/// What a request's method and path find among the declared routes.
#[derive(Debug, PartialEq, Eq)]
pub enum RouteMatch<'a> {
    /// A declared route takes it.
    Found(&'a RoutePattern),
    /// The path is declared, but for these other methods (a 405).
    OtherMethods(Vec<&'a str>),
    /// No declared route has this path (a 404).
    Undeclared,
}

/// A module's `describe`, checked.
#[derive(Debug, Clone, Default)]
pub struct Declared {
    /// Its routes.
    pub routes: Vec<RoutePattern>,
    /// The record types it may write: those of its manifest's `[records]`
    /// when it has any (and `describe` may name only those), else those
    /// `describe` names.
    pub record_types: BTreeSet<String>,
    /// Its event subscriptions (patterns with `*`).
    pub subscriptions: Vec<String>,
}

impl Declared {
    /// Check a `describe` answer against the manifest's typed records.
    ///
    /// # Errors
    /// A route that does not parse, the same method and path twice, or a
    /// record type `describe` names that a typed manifest does not declare.
    pub fn new(
        routes: &[(String, String)],
        record_types: &[String],
        subscriptions: Vec<String>,
        typed: &RecordSchemas,
    ) -> Result<Self, DescribeError> {
        let mut parsed: Vec<RoutePattern> = Vec::with_capacity(routes.len());
        for (method, path) in routes {
            let route = RoutePattern::parse(method, path)?;
            if parsed
                .iter()
                .any(|r| r.method == route.method && r.same_shape(&route))
            {
                return Err(DescribeError::Route {
                    route: format!("{} {}", route.method, route.path),
                    rule: "each method and path is declared once".into(),
                });
            }
            parsed.push(route);
        }
        let record_types = if typed.is_empty() {
            record_types.iter().cloned().collect()
        } else {
            if let Some(stray) = record_types.iter().find(|t| typed.get(t).is_none()) {
                return Err(DescribeError::RecordType(stray.clone()));
            }
            typed.iter().map(|(name, _)| name.clone()).collect()
        };
        Ok(Declared {
            routes: parsed,
            record_types,
            subscriptions,
        })
    }

    /// The declared route that takes `method` `path` (the query string is
    /// ignored).
    pub fn route(&self, method: &str, path: &str) -> RouteMatch<'_> {
        let path = path.split_once('?').map_or(path, |(p, _)| p);
        let fitting: Vec<&RoutePattern> = self.routes.iter().filter(|r| r.fits(path)).collect();
        if let Some(found) = fitting
            .iter()
            .find(|r| r.method.eq_ignore_ascii_case(method))
        {
            return RouteMatch::Found(found);
        }
        if fitting.is_empty() {
            RouteMatch::Undeclared
        } else {
            RouteMatch::OtherMethods(fitting.iter().map(|r| r.method.as_str()).collect())
        }
    }
}

/// A `describe` answer the host refuses: the health check fails with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DescribeError {
    /// A route that breaks a rule.
    Route {
        /// `METHOD /path` as declared.
        route: String,
        /// The rule it breaks.
        rule: String,
    },
    /// A record type the manifest's `[records]` does not declare.
    RecordType(String),
}

impl fmt::Display for DescribeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DescribeError::Route { route, rule } => {
                write!(f, "describe: route `{route}`: {rule}")
            }
            DescribeError::RecordType(t) => write!(
                f,
                "describe: record type `{t}` is not declared in the manifest's [records]"
            ),
        }
    }
}

impl std::error::Error for DescribeError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn declared(routes: &[(&str, &str)]) -> Declared {
        let routes: Vec<(String, String)> = routes
            .iter()
            .map(|(m, p)| ((*m).into(), (*p).into()))
            .collect();
        Declared::new(&routes, &[], Vec::new(), &RecordSchemas::default()).unwrap()
    }

    #[test]
    fn p6_declared_routes_take_their_paths_and_nothing_else() {
        let d = declared(&[
            ("GET", "/bills"),
            ("GET", "/bills/{id}"),
            ("post", "/bills/{id}/approve"),
            ("GET", "/"),
        ]);
        assert!(
            matches!(d.route("GET", "/bills?status=open"), RouteMatch::Found(r) if r.path == "/bills")
        );
        assert!(
            matches!(d.route("GET", "/bills/7"), RouteMatch::Found(r) if r.path == "/bills/{id}")
        );
        assert!(matches!(
            d.route("POST", "/bills/7/approve"),
            RouteMatch::Found(_)
        ));
        assert!(matches!(d.route("GET", "/"), RouteMatch::Found(_)));
        assert_eq!(
            d.route("DELETE", "/bills/7"),
            RouteMatch::OtherMethods(vec!["GET"])
        );
        assert_eq!(d.route("GET", "/bills/7/approve/x"), RouteMatch::Undeclared);
        assert_eq!(d.route("GET", "/bills//approve"), RouteMatch::Undeclared);
        assert_eq!(d.route("GET", "/secret"), RouteMatch::Undeclared);
    }

    #[test]
    fn p6_a_route_that_breaks_a_rule_is_named_with_the_rule() {
        for (method, path, rule) in [
            ("TRACE", "/x", "method"),
            ("GET", "x", "start with"),
            ("GET", "/a//b", "empty segment"),
            ("GET", "/a/", "empty segment"),
            ("GET", "/a/{Id}", "named with"),
            ("GET", "/a/x{id}", "whole"),
        ] {
            let err = RoutePattern::parse(method, path).unwrap_err().to_string();
            assert!(
                err.contains(rule) && err.contains(path),
                "{method} {path}: {err}"
            );
        }
        let twice = Declared::new(
            &[
                ("GET".into(), "/a/{x}".into()),
                ("get".into(), "/a/{y}".into()),
            ],
            &[],
            Vec::new(),
            &RecordSchemas::default(),
        )
        .unwrap_err();
        assert!(twice.to_string().contains("declared once"), "{twice}");
    }

    #[test]
    fn p6_the_record_types_a_module_may_store_are_the_ones_it_declares() {
        // No [records] in the manifest: describe's names are the types.
        let untyped =
            Declared::new(&[], &["note".into()], Vec::new(), &RecordSchemas::default()).unwrap();
        assert_eq!(untyped.record_types, BTreeSet::from(["note".to_owned()]));
        // A typed manifest: its types, and describe may name only those.
        let manifest = hamgam_trust::manifest::Manifest::parse(
            "id = \"m\"\nversion = \"0.1.0\"\nkind = \"module\"\ntier = \"installable\"\napi = \"0.1\"\n\
             [capabilities]\ncrm = \"read-write\"\n\
             [records.bill]\nschema = '{\"type\": \"object\"}'\n\
             [records.fund]\nschema = '{\"type\": \"object\"}'\n",
        )
        .expect("manifest");
        let typed = RecordSchemas::compile(&manifest).expect("schemas");
        let d = Declared::new(&[], &["bill".into()], Vec::new(), &typed).unwrap();
        assert_eq!(
            d.record_types,
            BTreeSet::from(["bill".to_owned(), "fund".to_owned()])
        );
        let stray = Declared::new(&[], &["note".into()], Vec::new(), &typed).unwrap_err();
        assert_eq!(stray, DescribeError::RecordType("note".into()));
    }
}
