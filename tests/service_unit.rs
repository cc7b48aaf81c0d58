//! `cross/vncmon.service`, the systemd unit for a board: `systemd-analyze
//! verify` finds nothing to complain about, it keeps the hardening it
//! promises, and its `ExecStart` line, run as systemd would run it (the
//! credential under `%d`, the variables from the environment file), reads the
//! password from the credential and logs in.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::Vncmon;
use common::alloc::TempDir;
use common::proc::run;

const INSTALLED: &str = "/usr/local/bin/vncmon";

fn unit_text() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("cross/vncmon.service");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `key=value` lines of the unit (later ones appended, as systemd does for lists).
fn directives(text: &str) -> HashMap<String, Vec<String>> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('#') || line.starts_with('[') {
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            out.entry(k.to_string()).or_default().push(v.to_string());
        }
    }
    out
}

#[test]
fn systemd_analyze_verify_is_silent() {
    let dir = TempDir::new("unit");
    // verify checks that ExecStart names an executable: point it at ours.
    let text = unit_text().replace(INSTALLED, env!("CARGO_BIN_EXE_vncmon"));
    let unit = dir.path.join("vncmon.service");
    std::fs::write(&unit, text).expect("write the unit");
    let out = run(
        Command::new("systemd-analyze").arg("verify").arg(&unit),
        Duration::from_secs(60),
    )
    .expect("run systemd-analyze");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && out.stderr.trim().is_empty() && stdout.trim().is_empty(),
        "systemd-analyze verify: {}\n{stdout}{}",
        out.status,
        out.stderr
    );
}

#[test]
fn the_unit_is_hardened_and_restarts_on_failure() {
    let d = directives(&unit_text());
    let one = |k: &str| d.get(k).and_then(|v| v.last()).map(String::as_str);
    for (key, want) in [
        ("DynamicUser", "yes"),
        ("User", "vncmon"),
        ("Restart", "on-failure"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("PrivateDevices", "yes"),
        ("NoNewPrivileges", "yes"),
        ("CapabilityBoundingSet", ""),
        ("KillSignal", "SIGTERM"),
        ("LoadCredential", "vnc-password:/etc/vncmon/password"),
    ] {
        assert_eq!(one(key), Some(want), "{key}=");
    }
    let exec = one("ExecStart").unwrap_or_default();
    assert!(exec.starts_with(INSTALLED), "ExecStart={exec}");
    assert!(
        exec.contains("--password-file %d/vnc-password"),
        "ExecStart={exec}"
    );
    assert!(
        !d.contains_key("Environment") || !d["Environment"].iter().any(|e| e.contains("PASSWORD=")),
        "no password in the unit's environment"
    );
}

/// Runs the unit's ExecStart with `%d` → a credentials directory holding
/// `password`, and the VNC server in `VNCMON_VNC` as the environment file
/// would give it.
fn exec_start(password: &str, vnc: &str) -> (Vncmon, TempDir) {
    let creds = TempDir::new("unit");
    std::fs::write(creds.path.join("vnc-password"), format!("{password}\n"))
        .expect("write the credential");
    let d = directives(&unit_text());
    let exec = d["ExecStart"].last().cloned().unwrap_or_default();
    let creds_dir = creds.path.to_string_lossy().into_owned();
    let argv: Vec<String> = exec
        .split_whitespace()
        .map(|w| w.replace("%d", &creds_dir))
        .collect();
    assert_eq!(argv.first().map(String::as_str), Some(INSTALLED));
    let args: Vec<&str> = argv[1..].iter().map(String::as_str).collect();
    let v = Vncmon::start_program(
        &[env!("CARGO_BIN_EXE_vncmon")],
        &args,
        &[("VNCMON_VNC", vnc), ("VNCMON_LISTEN", "127.0.0.1:0")],
    );
    (v, creds)
}

#[test]
fn exec_start_logs_in_with_the_password_from_the_credential() {
    // A VNC server that asks for a password: the demo desktop of another vncmon.
    let server = Vncmon::start(&["--demo", "--max-fps", "5"], Some("board-secret"));
    let vnc = server.demo_addr();

    let (v, _creds) = exec_start("board-secret", &vnc);
    let status = v.wait_connected();
    assert_eq!(status["desktop_name"], "vncmon demo", "{status}");
    let mut s = v.stream();
    s.next_image(Duration::from_secs(20))
        .unwrap_or_else(|e| panic!("a frame: {e}\n{}", v.log_tail()));

    // The credential is what is used: a wrong one is refused by the server.
    let (v, _creds) = exec_start("not-the-password", &vnc);
    let status = v.wait_status(Duration::from_secs(20), "an error", |s| {
        s["last_error"].is_string()
    });
    assert_eq!(status["connected"], false, "{status}");
    let error = status["last_error"].as_str().unwrap_or_default();
    assert!(error.contains("authentication failed"), "{status}");
}
