//! The opening frame, kept from the last clean quit: painted before the
//! store is open, and only while nothing has changed the store, the config,
//! the theme or the terminal size since. The live frame replaces it as soon
//! as the store is open, so at worst a clock text is a few minutes old.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Mutex;

const FILE: &str = "frame.snapshot";
const VERSION: u32 = 1;
/// Set to anything to always wait for the store (`DESKMAIL_NO_FRAME_SNAPSHOT=1`).
pub const DISABLE_ENV: &str = "DESKMAIL_NO_FRAME_SNAPSHOT";

/// Where a snapshot lives and what it must match to be shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    /// The data dir: the snapshot file and the store are in it.
    pub dir: PathBuf,
    /// Theme, keymap and colour support the frame was drawn with.
    pub look: String,
    /// Files whose change makes the frame stale besides the store (the config).
    pub also: Vec<PathBuf>,
}

impl Place {
    fn watched(&self) -> Vec<PathBuf> {
        let mut v = vec![self.dir.join("store").join("db")];
        v.extend(self.also.iter().cloned());
        v
    }
}

/// Size and modification time of each watched file (`None`: missing).
type Stamp = Vec<Option<(u64, i128)>>;

fn stamp(paths: &[PathBuf]) -> Stamp {
    paths
        .iter()
        .map(|p| {
            let m = std::fs::metadata(p).ok()?;
            let t = m.modified().ok()?;
            let ns = match t.duration_since(std::time::UNIX_EPOCH) {
                Ok(d) => d.as_nanos() as i128,
                Err(e) => -(e.duration().as_nanos() as i128),
            };
            Some((m.len(), ns))
        })
        .collect()
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Snapshot {
    version: u32,
    look: String,
    stamp: Stamp,
    width: u16,
    height: u16,
    /// (fg, bg, underline colour, modifier bits), shared by the cells.
    styles: Vec<(String, String, String, u16)>,
    /// Row by row: (style index, symbol).
    cells: Vec<(u16, String)>,
}

fn encode(buf: &Buffer, look: &str, stamp: Stamp) -> Snapshot {
    let mut styles: Vec<(String, String, String, u16)> = Vec::new();
    let mut cells = Vec::with_capacity(buf.content.len());
    for c in &buf.content {
        let s = (
            c.fg.to_string(),
            c.bg.to_string(),
            c.underline_color.to_string(),
            c.modifier.bits(),
        );
        let i = match styles.iter().position(|x| *x == s) {
            Some(i) => i,
            None => {
                styles.push(s);
                styles.len() - 1
            }
        };
        cells.push((u16::try_from(i).unwrap_or(0), c.symbol().to_string()));
    }
    Snapshot {
        version: VERSION,
        look: look.to_string(),
        stamp,
        width: buf.area.width,
        height: buf.area.height,
        styles,
        cells,
    }
}

/// A symbol as it may reach the terminal: one that the sanitiser would
/// change (a hand-edited file) becomes a blank.
fn safe_symbol(sym: &str) -> &str {
    if sym.chars().all(|c| c == ' ') || crate::mail::sanitize::sanitize_line(sym) == sym {
        sym
    } else {
        " "
    }
}

fn decode(s: &Snapshot) -> Option<Buffer> {
    let area = Rect::new(0, 0, s.width, s.height);
    let mut buf = Buffer::empty(area);
    if s.cells.len() != buf.content.len() {
        return None;
    }
    let color = |t: &str| Color::from_str(t).unwrap_or(Color::Reset);
    for (cell, (style, sym)) in buf.content.iter_mut().zip(&s.cells) {
        let (fg, bg, ul, m) = s.styles.get(usize::from(*style))?;
        cell.set_symbol(safe_symbol(sym));
        cell.fg = color(fg);
        cell.bg = color(bg);
        cell.underline_color = color(ul);
        cell.modifier = Modifier::from_bits_truncate(*m);
    }
    Some(buf)
}

/// The kept frame for a terminal of `size`, if it is still true.
pub fn load(place: &Place, size: Rect) -> Option<Buffer> {
    if std::env::var_os(DISABLE_ENV).is_some() {
        return None;
    }
    let bytes = std::fs::read(place.dir.join(FILE)).ok()?;
    let s: Snapshot = rmp_serde::from_slice(&bytes).ok()?;
    let fresh = s.version == VERSION
        && s.look == place.look
        && s.width == size.width
        && s.height == size.height
        && s.stamp == stamp(&place.watched())
        && s.stamp.iter().all(Option::is_some);
    if !fresh {
        return None;
    }
    decode(&s)
}

/// Write `buf` as the frame to open with, stamped with the files as they are
/// now: call it once the store is closed.
pub fn save(place: &Place, buf: &Buffer) -> std::io::Result<()> {
    let s = encode(buf, &place.look, stamp(&place.watched()));
    let bytes = rmp_serde::to_vec(&s).map_err(std::io::Error::other)?;
    let tmp = place.dir.join(format!("{FILE}.tmp"));
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(&bytes)?;
    }
    std::fs::rename(&tmp, place.dir.join(FILE))
}

/// Whether a frame is kept in `dir` at all (a cheap look before taking the terminal).
pub fn exists(dir: &Path) -> bool {
    dir.join(FILE).exists()
}

/// Forget the kept frame (the next start waits for the store).
pub fn discard(dir: &Path) {
    let _ = std::fs::remove_file(dir.join(FILE));
}

static PENDING: Mutex<Option<(Place, Buffer)>> = Mutex::new(None);

/// Keep `buf` to be saved by [`save_pending`] once the store has closed.
pub fn set_pending(place: Place, buf: Buffer) {
    if let Ok(mut p) = PENDING.lock() {
        *p = Some((place, buf));
    }
}

/// Save the frame kept by [`set_pending`], if any. Called at process end,
/// after the store is closed, so the stamp is the store's final state.
pub fn save_pending() {
    let pending = PENDING.lock().ok().and_then(|mut p| p.take());
    if let Some((place, buf)) = pending
        && let Err(e) = save(&place, &buf)
    {
        tracing::info!(
            "the opening frame was not kept in {}: {e}",
            place.dir.display()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::style::Style;

    fn place(dir: &Path) -> Place {
        std::fs::create_dir_all(dir.join("store")).expect("dir");
        std::fs::write(dir.join("store").join("db"), b"x").expect("db");
        Place {
            dir: dir.to_path_buf(),
            look: "dark/default".into(),
            also: vec![],
        }
    }

    fn frame() -> Buffer {
        let mut b = Buffer::empty(Rect::new(0, 0, 20, 3));
        b.set_string(0, 0, "Inbox 日本", Style::new().fg(Color::Rgb(1, 2, 3)));
        b.set_string(0, 1, "Refund", Style::new().bg(Color::Indexed(17)).bold());
        b
    }

    #[test]
    fn a_kept_frame_comes_back_cell_for_cell_while_nothing_changed() {
        let d = tempfile::tempdir().expect("tmp");
        let p = place(d.path());
        save(&p, &frame()).expect("save");
        assert_eq!(load(&p, Rect::new(0, 0, 20, 3)), Some(frame()));
    }

    #[test]
    fn a_kept_frame_is_not_shown_after_the_store_the_size_or_the_look_changed() {
        let d = tempfile::tempdir().expect("tmp");
        let p = place(d.path());
        save(&p, &frame()).expect("save");
        assert_eq!(load(&p, Rect::new(0, 0, 21, 3)), None);
        let other = Place {
            look: "light/default".into(),
            ..p.clone()
        };
        assert_eq!(load(&other, Rect::new(0, 0, 20, 3)), None);
        std::fs::write(d.path().join("store").join("db"), b"xy").expect("db");
        assert_eq!(load(&p, Rect::new(0, 0, 20, 3)), None);
    }

    #[test]
    fn escape_sequences_in_a_hand_edited_frame_never_reach_the_terminal() {
        let d = tempfile::tempdir().expect("tmp");
        let p = place(d.path());
        let mut s = encode(&frame(), &p.look, stamp(&p.watched()));
        s.cells[0].1 = "\u{1b}]52;c;ZXZpbA==\u{7}".into();
        s.cells[1].1 = "\u{202e}".into();
        std::fs::write(d.path().join(FILE), rmp_serde::to_vec(&s).expect("encode")).expect("write");
        let b = load(&p, Rect::new(0, 0, 20, 3)).expect("loaded");
        assert_eq!(b.content[0].symbol(), " ");
        assert_eq!(b.content[1].symbol(), " ");
        assert_eq!(b.content[2].symbol(), "b");
    }
}
