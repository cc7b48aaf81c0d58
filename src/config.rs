//! Command line and environment → `Config`. Every flag has an environment
//! variable; a flag wins over its variable, which wins over the default.
//! Reads the password file; touches nothing else.

use std::fmt::Write as _;

use crate::rfb::enc;

/// What the user asked for.
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
}

/// What `parse` decided the process should do.
#[derive(Debug, PartialEq)]
pub enum Command {
    Run(Box<Config>),
    Help,
    Version,
}

struct Flag {
    long: &'static str,
    env: &'static str,
    value: &'static str,
    help: &'static str,
}

const FLAGS: &[Flag] = &[
    Flag {
        long: "--vnc",
        env: "VNCMON_VNC",
        value: "HOST:PORT",
        help: "VNC server: HOST:PORT, HOST::PORT, or HOST:N for display N (port 5900+N, N < 100)",
    },
    Flag {
        long: "--password-file",
        env: "VNCMON_PASSWORD_FILE",
        value: "FILE",
        help: "read the VNC password from FILE (or set VNC_PASSWORD; never on the command line)",
    },
    Flag {
        long: "--listen",
        env: "VNCMON_LISTEN",
        value: "ADDR:PORT",
        help: "HTTP address to serve on [default: 127.0.0.1:5000]",
    },
    Flag {
        long: "--quality",
        env: "VNCMON_QUALITY",
        value: "1-100",
        help: "JPEG quality of served frames [default: 80]",
    },
    Flag {
        long: "--max-fps",
        env: "VNCMON_MAX_FPS",
        value: "1-120",
        help: "most frames encoded per second [default: 30]",
    },
    Flag {
        long: "--encodings",
        env: "VNCMON_ENCODINGS",
        value: "LIST",
        help: "RFB encodings to ask for, best first: tight, zrle, hextile, rre, copyrect, raw,\n\
               and jpeg or jpeg:0-9 to let Tight send JPEG [default: tight,zrle,hextile,copyrect,rre,raw]",
    },
    Flag {
        long: "--max-connections",
        env: "VNCMON_MAX_CONNECTIONS",
        value: "N",
        help: "live HTTP connections served at once; more get 503 [default: 64]",
    },
    Flag {
        long: "--log-level",
        env: "VNCMON_LOG_LEVEL",
        value: "LEVEL",
        help: "error, warn, info, debug or trace (RUST_LOG is read too) [default: info]",
    },
];

pub const DEFAULT_LISTEN: &str = "127.0.0.1:5000";
const DEFAULT_ENCODINGS: &str = "tight,zrle,hextile,copyrect,rre,raw";

/// The `--help` text.
pub fn help() -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "vncmon {} — watch and drive a VNC screen from any browser\n\n\
         USAGE:\n    vncmon --vnc HOST:PORT [OPTIONS]\n    vncmon --demo [OPTIONS]\n\n\
         OPTIONS (flag, environment variable):",
        env!("CARGO_PKG_VERSION")
    );
    let _ = writeln!(
        s,
        "    --demo                      VNCMON_DEMO=1\n        serve the built-in demo desktop (no VNC server needed)"
    );
    for f in FLAGS {
        let left = format!("{} {}", f.long, f.value);
        let help = f.help.replace('\n', "\n        ");
        let _ = writeln!(s, "    {left:<28}{}\n        {help}", f.env);
    }
    let _ = writeln!(
        s,
        "    VNC_PASSWORD                the VNC password (environment only)\n    \
         -h, --help                  this text\n    -V, --version               the version"
    );
    let _ = write!(
        s,
        "\nThe page is served at http://LISTEN/; the MJPEG stream at /video_feed (also /stream and\n\
         /?action=stream), a JPEG at /snapshot.jpg (also /?action=snapshot), status at /api/status."
    );
    s
}

/// Parses `args` (without the program name), reading variables through `env`.
pub fn parse(
    args: &[String],
    env: &dyn Fn(&str) -> Option<String>,
    read_file: &dyn Fn(&str) -> std::io::Result<String>,
) -> Result<Command, String> {
    let mut given: Vec<(&'static str, String)> = Vec::new();
    let mut demo = env("VNCMON_DEMO").is_some_and(|v| truthy(&v));
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].as_str();
        match arg {
            "-h" | "--help" => return Ok(Command::Help),
            "-V" | "--version" => return Ok(Command::Version),
            "--demo" => demo = true,
            "--password" => {
                return Err(
                    "--password is not accepted: a password on the command line is visible to every user \
                     (ps). Use --password-file FILE or VNC_PASSWORD."
                        .into(),
                );
            }
            _ => {
                let (name, inline) = match arg.split_once('=') {
                    Some((n, v)) => (n, Some(v.to_string())),
                    None => (arg, None),
                };
                let flag = FLAGS
                    .iter()
                    .find(|f| f.long == name)
                    .ok_or_else(|| format!("unknown argument {arg:?}; see --help"))?;
                let value = match inline {
                    Some(v) => v,
                    None => {
                        i += 1;
                        args.get(i).cloned().ok_or_else(|| {
                            format!("{} needs a value ({})", flag.long, flag.value)
                        })?
                    }
                };
                given.push((flag.long, value));
            }
        }
        i += 1;
    }
    let get = |long: &str| -> Option<String> {
        given
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
    };

    let vnc = get("--vnc").map(|v| normalize_vnc_addr(&v)).transpose()?;
    if vnc.is_none() && !demo {
        return Err(
            "no VNC server given: use --vnc HOST:PORT, or --demo for the built-in desktop".into(),
        );
    }
    if vnc.is_some() && demo {
        return Err("--vnc and --demo exclude each other".into());
    }
    let password = match get("--password-file") {
        Some(path) => Some(
            read_file(&path)
                .map_err(|e| format!("cannot read the password file {path}: {e}"))?
                .trim_end_matches(['\r', '\n'])
                .to_string(),
        ),
        None => env("VNC_PASSWORD"),
    };
    let listen = get("--listen").unwrap_or_else(|| DEFAULT_LISTEN.to_string());
    let quality = number(get("--quality"), "--quality", 80, 1, 100)? as u8;
    let max_fps = number(get("--max-fps"), "--max-fps", 30, 1, 120)? as u32;
    let max_connections =
        number(get("--max-connections"), "--max-connections", 64, 1, 10_000)? as usize;
    let level_text = get("--log-level").or_else(|| env("RUST_LOG").filter(|v| !v.is_empty()));
    let log_level = match level_text {
        Some(t) => parse_level(&t)?,
        None => log::LevelFilter::Info,
    };
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
        for f in FLAGS {
            assert!(h.contains(f.long) && h.contains(f.env), "{}", f.long);
        }
        assert!(h.contains("VNC_PASSWORD") && h.contains("--demo"));
    }
}
