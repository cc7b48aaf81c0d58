//! Raw and CopyRect: pixels straight from the socket into framebuffer rows,
//! and a copy within the framebuffer. Touches only the given rectangle.

use std::io::Read;

use super::read_array;
use crate::rfb::RfbError;
use crate::screen::{Framebuffer, Rect};

/// Raw: `w * h` BGRX pixels, read row by row into the framebuffer.
pub fn raw<R: Read>(src: &mut R, rect: Rect, fb: &mut Framebuffer) -> Result<(), RfbError> {
    if rect.is_empty() {
        return Ok(());
    }
    for y in rect.y..rect.y + rect.h {
        src.read_exact(fb.row_mut(rect.x, y, rect.w)?)?;
    }
    Ok(())
}

/// CopyRect: the source position, then a copy (overlap allowed).
pub fn copy_rect<R: Read>(src: &mut R, rect: Rect, fb: &mut Framebuffer) -> Result<(), RfbError> {
    let b = read_array::<4, R>(src)?;
    let sx = u16::from_be_bytes([b[0], b[1]]);
    let sy = u16::from_be_bytes([b[2], b[3]]);
    fb.copy_rect(rect, sx, sy)?;
    Ok(())
}
