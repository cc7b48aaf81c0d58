//! The `vncmon` command: configuration → capture thread → HTTP server.

use std::net::TcpListener;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use vncmon::app::App;
use vncmon::capture::{self, CaptureSettings, Control};
use vncmon::config::{self, Command};
use vncmon::demo::Demo;
use vncmon::http::{self, Limits};
use vncmon::hub::Hub;
use vncmon::rfb::ConnectOptions;
use vncmon::shutdown;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cmd = config::parse(&args, &|k| std::env::var(k).ok(), &|p| {
        std::fs::read_to_string(p)
    });
    let mut cfg = match cmd {
        Ok(Command::Help) => {
            println!("{}", config::help());
            return ExitCode::SUCCESS;
        }
        Ok(Command::Version) => {
            println!("vncmon {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Ok(Command::RunHelp) => {
            println!("{}", config::run_help());
            return ExitCode::SUCCESS;
        }
        Ok(Command::RunScenario(c)) => return vncmon::run_cmd::main(&c),
        Ok(Command::Run(c)) => *c,
        Err(e) => {
            eprintln!("vncmon: {e}");
            return ExitCode::from(2);
        }
    };
    vncmon::logger::init(cfg.log_level);
    // Before any thread starts: every thread must block the signals.
    let signals = shutdown::Signals::block();

    // Keep the demo server alive for the whole run.
    let _demo = if cfg.demo {
        match Demo::start(cfg.password.clone()) {
            Ok(d) => {
                log::info!("demo desktop listening on {}", d.addr());
                cfg.vnc = Some(d.addr().to_string());
                Some(d)
            }
            Err(e) => {
                eprintln!("vncmon: cannot start the demo desktop: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        None
    };

    let listener = match TcpListener::bind(&cfg.listen) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("vncmon: cannot listen on {}: {e}", cfg.listen);
            return ExitCode::FAILURE;
        }
    };
    let url_addr = listener
        .local_addr()
        .map_or_else(|_| cfg.listen.clone(), |a| a.to_string());

    let hub = Arc::new(Hub::new());
    let control = Control::new();
    let opts = ConnectOptions {
        addr: cfg.vnc.clone().unwrap_or_default(),
        password: cfg.password.clone(),
        encodings: cfg.encodings.clone(),
        connect_timeout: Duration::from_secs(5),
    };
    let settings = CaptureSettings {
        quality: cfg.quality,
        max_fps: cfg.max_fps,
    };
    let capture_thread = match capture::spawn(opts, settings, hub.clone(), control.clone()) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("vncmon: cannot start the capture thread: {e}");
            return ExitCode::FAILURE;
        }
    };
    let limits = Limits {
        max_connections: cfg.max_connections,
        max_per_client: cfg.max_per_client,
        ..Limits::default()
    };
    let stop = Arc::new(AtomicBool::new(false));
    shutdown::stop_on_signals(
        signals,
        shutdown::Stop {
            flag: stop.clone(),
            hub: hub.clone(),
            control: control.clone(),
        },
    );
    let app = match App::new(hub.clone(), control, Arc::new(cfg)) {
        Ok(a) => Arc::new(a),
        Err(e) => {
            eprintln!("vncmon: cannot start the scenario runner: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("vncmon: serving http://{url_addr}/");
    http::serve(listener, limits, app, stop);
    shutdown::finish(&hub, Some(capture_thread), Duration::from_millis(800));
    log::info!("stopped");
    ExitCode::SUCCESS
}
