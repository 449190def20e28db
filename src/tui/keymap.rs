//! Keys as data: for each of the three screens a table from key presses to actions, with
//! defaults and an optional TOML file that remaps them, in the spirit of atuin's keybindings.
//!
//! Annotators spend hours on one hand position, so they must be able to move any action to any
//! key, on every screen; the help screens and the status lines are drawn from the same tables, so
//! they never lie about a remapped key. A bad file is refused before the screen opens, naming its
//! line. The magnifier's keys in zoom (`+ - 0`, `hjkl`, arrows) are the same fixed set on every
//! screen and are not in the tables.
//!
//! ```toml
//! # ~/.config/labelvet/keys.toml
//! defaults = true            # start from the default keys (false: from none)
//! [keys]                     # the question screen
//! "l" = "next-image"
//! "h" = "prev-image"
//! "x" = "none"               # unbind a default key
//! [grid]                     # annotate --grid
//! "y" = "contains"
//! [classify]                 # annotate --classify
//! "s" = "save"
//! ```

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::Hash;
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

/// The actions of one screen: what a key file may name in that screen's table.
pub trait Bindable: Copy + Eq + Hash + fmt::Debug + 'static {
    /// The table of the key file that remaps them.
    const TABLE: &'static str;
    /// The action that leaves the screen: a table must keep a key for it.
    const QUIT: Self;
    /// Every action, in the order the help screen lists them.
    fn all() -> Vec<Self>;
    /// The name used in key files.
    fn name(self) -> String;
    /// What the action does, for the help screen.
    fn describe(self) -> String;
    /// The keys it has unless a file says otherwise.
    fn defaults() -> Vec<(Key, Self)>;

    fn parse(s: &str) -> Option<Self> {
        Self::all().into_iter().find(|a| a.name() == s.trim())
    }
}

impl Bindable for Action {
    const TABLE: &'static str = "keys";
    const QUIT: Action = Action::Quit;

    fn all() -> Vec<Action> {
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

    fn name(self) -> String {
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

    fn describe(self) -> String {
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

    fn defaults() -> Vec<(Key, Action)> {
        default_bindings()
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

/// What a key does on the grid screen (`annotate --grid`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GridAction {
    Left,
    Down,
    Up,
    Right,
    Contains,
    Maybe,
    LeaveOpen,
    MarkAll,
    SavePage,
    UndoPage,
    Larger,
    Smaller,
    Zoom,
    Help,
    Quit,
}

impl Bindable for GridAction {
    const TABLE: &'static str = "grid";
    const QUIT: GridAction = GridAction::Quit;

    fn all() -> Vec<GridAction> {
        use GridAction::*;
        vec![
            Left, Down, Up, Right, Contains, Maybe, LeaveOpen, MarkAll, SavePage, UndoPage, Larger,
            Smaller, Zoom, Help, Quit,
        ]
    }

    fn name(self) -> String {
        use GridAction::*;
        match self {
            Left => "move-left",
            Down => "move-down",
            Up => "move-up",
            Right => "move-right",
            Contains => "contains",
            Maybe => "maybe",
            LeaveOpen => "leave-open",
            MarkAll => "mark-all",
            SavePage => "save-page",
            UndoPage => "undo-page",
            Larger => "larger",
            Smaller => "smaller",
            Zoom => "zoom",
            Help => "help",
            Quit => "quit",
        }
        .into()
    }

    fn describe(self) -> String {
        use GridAction::*;
        match self {
            Left => "move left",
            Down => "move down",
            Up => "move up",
            Right => "move right",
            Contains => "contains: the image shows the label (again: back to no)",
            Maybe => "maybe: cannot tell",
            LeaveOpen => "leave the image open: no answer now",
            MarkAll => "mark every image of the page (again: none)",
            SavePage => "save the page: marked images yes, unmarked no",
            UndoPage => "undo the last saved page: its answers are retracted",
            Larger => "larger thumbnails (fewer on a page)",
            Smaller => "smaller thumbnails (more on a page)",
            Zoom => "zoom: the image under the cursor, full screen",
            Help => "this help",
            Quit => "quit (saved pages stay saved)",
        }
        .into()
    }

    fn defaults() -> Vec<(Key, GridAction)> {
        use GridAction::*;
        vec![
            (Key::char('h'), Left),
            (Key::plain(KeyCode::Left), Left),
            (Key::char('j'), Down),
            (Key::plain(KeyCode::Down), Down),
            (Key::char('k'), Up),
            (Key::plain(KeyCode::Up), Up),
            (Key::char('l'), Right),
            (Key::plain(KeyCode::Right), Right),
            (Key::char(' '), Contains),
            (Key::char('m'), Maybe),
            (Key::char('x'), LeaveOpen),
            (Key::char('a'), MarkAll),
            (Key::plain(KeyCode::Enter), SavePage),
            (Key::char('u'), UndoPage),
            (Key::plain(KeyCode::Backspace), UndoPage),
            (Key::char('+'), Larger),
            (Key::char('='), Larger),
            (Key::char('-'), Smaller),
            (Key::char('z'), Zoom),
            (Key::char('?'), Help),
            (Key::char('q'), Quit),
        ]
    }
}

/// What a key does on the classify screen (`annotate --classify`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ClassifyAction {
    NextLabel,
    PrevLabel,
    /// The label numbered 1..=9 on screen.
    Label(u8),
    Present,
    Main,
    MoreObjects,
    FewerObjects,
    /// The number of objects follows the labels present again.
    ObjectsFromLabels,
    Save,
    Undo,
    NextImage,
    PrevImage,
    Zoom,
    Help,
    Quit,
}

impl Bindable for ClassifyAction {
    const TABLE: &'static str = "classify";
    const QUIT: ClassifyAction = ClassifyAction::Quit;

    fn all() -> Vec<ClassifyAction> {
        use ClassifyAction::*;
        let mut v = vec![NextLabel, PrevLabel];
        v.extend((1..=9).map(Label));
        v.extend([
            Present,
            Main,
            MoreObjects,
            FewerObjects,
            ObjectsFromLabels,
            Save,
            Undo,
            NextImage,
            PrevImage,
            Zoom,
            Help,
            Quit,
        ]);
        v
    }

    fn name(self) -> String {
        use ClassifyAction::*;
        match self {
            NextLabel => "next-label".into(),
            PrevLabel => "prev-label".into(),
            Label(n) => format!("label-{n}"),
            Present => "present".into(),
            Main => "main".into(),
            MoreObjects => "more-objects".into(),
            FewerObjects => "fewer-objects".into(),
            ObjectsFromLabels => "objects-from-labels".into(),
            Save => "save".into(),
            Undo => "undo".into(),
            NextImage => "next-image".into(),
            PrevImage => "prev-image".into(),
            Zoom => "zoom".into(),
            Help => "help".into(),
            Quit => "quit".into(),
        }
    }

    fn describe(self) -> String {
        use ClassifyAction::*;
        match self {
            NextLabel => "next label".into(),
            PrevLabel => "previous label".into(),
            Label(n) => format!("label {n}"),
            Present => "the label is / is not there as a separate object".into(),
            Main => "the label under the cursor is the main object".into(),
            MoreObjects => "more objects in the image".into(),
            FewerObjects => "fewer objects in the image".into(),
            ObjectsFromLabels => "the number of objects follows the labels present again".into(),
            Save => "save the answer and go to the next image".into(),
            Undo => "undo this session's last answer".into(),
            NextImage => "next image without saving".into(),
            PrevImage => "previous image without saving".into(),
            Zoom => "zoom: the image alone, full screen".into(),
            Help => "this help".into(),
            Quit => "quit (saved answers stay saved)".into(),
        }
    }

    fn defaults() -> Vec<(Key, ClassifyAction)> {
        use ClassifyAction::*;
        let mut v = vec![
            (Key::char('j'), NextLabel),
            (Key::plain(KeyCode::Down), NextLabel),
            (Key::char('k'), PrevLabel),
            (Key::plain(KeyCode::Up), PrevLabel),
        ];
        v.extend((1..=9u8).map(|n| (Key::char((b'0' + n) as char), Label(n))));
        v.extend([
            (Key::char(' '), Present),
            (Key::char('m'), Main),
            (Key::char('+'), MoreObjects),
            (Key::char('='), MoreObjects),
            (Key::char('-'), FewerObjects),
            (Key::char('0'), ObjectsFromLabels),
            (Key::plain(KeyCode::Enter), Save),
            (Key::char('u'), Undo),
            (Key::plain(KeyCode::Backspace), Undo),
            (Key::char(']'), NextImage),
            (Key::plain(KeyCode::Right), NextImage),
            (Key::char('['), PrevImage),
            (Key::plain(KeyCode::Left), PrevImage),
            (Key::char('z'), Zoom),
            (Key::char('?'), Help),
            (Key::char('q'), Quit),
        ]);
        v
    }
}

/// One screen's key presses to actions.
#[derive(Clone, Debug, PartialEq)]
pub struct Keys<A> {
    map: HashMap<Key, A>,
}

impl<A: Bindable> Default for Keys<A> {
    fn default() -> Self {
        Keys {
            map: A::defaults().into_iter().collect(),
        }
    }
}

impl<A: Bindable> Keys<A> {
    pub fn empty() -> Self {
        Keys {
            map: HashMap::new(),
        }
    }

    pub fn action(&self, key: &KeyEvent) -> Option<A> {
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
    pub fn keys_for(&self, action: A) -> Vec<Key> {
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
    pub fn label(&self, action: A) -> String {
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

    /// The first key of `action` as `label` orders them; `-` when unbound.
    pub fn first(&self, action: A) -> String {
        let label = self.label(action);
        label.split('/').next().unwrap_or("-").to_string()
    }

    /// The keys of a row of actions taken together: `j/k` for a pair (each one's first key),
    /// `hjkl/←↓↑→` for the four moves (each action's first keys run together, then its second
    /// keys, when every action has one).
    pub fn joined(&self, actions: &[A]) -> String {
        if actions.len() <= 2 {
            return actions
                .iter()
                .map(|a| self.first(*a))
                .collect::<Vec<_>>()
                .join("/");
        }
        let labels: Vec<Vec<String>> = actions
            .iter()
            .map(|a| self.label(*a).split('/').map(str::to_string).collect())
            .collect();
        let mut groups = Vec::new();
        for i in 0..labels.iter().map(Vec::len).max().unwrap_or(0) {
            let keys: Vec<&str> = labels
                .iter()
                .filter_map(|l| l.get(i).map(String::as_str))
                .collect();
            if keys.len() != actions.len() {
                break;
            }
            let sep = if keys.iter().all(|k| k.chars().count() == 1) {
                ""
            } else {
                ","
            };
            groups.push(keys.join(sep));
        }
        groups.join("/")
    }

    /// The keys of the nine numbered actions `of(1)`..`of(9)`: `1-9` for the default digits,
    /// else each one's keys.
    pub fn numbered(&self, of: impl Fn(u8) -> A) -> String {
        let labels: Vec<String> = (1..=9).map(|n| self.label(of(n))).collect();
        if labels
            .iter()
            .enumerate()
            .all(|(i, l)| *l == (i + 1).to_string())
        {
            "1-9".into()
        } else {
            labels.join(",")
        }
    }

    /// The help screen's rows: every action with a key and what it does.
    pub fn help_rows(&self) -> Vec<(String, String)> {
        A::all()
            .into_iter()
            .map(|a| (self.label(a), a.describe()))
            .collect()
    }

    /// Applies one table of a key file.
    fn apply(&mut self, path: &Path, text: &str, table: &Table) -> Result<()> {
        for (key, action) in table {
            let k = Key::parse(key.get_ref())
                .map_err(|e| Error::input(path, line_of(text, key.span().start), e))?;
            let name = action.get_ref().trim();
            if name == "none" {
                self.map.remove(&k);
                continue;
            }
            let a = A::parse(name).ok_or_else(|| {
                Error::input(
                    path,
                    line_of(text, action.span().start),
                    format!(
                        "unknown action `{name}` in [{}]; one of: {}, none",
                        A::TABLE,
                        A::all()
                            .iter()
                            .map(|a| a.name())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            })?;
            self.map.insert(k, a);
        }
        if self.keys_for(A::QUIT).is_empty() {
            return Err(Error::input(
                path,
                1,
                format!(
                    "no key is bound to `quit` in [{}]; bind one so the screen can be left",
                    A::TABLE
                ),
            ));
        }
        Ok(())
    }
}

/// The keys of the three screens: the question screen, the grid and classify.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Keymap {
    pub questions: Keys<Action>,
    pub grid: Keys<GridAction>,
    pub classify: Keys<ClassifyAction>,
}

type Table = BTreeMap<toml::Spanned<String>, toml::Spanned<String>>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    defaults: Option<bool>,
    #[serde(default)]
    keys: Table,
    #[serde(default)]
    grid: Table,
    #[serde(default)]
    classify: Table,
}

impl Keymap {
    /// Reads a key file over the defaults (or over nothing with `defaults = false`).
    pub fn from_toml(path: &Path, text: &str) -> Result<Keymap> {
        let file: KeyFile = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| line_of(text, s.start)).unwrap_or(1);
            Error::input(path, line, e.message().to_string())
        })?;
        // `defaults = false` empties the tables the file has; a screen it does not mention keeps
        // its default keys, so that remapping the question screen from scratch does not leave
        // the grid without keys.
        let from = |table: &Table| file.defaults.unwrap_or(true) || table.is_empty();
        let mut km = Keymap::default();
        if !from(&file.keys) {
            km.questions = Keys::empty();
        }
        if !from(&file.grid) {
            km.grid = Keys::empty();
        }
        if !from(&file.classify) {
            km.classify = Keys::empty();
        }
        km.questions.apply(path, text, &file.keys)?;
        km.grid.apply(path, text, &file.grid)?;
        km.classify.apply(path, text, &file.classify)?;
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
        let a = |c: char| {
            km.questions
                .action(&press(KeyCode::Char(c), KeyModifiers::NONE))
        };
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
        let k = |c: KeyCode| km.questions.action(&press(c, KeyModifiers::NONE));
        assert_eq!(k(KeyCode::Backspace), Some(Action::Undo));
        assert_eq!(k(KeyCode::Down), Some(Action::NextCandidate));
        assert_eq!(k(KeyCode::Up), Some(Action::PrevCandidate));
        assert_eq!(km.questions.label(Action::Yes), "a/y");
        assert_eq!(km.questions.label(Action::NextCandidate), "j/↓");
    }

    #[test]
    fn a_file_remaps_and_unbinds() {
        let text = "[keys]\n\"h\" = \"prev-image\"\n\"ctrl-z\" = \"undo\"\n\"x\" = \"none\"\n\"Y\" = \"yes\"\n";
        let km = Keymap::from_toml(Path::new("keys.toml"), text).unwrap();
        assert_eq!(
            km.questions
                .action(&press(KeyCode::Char('h'), KeyModifiers::NONE)),
            Some(Action::PrevImage)
        );
        assert_eq!(
            km.questions
                .action(&press(KeyCode::Char('z'), KeyModifiers::CONTROL)),
            Some(Action::Undo)
        );
        assert_eq!(
            km.questions
                .action(&press(KeyCode::Char('z'), KeyModifiers::NONE)),
            Some(Action::Zoom)
        );
        assert_eq!(
            km.questions
                .action(&press(KeyCode::Char('x'), KeyModifiers::NONE)),
            None
        );
        // Shift reported with a lower-case or an upper-case letter is the same key.
        assert_eq!(
            km.questions
                .action(&press(KeyCode::Char('Y'), KeyModifiers::SHIFT)),
            Some(Action::Yes)
        );
        assert_eq!(
            km.questions
                .action(&press(KeyCode::Char('y'), KeyModifiers::SHIFT)),
            Some(Action::Yes)
        );
        assert_eq!(km.questions.label(Action::Undo), "u/backspace/ctrl-z");

        let bare = "defaults = false\n[keys]\nq = \"quit\"\nspace = \"yes\"\n";
        let km = Keymap::from_toml(Path::new("k.toml"), bare).unwrap();
        assert_eq!(km.questions.keys_for(Action::Yes), vec![Key::char(' ')]);
        assert!(km.questions.keys_for(Action::No).is_empty());
        assert_eq!(km.questions.label(Action::No), "-");
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
    fn the_grid_and_classify_screens_have_their_own_tables() {
        let km = Keymap::default();
        let plain = |c: char| press(KeyCode::Char(c), KeyModifiers::NONE);
        // The same letter means what the screen it is pressed on says.
        assert_eq!(km.questions.action(&plain('m')), Some(Action::Maybe));
        assert_eq!(km.grid.action(&plain('m')), Some(GridAction::Maybe));
        assert_eq!(km.classify.action(&plain('m')), Some(ClassifyAction::Main));
        assert_eq!(km.grid.action(&plain(' ')), Some(GridAction::Contains));
        assert_eq!(
            km.classify.action(&plain('3')),
            Some(ClassifyAction::Label(3))
        );
        assert_eq!(
            km.grid.joined(&[
                GridAction::Left,
                GridAction::Down,
                GridAction::Up,
                GridAction::Right
            ]),
            "hjkl/←↓↑→"
        );
        assert_eq!(
            km.classify
                .joined(&[ClassifyAction::MoreObjects, ClassifyAction::FewerObjects]),
            "+/-"
        );

        let text = "[keys]\n\"y\" = \"yes\"\n[grid]\n\"y\" = \"contains\"\n\"space\" = \"none\"\n\
                    [classify]\n\"s\" = \"save\"\n";
        let km = Keymap::from_toml(Path::new("keys.toml"), text).unwrap();
        assert_eq!(km.grid.action(&plain('y')), Some(GridAction::Contains));
        assert_eq!(km.grid.action(&plain(' ')), None);
        assert_eq!(km.grid.label(GridAction::Contains), "y");
        assert_eq!(km.classify.action(&plain('s')), Some(ClassifyAction::Save));
        assert_eq!(km.classify.label(ClassifyAction::Save), "s/enter");

        // `defaults = false` empties only the tables the file has.
        let bare = "defaults = false\n[grid]\nq = \"quit\"\n";
        let km = Keymap::from_toml(Path::new("k.toml"), bare).unwrap();
        assert_eq!(km.grid.label(GridAction::Contains), "-");
        assert_eq!(km.questions, Keys::default());

        let err = |text: &str| {
            Keymap::from_toml(Path::new("keys.toml"), text)
                .unwrap_err()
                .to_string()
        };
        let e = err("[grid]\n\"y\" = \"yes\"\n");
        assert!(
            e.starts_with("keys.toml:2: unknown action `yes` in [grid]; one of: move-left"),
            "{e}"
        );
        let e = err("[classify]\nq = \"none\"\n");
        assert!(e.contains("no key is bound to `quit` in [classify]"), "{e}");
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
