//! Saving attachments safely: names are reduced to a harmless basename,
//! files are created (mode 0600) through the opened download dir, which must
//! be the user's own real directory, and existing files are never overwritten.

use std::io::{self, Write};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use mail_parser::{Message, MessagePart, PartType};

use super::mime;
use super::render::attachment_info;
use super::sanitize::sanitize_line;

/// Maximum file name length in bytes.
const MAX_NAME_BYTES: usize = 200;

/// Fallback when nothing usable is left of a name.
const FALLBACK: &str = "attachment";

/// Reduces an attachment name to a safe basename: only the part after the
/// last `/` or `\`, no control or bidi characters, no `..`, no leading dot,
/// no characters that are special on common file systems, at most 200
/// bytes, never empty.
pub fn safe_filename(name: &str) -> String {
    let line = sanitize_line(name);
    let base = line.rsplit(['/', '\\']).next().unwrap_or_default();
    let mut s: String = base
        .chars()
        .map(|c| match c {
            '<' | '>' | ':' | '"' | '|' | '?' | '*' => '_',
            c if c.is_control() => '_',
            c => c,
        })
        .collect();
    while s.contains("..") {
        s = s.replace("..", ".");
    }
    let s = s
        .trim_start_matches(['.', ' '])
        .trim_end_matches(['.', ' '])
        .to_string();
    let s = truncate_name(&s, MAX_NAME_BYTES);
    if s.is_empty() {
        FALLBACK.to_string()
    } else {
        s
    }
}

/// Cuts a name to `max` bytes on a char boundary, keeping a short
/// extension when there is one.
fn truncate_name(name: &str, max: usize) -> String {
    if name.len() <= max {
        return name.to_string();
    }
    let (stem, ext) = split_ext(name);
    let ext = if ext.len() <= 16 { ext } else { "" };
    let mut cut = max.saturating_sub(ext.len()).min(stem.len());
    while !stem.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{ext}", stem[..cut].trim_end())
}

/// Splits `name.ext` into (`name`, `.ext`); no extension for dotless names.
fn split_ext(name: &str) -> (&str, &str) {
    match name.rfind('.') {
        Some(0) | None => (name, ""),
        Some(i) => name.split_at(i),
    }
}

/// The decoded bytes of attachment `index` (1-based, as in
/// [`super::render::AttachmentInfo::index`]), e.g. for piping to a command.
/// Text attachments keep their original charset.
pub fn part_bytes(raw: &[u8], index: usize) -> Option<Vec<u8>> {
    let prepared = mime::prepare(raw);
    let msg = mime::parse(&prepared)?;
    let part = nth_attachment(&msg, index)?;
    Some(decoded(&msg, part))
}

fn nth_attachment<'a>(msg: &'a Message<'a>, index: usize) -> Option<&'a MessagePart<'a>> {
    let id = *msg.attachments.get(index.checked_sub(1)?)?;
    msg.parts.get(id as usize)
}

fn decoded(msg: &Message<'_>, part: &MessagePart<'_>) -> Vec<u8> {
    match &part.body {
        PartType::Text(_) | PartType::Html(_) => {
            mime::transfer_decoded(msg, part).unwrap_or_else(|| part.contents().to_vec())
        }
        _ => part.contents().to_vec(),
    }
}

/// Saves attachment `index` (1-based) into `dir` under its safe name,
/// never overwriting: `name.ext`, `name (1).ext`, `name (2).ext`, …
/// Returns the path written, which is always directly inside `dir`.
pub fn save_attachment(raw: &[u8], index: usize, dir: &Path) -> io::Result<PathBuf> {
    let prepared = mime::prepare(raw);
    let msg = mime::parse(&prepared).ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidData, "the mail could not be parsed")
    })?;
    let part = nth_attachment(&msg, index).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!("the mail has no attachment number {index}"),
        )
    })?;
    save_part(&msg, part, index, dir)
}

/// Saves every attachment into `dir`; see [`save_attachment`].
pub fn save_all(raw: &[u8], dir: &Path) -> io::Result<Vec<PathBuf>> {
    let prepared = mime::prepare(raw);
    let Some(msg) = mime::parse(&prepared) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (i, &id) in msg.attachments.iter().enumerate() {
        if let Some(part) = msg.parts.get(id as usize) {
            out.push(save_part(&msg, part, i + 1, dir)?);
        }
    }
    Ok(out)
}

fn save_part(
    msg: &Message<'_>,
    part: &MessagePart<'_>,
    index: usize,
    dir: &Path,
) -> io::Result<PathBuf> {
    let info = attachment_info(index, part);
    let name = safe_filename(&info.name);
    let bytes = decoded(msg, part);
    write_new(dir, &name, &bytes)
}

fn refuse(dir: &Path, why: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::PermissionDenied,
        format!(
            "the download folder {} {why}; set download_dir in the config to a folder of your own",
            dir.display()
        ),
    )
}

/// Open the download dir (creating it 0700 if missing), checked with lstat:
/// a real directory owned by this user, not a symbolic link, so nobody else
/// can choose where saved files land.
fn open_download_dir(dir: &Path) -> io::Result<OwnedFd> {
    use rustix::fs::{Mode, OFlags};
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    if let Err(e) = std::fs::symlink_metadata(dir) {
        if e.kind() != io::ErrorKind::NotFound {
            return Err(e);
        }
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
    }
    let meta = std::fs::symlink_metadata(dir)?;
    if meta.file_type().is_symlink() {
        return Err(refuse(dir, "is a symbolic link"));
    }
    if !meta.is_dir() {
        return Err(refuse(dir, "is not a directory"));
    }
    let me = rustix::process::geteuid().as_raw();
    if meta.uid() != me {
        return Err(refuse(
            dir,
            &format!("belongs to another user (uid {})", meta.uid()),
        ));
    }
    let fd = rustix::fs::open(
        dir,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    // The directory opened must be the one checked, not a swap made meanwhile.
    let st = rustix::fs::fstat(&fd)?;
    if st.st_dev != meta.dev() || st.st_ino != meta.ino() {
        return Err(refuse(dir, "changed while it was being opened"));
    }
    Ok(fd)
}

/// Creates a new file (mode 0600) in `dir` named `name` or `stem (n).ext`,
/// through the opened directory, never replacing an existing file or
/// following a link.
pub fn write_new(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<PathBuf> {
    use rustix::fs::{Mode, OFlags};
    let dirfd = open_download_dir(dir)?;
    let name = safe_filename(name);
    let (stem, ext) = split_ext(&name);
    for n in 0..10_000u32 {
        let candidate = if n == 0 {
            name.clone()
        } else {
            let suffix = format!(" ({n}){ext}");
            let stem = truncate_name(stem, MAX_NAME_BYTES.saturating_sub(suffix.len()));
            format!("{stem}{suffix}")
        };
        let path = dir.join(&candidate);
        if path.parent() != Some(dir) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "refusing to write outside the target directory",
            ));
        }
        let created = rustix::fs::openat(
            &dirfd,
            candidate.as_str(),
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        );
        match created {
            Ok(fd) => {
                let mut f = std::fs::File::from(fd);
                f.write_all(bytes)?;
                f.sync_all()?;
                return Ok(path);
            }
            Err(rustix::io::Errno::EXIST) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!("too many files named like {name}; choose another directory"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_names() {
        assert_eq!(safe_filename("../../.bashrc"), "bashrc");
        assert_eq!(safe_filename("/etc/passwd"), "passwd");
        assert_eq!(safe_filename("C:\\Windows\\evil.exe"), "evil.exe");
        assert_eq!(safe_filename(".."), "attachment");
        assert_eq!(safe_filename(""), "attachment");
        assert_eq!(safe_filename("a..b.txt"), "a.b.txt");
        assert_eq!(safe_filename("report\u{202e}fdp.exe"), "reportfdp.exe");
        assert_eq!(safe_filename("x\u{1b}]52;c;AAAA\u{7}.txt"), "x.txt");
        assert_eq!(safe_filename("счёт №5.pdf"), "счёт №5.pdf");
        assert_eq!(safe_filename("a:b?.txt"), "a_b_.txt");
        let long = format!("{}.pdf", "я".repeat(300));
        let s = safe_filename(&long);
        assert!(s.len() <= 200 && s.ends_with(".pdf"), "{s}");
    }

    #[test]
    fn never_overwrites() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let a = write_new(dir.path(), "note.txt", b"1")?;
        let b = write_new(dir.path(), "note.txt", b"2")?;
        let c = write_new(dir.path(), "../note.txt", b"3")?;
        assert_eq!(a, dir.path().join("note.txt"));
        assert_eq!(b, dir.path().join("note (1).txt"));
        assert_eq!(c, dir.path().join("note (2).txt"));
        assert_eq!(std::fs::read(&a)?, b"1");
        Ok(())
    }

    #[test]
    fn a_symlinked_download_dir_is_refused_and_nothing_lands_behind_it() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let elsewhere = dir.path().join("elsewhere");
        std::fs::create_dir(&elsewhere)?;
        let link = dir.path().join("downloads");
        std::os::unix::fs::symlink(&elsewhere, &link)?;
        let err = write_new(&link, "note.txt", b"x").expect_err("a symlinked dir is refused");
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert_eq!(std::fs::read_dir(&elsewhere)?.count(), 0);
        Ok(())
    }

    #[test]
    fn saved_files_are_readable_by_the_owner_only() -> io::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir()?;
        let p = write_new(dir.path(), "invoice.pdf", b"%PDF")?;
        let mode = std::fs::metadata(&p)?.permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{mode:o}");
        Ok(())
    }

    #[test]
    fn a_download_dir_owned_by_someone_else_is_refused() -> io::Result<()> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("SKIPPED: giving a directory to another user needs root");
            return Ok(());
        }
        let dir = tempfile::tempdir()?;
        let theirs = dir.path().join("theirs");
        std::fs::create_dir(&theirs)?;
        std::os::unix::fs::chown(&theirs, Some(65534), Some(65534))?;
        let err = write_new(&theirs, "note.txt", b"x").expect_err("refused");
        assert!(err.to_string().contains("belongs to"), "{err}");
        assert_eq!(std::fs::read_dir(&theirs)?.count(), 0);
        Ok(())
    }
}
