//! What every HTTP connection thread shares: the frame hub with its status,
//! the capture thread's control handle and the configuration.

use std::sync::Arc;

use crate::capture::Control;
use crate::config::Config;
use crate::hub::Hub;

pub struct App {
    pub hub: Arc<Hub>,
    pub control: Control,
    pub config: Arc<Config>,
}
