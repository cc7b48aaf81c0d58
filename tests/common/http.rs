//! A small HTTP/1.1 client for tests (timeouts on every call, Content-Length,
//! chunked or read-to-close bodies) and an MJPEG reader that checks the
//! multipart framing of every part it returns.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use super::image::{RgbImage, decode_jpeg};

const TIMEOUT: Duration = Duration::from_secs(10);
const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 64 * 1024 * 1024;

/// A whole HTTP response.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first header called `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON; panics with the body when it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.text()))
    }
}

/// A connection with its unread bytes.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    fn open(addr: &str, method: &str, path: &str, body: &[u8]) -> Result<Conn, String> {
        let sock = addr
            .parse()
            .map_err(|e| format!("bad address {addr:?}: {e}"))?;
        let mut stream = TcpStream::connect_timeout(&sock, TIMEOUT)
            .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
        stream
            .set_write_timeout(Some(TIMEOUT))
            .map_err(|e| e.to_string())?;
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nUser-Agent: vncmon-tests\r\n"
        );
        if !body.is_empty() || method == "POST" {
            req.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        req.push_str("\r\n");
        stream
            .write_all(req.as_bytes())
            .and_then(|()| stream.write_all(body))
            .map_err(|e| format!("cannot send {method} {path}: {e}"))?;
        Ok(Conn {
            stream,
            buf: Vec::new(),
        })
    }

    /// Reads more bytes before `deadline`; an error on timeout or close.
    fn fill(&mut self, deadline: Instant, what: &str) -> Result<(), String> {
        let mut chunk = [0u8; 64 * 1024];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(format!("timed out waiting for {what}"));
            }
            self.stream
                .set_read_timeout(Some(left))
                .map_err(|e| e.to_string())?;
            match self.stream.read(&mut chunk) {
                Ok(0) => return Err(format!("connection closed while waiting for {what}")),
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return Ok(());
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("reading {what}: {e}")),
            }
        }
    }

    /// Takes `n` bytes, reading as needed.
    fn take(&mut self, n: usize, deadline: Instant, what: &str) -> Result<Vec<u8>, String> {
        while self.buf.len() < n {
            self.fill(deadline, what)?;
        }
        Ok(self.buf.drain(..n).collect())
    }

    /// Takes one CRLF-terminated line (without the CRLF).
    fn line(&mut self, deadline: Instant, what: &str) -> Result<String, String> {
        loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = String::from_utf8_lossy(&self.buf[..i]).into_owned();
                self.buf.drain(..i + 2);
                return Ok(line);
            }
            if self.buf.len() > MAX_HEAD {
                return Err(format!("{what}: line longer than {MAX_HEAD} bytes"));
            }
            self.fill(deadline, what)?;
        }
    }

    /// Reads the status line and headers.
    fn head(&mut self, deadline: Instant) -> Result<(u16, Vec<(String, String)>), String> {
        let end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            if self.buf.len() > MAX_HEAD {
                return Err(format!("response head longer than {MAX_HEAD} bytes"));
            }
            self.fill(deadline, "the response head")?;
        };
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut resp = httparse::Response::new(&mut headers);
        let status = resp.parse(&self.buf[..end]);
        if !matches!(status, Ok(httparse::Status::Complete(_))) {
            return Err(format!(
                "bad response head {:?}",
                String::from_utf8_lossy(&self.buf[..end])
            ));
        }
        let code = resp.code.unwrap_or(0);
        let headers = resp
            .headers
            .iter()
            .map(|h| {
                (
                    h.name.to_string(),
                    String::from_utf8_lossy(h.value).trim().to_string(),
                )
            })
            .collect();
        self.buf.drain(..end);
        Ok((code, headers))
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// One request on a fresh connection (`Connection: close`), 10 s timeout.
pub fn request(addr: &str, method: &str, path: &str, body: &[u8]) -> Result<HttpResponse, String> {
    let deadline = Instant::now() + TIMEOUT;
    let mut c = Conn::open(addr, method, path, body)?;
    let (status, headers) = c.head(deadline)?;
    let chunked = header(&headers, "transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let length = header(&headers, "content-length")
        .map(|v| {
            v.parse::<usize>()
                .map_err(|_| format!("bad Content-Length {v:?}"))
        })
        .transpose()?;
    let body = if method == "HEAD" || status == 204 || status == 304 {
        Vec::new()
    } else if chunked {
        let mut body = Vec::new();
        loop {
            let size_line = c.line(deadline, "a chunk size")?;
            let hex = size_line.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(hex, 16)
                .map_err(|_| format!("bad chunk size {size_line:?}"))?;
            if body.len() + size > MAX_BODY {
                return Err("chunked body too large".into());
            }
            if size == 0 {
                break;
            }
            body.extend(c.take(size, deadline, "a chunk")?);
            c.take(2, deadline, "a chunk's CRLF")?;
        }
        body
    } else if let Some(n) = length {
        if n > MAX_BODY {
            return Err(format!("Content-Length {n} too large"));
        }
        c.take(n, deadline, "the body")?
    } else {
        // No length: the body runs to the end of the connection.
        loop {
            match c.fill(deadline, "the body") {
                Ok(()) if c.buf.len() <= MAX_BODY => {}
                Ok(()) => return Err("body too large".into()),
                Err(e) if e.starts_with("connection closed") => break,
                Err(e) => return Err(e),
            }
        }
        std::mem::take(&mut c.buf)
    };
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}

/// `GET path`; panics with the reason when the request fails.
pub fn get(addr: &str, path: &str) -> HttpResponse {
    request(addr, "GET", path, b"").unwrap_or_else(|e| panic!("GET {path} on {addr}: {e}"))
}

/// `POST path` with a JSON body; panics with the reason when the request fails.
pub fn post(addr: &str, path: &str, body: &str) -> HttpResponse {
    request(addr, "POST", path, body.as_bytes())
        .unwrap_or_else(|e| panic!("POST {path} on {addr}: {e}"))
}

/// An open `multipart/x-mixed-replace; boundary=frame` stream.
pub struct MjpegStream {
    conn: Conn,
    pub headers: Vec<(String, String)>,
    /// Parts read so far.
    pub parts: u64,
}

impl MjpegStream {
    /// Opens `path` (e.g. `/video_feed`) and checks the response head.
    pub fn open(addr: &str, path: &str) -> Result<MjpegStream, String> {
        let deadline = Instant::now() + TIMEOUT;
        let mut conn = Conn::open(addr, "GET", path, b"")?;
        let (status, headers) = conn.head(deadline)?;
        if status != 200 {
            return Err(format!("GET {path}: status {status}"));
        }
        let ctype = header(&headers, "content-type").unwrap_or("");
        let lower = ctype.to_ascii_lowercase();
        if !lower.starts_with("multipart/x-mixed-replace") || !lower.contains("boundary=frame") {
            return Err(format!("GET {path}: Content-Type {ctype:?}"));
        }
        if header(&headers, "transfer-encoding").is_some() {
            return Err(format!(
                "GET {path}: an MJPEG stream must not use a transfer encoding"
            ));
        }
        Ok(MjpegStream {
            conn,
            headers,
            parts: 0,
        })
    }

    /// The next part's JPEG, checking the boundary, the part's
    /// `Content-Type: image/jpeg` and `Content-Length`, and the JPEG markers.
    pub fn next_jpeg(&mut self, timeout: Duration) -> Result<Vec<u8>, String> {
        let deadline = Instant::now() + timeout;
        let c = &mut self.conn;
        let mut line = c.line(deadline, "a boundary")?;
        while line.is_empty() {
            line = c.line(deadline, "a boundary")?;
        }
        match line.trim_end() {
            "--frame" => {}
            "--frame--" => return Err("the stream ended (closing boundary)".into()),
            other => return Err(format!("expected the boundary --frame, got {other:?}")),
        }
        let mut ctype = None;
        let mut length = None;
        loop {
            let h = c.line(deadline, "part headers")?;
            if h.is_empty() {
                break;
            }
            let (name, value) = h
                .split_once(':')
                .ok_or_else(|| format!("bad part header {h:?}"))?;
            let value = value.trim().to_string();
            if name.trim().eq_ignore_ascii_case("content-type") {
                ctype = Some(value);
            } else if name.trim().eq_ignore_ascii_case("content-length") {
                length = Some(value);
            }
        }
        if ctype.as_deref() != Some("image/jpeg") {
            return Err(format!("part Content-Type {ctype:?}, not image/jpeg"));
        }
        let length = length.ok_or("part without Content-Length")?;
        let n: usize = length
            .parse()
            .map_err(|_| format!("bad part Content-Length {length:?}"))?;
        if n > MAX_BODY {
            return Err(format!("part Content-Length {n} too large"));
        }
        let jpeg = c.take(n, deadline, "a JPEG part")?;
        if !jpeg.starts_with(&[0xff, 0xd8]) || !jpeg.ends_with(&[0xff, 0xd9]) {
            return Err(format!(
                "part of {n} bytes is not one whole JPEG (SOI..EOI)"
            ));
        }
        self.parts += 1;
        Ok(jpeg)
    }

    /// Reads parts until the server closes the connection; returns how many
    /// whole parts came first. An error when `timeout` passes first or the
    /// stream breaks off inside a part's JPEG.
    pub fn wait_closed(&mut self, timeout: Duration) -> Result<u64, String> {
        let deadline = Instant::now() + timeout;
        let mut parts = 0;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next_jpeg(left) {
                Ok(_) => parts += 1,
                Err(e)
                    if e.starts_with("connection closed") && !e.ends_with("a JPEG part")
                        || e.starts_with("the stream ended") =>
                {
                    return Ok(parts);
                }
                Err(e) => return Err(format!("the stream did not end cleanly: {e}")),
            }
        }
    }

    /// The next part, decoded.
    pub fn next_image(&mut self, timeout: Duration) -> Result<RgbImage, String> {
        decode_jpeg(&self.next_jpeg(timeout)?)
    }

    /// Reads parts until one decodes to an image for which `accept` holds.
    /// The error says what the last part looked like.
    pub fn image_where(
        &mut self,
        timeout: Duration,
        mut accept: impl FnMut(&RgbImage) -> Result<(), String>,
    ) -> Result<RgbImage, String> {
        let deadline = Instant::now() + timeout;
        let mut last = String::from("no part arrived");
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(format!("no matching frame within {timeout:?}: {last}"));
            }
            match self.next_image(left) {
                Ok(img) => match accept(&img) {
                    Ok(()) => return Ok(img),
                    Err(why) => last = why,
                },
                Err(e) if e.starts_with("timed out") => {
                    return Err(format!("no matching frame within {timeout:?}: {last}"));
                }
                Err(e) => return Err(e),
            }
        }
    }
}
