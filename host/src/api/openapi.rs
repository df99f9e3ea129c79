//! The OpenAPI 3.1 document at `/api/v1/openapi.json`, derived from the
//! routes themselves.
//!
//! Every CRM route is added through [`Routes::add`], which registers the
//! handler with axum *and* records an [`Op`] (method, path, query
//! parameters, body and response schemas). The document's `paths` are built
//! from those records and its `components.schemas` from the entity types'
//! `utoipa::ToSchema` derives, so a route cannot exist without being
//! documented, and the isolation test can walk every route from the
//! document.

use super::AppState;
use super::events::{EventList, HeldEventList};
use super::history::{HistoryImportRequest, HistoryKind, ImportList};
use super::sync::{
    BalanceList, LedgerBalance, LedgerStock, LinkList, OutboxList, StockList, SyncRecord,
};
use crate::crm::kinds::{EntityKind, EventHold, ImportState};
use crate::crm::{
    Address, DataWarning, Document, DocumentKind, DocumentRequest, Line, LineRequest, Party,
    PartyInputSchema, PartyKind, Payment, PaymentKind, PaymentMethod, PaymentRequest, PhoneEntry,
    PhoneInput, PhoneType, Product, ProductInput, Settlement, SettlementRequest, Statement,
    StatementEntry, Status, Totals, WarningRule,
};
use crate::store::event::{Event, Holdup};
use crate::store::journal::outbox::OutboxItem;
use crate::store::sync::{Link, LinkOrigin};
use crate::sync::RunReport;
use crate::sync::history::ImportProgress;
use axum::Router;
use axum::extract::State;
use axum::http::Method;
use axum::routing::{MethodRouter, get};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use utoipa::OpenApi;

/// What a route answers with.
#[derive(Debug, Clone, Copy)]
pub enum Resp {
    /// `200` with one schema.
    Ok(&'static str),
    /// `201` with one schema.
    Created(&'static str),
    /// `200` with `{items: [schema], next_cursor}`.
    Page(&'static str),
    /// `204`, no body.
    NoContent,
}

/// What a query parameter accepts: its schema in the document, mirroring
/// the parse in the handler that reads it (`extract::paging`,
/// `extract::query_value`, the handlers' own checks), so a value the
/// document allows is one the handler takes.
#[derive(Debug, Clone, Copy)]
pub enum Param {
    /// A cursor this API issued (`extract::encode_cursor`: hex of `v1:<id>`).
    Cursor,
    /// An integer in `1..=max`.
    Limit(u32),
    /// One of these words.
    OneOf(&'static [&'static str]),
    /// A record id.
    Id,
    /// A place in a log: a whole number, 0 or more.
    Place,
    /// A Jalali date `YYYY/MM/DD`.
    Date,
    /// `true` or `false`.
    Bool,
    /// Any text (an exact-match filter).
    Text,
    /// A company code, 100..=999.
    CompanyCode,
    /// A three-letter currency code (any case).
    Currency,
    /// A tenant or instance name: 1–64 lowercase letters, digits, dashes.
    Slug,
}

/// A Jalali date `YYYY/MM/DD` as the API parses it
/// (`hamgam_domain::JalaliDate::parse`). Days 30 and 31 exist only in some
/// months and years, so the pattern stops at 29: every date it admits is
/// a real one.
pub const JALALI_DATE_PATTERN: &str = "^[12][0-9]{3}/(0[1-9]|1[0-2])/(0[1-9]|1[0-9]|2[0-9])$";

impl Param {
    /// The JSON schema of the parameter's value.
    pub fn schema(self) -> Value {
        match self {
            Param::Cursor => json!({"type": "string", "pattern": "^76313a(3[0-9]){1,18}$"}),
            Param::Limit(max) => json!({"type": "integer", "minimum": 1, "maximum": max}),
            Param::OneOf(words) => json!({"type": "string", "enum": words}),
            Param::Id => json!({"type": "integer", "format": "int64"}),
            Param::Place => json!({"type": "integer", "format": "int64", "minimum": 0}),
            Param::Date => json!({"type": "string", "pattern": JALALI_DATE_PATTERN}),
            Param::Bool => json!({"type": "boolean"}),
            Param::Text => json!({"type": "string"}),
            Param::CompanyCode => json!({"type": "integer", "minimum": 100, "maximum": 999}),
            Param::Currency => json!({"type": "string", "pattern": "^[A-Za-z]{3}$"}),
            Param::Slug => json!({"type": "string", "pattern": "^[a-z0-9-]{1,64}$"}),
        }
    }
}

/// A query parameter: name, description, what it accepts.
pub type Query = (&'static str, &'static str, Param);

/// One documented route.
#[derive(Debug, Clone)]
pub struct Op {
    /// HTTP method.
    pub method: Method,
    /// axum path (`{name}` segments, the same syntax as OpenAPI).
    pub path: String,
    /// Unique operation id.
    pub id: String,
    /// One-line summary.
    pub summary: String,
    /// Grouping tag.
    pub tag: &'static str,
    /// Query parameters.
    pub query: &'static [Query],
    /// Request body schema.
    pub body: Option<&'static str>,
    /// Response.
    pub response: Resp,
    /// Error answers beyond the ones every route documents.
    pub errors: &'static [(&'static str, &'static str)],
}

impl Op {
    /// A route with no query, no body, `200` and no schema yet.
    pub fn new(
        method: Method,
        path: impl Into<String>,
        id: impl Into<String>,
        summary: impl Into<String>,
        tag: &'static str,
    ) -> Op {
        Op {
            method,
            path: path.into(),
            id: id.into(),
            summary: summary.into(),
            tag,
            query: &[],
            body: None,
            response: Resp::NoContent,
            errors: &[],
        }
    }

    /// With query parameters.
    pub fn query(mut self, q: &'static [Query]) -> Op {
        self.query = q;
        self
    }

    /// With a JSON body.
    pub fn body(mut self, schema: &'static str) -> Op {
        self.body = Some(schema);
        self
    }

    /// With more error answers (status, when).
    pub fn errors(mut self, e: &'static [(&'static str, &'static str)]) -> Op {
        self.errors = e;
        self
    }

    /// With a response.
    pub fn responds(mut self, r: Resp) -> Op {
        self.response = r;
        self
    }
}

/// Routes under construction, with their documentation.
#[derive(Default)]
pub struct Routes {
    by_path: BTreeMap<String, MethodRouter<AppState>>,
    ops: Vec<Op>,
}

impl Routes {
    /// Register `handler` (a method router for exactly `op.method`) and
    /// record `op`.
    pub fn add(mut self, op: Op, handler: MethodRouter<AppState>) -> Routes {
        let entry = self.by_path.remove(&op.path).unwrap_or_default();
        self.by_path.insert(op.path.clone(), entry.merge(handler));
        self.ops.push(op);
        self
    }

    /// The recorded operations.
    pub fn ops(&self) -> &[Op] {
        &self.ops
    }

    /// The router and the recorded operations.
    pub fn finish(self) -> (Router<AppState>, Vec<Op>) {
        let mut router = Router::new();
        for (path, mr) in self.by_path {
            router = router.route(&path, mr);
        }
        (router, self.ops)
    }
}

#[derive(OpenApi)]
#[openapi(components(schemas(
    Party,
    PartyInputSchema,
    PartyKind,
    DataWarning,
    WarningRule,
    PhoneEntry,
    PhoneInput,
    PhoneType,
    Address,
    Product,
    ProductInput,
    Document,
    DocumentKind,
    DocumentRequest,
    Line,
    LineRequest,
    Totals,
    Status,
    Payment,
    PaymentKind,
    PaymentMethod,
    PaymentRequest,
    Settlement,
    SettlementRequest,
    Statement,
    StatementEntry,
    OutboxItem,
    OutboxList,
    Link,
    LinkOrigin,
    LinkList,
    SyncRecord,
    RunReport,
    LedgerBalance,
    BalanceList,
    LedgerStock,
    StockList,
    EntityKind,
    ImportState,
    HistoryKind,
    HistoryImportRequest,
    ImportProgress,
    ImportList,
    Event,
    EventList,
    EventHold,
    Holdup,
    HeldEventList
)))]
struct Schemas;

fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn error_response(description: &str) -> Value {
    json!({ "description": description, "content": { "application/json": { "schema": schema_ref("Error") } } })
}

/// Rules between fields, which the derives cannot state.
fn refine(schemas: &mut Value) {
    // A cheque needs its serial (`PaymentRequest::validate`): on the
    // payment when it is one settlement, on each cheque settlement else.
    schemas["PaymentRequest"]["if"] = json!({
        "properties": {"method": {"const": "cheque"}},
        "required": ["method"],
        "not": {"required": ["settlements"]}
    });
    schemas["SettlementRequest"]["if"] =
        json!({"properties": {"method": {"const": "cheque"}}, "required": ["method"]});
    schemas["SettlementRequest"]["then"] = json!({
        "required": ["reference"],
        "properties": {"reference": {"type": "string", "minLength": 1, "pattern": "\\S"}}
    });
    schemas["PaymentRequest"]["then"] = json!({
        "required": ["cheque_number"],
        "properties": {"cheque_number": {"type": "string", "minLength": 1, "pattern": "\\S"}}
    });
    // One object per party kind, each closed like the type it documents
    // (`deny_unknown_fields`).
    if let Some(kinds) = schemas["PartyInput"]["oneOf"].as_array_mut() {
        for kind in kinds {
            kind["additionalProperties"] = json!(false);
        }
    }
    // Returns and correction notes name the invoice they correct.
    let mut correction = schemas["DocumentRequest"].clone();
    if let Some(required) = correction["required"].as_array_mut() {
        required.push(json!("related_id"));
    }
    correction["properties"]["related_id"] =
        json!({"type": "integer", "format": "int64", "description": "The invoice this corrects"});
    schemas["CorrectionRequest"] = correction;
    // A period is a fiscal year or two days, never both nor neither
    // (`HistoryImportRequest::into_request`).
    let kinds = json!({
        "type": "array",
        "items": schema_ref("HistoryKind"),
        "minItems": 1,
        "uniqueItems": true,
        "description": "What to import, in this order (default: sales invoices, then returns); each kind is its own orderable module"
    });
    let day =
        |what: &str| json!({"type": "string", "pattern": JALALI_DATE_PATTERN, "description": what});
    schemas["HistoryImportRequest"] = json!({
        "description": "The period to import: a closed Jalali fiscal year, or a first and a last day (the first not after the last, the last before today)",
        "oneOf": [
            {
                "title": "FiscalYear",
                "type": "object",
                "required": ["fiscal_year"],
                "additionalProperties": false,
                "properties": {
                    "fiscal_year": {"type": "integer", "minimum": 1300, "maximum": 1500,
                        "description": "A Jalali fiscal year before the current one, e.g. 1403"},
                    "kinds": kinds
                }
            },
            {
                "title": "Days",
                "type": "object",
                "required": ["from", "to"],
                "additionalProperties": false,
                "properties": {
                    "from": day("First day, Jalali YYYY/MM/DD"),
                    "to": day("Last day (included), Jalali YYYY/MM/DD, before today"),
                    "kinds": kinds
                }
            }
        ]
    });
}

/// The OpenAPI document for `ops`.
pub fn document(ops: &[Op]) -> Value {
    let mut paths: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    for op in ops {
        let mut params: Vec<Value> = op
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
            .map(|name| {
                let schema = match name {
                    "id" => Param::Id.schema(),
                    "tenant" | "instance" | "subscriber" => Param::Slug.schema(),
                    _ => json!({"type": "string"}),
                };
                json!({ "name": name, "in": "path", "required": true, "schema": schema })
            })
            .collect();
        params.extend(op.query.iter().map(|(name, description, param)| {
            json!({ "name": name, "in": "query", "required": false, "description": description, "schema": param.schema() })
        }));
        let mut responses = Map::new();
        match op.response {
            Resp::Ok(s) => {
                responses.insert("200".into(), json!({"description": "OK", "content": {"application/json": {"schema": schema_ref(s)}}}));
            }
            Resp::Created(s) => {
                responses.insert("201".into(), json!({"description": "Created", "content": {"application/json": {"schema": schema_ref(s)}}}));
            }
            Resp::Page(s) => {
                responses.insert("200".into(), json!({"description": "One page, by id", "content": {"application/json": {"schema": {
                    "type": "object",
                    "required": ["items"],
                    "properties": {
                        "items": {"type": "array", "items": schema_ref(s)},
                        "next_cursor": {"type": "string", "description": "opaque; pass as `cursor` for the next page"}
                    }
                }}}}));
            }
            Resp::NoContent => {
                responses.insert("204".into(), json!({"description": "Done"}));
            }
        }
        for (code, what) in [
            ("400", "Malformed request"),
            ("401", "No valid token"),
            ("403", "Token of another tenant"),
            ("404", "Not found in this tenant"),
        ] {
            responses.insert(code.into(), error_response(what));
        }
        if op.body.is_some() {
            responses.insert("413".into(), error_response("Body too large"));
            responses.insert("415".into(), error_response("Not JSON"));
            responses.insert("422".into(), error_response("A field breaks a rule"));
        }
        if op.method != Method::GET {
            responses.insert(
                "409".into(),
                error_response("Conflicts with the record's state"),
            );
        }
        for (code, what) in op.errors {
            responses.insert((*code).into(), error_response(what));
        }
        let mut operation = json!({
            "operationId": op.id,
            "summary": op.summary,
            "tags": [op.tag],
            "parameters": params,
            "responses": responses,
            "security": [{"bearer": []}],
        });
        if let Some(body) = op.body {
            operation["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": schema_ref(body)}}});
        }
        paths
            .entry(op.path.clone())
            .or_default()
            .insert(op.method.as_str().to_ascii_lowercase(), operation);
    }
    let mut schemas = serde_json::to_value(
        Schemas::openapi()
            .components
            .map(|c| c.schemas)
            .unwrap_or_default(),
    )
    .unwrap_or_else(|_| json!({}));
    refine(&mut schemas);
    schemas["Error"] = json!({
        "type": "object",
        "required": ["error"],
        "properties": {"error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "field": {"type": "string", "description": "path of the field at fault, e.g. lines.0.quantity"}
            }
        }}
    });
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Hamgam CRM API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "CRM data core: parties, products, documents, receipts and payments, per tenant. Amounts are decimal strings; dates are Jalali YYYY/MM/DD. Text never holds the NUL character (U+0000): a body with one anywhere is a 422 naming the field. A refused body is a 422 naming the field and the rule. Formats ir-national-id, ir-legal-entity-id and ir-economic-code are Iranian identifiers whose last digit is a check digit."
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}
        }
    })
}

/// `GET /api/v1/openapi.json` (public: it describes, it does not reveal).
/// The CRM's own routes are fixed at start; each running module's routes
/// (as its `describe` declares them) are added at every request, so an
/// installed, upgraded or removed module shows at once.
pub(super) fn router(doc: Arc<Value>) -> Router<AppState> {
    Router::new().route(
        "/api/v1/openapi.json",
        get(move |State(state): State<AppState>| {
            let doc = doc.clone();
            async move {
                let mut doc = (*doc).clone();
                add_module_routes(&mut doc, &state.snapshot().registry);
                axum::Json(doc)
            }
        }),
    )
}

/// Every module instance's declared routes, under
/// `/api/v1/tenants/{tenant}/modules/<instance>`. The instance name is
/// part of the path (it picks the module), the tenant stays a parameter:
/// which tenants run which module is not the document's to reveal. A
/// module knows only its routes, not their bodies, so each operation says
/// what serves it and documents the host's own refusals.
fn add_module_routes(doc: &mut Value, registry: &crate::plugins::registry::Registry) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for instance in registry.all() {
        let Some(declared) = instance.context().declared.get() else {
            continue;
        };
        let name = &instance.context().scope.instance;
        let manifest = &instance.plugin().manifest;
        for route in &declared.routes {
            let path = format!(
                "/api/v1/tenants/{{tenant}}/modules/{name}{}",
                route.path.trim_end_matches('/')
            );
            let method = route.method.to_ascii_lowercase();
            let entry = paths.entry(path).or_insert_with(|| json!({}));
            if entry.get(&method).is_some() {
                continue;
            }
            let mut params = vec![
                json!({"name": "tenant", "in": "path", "required": true, "schema": Param::Slug.schema()}),
            ];
            params.extend(route.params().map(|p| {
                json!({"name": p, "in": "path", "required": true, "schema": {"type": "string", "minLength": 1}})
            }));
            let mut responses = Map::new();
            responses.insert(
                "default".into(),
                json!({"description": format!("The answer of module `{}` {}", manifest.id, manifest.version)}),
            );
            for (code, what) in [
                ("401", "No valid token"),
                ("403", "Token of another tenant"),
                ("404", "No such instance in this tenant"),
                ("422", "The module refused a field (`error.field` names it)"),
                ("502", "The module failed"),
            ] {
                responses.insert(code.into(), error_response(what));
            }
            entry[&method] = json!({
                "operationId": format!("module.{name}.{method}{}", route.path.replace(['/', '{', '}'], ".")),
                "summary": format!("{} {} ({} module)", route.method, route.path, manifest.id),
                "description": manifest.description,
                "tags": [format!("module: {}", manifest.id)],
                "parameters": params,
                "responses": responses,
                "security": [{"bearer": []}],
                "x-hamgam-plugin": {"id": manifest.id, "version": manifest.version.to_string(), "instance": name},
            });
        }
    }
}

/// Ids of document kinds and payment kinds in route paths, for handlers.
pub(crate) fn collection(kind: DocumentKind) -> String {
    format!("/api/v1/tenants/{{tenant}}/{}", kind.path())
}

/// Collection path of a payment kind.
pub(crate) fn payment_collection(kind: PaymentKind) -> String {
    format!("/api/v1/tenants/{{tenant}}/{}", kind.path())
}
