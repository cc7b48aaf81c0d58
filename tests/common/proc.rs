//! Child processes of a test: a `Proc` guard whose stdout and stderr go to a
//! log file, stopped by PID (SIGTERM, then SIGKILL after a grace period) and
//! reaped when dropped, its log printed when the test is failing; and `run`,
//! a one-shot command with a timeout.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

use super::alloc::TempFile;

/// How long a process gets to leave after SIGTERM before SIGKILL.
const GRACE: Duration = Duration::from_secs(3);

/// A running child process, stopped and reaped when dropped.
pub struct Proc {
    name: String,
    child: Child,
    log: TempFile,
    /// stdout lines, when spawned with `spawn_watched`.
    lines: Option<Receiver<String>>,
}

impl Proc {
    /// Starts `cmd` with stdin closed and stdout + stderr going to a log file.
    pub fn spawn(name: &str, cmd: &mut Command) -> std::io::Result<Proc> {
        let log = TempFile::new(name, "log");
        let out = std::fs::OpenOptions::new().append(true).open(&log.path)?;
        let err = out.try_clone()?;
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()?;
        Ok(Proc {
            name: name.to_string(),
            child,
            log,
            lines: None,
        })
    }

    /// Like `spawn`, but stdout lines are also handed to `next_line`.
    pub fn spawn_watched(name: &str, cmd: &mut Command) -> std::io::Result<Proc> {
        let log = TempFile::new(name, "log");
        let mut log_out = std::fs::OpenOptions::new().append(true).open(&log.path)?;
        let err = log_out.try_clone()?;
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(err))
            .spawn()?;
        let (tx, rx) = mpsc::channel();
        if let Some(stdout) = child.stdout.take() {
            thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    let _ = writeln!(log_out, "{line}");
                    // Nobody may listen any more; keep logging anyway.
                    let _ = tx.send(line);
                }
            });
        }
        Ok(Proc {
            name: name.to_string(),
            child,
            log,
            lines: Some(rx),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The next stdout line (for `spawn_watched` processes) within `timeout`.
    pub fn next_line(&self, timeout: Duration) -> Option<String> {
        self.lines.as_ref()?.recv_timeout(timeout).ok()
    }

    /// Whether the process still runs (reaps it when it has exited).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits up to `timeout` for the process to exit by itself.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return Some(status),
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
                _ => return None,
            }
        }
    }

    /// Everything the process wrote so far.
    pub fn log(&self) -> String {
        std::fs::read(&self.log.path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// SIGTERM, then SIGKILL after the grace period; always reaps. The PID
    /// cannot have been reused: the child is not reaped before this ends.
    pub fn stop(&mut self) {
        if !self.is_running() {
            return;
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if self.wait_exit(GRACE).is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    /// The log's last `n` lines, for failure reports.
    pub fn log_tail(&self, n: usize) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
        if thread::panicking() && !self.log().trim().is_empty() {
            eprintln!(
                "----- {} (pid {}) log {} -----\n{}\n-----",
                self.name,
                self.pid(),
                self.log.path.display(),
                self.log_tail(80)
            );
        }
    }
}

/// What a finished one-shot command printed.
pub struct Output {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

/// Runs `cmd` to completion, killing it after `timeout`. Errors describe the
/// command, its exit status and its stderr.
pub fn run(cmd: &mut Command, timeout: Duration) -> Result<Output, String> {
    let what = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {what}: {e}"))?;
    let reader = |r: Option<Box<dyn Read + Send>>| {
        thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut buf);
            }
            buf
        })
    };
    let out = reader(
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let err = reader(
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(10)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{what} did not finish within {timeout:?}"));
            }
            Err(e) => return Err(format!("waiting for {what}: {e}")),
        }
    };
    let stdout = out.join().unwrap_or_default();
    let stderr = String::from_utf8_lossy(&err.join().unwrap_or_default()).into_owned();
    Ok(Output {
        status,
        stdout,
        stderr,
    })
}

/// Like `run`, but a non-zero exit is an error too.
pub fn run_ok(cmd: &mut Command, timeout: Duration) -> Result<Output, String> {
    let out = run(cmd, timeout)?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(format!(
            "{cmd:?} failed ({}): {}",
            out.status,
            out.stderr.trim()
        ))
    }
}
