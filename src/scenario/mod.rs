//! Scenario files: a directory of JSON files, each mapping scenario names to
//! lists of steps. Loading validates a whole file before anything runs;
//! `exec` performs one step on the live session through `Control` and the
//! frames in the `Hub`. Touches the filesystem only inside the scenarios
//! directory (and the output directory for screenshots).

pub mod exec;
pub mod keys;
pub mod load;
pub mod picture;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use exec::{Cancel, Ctx, Flow, Outcome, StepError, StepErrorKind, run_step};
pub use load::{Library, Listing, load_path, parse_input};
pub use picture::Picture;

/// One scenario, validated, ready to run.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// The file name as listed (relative to the scenarios directory), or the
    /// path given on the command line.
    pub file: String,
    pub name: String,
    pub connection: Option<Connection>,
    pub steps: Vec<Step>,
}

/// The optional `connection` block of a file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Connection {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub password: Option<String>,
}

/// One step: the parsed action and the JSON object it came from (echoed by
/// the API).
#[derive(Clone, Debug)]
pub struct Step {
    pub action: Action,
    pub json: serde_json::Value,
}

/// Longest timeout or wait a step may ask for.
pub const MAX_SECONDS: f64 = 3600.0;
/// `connect` waits this long for the session when no `timeout` is given.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// `wait_for_change`, `wait_until_still` and `expect` give up after this
/// long when no `timeout` is given.
pub const DEFAULT_WAIT_TIMEOUT: Duration = Duration::from_secs(10);
/// `expect`'s default tolerance: mean absolute difference per channel
/// (0-255) between the screen region and the reference. JPEG noise on
/// flat areas and text stays well below it; a changed word does not.
pub const DEFAULT_TOLERANCE: f64 = 8.0;
/// Coordinates are below this (RFB screens are at most 8192 wide here).
pub const MAX_COORD: u32 = 8192;

/// A mouse button.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Button {
    Left,
    Middle,
    Right,
}

impl Button {
    /// Its bit in the RFB pointer mask.
    pub fn mask(self) -> u8 {
        match self {
            Button::Left => 1,
            Button::Middle => 2,
            Button::Right => 4,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Button::Left => "left",
            Button::Middle => "middle",
            Button::Right => "right",
        }
    }
}

/// One of the nine `click_position` positions: the centres of a 3×3 grid
/// over the screen (`top_left` is at (w/6, h/6), `center` at (w/2, h/2)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    /// 0 left, 1 centre, 2 right.
    pub col: u8,
    /// 0 top, 1 middle, 2 bottom.
    pub row: u8,
}

impl Position {
    /// Canonical names, row by row.
    pub const NAMES: [&'static str; 9] = [
        "top_left",
        "top",
        "top_right",
        "left",
        "center",
        "right",
        "bottom_left",
        "bottom",
        "bottom_right",
    ];

    /// `top_left`, `top-left`, `Top Left`, `top_center`, `middle`, ...
    pub fn parse(s: &str) -> Option<Position> {
        let n: String = s
            .trim()
            .to_ascii_lowercase()
            .chars()
            .map(|c| if c == '-' || c == ' ' { '_' } else { c })
            .collect();
        let n = match n.as_str() {
            "top_center" | "top_middle" | "center_top" => "top",
            "bottom_center" | "bottom_middle" | "center_bottom" => "bottom",
            "center_left" | "middle_left" | "left_center" => "left",
            "center_right" | "middle_right" | "right_center" => "right",
            "middle" | "centre" => "center",
            other => other,
        };
        let i = Position::NAMES.iter().position(|p| *p == n)?;
        Some(Position {
            col: (i % 3) as u8,
            row: (i / 3) as u8,
        })
    }

    pub fn name(self) -> &'static str {
        Position::NAMES[usize::from(self.row) * 3 + usize::from(self.col)]
    }

    /// The point on a `w`×`h` screen.
    pub fn point(self, w: u16, h: u16) -> (u16, u16) {
        let at = |len: u16, i: u8| (u32::from(len) * (2 * u32::from(i) + 1) / 6) as u16;
        (at(w, self.col), at(h, self.row))
    }
}

/// A screen rectangle, `[x, y, w, h]` in files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    pub x: u16,
    pub y: u16,
    pub w: u16,
    pub h: u16,
}

impl Region {
    pub fn fits(&self, w: u16, h: u16) -> bool {
        u32::from(self.x) + u32::from(self.w) <= u32::from(w)
            && u32::from(self.y) + u32::from(self.h) <= u32::from(h)
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}, {}, {}x{}]", self.x, self.y, self.w, self.h)
    }
}

/// What a step does. Filled in by `load`; performed by `exec`.
#[derive(Clone, Debug)]
pub enum Action {
    /// Wait until the session is up and a frame exists.
    Connect {
        timeout: Duration,
    },
    /// End the scenario (the session stays up).
    Disconnect,
    Wait {
        duration: Duration,
    },
    Click {
        x: u16,
        y: u16,
        button: Button,
        double: bool,
    },
    ClickPosition {
        position: Position,
        button: Button,
        double: bool,
    },
    Move {
        x: u16,
        y: u16,
    },
    /// Press a button, where the pointer is or at (x, y).
    MouseDown {
        at: Option<(u16, u16)>,
        button: Button,
    },
    MouseUp {
        at: Option<(u16, u16)>,
        button: Button,
    },
    Drag {
        from: (u16, u16),
        to: (u16, u16),
        button: Button,
    },
    /// `amount` notches; > 0 scrolls down.
    Scroll {
        x: u16,
        y: u16,
        amount: i32,
    },
    Type {
        text: String,
    },
    /// Press the keys in order, release in reverse.
    Key {
        key: String,
        combo: keys::Combo,
    },
    KeyDown {
        key: String,
        combo: keys::Combo,
    },
    KeyUp {
        key: String,
        combo: keys::Combo,
    },
    /// Save the screen as `<output>/<name>.jpg`.
    Screenshot {
        name: String,
    },
    WaitForChange {
        region: Option<Region>,
        timeout: Duration,
    },
    WaitUntilStill {
        still: Duration,
        region: Option<Region>,
        timeout: Duration,
    },
    Expect {
        /// As written in the file.
        image: String,
        reference: Arc<Picture>,
        region: Option<Region>,
        tolerance: f64,
        timeout: Duration,
    },
    /// Raw RFB pointer event (`POST /api/input` only).
    Pointer {
        x: u16,
        y: u16,
        buttons: u8,
    },
    /// Raw key event (`POST /api/input` only).
    Keysym {
        keysym: u32,
        down: bool,
    },
}

/// Seconds for labels: `2`, `0.5`.
fn secs(d: Duration) -> String {
    format!("{}", d.as_secs_f64())
}

fn button_prefix(button: Button, double: bool) -> String {
    let mut s = String::new();
    if double {
        s.push_str("double ");
    }
    if button != Button::Left {
        s.push_str(button.name());
        s.push(' ');
    }
    s
}

impl Step {
    /// A short human label, e.g. `click (640, 400)` or `type "hello"`.
    pub fn label(&self) -> String {
        let in_region = |r: &Option<Region>| r.map(|r| format!(" in {r}")).unwrap_or_default();
        match &self.action {
            Action::Connect { .. } => "connect".into(),
            Action::Disconnect => "disconnect".into(),
            Action::Wait { duration } => format!("wait {} s", secs(*duration)),
            Action::Click {
                x,
                y,
                button,
                double,
            } => {
                format!("{}click ({x}, {y})", button_prefix(*button, *double))
            }
            Action::ClickPosition {
                position,
                button,
                double,
            } => {
                format!(
                    "{}click {}",
                    button_prefix(*button, *double),
                    position.name()
                )
            }
            Action::Move { x, y } => format!("move ({x}, {y})"),
            Action::MouseDown { at, button } | Action::MouseUp { at, button } => {
                let verb = match self.action {
                    Action::MouseDown { .. } => "mouse_down",
                    _ => "mouse_up",
                };
                match at {
                    Some((x, y)) => format!("{verb} {} ({x}, {y})", button.name()),
                    None => format!("{verb} {}", button.name()),
                }
            }
            Action::Drag { from, to, button } => format!(
                "{}drag ({}, {}) to ({}, {})",
                button_prefix(*button, false),
                from.0,
                from.1,
                to.0,
                to.1
            ),
            Action::Scroll { x, y, amount } => format!("scroll {amount} at ({x}, {y})"),
            Action::Type { text } => {
                const MAX: usize = 40;
                if text.chars().count() > MAX {
                    let short: String = text.chars().take(MAX).collect();
                    format!("type {short:?}…")
                } else {
                    format!("type {text:?}")
                }
            }
            Action::Key { key, .. } => format!("key {}", key.trim()),
            Action::KeyDown { key, .. } => format!("key_down {}", key.trim()),
            Action::KeyUp { key, .. } => format!("key_up {}", key.trim()),
            Action::Screenshot { name } => format!("screenshot {name}"),
            Action::WaitForChange { region, .. } => {
                format!("wait_for_change{}", in_region(region))
            }
            Action::WaitUntilStill { still, region, .. } => format!(
                "wait_until_still {} ms{}",
                still.as_millis(),
                in_region(region)
            ),
            Action::Expect { image, region, .. } => {
                format!("expect {image}{}", in_region(region))
            }
            Action::Pointer { x, y, buttons } => format!("pointer ({x}, {y}) buttons {buttons}"),
            Action::Keysym { keysym, down } => {
                format!("keysym 0x{keysym:x} {}", if *down { "down" } else { "up" })
            }
        }
    }

    /// The points and regions the step touches, for `check_screen`.
    fn places(&self) -> (Vec<(u16, u16)>, Option<Region>) {
        match &self.action {
            Action::Click { x, y, .. }
            | Action::Move { x, y }
            | Action::Scroll { x, y, .. }
            | Action::Pointer { x, y, .. } => (vec![(*x, *y)], None),
            Action::MouseDown { at, .. } | Action::MouseUp { at, .. } => {
                (at.iter().copied().collect(), None)
            }
            Action::Drag { from, to, .. } => (vec![*from, *to], None),
            Action::WaitForChange { region, .. }
            | Action::WaitUntilStill { region, .. }
            | Action::Expect { region, .. } => (Vec::new(), *region),
            _ => (Vec::new(), None),
        }
    }

    /// Checks the step against a `w`×`h` screen: points and regions inside
    /// it, and an `expect` reference without a region as big as the screen.
    pub fn check_screen(&self, w: u16, h: u16) -> Result<(), String> {
        let (points, region) = self.places();
        for (x, y) in points {
            if x >= w || y >= h {
                return Err(format!("({x}, {y}) is off the {w}x{h} screen"));
            }
        }
        if let Some(r) = region
            && !r.fits(w, h)
        {
            return Err(format!("region {r} is off the {w}x{h} screen"));
        }
        if let Action::Expect {
            image,
            reference,
            region: None,
            ..
        } = &self.action
            && (reference.width, reference.height) != (w, h)
        {
            return Err(format!(
                "{image} is {}x{} but the screen is {w}x{h}; give a \"region\" or a full-screen image",
                reference.width, reference.height
            ));
        }
        Ok(())
    }
}

impl Scenario {
    /// Checks every step against a `w`×`h` screen (the runner calls it
    /// before running, as the screen size may be unknown at load time).
    pub fn check_screen(&self, w: u16, h: u16) -> Result<(), LoadError> {
        for (i, step) in self.steps.iter().enumerate() {
            step.check_screen(w, h).map_err(|message| LoadError {
                kind: LoadErrorKind::Invalid,
                file: self.file.clone(),
                scenario: Some(self.name.clone()),
                step: Some(i + 1),
                message,
            })?;
        }
        Ok(())
    }
}

/// Why a file or scenario could not be loaded: file, scenario, 1-based step
/// number and what is wrong.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadError {
    pub kind: LoadErrorKind,
    pub file: String,
    pub scenario: Option<String>,
    /// 1-based.
    pub step: Option<usize>,
    pub message: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadErrorKind {
    /// No such file, or no such scenario in it.
    NotFound,
    /// The name tries to leave the scenarios directory.
    Refused,
    /// Syntax or validation error.
    Invalid,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(s) = &self.scenario {
            write!(f, ": scenario {s:?}")?;
        }
        if let Some(n) = self.step {
            write!(f, ": step {n}")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for LoadError {}

/// Where `screenshot` writes and `expect` saves its diff snapshots.
pub fn default_output_dir() -> PathBuf {
    PathBuf::from("output")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(action: Action) -> Step {
        Step {
            action,
            json: serde_json::Value::Null,
        }
    }

    #[test]
    fn positions() {
        let p = |s: &str| Position::parse(s).map(|p| p.point(800, 480));
        assert_eq!(p("center"), Some((400, 240)));
        assert_eq!(p("Middle"), Some((400, 240)));
        assert_eq!(p("top-left"), Some((133, 80)));
        assert_eq!(p("Top Left"), Some((133, 80)));
        assert_eq!(p("bottom_right"), Some((666, 400)));
        assert_eq!(p("top_center"), Some((400, 80)));
        assert_eq!(p("center-left"), Some((133, 240)));
        assert_eq!(p("corner"), None);
        for n in Position::NAMES {
            assert_eq!(Position::parse(n).map(Position::name), Some(n));
        }
    }

    #[test]
    fn labels() {
        let long = "x".repeat(50);
        assert_eq!(
            step(Action::Type { text: long }).label(),
            format!("type \"{}\"…", "x".repeat(40))
        );
        assert_eq!(
            step(Action::Type {
                text: "a\"b\n".into()
            })
            .label(),
            "type \"a\\\"b\\n\""
        );
        assert_eq!(
            step(Action::Wait {
                duration: Duration::from_millis(1500)
            })
            .label(),
            "wait 1.5 s"
        );
        assert_eq!(
            step(Action::Drag {
                from: (1, 2),
                to: (3, 4),
                button: Button::Right
            })
            .label(),
            "right drag (1, 2) to (3, 4)"
        );
        assert_eq!(
            step(Action::Keysym {
                keysym: 0x61,
                down: false
            })
            .label(),
            "keysym 0x61 up"
        );
    }

    #[test]
    fn load_error_display() {
        let e = LoadError {
            kind: LoadErrorKind::Invalid,
            file: "a.json".into(),
            scenario: Some("s".into()),
            step: Some(3),
            message: "wait: missing \"seconds\"".into(),
        };
        assert_eq!(
            e.to_string(),
            "a.json: scenario \"s\": step 3: wait: missing \"seconds\""
        );
    }
}
