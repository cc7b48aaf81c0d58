//! Mutated scenario files and `POST /api/input` bodies against the parsers:
//! every one either loads or gives an error naming the file, nothing panics,
//! and whatever loads can be checked against a screen and labelled. A seeded
//! generator keeps runs repeatable.

mod common;
mod rng;

use std::panic::{self, AssertUnwindSafe};

use common::TempDir;
use rng::Rng;
use vncmon::scenario::{load_path, parse_input};

/// Valid input bodies: every input action once.
const INPUT_SEEDS: &[&str] = &[
    r#"{"action":"click","x":10,"y":20,"button":"right","double":true}"#,
    r#"[{"action":"move","x":1,"y":2},{"action":"mouse_down","button":"middle"},{"action":"mouse_up","x":3,"y":4}]"#,
    r#"{"action":"drag","from":[10,20],"to":[300,200]}"#,
    r#"{"action":"scroll","x":5,"y":6,"amount":-3}"#,
    r#"{"action":"type","text":"Hi ~{}|:\"<>? \u00e9\u20ac\n"}"#,
    r#"[{"action":"key","key":"ctrl+alt+F2"},{"action":"key_down","key":"shift"},{"action":"key_up","key":"shift"}]"#,
    r#"[{"action":"pointer","x":7,"y":8,"buttons":17},{"action":"keysym","keysym":65293,"down":false}]"#,
];

/// Splices that push values to their edges.
const NASTY: &[&str] = &[
    "-1",
    "0",
    "65535",
    "65536",
    "8192",
    "1e309",
    "-0.0",
    "99999999999999999999",
    "3600.0001",
    "null",
    "true",
    "[]",
    "{}",
    "\"\"",
    "\"\\u0000\"",
    "\"..\"",
    "\"../demo.json\"",
    "\"/etc/passwd\"",
    "\"ctrl++\"",
    "\"+-\"",
    "\"\\ud800\"",
    ",",
    ":",
    "\"action\":\"wait\"",
    "\"region\":[0,0,0,0]",
    "\"region\":[799,479,2,2]",
    "\"timeout\":0",
];

fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..1 + rng.small(2) {
        let at = rng.below(v.len() + 1);
        match rng.below(6) {
            0 if !v.is_empty() => {
                let i = at.min(v.len() - 1);
                v[i] ^= 1 << rng.below(8);
            }
            1 => v.insert(at, rng.byte()),
            2 => {
                let end = (at + 1 + rng.below(12)).min(v.len());
                v.drain(at..end);
            }
            3 if !v.is_empty() => {
                // Replace the token (run of word characters) at `at`.
                let word = |c: u8| c.is_ascii_alphanumeric() || c == b'.' || c == b'-';
                let mut start = at.min(v.len() - 1);
                while start > 0 && word(v[start - 1]) {
                    start -= 1;
                }
                let mut end = start;
                while end < v.len() && word(v[end]) {
                    end += 1;
                }
                let n = NASTY[rng.below(NASTY.len())].as_bytes();
                v.splice(start..end, n.iter().copied());
            }
            _ => {
                let n = NASTY[rng.below(NASTY.len())].as_bytes();
                v.splice(at..at, n.iter().copied());
            }
        }
    }
    v
}

/// Runs `f`, turning a panic into a test failure that shows the input.
fn no_panic<T>(what: &str, input: &[u8], f: impl FnOnce() -> T) -> T {
    panic::catch_unwind(AssertUnwindSafe(f))
        .unwrap_or_else(|_| panic!("{what} panicked on {:?}", String::from_utf8_lossy(input)))
}

#[test]
fn mutated_input_bodies_parse_or_give_an_error() {
    let mut rng = Rng(0x5EED_0F1A_9E70_0001);
    let (mut ok, mut refused) = (0, 0);
    for i in 0..4000 {
        let body = if i % 10 == 9 {
            let n = rng.below(120);
            rng.bytes(n)
        } else {
            let seed = INPUT_SEEDS[rng.below(INPUT_SEEDS.len())];
            mutate(&mut rng, seed.as_bytes())
        };
        match no_panic("parse_input", &body, || parse_input(&body)) {
            Ok(steps) => {
                assert!(!steps.is_empty(), "{:?}", String::from_utf8_lossy(&body));
                for s in &steps {
                    assert!(!s.label().is_empty());
                    let _ = no_panic("check_screen", &body, || s.check_screen(800, 480));
                }
                ok += 1;
            }
            Err(e) => {
                assert!(!e.trim().is_empty(), "{:?}", String::from_utf8_lossy(&body));
                refused += 1;
            }
        }
    }
    // The mutations reached both the accepted and the refused side.
    eprintln!("{ok} parsed, {refused} refused");
    assert!(ok > 50 && refused > 1000, "{ok} parsed, {refused} refused");
}

#[test]
fn mutated_scenario_files_load_or_name_the_file() {
    let dir = TempDir::new("scenario-fuzz");
    let here = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    // The reference image the demo tour's `expect` step names.
    std::fs::copy(
        here.join("demo-typed.png"),
        dir.path().join("demo-typed.png"),
    )
    .expect("copy the reference image");
    let seeds: Vec<(Vec<u8>, Vec<&str>)> = [
        ("demo.json", vec!["tour", "buttons"]),
        ("quick_login.json", vec!["quick_login"]),
    ]
    .into_iter()
    .map(|(f, names)| (std::fs::read(here.join(f)).expect("read an example"), names))
    .collect();
    let path = dir.path().join("fuzz.json");
    let mut rng = Rng(0x5EED_5CE7_A210_0002);
    let (mut ok, mut refused) = (0, 0);
    for _ in 0..1500 {
        let (seed, names) = &seeds[rng.below(seeds.len())];
        let text = mutate(&mut rng, seed);
        std::fs::write(&path, &text).expect("write the mutated file");
        let name = names[rng.below(names.len())];
        let screen = rng.one_in(2).then_some((800, 480));
        match no_panic("load_path", &text, || load_path(&path, name, screen)) {
            Ok(sc) => {
                assert!(!sc.steps.is_empty());
                for s in &sc.steps {
                    assert!(!s.label().is_empty());
                }
                let _ = no_panic("check_screen", &text, || sc.check_screen(640, 400));
                ok += 1;
            }
            Err(e) => {
                let shown = e.to_string();
                assert!(
                    shown.starts_with(&path.display().to_string()) && !e.message.is_empty(),
                    "an error that does not name the file: {shown}"
                );
                refused += 1;
            }
        }
    }
    eprintln!("{ok} loaded, {refused} refused");
    assert!(ok > 50 && refused > 500, "{ok} loaded, {refused} refused");
}
