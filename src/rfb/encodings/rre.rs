//! RRE: a background fill, then subrectangles read in batches into a reused
//! scratch buffer. Touches only the given rectangle.

use std::io::Read;

use super::read_array;
use crate::rfb::RfbError;
use crate::screen::{Framebuffer, Rect};

/// Bytes per subrectangle on the wire: pixel, x, y, w, h.
const SUBRECT: usize = 12;
/// Subrectangles read per batch.
const BATCH: usize = 512;
/// Subrectangles may overlap, but a real encoder never paints a pixel more
/// than a few times; past this many times the rectangle's area the update is
/// refused, so 12 bytes of input cannot buy a full-rectangle fill each.
const OVERDRAW: usize = 4;

pub fn rre<R: Read>(
    src: &mut R,
    rect: Rect,
    fb: &mut Framebuffer,
    scratch: &mut Vec<u8>,
) -> Result<(), RfbError> {
    let head = read_array::<8, R>(src)?;
    let count = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
    if count > rect.area() {
        return Err(RfbError::protocol(format!(
            "RRE: {count} subrectangles in a {}x{} rectangle",
            rect.w, rect.h
        )));
    }
    fb.fill_rect(rect, [head[4], head[5], head[6], head[7]])?;
    scratch.resize(BATCH * SUBRECT, 0);
    let mut left = count;
    let mut painted = 0usize;
    while left > 0 {
        let n = left.min(BATCH);
        left -= n;
        let batch = &mut scratch[..n * SUBRECT];
        src.read_exact(batch)?;
        for s in batch.chunks_exact(SUBRECT) {
            let be = |i: usize| u16::from_be_bytes([s[i], s[i + 1]]);
            let sub = Rect::new(be(4), be(6), be(8), be(10));
            if sub.right() > rect.w as u32 || sub.bottom() > rect.h as u32 {
                return Err(RfbError::protocol(format!(
                    "RRE: subrectangle {}x{} at {},{} outside its {}x{} rectangle",
                    sub.w, sub.h, sub.x, sub.y, rect.w, rect.h
                )));
            }
            painted = painted.saturating_add(sub.area());
            if painted > OVERDRAW * rect.area() {
                return Err(RfbError::protocol(format!(
                    "RRE: subrectangles paint the {}x{} rectangle more than {OVERDRAW} times over",
                    rect.w, rect.h
                )));
            }
            let abs = Rect::new(rect.x + sub.x, rect.y + sub.y, sub.w, sub.h);
            fb.fill_rect(abs, [s[0], s[1], s[2], s[3]])?;
        }
    }
    Ok(())
}
