//! The accept loop survives running out of file descriptors (EMFILE): it logs,
//! retries, and serves the waiting connection once descriptors are free again.
//! Its own test binary, because it lowers the process's open-file limit
//! (with util-linux `prlimit`, as the crate has no libc binding).

mod http_support;

use std::fs::File;
use std::process::Command;
use std::sync::Mutex;

use http_support::*;

/// Keeps every log line, to see the accept error reported.
struct Recorder(Mutex<Vec<String>>);

impl log::Log for Recorder {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }
    fn log(&self, r: &log::Record) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(r.args().to_string());
    }
    fn flush(&self) {}
}

static LOG: Recorder = Recorder(Mutex::new(Vec::new()));

fn logged(needle: &str) -> bool {
    LOG.0
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .any(|l| l.contains(needle))
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

fn set_soft_nofile(n: &str) {
    let pid = std::process::id().to_string();
    let ok = Command::new("prlimit")
        .args(["--pid", &pid, &format!("--nofile={n}:")])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "prlimit --nofile={n}: failed");
}

#[test]
fn accept_errors_are_retried_not_fatal() {
    assert!(
        Command::new("prlimit").arg("--version").output().is_ok(),
        "prlimit (Debian package util-linux) is needed for this test"
    );
    log::set_logger(&LOG).unwrap();
    log::set_max_level(log::LevelFilter::Warn);
    let s = TestServer::start(test_limits());
    assert_eq!(get(s.addr, "GET", "/api/status").status, 200);

    let original = std::fs::read_to_string("/proc/self/limits")
        .unwrap()
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3).map(str::to_string))
        .unwrap();
    set_soft_nofile(&(open_fds() + 16).to_string());
    // Use up every descriptor, then free exactly one for the client's socket.
    let mut fill = Vec::new();
    while let Ok(f) = File::open("/dev/null") {
        fill.push(f);
        assert!(fill.len() < 100, "the lowered limit did not take effect");
    }
    fill.pop();
    let mut c = s.client();
    c.request("GET", "/api/status", "Connection: close\r\n");
    // The server cannot accept it now: it must log and keep retrying.
    wait_until("the accept error in the log", || logged("accept failed"));
    drop(fill);
    let r = c.read_response();
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["server"], VNC_ADDR);

    set_soft_nofile(&original);
    for _ in 0..5 {
        assert_eq!(get(s.addr, "GET", "/api/status").status, 200);
    }
}
