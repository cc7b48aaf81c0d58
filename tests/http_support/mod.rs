//! Test helpers for tests/http.rs: an in-process server on 127.0.0.1:0 and a
//! raw-socket HTTP client with timeouts, so a failing test never hangs.

#![allow(dead_code)]

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use vncmon::app::App;
use vncmon::capture::Control;
use vncmon::config::Config;
use vncmon::http::{self, Handler, Limits};
use vncmon::hub::Hub;

/// How long a test waits for anything before failing.
pub const PATIENCE: Duration = Duration::from_secs(10);

pub const VNC_ADDR: &str = "vnc.test:5901";

pub fn test_limits() -> Limits {
    Limits {
        max_connections: 16,
        read_timeout: Duration::from_secs(5),
        write_timeout: Duration::from_secs(5),
        ..Limits::default()
    }
}

pub fn config() -> Config {
    Config {
        vnc: Some(VNC_ADDR.into()),
        password: None,
        listen: "127.0.0.1:0".into(),
        quality: 80,
        max_fps: 30,
        log_level: log::LevelFilter::Off,
        demo: false,
        encodings: Vec::new(),
        max_connections: 16,
        max_per_client: 16,
        scenarios: "scenarios".into(),
        output: "output".into(),
        view_only: false,
    }
}

pub struct TestServer {
    pub addr: SocketAddr,
    pub app: Arc<App>,
    pub stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl TestServer {
    pub fn start(limits: Limits) -> TestServer {
        let app =
            Arc::new(App::new(Arc::new(Hub::new()), Control::new(), Arc::new(config())).unwrap());
        let handler: Arc<dyn Handler> = app.clone();
        Self::start_with(limits, app, handler)
    }

    /// A server whose requests go to `handler`; `app` is only kept for its hub.
    pub fn start_with(limits: Limits, app: Arc<App>, handler: Arc<dyn Handler>) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let thread = thread::spawn(move || http::serve_with(listener, limits, handler, s));
        TestServer {
            addr,
            app,
            stop,
            thread: Some(thread),
        }
    }

    pub fn hub(&self) -> &Arc<Hub> {
        &self.app.hub
    }

    pub fn client(&self) -> Client {
        Client::connect(self.addr)
    }

    /// Sets `stop` and waits (boundedly) for `serve` to return. Returns whether it did.
    pub fn shutdown(&mut self) -> bool {
        self.stop.store(true, Ordering::Release);
        self.app.hub.close();
        let Some(t) = self.thread.take() else {
            return true;
        };
        wait_until("serve to return", || t.is_finished());
        t.join().is_ok()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        self.app.hub.close();
    }
}

/// Polls `cond` until it holds; panics after `PATIENCE`.
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let end = Instant::now() + PATIENCE;
    while !cond() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(10));
    }
}

/// A `width`×`height` JPEG of a gradient shifted by `seed`.
pub fn jpeg(width: u16, height: u16, seed: u8) -> Vec<u8> {
    let mut rgb = Vec::with_capacity(width as usize * height as usize * 3);
    for y in 0..height {
        for x in 0..width {
            rgb.extend_from_slice(&[
                (x as u8).wrapping_add(seed),
                (y as u8).wrapping_mul(2),
                seed,
            ]);
        }
    }
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, 80)
        .encode(&rgb, width, height, jpeg_encoder::ColorType::Rgb)
        .unwrap();
    out
}

/// Decodes a JPEG and returns its size.
pub fn decode(jpeg: &[u8]) -> (u16, u16) {
    let mut d = zune_jpeg::JpegDecoder::new(zune_jpeg::zune_core::bytestream::ZCursor::new(jpeg));
    let pixels = d.decode().expect("a decodable JPEG");
    let info = d.info().unwrap();
    assert_eq!(pixels.len(), info.width as usize * info.height as usize * 3);
    (info.width, info.height)
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub head: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        assert_eq!(
            self.header("content-type"),
            Some("application/json"),
            "{}",
            self.head
        );
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

/// A raw HTTP client over one connection, with its own read buffer.
pub struct Client {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect_timeout(&addr, PATIENCE).unwrap();
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        stream.set_write_timeout(Some(PATIENCE)).unwrap();
        Client {
            stream,
            buf: Vec::new(),
        }
    }

    pub fn send(&mut self, raw: &[u8]) {
        self.stream.write_all(raw).unwrap();
    }

    /// Sends `METHOD target` with a Host header and optional extra header lines.
    pub fn request(&mut self, method: &str, target: &str, extra: &str) {
        let raw = format!("{method} {target} HTTP/1.1\r\nHost: test\r\n{extra}\r\n");
        self.send(raw.as_bytes());
    }

    /// Reads one more chunk into the buffer; false at EOF or on a reset.
    fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 16 * 1024];
        match self.stream.read(&mut chunk) {
            Ok(0) => false,
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
            Err(e) if e.kind() == ErrorKind::ConnectionReset => false,
            Err(e) => panic!("read failed (a timeout means the server went quiet): {e}"),
        }
    }

    /// Exactly `n` bytes.
    pub fn read_exact(&mut self, n: usize) -> Vec<u8> {
        while self.buf.len() < n {
            assert!(
                self.fill(),
                "connection closed after {} of {n} bytes",
                self.buf.len()
            );
        }
        self.buf.drain(..n).collect()
    }

    /// Bytes up to and including `delim`.
    pub fn read_until(&mut self, delim: &[u8]) -> Vec<u8> {
        loop {
            if let Some(i) = self.buf.windows(delim.len()).position(|w| w == delim) {
                return self.buf.drain(..i + delim.len()).collect();
            }
            assert!(self.fill(), "connection closed before {delim:?}");
            assert!(self.buf.len() < 1 << 20, "no {delim:?} in a megabyte");
        }
    }

    /// A response head: status and headers.
    pub fn read_head(&mut self) -> Resp {
        let head = String::from_utf8(self.read_until(b"\r\n\r\n")).unwrap();
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap();
        assert!(status_line.starts_with("HTTP/1.1 "), "{status_line}");
        let status = status_line[9..12].parse().unwrap();
        let headers = lines
            .filter(|l| !l.is_empty())
            .map(|l| {
                let (n, v) = l.split_once(':').unwrap();
                (n.trim().to_string(), v.trim().to_string())
            })
            .collect();
        Resp {
            status,
            head,
            headers,
            body: Vec::new(),
        }
    }

    /// A whole response with a Content-Length body (`head_only` for HEAD).
    pub fn read_response_to(&mut self, head_only: bool) -> Resp {
        let mut r = self.read_head();
        let len: usize = r
            .header("content-length")
            .expect("a Content-Length")
            .parse()
            .unwrap();
        if !head_only {
            r.body = self.read_exact(len);
        }
        r
    }

    pub fn read_response(&mut self) -> Resp {
        self.read_response_to(false)
    }

    /// Whether the server closed the connection (EOF or reset), reading and
    /// dropping anything before it. Panics if the client's timeout passes first.
    pub fn closed_by_server(&mut self) -> bool {
        self.buf.clear();
        while self.fill() {
            self.buf.clear();
        }
        true
    }

    /// Whether at least `n` bytes can be read right now without waiting.
    pub fn available_now(&mut self, n: usize) -> bool {
        self.stream.set_nonblocking(true).unwrap();
        let mut chunk = [0u8; 4096];
        while self.buf.len() < n {
            match self.stream.read(&mut chunk) {
                Ok(0) => break,
                Ok(k) => self.buf.extend_from_slice(&chunk[..k]),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        self.stream.set_nonblocking(false).unwrap();
        self.buf.len() >= n
    }
}

/// One request on a fresh connection; the whole response.
pub fn get(addr: SocketAddr, method: &str, target: &str) -> Resp {
    let mut c = Client::connect(addr);
    c.request(method, target, "Connection: close\r\n");
    c.read_response_to(method == "HEAD")
}
