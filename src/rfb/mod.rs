//! vncmon's blocking RFB (VNC) client: handshake, authentication, client
//! messages and the server-message loop. Owns the TCP socket; draws into a
//! `Screen` through `encodings`. Never panics on server input.

pub mod encodings;

use std::fmt;
use std::io;

/// Encoding numbers (RFC 6143 §7.7 and the community registry).
pub mod enc {
    pub const RAW: i32 = 0;
    pub const COPYRECT: i32 = 1;
    pub const RRE: i32 = 2;
    pub const HEXTILE: i32 = 5;
    pub const TIGHT: i32 = 7;
    pub const ZRLE: i32 = 16;
    /// Pseudo: Tight JPEG quality level 0 (-32) .. 9 (-23).
    pub const JPEG_QUALITY_0: i32 = -32;
    /// Pseudo: compression level 0 (-256) .. 9 (-247).
    pub const COMPRESS_LEVEL_0: i32 = -256;
    pub const DESKTOP_SIZE: i32 = -223;
    pub const LAST_RECT: i32 = -224;
    pub const POINTER_POS: i32 = -232;
    pub const CURSOR: i32 = -239;
    pub const EXT_DESKTOP_SIZE: i32 = -308;
    /// Pseudo: the pointer position as TigerVNC reports it (VMware's number).
    pub const VMWARE_CURSOR_POS: i32 = 0x574d_5666;

    /// A short name for logs and `/api/status` (`jpeg-quality`/`compress-level`
    /// stand for the whole pseudo-encoding ranges).
    pub fn name(code: i32) -> &'static str {
        match code {
            RAW => "raw",
            COPYRECT => "copyrect",
            RRE => "rre",
            HEXTILE => "hextile",
            TIGHT => "tight",
            ZRLE => "zrle",
            DESKTOP_SIZE => "desktop-size",
            LAST_RECT => "last-rect",
            POINTER_POS => "pointer-pos",
            CURSOR => "cursor",
            EXT_DESKTOP_SIZE => "ext-desktop-size",
            VMWARE_CURSOR_POS => "cursor-pos",
            c if (JPEG_QUALITY_0..JPEG_QUALITY_0 + 10).contains(&c) => "jpeg-quality",
            c if (COMPRESS_LEVEL_0..COMPRESS_LEVEL_0 + 10).contains(&c) => "compress-level",
            _ => "other",
        }
    }
}

/// Everything that can end an RFB session or stop it from starting.
#[derive(Debug)]
pub enum RfbError {
    /// TCP connect failed (refused, unreachable, name did not resolve, timed out).
    Connect { addr: String, source: io::Error },
    /// The peer did not greet with `RFB xxx.yyy\n`.
    NotRfb(String),
    /// An RFB version vncmon does not speak.
    UnsupportedVersion(String),
    /// The server offered only security types vncmon does not support.
    NoSupportedSecurity(Vec<u8>),
    /// The server refused the connection before security, with its reason.
    ServerRefused(String),
    /// VNC authentication is required but no password was configured.
    PasswordRequired,
    /// The server rejected the password (with its reason string when it sent one).
    AuthFailed(String),
    /// Malformed or out-of-range data from the server.
    Protocol(String),
    /// Reading or writing the socket failed, or the server closed it mid-message.
    Io(io::Error),
    /// A bug in vncmon ended the session (a caught panic); the next session starts afresh.
    Internal(String),
}

impl RfbError {
    pub fn protocol(msg: impl Into<String>) -> RfbError {
        RfbError::Protocol(msg.into())
    }
}

impl fmt::Display for RfbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RfbError::Connect { addr, source } => write!(f, "cannot connect to {addr}: {source}"),
            RfbError::NotRfb(got) => write!(f, "not an RFB (VNC) server: it greeted with {got:?}"),
            RfbError::UnsupportedVersion(v) => write!(f, "unsupported RFB version {v:?}"),
            RfbError::NoSupportedSecurity(types) => write!(
                f,
                "no supported security type: the server offers {types:?}, vncmon supports 1 (None) and 2 (VNC authentication)"
            ),
            RfbError::ServerRefused(reason) => {
                write!(f, "the server refused the connection: {reason}")
            }
            RfbError::PasswordRequired => write!(
                f,
                "the server requires a password: set VNC_PASSWORD or --password-file"
            ),
            RfbError::AuthFailed(reason) => write!(f, "authentication failed: {reason}"),
            RfbError::Protocol(msg) => write!(f, "protocol error: {msg}"),
            RfbError::Io(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                write!(f, "the server closed the connection")
            }
            RfbError::Io(e) => write!(f, "connection error: {e}"),
            RfbError::Internal(msg) => {
                write!(f, "internal error in vncmon (please report it): {msg}")
            }
        }
    }
}

impl std::error::Error for RfbError {}

impl From<io::Error> for RfbError {
    fn from(e: io::Error) -> Self {
        RfbError::Io(e)
    }
}

impl From<crate::screen::OutOfBounds> for RfbError {
    fn from(e: crate::screen::OutOfBounds) -> Self {
        RfbError::Protocol(e.to_string())
    }
}

pub mod auth;
mod handshake;
mod msg;
mod session;
pub use session::{ConnectOptions, Event, Input, Session};
