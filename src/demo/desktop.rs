//! The demo scene: its state (clock, ball, typed text, buttons, last click),
//! its 0x00RRGGBB pixels, and a log of what changed so each client can ask
//! "what is new since I last looked". Pure: no sockets, no threads, no clock.

use std::collections::VecDeque;

use super::font;
use super::region::{Region, union};
use crate::screen::Rect;

/// Where things are on the 800×480 screen (the size of a Raspberry Pi touch screen).
pub mod layout {
    use crate::screen::Rect;

    pub const WIDTH: u16 = 800;
    pub const HEIGHT: u16 = 480;
    pub const SCREEN: Rect = Rect::new(0, 0, WIDTH, HEIGHT);
    pub const HEADER: Rect = Rect::new(0, 0, WIDTH, 56);
    /// "HH:MM:SS UTC" at scale 3.
    pub const CLOCK: Rect = Rect::new(568, 16, 216, 24);
    /// The box the ball bounces in.
    pub const ARENA: Rect = Rect::new(16, 72, 768, 120);
    /// The typed text: the previous line above the current one.
    pub const TEXT_BOX: Rect = Rect::new(16, 228, 768, 64);
    pub const BUTTON_LABELS: [&str; 4] = ["Alpha", "Bravo", "Charlie", "Delta"];
    pub const BUTTONS: [Rect; 4] = [
        Rect::new(16, 308, 180, 64),
        Rect::new(212, 308, 180, 64),
        Rect::new(408, 308, 180, 64),
        Rect::new(604, 308, 180, 64),
    ];
    /// "Last click: x,y (button n)".
    pub const CLICK_LINE: Rect = Rect::new(16, 392, 768, 16);
    /// Viewers, keys and clicks counted.
    pub const STATS_LINE: Rect = Rect::new(16, 420, 768, 16);
}

use layout::*;

const BACKGROUND: u32 = 0x20283a;
const HEADER_BG: u32 = 0x141b2b;
const TITLE: u32 = 0xffffff;
const CLOCK_FG: u32 = 0x9fe3ff;
const LABEL: u32 = 0xc8d0e0;
const DIM: u32 = 0x8090a8;
const ARENA_BG: u32 = 0x101826;
const BORDER: u32 = 0x4a5a7b;
const BALL: u32 = 0xffa630;
const TEXT_BG: u32 = 0xf4f4f0;
const TEXT_FG: u32 = 0x101010;
const TEXT_OLD: u32 = 0x808080;
const BUTTON_OFF: u32 = 0x46506a;
const BUTTON_ON: [u32; 4] = [0x2e9e5b, 0xd9534f, 0x3b82f6, 0xe0a800];

const BALL_R: i32 = 14;
/// Characters kept per text line: what fits in the box at scale 2, less the caret.
const LINE_CHARS: usize = (TEXT_BOX.w as usize - 16) / (font::ADVANCE * 2) - 1;
/// Change log entries kept; a client further behind gets the whole screen.
const DAMAGE_LOG: usize = 256;

pub struct Desktop {
    pixels: Vec<u32>,
    seq: u64,
    damage: VecDeque<(u64, Rect)>,
    clock: Option<u64>,
    ball: (i32, i32),
    velocity: (i32, i32),
    line: String,
    previous: String,
    buttons: [bool; 4],
    last_click: Option<(u16, u16, u8)>,
    viewers: usize,
    keys: u64,
    clicks: u64,
}

impl Default for Desktop {
    fn default() -> Self {
        Desktop::new()
    }
}

impl Desktop {
    /// The scene with everything drawn; the clock shows `--:--:--` until the first tick.
    pub fn new() -> Desktop {
        let mut d = Desktop {
            pixels: vec![BACKGROUND; SCREEN.area()],
            seq: 0,
            damage: VecDeque::with_capacity(DAMAGE_LOG),
            clock: None,
            ball: (ARENA.x as i32 + 60, ARENA.y as i32 + 40),
            velocity: (5, 3),
            line: String::new(),
            previous: String::new(),
            buttons: [false; 4],
            last_click: None,
            viewers: 0,
            keys: 0,
            clicks: 0,
        };
        d.fill(HEADER, HEADER_BG);
        d.text(16, 16, 3, TITLE, "vncmon demo desktop");
        d.draw_clock();
        d.frame(ARENA, ARENA_BG);
        d.draw_ball(BALL);
        let label = "Keys typed (Return: new line, BackSpace: delete)";
        d.text(16, 204, 2, LABEL, label);
        d.draw_text_box();
        for i in 0..BUTTONS.len() {
            d.draw_button(i);
        }
        d.draw_click_line();
        d.draw_stats();
        let hint = "Click a button or type: every viewer sees it.";
        d.text(16, 452, 2, DIM, hint);
        d
    }

    /// `w` pixels of row `y` from column `x`, or `None` outside the screen.
    pub fn row(&self, x: u16, y: u16, w: u16) -> Option<&[u32]> {
        if u32::from(x) + u32::from(w) > u32::from(WIDTH) || y >= HEIGHT {
            return None;
        }
        let start = usize::from(y) * usize::from(WIDTH) + usize::from(x);
        self.pixels.get(start..start + usize::from(w))
    }

    /// Adds to `out` what changed after change number `seen`; returns the
    /// current change number to pass next time.
    pub fn changes_since(&self, seen: u64, out: &mut Region) -> u64 {
        if seen >= self.seq {
            return self.seq;
        }
        match self.damage.front() {
            Some(&(oldest, _)) if oldest <= seen + 1 => {
                for &(_, r) in self.damage.iter().filter(|(s, _)| *s > seen) {
                    out.add(r);
                }
            }
            _ => out.add(SCREEN),
        }
        self.seq
    }

    /// Advances the ball one step and shows `unix_secs` on the clock.
    pub fn tick(&mut self, unix_secs: u64) {
        let old = self.ball_rect();
        self.draw_ball(ARENA_BG);
        let (mut x, mut y) = (self.ball.0 + self.velocity.0, self.ball.1 + self.velocity.1);
        let (x0, x1) = (
            ARENA.x as i32 + 2 + BALL_R,
            ARENA.right() as i32 - 3 - BALL_R,
        );
        let (y0, y1) = (
            ARENA.y as i32 + 2 + BALL_R,
            ARENA.bottom() as i32 - 3 - BALL_R,
        );
        if x < x0 || x > x1 {
            self.velocity.0 = -self.velocity.0;
            x = x.clamp(x0, x1);
        }
        if y < y0 || y > y1 {
            self.velocity.1 = -self.velocity.1;
            y = y.clamp(y0, y1);
        }
        self.ball = (x, y);
        self.draw_ball(BALL);
        self.damaged(union(old, self.ball_rect()));
        if self.clock != Some(unix_secs) {
            self.clock = Some(unix_secs);
            self.draw_clock();
        }
    }

    /// A key was pressed (X keysym): printable characters are appended,
    /// BackSpace deletes, Return starts a new line; other keys are ignored.
    pub fn key(&mut self, keysym: u32) {
        match keysym {
            0xff08 => {
                self.line.pop();
            }
            0xff0d | 0xff8d => self.previous = std::mem::take(&mut self.line),
            _ => match printable(keysym) {
                Some(c) => self.line.push(c),
                None => return,
            },
        }
        if self.line.chars().count() > LINE_CHARS {
            self.line.remove(0);
        }
        self.keys += 1;
        self.draw_text_box();
        self.draw_stats();
    }

    /// A mouse button went down at (x, y): a left press inside a button toggles it.
    pub fn click(&mut self, x: u16, y: u16, button: u8) {
        self.last_click = Some((x, y, button));
        self.clicks += 1;
        if button == 1 {
            let hit = BUTTONS.iter().position(|b| contains(*b, x, y));
            if let Some(i) = hit {
                if let Some(on) = self.buttons.get_mut(i) {
                    *on = !*on;
                }
                self.draw_button(i);
            }
        }
        self.draw_click_line();
        self.draw_stats();
    }

    pub fn set_viewers(&mut self, n: usize) {
        if self.viewers != n {
            self.viewers = n;
            self.draw_stats();
        }
    }

    pub fn button_on(&self, i: usize) -> bool {
        self.buttons.get(i).copied().unwrap_or(false)
    }

    fn ball_rect(&self) -> Rect {
        let (x, y) = self.ball;
        let d = (2 * BALL_R + 1) as u16;
        Rect::new((x - BALL_R) as u16, (y - BALL_R) as u16, d, d)
    }

    fn damaged(&mut self, r: Rect) {
        self.seq += 1;
        if self.damage.len() == DAMAGE_LOG {
            self.damage.pop_front();
        }
        self.damage.push_back((self.seq, r));
    }

    fn draw_clock(&mut self) {
        let text = match self.clock {
            Some(t) => {
                let s = t % 86_400;
                format!("{:02}:{:02}:{:02} UTC", s / 3600, s / 60 % 60, s % 60)
            }
            None => "--:--:-- UTC".to_string(),
        };
        self.fill(CLOCK, HEADER_BG);
        self.text(CLOCK.x, CLOCK.y, 3, CLOCK_FG, &text);
        self.damaged(CLOCK);
    }

    fn draw_text_box(&mut self) {
        let b = TEXT_BOX;
        self.frame(b, TEXT_BG);
        let previous = std::mem::take(&mut self.previous);
        self.text(b.x + 8, b.y + 8, 2, TEXT_OLD, &previous);
        self.previous = previous;
        let line = std::mem::take(&mut self.line);
        self.text(b.x + 8, b.y + 34, 2, TEXT_FG, &line);
        let caret_x = b.x + 8 + font::text_width(line.chars().count(), 2) as u16;
        self.line = line;
        self.fill(Rect::new(caret_x, b.y + 32, 3, 20), TEXT_FG);
        self.damaged(b);
    }

    fn draw_button(&mut self, i: usize) {
        let (Some(&b), Some(&label)) = (BUTTONS.get(i), BUTTON_LABELS.get(i)) else {
            return;
        };
        let bg = match (self.button_on(i), BUTTON_ON.get(i)) {
            (true, Some(&c)) => c,
            _ => BUTTON_OFF,
        };
        self.frame(b, bg);
        let tw = (font::text_width(label.len(), 3) as u16).saturating_sub(3);
        self.text(b.x + b.w.saturating_sub(tw) / 2, b.y + 20, 3, TITLE, label);
        self.damaged(b);
    }

    fn draw_click_line(&mut self) {
        let text = match self.last_click {
            Some((x, y, b)) => format!("Last click: {x},{y} (button {b})"),
            None => "Last click: none".to_string(),
        };
        self.line_of_text(CLICK_LINE, LABEL, &text);
    }

    fn draw_stats(&mut self) {
        let text = format!(
            "Viewers: {}   Keys: {}   Clicks: {}",
            self.viewers, self.keys, self.clicks
        );
        self.line_of_text(STATS_LINE, LABEL, &text);
    }

    fn line_of_text(&mut self, area: Rect, fg: u32, text: &str) {
        self.fill(area, BACKGROUND);
        self.text(area.x, area.y, 2, fg, text);
        self.damaged(area);
    }

    fn draw_ball(&mut self, color: u32) {
        let (cx, cy) = self.ball;
        for dy in -BALL_R..=BALL_R {
            let half = ((BALL_R * BALL_R - dy * dy) as f32).sqrt() as i32;
            let y = (cy + dy) as u16;
            self.fill(
                Rect::new((cx - half) as u16, y, (2 * half + 1) as u16, 1),
                color,
            );
        }
    }

    /// A rectangle filled with `bg` inside a 2-pixel border.
    fn frame(&mut self, r: Rect, bg: u32) {
        self.fill(r, BORDER);
        self.fill(Rect::new(r.x + 2, r.y + 2, r.w - 4, r.h - 4), bg);
    }

    /// Fills `r` clipped to the screen.
    fn fill(&mut self, r: Rect, color: u32) {
        let Some(r) = super::region::intersect(r, SCREEN) else {
            return;
        };
        for y in r.y..r.y + r.h {
            let start = usize::from(y) * usize::from(WIDTH) + usize::from(r.x);
            if let Some(row) = self.pixels.get_mut(start..start + usize::from(r.w)) {
                row.fill(color);
            }
        }
    }

    /// Draws `text` with its top-left at (x, y); transparent background.
    fn text(&mut self, x: u16, y: u16, scale: usize, color: u32, text: &str) {
        let s = scale as u16;
        for (i, c) in text.chars().enumerate() {
            let cx = usize::from(x) + font::text_width(i, scale);
            if cx >= usize::from(WIDTH) {
                break;
            }
            font::for_each_pixel(c, scale, |px, py| {
                let r = Rect::new((cx + px) as u16, y + py as u16, s, s);
                self.fill(r, color);
            });
        }
    }
}

fn contains(r: Rect, x: u16, y: u16) -> bool {
    x >= r.x && u32::from(x) < r.right() && y >= r.y && u32::from(y) < r.bottom()
}

/// The character a keysym types, if it types one (Latin-1 or Unicode keysyms).
fn printable(keysym: u32) -> Option<char> {
    let code = match keysym {
        0x20..=0x7e | 0xa0..=0xff => keysym,
        0x0100_0000..=0x0110_ffff => keysym - 0x0100_0000,
        0xffb0..=0xffb9 => keysym - 0xffb0 + u32::from(b'0'),
        _ => return None,
    };
    char::from_u32(code).filter(|c| !c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(d: &Desktop, r: Rect) -> Vec<u32> {
        (r.y..r.y + r.h)
            .flat_map(|y| d.row(r.x, y, r.w).unwrap_or(&[]).to_vec())
            .collect()
    }

    #[test]
    fn text_draws_pixels_and_different_text_differs() {
        let mut d = Desktop::new();
        let area = Rect::new(100, 200, 40, 16);
        d.fill(area, 0);
        let blank = snapshot(&d, area);
        d.text(100, 200, 2, 0xffffff, "A");
        let a = snapshot(&d, area);
        assert!(a.iter().filter(|&&p| p == 0xffffff).count() > 20);
        d.fill(area, 0);
        d.text(100, 200, 2, 0xffffff, "B");
        let b = snapshot(&d, area);
        assert_ne!(a, blank);
        assert_ne!(a, b);
    }

    #[test]
    fn tick_moves_the_ball_and_sets_the_clock() {
        let mut d = Desktop::new();
        let arena = snapshot(&d, ARENA);
        let clock = snapshot(&d, CLOCK);
        let mut changed = Region::default();
        let seen = d.changes_since(0, &mut Region::default());
        d.tick(3600 + 61);
        assert_ne!(snapshot(&d, ARENA), arena);
        assert_ne!(snapshot(&d, CLOCK), clock);
        let now = d.changes_since(seen, &mut changed);
        assert!(now > seen);
        assert!(changed.rects().contains(&CLOCK));
        // Same second: the clock is not redrawn.
        let mut again = Region::default();
        d.tick(3600 + 61);
        d.changes_since(now, &mut again);
        assert!(again.rects().iter().all(|r| *r != CLOCK));
    }

    #[test]
    fn the_ball_stays_inside_the_arena() {
        let mut d = Desktop::new();
        for t in 0..2000 {
            d.tick(t);
            let b = d.ball_rect();
            assert!(b.x > ARENA.x && b.right() < ARENA.right(), "{b:?}");
            assert!(b.y > ARENA.y && b.bottom() < ARENA.bottom(), "{b:?}");
        }
    }

    #[test]
    fn keys_edit_the_line() {
        let mut d = Desktop::new();
        for k in [0x48, 0x69, 0x21, 0xff08, 0x0100_00e9, 0xffe1] {
            d.key(k);
        }
        assert_eq!(d.line, "Hié");
        d.key(0xff0d);
        assert_eq!(d.line, "");
        assert_eq!(d.previous, "Hié");
        for _ in 0..200 {
            d.key(u32::from(b'x'));
        }
        assert_eq!(d.line.len(), LINE_CHARS);
    }

    #[test]
    fn clicks_toggle_only_the_button_hit() {
        let mut d = Desktop::new();
        let b = BUTTONS[2];
        let before = snapshot(&d, b);
        d.click(b.x + 5, b.y + 5, 1);
        assert!(d.button_on(2));
        assert!(!d.button_on(0) && !d.button_on(1) && !d.button_on(3));
        assert_ne!(snapshot(&d, b), before);
        d.click(b.x + 5, b.y + 5, 3);
        assert!(d.button_on(2), "only the left button toggles");
        d.click(b.x + 5, b.y + 5, 1);
        assert!(!d.button_on(2));
        assert_eq!(snapshot(&d, b), before);
        d.click(5, 5, 1);
        assert!((0..4).all(|i| !d.button_on(i)));
    }

    #[test]
    fn a_client_too_far_behind_gets_the_whole_screen() {
        let mut d = Desktop::new();
        for t in 0..(DAMAGE_LOG as u64 + 10) {
            d.tick(t);
        }
        let mut r = Region::default();
        d.changes_since(1, &mut r);
        assert_eq!(r.rects(), &[SCREEN]);
        let mut none = Region::default();
        let now = d.changes_since(u64::MAX, &mut none);
        assert!(none.rects().is_empty());
        assert!(d.changes_since(now, &mut none) == now && none.rects().is_empty());
    }

    #[test]
    fn printable_keysyms() {
        assert_eq!(printable(0x41), Some('A'));
        assert_eq!(printable(0xe9), Some('é'));
        assert_eq!(printable(0x0100_20ac), Some('€'));
        assert_eq!(printable(0xffb7), Some('7'));
        assert_eq!(printable(0xff1b), None);
        assert_eq!(printable(0x0100_d800), None);
    }
}
