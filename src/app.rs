//! What every HTTP connection thread shares: the frame hub with its status,
//! the capture thread's control handle, the configuration, the scenario
//! library and the runner with its log.

use std::path::PathBuf;
use std::sync::Arc;

use crate::capture::Control;
use crate::config::Config;
use crate::hub::Hub;
use crate::runlog::RunLog;
use crate::runner::Runner;
use crate::scenario::Library;

pub struct App {
    pub hub: Arc<Hub>,
    pub control: Control,
    pub config: Arc<Config>,
    /// The scenarios directory (`--scenarios`).
    pub library: Library,
    /// Where steps write files (`--output`).
    pub output: PathBuf,
    pub runner: Runner,
}

impl App {
    /// Builds the shared state and starts the runner thread.
    pub fn new(hub: Arc<Hub>, control: Control, config: Arc<Config>) -> std::io::Result<App> {
        let output = PathBuf::from(&config.output);
        let runner = Runner::spawn(
            hub.clone(),
            control.clone(),
            output.clone(),
            Arc::new(RunLog::new()),
        )?;
        Ok(App {
            library: Library::new(&config.scenarios),
            hub,
            control,
            config,
            output,
            runner,
        })
    }
}
