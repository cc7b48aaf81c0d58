//! The scenario and input API of the real binary against the demo desktop
//! (and a real Xtigervnc where the pointer position matters): listing and
//! loading files, traversal refused, running steps that change the remote
//! screen, failures, busy answers, stop, live status, the run log, and
//! `/api/input` reaching the remote screen.

mod common;

use std::time::Duration;

use common::{Auth, Kind, Rect, Rgb, RgbImage, Server, TempDir, Vncmon, get, post, psnr, wait_for};
use serde_json::{Value, json};

/// The demo's first button ("Alpha") and its colours off and on.
const ALPHA: Rect = Rect {
    x: 16,
    y: 308,
    w: 180,
    h: 64,
};
const BRAVO: Rect = Rect {
    x: 212,
    y: 308,
    w: 180,
    h: 64,
};
const BUTTON_OFF: Rgb = Rgb(0x46, 0x50, 0x6a);
const ALPHA_ON: Rgb = Rgb(0x2e, 0x9e, 0x5b);
const BRAVO_ON: Rgb = Rgb(0xd9, 0x53, 0x4f);
/// The demo's typed-text box.
const TEXT_BOX: Rect = Rect {
    x: 16,
    y: 228,
    w: 768,
    h: 64,
};
const WAIT: Duration = Duration::from_secs(20);

/// A button's plain background: a strip along its top, away from the label
/// and from a cursor drawn at its centre.
fn button_bg(b: Rect) -> Rect {
    Rect::new(b.x + 6, b.y + 4, 60, 10)
}

const SCENARIOS: &str = r#"{
  "scenarios": {
    "toggle": [
      {"action": "connect"},
      {"action": "click", "x": 106, "y": 340},
      {"action": "wait", "seconds": 0.2}
    ],
    "long_wait": [{"action": "wait", "seconds": 120}],
    "three_waits": [
      {"action": "wait", "seconds": 1.5},
      {"action": "wait", "seconds": 1.5},
      {"action": "wait", "seconds": 1.5}
    ],
    "mismatch": [
      {"action": "connect"},
      {"action": "expect", "image": "red.jpg", "region": [16, 308, 180, 64], "timeout": 1}
    ]
  }
}"#;

/// A scenarios directory with `demo.json`, `my tour.json` and a broken file,
/// an output directory, and vncmon on the demo desktop using them.
struct Setup {
    dir: TempDir,
    v: Vncmon,
}

impl Setup {
    fn start(extra: &[&str]) -> Setup {
        let dir = TempDir::new("api");
        let scenarios = dir.path().join("scenarios");
        std::fs::create_dir_all(&scenarios).unwrap();
        std::fs::write(scenarios.join("demo.json"), SCENARIOS).unwrap();
        std::fs::write(
            scenarios.join("my tour.json"),
            r#"{"scenarios": {"a b": [{"action": "wait", "seconds": 0.1}]}}"#,
        )
        .unwrap();
        std::fs::write(
            scenarios.join("broken.json"),
            "{\"scenarios\": {\n  \"x\": [\n    {\"action\": \"wait\" \"seconds\": 1}\n  ]\n}}\n",
        )
        .unwrap();
        common::image::write_red_jpeg(&scenarios.join("red.jpg"));
        let v = Vncmon::demo_with(&scenarios, &dir.path().join("output"), extra);
        v.wait_connected();
        Setup { dir, v }
    }

    fn addr(&self) -> &str {
        &self.v.addr
    }

    fn load(&self, name: &str) -> Value {
        let r = get(self.addr(), &format!("/api/load/demo.json/{name}"));
        assert_eq!(r.status, 200, "load {name}: {}", r.text());
        r.json()
    }

    /// Waits for a snapshot satisfying `cond`; panics with the last reason.
    fn snapshot_where(
        &self,
        what: &str,
        cond: impl Fn(&RgbImage) -> Result<(), String>,
    ) -> RgbImage {
        let mut last = String::new();
        wait_for(WAIT, || {
            match self.v.snapshot().and_then(|img| cond(&img).map(|()| img)) {
                Ok(img) => Some(img),
                Err(e) => {
                    last = e;
                    None
                }
            }
        })
        .unwrap_or_else(|| {
            panic!(
                "the screen never showed {what}: {last}\n{}",
                self.v.log_tail()
            )
        })
    }

    fn wait_idle(&self) -> Value {
        self.v
            .wait_status(WAIT, "the run ended", |s| s["is_executing"] == false)
    }
}

fn near(img: &RgbImage, r: Rect, c: Rgb) -> Result<(), String> {
    let m = img.mean(r);
    if m.distance(c) <= 24 {
        Ok(())
    } else {
        Err(format!("{r:?} is {} not {}", m.hex(), c.hex()))
    }
}

#[test]
fn listing_loading_and_refused_names() {
    let s = Setup::start(&[]);
    let a = s.addr();

    let list = get(a, "/api/scenarios");
    assert_eq!(list.status, 200);
    let list = list.json();
    let items = list.as_array().expect("an array");
    let find = |file: &str, name: Value| {
        items
            .iter()
            .find(|i| i["file"] == file && i["name"] == name)
            .unwrap_or_else(|| panic!("{file} {name} not listed: {list}"))
    };
    let toggle = find("demo.json", json!("toggle"));
    assert_eq!(toggle["steps"], 3, "{toggle}");
    assert!(
        toggle["path"].as_str().unwrap().ends_with("demo.json"),
        "{toggle}"
    );
    assert_eq!(find("demo.json", json!("long_wait"))["steps"], 1);
    assert_eq!(find("my tour.json", json!("a b"))["steps"], 1);
    let broken = find("broken.json", Value::Null);
    assert_eq!(broken["steps"], 0);
    let err = broken["error"].as_str().expect("an error");
    assert!(
        err.contains("broken.json") && err.contains("line 3"),
        "{err}"
    );

    // GET with percent-encoded file and name.
    let r = get(a, "/api/load/my%20tour.json/a%20b");
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["success"], true);
    assert_eq!(
        (v["scenario"].as_str(), v["file"].as_str()),
        (Some("a b"), Some("my tour.json"))
    );
    assert_eq!(v["step_count"], 1);
    assert_eq!(v["steps"][0], json!({"action": "wait", "seconds": 0.1}));
    assert_eq!(v["labels"].as_array().map(Vec::len), Some(1));

    // POST with JSON.
    let r = post(a, "/api/load", r#"{"file": "demo.json", "name": "toggle"}"#);
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["step_count"], 3);
    assert_eq!(
        v["steps"][1],
        json!({"action": "click", "x": 106, "y": 340})
    );
    assert_eq!(v["labels"][1], "click (106, 340)");

    let steps = get(a, "/api/steps").json();
    assert_eq!(steps["success"], true);
    assert_eq!(
        (steps["scenario"].as_str(), steps["file"].as_str()),
        (Some("toggle"), Some("demo.json"))
    );
    assert_eq!(
        (steps["total"].as_u64(), steps["current_step"].as_u64()),
        (Some(3), Some(0))
    );
    assert_eq!(steps["steps"][2], json!({"action": "wait", "seconds": 0.2}));
    assert_eq!(steps["is_executing"], false);
    let status = s.v.status();
    assert_eq!(
        (status["scenario"].as_str(), status["file"].as_str()),
        (Some("toggle"), Some("demo.json"))
    );
    assert_eq!(
        (
            status["total_steps"].as_u64(),
            status["last_result"].clone()
        ),
        (Some(3), Value::Null)
    );

    // Unknown file or scenario: 404.
    for path in ["/api/load/nope.json/x", "/api/load/demo.json/nope"] {
        let r = get(a, path);
        assert_eq!(r.status, 404, "{path}: {}", r.text());
        assert_eq!(r.json()["success"], false);
    }
    // A broken file: 400 with the precise error.
    let r = get(a, "/api/load/broken.json/x");
    assert_eq!(r.status, 400);
    assert!(
        r.json()["error"].as_str().unwrap().contains("line 3"),
        "{}",
        r.text()
    );

    // Names that leave the directory: 400, "outside".
    std::fs::write(s.dir.path().join("secret.json"), SCENARIOS).unwrap();
    let scen = s.dir.path().join("scenarios");
    std::os::unix::fs::symlink(s.dir.path().join("secret.json"), scen.join("link.json")).unwrap();
    let absolute = s
        .dir
        .path()
        .join("secret.json")
        .display()
        .to_string()
        .replace('/', "%2F");
    for path in [
        "/api/load/..%2fsecret.json/toggle".to_string(),
        "/api/load/..%2Fsecret.json/toggle".to_string(),
        "/api/load/../secret.json/toggle".to_string(),
        format!("/api/load/{absolute}/toggle"),
        "/api/load/link.json/toggle".to_string(),
    ] {
        let r = get(a, &path);
        assert_eq!(r.status, 400, "{path}: {}", r.text());
        let e = r.json()["error"].as_str().unwrap_or("").to_string();
        assert!(e.contains("outside"), "{path}: {e}");
    }
    let r = post(
        a,
        "/api/load",
        r#"{"file": "../secret.json", "name": "toggle"}"#,
    );
    assert_eq!(r.status, 400, "{}", r.text());
    // The refused loads left the loaded scenario alone.
    assert_eq!(get(a, "/api/steps").json()["scenario"], "toggle");

    // Bad bodies and encodings.
    for body in [
        "",
        "{",
        r#"{"file": "demo.json"}"#,
        r#"{"file": 1, "name": "x"}"#,
        "[]",
    ] {
        let r = post(a, "/api/load", body);
        assert_eq!(r.status, 400, "{body:?}: {}", r.text());
        assert_eq!(r.json()["success"], false);
    }
    let r = get(a, "/api/load/demo%zz.json/toggle");
    assert_eq!(r.status, 400);
    assert!(r.text().contains("percent"), "{}", r.text());
    let r = common::http::request(a, "DELETE", "/api/load/demo.json/toggle", b"").unwrap();
    assert_eq!((r.status, r.header("allow")), (405, Some("GET, HEAD")));
}

#[test]
fn execute_step_changes_the_screen_and_a_failure_names_the_step() {
    let s = Setup::start(&[]);
    let a = s.addr();

    // Nothing loaded yet.
    let r = post(a, "/api/execute_step/0", "");
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("no scenario loaded"));
    assert_eq!(post(a, "/api/execute_all", "").status, 400);

    s.load("toggle");
    s.snapshot_where("Alpha off", |img| near(img, button_bg(ALPHA), BUTTON_OFF));
    let r = post(a, "/api/execute_step/1", "");
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(
        (v["success"].clone(), v["step_index"].clone()),
        (json!(true), json!(1))
    );
    assert_eq!(v["step"], json!({"action": "click", "x": 106, "y": 340}));
    assert!(v.get("note").is_some(), "{v}");
    s.snapshot_where("Alpha on after the click step", |img| {
        near(img, button_bg(ALPHA), ALPHA_ON)
    });
    let status = s.v.status();
    assert_eq!(status["current_step"], 1);
    assert_eq!(
        status["last_result"],
        json!({"success": true, "step_index": 1, "error": null})
    );

    for bad in ["3", "99", "-1", "x", "1.5", ""] {
        let r = post(a, &format!("/api/execute_step/{bad}"), "");
        assert_eq!(r.status, 400, "{bad:?}: {}", r.text());
        assert_eq!(r.json()["success"], false);
    }
    let r = get(a, "/api/execute_step/0");
    assert_eq!((r.status, r.header("allow")), (405, Some("POST")));

    // A step that fails: 422, naming the step; the run result says so.
    s.load("mismatch");
    let r = post(a, "/api/execute_step/1", "");
    assert_eq!(r.status, 422, "{}", r.text());
    let v = r.json();
    assert_eq!(
        (v["success"].clone(), v["step_index"].clone()),
        (json!(false), json!(1))
    );
    let e = v["error"].as_str().unwrap();
    assert!(e.starts_with("step 2 (expect red.jpg"), "{e}");
    assert!(e.contains("did not match"), "{e}");
    let last = &s.v.status()["last_result"];
    assert_eq!(
        (last["success"].clone(), last["step_index"].clone()),
        (json!(false), json!(1))
    );
    assert_eq!(last["error"].as_str(), Some(e));
    // The diff was saved in the output directory.
    let out = s.dir.path().join("output");
    let saved: Vec<_> = std::fs::read_dir(&out)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(
        saved.iter().any(|n| n.to_string_lossy().contains("red")),
        "{saved:?}"
    );

    // execute_all stops at the failing step.
    let r = post(a, "/api/execute_all", "");
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["total_steps"], 2);
    let st = s.wait_idle();
    assert_eq!(st["last_result"]["success"], false, "{st}");
    assert_eq!(st["last_result"]["step_index"], 1, "{st}");
}

#[test]
fn execute_all_is_live_busy_and_stoppable() {
    let s = Setup::start(&[]);
    let a = s.addr();

    s.load("three_waits");
    let r = post(a, "/api/execute_all", "");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json(),
        json!({"success": true, "message": "running 3 steps of three_waits", "total_steps": 3})
    );
    // current_step advances while the run goes on.
    let mut seen = Vec::new();
    let ok = common::wait_until(WAIT, || {
        let st = s.v.status();
        if st["is_executing"] == true {
            let i = st["current_step"].as_u64().unwrap_or(99);
            if seen.last() != Some(&i) {
                seen.push(i);
            }
            false
        } else {
            !seen.is_empty()
        }
    });
    assert!(ok, "the run never ended: {seen:?}");
    assert!(
        seen.len() >= 2 && seen.windows(2).all(|w| w[0] < w[1]),
        "steps seen running: {seen:?}"
    );
    assert_eq!(seen.last(), Some(&2), "{seen:?}");
    let st = s.v.status();
    assert_eq!(
        st["last_result"],
        json!({"success": true, "step_index": 2, "error": null})
    );

    // A long wait: everything else is busy until stopped.
    s.load("long_wait");
    assert_eq!(post(a, "/api/execute_all", "").status, 200);
    s.v.wait_status(WAIT, "executing", |st| st["is_executing"] == true);
    for (method, path, body) in [
        ("POST", "/api/execute_all", ""),
        ("POST", "/api/execute_step/0", ""),
        ("GET", "/api/load/demo.json/toggle", ""),
        (
            "POST",
            "/api/load",
            r#"{"file": "demo.json", "name": "toggle"}"#,
        ),
    ] {
        let r = common::http::request(a, method, path, body.as_bytes()).unwrap();
        assert_eq!(r.status, 409, "{method} {path}: {}", r.text());
        assert_eq!(r.json()["success"], false);
    }
    let steps = get(a, "/api/steps").json();
    assert_eq!(
        (steps["scenario"].as_str(), steps["is_executing"].clone()),
        (Some("long_wait"), json!(true))
    );
    let r = post(a, "/api/stop", "");
    assert_eq!(r.json(), json!({"success": true, "message": "stopping"}));
    let st = s.wait_idle();
    let last = &st["last_result"];
    assert_eq!(
        (last["success"].clone(), last["step_index"].clone()),
        (json!(false), json!(0)),
        "{st}"
    );
    assert!(
        last["error"].as_str().unwrap_or("").contains("stopped"),
        "{st}"
    );
    let r = post(a, "/api/stop", "");
    assert_eq!(
        r.json(),
        json!({"success": true, "message": "nothing is running"})
    );
    // Loading works again.
    s.load("toggle");
}

#[test]
fn the_run_log_lists_downloads_and_clears() {
    let s = Setup::start(&[]);
    let a = s.addr();
    s.load("toggle");
    assert_eq!(post(a, "/api/execute_step/2", "").status, 200);
    s.load("mismatch");
    assert_eq!(post(a, "/api/execute_step/1", "").status, 422);

    let logs = get(a, "/api/logs").json();
    let entries = logs.as_array().expect("an array");
    let messages: Vec<&str> = entries
        .iter()
        .filter_map(|e| e["message"].as_str())
        .collect();
    for e in entries {
        let ts = e["timestamp"].as_str().unwrap();
        let b = ts.as_bytes();
        assert!(b.len() == 8 && b[2] == b':' && b[5] == b':', "{e}");
        assert!(
            ["info", "success", "warning", "error"].contains(&e["level"].as_str().unwrap()),
            "{e}"
        );
    }
    let pos = |level: &str, part: &str| {
        entries
            .iter()
            .position(|e| e["level"] == level && e["message"].as_str().unwrap().contains(part))
            .unwrap_or_else(|| panic!("no {level} entry with {part:?}: {messages:?}"))
    };
    let loaded = pos("info", "toggle");
    let started = pos("info", "step 3/3");
    let passed = pos("success", "step 3/3");
    let failed = pos("error", "step 2 (expect red.jpg");
    assert!(
        loaded < started && started < passed && passed < failed,
        "{messages:?}"
    );

    let d = get(a, "/api/logs/download");
    assert_eq!(d.status, 200);
    assert_eq!(d.header("content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(
        d.header("content-disposition"),
        Some("attachment; filename=\"vncmon-log.txt\"")
    );
    let text = d.text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), entries.len(), "{text}");
    for (line, e) in lines.iter().zip(entries) {
        let want = format!(
            "[{}] [{}] {}",
            e["timestamp"].as_str().unwrap(),
            e["level"].as_str().unwrap().to_uppercase(),
            e["message"].as_str().unwrap()
        );
        assert_eq!(*line, want);
    }

    assert_eq!(
        post(a, "/api/logs/clear", "").json(),
        json!({"success": true})
    );
    assert_eq!(get(a, "/api/logs").json(), json!([]));
    assert_eq!(get(a, "/api/logs/download").text(), "");
    assert_eq!(get(a, "/api/logs/clear").status, 405);
}

fn input(a: &str, body: Value) -> Value {
    let r = post(a, "/api/input", &body.to_string());
    assert_eq!(r.status, 200, "{body}: {}", r.text());
    r.json()
}

#[test]
fn input_reaches_the_demo_desktop() {
    let s = Setup::start(&[]);
    let a = s.addr();
    // Keep the pointer away from the text box.
    input(a, json!({"action": "move", "x": 700, "y": 460}));
    let blank = s.snapshot_where("the empty text box", |img| {
        near(img, button_bg(BRAVO), BUTTON_OFF)
    });
    let blank = blank.crop(TEXT_BOX);

    // A click toggles Bravo.
    let v = input(a, json!({"action": "click", "x": 302, "y": 340}));
    assert_eq!(v, json!({"success": true, "events": 1}));
    s.snapshot_where("Bravo on", |img| near(img, button_bg(BRAVO), BRAVO_ON));
    // The raw pointer event of the page toggles it back: press and release.
    let v = input(
        a,
        json!([
            {"action": "pointer", "x": 302, "y": 340, "buttons": 1},
            {"action": "pointer", "x": 302, "y": 340, "buttons": 0},
            {"action": "move", "x": 700, "y": 460}
        ]),
    );
    assert_eq!(v["events"], 3);
    s.snapshot_where("Bravo off again", |img| {
        near(img, button_bg(BRAVO), BUTTON_OFF)
    });

    let box_differs = |from: &RgbImage| {
        let from = from.clone();
        move |img: &RgbImage| match psnr(&img.crop(TEXT_BOX), &from, &[]) {
            Ok(p) if p < 30.0 => Ok(()),
            Ok(p) => Err(format!("text box unchanged ({p:.1} dB)")),
            Err(e) => Err(e),
        }
    };
    let box_equals = |to: &RgbImage| {
        let to = to.clone();
        move |img: &RgbImage| match psnr(&img.crop(TEXT_BOX), &to, &[]) {
            Ok(p) if p > 35.0 => Ok(()),
            Ok(p) => Err(format!("text box differs ({p:.1} dB)")),
            Err(e) => Err(e),
        }
    };

    // Typing shows in the typed line; Backspace takes it back; the same
    // text gives the same picture and other text another one.
    input(a, json!({"action": "type", "text": "Hello!"}));
    let hello = s
        .snapshot_where("typed text", box_differs(&blank))
        .crop(TEXT_BOX);
    // The typed line holds more dark ink than the empty one (its caret).
    let line = Rect::new(0, 30, 700, 24);
    let ink = |img: &RgbImage| 1.0 - img.crop(line).fraction_near(Rgb(0xf4, 0xf4, 0xf0), 60, &[]);
    assert!(
        ink(&hello) > ink(&blank) + 0.01,
        "{} vs {}",
        ink(&hello),
        ink(&blank)
    );
    let v = input(
        a,
        json!([{"action": "key", "key": "BackSpace"}, {"action": "key", "key": "backspace"}, {"action": "key", "key": "backspace"}, {"action": "key", "key": "backspace"}, {"action": "key", "key": "backspace"}, {"action": "key", "key": "backspace"}]),
    );
    assert_eq!(v["events"], 6);
    s.snapshot_where("the text erased", box_equals(&blank));
    input(a, json!({"action": "type", "text": "Hello!"}));
    s.snapshot_where("the same text again", box_equals(&hello));
    // Raw keysyms: 'x' down and up.
    input(
        a,
        json!([{"action": "keysym", "keysym": 0x78, "down": true}, {"action": "keysym", "keysym": 0x78, "down": false}]),
    );
    let hellox = s
        .snapshot_where("a raw keysym", box_differs(&hello))
        .crop(TEXT_BOX);

    // A bad body: 400, and nothing of it was sent.
    for body in [
        json!([{"action": "type", "text": "zz"}, {"action": "bogus"}]).to_string(),
        json!({"action": "click", "x": "1"}).to_string(),
        "not json".to_string(),
    ] {
        let r = post(a, "/api/input", &body);
        assert_eq!(r.status, 400, "{body}: {}", r.text());
        assert_eq!(r.json()["success"], false);
    }
    std::thread::sleep(Duration::from_millis(500));
    s.snapshot_where("the text unchanged by bad bodies", box_equals(&hellox));

    // Disconnected: 503.
    assert_eq!(post(a, "/api/disconnect", "").status, 200);
    s.v.wait_status(WAIT, "disconnected", |st| st["connected"] == false);
    let r = post(a, "/api/input", r#"{"action": "type", "text": "x"}"#);
    assert_eq!(r.status, 503, "{}", r.text());
    assert_eq!(r.json()["error"], "not connected");
    assert_eq!(get(a, "/api/input").status, 405);
}

#[test]
fn view_only_refuses_input_and_execution() {
    let s = Setup::start(&["--view-only"]);
    let a = s.addr();
    let v = s.load("toggle");
    assert_eq!(v["success"], true);
    for path in ["/api/input", "/api/execute_step/1", "/api/execute_all"] {
        let r = post(a, path, r#"{"action": "click", "x": 106, "y": 340}"#);
        assert_eq!(r.status, 403, "{path}: {}", r.text());
        assert!(r.json()["error"].as_str().unwrap().contains("view-only"));
    }
    // Nothing ran.
    std::thread::sleep(Duration::from_millis(500));
    let img = s.v.snapshot().unwrap();
    near(&img, button_bg(ALPHA), BUTTON_OFF).unwrap();
    assert_eq!(s.v.status()["last_result"], Value::Null);
}

#[test]
fn input_moves_and_clicks_land_on_xtigervnc_pixels() {
    let x = Server::start(Kind::Tiger, 640, 480, Auth::None);
    let v = Vncmon::watch(&x, "zrle");
    v.wait_connected();
    let a = &v.addr;
    for (px, py) in [(123, 77), (639, 479), (0, 0)] {
        input(a, json!({"action": "move", "x": px, "y": py}));
        assert!(
            common::wait_until(WAIT, || x.pointer() == (px, py)),
            "pointer at {:?}, not ({px}, {py})",
            x.pointer()
        );
    }
    input(
        a,
        json!({"action": "drag", "from": [10, 20], "to": [300, 200]}),
    );
    assert!(
        common::wait_until(WAIT, || x.pointer() == (300, 200)),
        "{:?}",
        x.pointer()
    );
    let r = post(a, "/api/input", r#"{"action": "move", "x": 640, "y": 10}"#);
    assert_eq!(r.status, 400, "off the 640x480 screen: {}", r.text());
}
