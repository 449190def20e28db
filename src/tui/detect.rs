//! Which picture this terminal can show, and why.
//!
//! An expert decides fine-grained labels by looking, so the screen must use the best image
//! protocol the terminal really has, and say which and why when it cannot (`labelvet doctor`).
//! Environment variables alone mislead (a stale `KITTY_WINDOW_ID` inside tmux, `TERM=xterm` in
//! every emulator), so the terminal is asked, in one burst of queries answered in one round trip:
//! the kitty graphics query, XTVERSION (name and version: kitty draws unicode placeholders only
//! from 0.28 on), the primary device attributes (`4` = sixel, and the reply every terminal sends,
//! which ends the wait), the cell size in pixels, sixel colour registers (XTSMGRAPHICS) and the
//! background colour (OSC 11, for the theme). Inside tmux the kitty query and XTVERSION also go
//! through tmux's passthrough to the terminal outside, which answers only when tmux lets them
//! through (`allow-passthrough`).
//!
//! Parsing the answers and deciding ([`decide`]) are plain functions over bytes and variables,
//! tested without a terminal.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::time::{Duration, Instant};

/// How pictures are drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Graphics {
    /// Kitty graphics placed with unicode placeholder characters (kitty 0.28+, ghostty): the
    /// placeholders are text, so they scroll, clip and pass through tmux like text.
    KittyPlaceholders,
    /// Kitty graphics placed at the cursor (kitty before 0.28, Konsole, other terminals that speak
    /// the protocol without placeholders); labelvet deletes each placement when it leaves.
    KittyDirect,
    /// Sixel, quantized to the terminal's colour registers.
    Sixel,
    /// iTerm2's inline images (iTerm2, WezTerm, mintty, VS Code).
    Iterm2,
    /// Text cells, two pixels each: `▀` with a foreground and a background colour.
    Halfblocks,
    /// Text cells drawn by libchafa (builds with the `chafa` feature): block elements (halves,
    /// quadrants, eighths) and box drawing, chosen per cell.
    Chafa,
}

impl Graphics {
    pub fn name(self) -> &'static str {
        match self {
            Graphics::KittyPlaceholders => "kitty graphics (unicode placeholders)",
            Graphics::KittyDirect => "kitty graphics (placed directly)",
            Graphics::Sixel => "sixel",
            Graphics::Iterm2 => "iTerm2 inline images",
            Graphics::Halfblocks => "unicode half-blocks (two pixels per cell)",
            Graphics::Chafa => {
                "text symbols drawn by libchafa (block elements: halves, quadrants, eighths)"
            }
        }
    }

    /// Whether the picture is sized in pixels (needs the cell size).
    pub fn uses_pixels(self) -> bool {
        !self.text_cells()
    }

    pub fn text_cells(self) -> bool {
        matches!(self, Graphics::Halfblocks | Graphics::Chafa)
    }

    /// The best text-cell picture of this build: libchafa's when built with it.
    pub fn best_text() -> Graphics {
        if cfg!(feature = "chafa") {
            Graphics::Chafa
        } else {
            Graphics::Halfblocks
        }
    }
}

/// How many colours text may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Colors {
    TrueColor,
    Ansi256,
    Ansi16,
}

/// The environment variables detection reads.
#[derive(Clone, Debug, Default)]
pub struct Env {
    pub term: Option<String>,
    pub term_program: Option<String>,
    pub term_program_version: Option<String>,
    pub lc_terminal: Option<String>,
    pub colorterm: Option<String>,
    pub konsole: bool,
    pub wezterm: bool,
    pub iterm_session: bool,
    pub windows_terminal: bool,
    /// `$TMUX` is set, or `TERM` says tmux.
    pub tmux: bool,
    pub ssh: bool,
    pub no_color: bool,
}

impl Env {
    pub fn from_process() -> Env {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let term = var("TERM");
        let term_program = var("TERM_PROGRAM");
        Env {
            tmux: var("TMUX").is_some()
                || term.as_deref().is_some_and(|t| t.starts_with("tmux"))
                || term_program.as_deref() == Some("tmux"),
            term,
            term_program,
            term_program_version: var("TERM_PROGRAM_VERSION"),
            lc_terminal: var("LC_TERMINAL"),
            colorterm: var("COLORTERM"),
            konsole: var("KONSOLE_VERSION").is_some(),
            wezterm: var("WEZTERM_EXECUTABLE").is_some() || var("WEZTERM_PANE").is_some(),
            iterm_session: var("ITERM_SESSION_ID").is_some(),
            windows_terminal: var("WT_SESSION").is_some(),
            ssh: var("SSH_TTY").is_some() || var("SSH_CONNECTION").is_some(),
            // https://no-color.org: set and not empty.
            no_color: var("NO_COLOR").is_some(),
        }
    }

    fn iterm2_family(&self) -> bool {
        let tp = self.term_program.as_deref().unwrap_or("");
        [
            "iTerm",
            "WezTerm",
            "mintty",
            "vscode",
            "Tabby",
            "Hyper",
            "rio",
            "WarpTerminal",
        ]
        .iter()
        .any(|n| tp.contains(n))
            || self
                .lc_terminal
                .as_deref()
                .is_some_and(|t| t.contains("iTerm"))
            || self.wezterm
    }

    pub fn colors(&self) -> Colors {
        let ct = self.colorterm.as_deref().unwrap_or("");
        let term = self.term.as_deref().unwrap_or("");
        if ct == "truecolor" || ct == "24bit" || term.contains("direct") || self.windows_terminal {
            Colors::TrueColor
        } else if term.contains("256") || self.iterm2_family() || term == "xterm-kitty" {
            Colors::Ansi256
        } else {
            Colors::Ansi16
        }
    }
}

/// What the terminal answered to the queries.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Answers {
    /// Something answered at all (the device attributes, at least).
    pub answered: bool,
    /// The kitty graphics query was answered OK by the terminal itself.
    pub kitty: bool,
    /// ... by the terminal outside tmux, through tmux's passthrough.
    pub outer_kitty: bool,
    /// XTVERSION answers, in arrival order (inside tmux: tmux's own, then the outer terminal's).
    pub versions: Vec<String>,
    /// Primary device attributes.
    pub attributes: Vec<u16>,
    /// Cell size in pixels (width, height).
    pub cell_px: Option<(u16, u16)>,
    /// Text area size in pixels (width, height).
    pub window_px: Option<(u16, u16)>,
    /// Cell size from the kernel's window size (TIOCGWINSZ pixels over cells), for terminals
    /// that do not answer the query (xterm, by default).
    pub winsize_cell_px: Option<(u16, u16)>,
    /// Sixel colour registers: current, and the most the terminal allows.
    pub color_registers: Option<u16>,
    pub max_color_registers: Option<u16>,
    /// The default background colour (OSC 11).
    pub background: Option<[u8; 3]>,
}

impl Answers {
    /// The terminal's own XTVERSION (outside tmux when passthrough answered).
    fn terminal_version(&self, tmux: bool) -> Option<&str> {
        let mut v = self.versions.iter().map(String::as_str);
        if tmux {
            v.find(|s| !s.starts_with("tmux"))
        } else {
            v.next()
        }
    }

    fn tmux_version(&self) -> Option<&str> {
        self.versions
            .iter()
            .map(String::as_str)
            .find(|s| s.starts_with("tmux"))
    }
}

/// The queries, in one burst. The device attributes request comes last: every terminal answers
/// it, and in order, so its reply ends the wait.
pub fn queries(tmux: bool) -> String {
    let mut q = String::new();
    // Kitty graphics: a 1x1 RGB image, query only (nothing stored). Two ids tell the terminal's
    // own answer (31) from the one that came through tmux (32).
    q.push_str("\x1b_Gi=31,s=1,v=1,a=q,t=d,f=24;AAAA\x1b\\");
    q.push_str("\x1b[>0q"); // XTVERSION
    if tmux {
        let wrap = |s: &str| format!("\x1bPtmux;{}\x1b\\", s.replace('\x1b', "\x1b\x1b"));
        q.push_str(&wrap("\x1b_Gi=32,s=1,v=1,a=q,t=d,f=24;AAAA\x1b\\"));
        q.push_str(&wrap("\x1b[>0q"));
    }
    q.push_str("\x1b[16t"); // cell size in pixels
    q.push_str("\x1b[14t"); // text area in pixels
    q.push_str("\x1b[?1;1;0S"); // sixel colour registers: current
    q.push_str("\x1b[?1;4;0S"); // ... and the most allowed
    q.push_str("\x1b]11;?\x1b\\"); // background colour
    q.push_str("\x1b[c"); // primary device attributes: the end marker
    q
}

/// Reads the replies in `bytes`. Returns the answers and whether the end marker was seen.
pub fn parse(bytes: &[u8]) -> (Answers, bool) {
    let mut a = Answers::default();
    let mut done = false;
    let mut i = 0;
    let mut registers_seen = 0;
    while i < bytes.len() {
        if bytes[i] != 0x1b || i + 1 >= bytes.len() {
            i += 1;
            continue;
        }
        let kind = bytes[i + 1];
        let body_start = i + 2;
        match kind {
            // APC (kitty), DCS (XTVERSION), OSC (colours): up to ST (ESC \) or BEL.
            b'_' | b'P' | b']' => {
                let mut j = body_start;
                let mut end = None;
                while j < bytes.len() {
                    if bytes[j] == 0x07 {
                        end = Some((j, j + 1));
                        break;
                    }
                    if bytes[j] == 0x1b && bytes.get(j + 1) == Some(&b'\\') {
                        end = Some((j, j + 2));
                        break;
                    }
                    j += 1;
                }
                let Some((body_end, next)) = end else { break };
                let body = String::from_utf8_lossy(&bytes[body_start..body_end]);
                match kind {
                    b'_' => {
                        if let Some(rest) = body.strip_prefix('G') {
                            let (keys, msg) = rest.split_once(';').unwrap_or((rest, ""));
                            if msg.starts_with("OK") {
                                if keys.split(',').any(|k| k == "i=32") {
                                    a.outer_kitty = true;
                                } else {
                                    a.kitty = true;
                                }
                            }
                        }
                    }
                    b'P' => {
                        if let Some(v) = body.strip_prefix(">|") {
                            a.versions.push(v.trim().to_string());
                        }
                    }
                    _ => {
                        if let Some(spec) = body.strip_prefix("11;") {
                            a.background = parse_rgb(spec);
                        }
                    }
                }
                i = next;
            }
            b'[' => {
                // CSI: parameters and intermediates up to a final byte 0x40..=0x7e.
                let mut j = body_start;
                while j < bytes.len() && !(0x40..=0x7e).contains(&bytes[j]) {
                    j += 1;
                }
                if j >= bytes.len() {
                    break;
                }
                let params = String::from_utf8_lossy(&bytes[body_start..j]);
                let nums =
                    |s: &str| -> Vec<u16> { s.split(';').filter_map(|n| n.parse().ok()).collect() };
                match (bytes[j], params.strip_prefix('?')) {
                    (b'c', Some(p)) => {
                        a.attributes = nums(p);
                        a.answered = true;
                        done = true;
                    }
                    (b'S', Some(p)) => {
                        // XTSMGRAPHICS: ? item ; status ; value
                        if let [1, 0, v, ..] = nums(p)[..] {
                            if registers_seen == 0 {
                                a.color_registers = Some(v);
                            } else {
                                a.max_color_registers = Some(v);
                            }
                        }
                        registers_seen += 1;
                    }
                    (b't', None) => match nums(&params)[..] {
                        [6, h, w] if h > 0 && w > 0 => a.cell_px = Some((w, h)),
                        [4, h, w] if h > 0 && w > 0 => a.window_px = Some((w, h)),
                        _ => {}
                    },
                    _ => {}
                }
                i = j + 1;
            }
            _ => i += 1,
        }
    }
    (a, done)
}

/// `rgb:RRRR/GGGG/BBBB` (1 to 4 hex digits a channel) or `#RRGGBB`.
fn parse_rgb(spec: &str) -> Option<[u8; 3]> {
    let spec = spec.trim();
    if let Some(hex) = spec.strip_prefix('#')
        && hex.len() == 6
    {
        let c = |k: usize| u8::from_str_radix(&hex[k..k + 2], 16).ok();
        return Some([c(0)?, c(2)?, c(4)?]);
    }
    let rest = spec.strip_prefix("rgb:")?;
    let mut out = [0u8; 3];
    let mut parts = rest.split('/');
    for o in &mut out {
        let p = parts.next()?;
        if p.is_empty() || p.len() > 4 {
            return None;
        }
        let v = u32::from_str_radix(p, 16).ok()?;
        let max = (1u32 << (4 * p.len())) - 1;
        *o = ((v * 255 + max / 2) / max) as u8;
    }
    Some(out)
}

/// Asks the controlling terminal (in raw mode) and collects the answers for up to `timeout`.
/// Inside tmux, replies from the outer terminal come after tmux's own, so the wait goes on a
/// little after the end marker.
#[cfg(unix)]
pub fn ask(tmux: bool, timeout: Duration) -> io::Result<Answers> {
    use std::os::fd::AsRawFd;
    // The terminal itself, so that `labelvet doctor > file` asks it too.
    let mut tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")?;
    tty.write_all(queries(tmux).as_bytes())?;
    tty.flush()?;
    let fd = tty.as_raw_fd();
    let start = Instant::now();
    let mut buf = Vec::new();
    let mut done_at: Option<Instant> = None;
    let grace = Duration::from_millis(if tmux { 200 } else { 0 });
    loop {
        let now = Instant::now();
        let deadline = match done_at {
            Some(t) => t + grace,
            None => start + timeout,
        };
        if now >= deadline {
            break;
        }
        let Some(chunk) = read_fd(fd, deadline - now)? else {
            continue;
        };
        buf.extend_from_slice(&chunk);
        if done_at.is_none() && parse(&buf).1 {
            done_at = Some(Instant::now());
        }
    }
    let mut answers = parse(&buf).0;
    answers.winsize_cell_px = winsize_cell(fd);
    Ok(answers)
}

/// Pixels over cells of the terminal's window size, when the terminal fills in the pixels.
#[cfg(unix)]
fn winsize_cell(fd: libc::c_int) -> Option<(u16, u16)> {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ fills one winsize.
    if unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) } != 0 {
        return None;
    }
    if ws.ws_row == 0 || ws.ws_col == 0 || ws.ws_xpixel == 0 || ws.ws_ypixel == 0 {
        return None;
    }
    Some((ws.ws_xpixel / ws.ws_col, ws.ws_ypixel / ws.ws_row))
}

/// Waits up to `wait` for bytes on `fd` and reads what is there.
#[cfg(unix)]
fn read_fd(fd: libc::c_int, wait: Duration) -> io::Result<Option<Vec<u8>>> {
    let mut fds = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = wait.as_millis().clamp(1, 10_000) as libc::c_int;
    // SAFETY: one valid pollfd for the duration of the call.
    let n = unsafe { libc::poll(&mut fds, 1, ms) };
    if n < 0 {
        let e = io::Error::last_os_error();
        return if e.kind() == io::ErrorKind::Interrupted {
            Ok(None)
        } else {
            Err(e)
        };
    }
    if n == 0 || fds.revents & libc::POLLIN == 0 {
        return Ok(None);
    }
    let mut buf = [0u8; 1024];
    // SAFETY: reads at most buf.len() bytes into buf.
    let got = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
    if got < 0 {
        return Err(io::Error::last_os_error());
    }
    if got == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the terminal closed",
        ));
    }
    Ok(Some(buf[..got as usize].to_vec()))
}

#[cfg(not(unix))]
pub fn ask(_tmux: bool, _timeout: Duration) -> io::Result<Answers> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "terminal queries need a unix terminal",
    ))
}

/// The outcome: what to draw with, what is known about the terminal, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct Detection {
    pub graphics: Graphics,
    /// The terminal by name (and version when it said).
    pub terminal: String,
    /// tmux's version (or "tmux") when inside tmux.
    pub tmux: Option<String>,
    /// Whether tmux passed a query through to the terminal outside.
    pub passthrough: bool,
    /// Cell size in pixels, and where it came from.
    pub cell_px: Option<(u16, u16)>,
    pub cell_source: &'static str,
    pub colors: Colors,
    pub no_color: bool,
    pub background: Option<[u8; 3]>,
    /// Sixel colour registers to quantize to.
    pub color_registers: u16,
    /// Registers to ask the terminal for (XTSMGRAPHICS set) before drawing sixel.
    pub raise_registers_to: Option<u16>,
    /// Why the protocol was chosen, one sentence each.
    pub reasons: Vec<String>,
}

/// A kitty version string `kitty(0.26.5)` as (major, minor).
fn kitty_version(v: &str) -> Option<(u32, u32)> {
    let inner = v.strip_prefix("kitty(")?.strip_suffix(')')?;
    let mut it = inner.split('.');
    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
}

/// Whether a terminal that answered the kitty query also draws unicode placeholders, and why.
fn placeholders(version: Option<&str>, env: &Env) -> (bool, String) {
    match version {
        Some(v) if kitty_version(v).is_some() => {
            let ok = kitty_version(v).is_some_and(|mm| mm >= (0, 28));
            let why = if ok {
                format!("{v} draws unicode placeholders (since kitty 0.28)")
            } else {
                format!(
                    "{v} predates unicode placeholders (kitty 0.28): images are placed directly"
                )
            };
            (ok, why)
        }
        Some(v) if v.to_ascii_lowercase().starts_with("ghostty") => {
            (true, format!("{v} draws unicode placeholders"))
        }
        Some(v) if v.to_ascii_lowercase().starts_with("konsole") => (
            false,
            format!(
                "{v} answers the kitty query but ignores placeholders: images are placed directly"
            ),
        ),
        _ if env.konsole => (
            false,
            "Konsole answers the kitty query but ignores placeholders: images are placed directly"
                .into(),
        ),
        Some(v) => (
            false,
            format!("{v} is not known to draw unicode placeholders: images are placed directly"),
        ),
        None => (
            false,
            "the terminal did not say its version (XTVERSION), so placeholders are not assumed: \
             images are placed directly"
                .into(),
        ),
    }
}

/// Chooses the protocol. `forced` is `--graphics` when not `auto`.
pub fn decide(env: &Env, a: &Answers, forced: Option<Graphics>) -> Detection {
    let mut reasons = Vec::new();
    let outer_version = a.terminal_version(env.tmux).map(str::to_string);
    let terminal = outer_version
        .clone()
        .or_else(|| {
            env.term_program
                .clone()
                .map(|p| match &env.term_program_version {
                    Some(v) if p != "tmux" => format!("{p} {v}"),
                    _ => p,
                })
        })
        .filter(|t| t != "tmux")
        .or_else(|| env.konsole.then(|| "Konsole".to_string()))
        .unwrap_or_else(|| match &env.term {
            Some(t) => format!("unknown (TERM={t})"),
            None => "unknown (no TERM)".into(),
        });
    let tmux = env.tmux.then(|| {
        a.tmux_version()
            .map(str::to_string)
            .unwrap_or_else(|| "tmux".into())
    });
    let passthrough = env.tmux && (a.outer_kitty || outer_version.is_some());

    let (cell_px, cell_source) = match (a.cell_px, a.winsize_cell_px) {
        (Some(c), _) => (Some(c), "the terminal's answer (CSI 16 t)"),
        (None, Some(c)) => (Some(c), "the window size in pixels over cells (TIOCGWINSZ)"),
        (None, None) => (None, "unknown (the terminal did not say)"),
    };

    let kitty = a.kitty && !env.tmux;
    let sixel = a.attributes.contains(&4);
    let mut graphics = if let Some(g) = forced {
        reasons.push(format!("--graphics forces {}", g.name()));
        if g == Graphics::KittyPlaceholders
            && !env.tmux
            && !placeholders(outer_version.as_deref(), env).0
        {
            reasons.push(placeholders(outer_version.as_deref(), env).1);
            Graphics::KittyDirect
        } else {
            g
        }
    } else if env.tmux {
        if a.outer_kitty {
            let (ok, why) = placeholders(outer_version.as_deref(), env);
            reasons.push(format!(
                "inside {}: the terminal outside answered the kitty query through passthrough",
                tmux.as_deref().unwrap_or("tmux")
            ));
            reasons.push(why);
            if ok {
                Graphics::KittyPlaceholders
            } else {
                reasons.push(
                    "tmux cannot keep directly placed images in place, so text cells are drawn"
                        .into(),
                );
                Graphics::best_text()
            }
        } else {
            reasons.push(if passthrough {
                "inside tmux: the terminal outside answered through passthrough but has no kitty \
                 graphics; tmux 3.3 passes no sixel or iTerm2 images reliably, so text cells are drawn"
                    .into()
            } else {
                "inside tmux, nothing answered through passthrough: either tmux does not pass \
                 graphics (`set -g allow-passthrough on` in ~/.tmux.conf) or the terminal outside \
                 has no kitty graphics; text cells are drawn"
                    .into()
            });
            Graphics::best_text()
        }
    } else if env.wezterm {
        reasons.push("WezTerm: iTerm2 images (its kitty graphics lack placeholders)".into());
        Graphics::Iterm2
    } else if kitty {
        reasons.push("the terminal answered the kitty graphics query".into());
        let (ok, why) = placeholders(outer_version.as_deref(), env);
        reasons.push(why);
        if ok {
            Graphics::KittyPlaceholders
        } else {
            Graphics::KittyDirect
        }
    } else if env.iterm2_family() {
        reasons.push(format!(
            "{} draws iTerm2 inline images",
            env.term_program
                .as_deref()
                .or(env.lc_terminal.as_deref())
                .unwrap_or("this terminal")
        ));
        Graphics::Iterm2
    } else if sixel {
        reasons.push("the terminal's device attributes include sixel (4)".into());
        Graphics::Sixel
    } else {
        reasons.push(if a.answered {
            "the terminal answered, but with no kitty, sixel or iTerm2 graphics".into()
        } else {
            "the terminal did not answer the queries (a pipe, an old terminal, or a slow link)"
                .into()
        });
        Graphics::best_text()
    };
    if graphics.uses_pixels() && cell_px.is_none() {
        reasons.push(format!(
            "{} needs the cell size in pixels, which the terminal did not give: text cells are \
             drawn instead",
            graphics.name()
        ));
        graphics = Graphics::best_text();
    }
    if graphics == Graphics::Chafa && !cfg!(feature = "chafa") {
        reasons
            .push("this build has no libchafa (the `chafa` feature): half-blocks instead".into());
        graphics = Graphics::Halfblocks;
    }
    if graphics.text_cells() {
        reasons.push(format!("pictures are {}", graphics.name()));
        if !cfg!(feature = "chafa") {
            reasons.push(
                "built without the `chafa` feature: libchafa's symbols would show more detail \
                 (see the README's install line)"
                    .into(),
            );
        }
    }
    // Sixel: quantize to the registers the terminal has, asking for more when it allows more.
    let current = a.color_registers.unwrap_or(256);
    let max = a.max_color_registers.unwrap_or(current);
    let wanted = max.clamp(2, 256);
    let raise_registers_to = (graphics == Graphics::Sixel && wanted > current).then_some(wanted);
    let color_registers = if raise_registers_to.is_some() {
        wanted
    } else {
        current.clamp(2, 256)
    };
    if graphics == Graphics::Sixel {
        let mut s = format!("sixel palette of {color_registers} colours");
        if let Some(n) = raise_registers_to {
            let _ = write!(s, " (the terminal had {current} registers, raised to {n})");
        }
        reasons.push(s);
    }
    Detection {
        graphics,
        terminal,
        tmux,
        passthrough,
        cell_px,
        cell_source,
        colors: env.colors(),
        no_color: env.no_color,
        background: a.background,
        color_registers,
        raise_registers_to,
        reasons,
    }
}

impl Detection {
    /// What `labelvet doctor` prints.
    pub fn report(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "terminal:   {}", self.terminal);
        let _ = writeln!(
            s,
            "tmux:       {}",
            match &self.tmux {
                None => "no".to_string(),
                Some(t) if self.passthrough => format!("{t}, passthrough on"),
                Some(t) => format!(
                    "{t}, no passthrough answer (`set -g allow-passthrough on` lets graphics through)"
                ),
            }
        );
        let _ = writeln!(s, "pictures:   {}", self.graphics.name());
        let _ = writeln!(
            s,
            "cell size:  {}",
            match self.cell_px {
                Some((w, h)) => format!("{w}x{h} px ({})", self.cell_source),
                None => self.cell_source.to_string(),
            }
        );
        let colors = match self.colors {
            Colors::TrueColor => "24-bit",
            Colors::Ansi256 => "256 colours",
            Colors::Ansi16 => "16 colours (COLORTERM unset; pictures may look coarse)",
        };
        let _ = writeln!(
            s,
            "colours:    {colors}{}",
            if self.no_color {
                "; NO_COLOR is set: text without colour, pictures in colour"
            } else {
                ""
            }
        );
        let _ = writeln!(
            s,
            "background: {}",
            match self.background {
                Some([r, g, b]) => format!(
                    "#{r:02x}{g:02x}{b:02x} ({} theme)",
                    if super::theme::is_light([r, g, b]) {
                        "light"
                    } else {
                        "dark"
                    }
                ),
                None => "not answered (OSC 11); the theme reads on light and dark".into(),
            }
        );
        let _ = writeln!(
            s,
            "chafa:      {}",
            if cfg!(feature = "chafa") {
                "built in (libchafa draws the text-cell pictures)"
            } else {
                "not built in: `cargo install --features chafa` with libchafa installed \
                 draws much finer text-cell pictures"
            }
        );
        s.push_str("why:\n");
        for r in &self.reasons {
            let _ = writeln!(s, "  - {r}");
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> Env {
        Env {
            term: Some("xterm-256color".into()),
            ..Env::default()
        }
    }

    #[test]
    fn replies_parse() {
        let bytes = b"\x1b_Gi=31;OK\x1b\\\x1bP>|kitty(0.26.5)\x1b\\\x1b[6;20;10t\x1b[4;600;800t\
            \x1b]11;rgb:ffff/ffff/dddd\x1b\\\x1b[?1;0;256S\x1b[?1;0;1024S\x1b[?62;4;22c";
        let (a, done) = parse(bytes);
        assert!(done);
        assert!(a.kitty && !a.outer_kitty);
        assert_eq!(a.versions, ["kitty(0.26.5)"]);
        assert_eq!(a.cell_px, Some((10, 20)));
        assert_eq!(a.window_px, Some((800, 600)));
        assert_eq!(a.background, Some([255, 255, 221]));
        assert_eq!(a.color_registers, Some(256));
        assert_eq!(a.max_color_registers, Some(1024));
        assert_eq!(a.attributes, [62, 4, 22]);
        // Cut short: no end marker yet.
        assert!(!parse(&bytes[..30]).1);
        assert_eq!(parse_rgb("rgb:0/8/f"), Some([0, 136, 255]));
        assert_eq!(parse_rgb("#102030"), Some([16, 32, 48]));
        assert_eq!(parse_rgb("nonsense"), None);
    }

    #[test]
    fn old_kitty_gets_direct_placement_new_kitty_placeholders() {
        let mut a = Answers {
            answered: true,
            kitty: true,
            versions: vec!["kitty(0.26.5)".into()],
            cell_px: Some((9, 18)),
            ..Answers::default()
        };
        let d = decide(&env(), &a, None);
        assert_eq!(d.graphics, Graphics::KittyDirect);
        assert!(
            d.reasons.iter().any(|r| r.contains("predates")),
            "{:?}",
            d.reasons
        );
        a.versions = vec!["kitty(0.35.2)".into()];
        assert_eq!(
            decide(&env(), &a, None).graphics,
            Graphics::KittyPlaceholders
        );
        // Konsole answers the kitty query; it is told by its variable.
        a.versions.clear();
        let konsole = Env {
            konsole: true,
            ..env()
        };
        assert_eq!(decide(&konsole, &a, None).graphics, Graphics::KittyDirect);
    }

    #[test]
    fn sixel_uses_the_registers_the_terminal_allows() {
        let a = Answers {
            answered: true,
            attributes: vec![63, 1, 2, 4, 6, 9],
            cell_px: Some((6, 13)),
            color_registers: Some(16),
            max_color_registers: Some(1024),
            ..Answers::default()
        };
        let d = decide(&env(), &a, None);
        assert_eq!(d.graphics, Graphics::Sixel);
        assert_eq!(d.color_registers, 256);
        assert_eq!(d.raise_registers_to, Some(256));
        // Without a cell size no pixel protocol can be sized.
        let d = decide(&env(), &Answers { cell_px: None, ..a }, None);
        assert_eq!(d.graphics, Graphics::best_text());
        assert!(d.reasons.iter().any(|r| r.contains("cell size")));
    }

    #[test]
    fn tmux_uses_kitty_only_through_passthrough_with_placeholders() {
        let tmux = Env {
            tmux: true,
            term: Some("tmux-256color".into()),
            term_program: Some("tmux".into()),
            ..Env::default()
        };
        let mut a = Answers {
            answered: true,
            kitty: false,
            outer_kitty: true,
            versions: vec!["tmux 3.3a".into(), "kitty(0.32.1)".into()],
            cell_px: Some((10, 20)),
            ..Answers::default()
        };
        let d = decide(&tmux, &a, None);
        assert_eq!(d.graphics, Graphics::KittyPlaceholders);
        assert_eq!(d.tmux.as_deref(), Some("tmux 3.3a"));
        assert_eq!(d.terminal, "kitty(0.32.1)");
        assert!(d.passthrough);
        a.versions[1] = "kitty(0.26.5)".into();
        assert_eq!(decide(&tmux, &a, None).graphics, Graphics::best_text());
        // Passthrough off: only tmux answers.
        let off = Answers {
            outer_kitty: false,
            versions: vec!["tmux 3.3a".into()],
            ..a
        };
        let d = decide(&tmux, &off, None);
        assert_eq!(d.graphics, Graphics::best_text());
        assert!(!d.passthrough);
        assert!(
            d.report().contains("allow-passthrough on"),
            "{}",
            d.report()
        );
    }

    #[test]
    fn nothing_answered_means_text_cells_and_says_so() {
        let d = decide(&env(), &Answers::default(), None);
        assert_eq!(d.graphics, Graphics::best_text());
        assert!(d.reasons[0].contains("did not answer"));
        let forced = decide(
            &env(),
            &Answers {
                cell_px: Some((8, 16)),
                ..Answers::default()
            },
            Some(Graphics::Sixel),
        );
        assert_eq!(forced.graphics, Graphics::Sixel);
        let iterm = Env {
            term_program: Some("iTerm.app".into()),
            ..env()
        };
        let d = decide(
            &iterm,
            &Answers {
                answered: true,
                cell_px: Some((8, 16)),
                ..Answers::default()
            },
            None,
        );
        assert_eq!(d.graphics, Graphics::Iterm2);
    }
}
