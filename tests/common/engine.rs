//! The scenario engine in the test process: a capture thread, its `Hub` and
//! `Control` against a VNC server, and a `Ctx` to run steps with. Stops the
//! capture thread when dropped.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use vncmon::capture::{self, CaptureSettings, Control};
use vncmon::hub::Hub;
use vncmon::rfb::ConnectOptions;
use vncmon::scenario::{Cancel, Ctx, Outcome, Step, StepError, run_step};

use super::image::{RgbImage, decode_jpeg};
use super::wait_until;

/// Encodings as vncmon asks for them by default.
const ENCODINGS: &str = "tight,zrle,hextile,copyrect,rre,raw";

pub struct Engine {
    pub hub: Arc<Hub>,
    pub control: Control,
    pub ctx: Ctx,
    thread: Option<JoinHandle<()>>,
}

impl Engine {
    /// Starts capturing `addr` and waits until a session is up with a frame.
    pub fn start(addr: &str, password: Option<&str>) -> Engine {
        let opts = ConnectOptions {
            addr: addr.to_string(),
            password: password.map(str::to_string),
            encodings: vncmon::config::parse_encodings(ENCODINGS).expect("encodings"),
            connect_timeout: Duration::from_secs(10),
        };
        let settings = CaptureSettings {
            quality: 80,
            max_fps: 25,
        };
        let hub = Arc::new(Hub::new());
        let control = Control::new();
        let thread = capture::spawn(opts, settings, hub.clone(), control.clone())
            .expect("spawn the capture thread");
        static N: AtomicU32 = AtomicU32::new(0);
        let output = std::env::temp_dir().join(format!(
            "vncmon-engine-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let ctx = Ctx {
            hub: hub.clone(),
            control: control.clone(),
            output,
            cancel: Cancel::new(),
        };
        let e = Engine {
            hub,
            control,
            ctx,
            thread: Some(thread),
        };
        let up = wait_until(Duration::from_secs(20), || {
            e.hub.status().connected && e.control.input().is_some() && e.hub.latest().is_some()
        });
        assert!(up, "no session to {addr}: {:?}", e.hub.status());
        e
    }

    /// Runs one step parsed from JSON (an input action or a file step).
    pub fn run(&self, json: &str) -> Result<Outcome, StepError> {
        run_step(&input_step(json), &self.ctx)
    }

    /// Runs a step and panics with its error when it fails.
    pub fn ok(&self, json: &str) -> Outcome {
        self.run(json)
            .unwrap_or_else(|e| panic!("step {json} failed: {e:?}"))
    }

    /// The newest frame, decoded.
    pub fn screen(&self) -> RgbImage {
        let f = self.hub.latest().expect("a frame");
        decode_jpeg(&f.jpeg).expect("frame decodes")
    }

    pub fn output(&self) -> &Path {
        &self.ctx.output
    }
}

/// One step from a `POST /api/input`-style JSON object.
pub fn input_step(json: &str) -> Step {
    let mut steps =
        vncmon::scenario::parse_input(json.as_bytes()).unwrap_or_else(|e| panic!("{json}: {e}"));
    assert_eq!(steps.len(), 1, "{json}");
    steps.remove(0)
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.control.stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_dir_all(&self.ctx.output);
    }
}

/// A path in the engine's output directory.
pub fn out_file(e: &Engine, name: &str) -> PathBuf {
    e.output().join(name)
}

/// One step as a scenario file would have it (any file action but `expect`).
pub fn input_step_any(json: &str) -> Step {
    let file = format!(r#"{{"scenarios":{{"s":[{json}]}}}}"#);
    let dir = std::env::temp_dir().join(format!("vncmon-step-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    static N: AtomicU32 = AtomicU32::new(0);
    let path = dir.join(format!("step-{}.json", N.fetch_add(1, Ordering::Relaxed)));
    std::fs::write(&path, file).expect("write step file");
    let s = vncmon::scenario::load_path(&path, "s", None);
    let _ = std::fs::remove_file(&path);
    let mut s = s.unwrap_or_else(|e| panic!("{json}: {e}"));
    s.steps.remove(0)
}
