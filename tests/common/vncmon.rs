//! The `vncmon` binary under test: started on a free port (`--listen
//! 127.0.0.1:0`), ready once it prints `vncmon: serving http://ADDR/`,
//! stopped by PID when dropped; helpers for its status, snapshot and stream.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use super::http::{MjpegStream, get};
use super::image::{RgbImage, decode_jpeg};
use super::proc::Proc;
use super::wait_for;
use super::x::Server;

const START_TIMEOUT: Duration = Duration::from_secs(15);

/// Environment variables vncmon reads; cleared so the test's own environment
/// cannot change what is tested.
pub const VARS: &[&str] = &[
    "VNCMON_VNC",
    "VNCMON_PASSWORD_FILE",
    "VNCMON_LISTEN",
    "VNCMON_QUALITY",
    "VNCMON_MAX_FPS",
    "VNCMON_ENCODINGS",
    "VNCMON_MAX_CONNECTIONS",
    "VNCMON_MAX_PER_CLIENT",
    "VNCMON_LOG_LEVEL",
    "VNCMON_DEMO",
    "VNCMON_SCENARIOS",
    "VNCMON_OUTPUT",
    "VNCMON_VIEW_ONLY",
    "VNCMON_CONNECT_TIMEOUT",
    "VNC_PASSWORD",
    "RUST_LOG",
];

/// A running vncmon.
pub struct Vncmon {
    proc: Proc,
    /// `127.0.0.1:PORT` of its HTTP server.
    pub addr: String,
}

impl Vncmon {
    /// Runs vncmon with `args` (plus `--listen 127.0.0.1:0` unless given) and
    /// `VNC_PASSWORD` set to `password`; waits for its "serving" line.
    pub fn start(args: &[&str], password: Option<&str>) -> Vncmon {
        let envs: Vec<(&str, &str)> = password.map(|p| ("VNC_PASSWORD", p)).into_iter().collect();
        Vncmon::start_program(&[env!("CARGO_BIN_EXE_vncmon")], args, &envs)
    }

    /// Like `start`, with another vncmon binary and environment: `program` is
    /// the command before the arguments (e.g. `["qemu-aarch64-static",
    /// "path/to/vncmon"]`), `envs` the variables set on top of a cleared
    /// vncmon environment.
    pub fn start_program(program: &[&str], args: &[&str], envs: &[(&str, &str)]) -> Vncmon {
        let (first, rest) = program.split_first().expect("a program to run");
        let mut cmd = Command::new(first);
        cmd.args(rest);
        for v in VARS {
            cmd.env_remove(v);
        }
        cmd.args(args);
        if !args.iter().any(|a| a.starts_with("--listen"))
            && !envs.iter().any(|(k, _)| *k == "VNCMON_LISTEN")
        {
            cmd.args(["--listen", "127.0.0.1:0"]);
        }
        cmd.envs(envs.iter().copied());
        let mut proc = Proc::spawn_watched("vncmon", &mut cmd)
            .unwrap_or_else(|e| panic!("cannot run vncmon: {e}"));
        let addr = wait_for(START_TIMEOUT, || {
            let line = proc.next_line(Duration::from_millis(100))?;
            let rest = line.strip_prefix("vncmon: serving http://")?;
            Some(rest.trim_end().trim_end_matches('/').to_string())
        });
        let Some(addr) = addr else {
            let running = proc.is_running();
            panic!(
                "vncmon {args:?} never said it was serving (running: {running}):\n{}",
                proc.log_tail(40)
            );
        };
        Vncmon { proc, addr }
    }

    /// Watches `server` asking for `encodings` (e.g. "zrle"), with the
    /// server's password when it has one.
    pub fn watch(server: &Server, encodings: &str) -> Vncmon {
        let vnc = server.addr();
        Vncmon::start(
            &[
                "--vnc",
                &vnc,
                "--encodings",
                encodings,
                "--log-level",
                "debug",
            ],
            server.password(),
        )
    }

    /// The demo desktop with scenarios from `scenarios` and screenshots
    /// written to `output`, plus `extra` arguments.
    pub fn demo_with(scenarios: &Path, output: &Path, extra: &[&str]) -> Vncmon {
        let (s, o) = (
            scenarios.display().to_string(),
            output.display().to_string(),
        );
        let mut args = vec!["--demo", "--scenarios", &s, "--output", &o];
        args.extend_from_slice(extra);
        Vncmon::start(&args, None)
    }

    /// The demo desktop's `127.0.0.1:PORT` (started with `--demo`), read
    /// from vncmon's log.
    pub fn demo_addr(&self) -> String {
        self.proc
            .log()
            .lines()
            .find_map(|l| l.split("demo desktop listening on ").nth(1))
            .map(|a| a.trim().to_string())
            .unwrap_or_else(|| panic!("no demo address in the log:\n{}", self.log_tail()))
    }

    pub fn pid(&self) -> u32 {
        self.proc.pid()
    }

    pub fn is_running(&mut self) -> bool {
        self.proc.is_running()
    }

    /// Waits up to `timeout` for vncmon to exit by itself.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        self.proc.wait_exit(timeout)
    }

    pub fn log(&self) -> String {
        self.proc.log()
    }

    /// `GET /api/status` as JSON.
    pub fn status(&self) -> Value {
        let r = get(&self.addr, "/api/status");
        assert_eq!(r.status, 200, "/api/status: {}", r.text());
        r.json()
    }

    /// Waits until `/api/status` satisfies `cond`; panics with the last
    /// status and vncmon's log otherwise.
    pub fn wait_status(
        &self,
        timeout: Duration,
        what: &str,
        cond: impl Fn(&Value) -> bool,
    ) -> Value {
        let mut last = Value::Null;
        wait_for(timeout, || {
            last = self.status();
            cond(&last).then(|| last.clone())
        })
        .unwrap_or_else(|| {
            panic!(
                "vncmon status never showed {what} within {timeout:?}; last: {last}\n{}",
                self.proc.log_tail(40)
            )
        })
    }

    /// Waits for `connected: true`.
    pub fn wait_connected(&self) -> Value {
        self.wait_status(Duration::from_secs(20), "connected", |s| {
            s["connected"] == Value::Bool(true)
        })
    }

    /// `GET /snapshot.jpg`, checked and decoded.
    pub fn snapshot(&self) -> Result<RgbImage, String> {
        let r = get(&self.addr, "/snapshot.jpg");
        if r.status != 200 {
            return Err(format!("/snapshot.jpg: status {} {}", r.status, r.text()));
        }
        let ctype = r.header("content-type").unwrap_or("");
        if ctype != "image/jpeg" {
            return Err(format!("/snapshot.jpg: Content-Type {ctype:?}"));
        }
        decode_jpeg(&r.body)
    }

    /// Opens `/video_feed`.
    pub fn stream(&self) -> MjpegStream {
        MjpegStream::open(&self.addr, "/video_feed")
            .unwrap_or_else(|e| panic!("{e}\n{}", self.proc.log_tail(40)))
    }

    /// Sends `signal` ("TERM", "INT") by PID and checks the clean stop: exit
    /// status 0, every open stream closed by the server, the VNC session
    /// closed on request. Returns the time from the signal to the exit.
    pub fn stop_by_signal(&mut self, signal: &str, streams: Vec<MjpegStream>) -> Duration {
        let sent = std::time::Instant::now();
        let killed = Command::new("kill")
            .args([&format!("-{signal}"), &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(killed.success(), "kill -{signal} failed");
        let status = self.wait_exit(Duration::from_secs(20));
        let took = sent.elapsed();
        let Some(status) = status else {
            panic!(
                "vncmon still runs 20 s after SIG{signal}:\n{}",
                self.log_tail()
            )
        };
        assert_eq!(
            status.code(),
            Some(0),
            "exit after SIG{signal}: {status}\n{}",
            self.log_tail()
        );
        for (i, mut s) in streams.into_iter().enumerate() {
            if let Err(e) = s.wait_closed(Duration::from_secs(10)) {
                panic!("stream {i} after SIG{signal}: {e}\n{}", self.log_tail());
            }
        }
        let log = self.log();
        let said = |what: &dyn Fn(&str) -> bool| log.lines().any(what);
        assert!(
            said(&|l| l.contains(&format!("SIG{signal}: stopping")))
                && said(&|l| l.contains("capture: session to ") && l.ends_with(" closed"))
                && said(&|l| l.ends_with("INFO  vncmon: stopped")),
            "the log does not show the signal, the session closed and the stop:\n{log}"
        );
        took
    }

    /// vncmon's last log lines, for failure messages.
    pub fn log_tail(&self) -> String {
        self.proc.log_tail(40)
    }
}
