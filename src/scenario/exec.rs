//! Performing one step on the live session: input through `Control`'s
//! `Input`, waits and comparisons on the hub's frames, files in the output
//! directory. Every wait has a timeout and checks `Cancel` at least every 50 ms.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::capture::Control;
use crate::hub::Hub;

use super::Step;

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
        let _ = d;
        !self.is_cancelled()
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

/// Performs `step`. Returns once its effect has been sent (input) or its
/// condition met (waits).
pub fn run_step(step: &Step, ctx: &Ctx) -> Result<Outcome, StepError> {
    let _ = (step, ctx);
    Err(StepError {
        kind: StepErrorKind::Failed,
        message: "not implemented yet".into(),
    })
}
