//! Real VNC servers for tests: `Xtigervnc`, or `Xvfb` + `x11vnc`, on a free
//! display and a free loopback port, with security None or VNC
//! authentication; known content drawn on them (`xsetroot`, `xterm`, `xwud`),
//! pointer moves (`xdotool`), resizes (`xrandr`) and `xwd` captures.
//! Every process is a `Proc`, stopped by PID when the `Server` is dropped.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::alloc::{TempFile, free_display, free_port};
use super::image::{Rect, Rgb, RgbImage};
use super::proc::{Proc, run_ok};
use super::{wait_for, wait_until, xwd};

/// Which VNC server to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `Xtigervnc`: an X server with a built-in VNC server.
    Tiger,
    /// `Xvfb` with `x11vnc` attached.
    Xvfb,
}

impl Kind {
    pub const ALL: [Kind; 2] = [Kind::Tiger, Kind::Xvfb];
}

/// The security the VNC server asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Auth {
    None,
    /// VNC authentication with this password (8 characters are significant).
    Password(String),
}

const START_ATTEMPTS: usize = 5;
const READY_TIMEOUT: Duration = Duration::from_secs(20);
const TOOL_TIMEOUT: Duration = Duration::from_secs(20);
/// Half the side of the square around a cursor excluded from comparisons.
const CURSOR_RADIUS: i64 = 28;

/// A running VNC server with its X display and the X clients drawn on it.
pub struct Server {
    pub kind: Kind,
    pub display: u32,
    pub port: u16,
    pub width: usize,
    pub height: usize,
    auth: Auth,
    passfile: Option<TempFile>,
    /// X clients (xterm, xwud); stopped first.
    clients: Vec<Proc>,
    /// x11vnc for `Kind::Xvfb`.
    vnc: Option<Proc>,
    /// Xtigervnc or Xvfb.
    x: Option<Proc>,
    /// Images shown by `xwud`, kept until the server stops.
    files: Vec<TempFile>,
    titles: u32,
    /// Window title of the last `show_image` picture.
    last_image: Option<String>,
}

impl Server {
    /// Starts a server of `kind` with a `width`×`height` 24-bit screen on a
    /// free display and port, retrying when either was taken meanwhile.
    pub fn start(kind: Kind, width: usize, height: usize, auth: Auth) -> Server {
        let passfile = match &auth {
            Auth::None => None,
            Auth::Password(pw) => Some(password_file(pw)),
        };
        let mut s = Server {
            kind,
            display: 0,
            port: 0,
            width,
            height,
            auth,
            passfile,
            clients: Vec::new(),
            vnc: None,
            x: None,
            files: Vec::new(),
            titles: 0,
            last_image: None,
        };
        let mut failures = Vec::new();
        for _ in 0..START_ATTEMPTS {
            s.port = free_port();
            match s.try_start_all() {
                Ok(()) => return s,
                Err(e) => failures.push(e),
            }
        }
        panic!("cannot start {kind:?}:\n{}", failures.join("\n"));
    }

    fn try_start_all(&mut self) -> Result<(), String> {
        self.start_x()?;
        if self.kind == Kind::Xvfb {
            self.start_x11vnc()?;
        }
        Ok(())
    }

    /// Starts the X server (Xtigervnc listens on `self.port` too).
    fn start_x(&mut self) -> Result<(), String> {
        self.display = free_display();
        let d = format!(":{}", self.display);
        let geometry = format!("{}x{}", self.width, self.height);
        let (name, mut cmd) = match self.kind {
            Kind::Tiger => {
                let mut c = Command::new("Xtigervnc");
                c.args([
                    &d,
                    "-rfbport",
                    &self.port.to_string(),
                    "-geometry",
                    &geometry,
                ]);
                c.args(["-depth", "24", "-interface", "127.0.0.1", "-localhost"]);
                c.args([
                    "-desktop",
                    "vncmon-test",
                    "-AlwaysShared",
                    "-nolisten",
                    "tcp",
                ]);
                // Wrong-password tests must not get the host blacklisted.
                c.args(["-BlacklistThreshold", "10000"]);
                match &self.passfile {
                    None => c.args(["-SecurityTypes", "None"]),
                    Some(f) => c
                        .args(["-SecurityTypes", "VncAuth", "-PasswordFile"])
                        .arg(&f.path),
                };
                ("Xtigervnc", c)
            }
            Kind::Xvfb => {
                let mut c = Command::new("Xvfb");
                c.args([
                    &d,
                    "-screen",
                    "0",
                    &format!("{geometry}x24"),
                    "-nolisten",
                    "tcp",
                ]);
                ("Xvfb", c)
            }
        };
        let mut proc =
            Proc::spawn(name, &mut cmd).map_err(|e| format!("cannot run {name}: {e}"))?;
        let socket = format!("/tmp/.X11-unix/X{}", self.display);
        let ready = wait_until(READY_TIMEOUT, || {
            if !proc.is_running() {
                return true;
            }
            let x_up = Path::new(&socket).exists();
            match self.kind {
                Kind::Xvfb => x_up,
                Kind::Tiger => {
                    x_up && proc.log().contains("Listening for VNC connections")
                        && rfb_greeting(self.port).is_some()
                }
            }
        });
        if !ready || !proc.is_running() {
            let why = format!("{name} on {d} port {}: {}", self.port, proc.log_tail(5));
            drop(proc);
            return Err(why);
        }
        self.x = Some(proc);
        Ok(())
    }

    fn start_x11vnc(&mut self) -> Result<(), String> {
        let mut c = Command::new("x11vnc");
        c.args(["-display", &format!(":{}", self.display)]);
        c.args(["-rfbport", &self.port.to_string(), "-localhost", "-noipv6"]);
        c.args(["-forever", "-shared", "-nopw", "-nowf", "-norc"]);
        if let Some(f) = &self.passfile {
            c.arg("-rfbauth").arg(&f.path);
        }
        let mut proc =
            Proc::spawn("x11vnc", &mut c).map_err(|e| format!("cannot run x11vnc: {e}"))?;
        let ready = wait_until(READY_TIMEOUT, || {
            !proc.is_running()
                || (proc.log().contains("PORT=") && rfb_greeting(self.port).is_some())
        });
        if !ready || !proc.is_running() {
            let why = format!("x11vnc on port {}: {}", self.port, proc.log_tail(5));
            drop(proc);
            return Err(why);
        }
        self.vnc = Some(proc);
        Ok(())
    }

    /// `127.0.0.1:PORT`, as vncmon's `--vnc` takes it.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn display_name(&self) -> String {
        format!(":{}", self.display)
    }

    /// Stops what serves VNC (Xtigervnc with its display and clients, or
    /// x11vnc alone); the port then refuses connections.
    pub fn stop_vnc(&mut self) {
        match self.kind {
            Kind::Tiger => {
                self.clients.clear();
                if let Some(mut x) = self.x.take() {
                    x.stop();
                }
            }
            Kind::Xvfb => {
                if let Some(mut v) = self.vnc.take() {
                    v.stop();
                }
            }
        }
    }

    /// Starts serving VNC again on the same port (a fresh, empty display for
    /// Xtigervnc; the same display for Xvfb).
    pub fn restart_vnc(&mut self) {
        let mut failures = Vec::new();
        for _ in 0..START_ATTEMPTS {
            let r = match self.kind {
                Kind::Tiger => self.start_x(),
                Kind::Xvfb => self.start_x11vnc(),
            };
            match r {
                Ok(()) => return,
                Err(e) => failures.push(e),
            }
            // The port may still be held by the stopped server's last sockets.
            std::thread::sleep(Duration::from_millis(300));
        }
        panic!(
            "cannot restart {:?} on port {}:\n{}",
            self.kind,
            self.port,
            failures.join("\n")
        );
    }

    /// A command for an X client on this display.
    pub fn x_command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env("DISPLAY", self.display_name())
            .env_remove("XAUTHORITY");
        c
    }

    fn x_run(&self, program: &str, args: &[&str]) -> Vec<u8> {
        let mut c = self.x_command(program);
        c.args(args);
        run_ok(&mut c, TOOL_TIMEOUT)
            .unwrap_or_else(|e| panic!("on {}: {e}", self.display_name()))
            .stdout
    }

    /// Paints the root window one colour.
    pub fn set_root(&self, c: Rgb) {
        self.x_run("xsetroot", &["-solid", &c.hex()]);
    }

    /// Moves the X pointer and waits until it is there. (`xdotool mousemove
    /// --sync` would wait 15 s when the pointer is there already.)
    pub fn pointer_to(&self, x: usize, y: usize) {
        self.x_run("xdotool", &["mousemove", &x.to_string(), &y.to_string()]);
        let want = (x as i64, y as i64);
        let ok = wait_until(Duration::from_secs(5), || self.pointer() == want);
        assert!(
            ok,
            "the pointer of {} did not reach {want:?}",
            self.display_name()
        );
    }

    /// Where the X pointer is.
    pub fn pointer(&self) -> (i64, i64) {
        let out = self.x_run("xdotool", &["getmouselocation", "--shell"]);
        let text = String::from_utf8_lossy(&out);
        let get = |k: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(k))
                .and_then(|v| v.trim().parse::<i64>().ok())
                .unwrap_or_else(|| panic!("xdotool getmouselocation said {text:?}"))
        };
        (get("X="), get("Y="))
    }

    /// Squares to leave out of comparisons: where a drawn cursor may be (the
    /// X pointer, and the screen centre where a client starts it).
    pub fn cursor_zones(&self) -> Vec<Rect> {
        let (px, py) = self.pointer();
        vec![
            Rect::around(px, py, CURSOR_RADIUS),
            Rect::around(self.width as i64 / 2, self.height as i64 / 2, CURSOR_RADIUS),
        ]
    }

    /// The screen as the X server has it (no cursor).
    pub fn capture(&self) -> RgbImage {
        let out = self.x_run("xwd", &["-root", "-silent"]);
        xwd::parse(&out).unwrap_or_else(|e| panic!("xwd capture of {}: {e}", self.display_name()))
    }

    /// Waits until two captures in a row are equal and returns the last.
    pub fn settle(&self) -> RgbImage {
        let mut last = self.capture();
        wait_for(Duration::from_secs(15), || {
            std::thread::sleep(Duration::from_millis(150));
            let now = self.capture();
            let same = now == last;
            last = now;
            same.then(|| last.clone())
        })
        .unwrap_or_else(|| panic!("the screen of {} never settled", self.display_name()))
    }

    fn next_title(&mut self) -> String {
        self.titles += 1;
        format!("vncmon-test-{}-{}", self.display, self.titles)
    }

    fn wait_window(&self, title: &str) {
        self.x_run(
            "xdotool",
            &["search", "--sync", "--onlyvisible", "--name", title],
        );
    }

    /// Opens an xterm at `(x, y)`, `(cols, rows)` characters big, in colours
    /// `(bg, fg)`, showing `text` in the `fixed` font (no text cursor), and
    /// waits until it is on screen.
    pub fn xterm(
        &mut self,
        (x, y): (usize, usize),
        (cols, rows): (usize, usize),
        (bg, fg): (Rgb, Rgb),
        text: &str,
    ) {
        let title = self.next_title();
        let mut c = self.x_command("xterm");
        c.args(["-geometry", &format!("{cols}x{rows}+{x}+{y}")]);
        c.args([
            "-bg",
            &bg.hex(),
            "-fg",
            &fg.hex(),
            "-cr",
            &fg.hex(),
            "-fn",
            "fixed",
        ]);
        c.args([
            "-T",
            &title,
            "-xrm",
            "XTerm*cursorBlink: false",
            "+sb",
            "-hold",
        ]);
        // ESC [?25l hides the text cursor, whose look follows the focus.
        c.args(["-e", "printf", "\x1b[?25l%s", text]);
        let p = Proc::spawn("xterm", &mut c).unwrap_or_else(|e| panic!("cannot run xterm: {e}"));
        self.clients.push(p);
        self.wait_window(&title);
    }

    /// Opens an xterm at `(x, y)`, `(cols, rows)` characters big, running
    /// `command` (it closes when the command ends) with `env` set, and waits
    /// until it is on screen. Returns its process.
    pub fn xterm_running(
        &mut self,
        (x, y): (usize, usize),
        (cols, rows): (usize, usize),
        env: &[(&str, &str)],
        command: &[&str],
    ) -> Proc {
        let title = self.next_title();
        let mut c = self.x_command("xterm");
        c.args(["-geometry", &format!("{cols}x{rows}+{x}+{y}")]);
        c.args(["-T", &title, "-fn", "fixed", "+sb", "-e"]);
        c.args(command);
        c.envs(env.iter().copied());
        let p = Proc::spawn("xterm", &mut c).unwrap_or_else(|e| panic!("cannot run xterm: {e}"));
        self.wait_window(&title);
        p
    }

    /// Starts `xev` on the root window, logging pointer and key events
    /// (no window manager runs, so the root window gets them), and waits
    /// until it reports a pointer move.
    pub fn xev_root(&self) -> Proc {
        let mut c = self.x_command("xev");
        c.args(["-root", "-event", "mouse", "-event", "keyboard"]);
        let p = Proc::spawn("xev", &mut c).unwrap_or_else(|e| panic!("cannot run xev: {e}"));
        let mut n = 0;
        let ready = wait_until(Duration::from_secs(10), || {
            n += 1;
            self.x_run("xdotool", &["mousemove", &(n % 50 + 1).to_string(), "1"]);
            p.log().contains("MotionNotify")
        });
        assert!(ready, "xev on {} reports nothing", self.display_name());
        p
    }

    /// Shows `img` in a window at (x, y) through `xwud`, and waits until it is on screen.
    pub fn show_image(&mut self, img: &RgbImage, x: usize, y: usize) {
        let title = self.next_title();
        let file = TempFile::with_contents("image", "xwd", &xwd::write(img, &title));
        let mut c = self.x_command("xwud");
        c.arg("-in").arg(&file.path);
        c.args(["-noclick", "-geometry", &format!("+{x}+{y}")]);
        let p = Proc::spawn("xwud", &mut c).unwrap_or_else(|e| panic!("cannot run xwud: {e}"));
        self.clients.push(p);
        self.files.push(file);
        self.wait_window(&title);
        self.last_image = Some(title);
    }

    /// Moves the last `show_image` window to (x, y) (a CopyRect for servers
    /// that detect moves) and returns the settled capture.
    pub fn move_image(&mut self, x: usize, y: usize) -> RgbImage {
        let title = self
            .last_image
            .clone()
            .expect("move_image before show_image");
        let (xs, ys) = (x.to_string(), y.to_string());
        self.x_run(
            "xdotool",
            &["search", "--name", &title, "windowmove", "--sync", &xs, &ys],
        );
        self.settle()
    }

    /// Closes every xterm and image window.
    pub fn close_windows(&mut self) {
        self.clients.clear();
        self.last_image = None;
    }

    /// Draws a varied, deterministic screen for `variant`: a root colour, a
    /// many-coloured picture and an xterm with text; parks the pointer at the
    /// centre. Returns the settled capture.
    pub fn draw_scene(&mut self, variant: u32) -> RgbImage {
        const ROOTS: [Rgb; 4] = [
            Rgb(32, 64, 128),
            Rgb(150, 40, 40),
            Rgb(30, 120, 60),
            Rgb(90, 90, 90),
        ];
        self.close_windows();
        self.pointer_to(self.width / 2, self.height / 2);
        self.set_root(ROOTS[variant as usize % ROOTS.len()]);
        let (w, h) = (self.width, self.height);
        self.show_image(&RgbImage::pattern(w * 2 / 5, h * 2 / 5, variant), 8, 8);
        let text = format!("vncmon test {variant}\nThe quick brown fox\njumps over the lazy dog");
        self.xterm(
            (w / 2 + 8, h / 2 + 32),
            (26, 4),
            (Rgb(255, 255, 255), Rgb(0, 0, 0)),
            &text,
        );
        self.settle()
    }

    /// Resizes the screen with `xrandr -s` (Xtigervnc offers many sizes) and
    /// waits until captures have the new size.
    pub fn resize(&mut self, width: usize, height: usize) {
        self.x_run("xrandr", &["-s", &format!("{width}x{height}")]);
        let ok = wait_until(Duration::from_secs(10), || {
            let c = self.capture();
            (c.width, c.height) == (width, height)
        });
        assert!(
            ok,
            "{} did not become {width}x{height}",
            self.display_name()
        );
        self.width = width;
        self.height = height;
    }

    /// The password, when the server asks for one.
    pub fn password(&self) -> Option<&str> {
        match &self.auth {
            Auth::None => None,
            Auth::Password(p) => Some(p),
        }
    }

    /// Logs of the server processes, for failure messages.
    pub fn logs(&self) -> String {
        [&self.x, &self.vnc]
            .into_iter()
            .flatten()
            .map(|p| format!("--- {} ---\n{}", p.name(), p.log_tail(20)))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Clients first, then the VNC server, then the X server.
        self.clients.clear();
        self.vnc = None;
        self.x = None;
    }
}

/// Connects to `127.0.0.1:port` and reads the 12-byte RFB greeting.
pub fn rfb_greeting(port: u16) -> Option<String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    let mut buf = [0u8; 12];
    s.read_exact(&mut buf).ok()?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    text.starts_with("RFB ").then_some(text)
}

/// A VNC password file made by `vncpasswd -f`.
fn password_file(password: &str) -> TempFile {
    let mut child = Command::new("vncpasswd")
        .arg("-f")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run vncpasswd (tigervnc-tools): {e}"));
    if let Some(mut stdin) = child.stdin.take() {
        let _ = writeln!(stdin, "{password}");
    }
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("vncpasswd -f: {e}"));
    assert!(
        out.status.success() && out.stdout.len() == 8,
        "vncpasswd -f gave {} bytes: {}",
        out.stdout.len(),
        String::from_utf8_lossy(&out.stderr)
    );
    TempFile::with_contents("passwd", "vnc", &out.stdout)
}
