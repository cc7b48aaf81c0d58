//! A scripted fake RFB server for integration tests: listens on 127.0.0.1:0,
//! accepts one client and runs a script of "send these bytes, expect those".
//! Every read has a timeout, so a broken test fails instead of hanging.

#![allow(dead_code)] // each test binary uses a different part

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use vncmon::rfb::ConnectOptions;

pub type Script = Result<(), String>;

/// How long the fake server waits for the client at any step.
const PATIENCE: Duration = Duration::from_secs(5);

/// Encodings the tests ask for: Raw, DesktopSize, LastRect.
pub const ENCODINGS: [i32; 3] = [0, -223, -224];

/// SetPixelFormat as vncmon must send it: 32 bpp, depth 24, little-endian,
/// true colour, max 255 each, shifts red 16 green 8 blue 0.
pub const SET_PIXEL_FORMAT: [u8; 20] = [
    0, 0, 0, 0, 32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0,
];

pub struct FakeServer {
    pub addr: String,
    thread: JoinHandle<Script>,
}

impl FakeServer {
    /// Starts a server that runs `script` against the first client.
    pub fn start(script: impl FnOnce(&mut Peer) -> Script + Send + 'static) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("local_addr").to_string();
        let thread = thread::spawn(move || {
            let mut peer = Peer::accept(&listener)?;
            let result = script(&mut peer);
            peer.linger();
            result
        });
        FakeServer { addr, thread }
    }

    /// Options to connect to this server.
    pub fn opts(&self, password: Option<&str>) -> ConnectOptions {
        ConnectOptions {
            addr: self.addr.clone(),
            password: password.map(str::to_string),
            encodings: ENCODINGS.to_vec(),
            connect_timeout: Duration::from_secs(2),
        }
    }

    /// Waits for the script to end and returns its verdict.
    pub fn join(self) -> Script {
        self.thread
            .join()
            .unwrap_or_else(|_| Err("the fake server panicked".into()))
    }
}

/// The server's end of the connection.
pub struct Peer {
    stream: TcpStream,
}

impl Peer {
    fn accept(listener: &TcpListener) -> Result<Peer, String> {
        listener.set_nonblocking(true).map_err(|e| e.to_string())?;
        let deadline = Instant::now() + PATIENCE;
        loop {
            match listener.accept() {
                Ok((stream, _)) => {
                    stream.set_nonblocking(false).map_err(|e| e.to_string())?;
                    stream
                        .set_read_timeout(Some(PATIENCE))
                        .map_err(|e| e.to_string())?;
                    stream
                        .set_write_timeout(Some(PATIENCE))
                        .map_err(|e| e.to_string())?;
                    return Ok(Peer { stream });
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock && Instant::now() < deadline => {
                    thread::sleep(Duration::from_millis(5));
                }
                Err(e) => return Err(format!("no client came: {e}")),
            }
        }
    }

    pub fn send(&mut self, bytes: &[u8]) -> Script {
        self.stream
            .write_all(bytes)
            .map_err(|e| format!("send: {e}"))
    }

    /// Reads exactly `n` bytes from the client.
    pub fn read(&mut self, n: usize) -> Result<Vec<u8>, String> {
        let mut buf = vec![0; n];
        self.stream
            .read_exact(&mut buf)
            .map_err(|e| format!("reading {n} bytes: {e}"))?;
        Ok(buf)
    }

    /// Reads `want.len()` bytes and checks they are `want`.
    pub fn expect(&mut self, what: &str, want: &[u8]) -> Script {
        let got = self.read(want.len()).map_err(|e| format!("{what}: {e}"))?;
        if got != want {
            return Err(format!("{what}: expected {want:?}, got {got:?}"));
        }
        Ok(())
    }

    /// Closes the connection now (both directions).
    pub fn close(&mut self) {
        let _ = self.stream.shutdown(Shutdown::Both);
    }

    /// Ends the script politely: no more data from us, then drain the client
    /// until it closes, so it sees a clean end of stream, never a reset.
    fn linger(&mut self) {
        let _ = self.stream.shutdown(Shutdown::Write);
        let mut sink = [0u8; 256];
        while matches!(self.stream.read(&mut sink), Ok(n) if n > 0) {}
    }

    // ---- handshake steps, server side ----

    /// Sends `server_version` and expects the client to answer `client_version`.
    pub fn version(&mut self, server_version: &[u8], client_version: &[u8; 12]) -> Script {
        self.send(server_version)?;
        self.expect("client ProtocolVersion", client_version)
    }

    /// Security type None as `minor` (3, 7 or 8) does it.
    pub fn security_none(&mut self, minor: u8) -> Script {
        match minor {
            3 => self.send(&1u32.to_be_bytes()),
            7 => {
                self.send(&[2, 16, 1])?;
                self.expect("chosen security type", &[1])
            }
            _ => {
                self.send(&[2, 16, 1])?;
                self.expect("chosen security type", &[1])?;
                self.send(&0u32.to_be_bytes())
            }
        }
    }

    /// Expects ClientInit(shared), sends ServerInit, then expects
    /// SetPixelFormat and SetEncodings(ENCODINGS).
    pub fn init(&mut self, width: u16, height: u16, name: &str) -> Script {
        self.expect("ClientInit", &[1])?;
        self.send(&server_init(width, height, name.as_bytes()))?;
        self.expect("SetPixelFormat", &SET_PIXEL_FORMAT)?;
        self.expect("SetEncodings", &set_encodings(&ENCODINGS))
    }

    /// A whole 3.8 handshake with security None.
    pub fn handshake(&mut self, width: u16, height: u16, name: &str) -> Script {
        self.version(b"RFB 003.008\n", b"RFB 003.008\n")?;
        self.security_none(8)?;
        self.init(width, height, name)
    }
}

/// ServerInit with some big-endian 16-bit pixel format (the client replaces it).
pub fn server_init(width: u16, height: u16, name: &[u8]) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(&width.to_be_bytes());
    m.extend_from_slice(&height.to_be_bytes());
    m.extend_from_slice(&[16, 16, 1, 1, 0, 31, 0, 63, 0, 31, 11, 5, 0, 0, 0, 0]);
    m.extend_from_slice(&(name.len() as u32).to_be_bytes());
    m.extend_from_slice(name);
    m
}

/// SetEncodings as RFC 6143 §7.5.2 lays it out.
pub fn set_encodings(encodings: &[i32]) -> Vec<u8> {
    let mut m = vec![2, 0];
    m.extend_from_slice(&(encodings.len() as u16).to_be_bytes());
    for e in encodings {
        m.extend_from_slice(&e.to_be_bytes());
    }
    m
}

/// A FramebufferUpdate header followed by one rectangle header.
pub fn update_with_rect(x: u16, y: u16, w: u16, h: u16, encoding: i32) -> Vec<u8> {
    let mut m = vec![0, 0, 0, 1];
    for v in [x, y, w, h] {
        m.extend_from_slice(&v.to_be_bytes());
    }
    m.extend_from_slice(&encoding.to_be_bytes());
    m
}
