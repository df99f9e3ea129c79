//! Operator configuration: tenants, the plugin instances each runs, their
//! settings, grants, secrets and limits.
//!
//! The file is TOML and strict: an unknown key is an error that names the
//! key, because a misspelt grant or limit that silently falls back to a
//! default is how sandboxes get opened by accident. Secrets are references
//! (environment variable or file) resolved at use, and never printed.

use hamgam_trust::manifest::{CrmAccess, CrmEntity};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// Why the config was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// TOML syntax, a wrong type or an unknown key; toml names the key and line.
    #[error("invalid config: {0}")]
    Parse(String),
    /// A value broke a rule.
    #[error("invalid config: `{field}`: {message}")]
    Field {
        /// Dotted path to the value.
        field: String,
        /// The rule it broke.
        message: String,
    },
    /// A secret reference could not be resolved.
    #[error("secret `{name}`: {message}")]
    Secret {
        /// The secret's name.
        name: String,
        /// What went wrong (never the value).
        message: String,
    },
}

/// The whole operator config.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Process-wide settings.
    #[serde(default)]
    pub server: ServerConfig,
    /// Default limits for every plugin instance.
    #[serde(default)]
    pub limits: Limits,
    /// Which plugin signers to trust, and the customer's license.
    #[serde(default)]
    pub trust: TrustConfig,
    /// Tenants by id.
    #[serde(default)]
    pub tenants: BTreeMap<String, TenantConfig>,
}

/// Signatures and licensing (P4).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TrustConfig {
    /// Vendor public keys, `ed25519:<hex>`. Bundles and licenses signed by
    /// these are trusted.
    #[serde(default)]
    pub vendor_keys: Vec<String>,
    /// Files each holding one vendor public key (as `cargo xtask keygen`
    /// writes them).
    #[serde(default)]
    pub vendor_key_files: Vec<PathBuf>,
    /// Partner keys the vendor endorsed.
    #[serde(default)]
    pub partners: Vec<PartnerKey>,
    /// Also load bare, unsigned `*.wasm` components from `plugin_dir`.
    /// For plugin development only; never on a customer's host.
    #[serde(default)]
    pub allow_unsigned: bool,
    /// The customer's license file. Without one, orderable modules do not
    /// run; default and installable ones do.
    pub license: Option<PathBuf>,
    /// The customer this host serves, as the vendor names it in licenses;
    /// a license issued for another customer is refused.
    pub customer: Option<String>,
    /// This installation's id, as the vendor wrote it into the license
    /// (`cargo xtask license issue --installation`); a license issued for
    /// another installation is refused, so a copied license does not run.
    pub installation: Option<String>,
}

/// A partner's signing key with the vendor's endorsement of it.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PartnerKey {
    /// The partner's name as the vendor endorsed it.
    pub partner: String,
    /// `ed25519:<hex>`.
    pub key: String,
    /// The plugin ids the partner may publish (`acme-*`, `acme-notes`),
    /// exactly as the vendor endorsed them; the endorsement covers them.
    #[serde(default)]
    pub scope: Vec<String>,
    /// The vendor's signature (base64), from `cargo xtask endorse`.
    pub endorsement: String,
}

/// Process-wide settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address the HTTP API listens on.
    pub listen: String,
    /// `sqlite://path` (the embedded default) or `postgres://…`.
    pub database: String,
    /// Directory of plugin components (`*.wasm`).
    pub plugin_dir: PathBuf,
    /// Most plugin instances live at once (sizes the pooling allocator).
    pub max_instances: u32,
    /// Where compiled plugins are cached between runs; none to compile at
    /// every start.
    pub compile_cache: Option<PathBuf>,
    /// Bearer token of the admin API (`/admin/v1/…`); the admin API is off
    /// without one.
    pub admin_token: Option<SecretRef>,
    /// How often config and plugin_dir are checked for changes, in
    /// seconds; 0 turns hot reload off.
    pub reload_interval_s: u64,
    /// Largest webhook body `/hooks/{tenant}/{instance}` accepts, in KiB;
    /// larger deliveries get a 413 and are not stored.
    pub webhook_body_kib: u32,
    /// Most webhook deliveries read and handled at once; with
    /// `webhook_body_kib` it bounds the memory `/hooks` can hold, which
    /// anyone can reach (the signature is checked only once a body is in).
    /// Up to four times as many more wait for a turn; past that a delivery
    /// gets a 503 with `Retry-After` at once.
    pub webhook_concurrency: u32,
    /// How long one delivery may take to wait for its turn and send its
    /// body, in milliseconds; a slower sender gets a 408 (a 503 if it was
    /// still waiting) and nothing is stored.
    pub webhook_timeout_ms: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            database: "sqlite://hamgam.db".into(),
            plugin_dir: PathBuf::from("target/plugins"),
            max_instances: 200,
            compile_cache: None,
            admin_token: None,
            reload_interval_s: 2,
            webhook_body_kib: 1024,
            webhook_concurrency: 16,
            webhook_timeout_ms: 10_000,
        }
    }
}

/// Resource limits of one plugin instance. Every field may be overridden
/// per instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// CPU deadline of one call into the plugin, in milliseconds of wasm
    /// execution; a plugin past it is interrupted and its instance poisoned.
    pub call_deadline_ms: u64,
    /// Wall-clock ceiling of one call including host I/O, in milliseconds.
    pub call_timeout_ms: u64,
    /// Linear memory an instance may grow to, in MiB.
    pub memory_mib: u64,
    /// Largest HTTP response body a plugin may read, in MiB.
    pub http_response_mib: u64,
    /// Largest HTTP request body a plugin may send, in MiB. The host
    /// buffers a request body whole before sending it (invariant 17), so
    /// this bounds what one request can make the host hold.
    pub http_request_mib: u64,
    /// Largest value in the key-value state, in KiB.
    pub state_value_kib: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            call_deadline_ms: 5_000,
            call_timeout_ms: 30_000,
            memory_mib: 64,
            http_response_mib: 16,
            http_request_mib: 8,
            state_value_kib: 256,
        }
    }
}

/// Per-instance overrides of [`Limits`].
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LimitOverrides {
    /// See [`Limits::call_deadline_ms`].
    pub call_deadline_ms: Option<u64>,
    /// See [`Limits::call_timeout_ms`].
    pub call_timeout_ms: Option<u64>,
    /// See [`Limits::memory_mib`].
    pub memory_mib: Option<u64>,
    /// See [`Limits::http_response_mib`].
    pub http_response_mib: Option<u64>,
    /// See [`Limits::http_request_mib`].
    pub http_request_mib: Option<u64>,
    /// See [`Limits::state_value_kib`].
    pub state_value_kib: Option<u64>,
}

impl Limits {
    /// These limits with an instance's overrides applied.
    pub fn with(self, o: &LimitOverrides) -> Limits {
        Limits {
            call_deadline_ms: o.call_deadline_ms.unwrap_or(self.call_deadline_ms),
            call_timeout_ms: o.call_timeout_ms.unwrap_or(self.call_timeout_ms),
            memory_mib: o.memory_mib.unwrap_or(self.memory_mib),
            http_response_mib: o.http_response_mib.unwrap_or(self.http_response_mib),
            http_request_mib: o.http_request_mib.unwrap_or(self.http_request_mib),
            state_value_kib: o.state_value_kib.unwrap_or(self.state_value_kib),
        }
    }
}

/// One customer.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TenantConfig {
    /// Bearer token for this tenant's API.
    pub api_token: Option<SecretRef>,
    /// Plugin instances by name (one per ledger company, shop, channel…).
    #[serde(default)]
    pub instances: BTreeMap<String, InstanceConfig>,
    /// CRM settings: numbering templates and the tax/toll rate table.
    #[serde(default)]
    pub crm: CrmConfig,
}

/// A tenant's CRM settings (`[tenants.<t>.crm]`).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CrmConfig {
    /// Numbering template per sequence (`quote`, `sales_invoice`, …,
    /// `receipt`, `payment`); sequences left out keep their default.
    #[serde(default)]
    pub numbering: BTreeMap<String, String>,
    /// Tax and toll rates by effective date (H2); the sample Iranian table
    /// (1402: 6 % + 3 %, 1403: 7 % + 3 %) when absent.
    pub rates: Option<Vec<RateConfig>>,
}

/// One entry of a rate table.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RateConfig {
    /// First Jalali day the rates apply, `YYYY/MM/DD`.
    pub effective_from: String,
    /// VAT percent, as a decimal string.
    pub tax_percent: String,
    /// Municipal toll percent, as a decimal string.
    pub toll_percent: String,
}

impl CrmConfig {
    /// The checked settings; errors name the config key (`at` is the
    /// tenant's path, `tenants.<t>`).
    pub fn settings(&self, at: &str) -> Result<crate::crm::settings::CrmSettings, ConfigError> {
        use hamgam_domain::{Decimal, JalaliDate, NumberTemplate, RateEntry, RateTable, TaxRates};
        let field = |field: String, message: String| ConfigError::Field { field, message };
        let mut templates = BTreeMap::new();
        for (sequence, text) in &self.numbering {
            let key = format!("{at}.crm.numbering.{sequence}");
            if !crate::crm::settings::sequences().any(|s| s == sequence) {
                return Err(field(
                    key,
                    format!(
                        "unknown sequence; known: {}",
                        crate::crm::settings::sequences()
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
            let template = NumberTemplate::parse(text).map_err(|e| field(key, e.to_string()))?;
            templates.insert(sequence.clone(), template);
        }
        let rates = match &self.rates {
            None => None,
            Some(entries) => {
                let mut out = Vec::with_capacity(entries.len());
                for (i, e) in entries.iter().enumerate() {
                    let key = format!("{at}.crm.rates.{i}");
                    let date = JalaliDate::parse(&e.effective_from)
                        .map_err(|err| field(format!("{key}.effective_from"), err.to_string()))?;
                    let pct = |name: &str, v: &str| {
                        v.parse::<Decimal>().map_err(|err| {
                            field(format!("{key}.{name}"), format!("not a decimal: {err}"))
                        })
                    };
                    out.push(RateEntry {
                        effective_from: date,
                        rates: TaxRates::new(
                            pct("tax_percent", &e.tax_percent)?,
                            pct("toll_percent", &e.toll_percent)?,
                        ),
                    });
                }
                Some(
                    RateTable::new(out)
                        .map_err(|e| field(format!("{at}.crm.rates"), e.to_string()))?,
                )
            }
        };
        Ok(crate::crm::settings::CrmSettings::new(templates, rates))
    }
}

/// One plugin instance of a tenant.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct InstanceConfig {
    /// Plugin id (from its manifest).
    pub plugin: String,
    /// Version requirement (`0.1`, `=0.1.2`); newest match when absent.
    pub version: Option<String>,
    /// `true` turns an installable or orderable module on; `false` turns
    /// any module off. Absent: default-tier modules run, others do not.
    pub enabled: Option<bool>,
    /// Plain settings the plugin reads with `config.get`.
    #[serde(default)]
    pub settings: BTreeMap<String, String>,
    /// Secrets by name, each a reference.
    #[serde(default)]
    pub secrets: BTreeMap<String, SecretRef>,
    /// What the operator allows; intersected with the manifest.
    #[serde(default)]
    pub grants: Grants,
    /// Overrides of the default limits.
    #[serde(default)]
    pub limits: LimitOverrides,
    /// How the sync engine runs this instance (connectors only).
    #[serde(default)]
    pub sync: SyncSettings,
}

/// How the sync engine runs one connector instance
/// (`[tenants.<t>.instances.<i>.sync]`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SyncSettings {
    /// Run on the schedule (`false`: only on demand, `hamgam sync run`).
    pub enabled: bool,
    /// Seconds between runs; fractions allowed (S19: 1 s for near real time).
    pub interval_s: f64,
    /// Records per pulled page.
    pub page_size: u32,
    /// Pages per kind per run, so one huge initial import does not starve
    /// the other kinds and the outbox; the next run goes on from the cursor.
    pub max_pages_per_run: u32,
    /// Delivery attempts of one CRM change before it is parked as failed.
    pub max_attempts: u32,
    /// First retry delay; doubles per attempt (with jitter).
    pub backoff_base_ms: u64,
    /// Longest retry delay.
    pub backoff_max_s: u64,
}

impl Default for SyncSettings {
    fn default() -> Self {
        SyncSettings {
            enabled: true,
            interval_s: 5.0,
            page_size: 200,
            max_pages_per_run: 50,
            max_attempts: 8,
            backoff_base_ms: 2_000,
            backoff_max_s: 300,
        }
    }
}

impl SyncSettings {
    /// The interval in milliseconds (at least 100 ms).
    pub fn interval_ms(&self) -> u64 {
        if self.interval_s.is_finite() && self.interval_s > 0.1 {
            (self.interval_s * 1000.0) as u64
        } else {
            100
        }
    }
}

/// What the operator grants one instance.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Grants {
    /// Outbound URL patterns.
    #[serde(default)]
    pub http: Vec<String>,
    /// Let granted host names resolve to loopback or private addresses
    /// (an on-premises ledger on the LAN). IP literals and `localhost`
    /// named exactly in `http` are allowed without this.
    #[serde(default)]
    pub allow_private_network: bool,
    /// Directory name (as declared) → real directory.
    #[serde(default)]
    pub files: BTreeMap<String, PathBuf>,
    /// Key-value state.
    #[serde(default)]
    pub state: bool,
    /// Database name (as declared) → connection.
    #[serde(default)]
    pub sql: BTreeMap<String, SqlGrant>,
    /// CRM store access: the module's own records and events.
    #[serde(default)]
    pub crm: CrmAccess,
    /// The CRM's records, per kind (`entities = { party = "read" }`):
    /// each kind must be declared by the plugin.
    #[serde(default)]
    pub entities: BTreeMap<CrmEntity, CrmAccess>,
    /// Device byte port.
    pub port: Option<PortGrant>,
}

/// A database the operator lets an instance query.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SqlGrant {
    /// Which server speaks at the other end.
    pub backend: SqlBackendKind,
    /// Connection string (ADO-style for SQL Server, URL for PostgreSQL),
    /// a secret because it holds credentials.
    pub connection: SecretRef,
    /// Most rows one read may return; the read is refused when the host
    /// reads the row past it.
    #[serde(default = "default_max_rows")]
    pub max_rows: u32,
    /// Most bytes one read may bring into the host (the values' sizes:
    /// text and bytes by length, other values 16 bytes, plus the column
    /// names), in KiB. Rows are streamed and counted as they arrive; the
    /// read is refused at the row that crosses the limit, so the host never
    /// holds more than that plus one row.
    #[serde(default = "default_max_result_kib")]
    pub max_result_kib: u32,
    /// Names of the plugin's declared `write` statements the operator lets
    /// it run here. Reads need no naming: every declared read may run, in a
    /// transaction that is rolled back. A name the plugin does not declare
    /// as a write is refused at config check.
    #[serde(default)]
    pub writes: Vec<String>,
}

fn default_max_rows() -> u32 {
    10_000
}

fn default_max_result_kib() -> u32 {
    8 * 1024
}

impl SqlGrant {
    /// A grant with the default limits and no writes.
    pub fn new(backend: SqlBackendKind, connection: SecretRef) -> SqlGrant {
        SqlGrant {
            backend,
            connection,
            max_rows: default_max_rows(),
            max_result_kib: default_max_result_kib(),
            writes: Vec::new(),
        }
    }
}

/// SQL backends the host speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SqlBackendKind {
    /// Microsoft SQL Server over TDS (Sepidar, Tadbir, Rahkaran…).
    SqlServer,
    /// PostgreSQL.
    Postgres,
}

/// A device port the operator opens for a driver.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PortGrant {
    /// `host:port` of a TCP-attached device (or a serial-over-TCP bridge).
    pub tcp: Option<String>,
    /// Path of a serial device (`/dev/ttyUSB0`) or pseudo-terminal.
    pub serial: Option<PathBuf>,
}

/// A reference to a secret: `{ env = "NAME" }` or `{ file = "/path" }`.
#[derive(Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub enum SecretRef {
    /// Read from an environment variable.
    Env(String),
    /// Read from a file (trailing newline trimmed).
    File(PathBuf),
    /// A value given in code (the SDK test harness). Never accepted from a
    /// config file: secrets there are always references.
    #[serde(skip)]
    Value(String),
}

impl fmt::Debug for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The reference itself is not secret, the value is: show where it
        // comes from so operators can debug, never what it holds.
        match self {
            SecretRef::Env(name) => write!(f, "env:{name}"),
            SecretRef::File(path) => write!(f, "file:{}", path.display()),
            SecretRef::Value(_) => f.write_str("value:[redacted]"),
        }
    }
}

/// A resolved secret value. Its `Debug` and `Display` never show the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The value, for handing to the plugin or a driver.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl SecretRef {
    /// Resolve the reference now. `name` is only used in errors.
    pub fn resolve(&self, name: &str) -> Result<Secret, ConfigError> {
        let secret = self.resolve_any(name)?;
        // An empty token would let an empty `Bearer ` in, and an empty
        // password is never what an operator meant: refuse, naming the key.
        if secret.0.trim().is_empty() {
            return Err(ConfigError::Secret {
                name: name.into(),
                message: format!("{self:?} is empty"),
            });
        }
        Ok(secret)
    }

    fn resolve_any(&self, name: &str) -> Result<Secret, ConfigError> {
        match self {
            SecretRef::Env(var) => {
                std::env::var(var)
                    .map(Secret)
                    .map_err(|_| ConfigError::Secret {
                        name: name.into(),
                        message: format!("environment variable `{var}` is not set"),
                    })
            }
            SecretRef::File(path) => std::fs::read_to_string(path)
                .map(|s| Secret(s.trim_end_matches(['\n', '\r']).to_string()))
                .map_err(|e| ConfigError::Secret {
                    name: name.into(),
                    message: format!("cannot read {}: {e}", path.display()),
                }),
            SecretRef::Value(v) => Ok(Secret(v.clone())),
        }
    }
}

impl Config {
    /// Read and validate a config file. Relative paths inside it are taken
    /// relative to the file's directory.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut config = Config::parse(&text)?;
        // Absolute, so paths stay right whatever the working directory
        // becomes (and wasmtime's cache insists on it).
        let dir = path.parent().unwrap_or(Path::new("."));
        let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
        config.rebase(&dir);
        Ok(config)
    }

    /// Parse and validate config text.
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    fn rebase(&mut self, dir: &Path) {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = dir.join(&*p);
            }
        };
        fix(&mut self.server.plugin_dir);
        if let Some(license) = self.trust.license.as_mut() {
            fix(license);
        }
        self.trust.vendor_key_files.iter_mut().for_each(fix);
        if let Some(dir) = self.server.compile_cache.as_mut() {
            fix(dir);
        }
        if let Some(rest) = self.server.database.strip_prefix("sqlite://") {
            let p = Path::new(rest);
            if p.is_relative() && rest != ":memory:" {
                self.server.database = format!("sqlite://{}", dir.join(p).display());
            }
        }
        for tenant in self.tenants.values_mut() {
            for instance in tenant.instances.values_mut() {
                instance.grants.files.values_mut().for_each(fix);
                for secret in instance.secrets.values_mut() {
                    if let SecretRef::File(p) = secret {
                        fix(p);
                    }
                }
            }
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let field = |field: String, message: String| ConfigError::Field { field, message };
        let l = &self.limits;
        check_limits(l, "limits")?;
        let server = &self.server;
        if server.webhook_body_kib == 0 {
            return Err(field(
                "server.webhook_body_kib".into(),
                "must be at least 1".into(),
            ));
        }
        if !(1..=4096).contains(&server.webhook_concurrency) {
            return Err(field(
                "server.webhook_concurrency".into(),
                "must be 1..=4096".into(),
            ));
        }
        if !(100..=600_000).contains(&server.webhook_timeout_ms) {
            return Err(field(
                "server.webhook_timeout_ms".into(),
                "must be 100..=600000".into(),
            ));
        }
        for (i, key) in self.trust.vendor_keys.iter().enumerate() {
            hamgam_trust::keys::PublicKey::parse(key)
                .map_err(|e| field(format!("trust.vendor_keys[{i}]"), e.to_string()))?;
        }
        for (i, p) in self.trust.partners.iter().enumerate() {
            hamgam_trust::keys::PublicKey::parse(&p.key)
                .map_err(|e| field(format!("trust.partners[{i}].key"), e.to_string()))?;
            // Without a scope a partner key could sign any id, vendor ids
            // included: refuse it here, naming the key.
            hamgam_trust::scope::IdScope::parse(&p.scope).map_err(|e| {
                field(
                    format!("trust.partners[{i}].scope"),
                    format!(
                        "partner {} (key {}): {e}; copy it from `cargo xtask endorse`",
                        p.partner, p.key
                    ),
                )
            })?;
        }
        for (name, value) in [
            ("customer", &self.trust.customer),
            ("installation", &self.trust.installation),
        ] {
            if let Some(v) = value
                && (v.trim().is_empty() || v.trim() != v)
            {
                return Err(field(
                    format!("trust.{name}"),
                    "must be a non-empty id without surrounding spaces, as the license names it"
                        .into(),
                ));
            }
        }
        if let Some(r) = &self.server.admin_token {
            check_reference(r, "server.admin_token")?;
        }
        for (tenant_id, tenant) in &self.tenants {
            if !is_slug(tenant_id) {
                return Err(field(
                    format!("tenants.{tenant_id}"),
                    "tenant ids are 1–64 lowercase letters, digits or dashes".into(),
                ));
            }
            if let Some(r) = &tenant.api_token {
                check_reference(r, &format!("tenants.{tenant_id}.api_token"))?;
            }
            tenant.crm.settings(&format!("tenants.{tenant_id}"))?;
            for (name, inst) in &tenant.instances {
                let at = format!("tenants.{tenant_id}.instances.{name}");
                if !is_slug(name) {
                    return Err(field(
                        at,
                        "instance names are 1–64 lowercase letters, digits or dashes".into(),
                    ));
                }
                for (key, r) in &inst.secrets {
                    check_reference(r, &format!("{at}.secrets.{key}"))?;
                }
                for (db, g) in &inst.grants.sql {
                    check_reference(&g.connection, &format!("{at}.grants.sql.{db}.connection"))?;
                }
                if let Some(req) = &inst.version {
                    semver::VersionReq::parse(req).map_err(|e| {
                        field(
                            format!("{at}.version"),
                            format!("not a version requirement: {e}"),
                        )
                    })?;
                }
                for pattern in &inst.grants.http {
                    hamgam_trust::url_pattern::UrlPattern::parse(pattern)
                        .map_err(|m| field(format!("{at}.grants.http"), m))?;
                }
                for (db, grant) in &inst.grants.sql {
                    if grant.max_rows == 0 {
                        return Err(field(
                            format!("{at}.grants.sql.{db}.max_rows"),
                            "must be at least 1".into(),
                        ));
                    }
                    if grant.max_result_kib == 0 {
                        return Err(field(
                            format!("{at}.grants.sql.{db}.max_result_kib"),
                            "must be at least 1".into(),
                        ));
                    }
                }
                if let Some(port) = &inst.grants.port
                    && port.tcp.is_some() == port.serial.is_some()
                {
                    return Err(field(
                        format!("{at}.grants.port"),
                        "set exactly one of `tcp` or `serial`".into(),
                    ));
                }
                check_limits(&self.limits.with(&inst.limits), &format!("{at}.limits"))?;
            }
        }
        Ok(())
    }

    /// Every (tenant, instance) pair, in a stable order.
    pub fn instances(&self) -> impl Iterator<Item = (&str, &str, &InstanceConfig)> {
        self.tenants.iter().flat_map(|(t, tc)| {
            tc.instances
                .iter()
                .map(move |(n, ic)| (t.as_str(), n.as_str(), ic))
        })
    }
}

/// A secret reference must name something: `{ env = "" }` or
/// `{ file = "" }` can only resolve to nothing.
fn check_reference(r: &SecretRef, at: &str) -> Result<(), ConfigError> {
    let empty = match r {
        SecretRef::Env(var) => var.trim().is_empty(),
        SecretRef::File(path) => path.as_os_str().is_empty(),
        SecretRef::Value(v) => v.trim().is_empty(),
    };
    if empty {
        return Err(ConfigError::Field {
            field: at.to_owned(),
            message: "a secret reference must name an environment variable or a file".into(),
        });
    }
    Ok(())
}

fn check_limits(l: &Limits, at: &str) -> Result<(), ConfigError> {
    let bad = |name: &str, message: &str| ConfigError::Field {
        field: format!("{at}.{name}"),
        message: message.into(),
    };
    if l.call_deadline_ms == 0 || l.call_deadline_ms > 3_600_000 {
        return Err(bad("call_deadline_ms", "must be 1..=3600000"));
    }
    if l.call_timeout_ms < l.call_deadline_ms {
        return Err(bad("call_timeout_ms", "must be at least call_deadline_ms"));
    }
    if l.memory_mib == 0 || l.memory_mib > 4096 {
        return Err(bad("memory_mib", "must be 1..=4096"));
    }
    if l.http_response_mib == 0 || l.state_value_kib == 0 {
        return Err(bad("http_response_mib", "size limits must be positive"));
    }
    if l.http_request_mib == 0 || l.http_request_mib > 1024 {
        return Err(bad("http_request_mib", "must be 1..=1024"));
    }
    Ok(())
}

fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
[server]
listen = "127.0.0.1:0"
[limits]
memory_mib = 32
[tenants.acme]
api_token = { env = "ACME_TOKEN" }
[tenants.acme.instances.shop]
plugin = "hello-connector"
settings = { base_url = "http://127.0.0.1:9000" }
secrets = { api_key = { file = "key.txt" } }
grants = { http = ["http://127.0.0.1:9000"], state = true }
limits = { call_deadline_ms = 100 }
"#;

    #[test]
    fn parses_and_applies_overrides() {
        let c = Config::parse(SAMPLE).unwrap();
        let inst = &c.tenants["acme"].instances["shop"];
        let l = c.limits.with(&inst.limits);
        assert_eq!((l.memory_mib, l.call_deadline_ms), (32, 100));
        assert_eq!(inst.enabled, None);
    }

    #[test]
    fn unknown_keys_are_named() {
        let bad = SAMPLE.replace("[limits]", "[limits]\nmemroy_mib = 3");
        let err = Config::parse(&bad).unwrap_err().to_string();
        assert!(err.contains("memroy_mib"), "{err}");
        let bad = SAMPLE.replace("state = true", "state = true, netwrok = true");
        let err = Config::parse(&bad).unwrap_err().to_string();
        assert!(err.contains("netwrok"), "{err}");
    }

    #[test]
    fn bad_values_name_the_field() {
        let bad = SAMPLE.replace("call_deadline_ms = 100", "call_deadline_ms = 0");
        let err = Config::parse(&bad).unwrap_err().to_string();
        assert!(
            err.contains("tenants.acme.instances.shop.limits.call_deadline_ms"),
            "{err}"
        );
        let bad = SAMPLE.replace("http://127.0.0.1:9000\"]", "gopher:x\"]");
        let err = Config::parse(&bad).unwrap_err().to_string();
        assert!(err.contains("grants.http"), "{err}");
    }

    #[test]
    fn p2_http_request_mib_is_a_per_instance_limit_with_a_default() {
        let c = Config::parse(SAMPLE).unwrap();
        let inst = &c.tenants["acme"].instances["shop"];
        assert_eq!(c.limits.with(&inst.limits).http_request_mib, 8);
        let one = SAMPLE.replace(
            "call_deadline_ms = 100",
            "call_deadline_ms = 100, http_request_mib = 1",
        );
        let c = Config::parse(&one).unwrap();
        let inst = &c.tenants["acme"].instances["shop"];
        assert_eq!(c.limits.with(&inst.limits).http_request_mib, 1);
        let zero = SAMPLE.replace(
            "call_deadline_ms = 100",
            "call_deadline_ms = 100, http_request_mib = 0",
        );
        let err = Config::parse(&zero).unwrap_err().to_string();
        assert!(
            err.contains("tenants.acme.instances.shop.limits.http_request_mib"),
            "{err}"
        );
    }

    #[test]
    fn secrets_never_print() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("s");
        std::fs::write(&f, "hunter2\n").unwrap();
        let s = SecretRef::File(f).resolve("x").unwrap();
        assert_eq!(s.expose(), "hunter2");
        assert!(!format!("{s:?} {s}").contains("hunter2"));
        let err = SecretRef::Env("HAMGAM_SURELY_UNSET_VAR".into())
            .resolve("pw")
            .unwrap_err();
        assert!(err.to_string().contains("HAMGAM_SURELY_UNSET_VAR"));
    }

    #[test]
    fn s9_an_empty_token_or_secret_in_config_is_refused_at_load_with_the_key_named() {
        // An empty reference is refused when the file is parsed.
        for (from, to, key) in [
            (
                r#"api_token = { env = "ACME_TOKEN" }"#,
                r#"api_token = { env = "" }"#,
                "tenants.acme.api_token",
            ),
            (
                r#"api_key = { file = "key.txt" }"#,
                r#"api_key = { file = "" }"#,
                "tenants.acme.instances.shop.secrets.api_key",
            ),
            (
                "[server]\n",
                "[server]\nadmin_token = { env = \"\" }\n",
                "server.admin_token",
            ),
        ] {
            let bad = SAMPLE.replacen(from, to, 1);
            assert_ne!(bad, SAMPLE);
            let err = Config::parse(&bad).unwrap_err().to_string();
            assert!(err.contains(key), "{key}: {err}");
        }
        // A reference whose value is empty (or only a newline) is refused
        // when it is resolved, naming the key and where it points.
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("token");
        for empty in ["", "\n", "  \r\n"] {
            std::fs::write(&f, empty).unwrap();
            let err = SecretRef::File(f.clone())
                .resolve("tenants.acme.api_token")
                .unwrap_err()
                .to_string();
            assert!(err.contains("tenants.acme.api_token"), "{err}");
            assert!(err.contains("empty"), "{err}");
        }
    }

    #[test]
    fn demo_config_parses_with_its_crm_section() {
        let c = Config::parse(include_str!("../config/demo.toml")).unwrap();
        let s = c.tenants["demo"].crm.settings("tenants.demo").unwrap();
        assert_eq!(
            s.template(crate::crm::DocumentKind::Quote.as_str())
                .unwrap()
                .source(),
            "QT-{SHYY}-{counter:5}-{company}"
        );
        // Sequences the operator left out keep their defaults.
        assert!(
            s.template(crate::crm::PaymentKind::Receipt.as_str())
                .is_some()
        );
        assert_eq!(s.rates.entries().len(), 2);
    }

    #[test]
    fn crm_settings_errors_name_the_key() {
        for (toml, key) in [
            (
                "[tenants.t.crm.numbering]\nquote = \"{SHYY}-x\"",
                "tenants.t.crm.numbering.quote",
            ),
            (
                "[tenants.t.crm.numbering]\ninvoice = \"{counter}\"",
                "tenants.t.crm.numbering.invoice",
            ),
            (
                "[[tenants.t.crm.rates]]\neffective_from = \"1403/13/01\"\ntax_percent = \"7\"\ntoll_percent = \"3\"",
                "tenants.t.crm.rates.0.effective_from",
            ),
            ("[tenants.t.crm]\nprefix = \"x\"", "prefix"),
        ] {
            let err = Config::parse(toml).unwrap_err().to_string();
            assert!(err.contains(key), "{toml}: {err}");
        }
    }

    #[test]
    fn p4_a_partner_entry_without_a_scope_is_refused_naming_the_key() {
        let entry = "[[trust.partners]]\npartner = \"Acme Soft\"\nkey = \"ed25519:d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a\"\nendorsement = \"AAAA\"\n";
        let err = Config::parse(entry).unwrap_err().to_string();
        assert!(
            err.contains("trust.partners[0].scope")
                && err.contains("ed25519:d75a98")
                && err.contains("scope is empty"),
            "{err}"
        );
        let err = Config::parse(&format!("{entry}scope = [\"*\"]\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("scope pattern `*`"), "{err}");
        assert!(Config::parse(&format!("{entry}scope = [\"acme-*\"]\n")).is_ok());
    }
}
