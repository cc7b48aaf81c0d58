//! One RFB session: TCP connect, version and security handshake, ServerInit,
//! SetPixelFormat (BGRX) and SetEncodings, then the server-message loop.
//! The write half sits behind a mutex in `Input`, shared with input senders.

use std::time::Duration;

use crate::rfb::RfbError;
use crate::screen::Screen;

/// How to reach and talk to the server.
#[derive(Clone, Debug)]
pub struct ConnectOptions {
    /// `host:port` (already normalised from `HOST::PORT` / `HOST:N`).
    pub addr: String,
    pub password: Option<String>,
    /// Encodings in order of preference, pseudo-encodings included.
    pub encodings: Vec<i32>,
    pub connect_timeout: Duration,
}

/// A server message, once applied.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A whole FramebufferUpdate was applied to the screen.
    Update,
    Bell,
    /// ServerCutText (Latin-1, decoded).
    CutText(String),
    /// SetColourMapEntries and other messages that change nothing here.
    Ignored,
}

/// Sends key and pointer events on the session's socket from any thread,
/// without waiting for screen updates. Cheap to clone.
#[derive(Clone)]
pub struct Input {}

impl Input {
    /// KeyEvent with an X keysym.
    pub fn key(&self, keysym: u32, down: bool) -> Result<(), RfbError> {
        let _ = (keysym, down);
        todo!()
    }
    /// PointerEvent; `buttons` is the RFB mask (bit 0 left, 1 middle, 2 right, 3/4 wheel).
    pub fn pointer(&self, x: u16, y: u16, buttons: u8) -> Result<(), RfbError> {
        let _ = (x, y, buttons);
        todo!()
    }
    /// Closes the session's socket (both directions): the capture thread's
    /// blocked read returns an error and the session ends.
    pub fn shutdown(&self) {
        todo!()
    }
    /// Position of the last pointer event sent, if any.
    pub fn pointer_pos(&self) -> Option<(u16, u16)> {
        todo!()
    }
}

pub struct Session {}

impl Session {
    /// Connects and completes the handshake; the session then has the server's
    /// size and name, and has sent SetPixelFormat and SetEncodings.
    pub fn connect(opts: &ConnectOptions) -> Result<Session, RfbError> {
        let _ = opts;
        todo!()
    }
    pub fn width(&self) -> u16 {
        todo!()
    }
    pub fn height(&self) -> u16 {
        todo!()
    }
    pub fn name(&self) -> &str {
        todo!()
    }
    /// The input sender for this session.
    pub fn input(&self) -> Input {
        todo!()
    }
    /// FramebufferUpdateRequest for the whole `screen`.
    pub fn request_update(&self, incremental: bool, screen: &Screen) -> Result<(), RfbError> {
        let _ = (incremental, screen);
        todo!()
    }
    /// Waits up to `timeout` for the next server message to start arriving.
    /// `Ok(false)` means nothing came; a closed socket is an error.
    pub fn wait_readable(&mut self, timeout: Duration) -> Result<bool, RfbError> {
        let _ = timeout;
        todo!()
    }
    /// Reads one whole server message and applies it to `screen`.
    pub fn read_message(&mut self, screen: &mut Screen) -> Result<Event, RfbError> {
        let _ = screen;
        todo!()
    }
}
