//! `vncmon run FILE NAME` as a user runs it: against the demo desktop it
//! passes and prints each step; every documented exit code is produced by
//! the real situation it stands for (closed port, wrong password, bad file,
//! failing step, timed-out step, no server given).

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::alloc::free_port;
use common::proc::{Output, run};
use common::vncmon::VARS;
use common::{TempDir, Vncmon};

/// Runs `vncmon run ARGS` with `password` in VNC_PASSWORD; generous timeout.
fn vncmon_run(args: &[&str], password: Option<&str>) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vncmon"));
    for v in VARS {
        cmd.env_remove(v);
    }
    cmd.arg("run").args(args);
    if let Some(pw) = password {
        cmd.env("VNC_PASSWORD", pw);
    }
    let Output {
        status,
        stdout,
        stderr,
    } = run(&mut cmd, Duration::from_secs(90)).unwrap_or_else(|e| panic!("{e}"));
    let code = status.code().unwrap_or(-1);
    (code, String::from_utf8_lossy(&stdout).into_owned(), stderr)
}

fn expect_code(want: i32, got: &(i32, String, String)) {
    assert_eq!(
        got.0, want,
        "exit code {} (want {want})\nstdout:\n{}\nstderr:\n{}",
        got.0, got.1, got.2
    );
}

const FILE: &str = r#"{
  "scenarios": {
    "tour": [
      {"action": "connect"},
      {"action": "click", "x": 106, "y": 340},
      {"action": "type", "text": "Hi there!"},
      {"action": "key", "key": "enter"},
      {"action": "wait_for_change", "timeout": 5},
      {"action": "screenshot", "name": "after_tour"}
    ],
    "mismatch": [
      {"action": "connect"},
      {"action": "expect", "image": "red.jpg", "region": [16, 308, 180, 64], "timeout": 1}
    ],
    "static": [
      {"action": "connect"},
      {"action": "wait_for_change", "region": [16, 308, 180, 64], "timeout": 1}
    ],
    "off_screen": [
      {"action": "connect"},
      {"action": "click", "x": 900, "y": 10}
    ]
  }
}"#;

fn setup() -> TempDir {
    let dir = TempDir::new("run");
    dir.write("s.json", FILE);
    common::image::write_red_jpeg(&dir.path().join("red.jpg"));
    dir
}

#[test]
fn a_scenario_passes_against_the_demo_and_prints_each_step() {
    let dir = setup();
    let out = dir.join("out");
    let r = vncmon_run(
        &[&dir.join("s.json"), "tour", "--demo", "--output", &out],
        None,
    );
    expect_code(0, &r);
    let stdout = &r.1;
    for (n, label) in [
        (1, "connect"),
        (2, "click (106, 340)"),
        (3, "type \"Hi there!\""),
        (4, "key enter"),
        (5, "wait_for_change"),
        (6, "screenshot after_tour"),
    ] {
        let want = format!("[{n}/6] {label} ... ok (");
        assert!(stdout.contains(&want), "no {want:?} in:\n{stdout}");
    }
    assert!(stdout.contains(" ms)"), "{stdout}");
    let jpeg = std::fs::read(Path::new(&out).join("after_tour.jpg")).expect("the screenshot");
    assert_eq!(&jpeg[..2], &[0xff, 0xd8], "a JPEG");
}

#[test]
fn the_files_connection_block_gives_server_and_password() {
    let server = Vncmon::start(&["--demo"], Some("filepw"));
    server.wait_connected();
    let demo = server.demo_addr();
    let (host, port) = demo.rsplit_once(':').unwrap();
    let dir = TempDir::new("run");
    let file = format!(
        r#"{{"connection": {{"protocol": "vnc", "host": "{host}", "port": {port}, "password": "filepw"}},
            "scenarios": {{"one": [{{"action": "connect"}}, {{"action": "click_position", "position": "center"}}]}}}}"#
    );
    dir.write("c.json", &file);
    let r = vncmon_run(
        &[&dir.join("c.json"), "one", "--output", &dir.join("out")],
        None,
    );
    expect_code(0, &r);
    assert!(r.1.contains("[2/2] click center ... ok"), "{}", r.1);

    // The password from the environment wins over the file's: a wrong one is 4.
    let r = vncmon_run(&[&dir.join("c.json"), "one"], Some("wrongpw"));
    expect_code(4, &r);

    // Wrong password and no password against the demo: 4.
    let r = vncmon_run(&[&dir.join("c.json"), "one", "--vnc", &demo], Some("nope"));
    expect_code(4, &r);
    assert!(r.2.to_lowercase().contains("auth"), "{}", r.2);
    dir.write(
        "nopw.json",
        format!(r#"{{"connection": {{"host": "{host}", "port": {port}}}, "scenarios": {{"one": [{{"action": "connect"}}]}}}}"#),
    );
    let r = vncmon_run(&[&dir.join("nopw.json"), "one"], None);
    expect_code(4, &r);
    assert!(r.2.contains("password"), "{}", r.2);
}

#[test]
fn no_server_is_a_usage_error_and_a_closed_port_cannot_connect() {
    let dir = setup();
    let r = vncmon_run(&[&dir.join("s.json"), "tour"], None);
    expect_code(2, &r);
    assert!(r.2.contains("--vnc"), "{}", r.2);
    expect_code(2, &vncmon_run(&[&dir.join("s.json")], None));
    expect_code(
        2,
        &vncmon_run(&[&dir.join("s.json"), "tour", "--bogus"], None),
    );

    let port = free_port();
    let r = vncmon_run(
        &[
            &dir.join("s.json"),
            "tour",
            "--vnc",
            &format!("127.0.0.1:{port}"),
            "--connect-timeout",
            "2",
        ],
        None,
    );
    expect_code(3, &r);
    assert!(r.2.contains(&port.to_string()), "{}", r.2);
}

#[test]
fn bad_scenario_files_are_exit_5_with_the_precise_error() {
    let dir = setup();
    dir.write(
        "syntax.json",
        "{\"scenarios\": {\n  \"x\": [\n    {\"action\": \"wait\",, \"seconds\": 1}]}}\n",
    );
    dir.write(
        "unknown.json",
        r#"{"scenarios": {"x": [{"action": "connect"}, {"action": "teleport", "x": 1}]}}"#,
    );
    for (file, name, wants) in [
        ("syntax.json", "x", vec!["syntax.json", "line 3"]),
        (
            "unknown.json",
            "x",
            vec!["unknown.json", "step 2", "teleport"],
        ),
        ("s.json", "nope", vec!["s.json", "nope"]),
        ("missing.json", "x", vec!["missing.json"]),
    ] {
        let r = vncmon_run(&[&dir.join(file), name, "--demo"], None);
        expect_code(5, &r);
        for w in wants {
            assert!(r.2.contains(w), "{file} {name}: no {w:?} in {}", r.2);
        }
    }
    // Coordinates off the live screen are found once the size is known.
    let r = vncmon_run(&[&dir.join("s.json"), "off_screen", "--demo"], None);
    expect_code(5, &r);
    assert!(r.2.contains("step 2") && r.2.contains("800x480"), "{}", r.2);
}

#[test]
fn a_failing_step_is_6_and_a_timed_out_step_is_7() {
    let dir = setup();
    let out = dir.join("out");
    let r = vncmon_run(
        &[&dir.join("s.json"), "mismatch", "--demo", "--output", &out],
        None,
    );
    expect_code(6, &r);
    assert!(
        r.1.contains("[1/2] connect ... ok") && r.1.contains("[2/2] expect red.jpg"),
        "{}",
        r.1
    );
    assert!(r.1.contains("FAILED"), "{}", r.1);
    assert!(
        r.2.contains("step 2 (expect red.jpg") && r.2.contains("did not match"),
        "{}",
        r.2
    );

    let r = vncmon_run(&[&dir.join("s.json"), "static", "--demo"], None);
    expect_code(7, &r);
    assert!(r.2.contains("step 2 (wait_for_change"), "{}", r.2);
}

#[test]
fn run_help_documents_the_exit_codes() {
    let r = vncmon_run(&["--help"], None);
    expect_code(0, &r);
    for w in [
        "vncmon run FILE NAME",
        "--connect-timeout",
        "--output",
        "EXIT CODES",
        "7  a step timed out",
    ] {
        assert!(r.1.contains(w), "no {w:?} in:\n{}", r.1);
    }
}

#[test]
fn the_shipped_demo_scenarios_pass_through_vncmon_run() {
    let dir = TempDir::new("run");
    let out = dir.join("out");
    for name in ["tour", "buttons"] {
        let r = vncmon_run(
            &["scenarios/demo.json", name, "--demo", "--output", &out],
            None,
        );
        expect_code(0, &r);
        assert!(r.1.contains(&format!("passed: {name}")), "{}", r.1);
    }
    assert!(Path::new(&out).join("demo_tour.jpg").is_file());
    assert!(Path::new(&out).join("demo_buttons.jpg").is_file());
}
