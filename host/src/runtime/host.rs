//! The per-store data (`HostState`) and the host side of every import:
//! platform (log, config, state, clock, sql), the CRM store, the device
//! port, WASI and the filtered `wasi:http`.
//!
//! Every import checks the instance's effective capabilities first and
//! reports to the call recorder, allowed or not.

use super::backends::{CallEvent, ModuleRecord, RecordMeta};
use super::bindings::device_driver::hamgam::hardware::port;
use super::bindings::module::hamgam::crm0_1_0::store as crm;
use super::bindings::platform::{clock, config, log, sql, state};
use super::bindings::types;
use super::grants::EgressDenied;
use super::instance::InstanceContext;
use super::port::PortConn;
use hamgam_trust::manifest::CrmAccess;
use std::sync::Arc;
use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, Result};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::bindings::http::types::ErrorCode;
use wasmtime_wasi_http::types::{HostFutureIncomingResponse, OutgoingRequestConfig};
use wasmtime_wasi_http::{HttpResult, WasiHttpCtx, WasiHttpView};

/// What a store carries: the instance's context, WASI state and the
/// meters the runtime reads after a call.
pub struct HostState {
    pub(crate) ctx: Arc<InstanceContext>,
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    /// Epoch ticks of wasm execution left in the current call.
    pub(crate) ticks_left: u64,
    /// Set when the memory limiter refused growth, so a following trap is
    /// reported as a memory-limit hit rather than a generic crash.
    pub(crate) memory_refused: Option<usize>,
    port: Option<PortConn>,
}

impl HostState {
    pub(crate) fn new(ctx: Arc<InstanceContext>) -> anyhow::Result<Self> {
        let mut wasi = WasiCtx::builder();
        // Plugin panics print to stderr: log them as lines tagged with the
        // tenant, instance and plugin that wrote them.
        wasi.stderr(super::stderr::PluginStderr::new(ctx.clone()));
        for (name, dir) in &ctx.effective.files {
            std::fs::create_dir_all(dir)?;
            wasi.preopened_dir(
                dir,
                format!("/{name}"),
                wasmtime_wasi::DirPerms::all(),
                wasmtime_wasi::FilePerms::all(),
            )?;
        }
        let port = ctx.effective.port.clone().map(PortConn::new);
        Ok(HostState {
            ctx,
            wasi: wasi.build(),
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            ticks_left: 0,
            memory_refused: None,
            port,
        })
    }

    pub(super) fn record(&self, call: &str, detail: impl AsRef<str>, allowed: bool) {
        self.ctx.services.recorder.record(CallEvent {
            tenant: &self.ctx.scope.tenant,
            instance: &self.ctx.scope.instance,
            call,
            detail: detail.as_ref(),
            allowed,
        });
    }

    pub(super) fn denied(&self, call: &str, detail: &str, why: String) -> types::Error {
        self.record(call, detail, false);
        types::Error::Denied(why)
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for HostState {
    fn ctx(&mut self) -> &mut WasiHttpCtx {
        &mut self.http
    }

    fn table(&mut self) -> &mut ResourceTable {
        &mut self.table
    }

    fn send_request(
        &mut self,
        request: hyper::Request<wasmtime_wasi_http::body::HyperOutgoingBody>,
        config: OutgoingRequestConfig,
    ) -> HttpResult<HostFutureIncomingResponse> {
        let target = format!("{} {}", request.method(), request.uri());
        let body_cap = super::outgoing::mib(self.ctx.limits.http_request_mib);
        let checked = match super::outgoing::check_outgoing(
            &self.ctx.effective,
            body_cap,
            request.method(),
            request.uri(),
            request.headers(),
        ) {
            Ok(checked) => checked,
            Err(why) => {
                tracing::warn!(tenant = %self.ctx.scope.tenant, instance = %self.ctx.scope.instance, %why, "outbound request denied");
                self.record("http.request", format!("{target}: {why}"), false);
                let code = refusal_code(&why);
                if let EgressDenied::BodyTooLarge { .. } = why {
                    // Keep taking what the guest writes (and dropping it),
                    // so it reads this answer rather than a closed stream.
                    discard_body(request.into_body(), &self.ctx.limits);
                }
                return Err(code.into());
            }
        };
        let ctx = self.ctx.clone();
        let handle = wasmtime_wasi::runtime::spawn(async move {
            let host = checked.host;
            let port = checked.port;
            // Check where the name actually points before connecting: a
            // granted name must not lead to loopback or the LAN unless the
            // operator said so. The connection then goes to an address
            // checked here (egress.rs), never to a second resolution.
            let addrs = match tokio::net::lookup_host((host.as_str(), port)).await {
                Ok(a) => a.collect::<Vec<_>>(),
                Err(e) => {
                    ctx.record_http(&target, false, &format!("dns: {e}"));
                    // Refused before the guest has written its body: keep
                    // taking it, or its write fails as "connection reset"
                    // and hides this answer.
                    discard_body(request.into_body(), &ctx.limits);
                    return Ok(Err(ErrorCode::DnsError(
                        wasmtime_wasi_http::bindings::http::types::DnsErrorPayload {
                            rcode: Some(e.to_string()),
                            info_code: None,
                        },
                    )));
                }
            };
            for addr in &addrs {
                if let Err(why) = ctx.effective.check_address(&host, addr.ip(), checked.reach) {
                    tracing::warn!(tenant = %ctx.scope.tenant, instance = %ctx.scope.instance, %why, "outbound request denied");
                    ctx.record_http(&target, false, &why.to_string());
                    discard_body(request.into_body(), &ctx.limits);
                    return Ok(Err(ErrorCode::HttpRequestDenied));
                }
            }
            // Take the whole request body before sending. A guest starts
            // the request (`handle`) and then writes its body; if hyper,
            // on another worker thread, sends a body-less request first, it
            // drops the body and the guest's write fails as if the
            // connection were reset. Buffered, the body also gets an exact
            // Content-Length. `limits.http_request_mib` bounds what is
            // buffered: each chunk is counted before it is kept.
            let (mut parts, body) = request.into_parts();
            let bytes = match collect_capped(body, body_cap, &ctx.limits).await {
                Ok(bytes) => bytes,
                Err(Refused::Guest(code)) => return Ok(Err(code)),
                Err(Refused::Cap(why)) => {
                    tracing::warn!(tenant = %ctx.scope.tenant, instance = %ctx.scope.instance, %why, "outbound request denied");
                    ctx.record_http(&target, false, &why.to_string());
                    return Ok(Err(refusal_code(&why)));
                }
            };
            ctx.record_http(&target, true, "");
            if !bytes.is_empty() {
                parts.headers.insert(
                    hyper::header::CONTENT_LENGTH,
                    hyper::header::HeaderValue::from(bytes.len()),
                );
            }
            let body = http_body_util::BodyExt::boxed(http_body_util::BodyExt::map_err(
                http_body_util::Full::new(bytes),
                |never| match never {},
            ));
            let request = hyper::Request::from_parts(parts, body);
            let cap = super::outgoing::mib(ctx.limits.http_response_mib);
            Ok(super::egress::send_pinned(request, config, &host, &addrs, cap).await)
        });
        Ok(HostFutureIncomingResponse::pending(handle))
    }
}

/// What the guest is told about a refused request.
fn refusal_code(why: &EgressDenied) -> ErrorCode {
    match why {
        EgressDenied::BodyTooLarge { size, .. } => ErrorCode::HttpRequestBodySize(*size),
        EgressDenied::Malformed(m) => ErrorCode::InternalError(Some(m.clone())),
        EgressDenied::Header { .. } => ErrorCode::InternalError(Some(why.to_string())),
        EgressDenied::NotDeclared(_)
        | EgressDenied::NotGranted(_)
        | EgressDenied::Address { .. } => ErrorCode::HttpRequestDenied,
    }
}

/// Why a request body was not collected.
enum Refused {
    /// The guest's own body stream failed.
    Guest(ErrorCode),
    /// It crossed `limits.http_request_mib`.
    Cap(EgressDenied),
}

/// Read a request body whole, never holding more than `cap` bytes. Past
/// the cap the rest is discarded (see [`discard_body`]) and the request
/// refused.
async fn collect_capped(
    mut body: wasmtime_wasi_http::body::HyperOutgoingBody,
    cap: u64,
    limits: &crate::config::Limits,
) -> Result<bytes::Bytes, Refused> {
    use http_body_util::BodyExt;
    let mut budget = super::outgoing::BodyBudget::new(cap);
    let mut buf = bytes::BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(Refused::Guest)?;
        if let Ok(data) = frame.into_data() {
            if let Err(why) = budget.take(data.len()) {
                drop(data);
                discard_body(body, limits);
                return Err(Refused::Cap(why));
            }
            buf.extend_from_slice(&data);
        }
    }
    Ok(buf.freeze())
}

/// Drain and drop the rest of a refused body in the background, for at
/// most the call's wall-clock limit. If the host closed the stream
/// instead, the guest's next write would fail with a closed stream and
/// the plugin would report that, not the limit it hit; this way it gets
/// the request's real error. Nothing is kept.
fn discard_body(
    mut body: wasmtime_wasi_http::body::HyperOutgoingBody,
    limits: &crate::config::Limits,
) {
    use http_body_util::BodyExt;
    let limit = std::time::Duration::from_millis(limits.call_timeout_ms);
    tokio::spawn(async move {
        let drain = async { while let Some(Ok(_)) = body.frame().await {} };
        let _ = tokio::time::timeout(limit, drain).await;
    });
}

impl ResourceLimiter for HostState {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> Result<bool> {
        let cap = self.ctx.memory_cap_bytes();
        if desired > cap {
            self.memory_refused = Some(desired);
            tracing::warn!(tenant = %self.ctx.scope.tenant, instance = %self.ctx.scope.instance, current, desired, cap, "memory limit hit");
            // Refusing with an error traps at once; returning Ok(false)
            // would hand the guest a failed grow, which Rust guests turn
            // into an abort anyway, with a less clear message.
            anyhow::bail!(super::error::LimitHit::Memory { cap_bytes: cap });
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> Result<bool> {
        Ok(desired <= 100_000)
    }
}

impl types::Host for HostState {}

impl log::Host for HostState {
    fn log(&mut self, level: log::Level, message: String) -> Result<()> {
        let (tenant, instance, plugin) = (
            &self.ctx.scope.tenant,
            &self.ctx.scope.instance,
            &self.ctx.plugin_id,
        );
        // One message is one line, bounded: a newline or a terminal
        // escape in it cannot forge or rewrite host log lines.
        let message = super::log_line::escape(&message);
        match level {
            log::Level::Trace => {
                tracing::trace!(target: "hamgam::plugin", %tenant, %instance, %plugin, "{message}")
            }
            log::Level::Debug => {
                tracing::debug!(target: "hamgam::plugin", %tenant, %instance, %plugin, "{message}")
            }
            log::Level::Info => {
                tracing::info!(target: "hamgam::plugin", %tenant, %instance, %plugin, "{message}")
            }
            log::Level::Warn => {
                tracing::warn!(target: "hamgam::plugin", %tenant, %instance, %plugin, "{message}")
            }
            log::Level::Error => {
                tracing::error!(target: "hamgam::plugin", %tenant, %instance, %plugin, "{message}")
            }
        }
        self.record("log", &message, true);
        Ok(())
    }
}

impl config::Host for HostState {
    fn get(&mut self, key: String) -> Result<Option<String>> {
        self.record("config.get", &key, true);
        Ok(self.ctx.settings.get(&key).cloned())
    }

    fn all(&mut self) -> Result<Vec<(String, String)>> {
        self.record("config.all", "", true);
        Ok(self
            .ctx
            .settings
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    fn secret(&mut self, name: String) -> Result<Result<String, types::Error>> {
        if !self.ctx.effective.secrets.contains(&name) {
            return Ok(Err(self.denied(
                "config.secret",
                &name,
                format!("secret `{name}` is not declared in the plugin manifest"),
            )));
        }
        let Some(reference) = self.ctx.secrets.get(&name) else {
            return Ok(Err(self.denied(
                "config.secret",
                &name,
                format!("secret `{name}` is not configured for this instance"),
            )));
        };
        match reference.resolve(&name) {
            Ok(secret) => {
                self.record("config.secret", name, true);
                Ok(Ok(secret.expose().to_string()))
            }
            Err(e) => {
                self.record("config.secret", name, false);
                Ok(Err(types::Error::Unavailable(e.to_string())))
            }
        }
    }
}

impl state::Host for HostState {
    async fn get(&mut self, key: String) -> Result<Option<Vec<u8>>> {
        if !self.ctx.effective.state {
            self.record("state.get", key, false);
            return Ok(None);
        }
        self.record("state.get", &key, true);
        self.ctx.services.state.get(&self.ctx.scope, &key).await
    }

    async fn set(&mut self, key: String, value: Vec<u8>) -> Result<Result<(), types::Error>> {
        if !self.ctx.effective.state {
            return Ok(Err(self.denied(
                "state.set",
                &key,
                "state is not granted to this instance".into(),
            )));
        }
        if key.is_empty() || key.len() > 512 {
            return Ok(Err(invalid("key", "must be 1–512 bytes")));
        }
        let max = self.ctx.limits.state_value_kib as usize * 1024;
        if value.len() > max {
            return Ok(Err(invalid(
                "value",
                &format!("must be at most {max} bytes"),
            )));
        }
        self.record("state.set", &key, true);
        self.ctx
            .services
            .state
            .set(&self.ctx.scope, &key, &value)
            .await?;
        Ok(Ok(()))
    }

    async fn delete(&mut self, key: String) -> Result<Result<(), types::Error>> {
        if !self.ctx.effective.state {
            return Ok(Err(self.denied(
                "state.delete",
                &key,
                "state is not granted to this instance".into(),
            )));
        }
        self.record("state.delete", &key, true);
        self.ctx
            .services
            .state
            .delete(&self.ctx.scope, &key)
            .await?;
        Ok(Ok(()))
    }
}

impl clock::Host for HostState {
    fn now(&mut self) -> Result<types::Timestamp> {
        let now = self.ctx.services.clock.now();
        Ok(types::Timestamp {
            seconds: now.timestamp(),
            nanoseconds: now.timestamp_subsec_nanos(),
        })
    }
}

impl HostState {
    /// The SQL gate's answer for one import call, as the call path needs
    /// it: the grant and text to run (the call recorded as allowed), or the
    /// refusal the plugin gets (recorded as denied, with what it asked).
    fn sql_admitted(
        &mut self,
        op: &'static str,
        database: &str,
        asked: &str,
        gate: Result<(crate::config::SqlGrant, String, String), String>,
    ) -> Result<(crate::config::SqlGrant, String), types::Error> {
        match gate {
            Ok((grant, name, text)) => {
                self.record(op, format!("{database}: {name}"), true);
                Ok((grant, text))
            }
            Err(refused) => {
                let detail = format!("{database}: {}", first_line(asked));
                Err(self.denied(op, &detail, refused))
            }
        }
    }
}

/// A gate's statement, owned, so the gate's borrow of the host state ends
/// before the call is recorded.
fn owned_statement(c: &super::sql_gate::Cleared<'_>) -> (crate::config::SqlGrant, String, String) {
    (
        c.grant.clone(),
        c.statement.name.clone(),
        c.statement.text.clone(),
    )
}

impl sql::Host for HostState {
    async fn query(
        &mut self,
        database: String,
        statement: String,
        params: Vec<sql::Value>,
    ) -> Result<Result<sql::Rows, types::Error>> {
        // 0.1.0's call: text, accepted only as the exact text of a declared
        // read, so no plugin runs SQL of its own making.
        let gate = self.ctx.effective.sql.read_text(&database, &statement);
        let gate = gate.map(|c| owned_statement(&c)).map_err(|e| e.to_string());
        let (grant, text) = match self.sql_admitted("sql.query", &database, &statement, gate) {
            Ok(admitted) => admitted,
            Err(refused) => return Ok(Err(refused)),
        };
        Ok(self
            .ctx
            .services
            .sql
            .read(&database, &grant, &text, params)
            .await)
    }

    async fn read(
        &mut self,
        database: String,
        name: String,
        params: Vec<sql::Value>,
    ) -> Result<Result<sql::Rows, types::Error>> {
        let gate = self.ctx.effective.sql.read(&database, &name);
        let gate = gate.map(|c| owned_statement(&c)).map_err(|e| e.to_string());
        let (grant, text) = match self.sql_admitted("sql.read", &database, &name, gate) {
            Ok(admitted) => admitted,
            Err(refused) => return Ok(Err(refused)),
        };
        Ok(self
            .ctx
            .services
            .sql
            .read(&database, &grant, &text, params)
            .await)
    }

    async fn write(
        &mut self,
        database: String,
        name: String,
        params: Vec<sql::Value>,
    ) -> Result<Result<u64, types::Error>> {
        let gate = self.ctx.effective.sql.write(&database, &name);
        let gate = gate.map(|c| owned_statement(&c)).map_err(|e| e.to_string());
        let (grant, text) = match self.sql_admitted("sql.write", &database, &name, gate) {
            Ok(admitted) => admitted,
            Err(refused) => return Ok(Err(refused)),
        };
        Ok(self
            .ctx
            .services
            .sql
            .write(&database, &grant, &text, params)
            .await)
    }
}

/// The answer of `hamgam:crm/store@0.1.0`'s `get` and `put`.
const ENTITIES_INSTEAD: &str = "hamgam:crm/store get and put are retired: read and write CRM \
     records with hamgam:crm/entities@0.1.1 (hamgam_sdk::module::crm::get/create/update/query)";

impl crm::Host for HostState {
    // `get` and `put` of 0.1.0 carry the ledger exchange shape
    // (`types.entity`), which has no CRM ids, statuses or numbers: a module
    // could not name the party of an invoice it wrote. 0.1.1 replaced them
    // with `hamgam:crm/entities` (the REST shapes, through the API's own
    // checks); these two answer, for good, where to go instead.
    async fn get(
        &mut self,
        kind: types::EntityKind,
        id: String,
    ) -> Result<Result<Option<crm::StoredEntity>, types::Error>> {
        self.record("crm.get", format!("{kind:?} {id}"), false);
        Ok(Err(types::Error::Unsupported(ENTITIES_INSTEAD.into())))
    }

    async fn put(
        &mut self,
        kind: types::EntityKind,
        id: Option<String>,
        _entity: types::Entity,
    ) -> Result<Result<String, types::Error>> {
        self.record(
            "crm.put",
            format!("{kind:?} {}", id.unwrap_or_default()),
            false,
        );
        Ok(Err(types::Error::Unsupported(ENTITIES_INSTEAD.into())))
    }

    async fn get_record(
        &mut self,
        record_type: String,
        id: String,
    ) -> Result<Result<Option<crm::ModuleRecord>, types::Error>> {
        if self.ctx.effective.crm < CrmAccess::Read {
            return Ok(Err(self.denied(
                "crm.get-record",
                &id,
                "CRM read access is not granted".into(),
            )));
        }
        self.record("crm.get-record", format!("{record_type}/{id}"), true);
        let found = self
            .ctx
            .services
            .crm
            .get_record(&self.ctx.record_scope(), &record_type, &id)
            .await?;
        Ok(Ok(found.map(|r| crm::ModuleRecord {
            record_type: r.record_type,
            id: r.id,
            body: r.body,
        })))
    }

    async fn put_record(&mut self, item: crm::ModuleRecord) -> Result<Result<(), types::Error>> {
        if self.ctx.effective.crm < CrmAccess::ReadWrite {
            return Ok(Err(self.denied(
                "crm.put-record",
                &item.id,
                "CRM write access is not granted".into(),
            )));
        }
        if item.id.is_empty() || item.id.len() > 256 {
            return Ok(Err(invalid("id", "must be 1–256 bytes")));
        }
        let Ok(body) = serde_json::from_str::<serde_json::Value>(&item.body) else {
            return Ok(Err(invalid("body", "must be JSON")));
        };
        let what = format!("{}/{}", item.record_type, item.id);
        let meta = match self.ctx.records.get(&item.record_type) {
            Some(schema) => {
                if let Err(breach) = schema.check(&body) {
                    self.record("crm.put-record", &what, false);
                    return Ok(Err(invalid(&breach.field, &breach.message)));
                }
                RecordMeta {
                    schema_version: schema.version,
                    index: schema.index_of(&body),
                }
            }
            // A module that declares its types stores only those.
            None if !self
                .ctx
                .declared
                .get()
                .is_some_and(|d| d.record_types.contains(&item.record_type)) =>
            {
                self.record("crm.put-record", &what, false);
                return Ok(Err(invalid(
                    "record-type",
                    &format!(
                        "`{}` is not a record type this module declares ([records] in its manifest, or `record-types` in its describe)",
                        item.record_type
                    ),
                )));
            }
            None => RecordMeta::default(),
        };
        self.record("crm.put-record", &what, true);
        self.ctx
            .services
            .crm
            .put_record(
                &self.ctx.record_scope(),
                ModuleRecord {
                    record_type: item.record_type,
                    id: item.id,
                    body: item.body,
                },
                meta,
            )
            .await?;
        Ok(Ok(()))
    }

    async fn list_records(
        &mut self,
        record_type: String,
        prefix: String,
        limit: u32,
    ) -> Result<Result<Vec<crm::ModuleRecord>, types::Error>> {
        if self.ctx.effective.crm < CrmAccess::Read {
            return Ok(Err(self.denied(
                "crm.list-records",
                &record_type,
                "CRM read access is not granted".into(),
            )));
        }
        self.record("crm.list-records", format!("{record_type}/{prefix}*"), true);
        let rows = self
            .ctx
            .services
            .crm
            .list_records(
                &self.ctx.record_scope(),
                &record_type,
                &prefix,
                limit.min(1000),
            )
            .await?;
        Ok(Ok(rows
            .into_iter()
            .map(|r| crm::ModuleRecord {
                record_type: r.record_type,
                id: r.id,
                body: r.body,
            })
            .collect()))
    }

    async fn emit(&mut self, name: String, payload: String) -> Result<Result<(), types::Error>> {
        if self.ctx.effective.crm < CrmAccess::ReadWrite {
            return Ok(Err(self.denied(
                "crm.emit",
                &name,
                "CRM write access is not granted".into(),
            )));
        }
        // Subscribers match names by pattern and parse the payload: a
        // name outside the pattern alphabet or a payload that is not JSON
        // would reach every one of them as a fault of theirs.
        let well_named = !name.is_empty()
            && name.len() <= 100
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
        if !well_named {
            self.record("crm.emit", &name, false);
            return Ok(Err(invalid(
                "name",
                "an event name is 1 to 100 characters of a-z, 0-9, `.`, `_` and `-`",
            )));
        }
        if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(&payload) {
            self.record("crm.emit", &name, false);
            return Ok(Err(invalid(
                "payload",
                &format!("an event payload is JSON: {e}"),
            )));
        }
        self.record("crm.emit", &name, true);
        self.ctx
            .services
            .crm
            .emit(
                &self.ctx.scope.tenant,
                &self.ctx.scope.instance,
                &name,
                &payload,
            )
            .await?;
        Ok(Ok(()))
    }
}

impl port::Host for HostState {
    async fn write(&mut self, bytes: Vec<u8>) -> Result<Result<u32, types::Error>> {
        let Some(port) = self.port.as_mut() else {
            return Ok(Err(self.denied(
                "port.write",
                "",
                "no device port is granted".into(),
            )));
        };
        let result = port.write(&bytes).await;
        self.record(
            "port.write",
            format!("{} bytes", bytes.len()),
            result.is_ok(),
        );
        Ok(result)
    }

    async fn read(&mut self, max: u32, timeout_ms: u32) -> Result<Result<Vec<u8>, types::Error>> {
        let Some(port) = self.port.as_mut() else {
            return Ok(Err(self.denied(
                "port.read",
                "",
                "no device port is granted".into(),
            )));
        };
        let result = port
            .read(max.min(64 * 1024) as usize, timeout_ms.min(60_000))
            .await;
        self.record("port.read", format!("max {max}"), result.is_ok());
        Ok(result)
    }
}

fn invalid(field: &str, message: &str) -> types::Error {
    types::Error::InvalidInput(types::FieldError {
        field: field.into(),
        message: message.into(),
    })
}

fn first_line(s: &str) -> &str {
    let line = s.trim().lines().next().unwrap_or("");
    line.get(..line.len().min(200)).unwrap_or(line)
}
