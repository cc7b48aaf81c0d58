//! The scenario runner: one thread owns the run state (the loaded scenario,
//! the current step, whether a run is going, the last result) and performs
//! steps through `scenario::run_step`. HTTP threads submit jobs and read the
//! state; `stop` fires the shared `Cancel`. Touches the session only through
//! the steps it runs, and writes the run log.

use std::panic::{self, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;

use crate::capture::Control;
use crate::hub::Hub;
use crate::runlog::RunLog;
use crate::scenario::{Cancel, Ctx, Flow, Outcome, Scenario, StepErrorKind, run_step};

/// How the last finished run (one step or all) ended.
#[derive(Clone, Debug, PartialEq)]
pub struct RunResult {
    pub success: bool,
    /// The step that failed, or the last step run.
    pub step_index: usize,
    pub error: Option<String>,
    /// Why it failed, when it did.
    pub kind: Option<StepErrorKind>,
}

/// What `/api/status` and `/api/steps` show.
#[derive(Clone, Debug, Default)]
pub struct RunState {
    pub scenario: Option<Arc<Scenario>>,
    /// The step running now, or the last one run (0 before any).
    pub current_step: usize,
    pub is_executing: bool,
    pub last_result: Option<RunResult>,
}

/// A step that did not pass.
#[derive(Clone, Debug, PartialEq)]
pub struct StepFailure {
    pub step_index: usize,
    pub kind: StepErrorKind,
    /// `step 3 (click (640, 400)): not connected ...` (1-based step number).
    pub message: String,
}

/// Why a job was not started.
#[derive(Clone, Debug, PartialEq)]
pub enum Refusal {
    /// A run is going (409).
    Busy,
    /// Nothing loaded (400).
    NoScenario,
    /// Index out of range (400), with the message.
    BadIndex(String),
    /// The runner thread is gone (500; a bug).
    Gone,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Busy => f.write_str("a scenario run is in progress; stop it or wait"),
            Refusal::NoScenario => f.write_str("no scenario loaded"),
            Refusal::BadIndex(m) => f.write_str(m),
            Refusal::Gone => f.write_str("the runner thread has ended"),
        }
    }
}

/// The outcome of `execute_step`.
#[derive(Debug)]
pub enum StepAnswer {
    Passed {
        scenario: Arc<Scenario>,
        note: Option<String>,
    },
    Failed(StepFailure),
}

enum Job {
    Step(Arc<Scenario>, usize, Sender<Result<Outcome, StepFailure>>),
    All(Arc<Scenario>),
}

struct Shared {
    state: Mutex<RunState>,
    ctx: Ctx,
    log: Arc<RunLog>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, RunState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn finish(&self, result: RunResult) {
        let mut st = self.lock();
        st.is_executing = false;
        st.last_result = Some(result);
    }
}

/// Handle to the runner thread, shared by HTTP threads.
pub struct Runner {
    shared: Arc<Shared>,
    jobs: Mutex<Sender<Job>>,
}

impl Runner {
    /// Starts the runner thread. Steps write screenshots under `output`.
    pub fn spawn(
        hub: Arc<Hub>,
        control: Control,
        output: PathBuf,
        log: Arc<RunLog>,
    ) -> std::io::Result<Runner> {
        let ctx = Ctx {
            hub,
            control,
            output,
            cancel: Cancel::new(),
        };
        let shared = Arc::new(Shared {
            state: Mutex::new(RunState::default()),
            ctx,
            log,
        });
        let (tx, rx) = mpsc::channel();
        let s = shared.clone();
        thread::Builder::new()
            .name("runner".into())
            .spawn(move || serve_jobs(&s, &rx))?;
        Ok(Runner {
            shared,
            jobs: Mutex::new(tx),
        })
    }

    pub fn log(&self) -> &RunLog {
        &self.shared.log
    }

    pub fn state(&self) -> RunState {
        self.shared.lock().clone()
    }

    /// Makes `scenario` the loaded one; refused while a run is going.
    pub fn set_scenario(&self, scenario: Scenario) -> Result<Arc<Scenario>, Refusal> {
        let mut st = self.shared.lock();
        if st.is_executing {
            return Err(Refusal::Busy);
        }
        let sc = Arc::new(scenario);
        st.scenario = Some(sc.clone());
        st.current_step = 0;
        st.last_result = None;
        drop(st);
        self.shared.log.info(format!(
            "loaded scenario {} from {} ({} steps)",
            sc.name,
            sc.file,
            sc.steps.len()
        ));
        Ok(sc)
    }

    /// Claims the runner for a job: checks and marks it busy in one step.
    fn claim(&self, index: Option<usize>) -> Result<Arc<Scenario>, Refusal> {
        let mut st = self.shared.lock();
        if st.is_executing {
            return Err(Refusal::Busy);
        }
        let sc = st.scenario.clone().ok_or(Refusal::NoScenario)?;
        if let Some(i) = index {
            if i >= sc.steps.len() {
                return Err(Refusal::BadIndex(format!(
                    "step index {i} is out of range: {} has steps 0 to {}",
                    sc.name,
                    sc.steps.len().saturating_sub(1)
                )));
            }
            st.current_step = i;
        } else {
            st.current_step = 0;
        }
        st.is_executing = true;
        // Reset here, not on the runner thread, so a stop right after the
        // start is not lost.
        self.shared.ctx.cancel.reset();
        Ok(sc)
    }

    fn send(&self, job: Job) -> Result<(), Refusal> {
        let sent = self
            .jobs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .send(job);
        sent.map_err(|_| {
            self.shared.lock().is_executing = false;
            Refusal::Gone
        })
    }

    /// Runs step `i` on the runner thread and waits for its end.
    pub fn execute_step(&self, i: usize) -> Result<StepAnswer, Refusal> {
        let sc = self.claim(Some(i))?;
        let (tx, rx) = mpsc::channel();
        self.send(Job::Step(sc.clone(), i, tx))?;
        match rx.recv() {
            Ok(Ok(outcome)) => Ok(StepAnswer::Passed {
                scenario: sc,
                note: outcome.note,
            }),
            Ok(Err(f)) => Ok(StepAnswer::Failed(f)),
            Err(_) => Err(Refusal::Gone),
        }
    }

    /// Starts every step in the background; returns the scenario.
    pub fn execute_all(&self) -> Result<Arc<Scenario>, Refusal> {
        let sc = self.claim(None)?;
        self.send(Job::All(sc.clone()))?;
        Ok(sc)
    }

    /// Asks a run to stop; returns whether one was going.
    pub fn stop(&self) -> bool {
        let st = self.shared.lock();
        if st.is_executing {
            self.shared.ctx.cancel.cancel();
            drop(st);
            self.shared.log.warning("stop requested");
            true
        } else {
            false
        }
    }
}

fn serve_jobs(shared: &Shared, jobs: &Receiver<Job>) {
    while let Ok(job) = jobs.recv() {
        match job {
            Job::Step(sc, i, reply) => {
                let r = check_screen(shared, &sc, i).and_then(|()| one_step(shared, &sc, i));
                shared.finish(RunResult {
                    success: r.is_ok(),
                    step_index: i,
                    error: r.as_ref().err().map(|f| f.message.clone()),
                    kind: r.as_ref().err().map(|f| f.kind),
                });
                let _ = reply.send(r);
            }
            Job::All(sc) => {
                let result = run_all(shared, &sc);
                shared.finish(result);
            }
        }
    }
}

/// Refuses a scenario whose coordinates fall off the live screen.
fn check_screen(shared: &Shared, sc: &Scenario, i: usize) -> Result<(), StepFailure> {
    let st = shared.ctx.hub.status();
    if !st.connected || st.width == 0 {
        return Ok(());
    }
    sc.check_screen(st.width, st.height).map_err(|e| {
        let f = StepFailure {
            step_index: e.step.map_or(i, |n| n.saturating_sub(1)),
            kind: StepErrorKind::Failed,
            message: e.to_string(),
        };
        shared.log.error(f.message.clone());
        f
    })
}

fn one_step(shared: &Shared, sc: &Scenario, i: usize) -> Result<Outcome, StepFailure> {
    shared.lock().current_step = i;
    perform(sc, i, &shared.ctx, &shared.log)
}

fn run_all(shared: &Shared, sc: &Scenario) -> RunResult {
    let total = sc.steps.len();
    shared
        .log
        .info(format!("running {total} steps of {}", sc.name));
    let fail = |f: StepFailure| RunResult {
        success: false,
        step_index: f.step_index,
        error: Some(f.message),
        kind: Some(f.kind),
    };
    if let Err(f) = check_screen(shared, sc, 0) {
        return fail(f);
    }
    let mut last = 0;
    for i in 0..total {
        last = i;
        match one_step(shared, sc, i) {
            Ok(o) if o.flow == Flow::End => break,
            Ok(_) => {}
            Err(f) => return fail(f),
        }
    }
    shared.log.success(format!("{}: all steps passed", sc.name));
    RunResult {
        success: true,
        step_index: last,
        error: None,
        kind: None,
    }
}

/// Performs step `i` of `sc`, logging its start and its pass or failure.
/// Shared by the runner thread and `vncmon run`.
pub fn perform(sc: &Scenario, i: usize, ctx: &Ctx, log: &RunLog) -> Result<Outcome, StepFailure> {
    let step = &sc.steps[i];
    let label = step.label();
    let n = i + 1;
    let total = sc.steps.len();
    let failure = |kind, what: &str| StepFailure {
        step_index: i,
        kind,
        message: format!("step {n} ({label}): {what}"),
    };
    if ctx.cancel.is_cancelled() {
        let f = failure(StepErrorKind::Stopped, "stopped before it started");
        log.warning(f.message.clone());
        return Err(f);
    }
    log.info(format!("step {n}/{total}: {label}"));
    let result =
        panic::catch_unwind(AssertUnwindSafe(|| run_step(step, ctx))).unwrap_or_else(|_| {
            Err(crate::scenario::StepError {
                kind: StepErrorKind::Failed,
                message: "internal error (a bug in vncmon; see its log)".into(),
            })
        });
    match result {
        Ok(o) => {
            let note = o
                .note
                .as_deref()
                .map_or(String::new(), |t| format!(": {t}"));
            log.success(format!("step {n}/{total} passed{note}"));
            Ok(o)
        }
        Err(e) => {
            let f = failure(e.kind, &e.message);
            if e.kind == StepErrorKind::Stopped {
                log.warning(f.message.clone());
            } else {
                log.error(f.message.clone());
            }
            Err(f)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::scenario::{Action, Step};

    fn wait_step(secs: u64) -> Step {
        Step {
            action: Action::Wait {
                duration: Duration::from_secs(secs),
            },
            json: serde_json::json!({"action": "wait", "seconds": secs}),
        }
    }

    fn runner() -> Runner {
        let dir = std::env::temp_dir().join("vncmon-runner-test");
        Runner::spawn(
            Arc::new(Hub::new()),
            Control::new(),
            dir,
            Arc::new(RunLog::quiet()),
        )
        .expect("runner thread")
    }

    fn scenario(steps: Vec<Step>) -> Scenario {
        Scenario {
            file: "t.json".into(),
            name: "t".into(),
            connection: None,
            steps,
        }
    }

    fn wait_until(cond: impl Fn() -> bool) -> bool {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if cond() {
                return true;
            }
            thread::sleep(Duration::from_millis(10));
        }
        false
    }

    #[test]
    fn refusals_busy_and_stop() {
        let r = runner();
        assert_eq!(r.execute_all().unwrap_err(), Refusal::NoScenario);
        assert!(!r.stop(), "nothing is running");
        r.set_scenario(scenario(vec![wait_step(0), wait_step(600)]))
            .unwrap();
        assert!(matches!(r.execute_step(2), Err(Refusal::BadIndex(_))));
        match r.execute_step(0) {
            Ok(StepAnswer::Passed { .. }) => {}
            other => panic!("{other:?}"),
        }
        r.execute_all().unwrap();
        assert!(wait_until(|| r.state().current_step == 1));
        assert_eq!(r.execute_all().unwrap_err(), Refusal::Busy);
        assert!(matches!(r.execute_step(0), Err(Refusal::Busy)));
        assert_eq!(r.set_scenario(scenario(vec![])).unwrap_err(), Refusal::Busy);
        assert!(r.stop());
        assert!(
            wait_until(|| !r.state().is_executing),
            "the run never ended"
        );
        let last = r.state().last_result.unwrap();
        assert_eq!(
            (last.success, last.step_index, last.kind),
            (false, 1, Some(StepErrorKind::Stopped))
        );
        assert!(last.error.unwrap().starts_with("step 2 (wait 600 s): "));
    }
}
