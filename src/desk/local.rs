//! The agent's own files, read where the agent sits: identities, text
//! templates and files to attach. A served desk answers these client-side.

use crate::config::identities::ComposeSettings;
use crate::protocol::{DeskError, DeskResult};
use std::path::{Path, PathBuf};

fn templates_dir() -> PathBuf {
    crate::config::paths::config_dir().join("templates")
}

pub fn compose_settings() -> DeskResult<ComposeSettings> {
    ComposeSettings::load(&crate::config::paths::config_dir()).map_err(DeskError)
}

pub fn template_names() -> DeskResult<Vec<String>> {
    let dir = templates_dir();
    let mut v: Vec<String> = crate::config::dir_entries(&dir)
        .into_iter()
        .filter(|p| p.is_file())
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .filter(|n| !n.starts_with('.') && !n.ends_with('~'))
        .collect();
    v.sort();
    if v.is_empty() {
        return Err(DeskError(format!(
            "No templates: put text files in {}.",
            dir.display()
        )));
    }
    Ok(v)
}

pub fn template_text(name: &str) -> DeskResult<String> {
    let file = templates_dir().join(name);
    std::fs::read_to_string(&file).map_err(|e| {
        let msg = crate::mail::sanitize::sanitize_line(&format!(
            "cannot read template {}: {e}",
            file.display()
        ));
        tracing::error!("{msg}");
        DeskError(msg)
    })
}

pub fn attachment_size(path: &Path) -> DeskResult<u64> {
    let meta = std::fs::metadata(path)
        .map_err(|e| DeskError(format!("cannot attach {}: {e}", path.display())))?;
    if !meta.is_file() {
        return Err(DeskError(format!("{} is not a file", path.display())));
    }
    Ok(meta.len())
}

pub fn file_bytes(p: &Path) -> DeskResult<Vec<u8>> {
    std::fs::read(p).map_err(|e| DeskError(format!("cannot read attachment {}: {e}", p.display())))
}
