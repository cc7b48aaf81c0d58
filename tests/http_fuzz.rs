//! Mutated and random requests against the real HTTP server and routes: every
//! answer is well-formed HTTP, no handler ever panics (no 500), and the server
//! keeps serving. A seeded generator keeps runs repeatable.

mod http_support;
mod rng;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

use http_support::*;
use rng::Rng;

const SEEDS: &[&[u8]] = &[
    b"GET /api/status HTTP/1.1\r\nHost: pi\r\n\r\n",
    b"GET /snapshot.jpg HTTP/1.1\r\nHost: pi\r\nConnection: close\r\n\r\n",
    b"GET /?action=snapshot HTTP/1.0\r\n\r\n",
    b"HEAD / HTTP/1.1\r\nHost: pi\r\n\r\n",
    b"GET /api/screenshot HTTP/1.1\r\nAccept: */*\r\n\r\n",
    b"POST /api/connect HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}",
    b"POST /api/disconnect HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 0\r\n\r\n",
    b"GET /api/status?x=1&y=%zz HTTP/1.1\r\nHost: pi\r\nExpect: 100-continue\r\n\r\n",
    b"GET /api/scenarios HTTP/1.1\r\nHost: pi\r\n\r\n",
    b"GET /api/load/demo.json/tour HTTP/1.1\r\nHost: pi\r\n\r\n",
    b"GET /api/load/demo%2Ejson/but%74ons HTTP/1.1\r\nHost: pi\r\n\r\n",
    b"POST /api/load HTTP/1.1\r\nContent-Length: 37\r\n\r\n{\"file\":\"demo.json\",\"name\":\"buttons\"}",
    b"GET /api/steps HTTP/1.1\r\nHost: pi\r\n\r\n",
    b"POST /api/input HTTP/1.1\r\nContent-Length: 32\r\n\r\n{\"action\":\"click\",\"x\":10,\"y\":20}",
    b"POST /api/input HTTP/1.1\r\nContent-Length: 36\r\n\r\n[{\"action\":\"type\",\"text\":\"a\\u00e9\"}]",
    b"POST /api/stop HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
    b"GET /api/logs/download HTTP/1.1\r\nHost: pi\r\n\r\n",
];

const NASTY: &[&[u8]] = &[
    b"\r\n",
    b"\n",
    b"\r",
    b"\0",
    b":",
    b" ",
    b"%",
    b"\xff\xfe",
    b"Content-Length: 99999999999999999999\r\n",
    b"Content-Length: -1\r\n",
    b"Transfer-Encoding: chunked\r\n",
    b"Connection: keep-alive, close\r\n",
    b"/../../etc/passwd",
    b"?action=stream",
];

fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..1 + rng.below(2) {
        let at = rng.below(v.len() + 1);
        match rng.below(5) {
            0 if !v.is_empty() => {
                let i = at.min(v.len() - 1);
                v[i] ^= 1 << rng.below(8);
            }
            1 => v.insert(at, rng.byte()),
            2 => v.truncate(at),
            3 => {
                let n = NASTY[rng.below(NASTY.len())];
                v.splice(at..at, n.iter().copied());
            }
            _ => {
                let end = (at + rng.below(16)).min(v.len());
                v.drain(at..end);
            }
        }
    }
    v
}

/// Sends `raw`, closes the sending side, and reads whatever comes back.
fn exchange(addr: std::net::SocketAddr, raw: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    // The server may answer and close before it has read everything.
    let _ = s.write_all(raw);
    let _ = s.shutdown(Shutdown::Write);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out
}

/// The status of the first answer in `out` (None when the server closed
/// without answering), or an error naming what is not HTTP.
fn first_status(out: &[u8]) -> Result<Option<u16>, String> {
    if out.is_empty() {
        return Ok(None);
    }
    let line_end = out
        .windows(2)
        .position(|w| w == b"\r\n")
        .ok_or("an answer without a status line")?;
    let line = String::from_utf8_lossy(&out[..line_end]);
    if !out.windows(4).any(|w| w == b"\r\n\r\n") {
        return Err(format!("an answer without the end of its head: {line:?}"));
    }
    line.strip_prefix("HTTP/1.1 ")
        .and_then(|l| l.get(..3))
        .and_then(|c| c.parse::<u16>().ok())
        .map(Some)
        .ok_or_else(|| format!("not a status line: {line:?}"))
}

#[test]
fn mutated_requests_get_wellformed_answers_and_never_a_500() {
    let s = TestServer::start(test_limits());
    s.hub().publish(jpeg(32, 16, 3), 32, 16);
    let mut rng = Rng(0x5EED_1234_ABCD_0001);
    let mut seen: BTreeMap<u16, usize> = BTreeMap::new();
    for i in 0..1500 {
        let raw = if i % 10 == 9 {
            (0..rng.below(300)).map(|_| rng.byte()).collect()
        } else {
            let seed = SEEDS[rng.below(SEEDS.len())];
            mutate(&mut rng, seed)
        };
        let out = exchange(s.addr, &raw);
        let code = first_status(&out).unwrap_or_else(|e| {
            panic!(
                "request {i} {:?} got {e}: {:?}",
                String::from_utf8_lossy(&raw),
                String::from_utf8_lossy(&out[..out.len().min(300)])
            )
        });
        if let Some(c) = code {
            assert_ne!(
                c,
                500,
                "request {i} {:?} made a handler fail",
                String::from_utf8_lossy(&raw)
            );
            *seen.entry(c).or_default() += 1;
        }
    }
    eprintln!("statuses seen: {seen:?}");
    // The mutations reached both the routes and the parser's refusals.
    assert!(seen.get(&200).is_some_and(|n| *n > 50), "{seen:?}");
    assert!(seen.get(&400).is_some_and(|n| *n > 50), "{seen:?}");
    // And the server still serves.
    let r = get(s.addr, "GET", "/api/status");
    assert_eq!(r.status, 200);
}
