//! Every file in `scenarios/` loads, and each of its scenarios runs to the
//! end against the built-in demo desktop (in process: `Demo` + capture +
//! `run_step`), with the demo's visible state checked afterwards.
//!
//! `VNCMON_WRITE_REFERENCES=1 cargo test --test examples references` renders
//! the `expect` reference images again from the demo's exact pixels.

mod common;

use std::path::Path;
use std::time::Duration;

use common::engine::Engine;
use common::{Rect, RgbImage};
use vncmon::demo::{Demo, layout};
use vncmon::rfb::{ConnectOptions, Event, Session};
use vncmon::scenario::{Action, Flow, Library, Picture, Region, run_step};
use vncmon::screen::Screen;

const DIR: &str = "scenarios";

fn region(r: vncmon::screen::Rect) -> Rect {
    Rect::new(
        i64::from(r.x),
        i64::from(r.y),
        i64::from(r.w),
        i64::from(r.h),
    )
}

/// The pixels of `r` (RGB) in `img`.
fn crop(img: &RgbImage, r: Rect) -> Vec<u8> {
    let mut out = Vec::new();
    for y in r.y..r.y + r.h {
        for x in r.x..r.x + r.w {
            let p = img.pixel(x as usize, y as usize);
            out.extend_from_slice(&[p.0, p.1, p.2]);
        }
    }
    out
}

/// Runs every step of `file`/`name` on a fresh demo and returns the screen
/// before and after, and the engine (for its output directory).
fn run(file: &str, name: &str) -> (RgbImage, RgbImage, Engine, Demo) {
    let lib = Library::new(DIR);
    let s = lib
        .load(file, name, Some((layout::WIDTH, layout::HEIGHT)))
        .unwrap_or_else(|e| panic!("{e}"));
    let demo = Demo::start(None).expect("demo");
    let e = Engine::start(&demo.addr().to_string(), None);
    let before = e.screen();
    for (i, step) in s.steps.iter().enumerate() {
        let out = run_step(step, &e.ctx).unwrap_or_else(|err| {
            panic!("{file} {name} step {} ({}): {err:?}", i + 1, step.label())
        });
        if out.flow == Flow::End {
            assert_eq!(i + 1, s.steps.len(), "only the last step ends the scenario");
        }
    }
    let after = e.screen();
    (before, after, e, demo)
}

#[test]
fn every_example_file_loads() {
    let listed = Library::new(DIR).list();
    let names: Vec<(String, Option<String>)> = listed
        .iter()
        .map(|l| (l.file.clone(), l.name.clone()))
        .collect();
    for l in &listed {
        assert_eq!(l.error, None, "{l:?}");
        assert!(l.steps > 0);
    }
    let want = [
        ("demo.json", "buttons"),
        ("demo.json", "tour"),
        ("quick_login.json", "quick_login"),
    ];
    for (f, n) in want {
        assert!(
            names.contains(&(f.to_string(), Some(n.to_string()))),
            "{f}/{n} not listed: {names:?}"
        );
    }
    // Every JSON file there is an example that the tests below run.
    let files: std::collections::BTreeSet<&str> = listed.iter().map(|l| l.file.as_str()).collect();
    assert_eq!(
        files.into_iter().collect::<Vec<_>>(),
        ["demo.json", "quick_login.json"]
    );
}

#[test]
fn demo_tour_runs() {
    let (before, after, e, _demo) = run("demo.json", "tour");
    // Alpha and Charlie are on now; Bravo is not.
    let buttons = layout::BUTTONS.map(region);
    assert_ne!(crop(&before, buttons[0]), crop(&after, buttons[0]));
    assert_eq!(crop(&before, buttons[1]), crop(&after, buttons[1]));
    assert_ne!(crop(&before, buttons[2]), crop(&after, buttons[2]));
    assert_ne!(
        crop(&before, region(layout::TEXT_BOX)),
        crop(&after, region(layout::TEXT_BOX))
    );
    let shot = e.output().join("demo_tour.jpg");
    let bytes = std::fs::read(&shot).unwrap_or_else(|err| panic!("{}: {err}", shot.display()));
    let img = common::decode_jpeg(&bytes).expect("screenshot decodes");
    assert_eq!((img.width, img.height), (800, 480));
}

#[test]
fn demo_buttons_runs() {
    let (before, after, e, _demo) = run("demo.json", "buttons");
    for b in layout::BUTTONS.map(region) {
        assert_ne!(crop(&before, b), crop(&after, b), "every button toggled on");
    }
    assert_ne!(
        crop(&before, region(layout::CLICK_LINE)),
        crop(&after, region(layout::CLICK_LINE))
    );
    assert!(e.output().join("demo_buttons.jpg").is_file());
}

#[test]
fn quick_login_runs() {
    let (before, after, e, _demo) = run("quick_login.json", "quick_login");
    // "automation" + Return moved to the previous line of the text box.
    assert_ne!(
        crop(&before, region(layout::TEXT_BOX)),
        crop(&after, region(layout::TEXT_BOX))
    );
    assert!(e.output().join("after_login.jpg").is_file());
}

/// The demo's exact pixels (Raw encoding, no JPEG) inside `r`.
fn exact_region(addr: &str, r: Region) -> Picture {
    let opts = ConnectOptions {
        addr: addr.to_string(),
        password: None,
        encodings: vec![0],
        connect_timeout: Duration::from_secs(5),
    };
    let mut session = Session::connect(&opts).expect("connect to the demo");
    let mut screen = Screen::new(session.width(), session.height());
    session.request_update(false, &screen).expect("request");
    loop {
        assert!(session.wait_readable(Duration::from_secs(5)).expect("read"));
        if session.read_message(&mut screen).expect("message") == Event::Update {
            break;
        }
    }
    let mut rgb = Vec::new();
    for y in r.y..r.y + r.h {
        for x in r.x..r.x + r.w {
            let [b, g, red, _] = screen.fb.pixel(x, y);
            rgb.extend_from_slice(&[red, g, b]);
        }
    }
    Picture {
        width: r.w,
        height: r.h,
        rgb,
    }
}

/// The tour's `expect` reference: what the text box shows after the steps
/// before it, taken from the demo's exact pixels. It must equal the
/// committed file; with `VNCMON_WRITE_REFERENCES=1` the file is rewritten.
#[test]
fn references_are_the_demo_pixels() {
    let write = std::env::var_os("VNCMON_WRITE_REFERENCES").is_some_and(|v| v == "1");
    if write {
        blank_reference();
    }
    let s = Library::new(DIR)
        .load("demo.json", "tour", None)
        .unwrap_or_else(|e| panic!("{e}"));
    let at = s
        .steps
        .iter()
        .position(|st| matches!(st.action, Action::Expect { .. }))
        .expect("the tour has an expect step");
    let Action::Expect {
        image,
        region: Some(r),
        reference,
        ..
    } = &s.steps[at].action
    else {
        panic!("the tour's expect has a region");
    };
    let demo = Demo::start(None).expect("demo");
    let e = Engine::start(&demo.addr().to_string(), None);
    for step in &s.steps[..at] {
        run_step(step, &e.ctx).unwrap_or_else(|err| panic!("{}: {err:?}", step.label()));
    }
    // Let the demo draw the last keys.
    std::thread::sleep(Duration::from_millis(500));
    let exact = exact_region(&demo.addr().to_string(), *r);
    let path = Path::new(DIR).join(image);
    if write {
        std::fs::write(&path, exact.to_png().expect("png")).expect("write the reference");
        return;
    }
    assert!(
        **reference == exact,
        "{} is not what the demo shows; rerun with VNCMON_WRITE_REFERENCES=1",
        path.display()
    );
}

/// Writes a blank reference of the right size, so that the file loads even
/// when the reference is missing or the region changed.
fn blank_reference() {
    let text = std::fs::read_to_string(Path::new(DIR).join("demo.json")).expect("demo.json");
    let v: serde_json::Value = serde_json::from_str(&text).expect("demo.json is JSON");
    let steps = v["scenarios"]["tour"].as_array().expect("tour steps");
    let step = steps
        .iter()
        .find(|s| s["action"] == "expect")
        .expect("an expect step");
    let r = step["region"].as_array().expect("a region");
    let side = |i: usize| r[i].as_u64().expect("a number") as u16;
    let blank = Picture {
        width: side(2),
        height: side(3),
        rgb: vec![0; usize::from(side(2)) * usize::from(side(3)) * 3],
    };
    let path = Path::new(DIR).join(step["image"].as_str().expect("an image"));
    std::fs::write(path, blank.to_png().expect("png")).expect("write");
}
