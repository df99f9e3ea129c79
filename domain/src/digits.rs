//! Digit and letter normalisation for Persian-locale input.
//!
//! Iranian users type numbers with Persian digits (`۰`–`۹`, U+06F0..U+06F9),
//! Windows keyboards and older systems emit Arabic-Indic digits (`٠`–`٩`,
//! U+0660..U+0669), and ledgers store ASCII. Every parser in this crate runs
//! its input through [`normalize_digits`] first so `۶۲۵-۳۰۰` and `625-300` are
//! the same customer number.
//!
//! Names have the same problem with letters: Arabic yeh (`ي`, `ى`) and kaf
//! (`ك`) look like Persian yeh (`ی`) and keheh (`ک`) but compare unequal, so a
//! CRM search for a name typed on an Arabic keyboard misses the ledger's row.
//! [`normalize_persian_letters`] folds them for matching.

/// Value of a decimal digit in any of the three scripts (ASCII, Persian,
/// Arabic-Indic); `None` for anything else.
pub fn digit_value(c: char) -> Option<u8> {
    let v = match c {
        '0'..='9' => c as u32 - '0' as u32,
        '\u{06F0}'..='\u{06F9}' => c as u32 - 0x06F0,
        '\u{0660}'..='\u{0669}' => c as u32 - 0x0660,
        _ => return None,
    };
    // The ranges above are exactly ten code points wide, so `v` is 0..=9.
    u8::try_from(v).ok()
}

/// Replaces Persian and Arabic-Indic digits with ASCII digits; every other
/// character is kept as it is.
pub fn normalize_digits(input: &str) -> String {
    input
        .chars()
        .map(|c| match digit_value(c) {
            Some(v) => char::from(b'0' + v),
            None => c,
        })
        .collect()
}

/// Folds Arabic letter forms onto their Persian equivalents (yeh, alef
/// maksura → `ی`; kaf → `ک`) and normalises digits, for comparing names.
///
/// This is for matching and storage keys, not for display: it does not touch
/// other letters, diacritics or the zero-width non-joiner, because those carry
/// meaning in Persian spelling.
pub fn normalize_persian_letters(input: &str) -> String {
    input
        .chars()
        .map(|c| match c {
            '\u{064A}' | '\u{0649}' => '\u{06CC}',
            '\u{0643}' => '\u{06A9}',
            other => match digit_value(other) {
                Some(v) => char::from(b'0' + v),
                None => other,
            },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn persian_digits_become_ascii() {
        assert_eq!(normalize_digits("۱۴۰۳/۱۲/۳۰"), "1403/12/30");
        assert_eq!(normalize_digits("۰۱۲۳۴۵۶۷۸۹"), "0123456789");
    }

    #[test]
    fn arabic_indic_digits_become_ascii() {
        assert_eq!(normalize_digits("٠١٢٣٤٥٦٧٨٩"), "0123456789");
    }

    #[test]
    fn mixed_scripts_and_other_characters_are_kept() {
        assert_eq!(normalize_digits("QT-۱۴٠3-abc"), "QT-1403-abc");
        assert_eq!(normalize_digits(""), "");
        assert_eq!(normalize_digits("سلام"), "سلام");
    }

    #[test]
    fn digit_value_covers_all_three_scripts_and_nothing_else() {
        for (i, ((a, p), ar)) in "0123456789"
            .chars()
            .zip("۰۱۲۳۴۵۶۷۸۹".chars())
            .zip("٠١٢٣٤٥٦٧٨٩".chars())
            .enumerate()
        {
            let i = u8::try_from(i).unwrap();
            assert_eq!(digit_value(a), Some(i));
            assert_eq!(digit_value(p), Some(i));
            assert_eq!(digit_value(ar), Some(i));
        }
        assert_eq!(digit_value('a'), None);
        assert_eq!(digit_value('\u{06FA}'), None);
        assert_eq!(digit_value('\u{065F}'), None);
    }

    #[test]
    fn arabic_yeh_and_kaf_fold_to_persian() {
        // "علي كريمي" typed on an Arabic keyboard vs the Persian spelling.
        assert_eq!(normalize_persian_letters("علي كريمى"), "علی کریمی");
        assert_eq!(normalize_persian_letters("شرکت ۱۲"), "شرکت 12");
    }
}
