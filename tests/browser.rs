//! The web page in headless Chromium against `vncmon --demo`: the live
//! picture shows the demo's pixels and moves, the status panel fills in, the
//! Connect / Disconnect buttons drive the session, scenarios load from the
//! picker and run with the current step highlighted, the log panel follows,
//! clicks, drags, the wheel and keys on the picture reach the remote screen
//! (also a real Xtigervnc, checked with `xdotool` and an `xterm`), the
//! view-only switch blocks input, and the layout fits a phone. Screenshots
//! land in `target/tmp/browser/` for a human to look at.

mod common;

use std::time::Duration;

use common::alloc::{TempDir, TempFile};
use common::browser::{Browser, Element};
use common::proc::Proc;
use common::{Auth, Kind, RgbImage, Server, Vncmon, get, post, wait_for};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(15);

/// Demo regions that never change by themselves, with distinct colours:
/// the header's title side, the text box, two buttons, the bottom background.
const STATIC_REGIONS: [(usize, usize, usize, usize); 5] = [
    (0, 0, 400, 56),
    (16, 228, 768, 64),
    (16, 308, 180, 64),
    (604, 308, 180, 64),
    (0, 444, 800, 36),
];

/// Draws the live `<img>` onto a canvas; returns its size, a hash of all its
/// pixels and the mean RGB of each region in `arguments[0]` (null before the
/// first frame).
const READ_PICTURE: &str = r#"
const img = document.getElementById('screen');
if (!img || !img.complete || img.naturalWidth === 0) { return null; }
const c = document.createElement('canvas');
c.width = img.naturalWidth; c.height = img.naturalHeight;
const g = c.getContext('2d', { willReadFrequently: true });
g.drawImage(img, 0, 0);
const all = g.getImageData(0, 0, c.width, c.height).data;
let hash = 0;
for (let i = 0; i < all.length; i += 1) { hash = (Math.imul(hash, 31) + all[i]) | 0; }
const means = arguments[0].map(([x, y, w, h]) => {
  const d = g.getImageData(x, y, w, h).data;
  const sum = [0, 0, 0];
  for (let i = 0; i < d.length; i += 4) { sum[0] += d[i]; sum[1] += d[i + 1]; sum[2] += d[i + 2]; }
  return sum.map((s) => s / (d.length / 4));
});
return { width: c.width, height: c.height, hash, means };
"#;

/// What the status panel shows.
const READ_PANEL: &str = r#"
const t = (id) => document.getElementById(id).textContent.trim();
const notice = document.getElementById('notice');
return {
  state: t('state'), tone: document.getElementById('state').className,
  resolution: t('resolution'), fps: t('fps'),
  notice: notice.hidden ? '' : t('notice'),
  connectEnabled: !document.getElementById('connect').disabled,
  disconnectEnabled: !document.getElementById('disconnect').disabled,
};
"#;

/// vncmon's demo and a browser showing its page.
fn open_page(width: u32, height: u32) -> (Vncmon, Browser) {
    let v = Vncmon::start(&["--demo"], None);
    v.wait_connected();
    let b = Browser::start(width, height);
    b.navigate(&format!("http://{}/", v.addr));
    (v, b)
}

/// Waits until the page's picture has its first frame, then reads it.
fn read_picture(b: &Browser) -> Value {
    let regions = json!(STATIC_REGIONS.map(|(x, y, w, h)| [x, y, w, h]));
    b.wait_js(WAIT, "a frame in the picture", READ_PICTURE, &[regions])
}

fn mean(img: &RgbImage, (x, y, w, h): (usize, usize, usize, usize)) -> [f64; 3] {
    let mut sum = [0.0; 3];
    for yy in y..y + h {
        for xx in x..x + w {
            let p = img.pixel(xx, yy);
            for (s, c) in sum.iter_mut().zip([p.0, p.1, p.2]) {
                *s += f64::from(c);
            }
        }
    }
    sum.map(|s| s / (w * h) as f64)
}

fn assert_no_console_errors(b: &Browser) {
    let errors = b.console_errors();
    assert!(errors.is_empty(), "the page logged errors: {errors:#?}");
}

#[test]
fn live_picture_shows_the_demo_desktop_and_moves() {
    let (v, b) = open_page(1280, 800);
    assert_eq!(b.execute("return document.title", &[]), "vncmon");

    let pic = read_picture(&b);
    assert_eq!(
        (pic["width"].as_u64(), pic["height"].as_u64()),
        (Some(800), Some(480)),
        "{pic}"
    );

    // The same regions of /snapshot.jpg, decoded here: equal up to JPEG noise.
    let snap = v.snapshot().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((snap.width, snap.height), (800, 480));
    for (i, region) in STATIC_REGIONS.into_iter().enumerate() {
        let want = mean(&snap, region);
        let got: Vec<f64> = (0..3)
            .map(|c| pic["means"][i][c].as_f64().unwrap_or(-1.0))
            .collect();
        let off = want
            .iter()
            .zip(&got)
            .map(|(w, g)| (w - g).abs())
            .fold(0.0, f64::max);
        assert!(
            off <= 4.0,
            "region {region:?}: page {got:?}, snapshot {want:?}"
        );
    }
    // The reference itself is the demo: a dark header and a light text box.
    let (header, text_box) = (
        mean(&snap, STATIC_REGIONS[0]),
        mean(&snap, STATIC_REGIONS[1]),
    );
    assert!(header.iter().all(|&c| c < 80.0), "header {header:?}");
    assert!(text_box.iter().all(|&c| c > 180.0), "text box {text_box:?}");

    // The picture is live: the ball and the clock change what a later read sees.
    let first = pic["hash"].clone();
    let moved = wait_for(WAIT, || {
        let later = read_picture(&b);
        (later["hash"] != first).then_some(later)
    });
    assert!(moved.is_some(), "the picture in the page never changed");

    screenshot(&b, "desktop-1280x800");
    assert_no_console_errors(&b);
}

#[test]
fn status_panel_shows_connected_resolution_and_fps() {
    let (_v, b) = open_page(1280, 800);
    let panel = b.wait_js(
        WAIT,
        "connected, 800 × 480 and an fps value",
        &format!(
            "const p = (() => {{ {READ_PANEL} }})();
             return p.state === 'Connected' && p.tone.includes('ok')
               && p.resolution === '800 × 480' && /^\\d+\\.\\d fps$/.test(p.fps) ? p : null;"
        ),
        &[],
    );
    assert_eq!(panel["disconnectEnabled"], true, "{panel}");
    assert_eq!(panel["connectEnabled"], false, "{panel}");
    assert_no_console_errors(&b);
}

#[test]
fn disconnect_and_connect_buttons_drive_the_session() {
    let (v, b) = open_page(1280, 800);
    read_picture(&b);
    let connected = format!(
        "const p = (() => {{ {READ_PANEL} }})(); return p.state === 'Connected' ? p : null;"
    );
    b.wait_js(WAIT, "the Connected state", &connected, &[]);

    b.click(&b.find("#disconnect"));
    v.wait_status(WAIT, "monitoring:false", |s| s["monitoring"] == false);
    let panel = b.wait_js(
        WAIT,
        "the Disconnected state",
        &format!(
            "const p = (() => {{ {READ_PANEL} }})(); return p.state === 'Disconnected' ? p : null;"
        ),
        &[],
    );
    assert!(
        panel["tone"].as_str().unwrap_or("").contains("bad"),
        "{panel}"
    );
    assert_eq!(panel["connectEnabled"], true, "{panel}");
    assert_eq!(panel["disconnectEnabled"], false, "{panel}");
    assert_eq!(panel["fps"], "–", "{panel}");
    // The last frame stays, and the page says that it is the last one.
    assert!(
        panel["notice"]
            .as_str()
            .unwrap_or("")
            .contains("last frame"),
        "{panel}"
    );
    screenshot(&b, "desktop-disconnected");

    // Near its bottom-right corner: checks the pointer offsets of `click_at`.
    let connect = b.find("#connect");
    let r = b.rect(&connect);
    b.click_at(&connect, r.width - 4.0, r.height - 4.0, 0);
    v.wait_status(WAIT, "monitoring and connected", |s| {
        s["monitoring"] == true && s["connected"] == true
    });
    let panel = b.wait_js(WAIT, "the Connected state again", &connected, &[]);
    assert_eq!(panel["notice"], "", "{panel}");
    assert_eq!(panel["disconnectEnabled"], true, "{panel}");
    assert_no_console_errors(&b);
}

#[test]
fn phone_layout_has_no_horizontal_scroll_and_the_picture_fits() {
    let (_v, b) = open_page(500, 844);
    b.emulate_viewport(390, 844, true);
    read_picture(&b);
    // Wait for the status to render too: long texts must not widen the page.
    b.wait_js(
        WAIT,
        "the Connected state",
        "return document.getElementById('state').textContent === 'Connected'",
        &[],
    );
    let layout = b.execute(
        r#"const r = document.getElementById('screen').getBoundingClientRect();
           return { inner: window.innerWidth, scroll: document.documentElement.scrollWidth,
                    left: r.left, right: r.right, width: r.width, height: r.height };"#,
        &[],
    );
    let f = |k: &str| layout[k].as_f64().unwrap_or(f64::NAN);
    assert_eq!(
        f("inner"),
        390.0,
        "the phone viewport was not applied: {layout}"
    );
    assert!(f("scroll") <= f("inner"), "horizontal scrolling: {layout}");
    assert!(
        f("left") >= 0.0 && f("right") <= f("inner"),
        "picture past the edges: {layout}"
    );
    assert!(
        f("width") >= f("inner") - 32.0,
        "picture much narrower than the phone: {layout}"
    );
    // The 800×480 picture keeps its shape.
    assert!(
        (f("height") * 800.0 / 480.0 - f("width")).abs() <= 2.0,
        "picture distorted: {layout}"
    );

    screenshot(&b, "phone-390x844");
    assert_no_console_errors(&b);
}

/// Saves a screenshot; checks that it is a PNG of the whole viewport.
fn screenshot(b: &Browser, name: &str) {
    let shot = b.screenshot(name);
    let view = b.execute("return [innerWidth, innerHeight]", &[]);
    let view = (view[0].as_u64(), view[1].as_u64());
    let png = png_size(&shot).map(|(w, h)| (Some(u64::from(w)), Some(u64::from(h))));
    assert_eq!(png, Some(view), "{} is not the viewport", shot.display());
}

/// Width and height from a PNG file's IHDR chunk.
fn png_size(path: &std::path::Path) -> Option<(u32, u32)> {
    let png = std::fs::read(path).ok()?;
    let word = |at: usize| Some(u32::from_be_bytes(png.get(at..at + 4)?.try_into().ok()?));
    png.starts_with(b"\x89PNG\r\n\x1a\n").then_some(())?;
    Some((word(16)?, word(20)?))
}

// ---- scenarios, runs, the log panel, input on the picture ----

/// The demo's Alpha, Bravo and Charlie buttons (x, y, w, h) and their centres.
const ALPHA: (usize, usize, usize, usize) = (16, 308, 180, 64);
const BRAVO: (usize, usize, usize, usize) = (212, 308, 180, 64);
const CHARLIE: (usize, usize, usize, usize) = (408, 308, 180, 64);
const TEXT_BOX: (usize, usize, usize, usize) = (16, 228, 768, 64);

fn centre((x, y, w, h): (usize, usize, usize, usize)) -> (usize, usize) {
    (x + w / 2, y + h / 2)
}

/// The scenarios the page tests run against the demo desktop.
const PAGE_SCENARIOS: &str = r#"{"scenarios": {
  "toggle": [
    {"action": "connect"},
    {"action": "click", "x": 106, "y": 340},
    {"action": "type", "text": "page"}
  ],
  "slow": [
    {"action": "wait", "seconds": 1},
    {"action": "wait", "seconds": 1},
    {"action": "wait", "seconds": 1},
    {"action": "wait", "seconds": 1}
  ],
  "fails": [
    {"action": "connect"},
    {"action": "wait_for_change", "region": [0, 0, 400, 56], "timeout": 1},
    {"action": "click", "x": 302, "y": 340}
  ],
  "long": [
    {"action": "connect"},
    {"action": "wait", "seconds": 600},
    {"action": "click", "x": 302, "y": 340}
  ]
}}"#;

/// A file that does not load: a JSON syntax error on line 3.
const BAD_SCENARIOS: &str =
    "{\"scenarios\": {\n  \"x\": [\n    {\"action\": \"click\" \"x\": 1}\n  ]\n}}\n";

/// `vncmon --demo` plus `extra`, its scenarios directory holding
/// `page.json` and `bad.json`, and a browser on its page. The directories
/// (scenarios, output) go when the first value is dropped.
fn open_demo_with_scenarios(
    extra: &[&str],
    (width, height): (u32, u32),
) -> ((TempDir, TempDir), Vncmon, Browser) {
    let scenarios = TempDir::new("page-scenarios");
    scenarios.write("page.json", PAGE_SCENARIOS);
    scenarios.write("bad.json", BAD_SCENARIOS);
    let output = TempDir::new("page-output");
    let v = Vncmon::demo_with(scenarios.path(), output.path(), extra);
    v.wait_connected();
    let b = Browser::start(width, height);
    b.navigate(&format!("http://{}/", v.addr));
    ((scenarios, output), v, b)
}

/// What the steps card shows.
const READ_STEPS: &str = r#"
const items = [...document.querySelectorAll('#steps > li')];
return {
  name: document.getElementById('steps-name').textContent,
  labels: items.map((li) => li.querySelector('.label').textContent),
  passed: items.map((li) => li.classList.contains('passed')),
  failed: items.map((li) => li.classList.contains('failed')),
  stopped: items.map((li) => li.classList.contains('stopped')),
  current: items.findIndex((li) => li.classList.contains('current')),
  failure: document.getElementById('run-error').hidden ? '' : document.getElementById('run-error').textContent,
  runAll: !document.getElementById('run-all').disabled,
  stop: !document.getElementById('stop').disabled,
};
"#;

/// Waits until `cond` (a JS expression over `s`, what READ_STEPS returns) holds.
fn wait_steps(b: &Browser, what: &str, cond: &str) -> Value {
    b.wait_js(
        WAIT,
        what,
        &format!("const s = (() => {{ {READ_STEPS} }})(); return ({cond}) ? s : null;"),
        &[],
    )
}

/// Picks `file`/`name` in the scenario picker and presses Load; waits for the steps.
fn load_in_picker(b: &Browser, file: &str, name: &str) -> Value {
    let value = json!([file, name]).to_string();
    b.wait_js(
        WAIT,
        &format!("{file}/{name} in the picker"),
        "const s = document.getElementById('picker');
         if (![...s.options].some((o) => o.value === arguments[0] && !o.disabled)) { return false; }
         s.value = arguments[0];
         s.dispatchEvent(new Event('change'));
         return true;",
        &[json!(value)],
    );
    b.click(&b.find("#load"));
    wait_steps(
        b,
        &format!("the steps of {name}"),
        &format!("s.name === {} && s.labels.length > 0", json!(name)),
    )
}

/// Presses Execute on step `n` (1-based) and waits until it runs: highlighted,
/// Stop enabled, its old mark gone.
fn execute_and_see_it_run(b: &Browser, n: usize) {
    b.click(&b.find(&format!("#steps > li:nth-child({n}) button")));
    let i = n - 1;
    wait_steps(
        b,
        &format!("step {n} executing"),
        &format!(
            "s.current === {i} && s.stop && !s.passed[{i}] && !s.failed[{i}] && !s.stopped[{i}]"
        ),
    );
}

/// Records every `/api/input` body the page sends from now on.
const INSTALL_INPUT_SPY: &str = r#"
if (!window.__inputs) {
  window.__inputs = [];
  const real = window.fetch.bind(window);
  window.fetch = (url, init) => {
    if (String(url).endsWith('/api/input')) { window.__inputs.push(...JSON.parse(init.body)); }
    return real(url, init);
  };
}
return true;
"#;

/// Installs the input spy; returns the picture and where it shows the screen.
fn spy_on_input(b: &Browser) -> (Element, Picture) {
    b.execute(INSTALL_INPUT_SPY, &[]);
    (b.find("#screen"), Picture::read(b))
}

/// The input events sent since the spy was installed (and forgets them).
fn take_inputs(b: &Browser) -> Vec<Value> {
    let v = b.execute(
        "const a = window.__inputs || []; window.__inputs = []; return a;",
        &[],
    );
    v.as_array().cloned().unwrap_or_default()
}

/// Waits until the page has sent input events satisfying `done`; returns them all.
fn wait_inputs(b: &Browser, what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let mut all = Vec::new();
    let ok = wait_for(WAIT, || {
        all.extend(take_inputs(b));
        done(&all).then_some(())
    });
    assert!(ok.is_some(), "the page never sent {what}; sent: {all:?}");
    all
}

/// Where the picture shows the remote screen inside its element: element
/// size, natural size, scale and the letterbox offsets, in CSS pixels.
#[derive(Debug)]
struct Picture {
    width: f64,
    natural: (f64, f64),
    scale: f64,
    bar_x: f64,
    bar_y: f64,
}

impl Picture {
    fn read(b: &Browser) -> Picture {
        let v = b.wait_js(
            WAIT,
            "a frame in the picture",
            "const img = document.getElementById('screen');
             if (!img.naturalWidth) { return null; }
             const r = img.getBoundingClientRect();
             return [r.width, r.height, img.naturalWidth, img.naturalHeight];",
            &[],
        );
        let f = |i: usize| v[i].as_f64().unwrap_or(f64::NAN);
        let (width, height, natural) = (f(0), f(1), (f(2), f(3)));
        let scale = (width / natural.0).min(height / natural.1);
        Picture {
            width,
            natural,
            scale,
            bar_x: (width - natural.0 * scale) / 2.0,
            bar_y: (height - natural.1 * scale) / 2.0,
        }
    }

    /// Element-relative CSS point of the middle of remote pixel (x, y).
    fn at(&self, (x, y): (usize, usize)) -> (f64, f64) {
        (
            self.bar_x + (x as f64 + 0.5) * self.scale,
            self.bar_y + (y as f64 + 0.5) * self.scale,
        )
    }
}

/// vncmon's current snapshot.
fn snap(v: &Vncmon) -> RgbImage {
    v.snapshot().unwrap_or_else(|e| panic!("{e}"))
}

/// Pixels of `region` that differ clearly (more than JPEG noise) between two screens.
fn changed_pixels(a: &RgbImage, b: &RgbImage, (x, y, w, h): (usize, usize, usize, usize)) -> usize {
    (y..y + h)
        .flat_map(|yy| (x..x + w).map(move |xx| (xx, yy)))
        .filter(|&(xx, yy)| a.pixel(xx, yy).distance(b.pixel(xx, yy)) > 64)
        .count()
}

/// Waits until `region` of the snapshots clearly differs from `before`.
fn wait_region_changes(
    v: &Vncmon,
    what: &str,
    region: (usize, usize, usize, usize),
    before: &RgbImage,
) {
    let mut last = 0;
    let changed = wait_for(WAIT, || {
        last = changed_pixels(before, &snap(v), region);
        (last >= 40).then_some(())
    });
    assert!(
        changed.is_some(),
        "{what}: region {region:?} did not change ({last} pixels differ)\n{}",
        v.log_tail()
    );
}

fn near(got: &Value, want: (usize, usize)) -> bool {
    let (x, y) = (got["x"].as_i64(), got["y"].as_i64());
    matches!((x, y), (Some(x), Some(y)) if (x - want.0 as i64).abs() <= 1 && (y - want.1 as i64).abs() <= 1)
}

#[test]
fn picker_loads_a_scenario_and_execute_changes_the_remote_screen() {
    let (_dir, v, b) = open_demo_with_scenarios(&[], (1280, 900));
    // The broken file is listed with its error and cannot be picked.
    let broken = b.wait_js(
        WAIT,
        "bad.json with its error",
        "const t = document.getElementById('broken').textContent;
         const opt = [...document.getElementById('picker').options].find((o) => o.textContent.startsWith('bad.json'));
         return t.includes('bad.json') && opt && opt.disabled ? t : null;",
        &[],
    );
    assert!(broken.as_str().unwrap_or("").contains("line 3"), "{broken}");

    let shown = load_in_picker(&b, "page.json", "toggle");
    let server = get(&v.addr, "/api/steps").json();
    assert_eq!(shown["labels"], server["labels"], "{shown}\n{server}");
    assert_eq!(shown["labels"].as_array().map(Vec::len), Some(3), "{shown}");
    assert_eq!(shown["runAll"], true, "{shown}");

    let before = snap(&v);
    b.click(&b.find("#steps > li:nth-child(2) button"));
    let s = wait_steps(&b, "step 2 passed", "s.passed[1] && !s.stop");
    assert_eq!(s["failed"], json!([false, false, false]), "{s}");
    wait_region_changes(&v, "Execute on click (106, 340)", ALPHA, &before);

    // The log panel mirrors /api/logs, which now tells about the step.
    let logs = get(&v.addr, "/api/logs").json();
    let last = logs
        .as_array()
        .and_then(|l| l.last())
        .and_then(|l| l["message"].as_str())
        .unwrap_or_else(|| panic!("no log lines: {logs}"))
        .to_string();
    let panel = b.wait_js(
        WAIT,
        "the last log line in the panel",
        "const t = document.getElementById('log').textContent; return t.includes(arguments[0]) ? t : null;",
        &[json!(last)],
    );
    assert!(
        panel.as_str().unwrap_or("").contains("click (106, 340)"),
        "the log panel does not mention the step: {panel}"
    );
    screenshot(&b, "desktop-scenario");
    assert_no_console_errors(&b);
}

/// Keeps, in `window.__current`, every index the highlight moves to; in
/// `window.__hidden` those highlighted out of the list's view; in
/// `window.__pageScrolled` whether the page itself scrolled meanwhile.
const RECORD_HIGHLIGHT: &str = r#"
window.__current = [];
window.__hidden = [];
window.__pageScrolled = false;
const list = document.getElementById('steps');
const note = () => {
  const i = [...list.children].findIndex((li) => li.classList.contains('current'));
  const seen = window.__current;
  if (i >= 0 && seen[seen.length - 1] !== i) {
    seen.push(i);
    const li = list.children[i];
    if (li.offsetTop < list.scrollTop - 1
        || li.offsetTop + li.offsetHeight > list.scrollTop + list.clientHeight + 1) {
      window.__hidden.push(i);
    }
  }
  // From the first highlight on (clicking Run all may scroll the page to it).
  if (window.__y0 === undefined) { window.__y0 = window.scrollY; }
  if (window.scrollY !== window.__y0) { window.__pageScrolled = true; }
};
new MutationObserver(note).observe(list, { subtree: true, attributes: true, attributeFilter: ['class'] });
return true;
"#;

/// What RECORD_HIGHLIGHT saw: at least two steps, each after the one before.
fn assert_highlight_moved_forward(b: &Browser) {
    let seen = b.execute("return window.__current", &[]);
    let seen: Vec<i64> = seen
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_i64).collect())
        .unwrap_or_default();
    assert!(seen.len() >= 2, "the highlight was seen on {seen:?} only");
    assert!(
        seen.windows(2).all(|w| w[0] < w[1]),
        "the highlight did not move forward: {seen:?}"
    );
}

#[test]
fn run_all_highlights_the_steps_in_turn_and_marks_them_passed() {
    let (_dir, _v, b) = open_demo_with_scenarios(&[], (1280, 900));
    load_in_picker(&b, "page.json", "slow");
    b.execute(RECORD_HIGHLIGHT, &[]);
    b.click(&b.find("#run-all"));
    let running = wait_steps(
        &b,
        "a highlighted step and Stop enabled",
        "s.current >= 0 && s.stop",
    );
    assert_eq!(running["runAll"], false, "{running}");
    screenshot(&b, "desktop-running");
    let done = wait_steps(
        &b,
        "every step passed",
        "s.passed.every(Boolean) && s.current < 0 && !s.stop && s.runAll",
    );
    assert_eq!(done["failure"], "", "{done}");
    assert_highlight_moved_forward(&b);
    assert_no_console_errors(&b);
}

#[test]
fn the_shipped_demo_tour_runs_from_the_page() {
    let scenarios = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let output = TempDir::new("page-tour-output");
    let v = Vncmon::demo_with(&scenarios, output.path(), &[]);
    v.wait_connected();
    // 700 px high: the step list reaches below the window.
    let b = Browser::start(1280, 700);
    b.navigate(&format!("http://{}/", v.addr));
    let s = load_in_picker(&b, "demo.json", "tour");
    let n = s["labels"].as_array().map_or(0, Vec::len);
    b.execute(RECORD_HIGHLIGHT, &[]);
    b.click(&b.find("#run-all"));
    let done = b.wait_js(
        Duration::from_secs(60),
        "the tour over",
        &format!("const s = (() => {{ {READ_STEPS} }})(); return s.runAll && (s.failed.some(Boolean) || s.passed.every(Boolean)) ? s : null;"),
        &[],
    );
    assert_eq!(done["passed"], json!(vec![true; n]), "{done}");
    assert_eq!(done["failure"], "", "{done}");
    assert_highlight_moved_forward(&b);
    assert!(
        output.path().join("demo_tour.jpg").is_file(),
        "no screenshot saved"
    );
    // The list scrolled to show each step (it is longer than its box); the page did not.
    let view = b.execute(
        "const l = document.getElementById('steps');
         return [window.__hidden, window.__pageScrolled, l.scrollHeight > l.clientHeight];",
        &[],
    );
    assert_eq!(
        view,
        json!([[], false, true]),
        "hidden steps, page scrolled, list scrolls"
    );
    screenshot(&b, "desktop-tour");
    assert_no_console_errors(&b);
}

#[test]
fn a_failing_step_is_marked_and_its_error_shown() {
    let (_dir, _v, b) = open_demo_with_scenarios(&[], (1280, 900));
    // Step 2 waits for a change in the demo's static title: it times out.
    load_in_picker(&b, "page.json", "fails");
    b.click(&b.find("#run-all"));
    let s = wait_steps(&b, "step 2 failed", "s.failed[1] && s.runAll");
    assert_eq!(s["passed"], json!([true, false, false]), "{s}");
    assert_eq!(s["failed"], json!([false, true, false]), "{s}");
    let failure = s["failure"].as_str().unwrap_or("");
    assert!(failure.starts_with("step 2 (wait_for_change"), "{s}");
    let why = b.execute(
        "return document.querySelector('#steps > li:nth-child(2) .why').textContent",
        &[],
    );
    assert_eq!(why, failure, "the step does not show its error");
    // The log panel shows the error line, marked as one.
    b.wait_js(
        WAIT,
        "the error in the log panel",
        "return [...document.querySelectorAll('#log > div.error')].some((d) => d.textContent.includes(arguments[0]))",
        &[json!(failure)],
    );
    screenshot(&b, "desktop-failed");

    // Execute on the failing step alone: it runs (1 s), then is marked failed again.
    execute_and_see_it_run(&b, 2);
    let s = wait_steps(&b, "step 2 failed alone", "s.failed[1] && s.runAll");
    assert_eq!(s["failure"], failure, "{s}");
}

#[test]
fn the_page_follows_loads_and_runs_started_elsewhere() {
    let (_dir, v, b) = open_demo_with_scenarios(&[], (1280, 900));
    load_in_picker(&b, "page.json", "toggle");
    // Another client loads "slow" and runs it through the API.
    let r = get(&v.addr, "/api/load/page.json/slow");
    assert_eq!(r.status, 200, "{}", r.text());
    wait_steps(
        &b,
        "the steps of slow",
        "s.name === 'slow' && s.labels.length === 4",
    );
    let picked = b.execute("return document.getElementById('picker').value", &[]);
    assert_eq!(picked, json!(["page.json", "slow"]).to_string());
    b.execute(RECORD_HIGHLIGHT, &[]);
    let r = post(&v.addr, "/api/execute_all", "");
    assert_eq!(r.status, 200, "{}", r.text());
    wait_steps(
        &b,
        "every step passed",
        "s.passed.every(Boolean) && s.runAll",
    );
    assert_highlight_moved_forward(&b);
    assert_no_console_errors(&b);
}

#[test]
fn stop_ends_a_run_in_a_long_wait() {
    let (_dir, v, b) = open_demo_with_scenarios(&[], (1280, 900));
    load_in_picker(&b, "page.json", "long");
    b.click(&b.find("#run-all"));
    // Step 2 waits 600 s: it is running when the highlight is on it.
    wait_steps(
        &b,
        "step 2 running",
        "s.current === 1 && s.stop && s.passed[0]",
    );
    b.click(&b.find("#stop"));
    v.wait_status(WAIT, "the run over", |s| s["is_executing"] == false);
    let s = wait_steps(
        &b,
        "the run over in the page",
        "!s.stop && s.runAll && s.current < 0",
    );
    assert_eq!(s["passed"], json!([true, false, false]), "{s}");
    assert_eq!(s["stopped"], json!([false, true, false]), "{s}");
    assert_eq!(s["failed"], json!([false, false, false]), "{s}");
    screenshot(&b, "desktop-stopped");

    // Stop also ends a single step that Execute started.
    execute_and_see_it_run(&b, 2);
    b.click(&b.find("#stop"));
    let s = wait_steps(&b, "step 2 stopped", "s.stopped[1] && s.runAll && !s.stop");
    assert_eq!(s["failed"], json!([false, false, false]), "{s}");
    // The stopped step answered 422, which the browser logs; nothing else.
    let errors: Vec<String> = b
        .console_errors()
        .into_iter()
        .filter(|e| !e.contains("/api/execute_step/1 ") || !e.contains("status of 422"))
        .collect();
    assert!(errors.is_empty(), "the page logged errors: {errors:#?}");
}

#[test]
fn log_panel_copy_save_and_clear() {
    let (_dir, v, b) = open_demo_with_scenarios(&[], (1280, 900));
    load_in_picker(&b, "page.json", "toggle");
    b.click(&b.find("#steps > li:nth-child(1) button"));
    wait_steps(&b, "step 1 passed", "s.passed[0]");
    b.wait_js(
        WAIT,
        "log lines",
        "return document.querySelectorAll('#log > div').length",
        &[],
    );
    // Save is a download of /api/logs/download.
    let save = b.execute(
        "const a = document.getElementById('log-save'); return [a.getAttribute('href'), a.hasAttribute('download')];",
        &[],
    );
    assert_eq!(save, json!(["/api/logs/download", true]));
    let text = get(&v.addr, "/api/logs/download").text();
    assert!(
        text.contains("] [INFO] ") || text.contains("] [SUCCESS] "),
        "{text}"
    );

    // Copy puts the same lines on the clipboard.
    b.click(&b.find("#log-copy"));
    let said = b.wait_js(
        WAIT,
        "the copy message",
        "return document.getElementById('log-message').textContent",
        &[],
    );
    assert!(said.as_str().unwrap_or("").starts_with("Copied "), "{said}");
    b.call(
        "POST",
        "/permissions",
        Some(&json!({"descriptor": {"name": "clipboard-read"}, "state": "granted"})),
    );
    let copied = b.execute_async(
        "navigator.clipboard.readText().then(arguments[0], (e) => arguments[0]('failed: ' + e))",
        &[],
    );
    let first = text.lines().next().unwrap_or("");
    assert!(
        copied.as_str().unwrap_or("").starts_with(first) && !first.is_empty(),
        "the clipboard holds {copied} but the download starts {first:?}"
    );

    b.click(&b.find("#log-clear"));
    b.wait_js(
        WAIT,
        "the panel emptied",
        "return document.querySelectorAll('#log > div').length <= 1 && document.getElementById('log-message').textContent === 'Cleared'",
        &[],
    );
    let logs = get(&v.addr, "/api/logs").json();
    assert!(
        logs.as_array().is_some_and(|l| l.len() <= 1),
        "the log was not cleared: {logs}"
    );
    assert_no_console_errors(&b);
}

#[test]
fn clicks_drags_and_the_wheel_on_a_letterboxed_picture_reach_the_demo() {
    let (_dir, v, b) = open_demo_with_scenarios(&[], (1280, 900));
    // A box taller than the picture's shape: bars above and below it.
    b.execute(
        "document.getElementById('screen').style.height = '640px';
         document.getElementById('screen').style.maxHeight = 'none';",
        &[],
    );
    let (img, pic) = spy_on_input(&b);
    assert!(pic.bar_y >= 20.0, "no letterbox bars: {pic:?}");

    // A click on the bar above the picture sends nothing...
    b.click_at(&img, pic.width / 2.0, pic.bar_y / 2.0, 0);
    // ...so the first events sent are those of the click on Alpha.
    let before = snap(&v);
    let (x, y) = pic.at(centre(ALPHA));
    b.click_at(&img, x, y, 0);
    let sent = wait_inputs(&b, "a press and a release", |e| e.len() >= 2);
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(
        near(&sent[0], centre(ALPHA)) && sent[0]["buttons"] == 1,
        "{sent:?}"
    );
    assert!(
        near(&sent[1], centre(ALPHA)) && sent[1]["buttons"] == 0,
        "{sent:?}"
    );
    assert_eq!(sent[0]["action"], "pointer", "{sent:?}");
    wait_region_changes(&v, "a click on Alpha in the picture", ALPHA, &before);

    // A drag: the button goes down at the start, moves held, comes up at the end.
    let (from, to) = ((100, 120), (500, 160));
    b.drag_at(&img, pic.at(from), pic.at(to), 5);
    let sent = wait_inputs(&b, "a drag", |e| {
        e.last().is_some_and(|l| l["buttons"] == 0)
    });
    assert!(near(&sent[0], from) && sent[0]["buttons"] == 1, "{sent:?}");
    let last = &sent[sent.len() - 1];
    assert!(near(last, to), "{sent:?}");
    assert!(sent.len() >= 3, "no moves in the drag: {sent:?}");
    assert!(
        sent[1..sent.len() - 1].iter().all(|e| e["buttons"] == 1),
        "{sent:?}"
    );

    // Two wheel notches down scroll by 2 at the pointer.
    let (x, y) = pic.at((400, 130));
    b.wheel_at(&img, x, y, 200);
    let sent = wait_inputs(&b, "a scroll", |e| !e.is_empty());
    assert_eq!(sent[0]["action"], "scroll", "{sent:?}");
    assert_eq!(sent[0]["amount"], 2, "{sent:?}");
    assert!(near(&sent[0], (400, 130)), "{sent:?}");
    assert_no_console_errors(&b);
}

#[test]
fn keys_typed_with_the_picture_focused_reach_the_demo() {
    let (_dir, v, b) = open_demo_with_scenarios(&[], (1280, 900));
    let (img, pic) = spy_on_input(&b);
    // A click on the text box (not a button) gives the picture the focus.
    let (x, y) = pic.at(centre(TEXT_BOX));
    b.click_at(&img, x, y, 0);
    let hint = b.wait_js(
        WAIT,
        "the picture focused",
        "return document.activeElement.id === 'screen' && document.getElementById('input-hint').textContent",
        &[],
    );
    assert!(hint.as_str().unwrap_or("").contains("Keys go"), "{hint}");
    screenshot(&b, "desktop-focused");
    wait_inputs(&b, "the focusing click", |e| e.len() >= 2);

    let before = snap(&v);
    b.type_keys("Wm~\u{E003}!\u{E007}");
    let sent = wait_inputs(&b, "12 key events", |e| e.len() >= 12);
    let syms: Vec<(i64, bool)> = sent
        .iter()
        .map(|e| (e["keysym"].as_i64().unwrap_or(-1), e["down"] == true))
        .collect();
    let want: Vec<(i64, bool)> = [0x57, 0x6d, 0x7e, 0xff08, 0x21, 0xff0d]
        .iter()
        .flat_map(|&k| [(k, true), (k, false)])
        .collect();
    assert_eq!(syms, want, "{sent:?}");
    // Return moved "Wm!" to the previous line of the text box.
    wait_region_changes(&v, "typing into the demo", TEXT_BOX, &before);

    // Ctrl+] gives the keyboard back: keys typed then go nowhere...
    b.key_chord("\u{E009}]");
    b.wait_js(
        WAIT,
        "the picture without focus",
        "return document.activeElement.id !== 'screen'",
        &[],
    );
    b.type_keys("x");
    // ...until a click focuses the picture again.
    b.click_at(&img, x, y, 0);
    b.type_keys("y");
    let sent = wait_inputs(&b, "y", |e| e.iter().any(|e| e["keysym"] == 0x79));
    let leaked: Vec<&Value> = sent
        .iter()
        .filter(|e| e["keysym"] == 0x78 || e["keysym"] == 0x5d)
        .collect();
    assert!(
        leaked.is_empty(),
        "sent without focus or the Ctrl+] itself: {leaked:?}"
    );
    assert_no_console_errors(&b);
}

#[test]
fn browser_keys_map_to_x_keysyms() {
    let (_v, b) = open_page(1280, 800);
    let cases = json!([
        ["a", "KeyA", 0x61],
        ["A", "KeyA", 0x41],
        ["~", "Backquote", 0x7e],
        [" ", "Space", 0x20],
        ["é", "KeyE", 0xe9],
        ["ÿ", "KeyY", 0xff],
        ["€", "KeyE", 0x010020ac],
        ["😀", "", 0x0101f600],
        ["Enter", "Enter", 0xff0d],
        ["Backspace", "Backspace", 0xff08],
        ["Tab", "Tab", 0xff09],
        ["Escape", "Escape", 0xff1b],
        ["ArrowLeft", "ArrowLeft", 0xff51],
        ["ArrowDown", "ArrowDown", 0xff54],
        ["Home", "Home", 0xff50],
        ["End", "End", 0xff57],
        ["PageUp", "PageUp", 0xff55],
        ["PageDown", "PageDown", 0xff56],
        ["Insert", "Insert", 0xff63],
        ["Delete", "Delete", 0xffff],
        ["F1", "F1", 0xffbe],
        ["F12", "F12", 0xffc9],
        ["Shift", "ShiftLeft", 0xffe1],
        ["Shift", "ShiftRight", 0xffe2],
        ["Control", "ControlLeft", 0xffe3],
        ["Alt", "AltLeft", 0xffe9],
        ["Meta", "MetaLeft", 0xffeb],
        ["Dead", "Quote", null],
        ["Unidentified", "", null],
        ["F13x", "", null]
    ]);
    let got = b.execute(
        "return arguments[0].map(([key, code]) => keysyms.of({ key, code }));",
        std::slice::from_ref(&cases),
    );
    let want: Vec<Value> = cases
        .as_array()
        .map(|c| c.iter().map(|c| c[2].clone()).collect())
        .unwrap_or_default();
    assert_eq!(got, json!(want), "keys: {cases}");
}

#[test]
fn view_only_switch_blocks_input_and_is_remembered() {
    let (_dir, v, b) = open_demo_with_scenarios(&[], (1280, 900));
    let (img, pic) = spy_on_input(&b);
    let start = snap(&v);
    b.click(&b.find("#view-only"));
    let stored = b.execute("return localStorage.getItem('vncmon.viewOnly')", &[]);
    assert_eq!(stored, "1");
    let (x, y) = pic.at(centre(ALPHA));
    b.click_at(&img, x, y, 0);
    b.type_keys("abc");

    // After a reload the switch is still on.
    b.navigate(&format!("http://{}/", v.addr));
    let on = b.wait_js(
        WAIT,
        "the switch on after a reload",
        "return document.getElementById('view-only').checked",
        &[],
    );
    assert_eq!(on, true);
    let (img, pic) = spy_on_input(&b);
    b.click_at(&img, x, y, 0);
    // Off again: now a click on Charlie is the first thing sent.
    b.click(&b.find("#view-only"));
    let before = snap(&v);
    let (x, y) = pic.at(centre(CHARLIE));
    b.click_at(&img, x, y, 0);
    let sent = wait_inputs(&b, "the click on Charlie", |e| e.len() >= 2);
    assert!(
        sent.iter().all(|e| near(e, centre(CHARLIE))),
        "input went out in view-only mode: {sent:?}"
    );
    wait_region_changes(&v, "the click on Charlie", CHARLIE, &before);
    // The screen that shows Charlie on shows Alpha as it was: nothing reached it.
    let alpha = changed_pixels(&start, &snap(&v), ALPHA);
    assert!(alpha < 40, "Alpha was toggled: {alpha} pixels changed");
    assert_no_console_errors(&b);
}

#[test]
fn a_view_only_server_shows_the_page_as_view_only() {
    let (_dir, _v, b) = open_demo_with_scenarios(&["--view-only"], (1280, 900));
    let img = b.find("#screen");
    let pic = Picture::read(&b);
    let (x, y) = pic.at(centre(ALPHA));
    b.click_at(&img, x, y, 0);
    let state = b.wait_js(
        WAIT,
        "the switch forced on",
        "const s = document.getElementById('view-only');
         return s.checked && s.disabled ? document.getElementById('input-hint').textContent : null;",
        &[],
    );
    assert!(
        state.as_str().unwrap_or("").contains("--view-only"),
        "{state}"
    );
}

#[test]
fn phone_layout_with_steps_fits_and_a_tap_maps_right() {
    let (_dir, v, b) = open_demo_with_scenarios(&[], (500, 844));
    b.emulate_viewport(390, 844, true);
    load_in_picker(&b, "page.json", "toggle");
    let (img, pic) = spy_on_input(&b);
    let layout = b.execute(
        r#"const w = document.documentElement.scrollWidth;
           const r = (id) => document.getElementById(id).getBoundingClientRect();
           return { inner: innerWidth, scroll: w, screen: r('screen').top, runAll: r('run-all').right,
                    steps: r('steps').top, log: r('log').top };"#,
        &[],
    );
    let f = |k: &str| layout[k].as_f64().unwrap_or(f64::NAN);
    assert_eq!(f("inner"), 390.0, "{layout}");
    assert!(f("scroll") <= f("inner"), "horizontal scrolling: {layout}");
    assert!(f("runAll") <= f("inner"), "Run all past the edge: {layout}");
    assert!(
        f("screen") < f("steps") && f("steps") < f("log"),
        "not picture, steps, log from the top: {layout}"
    );

    assert!(pic.width <= 390.0 && pic.scale < 0.5, "{pic:?}");
    let before = snap(&v);
    let (x, y) = pic.at(centre(BRAVO));
    b.tap_at(&img, x, y);
    let sent = wait_inputs(&b, "a tap", |e| !e.is_empty());
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["action"], "click", "{sent:?}");
    // One CSS pixel is more than two remote ones here.
    let tol = (1.0 / pic.scale).ceil() as i64;
    let (cx, cy) = centre(BRAVO);
    let dx = sent[0]["x"].as_i64().unwrap_or(-99) - cx as i64;
    let dy = sent[0]["y"].as_i64().unwrap_or(-99) - cy as i64;
    assert!(
        dx.abs() <= tol && dy.abs() <= tol,
        "{sent:?} vs {:?}",
        centre(BRAVO)
    );
    wait_region_changes(&v, "a tap on Bravo", BRAVO, &before);
    b.wait_js(
        WAIT,
        "the load in the log panel",
        "return document.getElementById('log').textContent.includes('toggle')",
        &[],
    );
    b.execute("document.getElementById('steps').scrollIntoView()", &[]);
    screenshot(&b, "phone-steps");
    assert_no_console_errors(&b);
}

#[test]
fn clicks_and_keys_on_the_picture_reach_xtigervnc() {
    let server = Server::start(Kind::Tiger, 1024, 768, Auth::None);
    let typed = TempFile::new("page-typed", "txt");
    let mut xterm = server.x_command("xterm");
    xterm.args([
        "-geometry",
        "60x10+600+500",
        "-T",
        "page-cat",
        "-e",
        "sh",
        "-c",
    ]);
    xterm.arg(format!("cat > '{}'", typed.path().display()));
    let _xterm = Proc::spawn("xterm", &mut xterm).unwrap_or_else(|e| panic!("xterm: {e}"));
    let v = Vncmon::watch(&server, "tight,zrle,raw");
    v.wait_connected();
    // 1280×700: the picture's box is wider than its 4:3 shape, bars left and right.
    let b = Browser::start(1280, 700);
    b.navigate(&format!("http://{}/", v.addr));
    let img = b.find("#screen");
    let pic = Picture::read(&b);
    assert_eq!(pic.natural, (1024.0, 768.0), "{pic:?}");
    assert!(
        pic.bar_x >= 20.0 && pic.scale < 1.0,
        "no letterboxed, scaled picture: {pic:?}"
    );
    screenshot(&b, "xtigervnc-letterboxed");

    // The X pointer reaches `target` (±1: a CSS pixel is 1.3 remote ones here).
    let wait_pointer = |what: &str, target: (i64, i64)| {
        let mut last = (0, 0);
        let arrived = wait_for(WAIT, || {
            last = server.pointer();
            ((last.0 - target.0).abs() <= 1 && (last.1 - target.1).abs() <= 1).then_some(())
        });
        assert!(
            arrived.is_some(),
            "{what} {target:?}, the X pointer is at {last:?}"
        );
    };
    for target in [(300, 200), (1010, 15), (7, 760)] {
        let (x, y) = pic.at(target);
        b.click_at(&img, x, y, 0);
        wait_pointer("clicked at", (target.0 as i64, target.1 as i64));
    }
    // A drag ends where the button is let go.
    b.drag_at(&img, pic.at((100, 100)), pic.at((420, 330)), 4);
    wait_pointer("dragged to", (420, 330));

    // The X focus follows the pointer: click into the xterm, then type.
    let (x, y) = pic.at((800, 600));
    b.click_at(&img, x, y, 0);
    let line = "Hello, vncmon! ~#$%^&*()_+{}|:\"<>?";
    b.type_keys(&format!("{line}\u{E007}"));
    let mut got = String::new();
    let arrived = wait_for(WAIT, || {
        got = std::fs::read_to_string(typed.path()).unwrap_or_default();
        got.ends_with('\n').then_some(())
    });
    assert!(arrived.is_some(), "the xterm got {got:?}");
    assert_eq!(got, format!("{line}\n"));
    drop(server);
}
