//! The agent's own files on this machine: optional config files, the
//! directories templates and themes live in, paths typed for attachments.

use std::path::{Path, PathBuf};

/// A user file that may be absent: `Ok(None)` when it does not exist.
pub fn read_optional(path: &Path) -> std::io::Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// The entries of a directory the user keeps files in (none when it is absent).
pub fn dir_entries(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default()
}

pub fn expand_home(p: &str) -> PathBuf {
    if (p == "~" || p.starts_with("~/"))
        && let Some(home) = std::env::var_os("HOME")
    {
        return PathBuf::from(home).join(p.trim_start_matches('~').trim_start_matches('/'));
    }
    PathBuf::from(p)
}

/// The file names completing `input` (a path being typed), and the longest
/// common completion. Directories end with `/`; hidden files only show when
/// the typed name starts with a dot.
pub fn complete_path(input: &str) -> (String, Vec<String>) {
    let (dir_part, prefix) = match input.rfind('/') {
        Some(i) => (&input[..=i], &input[i + 1..]),
        None => ("", input),
    };
    let dir = if dir_part.is_empty() {
        PathBuf::from(".")
    } else {
        expand_home(dir_part)
    };
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    if !name.starts_with(prefix)
                        || (name.starts_with('.') && !prefix.starts_with('.'))
                    {
                        return None;
                    }
                    let is_dir = e.path().is_dir();
                    Some(if is_dir { format!("{name}/") } else { name })
                })
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let completed = match names.as_slice() {
        [] => input.to_string(),
        [one] => format!("{dir_part}{one}"),
        many => {
            let first = &many[0];
            let mut common = first.len();
            for n in &many[1..] {
                common = common.min(
                    first
                        .char_indices()
                        .zip(n.chars())
                        .take_while(|((_, a), b)| a == b)
                        .last()
                        .map(|((i, a), _)| i + a.len_utf8())
                        .unwrap_or(0),
                );
            }
            format!("{dir_part}{}", &first[..common])
        }
    };
    (completed, names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_completion() {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::write(dir.path().join("invoice-2026.pdf"), b"x").expect("w");
        std::fs::write(dir.path().join("invoice-2025.pdf"), b"x").expect("w");
        std::fs::create_dir(dir.path().join("scans")).expect("mkdir");
        std::fs::write(dir.path().join(".hidden"), b"x").expect("w");
        let base = format!("{}/", dir.path().display());
        let (done, found) = complete_path(&format!("{base}inv"));
        assert_eq!(done, format!("{base}invoice-202"));
        assert_eq!(found.len(), 2);
        let (done, _) = complete_path(&format!("{base}sc"));
        assert_eq!(done, format!("{base}scans/"));
        let (_, found) = complete_path(&base);
        assert!(!found.iter().any(|f| f.starts_with('.')), "{found:?}");
    }
}
