//! Shared harness for vncmon's integration tests (`mod common;` in a test
//! file): free ports and X displays, real VNC servers (Xtigervnc, Xvfb +
//! x11vnc) with known content, `xwd` captures, the `vncmon` binary, an HTTP
//! and MJPEG client, a WebDriver client for headless Chromium, JPEG decoding
//! and PSNR. Owns only the processes and temporary files it starts; every
//! process is stopped by PID when dropped.
#![allow(dead_code, unused_imports)]

pub mod alloc;
pub mod browser;
pub mod engine;
pub mod fake_rfb;
pub mod http;
pub mod image;
pub mod proc;
pub mod vncmon;
pub mod x;
pub mod xwd;

use std::time::{Duration, Instant};

pub use alloc::{TempDir, TempFile};
pub use http::{HttpResponse, MjpegStream, get, post};
pub use image::{Rect, Rgb, RgbImage, decode_jpeg, psnr};
pub use vncmon::Vncmon;
pub use x::{Auth, Kind, Server};

/// Polls `cond` until it holds or `timeout` passes; returns whether it held.
/// The poll interval starts at 20 ms and grows to 200 ms.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    wait_for(timeout, || cond().then_some(())).is_some()
}

/// Polls `f` until it returns `Some` or `timeout` passes.
pub fn wait_for<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(20);
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        let now = Instant::now();
        if now >= deadline {
            return None;
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(200));
    }
}
