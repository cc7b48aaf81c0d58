//! Pseudo-encodings that change the screen rather than its pixels:
//! DesktopSize, ExtendedDesktopSize and the Cursor shape.

use std::io::Read;

use super::read_array;
use crate::rfb::RfbError;
use crate::screen::{BPP, Cursor, Framebuffer, Rect, Screen};

/// Largest cursor accepted, in each direction.
pub const MAX_CURSOR: u16 = 512;

/// DesktopSize: the rectangle's size is the new screen size.
pub fn desktop_size(rect: Rect, screen: &mut Screen) -> Result<(), RfbError> {
    resize(rect, screen)
}

/// Resizes after checking the size. An unchanged size keeps the pixels:
/// servers announce the layout without a change, and a cleared screen would
/// stay black until the next full update.
fn resize(rect: Rect, screen: &mut Screen) -> Result<(), RfbError> {
    Framebuffer::check_size(rect.w, rect.h).map_err(RfbError::Protocol)?;
    if (rect.w, rect.h) != (screen.width(), screen.height()) {
        screen.resize(rect.w, rect.h);
    }
    Ok(())
}

/// ExtendedDesktopSize: x is the reason, y the status; the screen list
/// (at most 255 entries of 16 bytes) is read and ignored. Resizes only when
/// the status says success.
pub fn ext_desktop_size<R: Read>(
    src: &mut R,
    rect: Rect,
    screen: &mut Screen,
) -> Result<(), RfbError> {
    let head = read_array::<4, R>(src)?;
    for _ in 0..head[0] {
        read_array::<16, R>(src)?;
    }
    if rect.y == 0 {
        resize(rect, screen)?;
    }
    Ok(())
}

/// Cursor: `w * h` BGRX pixels, then a 1-bit mask with rows padded to bytes;
/// the hotspot is the rectangle's position. An empty cursor hides it.
pub fn cursor<R: Read>(src: &mut R, rect: Rect, screen: &mut Screen) -> Result<(), RfbError> {
    if rect.w > MAX_CURSOR || rect.h > MAX_CURSOR {
        return Err(RfbError::protocol(format!(
            "a {}x{} cursor is larger than {MAX_CURSOR}x{MAX_CURSOR}",
            rect.w, rect.h
        )));
    }
    if rect.is_empty() {
        screen.set_cursor(None);
        return Ok(());
    }
    let mut pixels = vec![0; rect.area() * BPP];
    src.read_exact(&mut pixels)?;
    let mut mask = vec![0; (rect.w as usize).div_ceil(8) * rect.h as usize];
    src.read_exact(&mut mask)?;
    screen.set_cursor(Some(Cursor {
        hot_x: rect.x,
        hot_y: rect.y,
        width: rect.w,
        height: rect.h,
        pixels,
        mask,
    }));
    Ok(())
}
