//! vncmon: watch and drive a VNC screen from any browser.
//!
//! One capture thread owns the RFB session (`rfb`, `capture`), keeps the
//! screen (`screen`), encodes changed bands (`jpeg`) and publishes frames to
//! the `hub`; one thread per HTTP connection (`http`, `web`) serves them.

pub mod app;
pub mod capture;
pub mod config;
pub mod demo;
pub mod http;
pub mod hub;
pub mod jpeg;
pub mod logger;
pub mod rfb;
pub mod run_cmd;
pub mod runlog;
pub mod runner;
pub mod scenario;
pub mod screen;
pub mod shutdown;
pub mod web;
