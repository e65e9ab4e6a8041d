//! Safe, bounded name text.

/// Longest value of one field, in bytes (UTF-8).
pub const FIELD_MAX_BYTES: usize = 64;

/// Longest name, extension and collision suffix included, in bytes (UTF-8).
pub const NAME_MAX_BYTES: usize = 128;

/// What an empty or missing value (or a value with nothing safe in it) becomes.
pub const PLACEHOLDER: &str = "unknown";

/// `text` made safe for a name, at most `max_bytes` long: letters and digits (any script),
/// `-`, `_` and `.` are kept; every other character (path separators, spaces, control
/// characters, emoji, quotes, braces…) becomes `_`; runs of `_` or `.` shrink to one; `.`, `_`
/// and `-` are trimmed at both ends (no hidden file, no `..`, nothing that reads as a flag).
/// Empty when nothing safe is left.
pub fn clean(text: &str, max_bytes: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max_bytes));
    for c in text.chars() {
        let c = if c.is_alphanumeric() || matches!(c, '-' | '.') {
            c
        } else {
            '_'
        };
        if matches!(c, '_' | '.') && out.ends_with(c) {
            continue;
        }
        out.push(c);
    }
    let trimmed = trim(&out);
    trim(truncate_utf8(trimmed, max_bytes)).to_string()
}

/// The longest prefix of `text` of at most `max_bytes` bytes that ends on a character boundary.
pub fn truncate_utf8(text: &str, max_bytes: usize) -> &str {
    if text.len() <= max_bytes {
        return text;
    }
    let end = (0..=max_bytes)
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0);
    &text[..end]
}

fn trim(text: &str) -> &str {
    text.trim_matches(|c| matches!(c, '.' | '_' | '-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_characters_become_one_underscore() {
        assert_eq!(clean("T1 axial / post", 64), "T1_axial_post");
        assert_eq!(clean("a\\b", 64), "a_b");
        assert_eq!(clean("a\0b\nc\u{7f}d\u{202e}e", 64), "a_b_c_d_e");
        assert_eq!(clean("x\"<>|:*?{}y", 64), "x_y");
        assert_eq!(clean("CT 😀 head", 64), "CT_head");
    }

    #[test]
    fn dots_cannot_climb_or_hide() {
        assert_eq!(clean("../../etc/passwd", 64), "etc_passwd");
        assert_eq!(clean("..", 64), "");
        assert_eq!(clean(".hidden", 64), "hidden");
        assert_eq!(clean("a..b...c", 64), "a.b.c");
        assert_eq!(clean("-rf", 64), "rf");
        assert_eq!(clean("end.", 64), "end");
    }

    #[test]
    fn letters_of_any_script_stay() {
        assert_eq!(clean("Schädel nativ", 64), "Schädel_nativ");
        assert_eq!(clean("頭部 単純", 64), "頭部_単純");
    }

    #[test]
    fn length_is_bounded_in_bytes_on_character_boundaries() {
        assert_eq!(clean(&"a".repeat(1000), 64), "a".repeat(64));
        // 3-byte characters: 21 fit in 64 bytes, the 22nd would be cut in half.
        let kept = clean(&"頭".repeat(1000), 64);
        assert_eq!(kept, "頭".repeat(21));
        assert_eq!(truncate_utf8("aé", 2), "a");
        assert_eq!(truncate_utf8("aé", 3), "aé");
        // A cut that ends on a separator does not leave it trailing.
        assert_eq!(clean("abc def", 4), "abc");
    }

    #[test]
    fn nothing_safe_leaves_nothing() {
        assert_eq!(clean("", 64), "");
        assert_eq!(clean(" / \\ \0 ", 64), "");
        assert_eq!(clean("😀😀", 64), "");
    }
}
