//! Text that came from a file nobody here wrote, on its way in and on its way out.
//!
//! Keys, names, notes and vocabulary text travel between machines inside project files, manifests
//! and answer tables. A terminal takes some characters as commands rather than text: ESC starts
//! sequences that retitle the window, write the clipboard (OSC 52) or clear the screen; CR and LF
//! forge lines; the C1 controls (U+0080..U+009F) are the same commands in one character on some
//! terminals; the bidirectional overrides and isolates reorder what is shown after them. So:
//!
//! - at the door, every importer, `init` and `merge` refuse such characters in the text they
//!   store ([`check`]), naming the file and line (or the source file and row);
//! - on the way out, everything that prints or draws text from a project or a file passes it
//!   through [`display`], which shows each such character as a visible escape (`\x1b`,
//!   `\u{202e}`): files made before the door was closed, and error messages that quote the
//!   offending text, reach the screen as text.
//!
//! Exports write the data as it is stored: they are data for other programs, not a screen.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether `c` is refused at the door and escaped on the way out: C0 controls (tab and line
/// breaks included), DEL, C1 controls, the bidirectional embeddings, overrides and isolates
/// (U+202A..U+202E, U+2066..U+2069), and the Unicode line and paragraph separators.
pub fn is_unsafe(c: char) -> bool {
    c.is_control() // C0, DEL, C1
        || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{2028}' | '\u{2029}')
}

/// `s` with every [`is_unsafe`] character written as a visible escape: `\x1b` for a character
/// below U+0100, `\u{202e}` above. Borrowed (no copy) when there is nothing to escape, which is
/// nearly always. Escaping is idempotent: what it returns contains nothing it would escape.
pub fn display(s: &str) -> Cow<'_, str> {
    display_keeping(s, &[])
}

/// [`display`] for a whole message of several lines that labelvet put together (a report, an
/// error with its causes): line breaks and tabs stay, everything else unsafe is escaped.
pub fn display_lines(s: &str) -> Cow<'_, str> {
    display_keeping(s, &['\n', '\t'])
}

fn display_keeping<'a>(s: &'a str, keep: &[char]) -> Cow<'a, str> {
    let escape = |c: char| is_unsafe(c) && !keep.contains(&c);
    let Some(first) = s.find(escape) else {
        return Cow::Borrowed(s);
    };
    let mut out = String::with_capacity(s.len() + 8);
    out.push_str(&s[..first]);
    for c in s[first..].chars() {
        if escape(c) {
            push_escape(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// [`display`] of a path (a file name can hold control characters as well as any text).
pub fn display_path(p: &std::path::Path) -> String {
    display(&p.display().to_string()).into_owned()
}

fn push_escape(out: &mut String, c: char) {
    let n = u32::from(c);
    if n < 0x100 {
        let _ = write!(out, "\\x{n:02x}");
    } else {
        let _ = write!(out, "\\u{{{n:x}}}");
    }
}

/// The name of an unsafe character for a refusal: `ESC (U+001B)`, `U+202E (right-to-left
/// override)`.
fn name(c: char) -> String {
    const C0: [&str; 32] = [
        "NUL", "SOH", "STX", "ETX", "EOT", "ENQ", "ACK", "BEL", "BS", "TAB", "LF", "VT", "FF",
        "CR", "SO", "SI", "DLE", "DC1", "DC2", "DC3", "DC4", "NAK", "SYN", "ETB", "CAN", "EM",
        "SUB", "ESC", "FS", "GS", "RS", "US",
    ];
    let n = u32::from(c);
    let what = match n {
        0..=0x1f => C0[n as usize],
        0x7f => "DEL",
        0x80..=0x9f => "a C1 control",
        0x202a..=0x202e | 0x2066..=0x2069 => "a bidirectional override",
        _ => "a line separator",
    };
    format!("{what} (U+{n:04X})")
}

/// Why a piece of text was refused: its first unsafe character and where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unsafe {
    pub ch: char,
    /// The character's position in the text, from 1.
    pub at: usize,
}

impl std::fmt::Display for Unsafe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "contains a control character, {} at character {}",
            name(self.ch),
            self.at
        )
    }
}

/// The first character of `s` that the door refuses ([`is_unsafe`]), a tab allowed when
/// `tab_allowed` (free text in a format where a tab is only text).
pub fn check(s: &str, tab_allowed: bool) -> Result<(), Unsafe> {
    // Nearly all text is printable ASCII; a byte test the compiler vectorizes settles it
    // without decoding characters (a merge checks several fields of every event).
    if s.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Ok(());
    }
    match s
        .chars()
        .enumerate()
        .find(|&(_, c)| is_unsafe(c) && !(tab_allowed && c == '\t'))
    {
        Some((i, ch)) => Err(Unsafe { ch, at: i + 1 }),
        None => Ok(()),
    }
}

/// [`check`] as the sentence of a refusal: `{what} "{escaped text}" contains a control
/// character, ESC (U+001B) at character 3`. `what` names the field ("image key", "annotator").
pub fn check_field(what: &str, s: &str) -> Result<(), String> {
    check(s, false).map_err(|u| format!("{what} \"{}\" {u}", display(&clip(s, 80))))
}

/// At most `max` characters of `s`, with `…` when cut, so that a refusal quoting a huge field
/// stays one line.
pub fn clip(s: &str, max: usize) -> Cow<'_, str> {
    match s.char_indices().nth(max) {
        None => Cow::Borrowed(s),
        Some((i, _)) => Cow::Owned(format!("{}…", &s[..i])),
    }
}

/// `s` in Unicode NFC: one spelling for what looks like one name (`é` as one character, not
/// `e` and a combining accent).
pub fn nfc(s: &str) -> Cow<'_, str> {
    use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfc_quick};
    match is_nfc_quick(s.chars()) {
        IsNormalized::Yes => Cow::Borrowed(s),
        _ => {
            let n: String = s.nfc().collect();
            if n == s {
                Cow::Borrowed(s)
            } else {
                Cow::Owned(n)
            }
        }
    }
}

/// Characters that draw as nothing (Unicode's default-ignorable code points: zero-width space
/// and joiners, soft hyphen, variation selectors, invisible operators, tags...).
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}'
        | '\u{FFA0}' | '\u{FFF0}'..='\u{FFF8}' | '\u{1BCA0}'..='\u{1BCA3}'
        | '\u{1D173}'..='\u{1D17A}' | '\u{E0000}'..='\u{E0FFF}')
}

/// What a name looks like: its UTS 39 confusable skeleton (through `unicode-security`) with the
/// invisible characters taken out. Two names with one skeleton cannot be told apart on a
/// screen: `alice`, `alice` with a zero-width space, with a Cyrillic `а`, with a dotless `ı`.
pub fn look(name: &str) -> String {
    let visible: String = name.chars().filter(|&c| !is_invisible(c)).collect();
    unicode_security::skeleton(&visible).collect()
}

/// The annotator names of a project, to admit new ones that cannot be mistaken for them.
///
/// A name must be in NFC (importers normalise it; a merged file must already hold it so) and
/// must not look like another name ([`look`]) without being it. The names already in a project
/// are taken as they are, even when two of them look alike (files made before this check).
#[derive(Debug, Default)]
pub struct NameSet {
    /// look -> the spellings with that look
    by_look: std::collections::HashMap<String, Vec<String>>,
    known: std::collections::HashSet<String>,
}

impl NameSet {
    /// The names a project already holds.
    pub fn new<'a>(existing: impl IntoIterator<Item = &'a str>) -> Self {
        let mut set = NameSet::default();
        for name in existing {
            set.insert(name);
        }
        set
    }

    fn insert(&mut self, name: &str) {
        if self.known.insert(name.to_string()) {
            self.by_look
                .entry(look(name))
                .or_default()
                .push(name.to_string());
        }
    }

    /// Admits `name` (and remembers it), or says why not: not NFC, or looking like another
    /// name, both spellings shown with their invisible and look-alike characters written out.
    pub fn admit(&mut self, name: &str) -> Result<(), String> {
        if self.known.contains(name) {
            return Ok(());
        }
        if nfc(name) != name {
            return Err(format!(
                "annotator name \"{}\" is not in Unicode NFC form (its accents are separate \
                 characters); labelvet stores names in NFC",
                reveal(name)
            ));
        }
        if let Some(other) = self.by_look.get(&look(name)).and_then(|v| v.first()) {
            return Err(format!(
                "annotator name \"{}\" looks the same as \"{}\" but is spelled differently \
                 (invisible or look-alike characters); one person would count as two",
                reveal(name),
                reveal(other)
            ));
        }
        self.insert(name);
        Ok(())
    }
}

/// A name with every character that draws as nothing, combines with the one before, or looks
/// like another written as `\u{...}`, so that two look-alike spellings differ on screen.
pub fn reveal(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        let odd = is_unsafe(c)
            || is_invisible(c)
            || unicode_normalization::char::is_combining_mark(c)
            || (!c.is_ascii() && look(&c.to_string()) != c.to_string());
        if odd {
            push_escape(&mut out, c);
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_a_terminal_would_obey_and_nothing_else() {
        assert_eq!(display("alice"), "alice");
        assert!(matches!(display("ünïcode 名前 ✓"), Cow::Borrowed(_)));
        assert_eq!(
            display("\x1b]0;pwned\x07\x1b[31m"),
            "\\x1b]0;pwned\\x07\\x1b[31m"
        );
        assert_eq!(
            display("a\nb\rc\td\x7f\u{9b}"),
            "a\\x0ab\\x0dc\\x09d\\x7f\\x9b"
        );
        assert_eq!(display("abc\u{202e}fed"), "abc\\u{202e}fed");
        assert_eq!(display("\u{2066}x\u{2069}"), "\\u{2066}x\\u{2069}");
        assert_eq!(display_lines("one\n\ttwo\x1b"), "one\n\ttwo\\x1b");
    }

    #[test]
    fn check_names_the_character_and_where_it_is() {
        assert_eq!(check("fine name", false), Ok(()));
        assert_eq!(check("a\tb", true), Ok(()));
        let u = check("ab\x1b[2J", false).unwrap_err();
        assert_eq!(u, Unsafe { ch: '\x1b', at: 3 });
        assert_eq!(
            u.to_string(),
            "contains a control character, ESC (U+001B) at character 3"
        );
        assert_eq!(
            check_field("annotator", "x\u{202e}y").unwrap_err(),
            "annotator \"x\\u{202e}y\" contains a control character, a bidirectional override \
             (U+202E) at character 2"
        );
    }

    #[test]
    fn look_alike_names_are_refused_with_both_spellings() {
        let mut names = NameSet::new(["alice", "bob"]);
        assert_eq!(names.admit("alice"), Ok(()));
        assert_eq!(names.admit("carol"), Ok(()));
        for lookalike in ["al\u{200b}ice", "\u{430}lice", "al\u{131}ce"] {
            let e = names.admit(lookalike).unwrap_err();
            assert!(e.contains("looks the same as \"alice\""), "{e}");
            assert!(e.contains("\\u{"), "the odd character is written out: {e}");
        }
        let e = names.admit("Jose\u{301}").unwrap_err();
        assert!(e.contains("NFC"), "{e}");
        assert_eq!(nfc("Jose\u{301}"), "Jos\u{e9}");
        assert_eq!(names.admit("Jos\u{e9}"), Ok(()));
        // Names unlike any other are welcome, whatever their script.
        assert_eq!(names.admit("Алёна"), Ok(()));
        assert_eq!(names.admit("名前"), Ok(()));
    }

    #[test]
    fn clip_cuts_on_characters() {
        assert_eq!(clip("ééé", 2), "éé…");
        assert_eq!(clip("ab", 2), "ab");
    }
}
