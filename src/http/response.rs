//! Responses: a status, headers and either a body of bytes (sent with
//! `Content-Length`, keep-alive allowed) or a stream written by a closure
//! straight to the socket (`Sink`) until it returns, then the connection closes.

use std::fmt::Write as _;
use std::io::{self, ErrorKind, Read, Write};
use std::net::TcpStream;

/// Writes a streamed body; returning (or failing) ends the connection.
pub type StreamFn = Box<dyn FnOnce(&mut Sink<'_>) -> io::Result<()> + Send>;

pub enum Body {
    Bytes(Vec<u8>),
    Stream(StreamFn),
}

pub struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Body,
}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("stream", &self.is_stream())
            .finish()
    }
}

impl Response {
    /// An empty response.
    pub fn new(status: u16) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: Body::Bytes(Vec::new()),
        }
    }

    pub fn bytes(status: u16, content_type: &str, body: Vec<u8>) -> Response {
        Response {
            body: Body::Bytes(body),
            ..Response::new(status)
        }
        .header("Content-Type", content_type)
    }

    /// A JSON body; API answers are never cached.
    pub fn json(status: u16, value: &serde_json::Value) -> Response {
        Response::bytes(status, "application/json", value.to_string().into_bytes())
            .header("Cache-Control", "no-store")
    }

    /// `{"success":false,"error":message}` with `status`.
    pub fn error(status: u16, message: impl Into<String>) -> Response {
        let message: String = message.into();
        Response::json(
            status,
            &serde_json::json!({ "success": false, "error": message }),
        )
    }

    /// A body of unknown length written by `f`; the connection closes after it.
    pub fn stream(
        content_type: &str,
        f: impl FnOnce(&mut Sink<'_>) -> io::Result<()> + Send + 'static,
    ) -> Response {
        Response {
            body: Body::Stream(Box::new(f)),
            ..Response::new(200)
        }
        .header("Content-Type", content_type)
    }

    /// Adds a header. Names and values are the program's own, never request bytes.
    pub fn header(mut self, name: &str, value: &str) -> Response {
        debug_assert!(!format!("{name}{value}").contains(['\r', '\n']));
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn status(&self) -> u16 {
        self.status
    }

    /// The first header called `name` (any case).
    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body, unless it is a stream.
    pub fn body_bytes(&self) -> Option<&[u8]> {
        match &self.body {
            Body::Bytes(b) => Some(b),
            Body::Stream(_) => None,
        }
    }

    pub fn is_stream(&self) -> bool {
        matches!(self.body, Body::Stream(_))
    }

    /// Sends the response. Byte bodies go out in one write with the head;
    /// `head_only` (HEAD) sends the head alone. A stream always closes the
    /// connection, so `keep_alive` only applies to byte bodies.
    pub(crate) fn send(
        self,
        stream: &TcpStream,
        head_only: bool,
        keep_alive: bool,
    ) -> io::Result<()> {
        let keep_alive = keep_alive && !self.is_stream();
        let mut head = format!("HTTP/1.1 {} {}\r\n", self.status, reason(self.status));
        for (n, v) in &self.headers {
            let _ = write!(head, "{n}: {v}\r\n");
        }
        if let Body::Bytes(b) = &self.body {
            let _ = write!(head, "Content-Length: {}\r\n", b.len());
        }
        head.push_str(if keep_alive {
            "\r\n"
        } else {
            "Connection: close\r\n\r\n"
        });
        let mut out = head.into_bytes();
        let mut w = stream;
        match self.body {
            Body::Bytes(b) => {
                if !head_only {
                    out.extend_from_slice(&b);
                }
                w.write_all(&out)
            }
            Body::Stream(f) => {
                w.write_all(&out)?;
                if head_only {
                    return Ok(());
                }
                f(&mut Sink { stream })
            }
        }
    }
}

/// Where a streamed body is written: the connection's socket.
pub struct Sink<'a> {
    stream: &'a TcpStream,
}

impl Sink<'_> {
    /// Whether the client has closed or broken its side. Anything it sent is
    /// read and dropped (a streaming client has nothing more to say). Use it
    /// while there is nothing to write, so a gone client is noticed anyway.
    pub fn peer_closed(&self) -> bool {
        if self.stream.set_nonblocking(true).is_err() {
            return false;
        }
        let mut r = self.stream;
        let mut scratch = [0u8; 1024];
        let mut budget = 64 * 1024;
        let closed = loop {
            match r.read(&mut scratch) {
                Ok(0) => break true,
                Ok(n) if n < budget => budget -= n,
                Ok(_) => break false,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => break e.kind() != ErrorKind::WouldBlock,
            }
        };
        // Should this fail, later writes fail too and end the stream.
        let _ = self.stream.set_nonblocking(false);
        closed
    }
}

impl Write for Sink<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut w = self.stream;
        w.write(buf)
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        let mut w = self.stream;
        w.write_vectored(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The reason phrase for the status codes vncmon sends.
pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Content Too Large",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_shape() {
        let r = Response::error(404, "No screenshot available");
        assert_eq!(r.status(), 404);
        assert_eq!(r.header_value("content-type"), Some("application/json"));
        let v: serde_json::Value = serde_json::from_slice(r.body_bytes().unwrap()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"success": false, "error": "No screenshot available"})
        );
    }

    #[test]
    fn stream_has_no_bytes() {
        let r = Response::stream("text/plain", |_| Ok(()));
        assert!(r.is_stream() && r.body_bytes().is_none());
    }
}
