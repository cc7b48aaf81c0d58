//! Reading and validating scenario files; name lookup confined to the
//! scenarios directory.

use std::path::{Path, PathBuf};

use super::{LoadError, LoadErrorKind, Scenario, Step};

/// The scenarios directory.
#[derive(Clone, Debug)]
pub struct Library {
    dir: PathBuf,
}

/// One scenario (or one broken file) as `/api/scenarios` lists it.
#[derive(Clone, Debug, PartialEq)]
pub struct Listing {
    pub file: String,
    /// None for a file that does not load.
    pub name: Option<String>,
    pub path: String,
    pub steps: usize,
    pub error: Option<String>,
}

impl Library {
    pub fn new(dir: impl Into<PathBuf>) -> Library {
        Library { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Every scenario of every `*.json` file, sorted by file then name.
    pub fn list(&self) -> Vec<Listing> {
        Vec::new()
    }

    /// Loads scenario `name` of `file`; `screen` (width, height) bounds coordinates when known.
    pub fn load(
        &self,
        file: &str,
        name: &str,
        screen: Option<(u16, u16)>,
    ) -> Result<Scenario, LoadError> {
        let _ = screen;
        Err(LoadError {
            kind: LoadErrorKind::NotFound,
            file: file.into(),
            scenario: Some(name.into()),
            step: None,
            message: "not implemented yet".into(),
        })
    }
}

/// Loads scenario `name` from a file anywhere (the command line's FILE).
pub fn load_path(
    path: &Path,
    name: &str,
    screen: Option<(u16, u16)>,
) -> Result<Scenario, LoadError> {
    let _ = screen;
    Err(LoadError {
        kind: LoadErrorKind::NotFound,
        file: path.display().to_string(),
        scenario: Some(name.into()),
        step: None,
        message: "not implemented yet".into(),
    })
}

/// Parses a `POST /api/input` body: one input action object or an array of them.
pub fn parse_input(body: &[u8]) -> Result<Vec<Step>, String> {
    let _ = body;
    Err("not implemented yet".into())
}
