//! Scenario files: a directory of JSON files, each mapping scenario names to
//! lists of steps. Loading validates a whole file before anything runs;
//! `exec` performs one step on the live session through `Control` and the
//! frames in the `Hub`. Touches the filesystem only inside the scenarios
//! directory (and the output directory for screenshots).

pub mod exec;
pub mod keys;
pub mod load;

use std::fmt;
use std::path::PathBuf;

pub use exec::{Cancel, Ctx, Flow, Outcome, StepError, StepErrorKind, run_step};
pub use load::{Library, Listing, load_path, parse_input};

/// One scenario, validated, ready to run.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// The file name as listed (relative to the scenarios directory), or the
    /// path given on the command line.
    pub file: String,
    pub name: String,
    pub connection: Option<Connection>,
    pub steps: Vec<Step>,
}

/// The optional `connection` block of a file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Connection {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub password: Option<String>,
}

/// One step: the parsed action and the JSON object it came from (echoed by
/// the API).
#[derive(Clone, Debug)]
pub struct Step {
    pub action: Action,
    pub json: serde_json::Value,
}

/// What a step does. Filled in by `load`; performed by `exec`.
#[derive(Clone, Debug)]
pub enum Action {
    Connect { timeout: std::time::Duration },
    Disconnect,
}

impl Step {
    /// A short human label, e.g. `click (640, 400)` or `type "hello"`.
    pub fn label(&self) -> String {
        format!("{:?}", self.action)
    }
}

/// Why a file or scenario could not be loaded: file, scenario, 1-based step
/// number and what is wrong.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadError {
    pub kind: LoadErrorKind,
    pub file: String,
    pub scenario: Option<String>,
    /// 1-based.
    pub step: Option<usize>,
    pub message: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadErrorKind {
    /// No such file, or no such scenario in it.
    NotFound,
    /// The name tries to leave the scenarios directory.
    Refused,
    /// Syntax or validation error.
    Invalid,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(s) = &self.scenario {
            write!(f, ": scenario {s:?}")?;
        }
        if let Some(n) = self.step {
            write!(f, ": step {n}")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for LoadError {}

/// Where `screenshot` writes and `expect` saves its diff snapshots.
pub fn default_output_dir() -> PathBuf {
    PathBuf::from("output")
}
