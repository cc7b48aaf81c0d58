//! Fault tests of the real `vncmon` binary: a scripted fake RFB server on
//! 127.0.0.1 that dies mid-update, lies about sizes, goes silent or writes a
//! frame byte by byte; and a bounded load test against `vncmon --demo`
//! (several MJPEG viewers while snapshots, screenshots and status are polled
//! from several threads). vncmon must report what happened, keep serving
//! HTTP, reconnect with backoff and give its threads back.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::fake_rfb::{CURSOR, FakeRfb, RAW, TIGHT, ZRLE, rect_header, solid_update};
use common::http::request;
use common::{HttpResponse, Rgb, RgbImage, Vncmon, decode_jpeg, get, wait_until};
use serde_json::Value;

const W: u16 = 64;
const H: u16 = 48;
const RED: [u8; 3] = [220, 30, 30];
const GREEN: [u8; 3] = [30, 200, 60];
const BLUE: [u8; 3] = [30, 60, 220];
/// Long enough for anything vncmon does here; a failing test says what it waited for.
const WAIT: Duration = Duration::from_secs(10);

fn watch(fake: &FakeRfb) -> Vncmon {
    Vncmon::start(&["--vnc", &fake.addr, "--log-level", "debug"], None)
}

/// Whether (nearly) the whole picture is `c`.
fn all(c: [u8; 3]) -> impl FnMut(&RgbImage) -> Result<(), String> {
    move |img| {
        let f = img.fraction_near(Rgb(c[0], c[1], c[2]), 40, &[]);
        if f > 0.95 {
            Ok(())
        } else {
            Err(format!("only {:.0} % of {img:?} is {c:?}", f * 100.0))
        }
    }
}

fn is_disconnected_with(s: &Value, text: &str) -> bool {
    s["connected"] == Value::Bool(false)
        && s["last_error"].as_str().is_some_and(|e| e.contains(text))
}

#[test]
fn a_server_dying_mid_update_is_reported_then_reconnected() {
    let fake = FakeRfb::bind();
    let mut vm = watch(&fake);
    let mut first = fake.accept(WAIT).expect("vncmon connects");
    first.handshake(W, H).unwrap();
    first.send(&solid_update(W, H, RED)).unwrap();
    let mut stream = vm.stream();
    stream.image_where(WAIT, all(RED)).unwrap();

    // Half of a blue update, then the server is gone.
    let blue = solid_update(W, H, BLUE);
    first.send(&blue[..blue.len() / 2]).unwrap();
    first.close();
    vm.wait_status(WAIT, "the session's end", |s| {
        is_disconnected_with(s, "the server closed the connection")
    });
    assert!(vm.is_running(), "vncmon exited:\n{}", vm.log_tail());

    // HTTP keeps answering with the last whole picture, not the half update.
    all(RED)(&vm.snapshot().unwrap()).unwrap();
    // The open stream stays open and re-sends it.
    all(RED)(&stream.next_image(WAIT).unwrap()).unwrap();

    // The server is back: vncmon reconnects by itself and the stream follows.
    let mut second = fake.accept(WAIT).expect("vncmon reconnects");
    second.handshake(W, H).unwrap();
    second.send(&solid_update(W, H, GREEN)).unwrap();
    stream.image_where(WAIT, all(GREEN)).unwrap();
    let st = vm.wait_connected();
    assert_eq!(st["last_error"], Value::Null, "{st}");
}

#[test]
fn lies_in_updates_end_the_session_and_reconnects_back_off() {
    let mut lies: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "a rectangle past the framebuffer (and past u16)",
            rect_header(65535, 0, 65535, 1, RAW),
            "rectangle 65535x1 at 65535,0 lies outside the 64x48 framebuffer",
        ),
        (
            "a ZRLE length far larger than possible",
            rect_header(0, 0, W, H, ZRLE),
            "ZRLE: 2147483647 bytes of zlib data",
        ),
        (
            "a Tight length far larger than possible",
            rect_header(0, 0, W, H, TIGHT),
            "Tight: 4194303 bytes of zlib data",
        ),
        (
            "a cursor of absurd size",
            rect_header(0, 0, 60000, 60000, CURSOR),
            "a 60000x60000 cursor is larger than",
        ),
    ];
    lies[1].1.extend_from_slice(&0x7fff_ffffu32.to_be_bytes());
    lies[2].1.extend_from_slice(&[0x00, 0xff, 0xff, 0xff]); // basic, copy filter

    let fake = FakeRfb::bind();
    let mut vm = watch(&fake);
    // From seeing a failure in the status to the next connection.
    let mut gaps = Vec::new();
    let mut failed_at: Option<Instant> = None;
    for (what, bytes, error) in &lies {
        let mut conn = fake
            .accept(WAIT)
            .unwrap_or_else(|e| panic!("before {what}: {e}\n{}", vm.log_tail()));
        if let Some(t) = failed_at {
            gaps.push(t.elapsed());
        }
        conn.handshake(W, H).unwrap();
        conn.send(bytes).unwrap();
        vm.wait_status(WAIT, what, |s| is_disconnected_with(s, error));
        failed_at = Some(Instant::now());
        assert!(vm.is_running(), "vncmon exited after {what}");
        conn.close();
    }
    // Attempts go on after every lie...
    let last = fake.accept(WAIT).expect("vncmon keeps trying");
    gaps.extend(failed_at.map(|t| t.elapsed()));
    drop(last);
    // ...backing off (0.5, 1, 2, 4 s): a handshake alone does not reset it.
    assert!(
        gaps[3] >= Duration::from_millis(2400) && gaps[3] > gaps[1],
        "reconnects did not back off: {gaps:?}"
    );
    assert!(get(&vm.addr, "/api/status").status == 200);
}

#[test]
fn absurd_server_init_sizes_are_refused_and_retried() {
    let fake = FakeRfb::bind();
    let mut vm = watch(&fake);
    for (w, h) in [(0, 0), (65535, 65535)] {
        let mut conn = fake.accept(WAIT).expect("vncmon connects");
        conn.handshake_to_init(w, h).unwrap();
        vm.wait_status(WAIT, "the refused size", |s| {
            is_disconnected_with(s, &format!("server announced a {w}x{h} screen"))
        });
        assert!(vm.is_running(), "vncmon exited after a {w}x{h} ServerInit");
        conn.close();
    }
    let mut good = fake.accept(WAIT).expect("vncmon keeps trying");
    good.handshake(W, H).unwrap();
    good.send(&solid_update(W, H, GREEN)).unwrap();
    vm.stream().image_where(WAIT, all(GREEN)).unwrap();
}

#[test]
fn a_silent_server_stays_connected_and_serves_no_frame() {
    let fake = FakeRfb::bind();
    let vm = watch(&fake);
    let mut conn = fake.accept(WAIT).expect("vncmon connects");
    conn.handshake(W, H).unwrap();
    vm.wait_connected();

    // The screen never arrived: no black stand-in either.
    let r = get(&vm.addr, "/snapshot.jpg");
    assert_eq!(r.status, 503, "{}", r.text());
    assert_eq!(r.json()["success"], Value::Bool(false), "{}", r.text());
    assert_eq!(get(&vm.addr, "/api/screenshot").status, 404);
    let mut stream = vm.stream();
    let e = stream.next_jpeg(Duration::from_millis(2500)).unwrap_err();
    assert!(e.starts_with("timed out"), "{e}");
    drop(stream);

    let st = vm.wait_status(WAIT, "no viewers left", |s| s["clients"] == 0);
    assert_eq!(st["connected"], Value::Bool(true), "{st}");
    assert_eq!(st["frames_encoded"], 0, "{st}");
    assert_eq!(st["last_error"], Value::Null, "{st}");
    drop(conn);
}

#[test]
fn a_frame_written_byte_by_byte_still_arrives() {
    let (w, h) = (16, 16);
    let fake = FakeRfb::bind();
    let vm = watch(&fake);
    let mut conn = fake.accept(WAIT).expect("vncmon connects");
    conn.handshake(w, h).unwrap();
    let update = solid_update(w, h, BLUE);
    // Long pauses after the message type, inside a rectangle header and
    // inside the pixels; 1 ms between all other bytes.
    conn.send_slowly(
        &update,
        Duration::from_millis(1),
        &[1, 9, update.len() / 2],
        Duration::from_millis(800),
    )
    .unwrap();
    let img = vm.stream().image_where(WAIT, all(BLUE)).unwrap();
    assert_eq!((img.width, img.height), (16, 16));
    let st = vm.status();
    assert_eq!(st["connected"], Value::Bool(true), "{st}");
    assert_eq!(st["last_error"], Value::Null, "{st}");
}

// ---- load ----

/// The process's thread count from /proc.
fn threads(pid: u32) -> usize {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no Threads: line for {pid}"))
}

/// A valid answer: 200 with the right body, or 503 from the connection cap.
fn check(path: &str, r: &HttpResponse) -> Result<(), String> {
    let json = || serde_json::from_slice::<Value>(&r.body).map_err(|e| format!("{path}: {e}"));
    match (r.status, path) {
        (503, _) => {
            let v = json()?;
            let why = v["error"].as_str().unwrap_or("");
            if why.contains("too many connections") {
                Ok(())
            } else {
                Err(format!("{path}: 503 not from the cap: {v}"))
            }
        }
        (200, "/snapshot.jpg") => {
            if r.header("content-type") != Some("image/jpeg") {
                return Err(format!("{path}: {:?}", r.header("content-type")));
            }
            decode_jpeg(&r.body).map(drop)
        }
        (200, "/api/screenshot") => {
            let v = json()?;
            let url = v["image"].as_str().unwrap_or("");
            let b64 = url
                .strip_prefix("data:image/jpeg;base64,")
                .ok_or_else(|| format!("{path}: no data URL in {v}"))?;
            let jpeg = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|e| format!("{path}: {e}"))?;
            decode_jpeg(&jpeg).map(drop)
        }
        (200, _) => match json()?["connected"] {
            Value::Bool(true) => Ok(()),
            ref c => Err(format!("{path}: connected {c}")),
        },
        (s, _) => Err(format!("{path}: status {s}: {}", r.text())),
    }
}

#[test]
fn viewers_and_polling_under_load_leave_no_threads_behind() {
    const VIEWERS: usize = 4;
    const POLLERS: usize = 6;
    const REQUESTS: usize = 30;
    const PATHS: [&str; 3] = ["/snapshot.jpg", "/api/screenshot", "/api/status"];

    let mut vm = Vncmon::start(&["--demo"], None);
    vm.wait_connected();
    assert!(wait_until(WAIT, || get(&vm.addr, "/snapshot.jpg").status == 200));
    // Idle: the lowest count over a few samples (band encoders come and go).
    let idle = (0..10)
        .map(|_| {
            thread::sleep(Duration::from_millis(30));
            threads(vm.pid())
        })
        .min()
        .unwrap_or(0);

    let stop = Arc::new(AtomicBool::new(false));
    let viewers: Vec<_> = (0..VIEWERS)
        .map(|_| {
            let (addr, stop) = (vm.addr.clone(), stop.clone());
            thread::spawn(move || -> Result<u64, String> {
                let mut s = common::MjpegStream::open(&addr, "/video_feed")?;
                while !stop.load(Ordering::Acquire) {
                    s.next_jpeg(WAIT)?;
                }
                Ok(s.parts)
            })
        })
        .collect();
    vm.wait_status(WAIT, "every viewer counted", |s| s["clients"] == VIEWERS);

    let pollers: Vec<_> = (0..POLLERS)
        .map(|t| {
            let addr = vm.addr.clone();
            thread::spawn(move || -> Vec<String> {
                (0..REQUESTS)
                    .filter_map(|i| {
                        let path = PATHS[(t + i) % PATHS.len()];
                        let r = request(&addr, "GET", path, b"");
                        r.and_then(|r| check(path, &r)).err()
                    })
                    .collect()
            })
        })
        .collect();
    let failures: Vec<String> = pollers
        .into_iter()
        .flat_map(|p| p.join().unwrap_or_else(|_| vec!["poller panicked".into()]))
        .collect();
    assert!(
        failures.is_empty(),
        "{} bad answers: {failures:?}",
        failures.len()
    );

    stop.store(true, Ordering::Release);
    for v in viewers {
        let parts = v.join().expect("viewer thread").expect("viewer stream");
        assert!(parts >= 2, "a viewer got only {parts} frames");
    }
    assert!(vm.is_running(), "vncmon exited:\n{}", vm.log_tail());
    vm.wait_status(WAIT, "no viewers left", |s| s["clients"] == 0);
    let mut now = 0;
    assert!(
        wait_until(WAIT, || {
            now = threads(vm.pid());
            now <= idle + 2
        }),
        "{now} threads after the load, {idle} before"
    );
}
