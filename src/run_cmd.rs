//! `vncmon run FILE NAME`: loads one scenario, starts the capture thread
//! (and the demo desktop with `--demo`), waits for the session, runs every
//! step printing each as it goes, and exits with a code saying how it ended.
//! Touches the scenario file, the VNC session and the output directory.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::capture::{self, CaptureSettings, Control};
use crate::config::{RunConfig, normalize_vnc_addr};
use crate::demo::Demo;
use crate::hub::{ErrorKind, Hub};
use crate::rfb::ConnectOptions;
use crate::runlog::RunLog;
use crate::runner::perform;
use crate::scenario::{Cancel, Ctx, Flow, Scenario, StepErrorKind, load_path};

pub const EXIT_USAGE: u8 = 2;
pub const EXIT_CONNECT: u8 = 3;
pub const EXIT_AUTH: u8 = 4;
pub const EXIT_SCENARIO: u8 = 5;
pub const EXIT_STEP_FAILED: u8 = 6;
pub const EXIT_TIMEOUT: u8 = 7;

/// How often the session wait looks at the status.
const POLL: Duration = Duration::from_millis(50);

fn fail(code: u8, msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("vncmon: {msg}");
    ExitCode::from(code)
}

/// Runs the command; never returns an error, only an exit code.
pub fn main(cfg: &RunConfig) -> ExitCode {
    crate::logger::init(cfg.log_level);
    let scenario = match load_path(Path::new(&cfg.file), &cfg.name, None) {
        Ok(s) => s,
        Err(e) => return fail(EXIT_SCENARIO, e),
    };
    let conn = scenario.connection.clone().unwrap_or_default();
    let password = cfg.password.clone().or(conn.password);

    // Keep the demo server alive for the whole run.
    let mut _demo = None;
    let addr = if cfg.demo {
        match Demo::start(password.clone()) {
            Ok(d) => {
                let a = d.addr().to_string();
                _demo = Some(d);
                a
            }
            Err(e) => return fail(1, format!("cannot start the demo desktop: {e}")),
        }
    } else if let Some(v) = &cfg.vnc {
        v.clone()
    } else if let Some(host) = &conn.host {
        let host = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]")
        } else {
            host.clone()
        };
        match normalize_vnc_addr(&format!("{host}::{}", conn.port.unwrap_or(5900))) {
            Ok(a) => a,
            Err(e) => return fail(EXIT_SCENARIO, format!("{}: connection: {e}", cfg.file)),
        }
    } else {
        return fail(
            EXIT_USAGE,
            format!(
                "no VNC server: give --vnc HOST:PORT or --demo, or a connection block with a host in {}",
                cfg.file
            ),
        );
    };

    let hub = Arc::new(Hub::new());
    let control = Control::new();
    let opts = ConnectOptions {
        addr: addr.clone(),
        password,
        encodings: cfg.encodings.clone(),
        connect_timeout: cfg.connect_timeout.min(Duration::from_secs(5)),
    };
    let settings = CaptureSettings {
        quality: 80,
        max_fps: 30,
    };
    if let Err(e) = capture::spawn(opts, settings, hub.clone(), control.clone()) {
        return fail(1, format!("cannot start the capture thread: {e}"));
    }
    let code = match wait_for_session(&hub, &addr, cfg.connect_timeout) {
        Ok((w, h)) => run(&scenario, w, h, &hub, &control, PathBuf::from(&cfg.output)),
        Err(code) => code,
    };
    control.stop();
    code
}

/// Waits for the session; returns the screen size, or the exit code.
fn wait_for_session(hub: &Hub, addr: &str, timeout: Duration) -> Result<(u16, u16), ExitCode> {
    println!("connecting to {addr} ...");
    let deadline = Instant::now() + timeout;
    loop {
        let st = hub.status();
        if st.connected {
            println!(
                "connected: {:?} {}x{}",
                st.desktop_name, st.width, st.height
            );
            return Ok((st.width, st.height));
        }
        if st.last_error_kind == Some(ErrorKind::Auth) {
            let why = st.last_error.unwrap_or_default();
            return Err(fail(EXIT_AUTH, format!("{addr}: {why}")));
        }
        if Instant::now() >= deadline {
            let why = st
                .last_error
                .unwrap_or_else(|| "no answer from the server".into());
            return Err(fail(
                EXIT_CONNECT,
                format!("no session with {addr} within {timeout:?}: {why}"),
            ));
        }
        std::thread::sleep(POLL);
    }
}

fn run(
    sc: &Scenario,
    width: u16,
    height: u16,
    hub: &Arc<Hub>,
    control: &Control,
    output: PathBuf,
) -> ExitCode {
    if let Err(e) = sc.check_screen(width, height) {
        return fail(EXIT_SCENARIO, e);
    }
    let ctx = Ctx {
        hub: hub.clone(),
        control: control.clone(),
        output,
        cancel: Cancel::new(),
    };
    let log = RunLog::quiet();
    let total = sc.steps.len();
    println!("running {} ({total} steps) from {}", sc.name, sc.file);
    for (i, step) in sc.steps.iter().enumerate() {
        print!("[{}/{total}] {} ... ", i + 1, step.label());
        let _ = std::io::stdout().flush();
        let start = Instant::now();
        let result = perform(sc, i, &ctx, &log);
        let ms = start.elapsed().as_millis();
        match result {
            Ok(o) => {
                let note = o.note.map_or(String::new(), |n| format!(": {n}"));
                println!("ok ({ms} ms){note}");
                if o.flow == Flow::End {
                    println!("the scenario ends here (disconnect)");
                    break;
                }
            }
            Err(f) => {
                println!("FAILED ({ms} ms)");
                let code = if f.kind == StepErrorKind::Timeout {
                    EXIT_TIMEOUT
                } else {
                    EXIT_STEP_FAILED
                };
                return fail(code, f.message);
            }
        }
    }
    println!("passed: {} of {}", sc.name, sc.file);
    ExitCode::SUCCESS
}
