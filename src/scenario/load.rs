//! Reading and validating scenario files; name lookup confined to the
//! scenarios directory. Reads files only: the scenario files, and `expect`
//! reference images inside the scenario file's directory.
//!
//! Names are flat: a file name given to `Library::load` is one path
//! component (no `/` or `\`, not `..`, not absolute), and once resolved
//! (symbolic links followed) it must still lie inside the directory.

use std::fs;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

use super::keys;
use super::{
    Action, Button, Connection, DEFAULT_CONNECT_TIMEOUT, DEFAULT_TOLERANCE, DEFAULT_WAIT_TIMEOUT,
    LoadError, LoadErrorKind, MAX_COORD, MAX_SECONDS, Picture, Position, Region, Scenario, Step,
};

/// Largest scenario file read.
const MAX_FILE_BYTES: u64 = 1 << 20;
/// Largest reference image read.
const MAX_IMAGE_BYTES: u64 = 32 << 20;
/// Longest `type` text, in characters.
const MAX_TEXT: usize = 10_000;
/// Most actions in one `POST /api/input` body.
const MAX_INPUT_ACTIONS: usize = 1000;
/// Most scroll notches in one step.
const MAX_SCROLL: i64 = 100;

/// Actions a scenario file may use.
pub const FILE_ACTIONS: &[&str] = &[
    "connect",
    "disconnect",
    "wait",
    "click",
    "click_position",
    "move",
    "mouse_down",
    "mouse_up",
    "drag",
    "scroll",
    "type",
    "key",
    "key_down",
    "key_up",
    "screenshot",
    "wait_for_change",
    "wait_until_still",
    "expect",
];

/// Actions `POST /api/input` takes.
pub const INPUT_ACTIONS: &[&str] = &[
    "click",
    "move",
    "mouse_down",
    "mouse_up",
    "drag",
    "scroll",
    "type",
    "key",
    "key_down",
    "key_up",
    "pointer",
    "keysym",
];

/// The scenarios directory.
#[derive(Clone, Debug)]
pub struct Library {
    dir: PathBuf,
}

/// One scenario (or one broken file) as `/api/scenarios` lists it.
#[derive(Clone, Debug, PartialEq)]
pub struct Listing {
    pub file: String,
    /// None for a file that does not load.
    pub name: Option<String>,
    pub path: String,
    pub steps: usize,
    pub error: Option<String>,
}

/// A whole file, validated.
struct Parsed {
    connection: Option<Connection>,
    /// Sorted by name.
    scenarios: Vec<(String, Vec<Step>)>,
}

fn error(kind: LoadErrorKind, file: &str, message: impl Into<String>) -> LoadError {
    LoadError {
        kind,
        file: file.into(),
        scenario: None,
        step: None,
        message: message.into(),
    }
}

impl Library {
    pub fn new(dir: impl Into<PathBuf>) -> Library {
        Library { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Every scenario of every `*.json` file, sorted by file then name; a
    /// file that does not load is listed once, with its error.
    pub fn list(&self) -> Vec<Listing> {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut files: Vec<String> = entries
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.ends_with(".json") && !n.starts_with('.'))
            .collect();
        files.sort();
        let mut out = Vec::new();
        for file in files {
            let path = self.dir.join(&file).display().to_string();
            match self.resolve(&file).and_then(|p| parse_file(&file, &p)) {
                Ok(parsed) => {
                    out.extend(parsed.scenarios.into_iter().map(|(name, steps)| Listing {
                        file: file.clone(),
                        name: Some(name),
                        path: path.clone(),
                        steps: steps.len(),
                        error: None,
                    }))
                }
                Err(e) => out.push(Listing {
                    file: file.clone(),
                    name: None,
                    path,
                    steps: 0,
                    error: Some(e.to_string()),
                }),
            }
        }
        out
    }

    /// The file's real path, once it is known to lie inside the directory.
    fn resolve(&self, file: &str) -> Result<PathBuf, LoadError> {
        let outside = || {
            error(
                LoadErrorKind::Refused,
                file,
                "refused: the name is outside the scenarios directory",
            )
        };
        let p = Path::new(file);
        let flat = matches!(
            p.components().collect::<Vec<_>>().as_slice(),
            [Component::Normal(_)]
        );
        if file.is_empty() || !flat || file.contains(['/', '\\', '\0']) {
            return Err(outside());
        }
        let path = self.dir.join(file);
        if fs::symlink_metadata(&path).is_err() {
            return Err(error(
                LoadErrorKind::NotFound,
                file,
                format!("no such file in {}", self.dir.display()),
            ));
        }
        let dir = fs::canonicalize(&self.dir).map_err(|e| {
            error(
                LoadErrorKind::NotFound,
                file,
                format!("scenarios directory {}: {e}", self.dir.display()),
            )
        })?;
        let real = fs::canonicalize(&path).map_err(|e| {
            error(
                LoadErrorKind::NotFound,
                file,
                format!("cannot resolve {}: {e}", path.display()),
            )
        })?;
        if !real.starts_with(&dir) {
            return Err(outside());
        }
        Ok(real)
    }

    /// Loads scenario `name` of `file`; `screen` (width, height) bounds coordinates when known.
    /// The whole file is validated first.
    pub fn load(
        &self,
        file: &str,
        name: &str,
        screen: Option<(u16, u16)>,
    ) -> Result<Scenario, LoadError> {
        let path = self.resolve(file)?;
        pick(file, parse_file(file, &path)?, name, screen)
    }
}

/// Loads scenario `name` from a file anywhere (the command line's FILE).
/// `expect` images resolve relative to the file's directory and must stay in it.
pub fn load_path(
    path: &Path,
    name: &str,
    screen: Option<(u16, u16)>,
) -> Result<Scenario, LoadError> {
    let file = path.display().to_string();
    let real = fs::canonicalize(path)
        .map_err(|e| error(LoadErrorKind::NotFound, &file, format!("cannot open: {e}")))?;
    pick(&file, parse_file(&file, &real)?, name, screen)
}

fn pick(
    file: &str,
    parsed: Parsed,
    name: &str,
    screen: Option<(u16, u16)>,
) -> Result<Scenario, LoadError> {
    let names: Vec<&str> = parsed.scenarios.iter().map(|(n, _)| n.as_str()).collect();
    let Some(steps) = parsed
        .scenarios
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, s)| s.clone())
    else {
        return Err(error(
            LoadErrorKind::NotFound,
            file,
            format!("no scenario {name:?} (the file has: {})", names.join(", ")),
        ));
    };
    let s = Scenario {
        file: file.into(),
        name: name.into(),
        connection: parsed.connection,
        steps,
    };
    if let Some((w, h)) = screen {
        s.check_screen(w, h)?;
    }
    Ok(s)
}

/// Reads and validates a whole file at `real` (already resolved).
fn parse_file(file: &str, real: &Path) -> Result<Parsed, LoadError> {
    let invalid = |m: String| error(LoadErrorKind::Invalid, file, m);
    let meta = fs::metadata(real).map_err(|e| invalid(format!("cannot read: {e}")))?;
    if !meta.is_file() {
        return Err(invalid("not a regular file".into()));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(invalid(format!(
            "the file is {} bytes; at most {MAX_FILE_BYTES} are read",
            meta.len()
        )));
    }
    let bytes = fs::read(real).map_err(|e| invalid(format!("cannot read: {e}")))?;
    let dir = real.parent().unwrap_or(Path::new("/"));
    parse_bytes(file, &bytes, dir)
}

/// `line 3 column 5: expected `,` or `}``, from serde_json's error.
fn syntax_error(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let what = match text.rfind(" at line ") {
        Some(i) => &text[..i],
        None => &text,
    };
    format!("line {} column {}: {what}", e.line(), e.column())
}

/// Validates a file's bytes; `dir` is where its `expect` images live.
fn parse_bytes(file: &str, bytes: &[u8], dir: &Path) -> Result<Parsed, LoadError> {
    let invalid = |m: String| error(LoadErrorKind::Invalid, file, m);
    let root: Value = serde_json::from_slice(bytes).map_err(|e| invalid(syntax_error(&e)))?;
    let Value::Object(top) = root else {
        return Err(invalid(format!(
            "the file must be a JSON object with \"scenarios\", not {}",
            type_name(&root)
        )));
    };
    for k in top.keys() {
        if !["connection", "scenarios", "description"].contains(&k.as_str()) {
            return Err(invalid(format!(
                "unknown top-level key {k:?} (known: connection, scenarios, description)"
            )));
        }
    }
    let connection = match top.get("connection") {
        None => None,
        Some(v) => Some(parse_connection(v).map_err(|m| invalid(format!("connection: {m}")))?),
    };
    if let Some(d) = top.get("description")
        && !d.is_string()
    {
        return Err(invalid("\"description\" must be a string".into()));
    }
    let scenarios = match top.get("scenarios") {
        None => return Err(invalid("\"scenarios\" is missing".into())),
        Some(Value::Object(m)) => m,
        Some(v) => {
            return Err(invalid(format!(
                "\"scenarios\" must be an object mapping names to lists of steps, not {}",
                type_name(v)
            )));
        }
    };
    if scenarios.is_empty() {
        return Err(invalid("\"scenarios\" is empty".into()));
    }
    let source = Source::File(dir);
    let mut out = Vec::with_capacity(scenarios.len());
    for (name, list) in scenarios {
        let in_scenario = |step: Option<usize>, message: String| LoadError {
            kind: LoadErrorKind::Invalid,
            file: file.into(),
            scenario: Some(name.clone()),
            step,
            message,
        };
        if name.trim().is_empty() || name.chars().any(char::is_control) || name.len() > 200 {
            return Err(in_scenario(
                None,
                "a scenario name must be 1-200 characters, none of them control characters".into(),
            ));
        }
        let Value::Array(items) = list else {
            return Err(in_scenario(
                None,
                format!("must be a list of steps, not {}", type_name(list)),
            ));
        };
        if items.is_empty() {
            return Err(in_scenario(None, "the scenario has no steps".into()));
        }
        let mut steps = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            steps.push(parse_step(item, &source).map_err(|m| in_scenario(Some(i + 1), m))?);
        }
        out.push((name.clone(), steps));
    }
    Ok(Parsed {
        connection,
        scenarios: out,
    })
}

fn parse_connection(v: &Value) -> Result<Connection, String> {
    let Value::Object(m) = v else {
        return Err(format!("must be an object, not {}", type_name(v)));
    };
    let mut c = Connection::default();
    for (k, v) in m {
        match k.as_str() {
            "protocol" => match v.as_str() {
                Some(p) if p.eq_ignore_ascii_case("vnc") => {}
                _ => return Err(format!("\"protocol\" must be \"vnc\", got {}", show(v))),
            },
            "host" => match v.as_str() {
                Some(h) if !h.trim().is_empty() => c.host = Some(h.trim().into()),
                _ => return Err(format!("\"host\" must be a host name, got {}", show(v))),
            },
            "port" => match v.as_u64() {
                Some(p @ 1..=65535) => c.port = Some(p as u16),
                _ => return Err(format!("\"port\" must be 1-65535, got {}", show(v))),
            },
            "password" => match v.as_str() {
                Some(p) => c.password = Some(p.into()),
                None => return Err(format!("\"password\" must be a string, got {}", show(v))),
            },
            other => {
                return Err(format!(
                    "unknown key {other:?} (known: protocol, host, port, password)"
                ));
            }
        }
    }
    Ok(c)
}

/// Where a step comes from: a file (with the directory its images are
/// confined to) or `POST /api/input`.
enum Source<'a> {
    File(&'a Path),
    Input,
}

/// Parses a `POST /api/input` body: one input action object or an array of them.
pub fn parse_input(body: &[u8]) -> Result<Vec<Step>, String> {
    let root: Value = serde_json::from_slice(body).map_err(|e| syntax_error(&e))?;
    let items = match root {
        Value::Array(items) => items,
        v @ Value::Object(_) => vec![v],
        v => {
            return Err(format!(
                "the body must be an input action object or a list of them, not {}",
                type_name(&v)
            ));
        }
    };
    if items.is_empty() {
        return Err("the list of input actions is empty".into());
    }
    if items.len() > MAX_INPUT_ACTIONS {
        return Err(format!(
            "{} input actions; at most {MAX_INPUT_ACTIONS} at once",
            items.len()
        ));
    }
    let many = items.len() > 1;
    items
        .iter()
        .enumerate()
        .map(|(i, v)| {
            parse_step(v, &Source::Input).map_err(|m| {
                if many {
                    format!("action {}: {m}", i + 1)
                } else {
                    m
                }
            })
        })
        .collect()
}

/// `"2"`, `-5`, `[1,2]`: a JSON value, shortened, for messages.
fn show(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 40 {
        let short: String = s.chars().take(40).collect();
        format!("{short}…")
    } else {
        s
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// The parameters of one step: typed getters that remember which keys were
/// asked for, so `finish` can refuse the others.
struct Params<'a> {
    action: &'a str,
    obj: &'a Map<String, Value>,
    known: Vec<&'static str>,
}

impl<'a> Params<'a> {
    fn get(&mut self, key: &'static str) -> Option<&'a Value> {
        self.known.push(key);
        self.obj.get(key)
    }

    fn missing(&self, key: &str, what: &str) -> String {
        format!("{}: missing {key:?} ({what})", self.action)
    }

    fn bad(&self, key: &str, what: &str, v: &Value) -> String {
        format!("{}: {key:?} must be {what}, got {}", self.action, show(v))
    }

    /// A non-negative integer up to `max`.
    fn uint_value(&self, key: &str, v: &Value, max: u64, what: &str) -> Result<u64, String> {
        if let Some(n) = v.as_u64() {
            if n > max {
                return Err(format!(
                    "{}: {key:?} is {n}, beyond the largest allowed, {max}",
                    self.action
                ));
            }
            return Ok(n);
        }
        if v.as_f64().is_some_and(|f| f < 0.0) {
            return Err(format!(
                "{}: {key:?} must not be negative, got {}",
                self.action,
                show(v)
            ));
        }
        Err(self.bad(key, what, v))
    }

    fn coord_value(&self, key: &str, v: &Value) -> Result<u16, String> {
        let n = self.uint_value(
            key,
            v,
            u64::from(MAX_COORD - 1),
            "a pixel coordinate, an integer 0-8191",
        )?;
        Ok(n as u16)
    }

    fn coord(&mut self, key: &'static str) -> Result<u16, String> {
        match self.get(key) {
            None => Err(self.missing(key, "a pixel coordinate, an integer 0-8191")),
            Some(v) => self.coord_value(key, v),
        }
    }

    fn opt_point(&mut self) -> Result<Option<(u16, u16)>, String> {
        match (self.get("x"), self.get("y")) {
            (None, None) => Ok(None),
            (Some(x), Some(y)) => Ok(Some((self.coord_value("x", x)?, self.coord_value("y", y)?))),
            _ => Err(format!(
                "{}: give both \"x\" and \"y\", or neither",
                self.action
            )),
        }
    }

    /// `[x, y]`.
    fn pair(&mut self, key: &'static str) -> Result<(u16, u16), String> {
        const WHAT: &str = "a point [x, y]";
        let Some(v) = self.get(key) else {
            return Err(self.missing(key, WHAT));
        };
        match v.as_array().map(Vec::as_slice) {
            Some([x, y]) => Ok((self.coord_value(key, x)?, self.coord_value(key, y)?)),
            _ => Err(self.bad(key, WHAT, v)),
        }
    }

    fn region(&mut self) -> Result<Option<Region>, String> {
        const WHAT: &str = "a region [x, y, width, height]";
        let Some(v) = self.get("region") else {
            return Ok(None);
        };
        let Some([x, y, w, h]) = v.as_array().map(Vec::as_slice) else {
            return Err(self.bad("region", WHAT, v));
        };
        let r = Region {
            x: self.coord_value("region", x)?,
            y: self.coord_value("region", y)?,
            w: self.coord_value("region", w)?,
            h: self.coord_value("region", h)?,
        };
        if r.w == 0 || r.h == 0 {
            return Err(format!("{}: \"region\" {r} is empty", self.action));
        }
        if !r.fits(MAX_COORD as u16, MAX_COORD as u16) {
            return Err(format!(
                "{}: \"region\" {r} reaches beyond {MAX_COORD}",
                self.action
            ));
        }
        Ok(Some(r))
    }

    fn button(&mut self) -> Result<Button, String> {
        const WHAT: &str = "\"left\", \"middle\" or \"right\"";
        let Some(v) = self.get("button") else {
            return Ok(Button::Left);
        };
        match v.as_str().map(str::to_ascii_lowercase).as_deref() {
            Some("left") => Ok(Button::Left),
            Some("middle") => Ok(Button::Middle),
            Some("right") => Ok(Button::Right),
            _ => Err(self.bad("button", WHAT, v)),
        }
    }

    fn flag(&mut self, key: &'static str) -> Result<bool, String> {
        match self.get(key) {
            None => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(v) => Err(self.bad(key, "true or false", v)),
        }
    }

    fn string(&mut self, key: &'static str, what: &str) -> Result<&'a str, String> {
        match self.get(key) {
            None => Err(self.missing(key, what)),
            Some(Value::String(s)) => Ok(s),
            Some(v) => Err(self.bad(key, what, v)),
        }
    }

    /// A number of seconds, 0 < s <= MAX_SECONDS (or 0 allowed with `zero_ok`).
    fn seconds_value(&self, key: &str, v: &Value, zero_ok: bool) -> Result<Duration, String> {
        let what = "a number of seconds";
        let Some(s) = v.as_f64() else {
            return Err(self.bad(key, what, v));
        };
        if s < 0.0 || (s == 0.0 && !zero_ok) {
            let need = if zero_ok { "0 or more" } else { "more than 0" };
            return Err(format!(
                "{}: {key:?} must be {need} seconds, got {}",
                self.action,
                show(v)
            ));
        }
        if s > MAX_SECONDS {
            return Err(format!(
                "{}: {key:?} is {}, beyond the longest allowed, {MAX_SECONDS} seconds",
                self.action,
                show(v)
            ));
        }
        Ok(Duration::from_secs_f64(s))
    }

    fn timeout(&mut self, default: Duration) -> Result<Duration, String> {
        match self.get("timeout") {
            None => Ok(default),
            Some(v) => self.seconds_value("timeout", v, false),
        }
    }

    fn combo(&mut self) -> Result<(String, keys::Combo), String> {
        let key = self.string("key", "a key name such as \"enter\" or \"ctrl+l\"")?;
        let combo = keys::parse_combo(key).map_err(|m| format!("{}: {m}", self.action))?;
        Ok((key.to_string(), combo))
    }

    /// Refuses parameters nobody asked for (a typo must not pass silently).
    fn finish(self) -> Result<(), String> {
        for k in self.obj.keys() {
            if k == "action" || k == "comment" || self.known.contains(&k.as_str()) {
                continue;
            }
            let takes = if self.known.is_empty() {
                "no parameters".to_string()
            } else {
                let mut names: Vec<&str> = Vec::new();
                for k in &self.known {
                    if !names.contains(k) {
                        names.push(k);
                    }
                }
                names.join(", ")
            };
            return Err(format!(
                "{}: unknown parameter {k:?} ({} takes {takes})",
                self.action, self.action
            ));
        }
        Ok(())
    }
}

/// A screenshot name: 1-64 of `A-Z a-z 0-9 _ - .`, not starting with `.`.
fn check_name(name: &str) -> Result<(), String> {
    let ok = (1..=64).contains(&name.len())
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "screenshot: \"name\" {name:?} must be 1-64 letters, digits, '_', '-' or '.', \
             not starting with '.'"
        ))
    }
}

/// Reads an `expect` image: relative to `dir`, and inside it once resolved.
fn load_image(dir: &Path, image: &str) -> Result<Picture, String> {
    let p = Path::new(image);
    if image.is_empty()
        || p.is_absolute()
        || p.components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(format!(
            "expect: \"image\" {image:?} must be a path inside the scenario file's directory"
        ));
    }
    let path = dir.join(p);
    let real =
        fs::canonicalize(&path).map_err(|e| format!("expect: cannot open {image:?}: {e}"))?;
    if !real.starts_with(dir) {
        return Err(format!(
            "expect: \"image\" {image:?} leads outside the scenario file's directory"
        ));
    }
    let meta = fs::metadata(&real).map_err(|e| format!("expect: cannot open {image:?}: {e}"))?;
    if !meta.is_file() || meta.len() > MAX_IMAGE_BYTES {
        return Err(format!(
            "expect: {image:?} is not a regular file of at most {MAX_IMAGE_BYTES} bytes"
        ));
    }
    let bytes = fs::read(&real).map_err(|e| format!("expect: cannot read {image:?}: {e}"))?;
    Picture::decode(&bytes).map_err(|e| format!("expect: {image:?}: {e}"))
}

fn parse_step(v: &Value, source: &Source) -> Result<Step, String> {
    let Value::Object(obj) = v else {
        return Err(format!(
            "a step must be an object with an \"action\", not {}",
            type_name(v)
        ));
    };
    let allowed = match source {
        Source::File(_) => FILE_ACTIONS,
        Source::Input => INPUT_ACTIONS,
    };
    let action = match obj.get("action") {
        None => return Err("missing \"action\"".into()),
        Some(Value::String(a)) => a.as_str(),
        Some(other) => {
            return Err(format!("\"action\" must be a string, got {}", show(other)));
        }
    };
    if !allowed.contains(&action) {
        return Err(format!(
            "unknown action {action:?}; known actions: {}",
            allowed.join(", ")
        ));
    }
    let mut p = Params {
        action,
        obj,
        known: Vec::new(),
    };
    let parsed = match action {
        "connect" => Action::Connect {
            timeout: p.timeout(DEFAULT_CONNECT_TIMEOUT)?,
        },
        "disconnect" => Action::Disconnect,
        "wait" => Action::Wait {
            duration: match p.get("seconds") {
                None => return Err(p.missing("seconds", "a number of seconds")),
                Some(v) => p.seconds_value("seconds", v, true)?,
            },
        },
        "click" => Action::Click {
            x: p.coord("x")?,
            y: p.coord("y")?,
            button: p.button()?,
            double: p.flag("double")?,
        },
        "click_position" => {
            let what = "one of top_left, top, top_right, left, center, right, bottom_left, \
                        bottom, bottom_right";
            let name = p.string("position", what)?;
            let Some(position) = Position::parse(name) else {
                return Err(format!(
                    "click_position: unknown position {name:?}; use {what}"
                ));
            };
            Action::ClickPosition {
                position,
                button: p.button()?,
                double: p.flag("double")?,
            }
        }
        "move" => Action::Move {
            x: p.coord("x")?,
            y: p.coord("y")?,
        },
        "mouse_down" => Action::MouseDown {
            at: p.opt_point()?,
            button: p.button()?,
        },
        "mouse_up" => Action::MouseUp {
            at: p.opt_point()?,
            button: p.button()?,
        },
        "drag" => Action::Drag {
            from: p.pair("from")?,
            to: p.pair("to")?,
            button: p.button()?,
        },
        "scroll" => {
            let (x, y) = (p.coord("x")?, p.coord("y")?);
            let what = "a whole number of notches, > 0 down, < 0 up";
            let amount = match p.get("amount") {
                None => return Err(p.missing("amount", what)),
                Some(v) => match v.as_i64() {
                    Some(0) => return Err("scroll: \"amount\" must not be 0".into()),
                    Some(n) if n.abs() <= MAX_SCROLL => n as i32,
                    Some(n) => {
                        return Err(format!(
                            "scroll: \"amount\" {n} is beyond {MAX_SCROLL} notches"
                        ));
                    }
                    None => return Err(p.bad("amount", what, v)),
                },
            };
            Action::Scroll { x, y, amount }
        }
        "type" => {
            let text = p.string("text", "a string")?;
            if text.is_empty() {
                return Err("type: \"text\" is empty".into());
            }
            if text.chars().count() > MAX_TEXT {
                return Err(format!(
                    "type: \"text\" is longer than {MAX_TEXT} characters"
                ));
            }
            keys::text_keysyms(text).map_err(|m| format!("type: {m}"))?;
            Action::Type { text: text.into() }
        }
        "key" => {
            let (key, combo) = p.combo()?;
            Action::Key { key, combo }
        }
        "key_down" => {
            let (key, combo) = p.combo()?;
            Action::KeyDown { key, combo }
        }
        "key_up" => {
            let (key, combo) = p.combo()?;
            Action::KeyUp { key, combo }
        }
        "screenshot" => {
            let name = p.string("name", "a file name without directory")?;
            check_name(name)?;
            Action::Screenshot {
                name: name.trim_end_matches(".jpg").to_string(),
            }
        }
        "wait_for_change" => Action::WaitForChange {
            region: p.region()?,
            timeout: p.timeout(DEFAULT_WAIT_TIMEOUT)?,
        },
        "wait_until_still" => {
            let what = "milliseconds without change, an integer";
            let ms = match p.get("ms") {
                None => return Err(p.missing("ms", what)),
                Some(v) => p.uint_value("ms", v, (MAX_SECONDS * 1000.0) as u64, what)?,
            };
            if ms == 0 {
                return Err("wait_until_still: \"ms\" must be more than 0".into());
            }
            let region = p.region()?;
            let timeout = p.timeout(DEFAULT_WAIT_TIMEOUT)?;
            let still = Duration::from_millis(ms);
            if still >= timeout {
                return Err(format!(
                    "wait_until_still: \"ms\" ({ms}) must be shorter than the timeout ({} s)",
                    timeout.as_secs_f64()
                ));
            }
            Action::WaitUntilStill {
                still,
                region,
                timeout,
            }
        }
        "expect" => {
            let image = p.string("image", "a JPEG or PNG file next to the scenario file")?;
            let region = p.region()?;
            let tolerance = match p.get("tolerance") {
                None => DEFAULT_TOLERANCE,
                Some(v) => match v.as_f64() {
                    Some(t) if (0.0..=255.0).contains(&t) => t,
                    _ => {
                        return Err(p.bad("tolerance", "a mean difference per channel, 0-255", v));
                    }
                },
            };
            let timeout = p.timeout(DEFAULT_WAIT_TIMEOUT)?;
            p.finish()?;
            let Source::File(dir) = source else {
                return Err("expect is for scenario files only".into());
            };
            let reference = load_image(dir, image)?;
            if let Some(r) = region
                && (r.w, r.h) != (reference.width, reference.height)
            {
                return Err(format!(
                    "expect: {image:?} is {}x{} but the region {r} is {}x{}",
                    reference.width, reference.height, r.w, r.h
                ));
            }
            return Ok(Step {
                action: Action::Expect {
                    image: image.into(),
                    reference: Arc::new(reference),
                    region,
                    tolerance,
                    timeout,
                },
                json: v.clone(),
            });
        }
        "pointer" => {
            let (x, y) = (p.coord("x")?, p.coord("y")?);
            let what = "an RFB button mask 0-255";
            let buttons = match p.get("buttons") {
                None => return Err(p.missing("buttons", what)),
                Some(v) => p.uint_value("buttons", v, 255, what)? as u8,
            };
            Action::Pointer { x, y, buttons }
        }
        "keysym" => {
            let what = "an X keysym, an integer";
            let keysym = match p.get("keysym") {
                None => return Err(p.missing("keysym", what)),
                Some(v) => p.uint_value("keysym", v, 0x1fff_ffff, what)? as u32,
            };
            let down = match p.get("down") {
                None => return Err(p.missing("down", "true or false")),
                Some(Value::Bool(b)) => *b,
                Some(v) => return Err(p.bad("down", "true or false", v)),
            };
            Action::Keysym { keysym, down }
        }
        _ => {
            return Err(format!(
                "unknown action {action:?}; known actions: {}",
                allowed.join(", ")
            ));
        }
    };
    p.finish()?;
    Ok(Step {
        action: parsed,
        json: v.clone(),
    })
}
