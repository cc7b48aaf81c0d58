//! The one-file install: `cross/build.sh` builds stripped, fully static
//! binaries for aarch64, armv7 and x86_64, and each one really runs — the ARM
//! ones under qemu-user — answering `--version`, serving the demo desktop to a
//! real MJPEG client that decodes the frames, showing a click sent through
//! `POST /api/input` in the frames that follow, reaching a VNC server by the
//! name `localhost` and by a name from a hosts file, and stopping cleanly on
//! SIGTERM. Needs what `cross/setup.sh` installs (`scripts/test.sh` runs it).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use common::alloc::TempFile;
use common::proc::run_ok;
use common::{Rgb, RgbImage, Vncmon, post, psnr};
use vncmon::demo::layout;

/// Cold release builds of three targets with LTO take minutes on two cores.
const BUILD_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// Emulated code is slow: waits are generous.
const FRAME_TIMEOUT: Duration = Duration::from_secs(60);
/// A name that exists only in the hosts file the test mounts.
const HOSTS_NAME: &str = "pi-desk.vncmon.test";

struct Target {
    triple: &'static str,
    /// The emulator that runs it here (None: runs natively).
    runner: Option<&'static str>,
    /// What `file` says about the machine.
    machine: &'static str,
}

const AARCH64: Target = Target {
    triple: "aarch64-unknown-linux-gnu",
    runner: Some("qemu-aarch64-static"),
    machine: "ARM aarch64",
};
const ARMV7: Target = Target {
    triple: "armv7-unknown-linux-gnueabihf",
    runner: Some("qemu-arm-static"),
    machine: "ARM, EABI5",
};
const X86_64: Target = Target {
    triple: "x86_64-unknown-linux-gnu",
    runner: None,
    machine: "x86-64",
};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Builds all three targets once per test binary (one cargo invocation, its
/// own target directory); every test waits for that one build.
fn built() -> &'static Result<(), String> {
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    BUILT.get_or_init(|| {
        let root = repo();
        run_ok(
            Command::new(root.join("cross/setup.sh")).arg("--check"),
            Duration::from_secs(60),
        )
        .map_err(|e| format!("the cross toolchain is missing (run cross/setup.sh): {e}"))?;
        let started = std::time::Instant::now();
        let out = run_ok(
            Command::new(root.join("cross/build.sh")).current_dir(&root),
            BUILD_TIMEOUT,
        )
        .map_err(|e| format!("cross/build.sh failed: {e}"))?;
        eprintln!(
            "cross/build.sh: three static targets in {:.0} s\n{}",
            started.elapsed().as_secs_f64(),
            String::from_utf8_lossy(&out.stdout)
        );
        Ok(())
    })
}

impl Target {
    fn binary(&self) -> PathBuf {
        if let Err(e) = built() {
            panic!("{e}");
        }
        repo()
            .join("target/static/dist")
            .join(format!("vncmon-{}", self.triple))
    }

    /// The command that runs the binary here: `[runner,] binary`.
    fn program(&self) -> Vec<String> {
        let bin = self.binary().to_string_lossy().into_owned();
        self.runner
            .map(str::to_string)
            .into_iter()
            .chain([bin])
            .collect()
    }

    fn start(&self, prefix: &[&str], args: &[&str]) -> Vncmon {
        let program = self.program();
        let mut full: Vec<&str> = prefix.to_vec();
        full.extend(program.iter().map(String::as_str));
        Vncmon::start_program(&full, args, &[])
    }
}

/// The file is one static, stripped executable for the right machine, and it
/// runs: `--version` prints the package version.
fn file_and_version(t: &Target) {
    let bin = t.binary();
    let out = run_ok(
        Command::new("file").arg("-b").arg(&bin),
        Duration::from_secs(30),
    )
    .unwrap_or_else(|e| panic!("file {}: {e}", bin.display()));
    let desc = String::from_utf8_lossy(&out.stdout);
    assert!(
        desc.contains("statically linked") || desc.contains("static-pie linked"),
        "{}: not static: {desc}",
        bin.display()
    );
    assert!(
        desc.contains(", stripped"),
        "{}: not stripped: {desc}",
        bin.display()
    );
    assert!(
        desc.contains(t.machine),
        "{}: not {}: {desc}",
        bin.display(),
        t.machine
    );
    let size = std::fs::metadata(&bin).map(|m| m.len()).unwrap_or(0);
    eprintln!("{}: {size} bytes", t.triple);

    let program = t.program();
    let (first, rest) = program.split_first().expect("a program");
    let out = run_ok(
        Command::new(first).args(rest).arg("--version"),
        Duration::from_secs(60),
    )
    .unwrap_or_else(|e| panic!("{} --version: {e}", t.triple));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("vncmon {}", env!("CARGO_PKG_VERSION")),
        "{} --version",
        t.triple
    );
}

/// Two decoded frames of the demo desktop that differ (the ball moves).
fn live_frames(v: &Vncmon, what: &str) -> RgbImage {
    let mut stream = v.stream();
    let first = stream
        .next_image(FRAME_TIMEOUT)
        .unwrap_or_else(|e| panic!("{what}: a first frame: {e}\n{}", v.log_tail()));
    assert_eq!((first.width, first.height), (800, 480), "{what}");
    let moved = stream.image_where(FRAME_TIMEOUT, |img| match psnr(img, &first, &[]) {
        Ok(p) if p < 60.0 => Ok(()),
        Ok(p) => Err(format!("frame still equals the first ({p:.1} dB)")),
        Err(e) => Err(e),
    });
    match moved {
        Ok(img) => img,
        Err(e) => panic!("{what}: the picture never moved: {e}\n{}", v.log_tail()),
    }
}

/// `POST /api/input` clicks the demo's first button; the stream then shows
/// it switched on.
fn input_shows_in_the_next_frames(v: &Vncmon, t: &Target) {
    let b = layout::BUTTONS[0];
    // Inside the button, clear of its border, label and the drawn cursor.
    let (px, py) = (usize::from(b.x) + 8, usize::from(b.y) + 8);
    let on = Rgb(0x2e, 0x9e, 0x5b);
    let mut stream = v.stream();
    let before = stream
        .next_image(FRAME_TIMEOUT)
        .unwrap_or_else(|e| panic!("{}: a frame: {e}", t.triple));
    assert!(
        before.pixel(px, py).distance(on) > 40,
        "{}: the button is on before the click",
        t.triple
    );
    let body = format!(
        r#"{{"action":"click","x":{},"y":{}}}"#,
        b.x + b.w / 2,
        b.y + b.h / 2
    );
    let r = post(&v.addr, "/api/input", &body);
    assert_eq!(r.status, 200, "{}: /api/input: {}", t.triple, r.text());
    assert_eq!(r.json()["success"], true, "{}", r.text());
    let shown = stream.image_where(FRAME_TIMEOUT, |img| {
        let p = img.pixel(px, py);
        if p.distance(on) <= 40 {
            Ok(())
        } else {
            Err(format!("the button at ({px},{py}) is still {}", p.hex()))
        }
    });
    if let Err(e) = shown {
        panic!(
            "{}: the click never showed: {e}\n{}",
            t.triple,
            v.log_tail()
        );
    }
}

/// The demo desktop served by the binary itself: a live, decodable stream,
/// then SIGTERM ends it cleanly with its streams.
fn serves_the_demo_and_stops_on_sigterm(t: &Target) {
    let mut v = t.start(&[], &["--demo", "--max-fps", "10"]);
    let status = v.wait_status(FRAME_TIMEOUT, "connected", |s| s["connected"] == true);
    assert_eq!(status["desktop_name"], "vncmon demo", "{status}");
    live_frames(&v, &format!("{} --demo", t.triple));
    input_shows_in_the_next_frames(&v, t);
    let mut open = v.stream();
    open.next_image(FRAME_TIMEOUT)
        .unwrap_or_else(|e| panic!("{}: {e}", t.triple));
    let took = v.stop_by_signal("TERM", vec![open]);
    eprintln!("{}: SIGTERM → exit 0 in {} ms", t.triple, took.as_millis());
}

/// `--vnc` by name: `localhost` through the machine's own /etc/hosts, then a
/// name that only a mounted hosts file knows, with an nsswitch.conf that
/// lists modules a static binary cannot load before `files` (as Fedora's
/// and Ubuntu's do). The private mount namespace (`unshare -m`, root) keeps
/// the machine's files untouched.
fn resolves_hostnames(t: &Target) {
    // A demo desktop to connect to, served by the native test binary.
    let demo = Vncmon::start(&["--demo", "--max-fps", "5"], None);
    let port = demo
        .demo_addr()
        .rsplit(':')
        .next()
        .unwrap_or_default()
        .to_string();

    let v = t.start(
        &[],
        &["--vnc", &format!("localhost::{port}"), "--max-fps", "10"],
    );
    live_frames(&v, &format!("{} --vnc localhost", t.triple));
    drop(v);

    let hosts = TempFile::new("hosts", "txt");
    std::fs::write(
        &hosts.path,
        format!("127.0.0.1 localhost\n# a board's name for its VNC server\n127.0.0.1 {HOSTS_NAME} pi-desk\n"),
    )
    .expect("write the hosts file");
    let nsswitch = TempFile::new("nsswitch", "conf");
    std::fs::write(
        &nsswitch.path,
        "hosts: mymachines resolve [!UNAVAIL=return] mdns4_minimal files myhostname dns\n",
    )
    .expect("write nsswitch.conf");
    let script = format!(
        "mount --bind {} /etc/hosts && mount --bind {} /etc/nsswitch.conf && exec \"$@\"",
        sh_quote(&hosts.path),
        sh_quote(&nsswitch.path)
    );
    let v = t.start(
        &["unshare", "-m", "sh", "-c", &script, "sh"],
        &["--vnc", &format!("{HOSTS_NAME}::{port}"), "--max-fps", "10"],
    );
    live_frames(&v, &format!("{} --vnc {HOSTS_NAME} (hosts file)", t.triple));
    let status = v.status();
    assert_eq!(status["connected"], true, "{status}");
}

fn sh_quote(p: &Path) -> String {
    format!("'{}'", p.to_string_lossy().replace('\'', r"'\''"))
}

fn smoke(t: &Target) {
    file_and_version(t);
    serves_the_demo_and_stops_on_sigterm(t);
    resolves_hostnames(t);
}

#[test]
fn aarch64_static_binary_runs_under_qemu() {
    smoke(&AARCH64);
}

#[test]
fn armv7_static_binary_runs_under_qemu() {
    smoke(&ARMV7);
}

#[test]
fn x86_64_static_binary_runs_natively() {
    smoke(&X86_64);
}

#[test]
fn the_aarch64_binary_stays_under_2_mib() {
    let size = std::fs::metadata(AARCH64.binary())
        .map(|m| m.len())
        .expect("the aarch64 binary");
    assert!(size < 2 * 1024 * 1024, "aarch64 binary is {size} bytes");
}
