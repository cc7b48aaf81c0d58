//! The built-in demo desktop: a small RFB server on a loopback port that draws
//! a clock, something moving, the keys typed and a few clickable buttons.
//! Lets `vncmon --demo` show the product working with no VNC server around.

use std::io;
use std::net::SocketAddr;

pub struct Demo {}

impl Demo {
    /// Starts the server on 127.0.0.1 and a free port, in background threads.
    /// With a password, it asks for VNC authentication.
    pub fn start(password: Option<String>) -> io::Result<Demo> {
        let _ = password;
        todo!("demo helper")
    }
    pub fn addr(&self) -> SocketAddr {
        todo!("demo helper")
    }
}
