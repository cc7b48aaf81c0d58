//! The run log shown by `/api/logs`: a ring of the last 100 entries, each
//! with a UTC `HH:MM:SS` timestamp, a level and a message. Every entry also
//! goes to the `log` facade. Owns only its ring.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// Entries kept; older ones are dropped.
pub const CAPACITY: usize = 100;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Info,
    Success,
    Warning,
    Error,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Info => "info",
            Level::Success => "success",
            Level::Warning => "warning",
            Level::Error => "error",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// `HH:MM:SS`, UTC.
    pub timestamp: String,
    pub level: Level,
    pub message: String,
}

impl Entry {
    /// `[HH:MM:SS] [LEVEL] message`, as the download has it.
    pub fn line(&self) -> String {
        format!(
            "[{}] [{}] {}",
            self.timestamp,
            self.level.as_str().to_ascii_uppercase(),
            self.message
        )
    }
}

#[derive(Debug, Default)]
pub struct RunLog {
    ring: Mutex<VecDeque<Entry>>,
    /// Keep entries to itself (`vncmon run` prints steps its own way).
    quiet: bool,
}

/// `HH:MM:SS` of the current UTC time.
pub fn utc_hms() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let day = secs % 86_400;
    format!("{:02}:{:02}:{:02}", day / 3600, day / 60 % 60, day % 60)
}

impl RunLog {
    pub fn new() -> RunLog {
        RunLog::default()
    }

    /// A log that does not forward to the `log` facade.
    pub fn quiet() -> RunLog {
        RunLog {
            quiet: true,
            ..RunLog::default()
        }
    }

    pub fn push(&self, level: Level, message: impl Into<String>) {
        let message = message.into();
        match level {
            _ if self.quiet => {}
            Level::Info | Level::Success => log::info!("{message}"),
            Level::Warning => log::warn!("{message}"),
            Level::Error => log::error!("{message}"),
        }
        let mut ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        if ring.len() == CAPACITY {
            ring.pop_front();
        }
        ring.push_back(Entry {
            timestamp: utc_hms(),
            level,
            message,
        });
    }

    pub fn info(&self, m: impl Into<String>) {
        self.push(Level::Info, m);
    }
    pub fn success(&self, m: impl Into<String>) {
        self.push(Level::Success, m);
    }
    pub fn warning(&self, m: impl Into<String>) {
        self.push(Level::Warning, m);
    }
    pub fn error(&self, m: impl Into<String>) {
        self.push(Level::Error, m);
    }

    /// Oldest first.
    pub fn entries(&self) -> Vec<Entry> {
        let ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        ring.iter().cloned().collect()
    }

    pub fn clear(&self) {
        self.ring.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// The download: one `[HH:MM:SS] [LEVEL] message` line per entry.
    pub fn text(&self) -> String {
        let mut s = String::new();
        for e in self.entries() {
            s.push_str(&e.line());
            s.push('\n');
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_hundred_oldest_first() {
        let log = RunLog::new();
        for i in 0..150 {
            log.info(format!("entry {i}"));
        }
        let e = log.entries();
        assert_eq!(e.len(), CAPACITY);
        assert_eq!(e[0].message, "entry 50");
        assert_eq!(e[99].message, "entry 149");
        log.clear();
        assert!(log.entries().is_empty());
    }

    #[test]
    fn lines_and_timestamps() {
        let log = RunLog::new();
        log.error("step 2 failed");
        let text = log.text();
        let ts = &text[1..9];
        assert!(
            ts.len() == 8 && ts.as_bytes()[2] == b':' && ts.as_bytes()[5] == b':',
            "{text}"
        );
        assert!(text.ends_with("] [ERROR] step 2 failed\n"), "{text}");
    }
}
