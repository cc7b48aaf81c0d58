//! A small W3C WebDriver client for tests: Debian's `chromedriver` on a free
//! port driving headless `chromium` with a fresh profile. Owns those two
//! processes (chromedriver is a `Proc`; Chromium is ended by its PID if the
//! session's deletion did not end it) and the profile directory. Every call
//! has a timeout; methods panic with what went wrong (they are test steps),
//! `try_*` variants return the error for polling.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};

use super::alloc::free_port;
use super::proc::Proc;
use super::wait_for;

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The W3C key under which an element reference travels.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
/// Starting chromedriver and then Chromium (slow on a loaded 2-core machine).
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// Any other WebDriver call.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
const MAX_RESPONSE: usize = 64 * 1024 * 1024;

/// An element found on the page (valid until the page changes).
#[derive(Clone, Debug)]
pub struct Element {
    id: String,
    /// The CSS selector it was found by, for messages.
    pub css: String,
}

/// An element's box in CSS pixels, relative to the document.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ElementRect {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
}

/// A headless Chromium session, deleted (and the browser stopped) on drop.
pub struct Browser {
    driver: Proc,
    addr: String,
    session: String,
    profile: PathBuf,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium with a `width`×`height`
    /// window; panics with the reason and chromedriver's log.
    pub fn start(width: u32, height: u32) -> Browser {
        static N: AtomicU32 = AtomicU32::new(0);
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let profile = std::env::temp_dir().join(format!(
            "vncmon-chromium-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&profile);
        std::fs::create_dir_all(&profile)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", profile.display()));
        let mut cmd = Command::new(CHROMEDRIVER);
        cmd.arg(format!("--port={port}"));
        let driver = Proc::spawn("chromedriver", &mut cmd).unwrap_or_else(|e| {
            panic!("cannot run {CHROMEDRIVER} (Debian package chromium-driver): {e}")
        });
        let mut b = Browser {
            driver,
            addr,
            session: String::new(),
            profile,
        };
        let mut last = String::from("no answer");
        let ready = wait_for(START_TIMEOUT, || {
            if !b.driver.is_running() {
                return Some(false);
            }
            match http(&b.addr, "GET", "/status", None, Duration::from_secs(2)) {
                Ok(v) if v["value"]["ready"] == true => Some(true),
                Ok(v) => {
                    last = v.to_string();
                    None
                }
                Err(e) => {
                    last = e;
                    None
                }
            }
        });
        if ready != Some(true) {
            panic!(
                "chromedriver never became ready ({last}):\n{}",
                b.driver.log_tail(40)
            );
        }
        let args = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-crash-reporter",
            &format!("--user-data-dir={}", b.profile.display()),
            &format!("--window-size={width},{height}"),
        ];
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            // Navigation returns at DOMContentLoaded, not after the first
            // frame of the MJPEG picture: tests wait for what they need.
            "pageLoadStrategy": "eager",
            "timeouts": {"implicit": 0, "pageLoad": 20_000, "script": 20_000},
            "goog:loggingPrefs": {"browser": "ALL"},
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
        }}});
        let session = http(&b.addr, "POST", "/session", Some(&caps), START_TIMEOUT).and_then(|v| {
            match v["value"]["sessionId"].as_str() {
                Some(id) if !id.is_empty() => Ok(id.to_string()),
                _ => Err(format!("no sessionId in {v}")),
            }
        });
        match session {
            Ok(id) => b.session = id,
            Err(e) => panic!(
                "cannot start {CHROMIUM} (Debian package chromium): {e}\n{}",
                b.driver.log_tail(40)
            ),
        }
        b
    }

    /// One command of this session (`path` after `/session/ID`).
    pub fn try_call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, String> {
        let full = format!("/session/{}{path}", self.session);
        http(&self.addr, method, &full, body, CALL_TIMEOUT).map(|mut v| v["value"].take())
    }

    /// Like `try_call`, but panics with the error.
    pub fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        self.try_call(method, path, body)
            .unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}"))
    }

    /// Opens `url` and waits for the DOM to be ready (not for images).
    pub fn navigate(&self, url: &str) {
        self.call("POST", "/url", Some(&json!({ "url": url })));
    }

    /// Runs `script` (a function body: `arguments[i]`, `return ...`) in the page.
    pub fn try_execute(&self, script: &str, args: &[Value]) -> Result<Value, String> {
        let body = json!({ "script": script, "args": args });
        self.try_call("POST", "/execute/sync", Some(&body))
    }

    pub fn execute(&self, script: &str, args: &[Value]) -> Value {
        self.try_execute(script, args)
            .unwrap_or_else(|e| panic!("script failed: {e}\nscript: {script}"))
    }

    /// Runs `script` that calls its last argument (`arguments[N]`) with the
    /// result, e.g. when a promise settles.
    pub fn execute_async(&self, script: &str, args: &[Value]) -> Value {
        let body = json!({ "script": script, "args": args });
        self.try_call("POST", "/execute/async", Some(&body))
            .unwrap_or_else(|e| panic!("async script failed: {e}\nscript: {script}"))
    }

    /// Polls `script` until it returns something other than null, false,
    /// 0 or ""; panics with `what` and the last result after `timeout`.
    pub fn wait_js(&self, timeout: Duration, what: &str, script: &str, args: &[Value]) -> Value {
        let mut last = Value::Null;
        wait_for(timeout, || match self.try_execute(script, args) {
            Ok(v) if truthy(&v) => Some(v),
            Ok(v) => {
                last = v;
                None
            }
            Err(e) => {
                last = Value::String(e);
                None
            }
        })
        .unwrap_or_else(|| panic!("the page never showed {what} within {timeout:?}; last: {last}"))
    }

    /// The first element matching `css`.
    pub fn find(&self, css: &str) -> Element {
        let body = json!({ "using": "css selector", "value": css });
        let v = self.call("POST", "/element", Some(&body));
        let id = v[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("{css}: no element in {v}"));
        Element {
            id: id.to_string(),
            css: css.to_string(),
        }
    }

    /// Clicks the centre of `el` (scrolled into view).
    pub fn click(&self, el: &Element) {
        self.try_call(
            "POST",
            &format!("/element/{}/click", el.id),
            Some(&json!({})),
        )
        .unwrap_or_else(|e| panic!("click on {}: {e}", el.css));
    }

    pub fn rect(&self, el: &Element) -> ElementRect {
        let v = self.call("GET", &format!("/element/{}/rect", el.id), None);
        let f = |k: &str| {
            v[k].as_f64()
                .unwrap_or_else(|| panic!("{}: bad rect {v}", el.css))
        };
        ElementRect {
            x: f("x"),
            y: f("y"),
            width: f("width"),
            height: f("height"),
        }
    }

    /// Runs W3C input `actions` (the array of input sources), then releases
    /// every key and button they left pressed.
    pub fn actions(&self, actions: Value) {
        self.call("POST", "/actions", Some(&json!({ "actions": actions })));
        self.call("DELETE", "/actions", None);
    }

    /// A mouse click with `button` (0 left, 1 middle, 2 right) at (x, y)
    /// CSS pixels from the top-left corner of `el`, which must be in view.
    pub fn click_at(&self, el: &Element, x: f64, y: f64, button: u8) {
        self.press_at(el, (x, y), button, "mouse");
    }

    /// A finger tap at (x, y) CSS pixels from the top-left corner of `el`.
    pub fn tap_at(&self, el: &Element, x: f64, y: f64) {
        self.press_at(el, (x, y), 0, "touch");
    }

    fn press_at(&self, el: &Element, (x, y): (f64, f64), button: u8, kind: &str) {
        let r = self.rect(el);
        // Element-relative pointer moves count from the element's centre.
        let dx = (x - r.width / 2.0).round() as i64;
        let dy = (y - r.height / 2.0).round() as i64;
        self.actions(json!([{
            "type": "pointer", "id": kind, "parameters": {"pointerType": kind},
            "actions": [
                {"type": "pointerMove", "duration": 0, "origin": {ELEMENT: el.id}, "x": dx, "y": dy},
                {"type": "pointerDown", "button": button},
                {"type": "pointerUp", "button": button},
            ],
        }]));
    }

    /// A mouse drag with the left button from (x0, y0) to (x1, y1) CSS
    /// pixels from the top-left corner of `el`, in `steps` moves.
    pub fn drag_at(&self, el: &Element, from: (f64, f64), to: (f64, f64), steps: u32) {
        let r = self.rect(el);
        let offset = |(x, y): (f64, f64)| {
            (
                (x - r.width / 2.0).round() as i64,
                (y - r.height / 2.0).round() as i64,
            )
        };
        let origin = json!({ ELEMENT: el.id });
        let (x0, y0) = offset(from);
        let mut moves = vec![
            json!({"type": "pointerMove", "duration": 0, "origin": origin, "x": x0, "y": y0}),
            json!({"type": "pointerDown", "button": 0}),
        ];
        for i in 1..=steps.max(1) {
            let t = f64::from(i) / f64::from(steps.max(1));
            let p = (from.0 + (to.0 - from.0) * t, from.1 + (to.1 - from.1) * t);
            let (x, y) = offset(p);
            moves.push(
                json!({"type": "pointerMove", "duration": 20, "origin": origin, "x": x, "y": y}),
            );
        }
        moves.push(json!({"type": "pointerUp", "button": 0}));
        self.actions(json!([{
            "type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"},
            "actions": moves,
        }]));
    }

    /// A wheel turn of `delta_y` pixels (100 is one notch; > 0 is down) at
    /// (x, y) CSS pixels from the top-left corner of `el`.
    pub fn wheel_at(&self, el: &Element, x: f64, y: f64, delta_y: i64) {
        let r = self.rect(el);
        let dx = (x - r.width / 2.0).round() as i64;
        let dy = (y - r.height / 2.0).round() as i64;
        self.actions(json!([{
            "type": "wheel", "id": "wheel",
            "actions": [{"type": "scroll", "duration": 0, "origin": {ELEMENT: el.id},
                         "x": dx, "y": dy, "deltaX": 0, "deltaY": delta_y}],
        }]));
    }

    /// Presses the keys of `keys` in order and releases them in reverse
    /// (a chord such as Control + `]`: `"\u{E009}]"`).
    pub fn key_chord(&self, keys: &str) {
        let downs = keys
            .chars()
            .map(|k| json!({"type": "keyDown", "value": k.to_string()}));
        let ups = keys
            .chars()
            .rev()
            .map(|k| json!({"type": "keyUp", "value": k.to_string()}));
        let acts: Vec<Value> = downs.chain(ups).collect();
        self.actions(json!([{ "type": "key", "id": "keyboard", "actions": acts }]));
    }

    /// Presses and releases each key of `keys` in turn on the focused
    /// element (WebDriver key values: characters, or e.g. `\u{E007}` Enter).
    pub fn type_keys(&self, keys: &str) {
        let mut acts = Vec::new();
        for k in keys.chars() {
            let v = k.to_string();
            acts.push(json!({"type": "keyDown", "value": v}));
            acts.push(json!({"type": "keyUp", "value": v}));
        }
        self.actions(json!([{ "type": "key", "id": "keyboard", "actions": acts }]));
    }

    /// Resizes the browser window (Chromium keeps it at least 500 px wide).
    pub fn set_window_size(&self, width: u32, height: u32) {
        let body = json!({ "width": width, "height": height });
        self.call("POST", "/window/rect", Some(&body));
    }

    /// Emulates a device viewport (any size, e.g. a 390×844 phone) through
    /// the DevTools protocol; `mobile` also applies the page's viewport meta.
    pub fn emulate_viewport(&self, width: u32, height: u32, mobile: bool) {
        let params =
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile});
        let body = json!({ "cmd": "Emulation.setDeviceMetricsOverride", "params": params });
        self.call("POST", "/goog/cdp/execute", Some(&body));
    }

    /// Saves a PNG of the viewport as `target/tmp/browser/NAME.png`, prints
    /// and returns its path.
    pub fn screenshot(&self, name: &str) -> PathBuf {
        let v = self.call("GET", "/screenshot", None);
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap_or(""))
            .unwrap_or_else(|e| panic!("screenshot is not base64: {e}"));
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser");
        let path = dir.join(format!("{name}.png"));
        std::fs::create_dir_all(&dir)
            .and_then(|()| std::fs::write(&path, &png))
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        eprintln!("screenshot: {}", path.display());
        path
    }

    /// Console errors and uncaught exceptions since the last call.
    pub fn console_errors(&self) -> Vec<String> {
        let v = self.call("POST", "/se/log", Some(&json!({ "type": "browser" })));
        let entries = v.as_array().map(Vec::as_slice).unwrap_or_default();
        entries
            .iter()
            .filter(|e| e["level"] == "SEVERE")
            .map(|e| e["message"].as_str().unwrap_or("?").to_string())
            .collect()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let path = format!("/session/{}", self.session);
            let _ = http(&self.addr, "DELETE", &path, None, Duration::from_secs(10));
        }
        // Normally Chromium is gone now; if not (a failed start, a hung
        // session), end it by PID while it is still chromedriver's child.
        for pid in chromium_children(self.driver.pid()) {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .stderr(Stdio::null())
                .status();
        }
        self.driver.stop();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        _ => true,
    }
}

/// The running (not zombie) Chromium processes whose parent is `parent`.
fn chromium_children(parent: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let is_child = |pid: u32| {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // "PID (comm) STATE PPID ..."; comm may hold spaces: split at the last ')'.
        let (head, rest) = stat.rsplit_once(')').unwrap_or(("", ""));
        let mut fields = rest.split_whitespace();
        let running = fields.next().is_some_and(|s| !matches!(s, "Z" | "X"));
        let ppid = fields.next().and_then(|p| p.parse::<u32>().ok());
        head.contains("(chrom") && running && ppid == Some(parent)
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| is_child(pid))
        .collect()
}

/// One JSON request to chromedriver on a fresh connection; the whole
/// exchange ends within `timeout`. WebDriver errors become `Err`.
fn http(
    addr: &str,
    method: &str,
    path: &str,
    body: Option<&Value>,
    timeout: Duration,
) -> Result<Value, String> {
    let deadline = Instant::now() + timeout;
    let what = format!("{method} {path}");
    let sock = addr
        .parse()
        .map_err(|e| format!("bad address {addr}: {e}"))?;
    let mut s = TcpStream::connect_timeout(&sock, timeout)
        .map_err(|e| format!("{what}: cannot connect to {addr}: {e}"))?;
    let body = body.map(Value::to_string).unwrap_or_default();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if method == "POST" {
        req += &format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        );
    }
    req += "\r\n";
    s.set_write_timeout(Some(timeout))
        .and_then(|()| s.write_all(req.as_bytes()))
        .and_then(|()| s.write_all(body.as_bytes()))
        .map_err(|e| format!("{what}: cannot send: {e}"))?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 64 * 1024];
    let (status, start, length) = loop {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut resp = httparse::Response::new(&mut headers);
        if let Ok(httparse::Status::Complete(start)) = resp.parse(&buf) {
            let length = resp
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                .and_then(|h| {
                    std::str::from_utf8(h.value)
                        .ok()?
                        .trim()
                        .parse::<usize>()
                        .ok()
                });
            let status = resp.code.unwrap_or(0);
            if buf.len() - start >= length.unwrap_or(usize::MAX) {
                break (status, start, length);
            }
        }
        if buf.len() > MAX_RESPONSE {
            return Err(format!("{what}: response larger than {MAX_RESPONSE} bytes"));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!("{what}: no whole answer within {timeout:?}"));
        }
        s.set_read_timeout(Some(left)).map_err(|e| e.to_string())?;
        match s.read(&mut chunk) {
            Ok(0) => {
                // Closed: the body, without Content-Length, runs to here.
                let mut headers = [httparse::EMPTY_HEADER; 32];
                let mut resp = httparse::Response::new(&mut headers);
                match resp.parse(&buf) {
                    Ok(httparse::Status::Complete(start)) => {
                        break (resp.code.unwrap_or(0), start, None);
                    }
                    _ => return Err(format!("{what}: connection closed before a whole answer")),
                }
            }
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("{what}: reading the answer: {e}")),
        }
    };
    let end = length.map_or(buf.len(), |n| start + n);
    let text = String::from_utf8_lossy(buf.get(start..end).unwrap_or_default());
    let v: Value = serde_json::from_str(&text)
        .map_err(|e| format!("{what}: status {status}, not JSON ({e}): {text:.300}"))?;
    let err = &v["value"]["error"];
    if status != 200 || err.is_string() {
        let msg = v["value"]["message"].as_str().unwrap_or("");
        let first = msg.lines().next().unwrap_or("");
        return Err(format!(
            "{what}: status {status}, {}: {first}",
            err.as_str().unwrap_or("error")
        ));
    }
    Ok(v)
}
