//! Rectangle arithmetic and a small dirty region (a few rectangles) for the
//! demo server: what one client has not been sent yet.

use crate::screen::Rect;

/// The overlap of two rectangles, or `None` when they do not overlap.
pub fn intersect(a: Rect, b: Rect) -> Option<Rect> {
    let x0 = a.x.max(b.x);
    let y0 = a.y.max(b.y);
    let x1 = a.right().min(b.right());
    let y1 = a.bottom().min(b.bottom());
    if u32::from(x0) >= x1 || u32::from(y0) >= y1 {
        return None;
    }
    // Both edges lie within `a`, so the sizes fit in u16.
    Some(Rect::new(
        x0,
        y0,
        (x1 - u32::from(x0)) as u16,
        (y1 - u32::from(y0)) as u16,
    ))
}

/// The smallest rectangle holding both (sizes saturate at `u16::MAX`).
pub fn union(a: Rect, b: Rect) -> Rect {
    let x0 = a.x.min(b.x);
    let y0 = a.y.min(b.y);
    let x1 = a.right().max(b.right());
    let y1 = a.bottom().max(b.bottom());
    let w = u16::try_from(x1 - u32::from(x0)).unwrap_or(u16::MAX);
    let h = u16::try_from(y1 - u32::from(y0)).unwrap_or(u16::MAX);
    Rect::new(x0, y0, w, h)
}

/// True when the rectangles overlap or share an edge (merging them wastes nothing).
fn touches(a: Rect, b: Rect) -> bool {
    u32::from(a.x) <= b.right()
        && u32::from(b.x) <= a.right()
        && u32::from(a.y) <= b.bottom()
        && u32::from(b.y) <= a.bottom()
}

/// `a` minus `b` as up to four rectangles (above, below, left, right of the overlap).
fn subtract(a: Rect, b: Rect, out: &mut Vec<Rect>) {
    let Some(i) = intersect(a, b) else {
        out.push(a);
        return;
    };
    let pieces = [
        Rect::new(a.x, a.y, a.w, i.y - a.y),
        Rect::new(a.x, i.y + i.h, a.w, (a.bottom() - i.bottom()) as u16),
        Rect::new(a.x, i.y, i.x - a.x, i.h),
        Rect::new(i.x + i.w, i.y, (a.right() - i.right()) as u16, i.h),
    ];
    out.extend(pieces.into_iter().filter(|r| !r.is_empty()));
}

/// Dirty rectangles, merged when they touch; past `MAX_RECTS` they collapse
/// into their bounding box so the list never grows.
#[derive(Debug, Default, Clone)]
pub struct Region {
    rects: Vec<Rect>,
}

const MAX_RECTS: usize = 8;

impl Region {
    pub fn rects(&self) -> &[Rect] {
        &self.rects
    }

    pub fn add(&mut self, r: Rect) {
        if r.is_empty() {
            return;
        }
        let mut merged = r;
        // Merging can make the new rectangle touch others: repeat until stable.
        while let Some(pos) = self.rects.iter().position(|&o| touches(o, merged)) {
            merged = union(merged, self.rects.swap_remove(pos));
        }
        self.rects.push(merged);
        if self.rects.len() > MAX_RECTS {
            let bbox = self.rects.iter().copied().reduce(union);
            self.rects.clear();
            self.rects.extend(bbox);
        }
    }

    /// Moves the parts inside `area` to `out`; the parts outside stay dirty.
    pub fn take_within(&mut self, area: Rect, out: &mut Vec<Rect>) {
        let mut rest = Vec::new();
        for r in self.rects.drain(..) {
            if let Some(i) = intersect(r, area) {
                out.push(i);
                subtract(r, area, &mut rest);
            } else {
                rest.push(r);
            }
        }
        self.rects = rest;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn area(rs: &[Rect]) -> usize {
        rs.iter().map(Rect::area).sum()
    }

    #[test]
    fn intersect_and_union() {
        let a = Rect::new(0, 0, 10, 10);
        let b = Rect::new(5, 5, 10, 10);
        assert_eq!(intersect(a, b), Some(Rect::new(5, 5, 5, 5)));
        assert_eq!(intersect(a, Rect::new(10, 0, 5, 5)), None);
        assert_eq!(union(a, b), Rect::new(0, 0, 15, 15));
        assert_eq!(
            union(Rect::new(0, 0, 1, 1), Rect::new(65535, 65535, 65535, 65535)),
            Rect::new(0, 0, 65535, 65535)
        );
    }

    #[test]
    fn touching_rects_merge_and_far_ones_do_not() {
        let mut r = Region::default();
        r.add(Rect::new(0, 0, 10, 10));
        r.add(Rect::new(10, 0, 10, 10));
        assert_eq!(r.rects(), &[Rect::new(0, 0, 20, 10)]);
        r.add(Rect::new(100, 100, 5, 5));
        assert_eq!(r.rects().len(), 2);
        r.add(Rect::new(0, 0, 0, 5));
        assert_eq!(r.rects().len(), 2);
    }

    #[test]
    fn many_rects_collapse_to_the_bounding_box() {
        let mut r = Region::default();
        for i in 0..20u16 {
            r.add(Rect::new(i * 20, i * 20, 5, 5));
        }
        assert!(r.rects().len() <= MAX_RECTS);
        let bbox = r.rects().iter().copied().reduce(union);
        assert_eq!(bbox, Some(Rect::new(0, 0, 385, 385)));
    }

    #[test]
    fn take_within_keeps_the_outside_part() {
        let mut r = Region::default();
        r.add(Rect::new(0, 0, 100, 100));
        let mut out = Vec::new();
        r.take_within(Rect::new(25, 25, 50, 50), &mut out);
        assert_eq!(out, vec![Rect::new(25, 25, 50, 50)]);
        assert_eq!(area(r.rects()), 100 * 100 - 50 * 50);
        for &piece in r.rects() {
            assert_eq!(intersect(piece, Rect::new(25, 25, 50, 50)), None);
        }
        out.clear();
        r.take_within(Rect::new(0, 0, 100, 100), &mut out);
        assert!(r.rects().is_empty());
        assert_eq!(area(&out), 100 * 100 - 50 * 50);
    }
}
