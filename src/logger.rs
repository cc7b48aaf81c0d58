//! A tiny `log` backend: one plain line per record on stderr, seconds since
//! start, level, module, message. No colours, so journald stores clean lines.

use std::io::Write;
use std::sync::OnceLock;
use std::time::Instant;

struct Logger {
    start: Instant,
}

static LOGGER: OnceLock<Logger> = OnceLock::new();

impl log::Log for Logger {
    fn enabled(&self, m: &log::Metadata) -> bool {
        m.level() <= log::max_level()
    }
    fn log(&self, r: &log::Record) {
        if !self.enabled(r.metadata()) {
            return;
        }
        let t = self.start.elapsed();
        let target = r.target().strip_prefix("vncmon::").unwrap_or(r.target());
        // One write per line so lines from different threads do not interleave.
        let line = format!(
            "[{:>5}.{:03}] {:<5} {}: {}\n",
            t.as_secs(),
            t.subsec_millis(),
            r.level(),
            target,
            r.args()
        );
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }
    fn flush(&self) {}
}

/// Installs the logger once; later calls only change the level.
pub fn init(level: log::LevelFilter) {
    let logger = LOGGER.get_or_init(|| Logger {
        start: Instant::now(),
    });
    let _ = log::set_logger(logger);
    log::set_max_level(level);
}
