//! Command line and environment → `Config`. Every flag has an environment
//! variable; a flag wins over its variable, which wins over the default.
//! Reads the password file; touches nothing else.

use std::fmt::Write as _;

use crate::rfb::enc;

/// What the user asked for (the server).
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// `host:port` of the VNC server (None with `--demo` until the demo starts).
    pub vnc: Option<String>,
    pub password: Option<String>,
    pub listen: String,
    pub quality: u8,
    pub max_fps: u32,
    pub log_level: log::LevelFilter,
    pub demo: bool,
    /// Encodings sent in SetEncodings, pseudo-encodings included.
    pub encodings: Vec<i32>,
    pub max_connections: usize,
    /// Live connections from one client address.
    pub max_per_client: usize,
    /// Where scenario files are looked up.
    pub scenarios: String,
    /// Where `screenshot` steps write.
    pub output: String,
    /// Refuse remote input and step execution (403).
    pub view_only: bool,
}

/// What `vncmon run FILE NAME` asked for.
#[derive(Clone, Debug, PartialEq)]
pub struct RunConfig {
    pub file: String,
    pub name: String,
    /// None: take host and port from the file's `connection` block (or `--demo`).
    pub vnc: Option<String>,
    pub demo: bool,
    /// From `--password-file` or `VNC_PASSWORD`; the file's password is used when None.
    pub password: Option<String>,
    pub output: String,
    pub encodings: Vec<i32>,
    /// How long to wait for the session to come up.
    pub connect_timeout: std::time::Duration,
    pub log_level: log::LevelFilter,
}

/// What `parse` decided the process should do.
#[derive(Debug, PartialEq)]
pub enum Command {
    /// Serve the web page and API.
    Run(Box<Config>),
    /// `vncmon run FILE NAME`: run one scenario and exit.
    RunScenario(Box<RunConfig>),
    Help,
    RunHelp,
    Version,
}

/// Which command line a flag belongs to.
#[derive(Clone, Copy, PartialEq)]
enum Scope {
    Serve,
    Run,
    Both,
}

struct Flag {
    long: &'static str,
    env: &'static str,
    value: &'static str,
    help: &'static str,
    scope: Scope,
}

const FLAGS: &[Flag] = &[
    Flag {
        long: "--vnc",
        env: "VNCMON_VNC",
        value: "HOST:PORT",
        help: "VNC server: HOST:PORT, HOST::PORT, or HOST:N for display N (port 5900+N, N < 100)",
        scope: Scope::Both,
    },
    Flag {
        long: "--password-file",
        env: "VNCMON_PASSWORD_FILE",
        value: "FILE",
        help: "read the VNC password from FILE (or set VNC_PASSWORD; never on the command line)",
        scope: Scope::Both,
    },
    Flag {
        long: "--listen",
        env: "VNCMON_LISTEN",
        value: "ADDR:PORT",
        help: "HTTP address to serve on [default: 127.0.0.1:5000]",
        scope: Scope::Serve,
    },
    Flag {
        long: "--quality",
        env: "VNCMON_QUALITY",
        value: "1-100",
        help: "JPEG quality of served frames [default: 80]",
        scope: Scope::Serve,
    },
    Flag {
        long: "--max-fps",
        env: "VNCMON_MAX_FPS",
        value: "1-120",
        help: "most frames encoded per second [default: 30]",
        scope: Scope::Serve,
    },
    Flag {
        long: "--encodings",
        env: "VNCMON_ENCODINGS",
        value: "LIST",
        help: "RFB encodings to ask for, best first: tight, zrle, hextile, rre, copyrect, raw,\n\
               and jpeg or jpeg:0-9 to let Tight send JPEG [default: tight,zrle,hextile,copyrect,rre,raw]",
        scope: Scope::Both,
    },
    Flag {
        long: "--max-connections",
        env: "VNCMON_MAX_CONNECTIONS",
        value: "N",
        help: "live HTTP connections served at once; more get 503 [default: 64]",
        scope: Scope::Serve,
    },
    Flag {
        long: "--max-per-client",
        env: "VNCMON_MAX_PER_CLIENT",
        value: "N",
        help: "live HTTP connections from one IP address; more get 503 [default: 32]",
        scope: Scope::Serve,
    },
    Flag {
        long: "--scenarios",
        env: "VNCMON_SCENARIOS",
        value: "DIR",
        help: "directory of scenario files (*.json) the API lists and loads [default: ./scenarios]",
        scope: Scope::Serve,
    },
    Flag {
        long: "--output",
        env: "VNCMON_OUTPUT",
        value: "DIR",
        help: "where screenshot steps write JPEGs and failed expect steps their diffs [default: ./output]",
        scope: Scope::Both,
    },
    Flag {
        long: "--connect-timeout",
        env: "VNCMON_CONNECT_TIMEOUT",
        value: "SECS",
        help: "how long to wait for the VNC session to come up, 1-3600 [default: 10]",
        scope: Scope::Run,
    },
    Flag {
        long: "--log-level",
        env: "VNCMON_LOG_LEVEL",
        value: "LEVEL",
        help: "error, warn, info, debug or trace (RUST_LOG is read too) [default: info; warn for run]",
        scope: Scope::Both,
    },
];

pub const DEFAULT_LISTEN: &str = "127.0.0.1:5000";
const DEFAULT_ENCODINGS: &str = "tight,zrle,hextile,copyrect,rre,raw";
pub const DEFAULT_SCENARIOS: &str = "scenarios";
pub const DEFAULT_OUTPUT: &str = "output";

fn write_flags(s: &mut String, run: bool) {
    for f in FLAGS {
        let shown = match f.scope {
            Scope::Both => true,
            Scope::Serve => !run,
            Scope::Run => run,
        };
        if shown {
            let left = format!("{} {}", f.long, f.value);
            let help = f.help.replace('\n', "\n        ");
            let _ = writeln!(s, "    {left:<28}{}\n        {help}", f.env);
        }
    }
}

/// The `--help` text.
pub fn help() -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "vncmon {} — watch and drive a VNC screen from any browser\n\n\
         USAGE:\n    vncmon --vnc HOST:PORT [OPTIONS]\n    vncmon --demo [OPTIONS]\n    \
         vncmon run FILE NAME [RUN OPTIONS]   run one scenario and exit (see vncmon run --help)\n\n\
         OPTIONS (flag, environment variable):",
        env!("CARGO_PKG_VERSION")
    );
    let _ = writeln!(
        s,
        "    --demo                      VNCMON_DEMO=1\n        serve the built-in demo desktop (no VNC server needed)\n    \
         --view-only                 VNCMON_VIEW_ONLY=1\n        refuse remote input and step execution (403); watching and loading still work"
    );
    write_flags(&mut s, false);
    let _ = writeln!(
        s,
        "    VNC_PASSWORD                the VNC password (environment only)\n    \
         -h, --help                  this text\n    -V, --version               the version"
    );
    let _ = write!(
        s,
        "\nThe page is served at http://LISTEN/; the MJPEG stream at /video_feed (also /stream and\n\
         /?action=stream), a JPEG at /snapshot.jpg (also /?action=snapshot), status at /api/status.\n\
         The server ignores passwords in scenario files' connection blocks; only `vncmon run` reads them."
    );
    s
}

/// The `vncmon run --help` text.
pub fn run_help() -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "vncmon run — run one scenario against a VNC server and exit\n\n\
         USAGE:\n    vncmon run FILE NAME [--vnc HOST:PORT | --demo] [OPTIONS]\n\n\
         Runs scenario NAME of the scenario file FILE (any path), printing each step as it goes.\n\
         Without --vnc or --demo the file's \"connection\" block gives host, port and password\n\
         (a password in a scenario file is read only by `vncmon run`; --password-file and\n\
         VNC_PASSWORD win over it).\n\n\
         OPTIONS (flag, environment variable):\n    \
         --demo                      VNCMON_DEMO=1\n        run against the built-in demo desktop"
    );
    write_flags(&mut s, true);
    let _ = write!(
        s,
        "    VNC_PASSWORD                the VNC password (environment only)\n    \
         -h, --help                  this text\n\n\
         EXIT CODES:\n    \
         0  every step passed\n    \
         2  usage error (bad arguments, no server given)\n    \
         3  could not connect (refused, unreachable, not a VNC server, or no session within --connect-timeout)\n    \
         4  authentication failed, or the server wants a password and none was given\n    \
         5  bad scenario file (unreadable, invalid, unknown scenario, coordinates off the screen)\n    \
         6  a step failed\n    \
         7  a step timed out"
    );
    s
}

/// Flags, switches and positional arguments as given.
#[derive(Default)]
struct Scanned {
    given: Vec<(&'static str, String)>,
    demo: bool,
    view_only: bool,
    positional: Vec<String>,
    help: bool,
    version: bool,
}

impl Scanned {
    /// The flag's value, else its environment variable's (unless empty).
    fn get(&self, long: &str, env: &dyn Fn(&str) -> Option<String>) -> Option<String> {
        self.given
            .iter()
            .rev()
            .find(|(l, _)| *l == long)
            .map(|(_, v)| v.clone())
            .or_else(|| {
                FLAGS
                    .iter()
                    .find(|f| f.long == long)
                    .and_then(|f| env(f.env))
                    .filter(|v| !v.is_empty())
            })
    }
}

fn scan(args: &[String], run: bool) -> Result<Scanned, String> {
    let mut out = Scanned::default();
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].as_str();
        match arg {
            "-h" | "--help" => out.help = true,
            "-V" | "--version" if !run => out.version = true,
            "--demo" => out.demo = true,
            "--view-only" if !run => out.view_only = true,
            "--password" => {
                return Err(
                    "--password is not accepted: a password on the command line is visible to every user \
                     (ps). Use --password-file FILE or VNC_PASSWORD."
                        .into(),
                );
            }
            _ if run && !arg.starts_with('-') => out.positional.push(arg.to_string()),
            _ => {
                let (name, inline) = match arg.split_once('=') {
                    Some((n, v)) => (n, Some(v.to_string())),
                    None => (arg, None),
                };
                let flag = FLAGS
                    .iter()
                    .find(|f| {
                        f.long == name && (f.scope == Scope::Both || (f.scope == Scope::Run) == run)
                    })
                    .ok_or_else(|| {
                        let help = if run { "vncmon run --help" } else { "--help" };
                        format!("unknown argument {arg:?}; see {help}")
                    })?;
                let value = match inline {
                    Some(v) => v,
                    None => {
                        i += 1;
                        args.get(i).cloned().ok_or_else(|| {
                            format!("{} needs a value ({})", flag.long, flag.value)
                        })?
                    }
                };
                out.given.push((flag.long, value));
            }
        }
        i += 1;
    }
    Ok(out)
}

/// The password from `--password-file`, else `VNC_PASSWORD`.
fn password(
    sc: &Scanned,
    env: &dyn Fn(&str) -> Option<String>,
    read_file: &dyn Fn(&str) -> std::io::Result<String>,
) -> Result<Option<String>, String> {
    Ok(match sc.get("--password-file", env) {
        Some(path) => Some(
            read_file(&path)
                .map_err(|e| format!("cannot read the password file {path}: {e}"))?
                .trim_end_matches(['\r', '\n'])
                .to_string(),
        ),
        None => env("VNC_PASSWORD"),
    })
}

fn log_level(
    sc: &Scanned,
    env: &dyn Fn(&str) -> Option<String>,
    default: log::LevelFilter,
) -> Result<log::LevelFilter, String> {
    let text = sc
        .get("--log-level", env)
        .or_else(|| env("RUST_LOG").filter(|v| !v.is_empty()));
    match text {
        Some(t) => parse_level(&t),
        None => Ok(default),
    }
}

/// Parses `args` (without the program name), reading variables through `env`.
pub fn parse(
    args: &[String],
    env: &dyn Fn(&str) -> Option<String>,
    read_file: &dyn Fn(&str) -> std::io::Result<String>,
) -> Result<Command, String> {
    if args.first().is_some_and(|a| a == "run") {
        return parse_run(&args[1..], env, read_file);
    }
    let sc = scan(args, false)?;
    if sc.help {
        return Ok(Command::Help);
    }
    if sc.version {
        return Ok(Command::Version);
    }
    let demo = sc.demo || env("VNCMON_DEMO").is_some_and(|v| truthy(&v));
    let view_only = sc.view_only || env("VNCMON_VIEW_ONLY").is_some_and(|v| truthy(&v));
    let get = |long: &str| sc.get(long, env);

    let vnc = get("--vnc").map(|v| normalize_vnc_addr(&v)).transpose()?;
    if vnc.is_none() && !demo {
        return Err(
            "no VNC server given: use --vnc HOST:PORT, or --demo for the built-in desktop".into(),
        );
    }
    if vnc.is_some() && demo {
        return Err("--vnc and --demo exclude each other".into());
    }
    let password = password(&sc, env, read_file)?;
    let listen = get("--listen").unwrap_or_else(|| DEFAULT_LISTEN.to_string());
    let quality = number(get("--quality"), "--quality", 80, 1, 100)? as u8;
    let max_fps = number(get("--max-fps"), "--max-fps", 30, 1, 120)? as u32;
    let max_connections =
        number(get("--max-connections"), "--max-connections", 64, 1, 10_000)? as usize;
    let max_per_client =
        number(get("--max-per-client"), "--max-per-client", 32, 1, 10_000)? as usize;
    let log_level = log_level(&sc, env, log::LevelFilter::Info)?;
    let encodings =
        parse_encodings(&get("--encodings").unwrap_or_else(|| DEFAULT_ENCODINGS.into()))?;
    Ok(Command::Run(Box::new(Config {
        vnc,
        password,
        listen,
        quality,
        max_fps,
        log_level,
        demo,
        encodings,
        max_connections,
        max_per_client,
        scenarios: get("--scenarios").unwrap_or_else(|| DEFAULT_SCENARIOS.into()),
        output: get("--output").unwrap_or_else(|| DEFAULT_OUTPUT.into()),
        view_only,
    })))
}

fn parse_run(
    args: &[String],
    env: &dyn Fn(&str) -> Option<String>,
    read_file: &dyn Fn(&str) -> std::io::Result<String>,
) -> Result<Command, String> {
    let sc = scan(args, true)?;
    if sc.help {
        return Ok(Command::RunHelp);
    }
    let [file, name] = sc.positional.as_slice() else {
        return Err(format!(
            "vncmon run needs FILE and NAME (the scenario file and the scenario in it), got {}; \
             see vncmon run --help",
            sc.positional.len()
        ));
    };
    let demo = sc.demo || env("VNCMON_DEMO").is_some_and(|v| truthy(&v));
    let get = |long: &str| sc.get(long, env);
    let vnc = get("--vnc").map(|v| normalize_vnc_addr(&v)).transpose()?;
    if vnc.is_some() && demo {
        return Err("--vnc and --demo exclude each other".into());
    }
    let secs = number(get("--connect-timeout"), "--connect-timeout", 10, 1, 3600)?;
    Ok(Command::RunScenario(Box::new(RunConfig {
        file: file.clone(),
        name: name.clone(),
        vnc,
        demo,
        password: password(&sc, env, read_file)?,
        output: get("--output").unwrap_or_else(|| DEFAULT_OUTPUT.into()),
        encodings: parse_encodings(
            &get("--encodings").unwrap_or_else(|| DEFAULT_ENCODINGS.into()),
        )?,
        connect_timeout: std::time::Duration::from_secs(secs),
        log_level: log_level(&sc, env, log::LevelFilter::Warn)?,
    })))
}

fn truthy(v: &str) -> bool {
    matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on")
}

fn number(v: Option<String>, name: &str, default: u64, min: u64, max: u64) -> Result<u64, String> {
    let Some(v) = v else { return Ok(default) };
    match v.trim().parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!(
            "{name} must be a whole number from {min} to {max}, not {v:?}"
        )),
    }
}

fn parse_level(t: &str) -> Result<log::LevelFilter, String> {
    // RUST_LOG may carry module filters ("vncmon=debug,info"); take the first bare or vncmon level.
    let pick = t
        .split(',')
        .map(|p| p.rsplit('=').next().unwrap_or(p).trim())
        .find(|p| !p.is_empty())
        .unwrap_or(t);
    pick.parse()
        .map_err(|_| format!("log level must be off, error, warn, info, debug or trace, not {t:?}"))
}

/// Turns `raw,zrle,jpeg:6` into the SetEncodings list; pseudo-encodings vncmon
/// always wants are appended.
pub fn parse_encodings(list: &str) -> Result<Vec<i32>, String> {
    let mut out = Vec::new();
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let lower = name.to_ascii_lowercase();
        let code = match lower.as_str() {
            "raw" => enc::RAW,
            "copyrect" => enc::COPYRECT,
            "rre" => enc::RRE,
            "hextile" => enc::HEXTILE,
            "tight" => enc::TIGHT,
            "zrle" => enc::ZRLE,
            "jpeg" => enc::JPEG_QUALITY_0 + 8,
            _ => match lower.strip_prefix("jpeg:").map(str::parse::<i32>) {
                Some(Ok(q)) if (0..=9).contains(&q) => enc::JPEG_QUALITY_0 + q,
                _ => {
                    return Err(format!(
                        "unknown encoding {name:?}: use tight, zrle, hextile, rre, copyrect, raw, jpeg or jpeg:0-9"
                    ));
                }
            },
        };
        if !out.contains(&code) {
            out.push(code);
        }
    }
    if !out.iter().any(|c| *c >= 0) {
        return Err(
            "--encodings needs at least one of tight, zrle, hextile, rre, copyrect, raw".into(),
        );
    }
    out.extend([
        enc::DESKTOP_SIZE,
        enc::EXT_DESKTOP_SIZE,
        enc::CURSOR,
        enc::POINTER_POS,
        enc::VMWARE_CURSOR_POS,
        enc::LAST_RECT,
        enc::COMPRESS_LEVEL_0 + 6,
    ]);
    Ok(out)
}

/// `HOST:PORT` (port ≥ 100), `HOST:N` (display, N < 100 → 5900+N), `HOST::PORT`,
/// bare `HOST` (display 0), and `[v6]` forms of each → `host:port`.
pub fn normalize_vnc_addr(s: &str) -> Result<String, String> {
    let bad =
        || format!("cannot read VNC address {s:?}: use HOST:PORT, HOST::PORT or HOST:DISPLAY");
    let s = s.trim();
    let (host, rest) = if let Some(v6) = s.strip_prefix('[') {
        let (h, r) = v6.split_once(']').ok_or_else(bad)?;
        (format!("[{h}]"), r)
    } else {
        let at = s.find(':').unwrap_or(s.len());
        (s[..at].to_string(), &s[at..])
    };
    if host.is_empty() || host == "[]" {
        return Err(bad());
    }
    let port: u32 = if let Some(p) = rest.strip_prefix("::") {
        p.parse().map_err(|_| bad())?
    } else if let Some(n) = rest.strip_prefix(':') {
        let n: u32 = n.parse().map_err(|_| bad())?;
        if n < 100 { 5900 + n } else { n }
    } else if rest.is_empty() {
        5900
    } else {
        return Err(bad());
    };
    if port == 0 || port > 65535 {
        return Err(format!("VNC port {port} is out of range in {s:?}"));
    }
    Ok(format!("{host}:{port}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str], vars: &[(&str, &str)]) -> Result<Command, String> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        parse(
            &args,
            &|k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()),
            &|p| {
                if p == "pw.txt" {
                    Ok("s3cret\n".into())
                } else {
                    Err(std::io::Error::from(std::io::ErrorKind::NotFound))
                }
            },
        )
    }

    fn cfg(args: &[&str], vars: &[(&str, &str)]) -> Config {
        match run(args, vars) {
            Ok(Command::Run(c)) => *c,
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn vnc_address_forms() {
        assert_eq!(normalize_vnc_addr("pi:1").unwrap(), "pi:5901");
        assert_eq!(normalize_vnc_addr("pi:5901").unwrap(), "pi:5901");
        assert_eq!(normalize_vnc_addr("pi::1").unwrap(), "pi:1");
        assert_eq!(normalize_vnc_addr("pi").unwrap(), "pi:5900");
        assert_eq!(normalize_vnc_addr("[::1]:2").unwrap(), "[::1]:5902");
        assert_eq!(normalize_vnc_addr("[::1]::6000").unwrap(), "[::1]:6000");
        assert!(normalize_vnc_addr("pi:x").is_err());
        assert!(normalize_vnc_addr(":1").is_err());
        assert!(normalize_vnc_addr("pi::70000").is_err());
    }

    #[test]
    fn defaults_flags_and_env() {
        let c = cfg(&["--vnc", "h:1"], &[]);
        assert_eq!(
            (c.listen.as_str(), c.quality, c.max_fps),
            (DEFAULT_LISTEN, 80, 30)
        );
        assert_eq!(c.log_level, log::LevelFilter::Info);
        assert_eq!((c.max_connections, c.max_per_client), (64, 32));
        let c = cfg(
            &["--demo", "--max-per-client", "4"],
            &[("VNCMON_MAX_PER_CLIENT", "9")],
        );
        assert_eq!(c.max_per_client, 4);
        let c = cfg(
            &["--quality=50"],
            &[
                ("VNCMON_VNC", "h::7000"),
                ("VNCMON_QUALITY", "20"),
                ("VNCMON_MAX_FPS", "5"),
            ],
        );
        assert_eq!(
            (c.vnc.as_deref(), c.quality, c.max_fps),
            (Some("h:7000"), 50, 5)
        );
        let c = cfg(&["--demo"], &[("RUST_LOG", "debug")]);
        assert_eq!(c.log_level, log::LevelFilter::Debug);
    }

    #[test]
    fn passwords_come_from_file_or_env_only() {
        assert_eq!(
            cfg(&["--vnc", "h", "--password-file", "pw.txt"], &[])
                .password
                .as_deref(),
            Some("s3cret")
        );
        assert_eq!(
            cfg(&["--vnc", "h"], &[("VNC_PASSWORD", "x")])
                .password
                .as_deref(),
            Some("x")
        );
        assert!(
            run(&["--vnc", "h", "--password", "x"], &[])
                .unwrap_err()
                .contains("--password-file")
        );
        assert!(
            run(&["--vnc", "h", "--password-file", "nope"], &[])
                .unwrap_err()
                .contains("nope")
        );
    }

    #[test]
    fn bad_values_are_explained() {
        assert!(run(&[], &[]).unwrap_err().contains("--vnc"));
        assert!(
            run(&["--demo", "--quality", "0"], &[])
                .unwrap_err()
                .contains("--quality")
        );
        assert!(
            run(&["--demo", "--bogus"], &[])
                .unwrap_err()
                .contains("--bogus")
        );
        assert!(
            run(&["--demo", "--max-fps"], &[])
                .unwrap_err()
                .contains("needs a value")
        );
        assert!(
            run(&["--demo", "--encodings", "png"], &[])
                .unwrap_err()
                .contains("png")
        );
        assert!(run(&["--demo", "--log-level", "loud"], &[]).is_err());
        assert_eq!(run(&["--help"], &[]).unwrap(), Command::Help);
    }

    #[test]
    fn encodings_list() {
        let e = parse_encodings("ZRLE, raw,jpeg:3").unwrap();
        assert_eq!(&e[..3], &[enc::ZRLE, enc::RAW, enc::JPEG_QUALITY_0 + 3]);
        assert!(e.contains(&enc::CURSOR) && e.contains(&enc::LAST_RECT));
        assert!(parse_encodings("jpeg").is_err());
    }

    #[test]
    fn help_lists_every_flag_and_variable() {
        let h = help();
        let r = run_help();
        for f in FLAGS {
            let text = if f.scope == Scope::Run { &r } else { &h };
            assert!(text.contains(f.long) && text.contains(f.env), "{}", f.long);
        }
        assert!(h.contains("VNC_PASSWORD") && h.contains("--demo") && h.contains("--view-only"));
        assert!(h.contains("vncmon run FILE NAME"));
        assert!(r.contains("--demo") && r.contains("EXIT CODES") && !r.contains("--listen"));
    }

    #[test]
    fn scenarios_output_and_view_only() {
        let c = cfg(&["--demo"], &[]);
        assert_eq!(
            (c.scenarios.as_str(), c.output.as_str(), c.view_only),
            (DEFAULT_SCENARIOS, DEFAULT_OUTPUT, false)
        );
        let c = cfg(
            &["--demo", "--scenarios", "/s", "--view-only"],
            &[("VNCMON_OUTPUT", "/o"), ("VNCMON_SCENARIOS", "/x")],
        );
        assert_eq!(
            (c.scenarios.as_str(), c.output.as_str(), c.view_only),
            ("/s", "/o", true)
        );
        assert!(cfg(&["--demo"], &[("VNCMON_VIEW_ONLY", "1")]).view_only);
        assert!(
            run(&["--demo", "--connect-timeout", "3"], &[])
                .unwrap_err()
                .contains("--connect-timeout")
        );
    }

    fn run_cfg(args: &[&str], vars: &[(&str, &str)]) -> RunConfig {
        match run(args, vars) {
            Ok(Command::RunScenario(c)) => *c,
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn run_subcommand() {
        let c = run_cfg(&["run", "s/demo.json", "tour", "--demo"], &[]);
        assert_eq!((c.file.as_str(), c.name.as_str()), ("s/demo.json", "tour"));
        assert!(c.demo && c.vnc.is_none());
        assert_eq!(c.connect_timeout, std::time::Duration::from_secs(10));
        assert_eq!(c.output, DEFAULT_OUTPUT);
        assert_eq!(c.log_level, log::LevelFilter::Warn);
        let c = run_cfg(
            &[
                "run",
                "--vnc",
                "h:1",
                "f.json",
                "--connect-timeout=3",
                "n",
                "--password-file",
                "pw.txt",
                "--output",
                "out",
            ],
            &[],
        );
        assert_eq!(c.vnc.as_deref(), Some("h:5901"));
        assert_eq!((c.file.as_str(), c.name.as_str()), ("f.json", "n"));
        assert_eq!(c.connect_timeout, std::time::Duration::from_secs(3));
        assert_eq!(
            (c.password.as_deref(), c.output.as_str()),
            (Some("s3cret"), "out")
        );
        // No server: left to the file's connection block.
        assert_eq!(run_cfg(&["run", "f", "n"], &[]).vnc, None);
        assert_eq!(run(&["run", "--help"], &[]).unwrap(), Command::RunHelp);
        assert!(
            run(&["run", "f"], &[])
                .unwrap_err()
                .contains("FILE and NAME")
        );
        assert!(run(&["run", "f", "n", "x"], &[]).is_err());
        assert!(
            run(&["run", "f", "n", "--listen", "x"], &[])
                .unwrap_err()
                .contains("--listen")
        );
        assert!(run(&["run", "f", "n", "--demo", "--vnc", "h"], &[]).is_err());
        assert!(run(&["run", "f", "n", "--connect-timeout", "0"], &[]).is_err());
    }
}
