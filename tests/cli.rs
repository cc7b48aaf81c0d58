//! The `vncmon` command as a user runs it: `--demo` serves a live, moving
//! picture with no VNC server around; `--help`, `--version` and bad
//! arguments answer as documented.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{Vncmon, get, psnr};
use serde_json::Value;

fn vncmon(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_vncmon"))
        .args(args)
        .env_remove("VNCMON_VNC")
        .env_remove("VNCMON_DEMO")
        .env_remove("VNC_PASSWORD")
        .output()
        .expect("run vncmon")
}

#[test]
fn demo_serves_a_live_moving_picture_and_the_page() {
    let v = Vncmon::start(&["--demo"], None);
    let status = v.wait_connected();
    assert_eq!(status["desktop_name"], "vncmon demo", "{status}");
    assert_eq!(
        (status["width"].as_u64(), status["height"].as_u64()),
        (Some(800), Some(480))
    );

    // The demo's ball and clock move: two frames from the stream differ.
    let mut stream = v.stream();
    let first = stream
        .next_image(Duration::from_secs(10))
        .expect("a first frame");
    assert_eq!((first.width, first.height), (800, 480));
    let moved = stream.image_where(Duration::from_secs(10), |img| {
        match psnr(img, &first, &[]) {
            Ok(p) if p < 60.0 => Ok(()),
            Ok(p) => Err(format!("frame still equals the first ({p:.1} dB)")),
            Err(e) => Err(e),
        }
    });
    assert!(
        moved.is_ok(),
        "the demo picture never moved: {moved:?}\n{}",
        v.log_tail()
    );

    let page = get(&v.addr, "/");
    assert_eq!(page.status, 200);
    assert!(
        page.header("content-type")
            .unwrap_or("")
            .starts_with("text/html")
    );
    assert!(
        page.text().contains("/video_feed"),
        "the page shows the stream"
    );
}

#[test]
fn demo_with_a_password_uses_vnc_authentication() {
    let v = Vncmon::start(&["--demo"], Some("demo-pw"));
    let status = v.wait_connected();
    assert_eq!(status["last_error"], Value::Null, "{status}");
    assert!(v.snapshot().is_ok());
}

#[test]
fn help_lists_flags_and_their_variables() {
    let out = vncmon(&["--help"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for word in [
        "--vnc",
        "VNCMON_VNC",
        "--password-file",
        "VNC_PASSWORD",
        "--listen",
        "--quality",
        "--max-fps",
        "--log-level",
        "RUST_LOG",
        "--demo",
    ] {
        assert!(text.contains(word), "--help lacks {word}:\n{text}");
    }
    let out = vncmon(&["--version"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("vncmon "));
}

#[test]
fn bad_arguments_fail_with_a_reason() {
    for (args, says) in [
        (&[][..], "--vnc"),
        (&["--vnc", "h", "--password", "x"][..], "--password-file"),
        (&["--demo", "--quality", "101"][..], "--quality"),
        (&["--vnc", "host:port"][..], "host:port"),
        (
            &["--demo", "--listen", "127.0.0.1:99999"][..],
            "cannot listen",
        ),
    ] {
        let out = vncmon(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(err.contains(says), "{args:?}: stderr lacks {says:?}: {err}");
    }
}

/// `--max-fps` bounds how often frames are encoded, even when the screen
/// changes all the time (the demo animates at about 25 updates a second).
#[test]
fn max_fps_bounds_the_encode_rate() {
    let v = Vncmon::start(&["--demo", "--max-fps", "4"], None);
    v.wait_connected();
    let count = |s: &Value| s["frames_encoded"].as_u64().unwrap_or(0);
    let before = count(&v.status());
    let started = std::time::Instant::now();
    std::thread::sleep(Duration::from_secs(2));
    let after = count(&v.status());
    let secs = started.elapsed().as_secs_f64();
    let most = (4.0 * secs).ceil() as u64 + 1;
    assert!(
        after > before,
        "the demo keeps changing: frames are encoded"
    );
    assert!(
        after - before <= most,
        "{} frames in {secs:.1} s at --max-fps 4",
        after - before
    );
}

/// `--quality` reaches the encoder: a lower quality gives smaller frames of
/// the same screen.
#[test]
fn quality_changes_the_jpeg() {
    let size = |q: &str| {
        let v = Vncmon::start(&["--demo", "--quality", q], None);
        v.wait_connected();
        let mut stream = v.stream();
        stream
            .next_jpeg(Duration::from_secs(10))
            .expect("a frame")
            .len()
    };
    let (low, high) = (size("20"), size("95"));
    assert!(
        low * 2 < high,
        "quality 20: {low} bytes, quality 95: {high} bytes"
    );
}
