//! Reading one request off a connection: the head parsed with `httparse`
//! under a size cap and a deadline, then a `Content-Length` body under its cap.
//! Owns the connection's read buffer (bytes past one request stay for the next).

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use super::Limits;

/// More header fields than this is answered 431.
const MAX_HEADERS: usize = 64;
const READ_CHUNK: usize = 4096;

/// One parsed request.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// The request target as sent: path and optional `?query`.
    pub target: String,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor_version: u8,
    /// Header names as sent; compare them case-insensitively (see `header`).
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

impl Request {
    /// The path part of the target, without the query.
    pub fn path(&self) -> &str {
        self.target.split_once('?').map_or(&self.target, |(p, _)| p)
    }

    pub fn query(&self) -> Option<&str> {
        self.target.split_once('?').map(|(_, q)| q)
    }

    /// The first value of query parameter `name`, as sent (not percent-decoded).
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query()?
            .split('&')
            .map(|kv| kv.split_once('=').unwrap_or((kv, "")))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
    }

    /// The first header called `name` (any case).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    pub fn is_head(&self) -> bool {
        self.method == "HEAD"
    }

    /// Whether the client lets the connection stay open after the answer:
    /// HTTP/1.1 unless it sent `Connection: close`; never for HTTP/1.0.
    pub fn keep_alive(&self) -> bool {
        self.minor_version >= 1 && !self.header_has_token("connection", "close")
    }

    /// Whether any `name` header lists `token` (comma-separated, any case).
    fn header_has_token(&self, name: &str, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| v.split(|b| *b == b','))
            .any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
    }
}

/// Why no request came out of the connection.
#[derive(Debug, PartialEq)]
pub(crate) enum ReadError {
    /// The peer went away, broke the connection, or stayed idle past the
    /// timeout between requests: close without an answer.
    Closed,
    /// A bad or unacceptable request: answer `status` with `message`, then close.
    Reply(u16, String),
}

fn reply(status: u16, message: impl Into<String>) -> ReadError {
    ReadError::Reply(status, message.into())
}

/// Reads requests one after another from a connection.
pub(crate) struct RequestReader<'a> {
    stream: &'a TcpStream,
    buf: Vec<u8>,
    limits: &'a Limits,
}

impl<'a> RequestReader<'a> {
    pub(crate) fn new(stream: &'a TcpStream, limits: &'a Limits) -> Self {
        RequestReader {
            stream,
            buf: Vec::new(),
            limits,
        }
    }

    /// The next request. The head must arrive within the read timeout of the
    /// call (so an idle keep-alive connection and a slowly dripped head both
    /// end there), the body within another read timeout.
    pub(crate) fn next(&mut self) -> Result<Request, ReadError> {
        let deadline = Instant::now() + self.limits.read_timeout;
        let mut req = loop {
            if let Some(req) = self.parse_head()? {
                break req;
            }
            if self.buf.len() >= self.limits.max_head {
                return Err(too_large_head(self.limits.max_head));
            }
            let room = self.limits.max_head - self.buf.len();
            match self.fill(deadline, room.min(READ_CHUNK)) {
                Ok(0) => return Err(ReadError::Closed),
                Ok(_) => {}
                Err(e) if is_timeout(&e) && !self.buf.is_empty() => {
                    return Err(reply(
                        408,
                        "the request head did not arrive within the read timeout",
                    ));
                }
                Err(_) => return Err(ReadError::Closed),
            }
        };
        let len = body_length(&req, self.limits.max_body)?;
        if len > 0 {
            if self.buf.len() < len && has_expect_continue(&req) {
                let mut w = self.stream;
                w.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                    .map_err(|_| ReadError::Closed)?;
            }
            let deadline = Instant::now() + self.limits.read_timeout;
            while self.buf.len() < len {
                match self.fill(deadline, (len - self.buf.len()).min(READ_CHUNK)) {
                    Ok(0) => return Err(ReadError::Closed),
                    Ok(_) => {}
                    Err(e) if is_timeout(&e) => {
                        return Err(reply(
                            408,
                            "the request body did not arrive within the read timeout",
                        ));
                    }
                    Err(_) => return Err(ReadError::Closed),
                }
            }
            req.body = self.buf.drain(..len).collect();
        }
        Ok(req)
    }

    /// Parses a complete head out of the buffer and removes it, or returns
    /// `None` when more bytes are needed.
    fn parse_head(&mut self) -> Result<Option<Request>, ReadError> {
        if self.buf.is_empty() {
            return Ok(None);
        }
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut parsed = httparse::Request::new(&mut headers);
        let n = match parsed.parse(&self.buf) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(httparse::Error::TooManyHeaders) => {
                return Err(reply(
                    431,
                    format!("too many header fields (at most {MAX_HEADERS})"),
                ));
            }
            Err(e) => return Err(reply(400, format!("malformed request: {e}"))),
        };
        if n > self.limits.max_head {
            return Err(too_large_head(self.limits.max_head));
        }
        let (Some(method), Some(target), Some(minor_version)) =
            (parsed.method, parsed.path, parsed.version)
        else {
            return Err(reply(400, "malformed request line"));
        };
        let req = Request {
            method: method.to_string(),
            target: target.to_string(),
            minor_version,
            headers: parsed
                .headers
                .iter()
                .map(|h| (h.name.to_string(), h.value.to_vec()))
                .collect(),
            body: Vec::new(),
        };
        self.buf.drain(..n);
        Ok(Some(req))
    }

    /// Reads up to `max` more bytes into the buffer, waiting no later than `deadline`.
    fn fill(&mut self, deadline: Instant, max: usize) -> std::io::Result<usize> {
        let mut chunk = [0u8; READ_CHUNK];
        let max = max.clamp(1, READ_CHUNK);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(ErrorKind::TimedOut.into());
            }
            // A zero timeout means "block forever" to the OS: keep it positive.
            self.stream
                .set_read_timeout(Some(left.max(Duration::from_millis(1))))?;
            let mut r = self.stream;
            match r.read(&mut chunk[..max]) {
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return Ok(n);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

fn too_large_head(max: usize) -> ReadError {
    reply(431, format!("request head too large (at most {max} bytes)"))
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

fn has_expect_continue(req: &Request) -> bool {
    req.header("expect")
        .is_some_and(|v| v.trim_ascii().eq_ignore_ascii_case(b"100-continue"))
}

/// The body length from `Content-Length`; chunked and other transfer codings
/// are refused, as are conflicting or malformed lengths and lengths past `max`.
fn body_length(req: &Request, max: usize) -> Result<usize, ReadError> {
    if let Some(te) = req.header("transfer-encoding") {
        let te = String::from_utf8_lossy(te);
        return Err(if te.to_ascii_lowercase().contains("chunked") {
            reply(
                411,
                "chunked request bodies are not supported: send Content-Length",
            )
        } else {
            reply(501, format!("Transfer-Encoding {te:?} is not supported"))
        });
    }
    let mut len: Option<u64> = None;
    for (_, v) in req
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("content-length"))
    {
        let v = v.trim_ascii();
        let n = std::str::from_utf8(v)
            .ok()
            .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or_else(|| reply(400, "malformed Content-Length"))?;
        if len.is_some_and(|l| l != n) {
            return Err(reply(400, "conflicting Content-Length headers"));
        }
        len = Some(n);
    }
    let len = len.unwrap_or(0);
    if len > max as u64 {
        return Err(reply(
            413,
            format!("request body too large ({len} bytes; at most {max})"),
        ));
    }
    Ok(len as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(target: &str, headers: &[(&str, &str)]) -> Request {
        Request {
            method: "GET".into(),
            target: target.into(),
            minor_version: 1,
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
                .collect(),
            body: Vec::new(),
        }
    }

    #[test]
    fn path_and_query() {
        let r = req("/?action=stream&x", &[]);
        assert_eq!(r.path(), "/");
        assert_eq!(r.query_param("action"), Some("stream"));
        assert_eq!(r.query_param("x"), Some(""));
        assert_eq!(r.query_param("y"), None);
        assert_eq!(req("/api/status", &[]).query(), None);
    }

    #[test]
    fn keep_alive_rules() {
        assert!(req("/", &[]).keep_alive());
        assert!(!req("/", &[("Connection", "keep-alive, Close")]).keep_alive());
        let mut old = req("/", &[("Connection", "keep-alive")]);
        old.minor_version = 0;
        assert!(!old.keep_alive());
    }

    #[test]
    fn body_lengths() {
        assert_eq!(body_length(&req("/", &[]), 10), Ok(0));
        assert_eq!(
            body_length(&req("/", &[("content-length", " 7 ")]), 10),
            Ok(7)
        );
        let status = |h: &[(&str, &str)]| match body_length(&req("/", h), 10) {
            Err(ReadError::Reply(s, _)) => s,
            other => panic!("{other:?}"),
        };
        assert_eq!(status(&[("Content-Length", "11")]), 413);
        assert_eq!(status(&[("Content-Length", "+5")]), 400);
        assert_eq!(
            status(&[("Content-Length", "99999999999999999999999")]),
            400
        );
        assert_eq!(
            status(&[("Content-Length", "1"), ("Content-Length", "2")]),
            400
        );
        assert_eq!(status(&[("Transfer-Encoding", "gzip, chunked")]), 411);
        assert_eq!(status(&[("Transfer-Encoding", "gzip")]), 501);
    }
}
