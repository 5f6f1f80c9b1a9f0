//! Raw mail bodies outside sled: each ingest batch appends its bodies to one
//! segment file (`bodies/<token>-<first id>.seg`), fsynced before the index
//! batch that points at them, so the sled tree holds only small rows. A
//! segment is never rewritten; one whose first mail was never indexed is
//! left over from a crash and removed on open.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Where one body lives: segment token, offset and length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Locator {
    pub segment: u64,
    pub first: u64,
    pub offset: u64,
    pub len: u64,
}

impl Locator {
    pub fn encode(&self) -> [u8; 32] {
        let mut v = [0u8; 32];
        v[..8].copy_from_slice(&self.segment.to_be_bytes());
        v[8..16].copy_from_slice(&self.first.to_be_bytes());
        v[16..24].copy_from_slice(&self.offset.to_be_bytes());
        v[24..].copy_from_slice(&self.len.to_be_bytes());
        v
    }

    pub fn decode(v: &[u8]) -> Option<Locator> {
        if v.len() < 32 {
            return None;
        }
        let n = |i: usize| super::keys::read_u64(&v[i..i + 8]);
        Some(Locator {
            segment: n(0),
            first: n(8),
            offset: n(16),
            len: n(24),
        })
    }
}

/// The segment files of one store.
pub struct Segments {
    dir: PathBuf,
}

impl Segments {
    /// The `bodies` dir beside the sled files, created 0700.
    pub fn open(data_dir: &Path) -> std::io::Result<Segments> {
        let dir = data_dir.join("bodies");
        crate::config::paths::ensure_private_dir(&dir)?;
        Ok(Segments { dir })
    }

    fn path(&self, segment: u64, first: u64) -> PathBuf {
        self.dir.join(format!("{segment:016x}-{first:016x}.seg"))
    }

    /// Write the bodies of one batch to a new segment and make it durable.
    pub fn write(&self, segment: u64, bodies: &[(u64, &[u8])]) -> std::io::Result<Vec<Locator>> {
        let Some(&(first, _)) = bodies.first() else {
            return Ok(Vec::new());
        };
        let f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(self.path(segment, first))?;
        // Buffered, not gathered into one copy of the whole batch.
        let mut w = std::io::BufWriter::with_capacity(256 * 1024, f);
        let mut out = Vec::with_capacity(bodies.len());
        let mut offset = 0u64;
        for (_, raw) in bodies {
            w.write_all(raw)?;
            out.push(Locator {
                segment,
                first,
                offset,
                len: raw.len() as u64,
            });
            offset += raw.len() as u64;
        }
        let f = w.into_inner().map_err(|e| e.into_error())?;
        f.sync_data()?;
        // The new name must be durable too before the index points at it.
        File::open(&self.dir)?.sync_all()?;
        Ok(out)
    }

    pub fn read(&self, loc: &Locator) -> std::io::Result<Vec<u8>> {
        let f = File::open(self.path(loc.segment, loc.first))?;
        let len = usize::try_from(loc.len).map_err(std::io::Error::other)?;
        let mut buf = vec![0u8; len];
        f.read_exact_at(&mut buf, loc.offset)?;
        Ok(buf)
    }

    /// Every segment as (token, first id), for the sweep on open.
    pub fn list(&self) -> std::io::Result<Vec<(u64, u64)>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&self.dir)? {
            let name = entry?.file_name();
            let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(".seg")) else {
                continue;
            };
            if let Some((a, b)) = stem.split_once('-')
                && let (Ok(a), Ok(b)) = (u64::from_str_radix(a, 16), u64::from_str_radix(b, 16))
            {
                out.push((a, b));
            }
        }
        Ok(out)
    }

    pub fn remove(&self, segment: u64, first: u64) -> std::io::Result<()> {
        std::fs::remove_file(self.path(segment, first))
    }
}
