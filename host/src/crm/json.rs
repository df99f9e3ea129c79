//! A JSON body read as the API reads it: a wrong type, a missing or
//! unknown field names the field as a dotted path (`lines.0.quantity`), a
//! NUL character anywhere is refused naming where it is. The REST edge
//! (`api::extract`) and the module bridge (`hamgam:crm/entities`) both
//! read bodies here, so a module gets the error a REST client would.

use serde::de::DeserializeOwned;

/// Why a body was not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsonRefusal {
    /// Not JSON at all (a 400 over HTTP).
    #[error("{message}")]
    Malformed {
        /// Where the syntax broke, if a field.
        field: Option<String>,
        /// What broke.
        message: String,
    },
    /// JSON, but a value of the wrong shape (a 422 over HTTP).
    #[error("{message}")]
    Invalid {
        /// The field, as a dotted path.
        field: Option<String>,
        /// The rule it breaks.
        message: String,
    },
}

/// `a[0].b` (serde_path_to_error) → `a.0.b` (the domain's field paths).
fn dotted(path: &str) -> String {
    path.replace('[', ".").replace(']', "")
}

/// The field a serde message names: ``missing field `x` `` / ``unknown field `x` ``.
fn named_field(message: &str) -> Option<&str> {
    let rest = message
        .strip_prefix("missing field `")
        .or_else(|| message.strip_prefix("unknown field `"))?;
    rest.split('`').next()
}

/// The dotted path of the first string (value or key) in `v` holding a
/// NUL character.
fn nul_at(v: &serde_json::Value, at: &str) -> Option<String> {
    use serde_json::Value;
    let join = |key: &str| {
        if at.is_empty() {
            key.to_owned()
        } else {
            format!("{at}.{key}")
        }
    };
    match v {
        Value::String(s) if s.contains('\0') => Some(at.to_owned()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| nul_at(item, &join(&i.to_string()))),
        Value::Object(map) => map.iter().find_map(|(k, item)| {
            if k.contains('\0') {
                Some(join(&k.replace('\0', "\\u0000")))
            } else {
                nul_at(item, &join(k))
            }
        }),
        _ => None,
    }
}

/// A NUL character in any text: PostgreSQL cannot store one in `text`
/// (a 500 there, silently kept on SQLite), and no name, number or note
/// needs one, so both backends refuse it at the edge, naming the field.
/// JSON can only carry NUL as the escape `\u0000`, so bodies without that
/// escape skip the walk.
fn refuse_nul(bytes: &[u8]) -> Result<(), JsonRefusal> {
    if !bytes.windows(6).any(|w| w == b"\\u0000") {
        return Ok(());
    }
    // Broken syntax is reported by the typed parse that follows.
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return Ok(());
    };
    match nul_at(&value, "") {
        None => Ok(()),
        Some(field) => Err(JsonRefusal::Invalid {
            message: format!(
                "{} must not contain the NUL character (\\u0000)",
                if field.is_empty() { "the body" } else { &field }
            ),
            field: Some(field).filter(|f| !f.is_empty()),
        }),
    }
}

/// Deserialises `bytes` as `T`, mapping failures to field-named errors.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, JsonRefusal> {
    refuse_nul(bytes)?;
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = dotted(&e.path().to_string());
        let inner = e.into_inner();
        let message = inner.to_string();
        let base = if path == "." { String::new() } else { path };
        // serde_path_to_error's path already ends at an unknown field, but
        // stops at the parent of a missing one.
        let field = match named_field(&message) {
            Some(name) if base.is_empty() => Some(name.to_owned()),
            Some(_) if message.starts_with("unknown field") => Some(base),
            Some(name) => Some(format!("{base}.{name}")),
            None if base.is_empty() => None,
            None => Some(base),
        };
        match inner.classify() {
            serde_json::error::Category::Data => JsonRefusal::Invalid { field, message },
            _ => JsonRefusal::Malformed {
                field,
                message: format!("malformed JSON: {message}"),
            },
        }
    })
}
