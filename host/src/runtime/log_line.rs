//! Plugin text on its way into the host's log (P8): `log` messages and
//! stderr lines.
//!
//! A plugin writes what it likes. Written raw, a newline in a message
//! starts what looks like a new host log line ("… INFO hamgam: license
//! renewed"), a carriage return or an ANSI escape rewrites the terminal,
//! and Unicode line separators or bidirectional overrides make a line read
//! differently from what it holds. [`escape`] turns every such character
//! into visible text, so one plugin message is always exactly one line,
//! and it is bounded.

use std::borrow::Cow;
use std::fmt::Write;

/// Longest message kept, in characters of the plugin's text; the rest is
/// cut (and the cut marked) so one plugin cannot flood the log.
pub const MAX_CHARS: usize = 4096;

/// The message as one safe line: `\` → `\\`, `\n` → `\n`, `\r` → `\r`,
/// `\t` → `\t`, other control, line-separator and bidi-control characters
/// → `\u{…}`; longer than [`MAX_CHARS`], cut with `…[cut]`. Borrows when
/// nothing needs changing.
pub fn escape(message: &str) -> Cow<'_, str> {
    let too_long = message.chars().nth(MAX_CHARS).is_some();
    if !too_long && !message.chars().any(needs_escape) {
        return Cow::Borrowed(message);
    }
    let mut out = String::with_capacity(message.len().min(MAX_CHARS * 2) + 8);
    for c in message.chars().take(MAX_CHARS) {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if needs_escape(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    if too_long {
        out.push_str("…[cut]");
    }
    Cow::Owned(out)
}

fn needs_escape(c: char) -> bool {
    c == '\\'
        || c.is_control() // C0, DEL, C1 (incl. NEL U+0085)
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' // line and paragraph separators
                | '\u{200e}' | '\u{200f}' | '\u{061c}' // direction marks
                | '\u{202a}'..='\u{202e}' // embeddings and overrides
                | '\u{2066}'..='\u{2069}' // isolates
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p8_a_plugin_log_message_cannot_start_a_forged_log_line() {
        let forged =
            "paid\n2026-12-03T08:00:00Z  INFO hamgam::audit: capability used call=license.renew";
        let line = escape(forged);
        assert!(!line.contains('\n'), "{line}");
        assert_eq!(
            line,
            "paid\\n2026-12-03T08:00:00Z  INFO hamgam::audit: capability used call=license.renew"
        );
        for (raw, want) in [
            ("a\r\nb", "a\\r\\nb"),
            ("tab\there", "tab\\there"),
            ("\u{1b}[2Jclear", "\\u{1b}[2Jclear"),
            ("nul\0", "nul\\u{0}"),
            ("del\u{7f}", "del\\u{7f}"),
            ("nel\u{85}x", "nel\\u{85}x"),
            ("ls\u{2028}ps\u{2029}", "ls\\u{2028}ps\\u{2029}"),
            ("rlo\u{202e}txt.exe", "rlo\\u{202e}txt.exe"),
            ("iso\u{2066}x\u{2069}", "iso\\u{2066}x\\u{2069}"),
            // A backslash is escaped too, so `\n` typed by the plugin
            // cannot pass for an escaped newline.
            ("C:\\new", "C:\\\\new"),
            ("ok: فاکتور ۱۲ — done", "ok: فاکتور ۱۲ — done"),
        ] {
            assert_eq!(escape(raw), want, "{raw:?}");
        }
        assert!(matches!(escape("plain line"), Cow::Borrowed(_)));
    }

    #[test]
    fn p8_a_plugin_log_message_is_bounded() {
        let long = "ab\n".repeat(MAX_CHARS);
        let line = escape(&long);
        assert!(line.ends_with("…[cut]"));
        assert!(line.chars().count() <= MAX_CHARS * 2 + 8);
        assert!(!line.contains('\n'));
        let exact = "x".repeat(MAX_CHARS);
        assert_eq!(escape(&exact), exact);
    }
}
