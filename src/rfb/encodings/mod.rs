//! Rectangle decoders for every encoding vncmon asks for. Pure functions over
//! a byte source (`io::Read`) and a `Screen`: no sockets inside, every size
//! checked against the framebuffer and a cap before anything is allocated.

use std::io::Read;

use crate::rfb::RfbError;
use crate::screen::{Rect, Screen};

/// What the caller does after a rectangle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RectResult {
    /// Applied; go on with the next rectangle.
    Done,
    /// LastRect pseudo-rectangle: the update ends here.
    LastRect,
}

/// Per-session decoder state (the zlib streams of ZRLE and Tight persist
/// across rectangles).
pub struct Decoders {}

impl Default for Decoders {
    fn default() -> Self {
        Self::new()
    }
}

impl Decoders {
    pub fn new() -> Decoders {
        Decoders {}
    }

    /// Reads one rectangle's payload in `encoding` from `src` and applies it
    /// to `screen` (pixels, resize, cursor shape or position).
    pub fn decode<R: Read>(
        &mut self,
        src: &mut R,
        encoding: i32,
        rect: Rect,
        screen: &mut Screen,
    ) -> Result<RectResult, RfbError> {
        let _ = (src, encoding, rect, screen);
        todo!("encodings helper")
    }
}
