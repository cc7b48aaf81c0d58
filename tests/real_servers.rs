//! Acceptance tests against real VNC servers: Xtigervnc, and Xvfb + x11vnc.
//! Each starts its own server on a free display and port, draws known
//! content, runs the vncmon binary and compares what /video_feed and
//! /snapshot.jpg serve with the server's own screen (an xwd capture).

mod common;

use std::time::Duration;

use common::{Auth, Kind, MjpegStream, Rect, Rgb, RgbImage, Server, Vncmon, psnr, wait_for};
use serde_json::Value;

/// Served frames must be this close to the X server's screen. Default
/// quality 80 JPEGs of the test scenes measure about 35 dB.
const MIN_PSNR: f64 = 30.0;
const FRAME_TIMEOUT: Duration = Duration::from_secs(20);
const W: usize = 330;
const H: usize = 250;

/// Why `got` does not show `want` (outside `zones`), if it does not.
fn compare(got: &RgbImage, want: &RgbImage, zones: &[Rect]) -> Result<(), String> {
    if (got.width, got.height) != (want.width, want.height) {
        return Err(format!("frame is {got:?}, the screen {want:?}"));
    }
    let p = psnr(got, want, zones)?;
    if p >= MIN_PSNR {
        Ok(())
    } else {
        Err(format!("PSNR {p:.1} dB < {MIN_PSNR} dB"))
    }
}

/// Reads the stream until a frame shows `want`.
fn stream_shows(
    stream: &mut MjpegStream,
    server: &Server,
    want: &RgbImage,
    vncmon: &Vncmon,
    what: &str,
) {
    let zones = server.cursor_zones();
    if let Err(e) = stream.image_where(FRAME_TIMEOUT, |img| compare(img, want, &zones)) {
        panic!(
            "{what}: /video_feed never showed the screen: {e}\n{}\n{}",
            vncmon.log_tail(),
            server.logs()
        );
    }
}

/// Runs vncmon on `server` asking for `encodings`, opens /video_feed and
/// waits until it shows `screen`.
fn watching(
    server: &Server,
    encodings: &str,
    screen: &RgbImage,
    what: &str,
) -> (Vncmon, MjpegStream) {
    let vncmon = Vncmon::watch(server, encodings);
    let mut stream = vncmon.stream();
    stream_shows(&mut stream, server, screen, &vncmon, what);
    (vncmon, stream)
}

/// Polls /snapshot.jpg until it shows `want`.
fn snapshot_shows(vncmon: &Vncmon, server: &Server, want: &RgbImage, what: &str) {
    let zones = server.cursor_zones();
    let mut last = String::new();
    let ok = wait_for(FRAME_TIMEOUT, || match vncmon.snapshot() {
        Ok(img) => match compare(&img, want, &zones) {
            Ok(()) => Some(()),
            Err(e) => {
                last = e;
                None
            }
        },
        Err(e) => {
            last = e;
            None
        }
    });
    assert!(
        ok.is_some(),
        "{what}: /snapshot.jpg never showed the screen: {last}\n{}",
        vncmon.log_tail()
    );
}

fn is_true(v: &Value) -> bool {
    *v == Value::Bool(true)
}

/// Every encoding vncmon asks for, alone, gives frames that match the
/// screen, and the stream follows a change.
fn each_encoding_matches_the_screen(kind: Kind) {
    let mut server = Server::start(kind, W, H, Auth::None);
    let mut screen = server.draw_scene(0);
    let encodings = [
        "raw",
        "zrle",
        "hextile",
        "tight",
        "tight,jpeg:9",
        "rre",
        "copyrect,raw",
    ];
    for (i, enc) in encodings.iter().enumerate() {
        let what = format!("{kind:?} with --encodings {enc}");
        let vncmon = Vncmon::watch(&server, enc);
        let mut stream = vncmon.stream();
        stream_shows(&mut stream, &server, &screen, &vncmon, &what);
        snapshot_shows(&vncmon, &server, &screen, &what);
        // Change the screen: move the picture for CopyRect, redraw otherwise.
        screen = if enc.starts_with("copyrect") {
            server.move_image(W / 3, H / 3)
        } else {
            server.draw_scene(i as u32 + 1)
        };
        stream_shows(
            &mut stream,
            &server,
            &screen,
            &vncmon,
            &format!("{what}, after a change"),
        );
        let status = vncmon.status();
        assert!(is_true(&status["connected"]), "{what}: {status}");
        assert_eq!(
            (status["width"].as_u64(), status["height"].as_u64()),
            (Some(W as u64), Some(H as u64)),
            "{what}: {status}"
        );
        assert!(
            status["frames_encoded"].as_u64() >= Some(2),
            "{what}: {status}"
        );
        // The server really used the encoding asked for. (x11vnc sends
        // CopyRect only for moves its window-manager heuristics detect,
        // and there is no window manager here.)
        let name = enc.split(',').next().unwrap_or(enc);
        let checkable = !(name == "copyrect" && matches!(kind, Kind::Xvfb));
        assert!(
            !checkable || status["rects"][name].as_u64() > Some(0),
            "{what}: no {name} rectangle received: {status}"
        );
    }
}

#[test]
fn xtigervnc_each_encoding_matches_the_screen() {
    each_encoding_matches_the_screen(Kind::Tiger);
}

#[test]
fn x11vnc_each_encoding_matches_the_screen() {
    each_encoding_matches_the_screen(Kind::Xvfb);
}

/// VNC authentication: the right password shows the screen, a wrong one
/// reports "authentication failed" in /api/status.
fn password_is_checked(kind: Kind) {
    let mut server = Server::start(kind, W, H, Auth::Password("pw-4711".into()));
    let screen = server.draw_scene(2);
    drop(watching(
        &server,
        "tight,zrle,raw",
        &screen,
        &format!("{kind:?} with a password"),
    ));

    let vnc = server.addr();
    let wrong = Vncmon::start(&["--vnc", &vnc], Some("not-it"));
    let status = wrong.wait_status(Duration::from_secs(20), "authentication failed", |s| {
        s["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("authentication failed"))
    });
    assert!(!is_true(&status["connected"]), "{status}");

    // With no password at all the error says one is needed, and does not panic.
    let none = Vncmon::start(&["--vnc", &vnc], None);
    let status = none.wait_status(Duration::from_secs(20), "an error", |s| {
        s["last_error"].as_str().is_some_and(|e| !e.is_empty())
    });
    assert!(!is_true(&status["connected"]), "{status}");
}

#[test]
fn xtigervnc_password_is_checked() {
    password_is_checked(Kind::Tiger);
}

#[test]
fn x11vnc_password_is_checked() {
    password_is_checked(Kind::Xvfb);
}

/// `xrandr -s` on Xtigervnc: the stream's JPEG size and the status follow.
#[test]
fn xtigervnc_resize_is_followed() {
    let mut server = Server::start(Kind::Tiger, 320, 240, Auth::None);
    server.pointer_to(160, 120);
    server.set_root(Rgb(20, 90, 160));
    let screen = server.settle();
    let vncmon = Vncmon::watch(&server, "tight,zrle,hextile,raw");
    let mut stream = vncmon.stream();
    stream_shows(&mut stream, &server, &screen, &vncmon, "before the resize");

    server.resize(640, 480);
    server.pointer_to(320, 240);
    let screen = server.draw_scene(1);
    stream_shows(&mut stream, &server, &screen, &vncmon, "after the resize");
    snapshot_shows(&vncmon, &server, &screen, "after the resize");
    let status = vncmon.wait_status(Duration::from_secs(10), "640x480", |s| {
        s["width"] == 640 && s["height"] == 480
    });
    assert!(is_true(&status["connected"]), "{status}");
}

/// With a stream client connected and nothing changing, nothing is encoded
/// (the stream may re-send the last frame, but `frames_encoded` stays flat).
fn static_screen_is_not_reencoded(kind: Kind) {
    let mut server = Server::start(kind, W, H, Auth::None);
    let screen = server.draw_scene(3);
    let (vncmon, mut stream) = watching(
        &server,
        "tight,zrle,hextile,raw",
        &screen,
        &format!("{kind:?} static"),
    );
    let encoded = |v: &Vncmon| v.status()["frames_encoded"].as_u64();
    // Settled: no new encode for a whole second.
    let mut last = encoded(&vncmon);
    let settled = wait_for(Duration::from_secs(20), || {
        std::thread::sleep(Duration::from_secs(1));
        let now = encoded(&vncmon);
        let same = now == last;
        last = now;
        same.then_some(now)
    });
    let before = settled.flatten().unwrap_or_else(|| {
        panic!(
            "frames_encoded never settled: {last:?}\n{}",
            vncmon.log_tail()
        )
    });
    assert!(before >= 1);
    // Keep reading the stream for three seconds: the client is live.
    let start = std::time::Instant::now();
    while start.elapsed() < Duration::from_secs(3) {
        let left = Duration::from_secs(3).saturating_sub(start.elapsed());
        if stream
            .next_jpeg(left.max(Duration::from_millis(100)))
            .is_err()
        {
            break;
        }
    }
    let after = encoded(&vncmon).unwrap_or(0);
    assert_eq!(after, before, "{kind:?}: a static screen was encoded again");
    let status = vncmon.status();
    assert!(status["clients"].as_u64() >= Some(1), "{status}");
}

#[test]
fn xtigervnc_static_screen_is_not_reencoded() {
    static_screen_is_not_reencoded(Kind::Tiger);
}

#[test]
fn x11vnc_static_screen_is_not_reencoded() {
    static_screen_is_not_reencoded(Kind::Xvfb);
}

/// The VNC server goes away and comes back on the same port: the status
/// says why it is disconnected, an open stream stays open, and after the
/// reconnect the same stream shows the new screen.
fn reconnects_after_the_server_returns(kind: Kind) {
    let mut server = Server::start(kind, W, H, Auth::None);
    let screen = server.draw_scene(0);
    let (vncmon, mut stream) = watching(
        &server,
        "zrle,raw",
        &screen,
        &format!("{kind:?} first session"),
    );

    server.stop_vnc();
    let status = vncmon.wait_status(Duration::from_secs(15), "disconnected with an error", |s| {
        s["connected"] == false && s["last_error"].as_str().is_some_and(|e| !e.is_empty())
    });
    assert!(is_true(&status["monitoring"]), "{status}");
    // The stream stays open while the server is away: it re-sends the last frame.
    if let Err(e) = stream.next_jpeg(Duration::from_secs(5)) {
        panic!(
            "the stream broke while the server was away: {e}\n{}",
            vncmon.log_tail()
        );
    }

    let screen = if kind == Kind::Xvfb {
        // x11vnc is down, the X display stays: change it meanwhile.
        let screen = server.draw_scene(1);
        server.restart_vnc();
        screen
    } else {
        // A new Xtigervnc on the same port starts with an empty display.
        server.restart_vnc();
        server.draw_scene(1)
    };
    vncmon.wait_connected();
    stream_shows(
        &mut stream,
        &server,
        &screen,
        &vncmon,
        &format!("{kind:?} after the reconnect"),
    );
}

#[test]
fn xtigervnc_reconnects_after_the_server_returns() {
    reconnects_after_the_server_returns(Kind::Tiger);
}

#[test]
fn x11vnc_reconnects_after_the_server_returns() {
    reconnects_after_the_server_returns(Kind::Xvfb);
}

/// POST /api/disconnect ends the session and keeps it down; POST
/// /api/connect brings it back and the stream follows the screen again.
fn api_disconnect_and_connect(kind: Kind) {
    let mut server = Server::start(kind, W, H, Auth::None);
    let screen = server.draw_scene(2);
    // The stream stays open through the disconnect.
    let (vncmon, _stream) = watching(
        &server,
        "hextile,raw",
        &screen,
        &format!("{kind:?} before disconnect"),
    );

    let r = common::post(&vncmon.addr, "/api/disconnect", "");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(is_true(&r.json()["success"]), "{}", r.text());
    vncmon.wait_status(
        Duration::from_secs(10),
        "disconnected, not monitoring",
        |s| s["connected"] == false && s["monitoring"] == false,
    );
    // It stays down: no reconnect behind the user's back.
    std::thread::sleep(Duration::from_secs(2));
    let status = vncmon.status();
    assert!(
        !is_true(&status["connected"]) && !is_true(&status["monitoring"]),
        "{status}"
    );

    let r = common::post(&vncmon.addr, "/api/connect", "");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(is_true(&r.json()["success"]), "{}", r.text());
    vncmon.wait_status(Duration::from_secs(20), "connected and monitoring", |s| {
        s["connected"] == true && s["monitoring"] == true
    });
    let screen = server.draw_scene(3);
    let mut stream = vncmon.stream();
    stream_shows(
        &mut stream,
        &server,
        &screen,
        &vncmon,
        &format!("{kind:?} after connect"),
    );
    snapshot_shows(
        &vncmon,
        &server,
        &screen,
        &format!("{kind:?} after connect"),
    );
}

#[test]
fn xtigervnc_api_disconnect_and_connect() {
    api_disconnect_and_connect(Kind::Tiger);
}

#[test]
fn x11vnc_api_disconnect_and_connect() {
    api_disconnect_and_connect(Kind::Xvfb);
}

/// Pixels within `r` of (x, y) that differ clearly from `bg`.
fn marked_pixels(img: &RgbImage, x: usize, y: usize, r: usize, bg: Rgb) -> usize {
    let mut n = 0;
    for yy in y.saturating_sub(r)..(y + r).min(img.height) {
        for xx in x.saturating_sub(r)..(x + r).min(img.width) {
            if img.pixel(xx, yy).distance(bg) > 60 {
                n += 1;
            }
        }
    }
    n
}

/// The cursor (sent apart from the screen by the Cursor pseudo-encoding) is
/// drawn into served frames where the pointer is: x11vnc reports the pointer
/// position (PointerPos), Xtigervnc does not, so there it stays where the X
/// server starts it, the middle of the screen.
fn cursor_is_drawn_where_the_pointer_is(kind: Kind) {
    let server = Server::start(kind, W, H, Auth::None);
    let bg = Rgb(0x30, 0x60, 0x90);
    server.set_root(bg);
    let mut cursor = server.x_command("xsetroot");
    cursor.args(["-cursor_name", "left_ptr"]);
    assert!(
        cursor.status().is_ok_and(|s| s.success()),
        "xsetroot -cursor_name"
    );
    let (x, y) = match kind {
        Kind::Xvfb => (60, 50),
        Kind::Tiger => (W / 2, H / 2),
    };
    server.pointer_to(x, y);
    let screen = server.settle();
    assert_eq!(
        marked_pixels(&screen, x, y, 12, bg),
        0,
        "the X server's own capture has no cursor"
    );

    let vncmon = Vncmon::watch(&server, "raw");
    let mut stream = vncmon.stream();
    let shown = stream.image_where(FRAME_TIMEOUT, |img| {
        let at_pointer = marked_pixels(img, x, y, 12, bg);
        let far = marked_pixels(img, W - 30, H - 30, 12, bg);
        if at_pointer >= 20 && far == 0 {
            Ok(())
        } else {
            Err(format!(
                "{at_pointer} cursor pixels at the pointer, {far} far from it"
            ))
        }
    });
    if let Err(e) = shown {
        panic!("{kind:?}: no cursor at {x},{y}: {e}\n{}", vncmon.log_tail());
    }
    let status = vncmon.status();
    assert!(status["rects"]["cursor"].as_u64() >= Some(1), "{status}");

    // Someone else moves the pointer: one cursor, at the new place only.
    let (nx, ny) = (W - 80, H - 60);
    server.pointer_to(nx, ny);
    let moved = stream.image_where(FRAME_TIMEOUT, |img| {
        let new = marked_pixels(img, nx, ny, 12, bg);
        let old = marked_pixels(img, x, y, 12, bg);
        if new >= 20 && old == 0 {
            Ok(())
        } else {
            Err(format!(
                "{new} cursor pixels at the new place, {old} at the old"
            ))
        }
    });
    if let Err(e) = moved {
        panic!(
            "{kind:?}: the cursor did not follow to {nx},{ny}: {e}\n{}\n{}",
            vncmon.status(),
            vncmon.log_tail()
        );
    }
}

#[test]
fn xtigervnc_cursor_is_drawn_where_the_pointer_is() {
    cursor_is_drawn_where_the_pointer_is(Kind::Tiger);
}

#[test]
fn x11vnc_cursor_is_drawn_where_the_pointer_is() {
    cursor_is_drawn_where_the_pointer_is(Kind::Xvfb);
}
