//! Bad scenario files each give their precise error (file, scenario, step,
//! what is wrong; JSON syntax errors with line and column), names that try
//! to leave the scenarios directory are refused, and `POST /api/input`
//! bodies are checked the same way.

use std::path::Path;

mod common;

use common::TempDir;
use vncmon::scenario::{Library, LoadErrorKind, parse_input};

/// The scenarios library over a test directory.
fn lib(d: &TempDir) -> Library {
    Library::new(d.path())
}

fn one(steps: &str) -> String {
    format!("{{\"scenarios\": {{\"s\": [{steps}]}}}}")
}

const KNOWN: &str = "connect, disconnect, wait, click, click_position, move, mouse_down, \
mouse_up, drag, scroll, type, key, key_down, key_up, screenshot, wait_for_change, \
wait_until_still, expect";

#[test]
fn bad_files_give_precise_errors() {
    let d = TempDir::new("bad");
    d.write("garbage.png", b"not an image");
    let cases: Vec<(String, &str, String)> = vec![
        (
            "{\"scenarios\": {\"s\": [\n  {\"action\": \"wait\" \"seconds\": 1}\n]}}".into(),
            "s",
            "f.json: line 2 column 21: expected `,` or `}`".into(),
        ),
        ("{\"scenarios\": {".into(), "s", "f.json: line 1 column 15: EOF while parsing an object".into()),
        ("".into(), "s", "f.json: line 1 column 0: EOF while parsing a value".into()),
        ("[]".into(), "s", "f.json: the file must be a JSON object with \"scenarios\", not a list".into()),
        ("{\"connection\": {}}".into(), "s", "f.json: \"scenarios\" is missing".into()),
        ("{\"scenarios\": {}}".into(), "s", "f.json: \"scenarios\" is empty".into()),
        ("{\"scenarios\": []}".into(), "s", "f.json: \"scenarios\" must be an object mapping names to lists of steps, not a list".into()),
        ("{\"scenarios\": {\"s\": []}}".into(), "s", "f.json: scenario \"s\": the scenario has no steps".into()),
        ("{\"scenarios\": {\"s\": {}}}".into(), "s", "f.json: scenario \"s\": must be a list of steps, not an object".into()),
        ("{\"scenario\": {\"s\": []}}".into(), "s", "f.json: unknown top-level key \"scenario\" (known: connection, scenarios, description)".into()),
        (
            "{\"connection\": {\"port\": 70000}, \"scenarios\": {\"s\": [{\"action\": \"connect\"}]}}".into(),
            "s",
            "f.json: connection: \"port\" must be 1-65535, got 70000".into(),
        ),
        (
            "{\"connection\": {\"protocol\": \"rdp\"}, \"scenarios\": {\"s\": [{\"action\": \"connect\"}]}}".into(),
            "s",
            "f.json: connection: \"protocol\" must be \"vnc\", got \"rdp\"".into(),
        ),
        (one("\"wait\""), "s", "f.json: scenario \"s\": step 1: a step must be an object with an \"action\", not a string".into()),
        (one("{\"seconds\": 1}"), "s", "f.json: scenario \"s\": step 1: missing \"action\"".into()),
        (one("{\"action\": 3}"), "s", "f.json: scenario \"s\": step 1: \"action\" must be a string, got 3".into()),
        (
            one("{\"action\": \"connect\"}, {\"action\": \"clik\", \"x\": 1, \"y\": 1}"),
            "s",
            format!("f.json: scenario \"s\": step 2: unknown action \"clik\"; known actions: {KNOWN}"),
        ),
        (
            one("{\"action\": \"pointer\", \"x\": 1, \"y\": 1, \"buttons\": 0}"),
            "s",
            format!("f.json: scenario \"s\": step 1: unknown action \"pointer\"; known actions: {KNOWN}"),
        ),
        (one("{\"action\": \"wait\"}"), "s", "f.json: scenario \"s\": step 1: wait: missing \"seconds\" (a number of seconds)".into()),
        (one("{\"action\": \"wait\", \"seconds\": \"2\"}"), "s", "f.json: scenario \"s\": step 1: wait: \"seconds\" must be a number of seconds, got \"2\"".into()),
        (one("{\"action\": \"wait\", \"seconds\": -1}"), "s", "f.json: scenario \"s\": step 1: wait: \"seconds\" must be 0 or more seconds, got -1".into()),
        (
            one("{\"action\": \"wait\", \"seconds\": 2, \"sceonds\": 2}"),
            "s",
            "f.json: scenario \"s\": step 1: wait: unknown parameter \"sceonds\" (wait takes seconds)".into(),
        ),
        (
            one("{\"action\": \"disconnect\", \"now\": true}"),
            "s",
            "f.json: scenario \"s\": step 1: disconnect: unknown parameter \"now\" (disconnect takes no parameters)".into(),
        ),
        (
            one("{\"action\": \"click\", \"x\": 10, \"y\": 10, \"buton\": \"left\"}"),
            "s",
            "f.json: scenario \"s\": step 1: click: unknown parameter \"buton\" (click takes x, y, button, double)".into(),
        ),
        (one("{\"action\": \"click\", \"x\": 10}"), "s", "f.json: scenario \"s\": step 1: click: missing \"y\" (a pixel coordinate, an integer 0-8191)".into()),
        (one("{\"action\": \"click\", \"x\": -5, \"y\": 1}"), "s", "f.json: scenario \"s\": step 1: click: \"x\" must not be negative, got -5".into()),
        (one("{\"action\": \"click\", \"x\": 9000, \"y\": 1}"), "s", "f.json: scenario \"s\": step 1: click: \"x\" is 9000, beyond the largest allowed, 8191".into()),
        (
            one("{\"action\": \"click\", \"x\": 1.5, \"y\": 1}"),
            "s",
            "f.json: scenario \"s\": step 1: click: \"x\" must be a pixel coordinate, an integer 0-8191, got 1.5".into(),
        ),
        (
            one("{\"action\": \"click\", \"x\": 1, \"y\": 1, \"button\": \"up\"}"),
            "s",
            "f.json: scenario \"s\": step 1: click: \"button\" must be \"left\", \"middle\" or \"right\", got \"up\"".into(),
        ),
        (
            one("{\"action\": \"click\", \"x\": 1, \"y\": 1, \"double\": \"yes\"}"),
            "s",
            "f.json: scenario \"s\": step 1: click: \"double\" must be true or false, got \"yes\"".into(),
        ),
        (
            one("{\"action\": \"click_position\", \"position\": \"middle-ish\"}"),
            "s",
            "f.json: scenario \"s\": step 1: click_position: unknown position \"middle-ish\"; use one of top_left, top, top_right, left, center, right, bottom_left, bottom, bottom_right".into(),
        ),
        (one("{\"action\": \"mouse_down\", \"x\": 5}"), "s", "f.json: scenario \"s\": step 1: mouse_down: give both \"x\" and \"y\", or neither".into()),
        (one("{\"action\": \"drag\", \"from\": [1, 2, 3], \"to\": [4, 5]}"), "s", "f.json: scenario \"s\": step 1: drag: \"from\" must be a point [x, y], got [1,2,3]".into()),
        (one("{\"action\": \"scroll\", \"x\": 1, \"y\": 1, \"amount\": 0}"), "s", "f.json: scenario \"s\": step 1: scroll: \"amount\" must not be 0".into()),
        (one("{\"action\": \"type\", \"text\": 5}"), "s", "f.json: scenario \"s\": step 1: type: \"text\" must be a string, got 5".into()),
        (
            one("{\"action\": \"type\", \"text\": \"a\\u0007\"}"),
            "s",
            "f.json: scenario \"s\": step 1: type: character 2 ('\\u{7}', U+0007) cannot be typed; use \\n, \\t or printable text".into(),
        ),
        (
            one("{\"action\": \"key\", \"key\": \"ctrl+foo\"}"),
            "s",
            format!(
                "f.json: scenario \"s\": step 1: key: unknown key \"foo\" in \"ctrl+foo\"; use a single character or one of: {}, f1..f35",
                vncmon::scenario::keys::known_names()
            ),
        ),
        (one("{\"action\": \"key\", \"key\": \"ctrl+\"}"), "s", "f.json: scenario \"s\": step 1: key: \"ctrl+\" ends with a separator; name the last key".into()),
        (
            one("{\"action\": \"screenshot\", \"name\": \"../x\"}"),
            "s",
            "f.json: scenario \"s\": step 1: screenshot: \"name\" \"../x\" must be 1-64 letters, digits, '_', '-' or '.', not starting with '.'".into(),
        ),
        (
            one("{\"action\": \"wait_for_change\", \"timeout\": 0}"),
            "s",
            "f.json: scenario \"s\": step 1: wait_for_change: \"timeout\" must be more than 0 seconds, got 0".into(),
        ),
        (
            one("{\"action\": \"connect\", \"timeout\": 5000}"),
            "s",
            "f.json: scenario \"s\": step 1: connect: \"timeout\" is 5000, beyond the longest allowed, 3600 seconds".into(),
        ),
        (
            one("{\"action\": \"wait_for_change\", \"region\": [0, 0, 0, 10]}"),
            "s",
            "f.json: scenario \"s\": step 1: wait_for_change: \"region\" [0, 0, 0x10] is empty".into(),
        ),
        (
            one("{\"action\": \"wait_until_still\", \"ms\": 5000, \"timeout\": 2}"),
            "s",
            "f.json: scenario \"s\": step 1: wait_until_still: \"ms\" (5000) must be shorter than the timeout (2 s)".into(),
        ),
        (one("{\"action\": \"wait_until_still\"}"), "s", "f.json: scenario \"s\": step 1: wait_until_still: missing \"ms\" (milliseconds without change, an integer)".into()),
        (
            one("{\"action\": \"expect\", \"image\": \"missing.png\"}"),
            "s",
            "f.json: scenario \"s\": step 1: expect: cannot open \"missing.png\": No such file or directory (os error 2)".into(),
        ),
        (
            one("{\"action\": \"expect\", \"image\": \"garbage.png\"}"),
            "s",
            "f.json: scenario \"s\": step 1: expect: \"garbage.png\": not a PNG or JPEG image".into(),
        ),
        (
            one("{\"action\": \"expect\", \"image\": \"../x.png\"}"),
            "s",
            "f.json: scenario \"s\": step 1: expect: \"image\" \"../x.png\" must be a path inside the scenario file's directory".into(),
        ),
        (
            one("{\"action\": \"expect\", \"image\": \"/etc/passwd\"}"),
            "s",
            "f.json: scenario \"s\": step 1: expect: \"image\" \"/etc/passwd\" must be a path inside the scenario file's directory".into(),
        ),
        (
            one("{\"action\": \"expect\", \"image\": \"garbage.png\", \"tolerance\": 300}"),
            "s",
            "f.json: scenario \"s\": step 1: expect: \"tolerance\" must be a colour difference 0-255 (of 4x4 block means), got 300".into(),
        ),
        (one("{\"action\": \"connect\"}"), "t", "f.json: no scenario \"t\" (the file has: s)".into()),
    ];
    for (text, name, want) in &cases {
        d.write("f.json", text.as_bytes());
        let got = lib(&d).load("f.json", name, None).map(|s| s.steps.len());
        match got {
            Err(e) => {
                assert_eq!(&e.to_string(), want, "for {text}");
                let kind = if want.contains("no scenario") {
                    LoadErrorKind::NotFound
                } else {
                    LoadErrorKind::Invalid
                };
                assert_eq!(e.kind, kind, "{want}");
            }
            Ok(n) => panic!("{text} loaded ({n} steps), wanted {want}"),
        }
        // The listing shows the same error, once for the whole file.
        if !want.contains("no scenario") {
            let list = lib(&d).list();
            assert_eq!(list.len(), 1, "{list:?}");
            assert_eq!(list[0].error.as_deref(), Some(want.as_str()));
            assert_eq!((list[0].name.as_deref(), list[0].steps), (None, 0));
        }
    }
}

#[test]
fn coordinates_are_checked_against_the_screen() {
    let d = TempDir::new("screen");
    d.write(
        "f.json",
        one("{\"action\": \"click\", \"x\": 10, \"y\": 10}, \
             {\"action\": \"drag\", \"from\": [0, 0], \"to\": [799, 480]}, \
             {\"action\": \"wait_for_change\", \"region\": [700, 0, 101, 10]}")
        .as_bytes(),
    );
    let e = lib(&d).load("f.json", "s", Some((800, 480))).unwrap_err();
    assert_eq!(
        e.to_string(),
        "f.json: scenario \"s\": step 2: (799, 480) is off the 800x480 screen"
    );
    let s = lib(&d)
        .load("f.json", "s", None)
        .expect("loads without a screen");
    assert_eq!(
        s.check_screen(800, 481).unwrap_err().to_string(),
        "f.json: scenario \"s\": step 3: region [700, 0, 101x10] is off the 800x481 screen"
    );
    assert!(s.check_screen(801, 481).is_ok());
}

#[test]
fn good_file_loads_with_labels() {
    let d = TempDir::new("good");
    let text = r#"{
      "description": "every action",
      "connection": {"protocol": "vnc", "host": "example", "port": 5901, "password": "pw"},
      "scenarios": {
        "all": [
          {"action": "connect"},
          {"action": "wait", "seconds": 2},
          {"action": "wait", "seconds": 0.5},
          {"action": "click", "x": 640, "y": 400},
          {"action": "click", "x": 1, "y": 2, "button": "Right", "double": true},
          {"action": "click_position", "position": "Top-Left"},
          {"action": "move", "x": 3, "y": 4},
          {"action": "mouse_down"},
          {"action": "mouse_up", "x": 5, "y": 6, "button": "middle"},
          {"action": "drag", "from": [1, 2], "to": [3, 4]},
          {"action": "scroll", "x": 7, "y": 8, "amount": -3},
          {"action": "type", "text": "hello"},
          {"action": "key", "key": "ctrl+l"},
          {"action": "key_down", "key": "shift"},
          {"action": "key_up", "key": "shift"},
          {"action": "screenshot", "name": "after_login"},
          {"action": "wait_for_change", "region": [1, 2, 3, 4]},
          {"action": "wait_until_still", "ms": 500, "timeout": 5},
          {"action": "disconnect", "comment": "the end"}
        ]
      }
    }"#;
    d.write("f.json", text.as_bytes());
    let s = lib(&d)
        .load("f.json", "all", Some((800, 480)))
        .expect("loads");
    let c = s.connection.clone().expect("connection");
    assert_eq!(
        (c.host.as_deref(), c.port, c.password.as_deref()),
        (Some("example"), Some(5901), Some("pw"))
    );
    let labels: Vec<String> = s.steps.iter().map(|st| st.label()).collect();
    assert_eq!(
        labels,
        [
            "connect",
            "wait 2 s",
            "wait 0.5 s",
            "click (640, 400)",
            "double right click (1, 2)",
            "click top_left",
            "move (3, 4)",
            "mouse_down left",
            "mouse_up middle (5, 6)",
            "drag (1, 2) to (3, 4)",
            "scroll -3 at (7, 8)",
            "type \"hello\"",
            "key ctrl+l",
            "key_down shift",
            "key_up shift",
            "screenshot after_login",
            "wait_for_change in [1, 2, 3x4]",
            "wait_until_still 500 ms",
            "disconnect",
        ]
    );
    assert_eq!(s.steps[3].json["x"], 640);
    let list = lib(&d).list();
    assert_eq!(list.len(), 1);
    assert_eq!(
        (
            list[0].file.as_str(),
            list[0].name.as_deref(),
            list[0].steps,
            &list[0].error
        ),
        ("f.json", Some("all"), 19, &None)
    );
    assert!(list[0].path.ends_with("f.json"));
}

#[test]
fn names_leaving_the_directory_are_refused() {
    let outer = TempDir::new("outer");
    let d = TempDir::new("lib");
    let good = one("{\"action\": \"connect\"}");
    outer.write("secret.json", good.as_bytes());
    d.write("ok.json", good.as_bytes());
    std::os::unix::fs::symlink(outer.path.join("secret.json"), d.path.join("out.json"))
        .expect("symlink");
    std::os::unix::fs::symlink(d.path.join("ok.json"), d.path.join("in.json")).expect("symlink");
    let secret = outer.path.join("secret.json").display().to_string();
    let up = format!(
        "../{}/secret.json",
        outer.path.file_name().unwrap().to_string_lossy()
    );
    for name in [
        "..",
        ".",
        up.as_str(),
        secret.as_str(),
        "sub/ok.json",
        "sub\\ok.json",
        "out.json",
        "",
    ] {
        let e = lib(&d).load(name, "s", None).unwrap_err();
        assert_eq!(e.kind, LoadErrorKind::Refused, "{name}: {e}");
        assert_eq!(
            e.to_string(),
            format!("{name}: refused: the name is outside the scenarios directory")
        );
    }
    assert_eq!(
        lib(&d)
            .load("in.json", "s", None)
            .expect("link inside")
            .steps
            .len(),
        1
    );
    let e = lib(&d).load("nope.json", "s", None).unwrap_err();
    assert_eq!(e.kind, LoadErrorKind::NotFound);
    assert_eq!(
        e.to_string(),
        format!("nope.json: no such file in {}", d.path.display())
    );
    // The listing names the link that leaves, with its error.
    let list = lib(&d).list();
    let files: Vec<(&str, Option<&str>)> = list
        .iter()
        .map(|l| (l.file.as_str(), l.error.as_deref()))
        .collect();
    assert_eq!(
        files,
        [
            ("in.json", None),
            ("ok.json", None),
            (
                "out.json",
                Some("out.json: refused: the name is outside the scenarios directory")
            ),
        ]
    );
}

#[test]
fn expect_images_stay_in_the_file_directory() {
    let outer = TempDir::new("img-outer");
    let d = TempDir::new("img");
    let png = vncmon::scenario::Picture {
        width: 2,
        height: 2,
        rgb: vec![9; 12],
    }
    .to_png()
    .expect("png");
    outer.write("x.png", &png);
    d.write("in.png", &png);
    std::os::unix::fs::symlink(outer.path.join("x.png"), d.path.join("out.png")).expect("symlink");
    let step = |img: &str| {
        one(&format!(
            "{{\"action\": \"expect\", \"image\": \"{img}\", \"region\": [0, 0, 2, 2]}}"
        ))
    };
    d.write("f.json", step("in.png").as_bytes());
    assert!(lib(&d).load("f.json", "s", None).is_ok());
    d.write("f.json", step("out.png").as_bytes());
    assert_eq!(
        lib(&d).load("f.json", "s", None).unwrap_err().to_string(),
        "f.json: scenario \"s\": step 1: expect: \"image\" \"out.png\" leads outside the scenario file's directory"
    );
    // A reference that does not fit its region.
    d.write(
        "f.json",
        one("{\"action\": \"expect\", \"image\": \"in.png\", \"region\": [0, 0, 3, 2]}").as_bytes(),
    );
    assert_eq!(
        lib(&d).load("f.json", "s", None).unwrap_err().to_string(),
        "f.json: scenario \"s\": step 1: expect: \"in.png\" is 2x2 but the region [0, 0, 3x2] is 3x2"
    );
    // Without a region, the reference must be as big as the screen.
    d.write(
        "f.json",
        one("{\"action\": \"expect\", \"image\": \"in.png\"}").as_bytes(),
    );
    let s = lib(&d).load("f.json", "s", None).expect("loads");
    assert_eq!(
        s.check_screen(800, 480).unwrap_err().to_string(),
        "f.json: scenario \"s\": step 1: in.png is 2x2 but the screen is 800x480; give a \"region\" or a full-screen image"
    );
    assert!(s.check_screen(2, 2).is_ok());
    // load_path: images relative to the file, wherever it is.
    let s =
        vncmon::scenario::load_path(&d.path.join("f.json"), "s", Some((2, 2))).expect("load_path");
    assert_eq!(s.file, d.path.join("f.json").display().to_string());
    let missing =
        vncmon::scenario::load_path(Path::new("/nonexistent/f.json"), "s", None).unwrap_err();
    assert_eq!(missing.kind, LoadErrorKind::NotFound);
}

#[test]
fn input_bodies_are_checked() {
    let ok = parse_input(br#"[{"action":"click","x":1,"y":2},{"action":"keysym","keysym":65293,"down":true},{"action":"pointer","x":3,"y":4,"buttons":9}]"#)
        .expect("valid");
    let labels: Vec<String> = ok.iter().map(|s| s.label()).collect();
    assert_eq!(
        labels,
        [
            "click (1, 2)",
            "keysym 0xff0d down",
            "pointer (3, 4) buttons 9"
        ]
    );
    assert_eq!(
        parse_input(br#"{"action":"type","text":"x"}"#)
            .expect("one")
            .len(),
        1
    );
    let cases: [(&[u8], &str); 7] = [
        (b"[]", "the list of input actions is empty"),
        (
            b"5",
            "the body must be an input action object or a list of them, not a number",
        ),
        (b"{", "line 1 column 1: EOF while parsing an object"),
        (
            br#"[{"action":"move","x":1,"y":1},{"action":"move","x":1}]"#,
            "action 2: move: missing \"y\" (a pixel coordinate, an integer 0-8191)",
        ),
        (
            br#"{"action":"wait","seconds":1}"#,
            "unknown action \"wait\"; known actions: click, move, mouse_down, mouse_up, drag, scroll, type, key, key_down, key_up, pointer, keysym",
        ),
        (
            br#"{"action":"keysym","keysym":65293}"#,
            "keysym: missing \"down\" (true or false)",
        ),
        (
            br#"{"action":"pointer","x":1,"y":1,"buttons":256}"#,
            "pointer: \"buttons\" is 256, beyond the largest allowed, 255",
        ),
    ];
    for (body, want) in cases {
        assert_eq!(
            parse_input(body).unwrap_err(),
            want,
            "{}",
            String::from_utf8_lossy(body)
        );
    }
}
