//! Scenario input steps against real VNC servers (Xtigervnc; Xvfb +
//! x11vnc), run in this process through `capture` + `Hub` + `Control`:
//! typed text arrives exactly in `cat`, pointer events land on the right
//! pixels (`xdotool`, an `xev` log), key combinations reach the X server,
//! and `Cancel` stops waiting steps.

mod common;

use std::time::{Duration, Instant};

use common::alloc::TempFile;
use common::engine::Engine;
use common::proc::Proc;
use common::{Auth, Kind, Server, wait_until};
use vncmon::scenario::StepErrorKind;

const W: usize = 640;
const H: usize = 400;

/// One event from an `xev` log.
#[derive(Debug, Clone, PartialEq)]
struct XEvent {
    kind: String,
    /// `root:(x,y)`.
    at: Option<(i64, i64)>,
    button: Option<u32>,
    state: u32,
    keysym: Option<String>,
}

fn xev_events(log: &str) -> Vec<XEvent> {
    log.split("\n\n")
        .filter_map(|block| {
            let block = block.trim();
            let kind = block.split_whitespace().next()?.to_string();
            let after = |key: &str| block.split(key).nth(1);
            let at = after("root:(").and_then(|r| {
                let (x, rest) = r.split_once(',')?;
                let (y, _) = rest.split_once(')')?;
                Some((x.parse().ok()?, y.parse().ok()?))
            });
            let button = after(", button ")
                .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok());
            let state = after("state 0x")
                .and_then(|r| {
                    let hex: String = r.chars().take_while(char::is_ascii_hexdigit).collect();
                    u32::from_str_radix(&hex, 16).ok()
                })
                .unwrap_or(0);
            let keysym = after("(keysym 0x")
                .and_then(|r| Some(r.split_once(", ")?.1.split(')').next()?.to_string()));
            Some(XEvent {
                kind,
                at,
                button,
                state,
                keysym,
            })
        })
        .collect()
}

/// Waits until the xev log holds `n` events of `kinds` after `skip` such
/// events, and returns them.
fn events(xev: &Proc, kinds: &[&str], skip: usize, n: usize) -> Vec<XEvent> {
    let got = common::wait_for(Duration::from_secs(10), || {
        let all: Vec<XEvent> = xev_events(&xev.log())
            .into_iter()
            .filter(|e| kinds.contains(&e.kind.as_str()))
            .skip(skip)
            .collect();
        (all.len() >= n).then_some(all)
    });
    got.unwrap_or_else(|| panic!("xev did not log {n} of {kinds:?}:\n{}", xev.log_tail(60)))
}

fn count(xev: &Proc, kinds: &[&str]) -> usize {
    xev_events(&xev.log())
        .iter()
        .filter(|e| kinds.contains(&e.kind.as_str()))
        .count()
}

const BUTTONS: &[&str] = &["ButtonPress", "ButtonRelease"];
const KEYS: &[&str] = &["KeyPress", "KeyRelease"];

fn pointer_lands(server: &Server, e: &Engine) {
    e.ok(r#"{"action":"move","x":123,"y":45}"#);
    assert!(
        wait_until(Duration::from_secs(5), || server.pointer() == (123, 45)),
        "{:?}",
        server.pointer()
    );
    e.ok(r#"{"action":"move","x":639,"y":399}"#);
    assert!(
        wait_until(Duration::from_secs(5), || server.pointer() == (639, 399)),
        "{:?}",
        server.pointer()
    );

    let xev = server.xev_root();
    let skip = count(&xev, BUTTONS);
    e.ok(r#"{"action":"click","x":200,"y":150}"#);
    e.ok(r#"{"action":"click","x":310,"y":20,"button":"right","double":true}"#);
    e.ok(r#"{"action":"click","x":5,"y":390,"button":"middle"}"#);
    let got = events(&xev, BUTTONS, skip, 8);
    let want = [
        ("ButtonPress", (200, 150), 1),
        ("ButtonRelease", (200, 150), 1),
        ("ButtonPress", (310, 20), 3),
        ("ButtonRelease", (310, 20), 3),
        ("ButtonPress", (310, 20), 3),
        ("ButtonRelease", (310, 20), 3),
        ("ButtonPress", (5, 390), 2),
        ("ButtonRelease", (5, 390), 2),
    ];
    for (g, (kind, at, button)) in got.iter().zip(want) {
        assert_eq!(
            (g.kind.as_str(), g.at, g.button),
            (kind, Some(at), Some(button)),
            "{got:#?}"
        );
    }

    // A drag: press at `from`, motion with button 1 held, release at `to`.
    let skip = count(&xev, BUTTONS);
    let motions = count(&xev, &["MotionNotify"]);
    e.ok(r#"{"action":"drag","from":[50,60],"to":[300,200]}"#);
    let got = events(&xev, BUTTONS, skip, 2);
    assert_eq!(
        (got[0].kind.as_str(), got[0].at, got[0].button),
        ("ButtonPress", Some((50, 60)), Some(1))
    );
    assert_eq!(
        (got[1].kind.as_str(), got[1].at, got[1].button),
        ("ButtonRelease", Some((300, 200)), Some(1))
    );
    let moved: Vec<XEvent> = xev_events(&xev.log())
        .into_iter()
        .filter(|e| e.kind == "MotionNotify")
        .skip(motions)
        .collect();
    assert!(
        moved
            .iter()
            .any(|m| m.state & 0x100 != 0 && m.at != Some((50, 60))),
        "no motion with button 1 held: {moved:#?}"
    );

    // mouse_down / move / mouse_up keep the button held across the move.
    let skip = count(&xev, BUTTONS);
    e.ok(r#"{"action":"mouse_down","x":400,"y":300,"button":"left"}"#);
    e.ok(r#"{"action":"move","x":420,"y":310}"#);
    e.ok(r#"{"action":"mouse_up","button":"left"}"#);
    let got = events(&xev, BUTTONS, skip, 2);
    assert_eq!(
        (got[0].kind.as_str(), got[0].at),
        ("ButtonPress", Some((400, 300)))
    );
    assert_eq!(
        (got[1].kind.as_str(), got[1].at),
        ("ButtonRelease", Some((420, 310)))
    );

    // Scrolling: button 5 per notch down, 4 up.
    let skip = count(&xev, &["ButtonPress"]);
    e.ok(r#"{"action":"scroll","x":100,"y":100,"amount":2}"#);
    e.ok(r#"{"action":"scroll","x":100,"y":100,"amount":-1}"#);
    let got = events(&xev, &["ButtonPress"], skip, 3);
    let buttons: Vec<_> = got.iter().map(|g| (g.at, g.button)).collect();
    assert_eq!(
        buttons,
        [
            (Some((100, 100)), Some(5)),
            (Some((100, 100)), Some(5)),
            (Some((100, 100)), Some(4))
        ]
    );

    // Key combinations, with the pointer over the bare root window.
    e.ok(r#"{"action":"move","x":600,"y":20}"#);
    let skip = count(&xev, KEYS);
    e.ok(r#"{"action":"key","key":"ctrl+l"}"#);
    e.ok(r#"{"action":"key","key":"Alt-F2"}"#);
    e.ok(r#"{"action":"key","key":"shift+tab"}"#);
    e.ok(r#"{"action":"key_down","key":"ctrl"}"#);
    e.ok(r#"{"action":"key","key":"Home"}"#);
    e.ok(r#"{"action":"key_up","key":"ctrl"}"#);
    let got = events(&xev, KEYS, skip, 16);
    let seen: Vec<(String, String)> = got
        .iter()
        .map(|g| (g.kind.clone(), g.keysym.clone().unwrap_or_default()))
        .collect();
    let want: Vec<(String, String)> = [
        ("KeyPress", "Control_L"),
        ("KeyPress", "l"),
        ("KeyRelease", "l"),
        ("KeyRelease", "Control_L"),
        ("KeyPress", "Alt_L"),
        ("KeyPress", "F2"),
        ("KeyRelease", "F2"),
        ("KeyRelease", "Alt_L"),
        ("KeyPress", "Shift_L"),
        ("KeyPress", "ISO_Left_Tab"),
        ("KeyRelease", "ISO_Left_Tab"),
        ("KeyRelease", "Shift_L"),
        ("KeyPress", "Control_L"),
        ("KeyPress", "Home"),
        ("KeyRelease", "Home"),
        ("KeyRelease", "Control_L"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(seen, want, "{}", xev.log_tail(80));
}

/// Types `text` into an xterm running `cat > file`, ends with Return and
/// ctrl+d, and returns what `cat` wrote.
fn type_into_cat(server: &mut Server, e: &Engine, text: &str, env: &[(&str, &str)]) -> Vec<u8> {
    let file = TempFile::new("typed", "txt");
    let script = format!("cat > '{}'", file.path.display());
    let mut xterm = server.xterm_running((20, 20), (80, 10), env, &["sh", "-c", &script]);
    // No window manager: the keyboard follows the pointer.
    e.ok(r#"{"action":"move","x":200,"y":60}"#);
    let step = serde_json::json!({"action": "type", "text": text}).to_string();
    e.ok(&step);
    e.ok(r#"{"action":"key","key":"enter"}"#);
    e.ok(r#"{"action":"key","key":"ctrl+d"}"#);
    let ended = xterm.wait_exit(Duration::from_secs(10));
    assert!(
        ended.is_some(),
        "cat did not end after ctrl+d: {:?}",
        std::fs::read(&file.path)
    );
    std::fs::read(&file.path).unwrap_or_default()
}

fn printable_ascii() -> String {
    (0x20u8..=0x7e).map(char::from).collect()
}

fn check_server(kind: Kind) {
    let mut server = Server::start(kind, W, H, Auth::None);
    let e = Engine::start(&server.addr(), None);
    pointer_lands(&server, &e);
    let text = printable_ascii();
    let got = type_into_cat(&mut server, &e, &text, &[]);
    assert_eq!(
        String::from_utf8_lossy(&got),
        format!("{text}\n"),
        "{kind:?} typed text"
    );
    // Upper case words and shifted symbols in a row, twice over.
    let text = "Hello World! ~{}|:\"<>?_+ ABC abc XYZ 123 !@#$%^&*()";
    let got = type_into_cat(&mut server, &e, text, &[]);
    assert_eq!(
        String::from_utf8_lossy(&got),
        format!("{text}\n"),
        "{kind:?}"
    );
}

#[test]
fn xtigervnc_input_arrives_exactly() {
    check_server(Kind::Tiger);
}

#[test]
fn x11vnc_input_arrives_exactly() {
    check_server(Kind::Xvfb);
}

#[test]
fn xtigervnc_types_latin1_and_unicode() {
    let mut server = Server::start(Kind::Tiger, W, H, Auth::None);
    let e = Engine::start(&server.addr(), None);
    let text = "café Ünïcödé ß ½ € Ωλ";
    let env = [("LC_ALL", "C.UTF-8"), ("LANG", "C.UTF-8")];
    let got = type_into_cat(&mut server, &e, text, &env);
    assert_eq!(String::from_utf8_lossy(&got), format!("{text}\n"));
}

#[test]
fn input_without_a_session_is_not_connected() {
    let demo = vncmon::demo::Demo::start(None).expect("demo");
    let e = Engine::start(&demo.addr().to_string(), None);
    e.control.disconnect();
    assert!(wait_until(Duration::from_secs(10), || e
        .control
        .input()
        .is_none()));
    for step in [
        r#"{"action":"click","x":1,"y":1}"#,
        r#"{"action":"type","text":"x"}"#,
        r#"{"action":"key","key":"enter"}"#,
    ] {
        let err = e.run(step).unwrap_err();
        assert_eq!(err.kind, StepErrorKind::NotConnected, "{step}");
        assert!(err.message.starts_with("not connected"), "{err:?}");
    }
}

/// Runs `step` on a thread, cancels it after a moment, and checks that it
/// ends `Stopped`, long before its own 60 s.
fn cancelled(e: &Engine, step: &str) {
    let step = common::engine::input_step_any(step);
    let ctx = e.ctx.clone();
    ctx.cancel.reset();
    let started = Instant::now();
    let t = std::thread::spawn(move || vncmon::scenario::run_step(&step, &ctx));
    std::thread::sleep(Duration::from_millis(300));
    e.ctx.cancel.cancel();
    let got = common::wait_for(Duration::from_secs(10), || t.is_finished().then_some(()));
    assert!(got.is_some(), "the step did not stop");
    let r = t.join().expect("step thread");
    assert_eq!(r.unwrap_err().kind, StepErrorKind::Stopped);
    assert!(started.elapsed() < Duration::from_secs(30));
    e.ctx.cancel.reset();
}

#[test]
fn cancel_stops_waiting_steps() {
    let demo = vncmon::demo::Demo::start(None).expect("demo");
    let e = Engine::start(&demo.addr().to_string(), None);
    cancelled(&e, r#"{"action":"wait","seconds":60}"#);
    // The text box does not change by itself.
    cancelled(
        &e,
        r#"{"action":"wait_for_change","region":[16,228,768,64],"timeout":60}"#,
    );
    // The ball never stands still.
    cancelled(
        &e,
        r#"{"action":"wait_until_still","ms":30000,"timeout":60}"#,
    );
}

/// Loads one `expect` step whose reference is `img`, from a scenario file
/// next to it.
fn expect_step(img: &vncmon::scenario::Picture, json: &str) -> vncmon::scenario::Step {
    let dir = std::env::temp_dir().join(format!("vncmon-expect-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("ref.png"), img.to_png().expect("png")).expect("write");
    std::fs::write(
        dir.join("f.json"),
        format!(r#"{{"scenarios":{{"s":[{json}]}}}}"#),
    )
    .expect("write");
    let s = vncmon::scenario::load_path(&dir.join("f.json"), "s", Some((800, 480)));
    let _ = std::fs::remove_dir_all(&dir);
    s.unwrap_or_else(|e| panic!("{e}")).steps.remove(0)
}

#[test]
fn waits_expect_and_screenshot_on_the_demo() {
    use vncmon::demo::layout;
    use vncmon::scenario::{Picture, Region, run_step};
    let demo = vncmon::demo::Demo::start(None).expect("demo");
    let e = Engine::start(&demo.addr().to_string(), None);
    let run = |json: &str| run_step(&common::engine::input_step_any(json), &e.ctx);

    // The clock ticks every second; the text box stays as it is.
    run(r#"{"action":"wait_for_change","region":[568,16,216,24],"timeout":5}"#).expect("clock");
    let err =
        run(r#"{"action":"wait_for_change","region":[16,228,768,64],"timeout":1}"#).unwrap_err();
    assert_eq!(err.kind, StepErrorKind::Timeout);
    assert_eq!(
        err.message,
        "the screen in [16, 228, 768x64] did not change within 1 s"
    );
    // The buttons stand still; the whole screen never does (the ball).
    run(r#"{"action":"wait_until_still","ms":300,"region":[16,308,768,64],"timeout":5}"#)
        .expect("buttons are still");
    let err = run(r#"{"action":"wait_until_still","ms":1500,"timeout":3}"#).unwrap_err();
    assert_eq!(err.kind, StepErrorKind::Timeout);
    assert_eq!(
        err.message,
        "the screen did not stay still for 1500 ms within 3 s"
    );

    // A click on the middle of the screen shows in the click line.
    let out = run(r#"{"action":"click_position","position":"center"}"#).expect("click");
    assert_eq!(out.note.as_deref(), Some("clicked center at (400, 240)"));
    e.ok(r#"{"action":"move","x":790,"y":470}"#);

    // Alpha's exact look as the reference: it matches Alpha, not Bravo.
    let alpha = layout::BUTTONS[0];
    let frame = e.hub.latest().expect("frame");
    let screen = Picture::decode_jpeg(&frame.jpeg).expect("decode");
    let r = Region {
        x: alpha.x,
        y: alpha.y,
        w: alpha.w,
        h: alpha.h,
    };
    let reference = screen.crop(r).expect("crop");
    let at = |b: vncmon::screen::Rect| format!("[{},{},{},{}]", b.x, b.y, b.w, b.h);
    let step = expect_step(
        &reference,
        &format!(
            r#"{{"action":"expect","image":"ref.png","region":{},"timeout":5}}"#,
            at(alpha)
        ),
    );
    let out = run_step(&step, &e.ctx).expect("alpha matches");
    assert!(
        out.note
            .unwrap_or_default()
            .starts_with("ref.png matches the screen in [16, 308, 180x64] (difference ")
    );
    let bravo = layout::BUTTONS[1];
    let step = expect_step(
        &reference,
        &format!(
            r#"{{"action":"expect","image":"ref.png","region":{},"timeout":1}}"#,
            at(bravo)
        ),
    );
    let err = run_step(&step, &e.ctx).unwrap_err();
    assert_eq!(err.kind, StepErrorKind::Failed);
    let actual = e.output().join("ref-actual.jpg");
    let diff = e.output().join("ref-diff.png");
    assert!(
        err.message.starts_with(
            "the screen in [212, 308, 180x64] did not match ref.png within 1 s: difference "
        ) && err.message.ends_with(&format!(
            "; saved {} and {}",
            actual.display(),
            diff.display()
        )),
        "{}",
        err.message
    );
    let saved = Picture::decode(&std::fs::read(&actual).expect("actual saved")).expect("jpeg");
    assert_eq!((saved.width, saved.height), (180, 64));
    let d = Picture::decode(&std::fs::read(&diff).expect("diff saved")).expect("png");
    assert_eq!((d.width, d.height), (180, 64));

    // screenshot: the whole screen as a JPEG in the output directory.
    let out = run(r#"{"action":"screenshot","name":"shot"}"#).expect("screenshot");
    let path = e.output().join("shot.jpg");
    assert_eq!(
        out.note.as_deref(),
        Some(format!("saved {} (800x480)", path.display()).as_str())
    );
    let img = Picture::decode(&std::fs::read(&path).expect("saved")).expect("jpeg");
    assert_eq!((img.width, img.height), (800, 480));
}
