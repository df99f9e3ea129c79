//! `cargo xtask vocabulary`: no string literal in `host/src` names an
//! entity kind or a status outside the enums that define them (issue 14).
//!
//! The words are read from the enums' own definitions
//! (`host/src/crm/kinds.rs`, the `vocabulary!` blocks): entity kinds,
//! outbox and link statuses, link origins. A Rust string literal that is
//! exactly one of them, or that holds one as an SQL literal (`'pending'`),
//! is reported as file:line. Operations (`create`, `delete`…) are left
//! out: the same words name WIT functions and HTTP verbs.

use crate::layers::literals;
use anyhow::{Context, Result, bail};
use std::fs;
use std::path::{Path, PathBuf};

/// Where the words are defined, and so may be spelled.
const DEFINITIONS: &[&str] = &[
    "host/src/crm/kinds.rs",
    // DocumentKind, PaymentKind and the approval Status: the CRM's own
    // enums, whose stored names are the same words.
    "host/src/crm/mod.rs",
];

/// The enums whose names the check guards.
const GUARDED: &[&str] = &[
    "EntityKind",
    "OutboxStatus",
    "LinkStatus",
    "SyncStatus",
    "DeliveryStatus",
];

/// The stored names of the guarded enums, from their `vocabulary!` blocks.
pub fn words(kinds_rs: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for enum_name in GUARDED {
        let start = kinds_rs
            .find(&format!("vocabulary!({enum_name},"))
            .with_context(|| format!("no vocabulary!({enum_name}, …) in crm/kinds.rs"))?;
        let block = &kinds_rs[start..];
        let end = block
            .find("]);")
            .context("unterminated vocabulary! block")?;
        for (_, text) in literals(&block[..end]).into_iter().skip(1) {
            out.push(text);
        }
    }
    if out.is_empty() {
        bail!("crm/kinds.rs defines no words");
    }
    Ok(out)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            rust_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

/// Whether a literal's text names one of `words`.
pub fn names_a_word(text: &str, words: &[String]) -> Option<String> {
    words
        .iter()
        .find(|w| text == w.as_str() || text.contains(&format!("'{w}'")))
        .cloned()
}

/// Every literal outside the definitions that names a guarded word, as
/// (file, line, word).
pub fn check(root: &Path) -> Result<Vec<(PathBuf, usize, String)>> {
    let words = words(&fs::read_to_string(root.join(DEFINITIONS[0]))?)?;
    let mut files = Vec::new();
    rust_files(&root.join("host/src"), &mut files)?;
    files.sort();
    let mut out = Vec::new();
    for file in files {
        let rel = file.strip_prefix(root).unwrap_or(&file).to_path_buf();
        if DEFINITIONS.iter().any(|d| rel == Path::new(d)) {
            continue;
        }
        for (line, text) in literals(&fs::read_to_string(&file)?) {
            if let Some(word) = names_a_word(&text, &words) {
                out.push((rel.clone(), line, word));
            }
        }
    }
    Ok(out)
}

/// The `vocabulary` task.
pub fn vocabulary(root: &Path) -> Result<()> {
    let found = check(root)?;
    for (file, line, word) in &found {
        eprintln!(
            "{}:{line}: the literal names {word:?}; use the enum in crm/kinds.rs",
            file.display()
        );
    }
    if !found.is_empty() {
        bail!("{} literal(s) name an entity kind or status", found.len());
    }
    eprintln!("vocabulary: no literal names an entity kind or status outside its enum");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_come_from_the_enum_blocks_and_match_whole_literals_or_sql_literals() {
        let kinds = r#"vocabulary!(EntityKind, "entity kind", [ Party => "party", Quote => "quote" ]);
vocabulary!(OutboxStatus, "outbox status", [ Pending => "pending" ]);
vocabulary!(LinkStatus, "link status", [ Synced => "synced" ]);
vocabulary!(SyncStatus, "sync status", [ Failed => "failed" ]);
vocabulary!(DeliveryStatus, "delivery status", [ Done => "done" ]);"#;
        let words = words(kinds).unwrap();
        assert_eq!(
            words,
            ["party", "quote", "pending", "synced", "failed", "done"]
        );
        assert_eq!(names_a_word("quote", &words), Some("quote".into()));
        assert_eq!(
            names_a_word("SELECT 1 WHERE status = 'pending'", &words),
            Some("pending".into())
        );
        // Words inside prose or other names are not flagged.
        assert_eq!(names_a_word("quote {id} is pending", &words), None);
        assert_eq!(names_a_word("crm_outbox", &words), None);
        assert_eq!(names_a_word("crm_parties", &words), None);
    }
}
