//! A module's typed record types (issue 15 §3): the JSON Schemas its
//! manifest declares, compiled once when the plugin loads, and the check
//! every write must pass — the first rule a body breaks, named by the
//! field's path (`items.0.amount`), as the REST API names fields.

use hamgam_trust::manifest::Manifest;
use std::collections::BTreeMap;

/// One declared type, ready to check bodies.
pub struct RecordSchema {
    /// The schema's version.
    pub version: u32,
    /// Top-level properties kept in the index.
    pub index: Vec<String>,
    validator: jsonschema::Validator,
}

impl std::fmt::Debug for RecordSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordSchema")
            .field("version", &self.version)
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

/// A body that breaks its type's schema: where and which rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Breach {
    /// The field's path (`fund`, `items.0.amount`); `body` for the whole.
    pub field: String,
    /// The rule, in the validator's words.
    pub message: String,
}

/// The declared types of one plugin, by name.
#[derive(Debug, Default)]
pub struct RecordSchemas {
    types: BTreeMap<String, RecordSchema>,
}

impl RecordSchemas {
    /// Compile every schema of `manifest`; the first that does not compile,
    /// with its type and why.
    pub fn compile(manifest: &Manifest) -> Result<RecordSchemas, String> {
        let mut types = BTreeMap::new();
        for (name, declared) in &manifest.records {
            let validator = jsonschema::validator_for(&declared.schema_json())
                .map_err(|e| format!("record type `{name}`: the schema does not compile: {e}"))?;
            types.insert(
                name.clone(),
                RecordSchema {
                    version: declared.version,
                    index: declared.index.clone(),
                    validator,
                },
            );
        }
        Ok(RecordSchemas { types })
    }

    /// The declared type `name`.
    pub fn get(&self, name: &str) -> Option<&RecordSchema> {
        self.types.get(name)
    }

    /// Every declared type, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &RecordSchema)> {
        self.types.iter()
    }

    /// Whether the plugin declares any typed records.
    pub fn is_empty(&self) -> bool {
        self.types.is_empty()
    }
}

impl RecordSchema {
    /// The first rule `body` breaks, if any.
    pub fn check(&self, body: &serde_json::Value) -> Result<(), Breach> {
        let Some(error) = self.validator.iter_errors(body).next() else {
            return Ok(());
        };
        let mut path: Vec<String> = error
            .instance_path()
            .as_str()
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| s.replace("~1", "/").replace("~0", "~"))
            .collect();
        // A missing property is the property's fault, not its parent's.
        if let jsonschema::error::ValidationErrorKind::Required { property } = error.kind()
            && let Some(name) = property.as_str()
        {
            path.push(name.to_owned());
        }
        let field = if path.is_empty() {
            "body".to_owned()
        } else {
            path.join(".")
        };
        Err(Breach {
            field,
            message: error.to_string(),
        })
    }

    /// The indexed fields of `body` as (field, value) text: strings as they
    /// are, numbers and booleans as JSON writes them; absent, null and
    /// structured values are not indexed.
    pub fn index_of(&self, body: &serde_json::Value) -> Vec<(String, String)> {
        self.index
            .iter()
            .filter_map(|field| {
                let value = match body.get(field)? {
                    serde_json::Value::String(s) => s.clone(),
                    v @ (serde_json::Value::Number(_) | serde_json::Value::Bool(_)) => {
                        v.to_string()
                    }
                    _ => return None,
                };
                Some((field.clone(), value))
            })
            .collect()
    }
}
