//! The catalogue of event names (issue 15 §6, S20): every name the host
//! writes to the event log, what its subject and actor look like, and a
//! JSON Schema of its data. Module authors read it as `sdk/EVENTS.md` and
//! tools as `sdk/events.json`; both are rendered from [`catalogue`], and a
//! test compares them with the files and checks the events a run of the
//! host writes against it, so the three cannot drift apart.
//!
//! Names are built here from the same vocabulary the store uses
//! ([`EntityKind`], [`Operation`], [`SyncStatus`]), so a new kind or
//! operation changes the catalogue with it.

use crate::crm::PaymentKind;
use crate::crm::kinds::{Aggregate, EntityKind, Operation, SyncStatus};
use serde::Serialize;
use serde_json::{Value, json};
use std::fmt::Write as _;

/// One kind of event.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    /// The name, with `<instance>` and `<type>` where a module's instance
    /// and record type go.
    pub name: String,
    /// What it is about (`party:<id>`): one subject's events reach a
    /// subscriber in their order.
    pub subject: String,
    /// Who wrote it.
    pub actor: &'static str,
    /// What happened.
    pub summary: String,
    /// A JSON Schema of the envelope's `data`.
    pub data: Value,
}

impl Entry {
    /// Whether `name` is an event of this entry: `<instance>` and
    /// `<type>` stand for one or more characters without a dot, and a
    /// module's own event name (`<name>`) for the rest of the name.
    pub fn takes(&self, name: &str) -> bool {
        fn go(pattern: &[&str], name: &[&str]) -> bool {
            match (pattern.split_first(), name.split_first()) {
                (None, None) => true,
                (Some((&"<name>", _)), Some(_)) => true,
                (Some((p, prest)), Some((n, nrest))) => {
                    let placeholder = matches!(*p, "<instance>" | "<type>");
                    (placeholder && !n.is_empty() || p == n) && go(prest, nrest)
                }
                _ => false,
            }
        }
        let pattern: Vec<&str> = self.name.split('.').collect();
        let name: Vec<&str> = name.split('.').collect();
        go(&pattern, &name)
    }
}

/// A CRM record before or after a change, as the REST API shows it.
fn record(kind: EntityKind) -> Value {
    json!({
        "oneOf": [
            {"type": "null"},
            {
                "type": "object",
                "required": ["id"],
                "properties": {"id": {"type": "integer", "minimum": 1}},
                "description": format!("the {} as the REST API shows it", kind.as_str())
            }
        ]
    })
}

/// `{"kind", "id", "before", "after"}` of a CRM record's change.
fn change(kind: EntityKind, before: Value, after: Value) -> Value {
    json!({
        "type": "object",
        "required": ["kind", "id", "before", "after"],
        "additionalProperties": false,
        "properties": {
            "kind": {"const": kind.as_str()},
            "id": {"type": "integer", "minimum": 1},
            "before": before,
            "after": after,
        }
    })
}

fn null() -> Value {
    json!({"type": "null"})
}

/// What each operation does to the record's two sides.
fn sides(kind: EntityKind, operation: Operation) -> (Value, Value) {
    match operation {
        Operation::Create => (null(), record(kind)),
        Operation::Delete => (record(kind), null()),
        Operation::Update | Operation::Approve | Operation::Reject | Operation::Settle => {
            (record(kind), record(kind))
        }
    }
}

/// The operations a kind's records undergo, as the store writes them.
fn operations(kind: EntityKind) -> Vec<Operation> {
    let mut ops = vec![Operation::Create, Operation::Update, Operation::Delete];
    match kind.aggregate() {
        Aggregate::Party | Aggregate::Product => {}
        Aggregate::Document(_) | Aggregate::Payment(_) => {
            ops.extend([Operation::Approve, Operation::Reject]);
        }
    }
    // An approved receipt settles a sales invoice, a payment a purchase
    // invoice (H5): the invoice's paid amount moves.
    let settled =
        [PaymentKind::Receipt, PaymentKind::Payment].map(|p| EntityKind::from(p.settles()));
    if settled.contains(&kind) {
        ops.push(Operation::Settle);
    }
    ops
}

/// Whether the kind's records get numbers a ledger may change (S11).
fn numbered(kind: EntityKind) -> bool {
    matches!(
        kind.aggregate(),
        Aggregate::Document(_) | Aggregate::Payment(_)
    )
}

/// Every kind of event the host writes, in a stable order.
pub fn catalogue() -> Vec<Entry> {
    let mut out = Vec::new();
    for &kind in EntityKind::ALL {
        let subject = format!("{kind}:<id>");
        for operation in operations(kind) {
            let (before, after) = sides(kind, operation);
            let summary = match operation {
                Operation::Create => format!("a {kind} was created"),
                Operation::Update => format!("a {kind} was edited"),
                Operation::Delete => format!("a {kind} was deleted"),
                Operation::Approve => format!("a {kind} was approved (and numbered, F1)"),
                Operation::Reject => format!("a {kind} was rejected (F1)"),
                Operation::Settle => {
                    format!("an approved payment moved the {kind}'s paid amount (H5)")
                }
            };
            out.push(Entry {
                name: format!("{kind}.{}", operation.past()),
                subject: subject.clone(),
                actor: "api:<tenant> | module:<instance> | connector:<instance>",
                summary,
                data: change(kind, before, after),
            });
        }
        if numbered(kind) {
            let number = json!({
                "type": "object",
                "required": ["ledger_number"],
                "properties": {"ledger_number": {"type": "string"}}
            });
            out.push(Entry {
                name: format!("{kind}.numbered"),
                subject: subject.clone(),
                actor: "connector:<instance>",
                summary: format!("the ledger gave the {kind} its own number (S11)"),
                data: change(kind, number.clone(), number),
            });
        }
        for status in [SyncStatus::Synced, SyncStatus::Failed] {
            let Some(verb) = status.event_verb() else {
                continue;
            };
            let error = match status {
                SyncStatus::Failed => json!({"type": "string", "minLength": 1}),
                SyncStatus::Synced | SyncStatus::Pending => null(),
            };
            out.push(Entry {
                name: format!("{kind}.{verb}"),
                subject: subject.clone(),
                actor: "connector:<instance>",
                summary: match status {
                    SyncStatus::Failed => format!("the {kind} could not reach a ledger (F2)"),
                    SyncStatus::Synced | SyncStatus::Pending => {
                        format!("the {kind} is in the ledger (S20)")
                    }
                },
                data: json!({
                    "type": "object",
                    "required": ["kind", "id", "connector", "error"],
                    "additionalProperties": false,
                    "properties": {
                        "kind": {"const": kind.as_str()},
                        "id": {"type": "integer", "minimum": 1},
                        "connector": {"type": "string", "minLength": 1},
                        "error": error,
                    }
                }),
            });
        }
    }
    out.push(Entry {
        name: "sync.refused".into(),
        subject: "<instance>/<kind>/<remote id>".into(),
        actor: "connector:<instance>",
        summary: "a ledger record was refused on arrival, with why (S20)".into(),
        data: json!({
            "type": "object",
            "required": ["connector", "kind", "remote_id", "error"],
            "additionalProperties": false,
            "properties": {
                "connector": {"type": "string", "minLength": 1},
                "kind": {"type": "string", "minLength": 1},
                "remote_id": {"type": "string"},
                "error": {"type": "string", "minLength": 1},
            }
        }),
    });
    for (verb, before) in [("created", null()), ("updated", json!({"type": "object"}))] {
        out.push(Entry {
            name: format!("module.<instance>.<type>.{verb}"),
            subject: "module:<instance>:<type>:<record id>".into(),
            actor: "module:<instance>",
            summary: format!(
                "a module instance's record of a declared type was {verb} (the body meets the type's schema)"
            ),
            data: json!({
                "type": "object",
                "required": ["type", "id", "before", "after"],
                "additionalProperties": false,
                "properties": {
                    "type": {"type": "string", "minLength": 1},
                    "id": {"type": "string", "minLength": 1},
                    "before": before,
                    "after": {"type": "object"},
                }
            }),
        });
    }
    out.push(Entry {
        name: "module.<instance>.<name>".into(),
        subject: "module:<instance>:<data.id> | module:<instance>".into(),
        actor: "module:<instance>",
        summary: "an event a module instance emitted (`crm::emit`); its data is the module's own, documented by the module".into(),
        data: json!({}),
    });
    out
}

/// The entry an event name belongs to. Record events come before a
/// module's own events, whose `<name>` takes any rest of the name.
pub fn entry_for(entries: &[Entry], name: &str) -> Option<usize> {
    entries.iter().position(|e| e.takes(name))
}

/// `sdk/events.json`: the catalogue for tools.
pub fn to_json() -> String {
    let doc = json!({
        "about": "Event names the Hamgam host writes to the event log, with a JSON Schema of each event's data (the `data` of the envelope a module's on-event receives). Generated from host/src/events/catalogue.rs.",
        "envelope": {
            "type": "object",
            "required": ["id", "seq", "name", "subject", "actor", "at", "data"],
            "properties": {
                "id": {"type": "integer", "description": "the idempotency key"},
                "seq": {"type": "integer", "description": "the place in the tenant's log"},
                "name": {"type": "string"},
                "subject": {"type": "string"},
                "actor": {"type": "string"},
                "at": {"type": "string", "format": "date-time"},
                "data": {}
            }
        },
        "events": catalogue(),
    });
    let mut text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    text.push('\n');
    text
}

/// `sdk/EVENTS.md`: the catalogue for people.
pub fn to_markdown() -> String {
    let mut out = String::from(
        "# Event catalogue\n\n\
         <!-- Generated from host/src/events/catalogue.rs: edit that, then run\n\
         `HAMGAM_BLESS=1 cargo test -p hamgam --lib events::catalogue`. -->\n\n\
         Every event the host writes to a tenant's log, as a module's `on-event`\n\
         receives it (S20). The envelope is `{id, seq, name, subject, actor, at,\n\
         data}`; `id` is the idempotency key. A module subscribes by name, `*`\n\
         standing for any run of characters (`party.*`, `*.approved`). The JSON\n\
         Schema of each event's `data` is in [`events.json`](events.json).\n\n\
         For a CRM change, `data` is `{kind, id, before, after}`, each side the\n\
         record as the REST API shows it (`null` before a creation and after a\n\
         deletion).\n\n\
         | name | subject | actor | what happened |\n|---|---|---|---|\n",
    );
    for e in catalogue() {
        let _ = writeln!(
            out,
            "| `{}` | `{}` | `{}` | {} |",
            e.name,
            e.subject,
            e.actor.replace(" | ", "`, `"),
            e.summary
        );
    }
    out
}

/// Checks one logged event against the catalogue: a known name and data
/// that meets its schema.
pub fn check(name: &str, payload: &str) -> Result<(), String> {
    let entries = catalogue();
    let at = entry_for(&entries, name).ok_or_else(|| format!("`{name}` is not catalogued"))?;
    let data: Value =
        serde_json::from_str(payload).map_err(|e| format!("`{name}`: data is not JSON: {e}"))?;
    let validator = jsonschema::validator_for(&entries[at].data)
        .map_err(|e| format!("`{name}`: catalogue schema: {e}"))?;
    let errors: Vec<String> = validator
        .iter_errors(&data)
        .map(|e| format!("{} at `{}`", e, e.instance_path().as_str()))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "`{name}` ({}): {}",
            entries[at].name,
            errors.join("; ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The files an SDK user reads, as the catalogue renders them.
    fn sdk_file(name: &str) -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../sdk")
            .join(name)
    }

    #[test]
    fn s20_the_sdk_event_catalogue_files_are_the_hosts_catalogue() {
        for (file, text) in [("events.json", to_json()), ("EVENTS.md", to_markdown())] {
            let path = sdk_file(file);
            if std::env::var_os("HAMGAM_BLESS").is_some() {
                std::fs::write(&path, &text).expect("write the catalogue");
            }
            let shipped = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(
                shipped == text,
                "sdk/{file} is not what host/src/events/catalogue.rs renders: \
                 run `HAMGAM_BLESS=1 cargo test -p hamgam --lib events::catalogue`"
            );
        }
    }

    #[test]
    fn s20_every_name_is_catalogued_once_and_placeholders_take_one_word() {
        let entries = catalogue();
        let mut names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
        let all = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all, "a name twice");
        for e in &entries {
            jsonschema::validator_for(&e.data).expect(&e.name);
        }
        let find = |name: &str| entry_for(&entries, name).map(|i| entries[i].name.as_str());
        assert_eq!(find("party.created"), Some("party.created"));
        assert_eq!(find("sales_invoice.settled"), Some("sales_invoice.settled"));
        assert_eq!(find("quote.settled"), None, "only invoices are settled");
        assert_eq!(find("party.approved"), None, "parties are not approved");
        assert_eq!(
            find("module.petty-cash.bill.created"),
            Some("module.<instance>.<type>.created")
        );
        assert_eq!(
            find("module.petty-cash.bill_settled"),
            Some("module.<instance>.<name>")
        );
        assert_eq!(find("module..x"), None, "an instance is not empty");
        assert_eq!(find("nothing.happened"), None);
    }

    #[test]
    fn s20_a_payload_that_breaks_its_schema_is_named() {
        let ok = r#"{"kind":"party","id":3,"before":null,"after":{"id":3}}"#;
        check("party.created", ok).expect("a creation");
        let wrong = r#"{"kind":"party","id":3,"before":{"id":3},"after":{"id":3}}"#;
        let why = check("party.created", wrong).unwrap_err();
        assert!(why.contains("/before"), "{why}");
        let why = check("sync.refused", r#"{"connector":"s"}"#).unwrap_err();
        assert!(why.contains("remote_id"), "{why}");
        assert!(check("party.exploded", "{}").is_err());
    }
}
