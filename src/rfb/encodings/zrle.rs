//! ZRLE: one zlib stream for the whole session, inflated on demand into
//! 64×64 tiles (raw, solid, packed palette, plain RLE, palette RLE) of 3-byte
//! CPIXELs (B, G, R). Touches only the given rectangle.

use std::io::Read;

use super::zlib::{Bytes, ZlibReader, compressed_cap};
use super::{Decoders, bgr, fill, read_array};
use crate::rfb::RfbError;
use crate::screen::{BPP, Framebuffer, Rect};

pub const TILE: usize = 64;

pub fn zrle<R: Read>(
    src: &mut R,
    rect: Rect,
    fb: &mut Framebuffer,
    d: &mut Decoders,
) -> Result<(), RfbError> {
    let len = u32::from_be_bytes(read_array::<4, R>(src)?) as usize;
    let tiles = (rect.w as usize).div_ceil(TILE) * (rect.h as usize).div_ceil(TILE);
    // The longest valid tile data: plain RLE runs of one pixel, or a full palette.
    let cap = compressed_cap(rect.area() * 4 + tiles * (1 + 127 * 3));
    if len > cap {
        return Err(RfbError::protocol(format!(
            "ZRLE: {len} bytes of zlib data for a {}x{} rectangle",
            rect.w, rect.h
        )));
    }
    let mut z = ZlibReader::new(src, len, &mut d.zrle, &mut d.zbuf);
    for ty in (0..rect.h).step_by(TILE) {
        for tx in (0..rect.w).step_by(TILE) {
            let t = Rect::new(
                rect.x + tx,
                rect.y + ty,
                (TILE as u16).min(rect.w - tx),
                (TILE as u16).min(rect.h - ty),
            );
            tile(&mut z, t, fb, &mut d.tile)?;
        }
    }
    z.finish()
}

/// Decodes one tile `t` (at most 64×64, inside the framebuffer).
fn tile<B: Bytes>(
    z: &mut B,
    t: Rect,
    fb: &mut Framebuffer,
    buf: &mut [u8],
) -> Result<(), RfbError> {
    let (tw, th) = (t.w as usize, t.h as usize);
    let sub = z.byte()?;
    match sub {
        0 => {
            let data = z.take(tw * th * 3)?;
            for (i, src) in data.chunks_exact(tw * 3).enumerate() {
                let row = fb.row_mut(t.x, t.y + i as u16, t.w)?;
                for (d, s) in row.chunks_exact_mut(BPP).zip(src.chunks_exact(3)) {
                    d.copy_from_slice(&bgr(s));
                }
            }
        }
        1 => {
            let px = bgr(z.take(3)?);
            fb.fill_rect(t, px)?;
        }
        2..=16 => {
            let n = sub as usize;
            let mut pal = [[0u8; 4]; 16];
            for (e, s) in pal.iter_mut().zip(z.take(n * 3)?.chunks_exact(3)) {
                *e = bgr(s);
            }
            let bits = match n {
                2 => 1,
                3 | 4 => 2,
                _ => 4,
            };
            for y in 0..t.h {
                let packed = z.take((tw * bits).div_ceil(8))?;
                unpack(packed, bits, &pal[..n], fb.row_mut(t.x, t.y + y, t.w)?)?;
            }
        }
        128 | 130..=255 => {
            let pixels = &mut buf[..tw * th * BPP];
            if sub == 128 {
                plain_rle(z, pixels)?;
            } else {
                let n = sub as usize - 128;
                let mut pal = [[0u8; 4]; 127];
                for (e, s) in pal.iter_mut().zip(z.take(n * 3)?.chunks_exact(3)) {
                    *e = bgr(s);
                }
                palette_rle(z, &pal[..n], pixels)?;
            }
            for (i, row) in pixels.chunks_exact(tw * BPP).enumerate() {
                fb.row_mut(t.x, t.y + i as u16, t.w)?.copy_from_slice(row);
            }
        }
        _ => {
            return Err(RfbError::protocol(format!(
                "ZRLE: invalid subencoding {sub}"
            )));
        }
    }
    Ok(())
}

/// Expands one row of `bits`-bit palette indices (most significant first)
/// into BGRX pixels.
pub(super) fn unpack(
    packed: &[u8],
    bits: usize,
    pal: &[[u8; 4]],
    row: &mut [u8],
) -> Result<(), RfbError> {
    let per_byte = 8 / bits;
    let mask = ((1u16 << bits) - 1) as u8;
    for (&byte, out) in packed.iter().zip(row.chunks_mut(per_byte * BPP)) {
        for (k, px) in out.chunks_exact_mut(BPP).enumerate() {
            let i = (byte >> (8 - bits * (k + 1))) & mask;
            let c = pal.get(i as usize).ok_or_else(|| bad_index(i, pal.len()))?;
            px.copy_from_slice(c);
        }
    }
    Ok(())
}

fn bad_index(i: u8, n: usize) -> RfbError {
    RfbError::protocol(format!("palette index {i} past a {n}-colour palette"))
}

/// A run length: one more than the sum of its bytes, ending at a byte < 255.
fn run_length<B: Bytes>(z: &mut B, max: usize) -> Result<usize, RfbError> {
    let mut len = 1usize;
    loop {
        let b = z.byte()?;
        len += b as usize;
        if len > max {
            return Err(RfbError::protocol("ZRLE: run past the end of its tile"));
        }
        if b != 255 {
            return Ok(len);
        }
    }
}

fn plain_rle<B: Bytes>(z: &mut B, pixels: &mut [u8]) -> Result<(), RfbError> {
    let mut pos = 0;
    while pos < pixels.len() {
        let px = bgr(z.take(3)?);
        let run = run_length(z, (pixels.len() - pos) / BPP)?;
        fill(&mut pixels[pos..pos + run * BPP], px);
        pos += run * BPP;
    }
    Ok(())
}

fn palette_rle<B: Bytes>(z: &mut B, pal: &[[u8; 4]], pixels: &mut [u8]) -> Result<(), RfbError> {
    let mut pos = 0;
    while pos < pixels.len() {
        let i = z.byte()?;
        let px = *pal
            .get((i & 0x7f) as usize)
            .ok_or_else(|| bad_index(i & 0x7f, pal.len()))?;
        let run = if i & 0x80 != 0 {
            run_length(z, (pixels.len() - pos) / BPP)?
        } else {
            1
        };
        fill(&mut pixels[pos..pos + run * BPP], px);
        pos += run * BPP;
    }
    Ok(())
}
