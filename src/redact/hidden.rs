//! Characters that are invisible or reorder text: a way to hide instructions from a person
//! reading what the model reads. Stripped from vendor text before it reaches a client.

use std::borrow::Cow;

/// Whether a character is invisible, reorders text, or only changes how its neighbour looks.
pub fn is_hidden_char(c: char) -> bool {
    matches!(c,
        '\u{0000}'..='\u{0008}' | '\u{000B}' | '\u{000C}' | '\u{000E}'..='\u{001F}' | '\u{007F}'..='\u{009F}'
        | '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}'
        | '\u{180B}'..='\u{180F}'
        | '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}'
        | '\u{FFA0}' | '\u{FFF9}'..='\u{FFFB}'
        | '\u{E0000}'..='\u{E007F}' | '\u{E0100}'..='\u{E01EF}')
}

/// Whether `text` holds a hidden character. ASCII text (nearly all of it) is checked a byte at
/// a time; only text with non-ASCII bytes is decoded.
pub fn has_hidden(text: &str) -> bool {
    let suspicious = text
        .bytes()
        .any(|b| (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r')) || b >= 0x7f);
    suspicious && text.chars().any(is_hidden_char)
}

/// Removes control and invisible characters; keeps newlines and tabs.
pub fn sanitize_text(text: &str) -> Cow<'_, str> {
    if has_hidden(text) {
        Cow::Owned(text.chars().filter(|c| !is_hidden_char(*c)).collect())
    } else {
        Cow::Borrowed(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_what_hides_and_keeps_what_reads() {
        for c in [
            '\u{FE0F}',
            '\u{E0100}',
            '\u{E01EF}',
            '\u{034F}',
            '\u{115F}',
            '\u{1160}',
            '\u{3164}',
            '\u{180B}',
            '\u{2028}',
            '\u{2029}',
            '\u{202E}',
            '\u{200B}',
            '\u{E0041}',
        ] {
            let text = format!("a{c}b");
            assert_eq!(sanitize_text(&text), "ab", "U+{:04X}", c as u32);
        }
        for kept in ["line1\nline2\tx", "café", "日本語", "emoji 🎉"] {
            assert_eq!(sanitize_text(kept), kept);
        }
    }
}
