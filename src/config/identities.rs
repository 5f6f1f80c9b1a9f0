//! `<config dir>/identities.toml`: the identities an agent may send as,
//! with signatures and archive Bcc. Read here; chosen in the compose pane.

use serde::{Deserialize, Serialize};
use std::path::Path;

/// One `[[identity]]` of `identities.toml`.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct IdentityConfig {
    pub account: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub signature: Option<String>,
    #[serde(default)]
    pub archive_bcc: bool,
    #[serde(default)]
    pub agents: Vec<String>,
}

/// The compose settings file, `<config dir>/identities.toml`.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ComposeSettings {
    #[serde(default, rename = "identity")]
    pub identities: Vec<IdentityConfig>,
}

impl ComposeSettings {
    /// Read `dir/identities.toml`; a missing file means the defaults.
    pub fn load(dir: &Path) -> Result<ComposeSettings, String> {
        let file = dir.join("identities.toml");
        match std::fs::read_to_string(&file) {
            Ok(text) => Self::parse(&text).map_err(|e| format!("{}: {e}", file.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ComposeSettings::default()),
            Err(e) => Err(format!("cannot read {}: {e}", file.display())),
        }
    }

    pub fn parse(text: &str) -> Result<ComposeSettings, String> {
        toml::from_str(text).map_err(|e| e.message().trim().to_string())
    }
}
