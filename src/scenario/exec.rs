//! Performing one step on the live session: input through `Control`'s
//! `Input`, waits and comparisons on the hub's frames, files in the output
//! directory. Every wait has a timeout and checks `Cancel` at least every 50 ms.

use std::fs;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::capture::Control;
use crate::hub::{Frame, Hub};
use crate::rfb::{Input, RfbError};

use super::keys::{self, SHIFT};
use super::{Action, Button, Picture, Region, Step};

/// `Cancel::sleep`'s slice.
const SLICE: Duration = Duration::from_millis(20);
/// Waits for frames look at `Cancel` at least this often.
const POLL: Duration = Duration::from_millis(40);
/// `screenshot` first waits until the screen has been still this long ...
const SETTLE_STILL: Duration = Duration::from_millis(200);
/// ... but no longer than this (a clock or an animation never stands still).
const SETTLE_MAX: Duration = Duration::from_millis(1500);
/// Pointer moves between a drag's press and release.
const DRAG_STEPS: u32 = 8;
/// Pause between a drag's moves, so applications see motion.
const DRAG_PAUSE: Duration = Duration::from_millis(15);
/// Quality of the `-actual.jpg` snapshot `expect` leaves behind.
const SNAPSHOT_QUALITY: u8 = 92;

/// A stop request shared by the runner and the steps it runs.
#[derive(Clone, Debug, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    pub fn new() -> Cancel {
        Cancel::default()
    }
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    pub fn reset(&self) {
        self.0.store(false, Ordering::SeqCst);
    }
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
    /// Sleeps `d` in slices of at most 20 ms; false when cancelled first.
    pub fn sleep(&self, d: Duration) -> bool {
        let deadline = Instant::now() + d;
        loop {
            if self.is_cancelled() {
                return false;
            }
            let now = Instant::now();
            if now >= deadline {
                return true;
            }
            thread::sleep(SLICE.min(deadline - now));
        }
    }
}

/// What a step needs to run.
#[derive(Clone)]
pub struct Ctx {
    pub hub: Arc<Hub>,
    pub control: Control,
    /// Where `screenshot` writes and `expect` leaves its diff.
    pub output: PathBuf,
    pub cancel: Cancel,
}

/// Whether the scenario goes on after a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    Next,
    /// `disconnect`: the scenario ends here (the session stays up).
    End,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    pub flow: Flow,
    /// Something worth logging, e.g. `saved output/after_login.jpg`.
    pub note: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct StepError {
    pub kind: StepErrorKind,
    pub message: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepErrorKind {
    /// No session is up for a step that needs one.
    NotConnected,
    /// A waiting step ran out of time.
    Timeout,
    /// `Cancel` fired.
    Stopped,
    /// Anything else (a write failed, an expectation did not match, ...).
    Failed,
}

impl std::fmt::Display for StepError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

fn err(kind: StepErrorKind, message: impl Into<String>) -> StepError {
    StepError {
        kind,
        message: message.into(),
    }
}

fn next() -> Result<Outcome, StepError> {
    Ok(Outcome {
        flow: Flow::Next,
        note: None,
    })
}

fn noted(note: String) -> Result<Outcome, StepError> {
    Ok(Outcome {
        flow: Flow::Next,
        note: Some(note),
    })
}

fn stopped() -> StepError {
    err(StepErrorKind::Stopped, "stopped")
}

/// Whether shifted characters of a US layout (`A`, `~`, `!`, ...) are sent
/// inside Shift_L press/release. Xtigervnc and x11vnc both press Shift
/// themselves for a bare keysym that needs it, and both also accept it
/// held by the client; wrapping makes the intent explicit to servers that
/// map keysyms less cleverly. `tests/input.rs` types every printable ASCII
/// character this way into `cat` on both servers and compares the bytes.
const WRAP_SHIFTED: bool = true;

/// The session's input, or `NotConnected`.
fn input(ctx: &Ctx) -> Result<Input, StepError> {
    ctx.control.input().ok_or_else(|| {
        err(
            StepErrorKind::NotConnected,
            "not connected: no VNC session is up (a connect step waits for one)",
        )
    })
}

/// Maps a failed send: the session ended under us.
fn sent(r: Result<(), RfbError>) -> Result<(), StepError> {
    r.map_err(|e| {
        err(
            StepErrorKind::NotConnected,
            format!("not connected: sending input failed: {e}"),
        )
    })
}

struct Keyboard<'a>(&'a Input);

impl Keyboard<'_> {
    fn key(&self, keysym: u32, down: bool) -> Result<(), StepError> {
        sent(self.0.key(keysym, down))
    }

    fn tap(&self, keysym: u32) -> Result<(), StepError> {
        self.key(keysym, true)?;
        self.key(keysym, false)
    }

    fn press_all(&self, keysyms: &[u32]) -> Result<(), StepError> {
        keysyms.iter().try_for_each(|&k| self.key(k, true))
    }

    fn release_all(&self, keysyms: &[u32]) -> Result<(), StepError> {
        keysyms.iter().rev().try_for_each(|&k| self.key(k, false))
    }

    fn type_text(&self, text: &str, cancel: &Cancel) -> Result<(), StepError> {
        let keysyms = keys::text_keysyms(text).map_err(|m| err(StepErrorKind::Failed, m))?;
        for (c, k) in text.chars().zip(keysyms) {
            if cancel.is_cancelled() {
                return Err(stopped());
            }
            if WRAP_SHIFTED && keys::shifted_on_us(c) {
                self.key(SHIFT, true)?;
                self.tap(k)?;
                self.key(SHIFT, false)?;
            } else {
                self.tap(k)?;
            }
        }
        Ok(())
    }
}

struct Mouse<'a>(&'a Input);

impl Mouse<'_> {
    fn at(&self, x: u16, y: u16, buttons: u8) -> Result<(), StepError> {
        sent(self.0.pointer(x, y, buttons))
    }

    /// Moves to (x, y) keeping held buttons held.
    fn move_to(&self, x: u16, y: u16) -> Result<(), StepError> {
        self.at(x, y, self.0.buttons())
    }

    fn click(&self, x: u16, y: u16, button: Button, double: bool) -> Result<(), StepError> {
        let held = self.0.buttons() & !button.mask();
        self.at(x, y, held)?;
        for _ in 0..if double { 2 } else { 1 } {
            self.at(x, y, held | button.mask())?;
            self.at(x, y, held)?;
        }
        Ok(())
    }

    fn position(&self, at: Option<(u16, u16)>) -> Result<(u16, u16), StepError> {
        at.or_else(|| self.0.pointer_pos()).ok_or_else(|| {
            err(
                StepErrorKind::Failed,
                "the pointer has not been anywhere yet; give \"x\" and \"y\"",
            )
        })
    }

    fn drag(
        &self,
        from: (u16, u16),
        to: (u16, u16),
        button: Button,
        cancel: &Cancel,
    ) -> Result<(), StepError> {
        let held = self.0.buttons() & !button.mask();
        let down = held | button.mask();
        self.at(from.0, from.1, held)?;
        self.at(from.0, from.1, down)?;
        let lerp = |a: u16, b: u16, i: u32| {
            let (a, b) = (i64::from(a), i64::from(b));
            (a + (b - a) * i64::from(i) / i64::from(DRAG_STEPS)) as u16
        };
        for i in 1..=DRAG_STEPS {
            if !cancel.sleep(DRAG_PAUSE) {
                // Leave no button stuck down.
                self.at(lerp(from.0, to.0, i), lerp(from.1, to.1, i), held)?;
                return Err(stopped());
            }
            self.at(lerp(from.0, to.0, i), lerp(from.1, to.1, i), down)?;
        }
        self.at(to.0, to.1, held)
    }

    /// `amount` notches of the wheel (button 4 up, 5 down) at (x, y).
    fn scroll(&self, x: u16, y: u16, amount: i32) -> Result<(), StepError> {
        let held = self.0.buttons() & !(8 | 16);
        let wheel = if amount > 0 { 16 } else { 8 };
        self.at(x, y, held)?;
        for _ in 0..amount.unsigned_abs() {
            self.at(x, y, held | wheel)?;
            self.at(x, y, held)?;
        }
        Ok(())
    }
}

/// The screen size the session reports (or the latest frame's).
fn screen_size(ctx: &Ctx) -> Option<(u16, u16)> {
    let st = ctx.hub.status();
    if st.connected && st.width > 0 && st.height > 0 {
        return Some((st.width, st.height));
    }
    ctx.hub.latest().map(|f| (f.width, f.height))
}

/// Waits up to `deadline` for a frame newer than `after`, checking
/// `Cancel` every `POLL`. None when the deadline passed.
fn newer_frame(ctx: &Ctx, after: u64, deadline: Instant) -> Result<Option<Arc<Frame>>, StepError> {
    loop {
        if ctx.cancel.is_cancelled() {
            return Err(stopped());
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(None);
        }
        if let Some(f) = ctx.hub.wait_newer(after, POLL.min(deadline - now)) {
            return Ok(Some(f));
        }
        if ctx.hub.is_closed() {
            return Err(err(StepErrorKind::Stopped, "vncmon is shutting down"));
        }
    }
}

/// The first frame, waiting for one up to `deadline`.
fn some_frame(ctx: &Ctx, deadline: Instant) -> Result<Option<Arc<Frame>>, StepError> {
    match ctx.hub.latest() {
        Some(f) => Ok(Some(f)),
        None => newer_frame(ctx, 0, deadline),
    }
}

/// Decodes `frame` and cuts out `region` (all of it for None).
fn picture(frame: &Frame, region: Option<Region>) -> Result<Picture, StepError> {
    let full = Picture::decode_jpeg(&frame.jpeg)
        .map_err(|e| err(StepErrorKind::Failed, format!("frame {}: {e}", frame.seq)))?;
    match region {
        None => Ok(full),
        Some(r) => full.crop(r).ok_or_else(|| {
            err(
                StepErrorKind::Failed,
                format!(
                    "region {r} is off the {}x{} screen",
                    frame.width, frame.height
                ),
            )
        }),
    }
}

fn secs(d: Duration) -> String {
    format!("{} s", d.as_secs_f64())
}

/// `the screen` or `the screen in [x, y, wxh]`.
fn what(region: Option<Region>) -> String {
    match region {
        Some(r) => format!("the screen in {r}"),
        None => "the screen".into(),
    }
}

fn connect(ctx: &Ctx, timeout: Duration) -> Result<Outcome, StepError> {
    ctx.control.connect();
    let deadline = Instant::now() + timeout;
    loop {
        let st = ctx.hub.status();
        if st.connected && ctx.control.input().is_some() && ctx.hub.latest().is_some() {
            return noted(format!(
                "connected: {}x{} {:?}",
                st.width, st.height, st.desktop_name
            ));
        }
        if Instant::now() >= deadline {
            let why = st
                .last_error
                .map(|e| format!(" (last error: {e})"))
                .unwrap_or_default();
            return Err(err(
                StepErrorKind::Timeout,
                format!("no VNC session within {}{why}", secs(timeout)),
            ));
        }
        if !ctx.cancel.sleep(SLICE) {
            return Err(stopped());
        }
    }
}

fn wait_for_change(
    ctx: &Ctx,
    region: Option<Region>,
    timeout: Duration,
) -> Result<Outcome, StepError> {
    let deadline = Instant::now() + timeout;
    let base = ctx.hub.latest();
    let mut seq = base.as_ref().map_or(0, |f| f.seq);
    let base = match (&base, region) {
        (Some(f), Some(_)) => Some(picture(f, region)?),
        _ => None,
    };
    while let Some(f) = newer_frame(ctx, seq, deadline)? {
        seq = f.seq;
        let changed = match &base {
            // Frames are published only when pixels changed.
            None => true,
            Some(b) => picture(&f, region)?.changed_from(b),
        };
        if changed {
            return next();
        }
    }
    Err(err(
        StepErrorKind::Timeout,
        format!("{} did not change within {}", what(region), secs(timeout)),
    ))
}

/// Waits until nothing changed in `region` for `still`.
fn wait_until_still(
    ctx: &Ctx,
    still: Duration,
    region: Option<Region>,
    timeout: Duration,
) -> Result<Outcome, StepError> {
    let start = Instant::now();
    let deadline = start + timeout;
    let latest = ctx.hub.latest();
    let mut seq = latest.as_ref().map_or(0, |f| f.seq);
    let mut reference = match (&latest, region) {
        (Some(f), Some(_)) => Some(picture(f, region)?),
        _ => None,
    };
    let mut last_change = start;
    loop {
        let quiet_until = last_change + still;
        match newer_frame(ctx, seq, quiet_until.min(deadline))? {
            None if Instant::now() >= quiet_until => return next(),
            None => break,
            Some(f) => {
                seq = f.seq;
                match (region, &reference) {
                    (Some(_), Some(r)) => {
                        let p = picture(&f, region)?;
                        if p.changed_from(r) {
                            reference = Some(p);
                            last_change = Instant::now();
                        }
                    }
                    (Some(_), None) => {
                        reference = Some(picture(&f, region)?);
                        last_change = Instant::now();
                    }
                    (None, _) => last_change = Instant::now(),
                }
            }
        }
    }
    Err(err(
        StepErrorKind::Timeout,
        format!(
            "{} did not stay still for {} ms within {}",
            what(region),
            still.as_millis(),
            secs(timeout)
        ),
    ))
}

/// A safe file stem from an image path: its stem, other characters as `_`.
fn stem(image: &str) -> String {
    let base = std::path::Path::new(image)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("expect");
    let s: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() { "expect".into() } else { s }
}

fn write_output(ctx: &Ctx, name: &str, bytes: &[u8]) -> Result<PathBuf, StepError> {
    let path = ctx.output.join(name);
    fs::create_dir_all(&ctx.output)
        .and_then(|()| fs::write(&path, bytes))
        .map_err(|e| {
            err(
                StepErrorKind::Failed,
                format!("cannot write {}: {e}", path.display()),
            )
        })?;
    Ok(path)
}

fn expect(
    ctx: &Ctx,
    image: &str,
    reference: &Picture,
    region: Option<Region>,
    tolerance: f64,
    timeout: Duration,
) -> Result<Outcome, StepError> {
    let deadline = Instant::now() + timeout;
    let mut last: Option<(Picture, f64)> = None;
    let mut frame = some_frame(ctx, deadline)?;
    while let Some(f) = frame {
        let p = picture(&f, region)?;
        let Some(d) = p.mean_difference(reference) else {
            return Err(err(
                StepErrorKind::Failed,
                format!(
                    "{image} is {}x{} but {} is {}x{}",
                    reference.width,
                    reference.height,
                    what(region),
                    p.width,
                    p.height
                ),
            ));
        };
        if d <= tolerance {
            return noted(format!(
                "{image} matches {} (difference {d:.1}, tolerance {tolerance})",
                what(region)
            ));
        }
        last = Some((p, d));
        frame = newer_frame(ctx, f.seq, deadline)?;
    }
    let Some((actual, d)) = last else {
        return Err(err(
            StepErrorKind::Timeout,
            format!("no screen to compare with {image} within {}", secs(timeout)),
        ));
    };
    let stem = stem(image);
    let jpeg = actual
        .to_jpeg(SNAPSHOT_QUALITY)
        .map_err(|e| err(StepErrorKind::Failed, e))?;
    let actual_path = write_output(ctx, &format!("{stem}-actual.jpg"), &jpeg)?;
    let diff = actual
        .diff(reference)
        .ok_or_else(|| err(StepErrorKind::Failed, "sizes changed"))?
        .to_png()
        .map_err(|e| err(StepErrorKind::Failed, e))?;
    let diff_path = write_output(ctx, &format!("{stem}-diff.png"), &diff)?;
    Err(err(
        StepErrorKind::Failed,
        format!(
            "{} did not match {image} within {}: difference {d:.1} > tolerance \
             {tolerance}; saved {} and {}",
            what(region),
            secs(timeout),
            actual_path.display(),
            diff_path.display()
        ),
    ))
}

fn screenshot(ctx: &Ctx, name: &str) -> Result<Outcome, StepError> {
    // Let the screen show the preceding input first.
    match wait_until_still(ctx, SETTLE_STILL, None, SETTLE_MAX) {
        Err(e) if e.kind == StepErrorKind::Stopped => return Err(e),
        _ => {}
    }
    let frame = ctx.hub.latest().ok_or_else(|| {
        err(
            StepErrorKind::NotConnected,
            "not connected: no screen to save yet",
        )
    })?;
    let path = write_output(ctx, &format!("{name}.jpg"), &frame.jpeg)?;
    noted(format!(
        "saved {} ({}x{})",
        path.display(),
        frame.width,
        frame.height
    ))
}

/// Performs `step`. Returns once its effect has been sent (input) or its
/// condition met (waits).
pub fn run_step(step: &Step, ctx: &Ctx) -> Result<Outcome, StepError> {
    if ctx.cancel.is_cancelled() {
        return Err(stopped());
    }
    match &step.action {
        Action::Connect { timeout } => connect(ctx, *timeout),
        Action::Disconnect => Ok(Outcome {
            flow: Flow::End,
            note: Some("scenario ended (the session stays up)".into()),
        }),
        Action::Wait { duration } => {
            if ctx.cancel.sleep(*duration) {
                next()
            } else {
                Err(stopped())
            }
        }
        Action::Click {
            x,
            y,
            button,
            double,
        } => Mouse(&input(ctx)?)
            .click(*x, *y, *button, *double)
            .and_then(|()| next()),
        Action::ClickPosition {
            position,
            button,
            double,
        } => {
            let i = input(ctx)?;
            let (w, h) = screen_size(ctx).ok_or_else(|| {
                err(
                    StepErrorKind::NotConnected,
                    "not connected: screen size unknown",
                )
            })?;
            let (x, y) = position.point(w, h);
            Mouse(&i).click(x, y, *button, *double)?;
            noted(format!("clicked {} at ({x}, {y})", position.name()))
        }
        Action::Move { x, y } => Mouse(&input(ctx)?).move_to(*x, *y).and_then(|()| next()),
        Action::MouseDown { at, button } => {
            let i = input(ctx)?;
            let m = Mouse(&i);
            let (x, y) = m.position(*at)?;
            m.at(x, y, i.buttons() | button.mask())?;
            next()
        }
        Action::MouseUp { at, button } => {
            let i = input(ctx)?;
            let m = Mouse(&i);
            let (x, y) = m.position(*at)?;
            m.at(x, y, i.buttons() & !button.mask())?;
            next()
        }
        Action::Drag { from, to, button } => {
            Mouse(&input(ctx)?).drag(*from, *to, *button, &ctx.cancel)?;
            next()
        }
        Action::Scroll { x, y, amount } => {
            Mouse(&input(ctx)?).scroll(*x, *y, *amount)?;
            next()
        }
        Action::Type { text } => {
            Keyboard(&input(ctx)?).type_text(text, &ctx.cancel)?;
            next()
        }
        Action::Key { combo, .. } => {
            let i = input(ctx)?;
            let k = Keyboard(&i);
            k.press_all(&combo.keysyms)?;
            k.release_all(&combo.keysyms)?;
            next()
        }
        Action::KeyDown { combo, .. } => {
            Keyboard(&input(ctx)?).press_all(&combo.keysyms)?;
            next()
        }
        Action::KeyUp { combo, .. } => {
            Keyboard(&input(ctx)?).release_all(&combo.keysyms)?;
            next()
        }
        Action::Screenshot { name } => screenshot(ctx, name),
        Action::WaitForChange { region, timeout } => wait_for_change(ctx, *region, *timeout),
        Action::WaitUntilStill {
            still,
            region,
            timeout,
        } => wait_until_still(ctx, *still, *region, *timeout),
        Action::Expect {
            image,
            reference,
            region,
            tolerance,
            timeout,
        } => expect(ctx, image, reference, *region, *tolerance, *timeout),
        Action::Pointer { x, y, buttons } => {
            Mouse(&input(ctx)?).at(*x, *y, *buttons)?;
            next()
        }
        Action::Keysym { keysym, down } => {
            Keyboard(&input(ctx)?).key(*keysym, *down)?;
            next()
        }
    }
}
