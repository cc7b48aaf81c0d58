//! The remote screen as the capture thread keeps it: a BGRX framebuffer that
//! records which 16-pixel bands every write touched, plus the cursor overlay.
//! Owns pixels only; knows nothing of sockets, JPEG or HTTP.

/// Height of one JPEG band (one MCU row at 4:2:0 sampling).
pub const BAND: usize = 16;
/// Largest width or height accepted from a server (a cap checked before any allocation).
pub const MAX_DIM: u16 = 8192;
/// Largest screen area accepted (4096², e.g. 8192×2048 or a 4K desktop): the
/// framebuffer and the encoder's copy then take at most 64 MiB each, which a
/// 1 GiB board can afford even when a server announces the most it may.
pub const MAX_PIXELS: usize = 4096 * 4096;
/// Bytes per framebuffer pixel: B, G, R, X (32-bit little-endian, red shift 16).
pub const BPP: usize = 4;

/// A rectangle in framebuffer coordinates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Rect {
    pub x: u16,
    pub y: u16,
    pub w: u16,
    pub h: u16,
}

impl Rect {
    pub const fn new(x: u16, y: u16, w: u16, h: u16) -> Rect {
        Rect { x, y, w, h }
    }
    /// Exclusive right edge, computed without overflow.
    pub fn right(&self) -> u32 {
        self.x as u32 + self.w as u32
    }
    /// Exclusive bottom edge, computed without overflow.
    pub fn bottom(&self) -> u32 {
        self.y as u32 + self.h as u32
    }
    pub fn is_empty(&self) -> bool {
        self.w == 0 || self.h == 0
    }
    /// Number of pixels, as usize (at most 65535² so it cannot overflow on 64-bit; checked on 32-bit).
    pub fn area(&self) -> usize {
        self.w as usize * self.h as usize
    }
}

/// Why a write was refused: the rectangle does not lie inside the framebuffer,
/// or the source buffer is shorter than the rectangle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutOfBounds {
    pub rect: Rect,
    pub width: u16,
    pub height: u16,
}

impl std::fmt::Display for OutOfBounds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "rectangle {}x{} at {},{} lies outside the {}x{} framebuffer",
            self.rect.w, self.rect.h, self.rect.x, self.rect.y, self.width, self.height
        )
    }
}

impl std::error::Error for OutOfBounds {}

/// BGRX pixels with per-band dirty flags. Every mutating method marks the
/// bands it touches; `take_dirty` hands them to the encoder and clears them.
pub struct Framebuffer {
    width: u16,
    height: u16,
    data: Vec<u8>,
    dirty: Vec<bool>,
}

impl Framebuffer {
    /// A black framebuffer, every band dirty. Sizes past `MAX_DIM` or
    /// `MAX_PIXELS` are clamped (callers refuse them first with `check_size`),
    /// so this never allocates more than `MAX_PIXELS` pixels.
    pub fn new(width: u16, height: u16) -> Framebuffer {
        let w = width.clamp(1, MAX_DIM);
        let h = (height.min(MAX_DIM) as usize).min(MAX_PIXELS / w as usize) as u16;
        Framebuffer {
            width: w,
            height: h,
            data: vec![0; w as usize * h as usize * BPP],
            dirty: vec![true; bands_for(h)],
        }
    }

    /// Validates a size announced by a server before anything is allocated.
    pub fn check_size(width: u16, height: u16) -> Result<(), String> {
        if width == 0
            || height == 0
            || width > MAX_DIM
            || height > MAX_DIM
            || width as usize * height as usize > MAX_PIXELS
        {
            return Err(format!(
                "server announced a {width}x{height} screen; vncmon accepts 1..={MAX_DIM} in each \
                 direction and at most {MAX_PIXELS} pixels"
            ));
        }
        Ok(())
    }

    pub fn width(&self) -> u16 {
        self.width
    }
    pub fn height(&self) -> u16 {
        self.height
    }
    /// Bytes per row.
    pub fn stride(&self) -> usize {
        self.width as usize * BPP
    }
    pub fn data(&self) -> &[u8] {
        &self.data
    }
    /// Number of 16-row bands.
    pub fn bands(&self) -> usize {
        self.dirty.len()
    }

    /// Replaces the framebuffer with a black one of the new size; all bands dirty.
    pub fn resize(&mut self, width: u16, height: u16) {
        *self = Framebuffer::new(width, height);
    }

    /// Checks that `r` lies inside the framebuffer.
    pub fn check(&self, r: Rect) -> Result<(), OutOfBounds> {
        if r.right() > self.width as u32 || r.bottom() > self.height as u32 {
            return Err(OutOfBounds {
                rect: r,
                width: self.width,
                height: self.height,
            });
        }
        Ok(())
    }

    /// Marks the bands covering rows `r.y .. r.y + r.h` dirty.
    pub fn mark_dirty(&mut self, r: Rect) {
        if r.is_empty() {
            return;
        }
        let first = r.y as usize / BAND;
        let last = ((r.bottom() as usize - 1) / BAND).min(self.dirty.len().saturating_sub(1));
        for d in self.dirty.iter_mut().take(last + 1).skip(first) {
            *d = true;
        }
    }

    /// Marks every band dirty (e.g. after a resize or a cursor change).
    pub fn mark_all_dirty(&mut self) {
        self.dirty.iter_mut().for_each(|d| *d = true);
    }

    pub fn any_dirty(&self) -> bool {
        self.dirty.iter().any(|d| *d)
    }

    /// Returns the dirty flags (one per band) and clears them.
    pub fn take_dirty(&mut self) -> Vec<bool> {
        let out = self.dirty.clone();
        self.dirty.iter_mut().for_each(|d| *d = false);
        out
    }

    /// The pixel at (x, y) as B, G, R, X. Panics on out-of-range coordinates
    /// (callers pass coordinates they have already checked).
    pub fn pixel(&self, x: u16, y: u16) -> [u8; 4] {
        let o = y as usize * self.stride() + x as usize * BPP;
        [
            self.data[o],
            self.data[o + 1],
            self.data[o + 2],
            self.data[o + 3],
        ]
    }

    /// Row `y`, pixels `x .. x + w`, for a decoder to write into directly.
    /// The caller marks the rectangle dirty (or uses `put_rect`/`fill_rect`).
    pub fn row_mut(&mut self, x: u16, y: u16, w: u16) -> Result<&mut [u8], OutOfBounds> {
        self.check(Rect::new(x, y, w, 1))?;
        let start = y as usize * self.stride() + x as usize * BPP;
        Ok(&mut self.data[start..start + w as usize * BPP])
    }

    /// Fills `r` with one BGRX pixel.
    pub fn fill_rect(&mut self, r: Rect, px: [u8; 4]) -> Result<(), OutOfBounds> {
        self.check(r)?;
        let stride = self.stride();
        for row in r.y as usize..r.bottom() as usize {
            let start = row * stride + r.x as usize * BPP;
            for p in self.data[start..start + r.w as usize * BPP].chunks_exact_mut(BPP) {
                p.copy_from_slice(&px);
            }
        }
        self.mark_dirty(r);
        Ok(())
    }

    /// Copies tightly packed BGRX pixels (`r.w * r.h * 4` bytes) into `r`.
    pub fn put_rect(&mut self, r: Rect, src: &[u8]) -> Result<(), OutOfBounds> {
        self.check(r)?;
        let row_bytes = r.w as usize * BPP;
        if src.len() < row_bytes * r.h as usize {
            return Err(OutOfBounds {
                rect: r,
                width: self.width,
                height: self.height,
            });
        }
        let stride = self.stride();
        for (i, row) in (r.y as usize..r.bottom() as usize).enumerate() {
            let start = row * stride + r.x as usize * BPP;
            self.data[start..start + row_bytes]
                .copy_from_slice(&src[i * row_bytes..(i + 1) * row_bytes]);
        }
        self.mark_dirty(r);
        Ok(())
    }

    /// CopyRect: copies the `dst.w`×`dst.h` area at (`src_x`, `src_y`) to `dst`.
    /// Overlapping areas are handled (rows are copied in a safe order).
    pub fn copy_rect(&mut self, dst: Rect, src_x: u16, src_y: u16) -> Result<(), OutOfBounds> {
        self.check(dst)?;
        self.check(Rect::new(src_x, src_y, dst.w, dst.h))?;
        let stride = self.stride();
        let row_bytes = dst.w as usize * BPP;
        let rows: Box<dyn Iterator<Item = usize>> = if dst.y > src_y {
            Box::new((0..dst.h as usize).rev())
        } else {
            Box::new(0..dst.h as usize)
        };
        for i in rows {
            let s = (src_y as usize + i) * stride + src_x as usize * BPP;
            let d = (dst.y as usize + i) * stride + dst.x as usize * BPP;
            self.data.copy_within(s..s + row_bytes, d);
        }
        self.mark_dirty(dst);
        Ok(())
    }
}

fn bands_for(height: u16) -> usize {
    (height as usize).div_ceil(BAND)
}

/// A cursor shape as sent by the Cursor pseudo-encoding: BGRX pixels and a
/// 1-bit mask (rows padded to whole bytes, most significant bit first).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cursor {
    pub hot_x: u16,
    pub hot_y: u16,
    pub width: u16,
    pub height: u16,
    pub pixels: Vec<u8>,
    pub mask: Vec<u8>,
}

impl Cursor {
    /// Whether the cursor pixel at (cx, cy) is opaque.
    pub fn opaque(&self, cx: usize, cy: usize) -> bool {
        let row_bytes = (self.width as usize).div_ceil(8);
        self.mask
            .get(cy * row_bytes + cx / 8)
            .is_some_and(|b| b & (0x80 >> (cx % 8)) != 0)
    }
}

/// The framebuffer plus the cursor drawn over it in served frames. The
/// framebuffer itself never contains the cursor, so moving it repaints only
/// the bands it left and entered. The cursor is drawn only once its position
/// is known (from our own pointer events or the server's position reports):
/// until then a server that knows better (TigerVNC) draws it itself.
pub struct Screen {
    pub fb: Framebuffer,
    cursor: Option<Cursor>,
    pos: Option<(u16, u16)>,
}

impl Screen {
    pub fn new(width: u16, height: u16) -> Screen {
        Screen {
            fb: Framebuffer::new(width, height),
            cursor: None,
            pos: None,
        }
    }

    pub fn width(&self) -> u16 {
        self.fb.width()
    }
    pub fn height(&self) -> u16 {
        self.fb.height()
    }

    /// Resizes (a DesktopSize change); the cursor position is clamped.
    pub fn resize(&mut self, width: u16, height: u16) {
        self.fb.resize(width, height);
        self.pos = self.pos.map(|(x, y)| {
            (
                x.min(width.saturating_sub(1)),
                y.min(height.saturating_sub(1)),
            )
        });
    }

    pub fn cursor(&self) -> Option<&Cursor> {
        self.cursor.as_ref()
    }
    /// Where the pointer is, once known.
    pub fn cursor_pos(&self) -> Option<(u16, u16)> {
        self.pos
    }

    /// Replaces the cursor shape (None hides it).
    pub fn set_cursor(&mut self, cursor: Option<Cursor>) {
        self.mark_cursor_dirty();
        self.cursor = cursor.filter(|c| c.width > 0 && c.height > 0);
        self.mark_cursor_dirty();
    }

    /// Moves the pointer; marks the bands the cursor leaves and enters.
    pub fn move_cursor(&mut self, x: u16, y: u16) {
        let x = x.min(self.width().saturating_sub(1));
        let y = y.min(self.height().saturating_sub(1));
        if Some((x, y)) == self.pos {
            return;
        }
        self.mark_cursor_dirty();
        self.pos = Some((x, y));
        self.mark_cursor_dirty();
    }

    /// The rows the cursor covers, clipped to the screen, as (first, end).
    fn cursor_rows(&self) -> Option<(usize, usize)> {
        let c = self.cursor.as_ref()?;
        let top = self.pos?.1 as i64 - c.hot_y as i64;
        let first = top.max(0) as usize;
        let end = ((top + c.height as i64).max(0) as usize).min(self.height() as usize);
        (first < end).then_some((first, end))
    }

    fn mark_cursor_dirty(&mut self) {
        if let Some((first, end)) = self.cursor_rows() {
            self.fb
                .mark_dirty(Rect::new(0, first as u16, 1, (end - first) as u16));
        }
    }

    /// Copies rows `y0 .. y0 + rows` into `out` (tightly packed BGRX) with the
    /// cursor drawn over them. `out` is cleared first.
    pub fn compose_rows(&self, y0: usize, rows: usize, out: &mut Vec<u8>) {
        let stride = self.fb.stride();
        let end = (y0 + rows).min(self.height() as usize);
        out.clear();
        if y0 >= end {
            return;
        }
        out.extend_from_slice(&self.fb.data()[y0 * stride..end * stride]);
        let (Some(c), Some((px, py))) = (self.cursor.as_ref(), self.pos) else {
            return;
        };
        let left = px as i64 - c.hot_x as i64;
        let top = py as i64 - c.hot_y as i64;
        for cy in 0..c.height as usize {
            let y = top + cy as i64;
            if y < y0 as i64 || y >= end as i64 {
                continue;
            }
            for cx in 0..c.width as usize {
                let x = left + cx as i64;
                if x < 0 || x >= self.width() as i64 || !c.opaque(cx, cy) {
                    continue;
                }
                let s = (cy * c.width as usize + cx) * BPP;
                let d = (y as usize - y0) * stride + x as usize * BPP;
                if let (Some(src), Some(dst)) = (c.pixels.get(s..s + BPP), out.get_mut(d..d + BPP))
                {
                    dst.copy_from_slice(src);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_mark_only_touched_bands() {
        let mut fb = Framebuffer::new(64, 64);
        fb.take_dirty();
        fb.fill_rect(Rect::new(0, 17, 4, 2), [1, 2, 3, 0]).unwrap();
        assert_eq!(fb.take_dirty(), vec![false, true, false, false]);
        fb.fill_rect(Rect::new(0, 15, 4, 2), [1, 2, 3, 0]).unwrap();
        assert_eq!(fb.take_dirty(), vec![true, true, false, false]);
        assert!(!fb.any_dirty());
    }

    #[test]
    fn out_of_bounds_is_refused_without_touching_pixels() {
        let mut fb = Framebuffer::new(10, 10);
        assert!(fb.fill_rect(Rect::new(5, 5, 6, 1), [9; 4]).is_err());
        assert!(fb.put_rect(Rect::new(0, 0, 2, 2), &[0; 15]).is_err());
        assert!(fb.copy_rect(Rect::new(0, 0, 4, 4), 8, 8).is_err());
        assert!(fb.row_mut(65535, 0, 2).is_err());
        assert!(fb.data().iter().all(|b| *b == 0));
    }

    #[test]
    fn sizes_are_capped_in_each_direction_and_in_area() {
        assert!(Framebuffer::check_size(8192, 2048).is_ok());
        assert!(Framebuffer::check_size(3840, 2160).is_ok());
        assert!(Framebuffer::check_size(8192, 2049).is_err());
        assert!(Framebuffer::check_size(8193, 1).is_err());
        assert!(Framebuffer::check_size(0, 10).is_err());
        let fb = Framebuffer::new(8192, 8192);
        assert_eq!((fb.width(), fb.height()), (8192, 2048));
        assert_eq!(fb.data().len(), MAX_PIXELS * BPP);
        assert_eq!(Framebuffer::new(4, 9000).height(), MAX_DIM);
    }

    #[test]
    fn copy_rect_handles_overlap() {
        let mut fb = Framebuffer::new(4, 4);
        for y in 0..4u16 {
            fb.fill_rect(Rect::new(0, y, 4, 1), [y as u8; 4]).unwrap();
        }
        fb.copy_rect(Rect::new(0, 1, 4, 3), 0, 0).unwrap();
        let rows: Vec<u8> = (0..4).map(|y| fb.pixel(0, y)[0]).collect();
        assert_eq!(rows, vec![0, 0, 1, 2]);
    }

    #[test]
    fn cursor_is_composed_but_not_stored() {
        let mut s = Screen::new(8, 8);
        s.set_cursor(Some(Cursor {
            hot_x: 0,
            hot_y: 0,
            width: 2,
            height: 1,
            pixels: vec![255; 8],
            mask: vec![0b1000_0000],
        }));
        let mut out = Vec::new();
        s.compose_rows(0, 8, &mut out);
        assert!(
            out.iter().all(|b| *b == 0),
            "no cursor while its position is unknown"
        );
        s.move_cursor(3, 2);
        assert_eq!(s.cursor_pos(), Some((3, 2)));
        s.compose_rows(0, 8, &mut out);
        let at = |x: usize, y: usize| out[(y * 8 + x) * 4];
        assert_eq!(at(3, 2), 255);
        assert_eq!(at(4, 2), 0, "masked-out cursor pixel is transparent");
        assert!(s.fb.data().iter().all(|b| *b == 0));
    }
}
