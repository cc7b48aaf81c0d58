//! What the encode and decode benchmarks share: a desktop-like screen and
//! the median of timed samples.

use std::time::Duration;

use vncmon::screen::{Rect, Screen};

/// The median of `samples`, in seconds (sorts them).
pub fn median_secs(samples: &mut [Duration]) -> f64 {
    samples.sort();
    samples[samples.len() / 2].as_secs_f64()
}

/// A desktop-like screen: a gradient wallpaper, windows with title bars and
/// lines of text-like glyphs (random 8×16 stroke patterns). `seed` shifts the
/// wallpaper and the text, so two seeds differ in every band.
pub fn desktop(w: u16, h: u16, seed: u32) -> Screen {
    let (wu, hu) = (w as usize, h as usize);
    let mut rng = seed.wrapping_mul(0x9E37_79B9) | 1;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 17;
        rng ^= rng << 5;
        rng
    };
    let mut px = Vec::with_capacity(wu * hu * 4);
    for y in 0..hu {
        for x in 0..wu {
            let t = (x + y + seed as usize * 37) % 512;
            let v = if t < 256 { t } else { 511 - t } as u8;
            px.extend_from_slice(&[120u8.saturating_add(v / 2), 60 + v / 4, 30 + v / 5, 0]);
        }
    }
    let mut s = Screen::new(w, h);
    s.fb.put_rect(Rect::new(0, 0, w, h), &px)
        .expect("whole screen");
    // Windows: (x, y, w, h) as fractions of the screen.
    let windows = [
        (0.05, 0.08, 0.55, 0.6),
        (0.45, 0.3, 0.5, 0.62),
        (0.1, 0.72, 0.3, 0.24),
    ];
    for (i, &(fx, fy, fw, fh)) in windows.iter().enumerate() {
        let r = Rect::new(
            (fx * w as f64) as u16,
            (fy * h as f64) as u16,
            (fw * w as f64) as u16,
            (fh * h as f64) as u16,
        );
        let title = Rect::new(r.x, r.y, r.w, 24.min(r.h));
        let body = [245, 245, 240 - 10 * i as u8, 0];
        s.fb.fill_rect(r, body).expect("window inside");
        s.fb.fill_rect(title, [140, 90, 50, 0])
            .expect("title inside");
        // Text lines: glyph cells 8×16, some blank (spaces), strokes dark.
        let mut y = r.y as usize + 32;
        while y + 16 <= r.bottom() as usize {
            let mut x = r.x as usize + 8;
            let line_len = (next() as usize % (r.w as usize / 8)).max(4);
            for _ in 0..line_len {
                if x + 8 > r.right() as usize - 8 {
                    break;
                }
                if next() % 6 != 0 {
                    for gy in 3..14 {
                        let bits = next();
                        for gx in 0..7 {
                            if bits & (1 << gx) != 0 && bits & (1 << (gx + 8)) != 0 {
                                let p = Rect::new((x + gx) as u16, (y + gy) as u16, 1, 1);
                                s.fb.fill_rect(p, [40, 35, 30, 0]).expect("glyph inside");
                            }
                        }
                    }
                }
                x += 8;
            }
            y += 18;
        }
    }
    s.fb.take_dirty();
    s
}
