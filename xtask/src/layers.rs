//! `cargo xtask layers`: the host's modules use only the floors below them.
//!
//! The floor order is declared once, in ARCHITECTURE.md ("The host",
//! the first line of the code block under "Floors"), so the map people
//! read is the rule the check applies. Every `crate::<module>` path (also
//! `$crate::`, `use crate::{a, b}` and a `super::` chain that climbs to the
//! crate root) in code — not in comments or string literals — must name
//! the file's own module or one on a lower floor. A violation is reported
//! as `file:line: <floor> uses crate::<module> (floor above it)`.

use anyhow::{Context, Result, bail};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// Names in the floor line that are not modules of `host/src`.
const OUTSIDE: &[&str] = &["main", "hamgam-domain", "hamgam-trust", "lib"];

/// The floors, top first, from ARCHITECTURE.md: each a set of module names.
pub fn floors(architecture: &str) -> Result<Vec<Vec<String>>> {
    let start = architecture
        .find("Floors, each using only those below it:")
        .context("ARCHITECTURE.md has no \"Floors, each using only those below it:\"")?;
    let rest = &architecture[start..];
    let fence = rest.find("```").context("no code block after \"Floors\"")?;
    let line = rest[fence..]
        .lines()
        .nth(1)
        .context("empty code block after \"Floors\"")?;
    let mut out = Vec::new();
    for floor in line.split('→') {
        // `plugins (licensing, registry)`: the parenthesis is a gloss.
        let floor = floor.split('(').next().unwrap_or("");
        let names: Vec<String> = floor
            .split(',')
            .map(|n| n.trim().trim_end_matches(".rs").to_owned())
            .filter(|n| !n.is_empty())
            .collect();
        if !names.is_empty() {
            out.push(names);
        }
    }
    if out.len() < 2 {
        bail!("the floor line {line:?} names fewer than two floors");
    }
    Ok(out)
}

/// One use of a module on a higher floor.
#[derive(Debug, PartialEq, Eq)]
pub struct Violation {
    /// File, relative to the workspace.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// The file's module.
    pub module: String,
    /// The path it uses.
    pub path: String,
}

/// Code with comments and string/char literals blanked out (newlines
/// kept, so byte offsets still give line numbers).
pub fn code_only(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    let blank = |out: &mut Vec<u8>, c: u8| out.push(if c == b'\n' { b'\n' } else { b' ' });
    while i < b.len() {
        let c = b[i];
        if c == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && b[i] != b'\n' {
                out.push(b' ');
                i += 1;
            }
        } else if c == b'/' && b.get(i + 1) == Some(&b'*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                    depth += 1;
                    out.extend([b' ', b' ']);
                    i += 2;
                } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                    depth -= 1;
                    out.extend([b' ', b' ']);
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    blank(&mut out, b[i]);
                    i += 1;
                }
            }
        } else if let Some(len) = string_at(b, i) {
            for &c in &b[i..i + len] {
                blank(&mut out, c);
            }
            i += len;
        } else {
            out.push(c);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The string literals of `src` outside comments, as (line, text between
/// the quotes, escapes left as written). Char literals are left out.
pub fn literals(src: &str) -> Vec<(usize, String)> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'/' && b.get(i + 1) == Some(&b'/') {
            i = src[i..].find('\n').map_or(b.len(), |e| i + e);
        } else if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                    depth += 1;
                    i += 2;
                } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if let Some(len) = string_at(b, i) {
            let text = &src[i..i + len];
            if let (Some(open), Some(close)) = (text.find('"'), text.rfind('"'))
                && close > open
            {
                let line = src[..i].matches('\n').count() + 1;
                out.push((line, text[open + 1..close].to_owned()));
            }
            i += len;
        } else {
            i += 1;
        }
    }
    out
}

/// The length of a string, byte-string, raw-string or char literal
/// starting at `i`, if one does.
fn string_at(b: &[u8], i: usize) -> Option<usize> {
    let prev_ident = i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_');
    let mut j = i;
    if !prev_ident && b[j] == b'b' && matches!(b.get(j + 1), Some(b'"' | b'r' | b'\'')) {
        j += 1;
    }
    if !prev_ident && b.get(j) == Some(&b'r') && matches!(b.get(j + 1), Some(b'"' | b'#')) {
        let mut k = j + 1;
        let mut hashes = 0;
        while b.get(k) == Some(&b'#') {
            hashes += 1;
            k += 1;
        }
        if b.get(k) != Some(&b'"') {
            return None;
        }
        k += 1;
        while k < b.len() {
            if b[k] == b'"'
                && b[k + 1..]
                    .iter()
                    .take(hashes)
                    .filter(|&&h| h == b'#')
                    .count()
                    == hashes
            {
                return Some(k + 1 + hashes - i);
            }
            k += 1;
        }
        return Some(b.len() - i);
    }
    match b.get(j) {
        Some(b'"') if j == i || b[i] == b'b' => {
            let mut k = j + 1;
            while k < b.len() {
                match b[k] {
                    b'\\' => k += 2,
                    b'"' => return Some(k + 1 - i),
                    _ => k += 1,
                }
            }
            Some(b.len() - i)
        }
        // A char literal, not a lifetime: `'x'`, `'\n'`, `'\u{..}'`.
        Some(b'\'') => {
            let k = j + 1;
            if b.get(k) == Some(&b'\\') {
                let end = b[k..].iter().position(|&c| c == b'\'')?;
                return Some(k + end + 1 - i);
            }
            let ch = std::str::from_utf8(&b[k..(k + 4).min(b.len())])
                .ok()
                .or_else(|| std::str::from_utf8(&b[k..(k + 1).min(b.len())]).ok())
                .and_then(|s| s.chars().next())?;
            let after = k + ch.len_utf8();
            (b.get(after) == Some(&b'\'')).then_some(after + 1 - i)
        }
        _ => None,
    }
}

fn ident_at(s: &str, i: usize) -> &str {
    let end = s[i..]
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .map_or(s.len(), |e| i + e);
    &s[i..end]
}

/// The top-level modules a file's code names by path from the crate root.
/// `depth`: how many `super::` reach the crate root from the file.
pub fn crate_paths(code: &str, depth: usize) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    let line_of = |at: usize| code[..at].matches('\n').count() + 1;
    let mut i = 0;
    while let Some(found) = code[i..].find("crate::") {
        let at = i + found;
        i = at + "crate::".len();
        let before = at.checked_sub(1).map(|p| bytes[p]);
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_') {
            continue;
        }
        if bytes.get(i) == Some(&b'{') {
            // `crate::{a, b::c}`: the first name of each item at depth one.
            let mut level = 0;
            let mut j = i;
            let mut expect = true;
            while j < bytes.len() {
                match bytes[j] {
                    b'{' => {
                        level += 1;
                        expect = level == 1;
                    }
                    b'}' => {
                        level -= 1;
                        if level == 0 {
                            break;
                        }
                    }
                    b',' if level == 1 => expect = true,
                    c if expect && (c.is_ascii_alphabetic() || c == b'_') => {
                        out.push((line_of(j), ident_at(code, j).to_owned()));
                        expect = false;
                    }
                    _ => {}
                }
                j += 1;
            }
        } else {
            out.push((line_of(at), ident_at(code, i).to_owned()));
        }
    }
    if depth > 0 {
        let chain = "super::".repeat(depth);
        let mut i = 0;
        while let Some(found) = code[i..].find(&chain) {
            let at = i + found;
            i = at + chain.len();
            let before = at.checked_sub(1).map(|p| bytes[p]);
            if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b':') {
                continue;
            }
            let name = ident_at(code, i);
            if name != "super" {
                out.push((line_of(at), name.to_owned()));
            }
        }
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            rust_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

/// Every use of a higher floor in `host/src`.
pub fn check(root: &Path) -> Result<Vec<Violation>> {
    let architecture = fs::read_to_string(root.join("ARCHITECTURE.md"))?;
    let floors = floors(&architecture)?;
    let mut floor_of: BTreeMap<String, usize> = BTreeMap::new();
    for (n, names) in floors.iter().enumerate() {
        for name in names {
            floor_of.insert(name.clone(), floors.len() - n);
        }
    }
    let src = root.join("host/src");
    // Every module of the host has a floor, and every floor is a module.
    let mut modules = Vec::new();
    for entry in fs::read_dir(&src)? {
        let path = entry?.path();
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_owned();
        if path.is_dir() || path.extension().is_some_and(|e| e == "rs") {
            modules.push(name);
        }
    }
    for m in &modules {
        if !floor_of.contains_key(m) && !OUTSIDE.contains(&m.as_str()) {
            bail!("host/src/{m} is on no floor: add it to the Floors line of ARCHITECTURE.md");
        }
    }
    for name in floor_of.keys() {
        if !modules.contains(name) && !OUTSIDE.contains(&name.as_str()) {
            bail!("the Floors line of ARCHITECTURE.md names {name}, which host/src does not have");
        }
    }
    let mut files = Vec::new();
    rust_files(&src, &mut files)?;
    files.sort();
    let mut out = Vec::new();
    for file in files {
        let rel = file.strip_prefix(&src).unwrap_or(&file);
        let parts: Vec<&str> = rel.iter().filter_map(|p| p.to_str()).collect();
        let module = parts[0].trim_end_matches(".rs").to_owned();
        let Some(&own) = floor_of.get(&module) else {
            continue; // main.rs, lib.rs
        };
        // host/src/sync/policy.rs is crate::sync::policy: two `super::`
        // reach the root; a mod.rs is its directory's module.
        let depth = parts.len() - usize::from(parts.last() == Some(&"mod.rs"));
        let code = code_only(&fs::read_to_string(&file)?);
        for (line, used) in crate_paths(&code, depth) {
            if used == module {
                continue;
            }
            if let Some(&theirs) = floor_of.get(&used)
                && theirs >= own
            {
                out.push(Violation {
                    file: Path::new("host/src").join(rel),
                    line,
                    module: module.clone(),
                    path: format!("crate::{used}"),
                });
            }
        }
    }
    Ok(out)
}

/// The `layers` task.
pub fn layers(root: &Path) -> Result<()> {
    let found = check(root)?;
    for v in &found {
        eprintln!(
            "{}:{}: {} uses {} (not a floor below it; see ARCHITECTURE.md, Floors)",
            v.file.display(),
            v.line,
            v.module,
            v.path
        );
    }
    if !found.is_empty() {
        bail!("{} use(s) of a higher floor", found.len());
    }
    eprintln!("layers: every host module uses only the floors below it");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_floor_line_is_read_top_first_with_glosses_dropped() {
        let doc = "Floors, each using only those below it:\n\n```\nmain.rs (CLI) → server, testing → api → plugins (licensing, registry) → crm → hamgam-domain\n   ↘ x\n```\n";
        let floors = floors(doc).unwrap();
        assert_eq!(
            floors,
            vec![
                vec!["main".to_owned()],
                vec!["server".to_owned(), "testing".to_owned()],
                vec!["api".to_owned()],
                vec!["plugins".to_owned()],
                vec!["crm".to_owned()],
                vec!["hamgam-domain".to_owned()],
            ]
        );
    }

    #[test]
    fn paths_in_code_count_and_those_in_comments_and_strings_do_not() {
        let src = r##"use crate::api::AppState; // crate::sync in a comment
/* crate::server */ let s = "crate::state"; let c = '"'; let l: &'static str = x;
use crate::{store::Db, crm};
$crate::store::Tx
let r = r#"crate::x"#; super::super::sync::run();
"##;
        let code = code_only(src);
        let found = crate_paths(&code, 2);
        assert_eq!(
            found,
            vec![
                (1, "api".to_owned()),
                (3, "store".to_owned()),
                (3, "crm".to_owned()),
                (4, "store".to_owned()),
                (5, "sync".to_owned()),
            ]
        );
    }
}
