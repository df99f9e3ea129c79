//! Which plugin ids a partner may publish (P2, P4): the namespace the
//! vendor wrote into a partner's endorsement.
//!
//! A pattern is either one plugin id (`acme-notes`) or an id prefix ending
//! in a dash followed by `*` (`acme-*`, every id that starts with `acme-`).
//! Nothing broader exists: a bare `*` or `a*` would let a partner publish
//! ids the vendor has not thought of, such as its own connectors.

use std::fmt;

/// Why a scope pattern was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    /// An endorsement must name at least one pattern.
    #[error(
        "scope is empty: an endorsement names the plugin ids (or `prefix-*` namespaces) the partner may publish"
    )]
    Empty,
    /// A pattern breaks the syntax rule.
    #[error(
        "scope pattern `{0}` is neither a plugin id (lowercase letters, digits, dashes) nor a namespace `prefix-*`"
    )]
    Pattern(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    /// Exactly this id.
    Exact(String),
    /// Ids starting with this prefix (which ends in `-`).
    Prefix(String),
}

/// The ids a partner key may sign, parsed from the endorsement's patterns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdScope {
    patterns: Vec<Pattern>,
}

fn is_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

impl IdScope {
    /// Parse the patterns; an empty list or a malformed pattern is an error
    /// naming it.
    pub fn parse<S: AsRef<str>>(patterns: &[S]) -> Result<IdScope, ScopeError> {
        if patterns.is_empty() {
            return Err(ScopeError::Empty);
        }
        let mut out = Vec::with_capacity(patterns.len());
        for p in patterns {
            let p = p.as_ref();
            let parsed = match p.strip_suffix('*') {
                Some(prefix) if prefix.len() > 1 && prefix.ends_with('-') && is_id(prefix) => {
                    Pattern::Prefix(prefix.to_string())
                }
                Some(_) => return Err(ScopeError::Pattern(p.to_string())),
                None if is_id(p) => Pattern::Exact(p.to_string()),
                None => return Err(ScopeError::Pattern(p.to_string())),
            };
            out.push(parsed);
        }
        Ok(IdScope { patterns: out })
    }

    /// Whether `id` is inside the scope.
    pub fn allows(&self, id: &str) -> bool {
        self.patterns.iter().any(|p| match p {
            Pattern::Exact(e) => e == id,
            Pattern::Prefix(prefix) => id.len() > prefix.len() && id.starts_with(prefix.as_str()),
        })
    }

    /// The patterns as written, in order.
    pub fn patterns(&self) -> Vec<String> {
        self.patterns.iter().map(|p| p.to_string()).collect()
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pattern::Exact(id) => f.write_str(id),
            Pattern::Prefix(prefix) => write!(f, "{prefix}*"),
        }
    }
}

impl fmt::Display for IdScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.patterns().join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p4_scope_patterns_are_ids_or_dash_namespaces() {
        let s = IdScope::parse(&["acme-*", "shop-notes"]).unwrap();
        assert!(s.allows("acme-notes"));
        assert!(s.allows("shop-notes"));
        assert!(!s.allows("acme-"), "the bare prefix is not an id in it");
        assert!(!s.allows("acmex"));
        assert!(!s.allows("sepidar"));
        assert!(!s.allows("shop-notes-2"));
        assert_eq!(s.to_string(), "acme-*, shop-notes");
        for bad in ["*", "a*", "acme*", "-*", "Acme-*", "acme-*-x", "", "a b"] {
            assert_eq!(
                IdScope::parse(&[bad]),
                Err(ScopeError::Pattern(bad.into())),
                "{bad}"
            );
        }
        assert_eq!(IdScope::parse::<&str>(&[]), Err(ScopeError::Empty));
    }
}
