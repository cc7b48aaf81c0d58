//! Rectangle decoders for every encoding vncmon asks for. Pure functions over
//! a byte source (`io::Read`) and a `Screen`: no sockets inside, every size
//! checked against the framebuffer and a cap before anything is allocated.
//!
//! The pixel format is always the one vncmon requests: 32 bpp, depth 24,
//! little-endian true colour, red shift 16, i.e. B, G, R, X bytes in memory.

mod hextile;
mod pseudo;
mod raw;
mod rre;
mod tight;
mod zlib;
mod zrle;

use std::io::Read;

use flate2::Decompress;

use crate::rfb::{RfbError, enc};
use crate::screen::{BPP, Rect, Screen};

/// What the caller does after a rectangle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RectResult {
    /// Applied; go on with the next rectangle.
    Done,
    /// LastRect pseudo-rectangle: the update ends here.
    LastRect,
}

/// Per-session decoder state: the zlib streams of ZRLE and Tight persist
/// across rectangles, and the scratch buffers are reused so that decoding
/// does not allocate per rectangle.
pub struct Decoders {
    zrle: Decompress,
    tight: [Decompress; 4],
    zbuf: zlib::Buffers,
    /// One ZRLE (64×64) or Hextile (16×16) tile of BGRX pixels.
    tile: Vec<u8>,
    /// Tight-JPEG data, RRE subrectangles, the Tight gradient row.
    scratch: Vec<u8>,
    /// Decoded Tight-JPEG pixels.
    pixels: Vec<u8>,
}

impl Default for Decoders {
    fn default() -> Self {
        Self::new()
    }
}

impl Decoders {
    pub fn new() -> Decoders {
        Decoders {
            zrle: Decompress::new(true),
            tight: std::array::from_fn(|_| Decompress::new(true)),
            zbuf: zlib::Buffers::default(),
            tile: vec![0; zrle::TILE * zrle::TILE * 4],
            scratch: Vec::new(),
            pixels: Vec::new(),
        }
    }

    /// Reads one rectangle's payload in `encoding` from `src` and applies it
    /// to `screen` (pixels, resize, cursor shape or position).
    ///
    /// A pixel rectangle must lie inside the framebuffer; that is checked
    /// before its payload is read. DesktopSize and ExtendedDesktopSize resize
    /// (clearing the screen) only when the size really changes.
    pub fn decode<R: Read>(
        &mut self,
        src: &mut R,
        encoding: i32,
        rect: Rect,
        screen: &mut Screen,
    ) -> Result<RectResult, RfbError> {
        match encoding {
            enc::RAW | enc::COPYRECT | enc::RRE | enc::HEXTILE | enc::ZRLE | enc::TIGHT => {
                screen.fb.check(rect)?;
                screen.fb.mark_dirty(rect);
            }
            _ => {}
        }
        let fb = &mut screen.fb;
        match encoding {
            enc::RAW => raw::raw(src, rect, fb)?,
            enc::COPYRECT => raw::copy_rect(src, rect, fb)?,
            enc::RRE => rre::rre(src, rect, fb, &mut self.scratch)?,
            enc::HEXTILE => hextile::hextile(src, rect, fb, &mut self.tile)?,
            enc::ZRLE => zrle::zrle(src, rect, fb, self)?,
            enc::TIGHT => tight::tight(src, rect, fb, self)?,
            enc::DESKTOP_SIZE => pseudo::desktop_size(rect, screen)?,
            enc::EXT_DESKTOP_SIZE => pseudo::ext_desktop_size(src, rect, screen)?,
            enc::CURSOR => pseudo::cursor(src, rect, screen)?,
            enc::POINTER_POS | enc::VMWARE_CURSOR_POS => screen.move_cursor(rect.x, rect.y),
            enc::LAST_RECT => return Ok(RectResult::LastRect),
            other => {
                return Err(RfbError::protocol(format!("unsupported encoding {other}")));
            }
        }
        Ok(RectResult::Done)
    }
}

/// Reads exactly `N` bytes.
fn read_array<const N: usize, R: Read>(src: &mut R) -> Result<[u8; N], RfbError> {
    let mut b = [0; N];
    src.read_exact(&mut b)?;
    Ok(b)
}

fn read_u8<R: Read>(src: &mut R) -> Result<u8, RfbError> {
    Ok(read_array::<1, R>(src)?[0])
}

/// A 3-byte ZRLE CPIXEL (the pixel's low bytes: B, G, R) as BGRX.
#[inline]
fn bgr(p: &[u8]) -> [u8; 4] {
    match p {
        [b, g, r, ..] => [*b, *g, *r, 0],
        _ => [0; 4],
    }
}

/// A 3-byte Tight TPIXEL (R, G, B) as BGRX.
#[inline]
fn rgb(p: &[u8]) -> [u8; 4] {
    match p {
        [r, g, b, ..] => [*b, *g, *r, 0],
        _ => [0; 4],
    }
}

/// Fills BGRX pixels with one colour.
#[inline]
fn fill(pixels: &mut [u8], px: [u8; 4]) {
    for p in pixels.chunks_exact_mut(BPP) {
        p.copy_from_slice(&px);
    }
}
