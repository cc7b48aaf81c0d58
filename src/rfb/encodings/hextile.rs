//! Hextile: 16×16 tiles, each raw or a background with subrectangles; the
//! background and foreground carry over from tile to tile within a
//! rectangle. Tiles are drawn in a scratch tile, then copied row by row.

use std::io::Read;

use super::{fill, read_array, read_u8};
use crate::rfb::RfbError;
use crate::screen::{BPP, Framebuffer, Rect};

const TILE: u16 = 16;
const RAW: u8 = 1;
const BACKGROUND: u8 = 2;
const FOREGROUND: u8 = 4;
const ANY_SUBRECTS: u8 = 8;
const COLOURED: u8 = 16;

pub fn hextile<R: Read>(
    src: &mut R,
    rect: Rect,
    fb: &mut Framebuffer,
    tile: &mut [u8],
) -> Result<(), RfbError> {
    let mut bg = [0u8; 4];
    let mut fg = [0u8; 4];
    // Subrectangles of one tile: at most 255 of pixel + 2 bytes.
    let mut subs = [0u8; 255 * 6];
    for ty in (0..rect.h).step_by(TILE as usize) {
        for tx in (0..rect.w).step_by(TILE as usize) {
            let t = Rect::new(
                rect.x + tx,
                rect.y + ty,
                TILE.min(rect.w - tx),
                TILE.min(rect.h - ty),
            );
            let mask = read_u8(src)?;
            if mask & RAW != 0 {
                for y in t.y..t.y + t.h {
                    src.read_exact(fb.row_mut(t.x, y, t.w)?)?;
                }
                continue;
            }
            if mask & !(RAW | BACKGROUND | FOREGROUND | ANY_SUBRECTS | COLOURED) != 0 {
                return Err(RfbError::protocol(format!(
                    "Hextile: unknown subencoding {mask:#04x}"
                )));
            }
            if mask & BACKGROUND != 0 {
                bg = read_array(src)?;
            }
            if mask & FOREGROUND != 0 {
                fg = read_array(src)?;
            }
            if mask & ANY_SUBRECTS == 0 {
                fb.fill_rect(t, bg)?;
                continue;
            }
            let count = read_u8(src)? as usize;
            let step = if mask & COLOURED != 0 { 6 } else { 2 };
            let subs = &mut subs[..count * step];
            src.read_exact(subs)?;
            let (tw, th) = (t.w as usize, t.h as usize);
            let stride = tw * BPP;
            let pixels = &mut tile[..stride * th];
            fill(pixels, bg);
            for s in subs.chunks_exact(step) {
                let (colour, xy, wh) = match s {
                    [b, g, r, x, xy, wh] => ([*b, *g, *r, *x], *xy, *wh),
                    [xy, wh] => (fg, *xy, *wh),
                    _ => continue,
                };
                let (sx, sy) = ((xy >> 4) as usize, (xy & 15) as usize);
                let (sw, sh) = ((wh >> 4) as usize + 1, (wh & 15) as usize + 1);
                if sx + sw > tw || sy + sh > th {
                    return Err(RfbError::protocol(format!(
                        "Hextile: subrectangle {sw}x{sh} at {sx},{sy} outside its {tw}x{th} tile"
                    )));
                }
                for row in pixels.chunks_exact_mut(stride).skip(sy).take(sh) {
                    fill(&mut row[sx * BPP..(sx + sw) * BPP], colour);
                }
            }
            for (i, row) in pixels.chunks_exact(stride).enumerate() {
                fb.row_mut(t.x, t.y + i as u16, t.w)?.copy_from_slice(row);
            }
        }
    }
    Ok(())
}
