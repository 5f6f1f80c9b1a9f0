//! XDG locations of the config, data and state (log) directories.
//! Only computes paths; creating them (0700) is the caller's job.

use std::path::PathBuf;

fn home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp"))
}

fn xdg(var: &str, fallback: &str) -> PathBuf {
    match std::env::var_os(var) {
        Some(v) if !v.is_empty() => PathBuf::from(v).join("deskmail"),
        _ => home().join(fallback).join("deskmail"),
    }
}

/// `~/.config/deskmail` (or `$XDG_CONFIG_HOME/deskmail`).
pub fn config_dir() -> PathBuf {
    xdg("XDG_CONFIG_HOME", ".config")
}

/// `~/.local/share/deskmail` (or `$XDG_DATA_HOME/deskmail`).
pub fn data_dir() -> PathBuf {
    xdg("XDG_DATA_HOME", ".local/share")
}

/// `~/.local/state/deskmail` (or `$XDG_STATE_HOME/deskmail`): logs live here.
pub fn state_dir() -> PathBuf {
    xdg("XDG_STATE_HOME", ".local/state")
}

/// The log file path shown in `--help`.
pub fn log_file() -> PathBuf {
    state_dir().join("deskmail.log")
}

/// Create `dir` (and parents) with mode 0700, and tighten it if it already exists.
pub fn ensure_private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}
