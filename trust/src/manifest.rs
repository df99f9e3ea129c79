//! The plugin manifest: who a plugin is and what it asks for.
//!
//! The manifest travels inside the component as a top-level custom section
//! named [`MANIFEST_SECTION`] (written by `cargo xtask build-plugins` from
//! the crate's `plugin.toml`), so one file carries both and a signature over
//! the file covers both. Unknown manifest keys are tolerated for forward
//! compatibility (cargo's rule); the operator config is the strict one.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Name of the custom section that holds the manifest TOML.
pub const MANIFEST_SECTION: &str = "hamgam:manifest";

/// WIT API versions (major.minor) this host can load.
pub const SUPPORTED_API: &[&str] = &["0.1"];

/// Why a manifest was refused.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The component has no `hamgam:manifest` section.
    #[error(
        "component has no `{MANIFEST_SECTION}` custom section (build it with `cargo xtask build-plugins`)"
    )]
    Missing,
    /// The wasm binary could not be parsed far enough to find sections.
    #[error("not a wasm component: {0}")]
    NotWasm(String),
    /// The TOML did not parse or a field had the wrong type.
    #[error("invalid plugin manifest: {0}")]
    Toml(String),
    /// A field broke a rule.
    #[error("invalid plugin manifest: field `{field}`: {message}")]
    Field {
        /// The offending field.
        field: &'static str,
        /// The rule it broke.
        message: String,
    },
}

/// The world a plugin implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PluginKind {
    /// A ledger connector (`hamgam:plugins/connector`).
    Connector,
    /// A business module (`hamgam:plugins/module`).
    Module,
    /// A notification channel (`hamgam:plugins/notifier`).
    Notifier,
    /// A hardware driver (`hamgam:plugins/device-driver`).
    DeviceDriver,
}

impl PluginKind {
    /// The WIT world name for this kind.
    pub fn world(self) -> &'static str {
        match self {
            PluginKind::Connector => "connector",
            PluginKind::Module => "module",
            PluginKind::Notifier => "notifier",
            PluginKind::DeviceDriver => "device-driver",
        }
    }
}

impl fmt::Display for PluginKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.world())
    }
}

/// Commercial tier from the vendor's price list (P3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Tier {
    /// Shipped and on unless the operator disables it.
    Default,
    /// Shipped; runs when the operator enables it.
    Installable,
    /// Needs an entitlement in the customer's license as well.
    Orderable,
}

/// How much of the CRM store a module may touch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CrmAccess {
    /// No access.
    #[default]
    None,
    /// Read entities and module records.
    Read,
    /// Read and write.
    ReadWrite,
}

/// A kind of CRM record a module may read or write through
/// `hamgam:crm/entities` (one per REST collection).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CrmEntity {
    /// Persons and organisations.
    Party,
    /// Goods and services.
    Product,
    /// Quotes.
    Quote,
    /// Sales orders.
    SalesOrder,
    /// Sales invoices.
    SalesInvoice,
    /// Sales returns.
    SalesReturn,
    /// Purchase invoices.
    PurchaseInvoice,
    /// Purchase returns.
    PurchaseReturn,
    /// Correction notes.
    CorrectionNote,
    /// Money received.
    Receipt,
    /// Money paid out.
    Payment,
}

impl CrmEntity {
    /// Every kind, in declaration order.
    pub const ALL: [CrmEntity; 11] = [
        CrmEntity::Party,
        CrmEntity::Product,
        CrmEntity::Quote,
        CrmEntity::SalesOrder,
        CrmEntity::SalesInvoice,
        CrmEntity::SalesReturn,
        CrmEntity::PurchaseInvoice,
        CrmEntity::PurchaseReturn,
        CrmEntity::CorrectionNote,
        CrmEntity::Receipt,
        CrmEntity::Payment,
    ];

    /// The name manifests and grants use (`sales-invoice`).
    pub fn as_str(self) -> &'static str {
        match self {
            CrmEntity::Party => "party",
            CrmEntity::Product => "product",
            CrmEntity::Quote => "quote",
            CrmEntity::SalesOrder => "sales-order",
            CrmEntity::SalesInvoice => "sales-invoice",
            CrmEntity::SalesReturn => "sales-return",
            CrmEntity::PurchaseInvoice => "purchase-invoice",
            CrmEntity::PurchaseReturn => "purchase-return",
            CrmEntity::CorrectionNote => "correction-note",
            CrmEntity::Receipt => "receipt",
            CrmEntity::Payment => "payment",
        }
    }
}

impl std::fmt::Display for CrmEntity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a plugin declares it needs. The effective set is this ∩ the
/// operator's grant; anything not declared is never granted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Capabilities {
    /// Outbound URL patterns, `scheme://host:port` with `*` wildcards.
    pub http: Vec<String>,
    /// Names of directories; the operator maps each to a real directory.
    pub files: Vec<String>,
    /// Whether it uses the key-value state.
    pub state: bool,
    /// Databases and the declared statements for host-mediated SQL.
    pub sql: crate::sql_statements::SqlCapability,
    /// Secret names it reads.
    pub secrets: Vec<String>,
    /// CRM store access (module world): the module's own records and
    /// events.
    pub crm: CrmAccess,
    /// The CRM's records a module reads or writes, per kind
    /// (`[capabilities.entities] party = "read-write"`); a kind not named
    /// is not reachable (module world).
    pub entities: std::collections::BTreeMap<CrmEntity, CrmAccess>,
    /// A device byte port (device-driver world).
    pub port: bool,
}

/// A parsed, validated plugin manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Stable id, lowercase letters, digits and dashes.
    pub id: String,
    /// Semantic version of the plugin.
    pub version: semver::Version,
    /// The world it implements.
    pub kind: PluginKind,
    /// Commercial tier.
    pub tier: Tier,
    /// WIT API version (major.minor) it was built against.
    pub api: String,
    /// One line for operators.
    #[serde(default)]
    pub description: String,
    /// Declared capabilities.
    #[serde(default)]
    pub capabilities: Capabilities,
    /// A module's own record types (`[records.bill]`), each with its JSON
    /// Schema, the fields to index and the schema's version.
    #[serde(default)]
    pub records: std::collections::BTreeMap<String, RecordType>,
}

/// One record type a module stores through the host (issue 15 §3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordType {
    /// The schema's version, from 1; a plugin version that changes the
    /// schema raises it, and the host migrates stored records to it.
    #[serde(default = "first_version")]
    pub version: u32,
    /// JSON Schema (draft 2020-12) every body of the type must meet, as
    /// JSON text. The host checks each write against it.
    pub schema: String,
    /// Top-level properties the host indexes: a module's query may filter
    /// on these (exact match) and on nothing else.
    #[serde(default)]
    pub index: Vec<String>,
}

fn first_version() -> u32 {
    1
}

impl RecordType {
    /// The schema as JSON (checked to parse when the manifest is read).
    pub fn schema_json(&self) -> serde_json::Value {
        serde_json::from_str(&self.schema).unwrap_or(serde_json::Value::Null)
    }
}

impl Manifest {
    /// Parse and validate manifest TOML.
    pub fn parse(text: &str) -> Result<Self, ManifestError> {
        let manifest: Manifest =
            toml::from_str(text).map_err(|e| ManifestError::Toml(e.message().to_string()))?;
        manifest.validate()?;
        Ok(manifest)
    }

    /// Read the manifest out of a component's custom section.
    pub fn from_component(wasm: &[u8]) -> Result<Self, ManifestError> {
        let text = find_custom_section(wasm, MANIFEST_SECTION)?.ok_or(ManifestError::Missing)?;
        let text = std::str::from_utf8(text)
            .map_err(|_| ManifestError::Toml("manifest section is not UTF-8".into()))?;
        Self::parse(text)
    }

    fn validate(&self) -> Result<(), ManifestError> {
        let id_ok = !self.id.is_empty()
            && self.id.len() <= 64
            && self
                .id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !self.id.starts_with('-');
        if !id_ok {
            return Err(ManifestError::Field {
                field: "id",
                message: format!(
                    "`{}` must be 1–64 lowercase letters, digits or dashes, not starting with a dash",
                    self.id
                ),
            });
        }
        if !SUPPORTED_API.contains(&self.api.as_str()) {
            return Err(ManifestError::Field {
                field: "api",
                message: format!(
                    "API version `{}` is not supported by this host (supported: {})",
                    self.api,
                    SUPPORTED_API.join(", ")
                ),
            });
        }
        for pattern in &self.capabilities.http {
            crate::url_pattern::UrlPattern::parse(pattern).map_err(|message| {
                ManifestError::Field {
                    field: "capabilities.http",
                    message,
                }
            })?;
        }
        self.capabilities
            .sql
            .check()
            .map_err(|(field, message)| ManifestError::Field { field, message })?;
        if self.capabilities.port && self.kind != PluginKind::DeviceDriver {
            return Err(ManifestError::Field {
                field: "capabilities.port",
                message: "only device-driver plugins can ask for a port".into(),
            });
        }
        if self
            .capabilities
            .entities
            .values()
            .any(|a| *a != CrmAccess::None)
            && self.kind != PluginKind::Module
        {
            return Err(ManifestError::Field {
                field: "capabilities.entities",
                message: "only module plugins can ask for CRM records".into(),
            });
        }
        self.check_records()?;
        if self.capabilities.crm != CrmAccess::None && self.kind != PluginKind::Module {
            return Err(ManifestError::Field {
                field: "capabilities.crm",
                message: "only module plugins can ask for CRM store access".into(),
            });
        }
        Ok(())
    }
}

impl Manifest {
    fn check_records(&self) -> Result<(), ManifestError> {
        let field = |message: String| ManifestError::Field {
            field: "records",
            message,
        };
        if !self.records.is_empty() && self.kind != PluginKind::Module {
            return Err(field("only module plugins declare record types".into()));
        }
        for (name, record) in &self.records {
            let name_ok = !name.is_empty()
                && name.len() <= 64
                && name.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_'
                });
            if !name_ok {
                return Err(field(format!(
                    "record type `{name}` must be 1–64 lowercase letters, digits, `-` or `_`"
                )));
            }
            if record.version == 0 {
                return Err(field(format!("`{name}`: version starts at 1")));
            }
            let schema: serde_json::Value = serde_json::from_str(&record.schema)
                .map_err(|e| field(format!("`{name}`: schema is not JSON: {e}")))?;
            let Some(schema) = schema.as_object() else {
                return Err(field(format!("`{name}`: schema must be a JSON object")));
            };
            let properties = schema.get("properties").and_then(|p| p.as_object());
            for indexed in &record.index {
                if !properties.is_some_and(|p| p.contains_key(indexed)) {
                    return Err(field(format!(
                        "`{name}`: indexed field `{indexed}` is not one of the schema's top-level properties"
                    )));
                }
            }
        }
        Ok(())
    }
}

/// One top-level section: its id, its whole extent (header included) and
/// its body.
struct Section<'a> {
    id: u8,
    whole: &'a [u8],
    body: &'a [u8],
}

impl<'a> Section<'a> {
    /// The name, for a custom section (id 0) whose name is well formed.
    fn custom_name(&self) -> Option<&'a [u8]> {
        if self.id != 0 {
            return None;
        }
        let (len, used) = read_leb_u32(self.body)?;
        self.body.get(used..used.checked_add(len as usize)?)
    }

    fn custom_payload(&self) -> Option<&'a [u8]> {
        let (len, used) = read_leb_u32(self.body)?;
        self.body.get(used + len as usize..)
    }
}

/// Walk a binary's top-level sections without parsing their contents
/// (nested modules are skipped whole). Truncated or oversized sections are
/// an error, never a panic.
fn sections(wasm: &[u8]) -> Result<Vec<Section<'_>>, ManifestError> {
    const HEADER: usize = 8;
    if wasm.len() < HEADER || &wasm[0..4] != b"\0asm" {
        return Err(ManifestError::NotWasm("missing `\\0asm` magic".into()));
    }
    let mut out = Vec::new();
    let mut pos = HEADER;
    while pos < wasm.len() {
        let start = pos;
        let id = wasm[pos];
        pos += 1;
        let (size, used) = read_leb_u32(&wasm[pos..])
            .ok_or_else(|| ManifestError::NotWasm(format!("bad section size at byte {pos}")))?;
        pos += used;
        let end = pos
            .checked_add(size as usize)
            .filter(|end| *end <= wasm.len())
            .ok_or_else(|| {
                ManifestError::NotWasm(format!("section at byte {pos} runs past the end"))
            })?;
        out.push(Section {
            id,
            whole: &wasm[start..end],
            body: &wasm[pos..end],
        });
        pos = end;
    }
    Ok(out)
}

/// Find a top-level custom section by name.
pub fn find_custom_section<'a>(
    wasm: &'a [u8],
    name: &str,
) -> Result<Option<&'a [u8]>, ManifestError> {
    for section in sections(wasm)? {
        if section.id == 0 && section.custom_name().is_none() {
            return Err(ManifestError::NotWasm(
                "malformed custom section name".into(),
            ));
        }
        if section.custom_name() == Some(name.as_bytes()) {
            return Ok(section.custom_payload());
        }
    }
    Ok(None)
}

/// A copy of `wasm` whose manifest section is replaced by `text` (any
/// existing `hamgam:manifest` section is dropped). Used to restamp a built
/// component, e.g. as a new version of the same code.
pub fn replace_manifest(wasm: &[u8], text: &str) -> Result<Vec<u8>, ManifestError> {
    Manifest::parse(text)?;
    let mut out = wasm.get(..8).unwrap_or_default().to_vec();
    for section in sections(wasm)? {
        if section.custom_name() != Some(MANIFEST_SECTION.as_bytes()) {
            out.extend_from_slice(section.whole);
        }
    }
    append_custom_section(&mut out, MANIFEST_SECTION, text.as_bytes());
    Ok(out)
}

fn read_leb_u32(bytes: &[u8]) -> Option<(u32, usize)> {
    let mut result: u64 = 0;
    for (i, byte) in bytes.iter().enumerate().take(5) {
        result |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return u32::try_from(result).ok().map(|v| (v, i + 1));
        }
    }
    None
}

/// Append a top-level custom section to a wasm binary (used by tooling and
/// tests; `cargo xtask build-plugins` does the same).
pub fn append_custom_section(wasm: &mut Vec<u8>, name: &str, payload: &[u8]) {
    let mut body = Vec::new();
    write_leb_u32(&mut body, name.len() as u32);
    body.extend_from_slice(name.as_bytes());
    body.extend_from_slice(payload);
    wasm.push(0);
    write_leb_u32(wasm, body.len() as u32);
    wasm.extend_from_slice(&body);
}

fn write_leb_u32(out: &mut Vec<u8>, mut value: u32) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
id = "petty-cash"
version = "0.1.0"
kind = "module"
tier = "installable"
api = "0.1"
[capabilities]
state = true
crm = "read-write"
http = ["https://*.example.com:443"]
"#;

    #[test]
    fn parses_a_good_manifest() {
        let m = Manifest::parse(GOOD).unwrap();
        assert_eq!(m.id, "petty-cash");
        assert_eq!(m.kind, PluginKind::Module);
        assert_eq!(m.capabilities.crm, CrmAccess::ReadWrite);
    }

    #[test]
    fn names_the_bad_field() {
        let bad = GOOD.replace("petty-cash", "Petty Cash");
        let err = Manifest::parse(&bad).unwrap_err().to_string();
        assert!(err.contains("`id`"), "{err}");
        let bad = GOOD.replace("api = \"0.1\"", "api = \"9.0\"");
        let err = Manifest::parse(&bad).unwrap_err().to_string();
        assert!(
            err.contains("`api`") && err.contains("not supported"),
            "{err}"
        );
        let bad = GOOD.replace("kind = \"module\"", "kind = \"robot\"");
        assert!(
            Manifest::parse(&bad)
                .unwrap_err()
                .to_string()
                .contains("robot")
        );
        let bad = GOOD.replace("https://*.example.com:443", "ftp:/nope");
        let err = Manifest::parse(&bad).unwrap_err().to_string();
        assert!(err.contains("capabilities.http"), "{err}");
    }

    #[test]
    fn custom_section_round_trip() {
        let mut wasm = b"\0asm\x0d\0\x01\0".to_vec();
        append_custom_section(&mut wasm, "other", b"x");
        append_custom_section(&mut wasm, MANIFEST_SECTION, GOOD.as_bytes());
        assert_eq!(Manifest::from_component(&wasm).unwrap().id, "petty-cash");
        let mut empty = b"\0asm\x0d\0\x01\0".to_vec();
        append_custom_section(&mut empty, "other", b"x");
        assert!(matches!(
            Manifest::from_component(&empty),
            Err(ManifestError::Missing)
        ));
        assert!(matches!(
            Manifest::from_component(b"nope"),
            Err(ManifestError::NotWasm(_))
        ));
        let restamped = replace_manifest(&wasm, &GOOD.replace("0.1.0", "0.2.0")).unwrap();
        assert_eq!(
            Manifest::from_component(&restamped)
                .unwrap()
                .version
                .to_string(),
            "0.2.0"
        );
        assert_eq!(
            find_custom_section(&restamped, "other").unwrap(),
            Some(&b"x"[..])
        );
        // A truncated section is an error, not a panic.
        let truncated = &wasm[..wasm.len() - 3];
        assert!(Manifest::from_component(truncated).is_err());
    }
}
