//! Keys as data: a table from key presses to actions, with defaults and an optional TOML file
//! that remaps them, in the spirit of atuin's keybindings.
//!
//! Annotators spend hours on one hand position, so they must be able to move any action to any
//! key; the help screen and the status line are drawn from the same table, so they never lie about
//! a remapped key. A bad file is refused before the screen opens, naming its line.
//!
//! ```toml
//! # ~/.config/labelvet/keys.toml
//! defaults = true            # start from the default keys (false: from none)
//! [keys]
//! "l" = "next-image"
//! "h" = "prev-image"
//! "x" = "none"               # unbind a default key
//! ```

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde::Deserialize;

use crate::error::{Error, Result};

/// What a key does on the annotation screen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    Yes,
    No,
    Maybe,
    Undo,
    Skip,
    NextCandidate,
    PrevCandidate,
    /// Jump to the candidate numbered 1..=9 on screen.
    Candidate(u8),
    NextImage,
    PrevImage,
    Flag,
    GoTo,
    Zoom,
    Reference,
    Help,
    Quit,
}

impl Action {
    /// Every action, in the order the help screen lists them.
    pub fn all() -> Vec<Action> {
        let mut v = vec![
            Action::Yes,
            Action::No,
            Action::Maybe,
            Action::Undo,
            Action::Skip,
            Action::NextCandidate,
            Action::PrevCandidate,
        ];
        v.extend((1..=9).map(Action::Candidate));
        v.extend([
            Action::NextImage,
            Action::PrevImage,
            Action::Flag,
            Action::GoTo,
            Action::Zoom,
            Action::Reference,
            Action::Help,
            Action::Quit,
        ]);
        v
    }

    /// The name used in key files.
    pub fn name(self) -> String {
        match self {
            Action::Yes => "yes".into(),
            Action::No => "no".into(),
            Action::Maybe => "maybe".into(),
            Action::Undo => "undo".into(),
            Action::Skip => "skip".into(),
            Action::NextCandidate => "next-candidate".into(),
            Action::PrevCandidate => "prev-candidate".into(),
            Action::Candidate(n) => format!("candidate-{n}"),
            Action::NextImage => "next-image".into(),
            Action::PrevImage => "prev-image".into(),
            Action::Flag => "flag".into(),
            Action::GoTo => "go-to".into(),
            Action::Zoom => "zoom".into(),
            Action::Reference => "reference".into(),
            Action::Help => "help".into(),
            Action::Quit => "quit".into(),
        }
    }

    pub fn parse(s: &str) -> Option<Action> {
        Action::all().into_iter().find(|a| a.name() == s.trim())
    }

    /// What the action does, for the help screen.
    pub fn describe(self) -> String {
        match self {
            Action::Yes => "yes: the label is in the image".into(),
            Action::No => "no: the label is not in the image".into(),
            Action::Maybe => "maybe: cannot tell".into(),
            Action::Undo => "undo this session's last answer (repeatable)".into(),
            Action::Skip => "skip: leave this candidate open for later".into(),
            Action::NextCandidate => "next candidate".into(),
            Action::PrevCandidate => "previous candidate".into(),
            Action::Candidate(n) => format!("candidate {n}"),
            Action::NextImage => "next image".into(),
            Action::PrevImage => "previous image".into(),
            Action::Flag => "flag the image: broken, ambiguous, needs an expert".into(),
            Action::GoTo => "go to an image by key".into(),
            Action::Zoom => "zoom: the image alone, full screen".into(),
            Action::Reference => {
                "reference: other images of this class, confirmed by annotators".into()
            }
            Action::Help => "this help".into(),
            Action::Quit => "quit (every answer is already saved)".into(),
        }
    }
}

/// One key press: a key code and the ctrl/alt modifiers. Shift is in the character itself
/// (`Y` is shift-y), as terminals report it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    pub code: KeyCode,
    pub ctrl: bool,
    pub alt: bool,
}

impl Key {
    pub const fn plain(code: KeyCode) -> Key {
        Key {
            code,
            ctrl: false,
            alt: false,
        }
    }

    pub const fn char(c: char) -> Key {
        Key::plain(KeyCode::Char(c))
    }

    pub fn from_event(ev: &KeyEvent) -> Key {
        Key {
            code: ev.code,
            ctrl: ev.modifiers.contains(KeyModifiers::CONTROL),
            alt: ev.modifiers.contains(KeyModifiers::ALT),
        }
    }

    /// `y`, `Y`, `space`, `backspace`, `enter`, `esc`, `tab`, `backtab`, arrows (`up`, ...),
    /// `home`, `end`, `pageup`, `pagedown`, `delete`, `insert`, `f1`..`f12`, with `ctrl-` and
    /// `alt-` prefixes.
    pub fn parse(s: &str) -> std::result::Result<Key, String> {
        let mut rest = s.trim();
        let (mut ctrl, mut alt) = (false, false);
        loop {
            let lower = rest.to_ascii_lowercase();
            if rest.len() > 5 && lower.starts_with("ctrl-") {
                ctrl = true;
                rest = &rest[5..];
            } else if rest.len() > 4 && lower.starts_with("alt-") {
                alt = true;
                rest = &rest[4..];
            } else {
                break;
            }
        }
        let mut chars = rest.chars();
        let code = match (chars.next(), chars.next()) {
            (None, _) => return Err("an empty key".into()),
            (Some(c), None) => KeyCode::Char(c),
            _ => match rest.to_ascii_lowercase().as_str() {
                "space" => KeyCode::Char(' '),
                "backspace" => KeyCode::Backspace,
                "enter" | "return" => KeyCode::Enter,
                "esc" | "escape" => KeyCode::Esc,
                "tab" => KeyCode::Tab,
                "backtab" | "shift-tab" => KeyCode::BackTab,
                "up" => KeyCode::Up,
                "down" => KeyCode::Down,
                "left" => KeyCode::Left,
                "right" => KeyCode::Right,
                "home" => KeyCode::Home,
                "end" => KeyCode::End,
                "pageup" => KeyCode::PageUp,
                "pagedown" => KeyCode::PageDown,
                "delete" | "del" => KeyCode::Delete,
                "insert" | "ins" => KeyCode::Insert,
                f if f.starts_with('f') => match f[1..].parse::<u8>() {
                    Ok(n @ 1..=12) => KeyCode::F(n),
                    _ => return Err(format!("unknown key `{rest}`")),
                },
                _ => return Err(format!("unknown key `{rest}`")),
            },
        };
        Ok(Key { code, ctrl, alt })
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ctrl {
            f.write_str("ctrl-")?;
        }
        if self.alt {
            f.write_str("alt-")?;
        }
        match self.code {
            KeyCode::Char(' ') => f.write_str("space"),
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::Backspace => f.write_str("backspace"),
            KeyCode::Enter => f.write_str("enter"),
            KeyCode::Esc => f.write_str("esc"),
            KeyCode::Tab => f.write_str("tab"),
            KeyCode::BackTab => f.write_str("backtab"),
            KeyCode::Up => f.write_str("↑"),
            KeyCode::Down => f.write_str("↓"),
            KeyCode::Left => f.write_str("←"),
            KeyCode::Right => f.write_str("→"),
            KeyCode::Home => f.write_str("home"),
            KeyCode::End => f.write_str("end"),
            KeyCode::PageUp => f.write_str("pageup"),
            KeyCode::PageDown => f.write_str("pagedown"),
            KeyCode::Delete => f.write_str("delete"),
            KeyCode::Insert => f.write_str("insert"),
            KeyCode::F(n) => write!(f, "f{n}"),
            other => write!(f, "{other:?}"),
        }
    }
}

/// The default keys: the home row for the three answers, vi-style moves.
pub fn default_bindings() -> Vec<(Key, Action)> {
    let mut v = vec![
        (Key::char('y'), Action::Yes),
        (Key::char('a'), Action::Yes),
        (Key::char('n'), Action::No),
        (Key::char('x'), Action::No),
        (Key::char('m'), Action::Maybe),
        (Key::char(' '), Action::Maybe),
        (Key::char('u'), Action::Undo),
        (Key::plain(KeyCode::Backspace), Action::Undo),
        (Key::char('s'), Action::Skip),
        (Key::plain(KeyCode::Tab), Action::Skip),
        (Key::char('j'), Action::NextCandidate),
        (Key::plain(KeyCode::Down), Action::NextCandidate),
        (Key::char('k'), Action::PrevCandidate),
        (Key::plain(KeyCode::Up), Action::PrevCandidate),
    ];
    for n in 1..=9u8 {
        v.push((Key::char((b'0' + n) as char), Action::Candidate(n)));
    }
    v.extend([
        (Key::char(']'), Action::NextImage),
        (Key::plain(KeyCode::Right), Action::NextImage),
        (Key::char('['), Action::PrevImage),
        (Key::plain(KeyCode::Left), Action::PrevImage),
        (Key::char('f'), Action::Flag),
        (Key::char('g'), Action::GoTo),
        (Key::char('z'), Action::Zoom),
        (Key::char('r'), Action::Reference),
        (Key::char('?'), Action::Help),
        (Key::char('q'), Action::Quit),
    ]);
    v
}

/// Key presses to actions.
#[derive(Clone, Debug, PartialEq)]
pub struct Keymap {
    map: HashMap<Key, Action>,
}

impl Default for Keymap {
    fn default() -> Self {
        Keymap {
            map: default_bindings().into_iter().collect(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    defaults: Option<bool>,
    #[serde(default)]
    keys: BTreeMap<toml::Spanned<String>, toml::Spanned<String>>,
}

impl Keymap {
    pub fn action(&self, key: &KeyEvent) -> Option<Action> {
        let k = Key::from_event(key);
        self.map.get(&k).copied().or_else(|| {
            // Some terminals report shift with an already upper-case character, others without;
            // both mean the same key here.
            let shifted = key.modifiers.contains(KeyModifiers::SHIFT);
            match (k.code, shifted) {
                (KeyCode::Char(c), true) if c.is_ascii_lowercase() => self
                    .map
                    .get(&Key {
                        code: KeyCode::Char(c.to_ascii_uppercase()),
                        ..k
                    })
                    .copied(),
                _ => None,
            }
        })
    }

    /// The keys bound to `action`, in the order of their names.
    pub fn keys_for(&self, action: Action) -> Vec<Key> {
        let mut keys: Vec<Key> = self
            .map
            .iter()
            .filter(|(_, a)| **a == action)
            .map(|(k, _)| *k)
            .collect();
        keys.sort_by_cached_key(|k| k.to_string());
        keys
    }

    /// The keys of `action` for the screen, e.g. `y/a`; `-` when unbound.
    pub fn label(&self, action: Action) -> String {
        let keys = self.keys_for(action);
        if keys.is_empty() {
            return "-".into();
        }
        // Plain characters first: they are what people type; named keys and chords come after.
        let mut names: Vec<(u8, String)> = keys
            .iter()
            .map(|k| {
                let rank = match (k.code, k.ctrl || k.alt) {
                    (_, true) => 2,
                    (KeyCode::Char(_), false) => 0,
                    _ => 1,
                };
                (rank, k.to_string())
            })
            .collect();
        names.sort_by_key(|n| n.0);
        names
            .into_iter()
            .map(|(_, n)| n)
            .collect::<Vec<_>>()
            .join("/")
    }

    /// Reads a key file over the defaults (or over nothing with `defaults = false`).
    pub fn from_toml(path: &Path, text: &str) -> Result<Keymap> {
        let file: KeyFile = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| line_of(text, s.start)).unwrap_or(1);
            Error::input(path, line, e.message().to_string())
        })?;
        let mut km = if file.defaults.unwrap_or(true) {
            Keymap::default()
        } else {
            Keymap {
                map: HashMap::new(),
            }
        };
        for (key, action) in &file.keys {
            let k = Key::parse(key.get_ref())
                .map_err(|e| Error::input(path, line_of(text, key.span().start), e))?;
            let name = action.get_ref().trim();
            if name == "none" {
                km.map.remove(&k);
                continue;
            }
            let a = Action::parse(name).ok_or_else(|| {
                Error::input(
                    path,
                    line_of(text, action.span().start),
                    format!(
                        "unknown action `{name}`; one of: {}, none",
                        Action::all()
                            .iter()
                            .map(|a| a.name())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            })?;
            km.map.insert(k, a);
        }
        if km.keys_for(Action::Quit).is_empty() {
            return Err(Error::input(
                path,
                1,
                "no key is bound to `quit`; bind one so the screen can be left",
            ));
        }
        Ok(km)
    }

    /// The keymap from `path`, or from the default file when it exists, or the defaults.
    pub fn load(path: Option<&Path>) -> Result<Keymap> {
        let path: PathBuf = match path {
            Some(p) => p.to_path_buf(),
            None => match default_path() {
                Some(p) if p.is_file() => p,
                _ => return Ok(Keymap::default()),
            },
        };
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        Keymap::from_toml(&path, &text)
    }
}

/// `<config dir>/labelvet/keys.toml` (on Linux `~/.config/labelvet/keys.toml`).
pub fn default_path() -> Option<PathBuf> {
    directories::BaseDirs::new().map(|d| d.config_dir().join("labelvet").join("keys.toml"))
}

fn line_of(text: &str, offset: usize) -> u64 {
    text[..offset.min(text.len())]
        .bytes()
        .filter(|&b| b == b'\n')
        .count() as u64
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(code: KeyCode, mods: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, mods)
    }

    #[test]
    fn defaults_cover_the_documented_keys() {
        let km = Keymap::default();
        let a = |c: char| km.action(&press(KeyCode::Char(c), KeyModifiers::NONE));
        assert_eq!(a('y'), Some(Action::Yes));
        assert_eq!(a('a'), Some(Action::Yes));
        assert_eq!(a('n'), Some(Action::No));
        assert_eq!(a('x'), Some(Action::No));
        assert_eq!(a('m'), Some(Action::Maybe));
        assert_eq!(a(' '), Some(Action::Maybe));
        assert_eq!(a('u'), Some(Action::Undo));
        assert_eq!(a('7'), Some(Action::Candidate(7)));
        assert_eq!(a(']'), Some(Action::NextImage));
        assert_eq!(a('['), Some(Action::PrevImage));
        assert_eq!(a('?'), Some(Action::Help));
        assert_eq!(a('Y'), None);
        let k = |c: KeyCode| km.action(&press(c, KeyModifiers::NONE));
        assert_eq!(k(KeyCode::Backspace), Some(Action::Undo));
        assert_eq!(k(KeyCode::Down), Some(Action::NextCandidate));
        assert_eq!(k(KeyCode::Up), Some(Action::PrevCandidate));
        assert_eq!(km.label(Action::Yes), "a/y");
        assert_eq!(km.label(Action::NextCandidate), "j/↓");
    }

    #[test]
    fn a_file_remaps_and_unbinds() {
        let text = "[keys]\n\"h\" = \"prev-image\"\n\"ctrl-z\" = \"undo\"\n\"x\" = \"none\"\n\"Y\" = \"yes\"\n";
        let km = Keymap::from_toml(Path::new("keys.toml"), text).unwrap();
        assert_eq!(
            km.action(&press(KeyCode::Char('h'), KeyModifiers::NONE)),
            Some(Action::PrevImage)
        );
        assert_eq!(
            km.action(&press(KeyCode::Char('z'), KeyModifiers::CONTROL)),
            Some(Action::Undo)
        );
        assert_eq!(
            km.action(&press(KeyCode::Char('z'), KeyModifiers::NONE)),
            Some(Action::Zoom)
        );
        assert_eq!(
            km.action(&press(KeyCode::Char('x'), KeyModifiers::NONE)),
            None
        );
        // Shift reported with a lower-case or an upper-case letter is the same key.
        assert_eq!(
            km.action(&press(KeyCode::Char('Y'), KeyModifiers::SHIFT)),
            Some(Action::Yes)
        );
        assert_eq!(
            km.action(&press(KeyCode::Char('y'), KeyModifiers::SHIFT)),
            Some(Action::Yes)
        );
        assert_eq!(km.label(Action::Undo), "u/backspace/ctrl-z");

        let bare = "defaults = false\n[keys]\nq = \"quit\"\nspace = \"yes\"\n";
        let km = Keymap::from_toml(Path::new("k.toml"), bare).unwrap();
        assert_eq!(km.keys_for(Action::Yes), vec![Key::char(' ')]);
        assert!(km.keys_for(Action::No).is_empty());
        assert_eq!(km.label(Action::No), "-");
    }

    #[test]
    fn bad_files_name_the_line() {
        let err = |text: &str| {
            Keymap::from_toml(Path::new("keys.toml"), text)
                .unwrap_err()
                .to_string()
        };
        let e = err("[keys]\ny = \"yes\"\nn = \"nope\"\n");
        assert!(e.starts_with("keys.toml:3: unknown action `nope`"), "{e}");
        let e = err("[keys]\n\n\"ctrl-\" = \"yes\"\n");
        assert!(e.starts_with("keys.toml:3: unknown key `ctrl-`"), "{e}");
        let e = err("[keys]\n\"hyper-q\" = \"quit\"\n");
        assert!(e.starts_with("keys.toml:2: unknown key `hyper-q`"), "{e}");
        let e = err("colour = 1\n");
        assert!(e.starts_with("keys.toml:1:"), "{e}");
        assert!(e.contains("colour"), "{e}");
        let e = err("[keys]\ny = \n");
        assert!(e.starts_with("keys.toml:2:"), "{e}");
        let e = err("[keys]\nq = \"none\"\n");
        assert!(e.contains("no key is bound to `quit`"), "{e}");
    }

    #[test]
    fn key_names_round_trip() {
        for name in [
            "y",
            "Y",
            "space",
            "backspace",
            "enter",
            "esc",
            "tab",
            "backtab",
            "home",
            "f5",
            "ctrl-z",
            "alt-x",
            "ctrl-alt-k",
            "]",
            "?",
            "-",
        ] {
            let k = Key::parse(name).unwrap();
            assert_eq!(Key::parse(&k.to_string()).unwrap(), k, "{name}");
        }
        assert_eq!(Key::parse("up").unwrap().code, KeyCode::Up);
        assert!(Key::parse("f13").is_err());
        assert!(Key::parse("").is_err());
    }
}
