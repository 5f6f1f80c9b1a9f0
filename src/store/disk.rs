//! Free space under the data dir, and what a store failure means for the
//! agent (disk full, locked by another process, damaged). Only asks the
//! filesystem; never writes.

use std::path::{Path, PathBuf};

/// Below this much free space a flush is not tried: sled can wait for ever
/// on a write that has no room (it fails fast instead).
pub const FLUSH_RESERVE: u64 = 512 * 1024;

/// The default floor under which a sync does not start (`min_free_mb`).
pub const DEFAULT_MIN_FREE_MB: u64 = 50;

/// Bytes available to this user on the filesystem holding `dir` (or its
/// nearest existing parent); `None` if the filesystem cannot say.
pub fn free_bytes(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let mut p: PathBuf = dir.to_path_buf();
    while !p.exists() {
        if !p.pop() {
            return None;
        }
    }
    let mut c = p.as_os_str().as_bytes().to_vec();
    c.push(0);
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a NUL-terminated path and `st` a valid out-pointer.
    let rc = unsafe { libc::statvfs(c.as_ptr().cast(), &mut st) };
    if rc != 0 {
        return None;
    }
    Some((st.f_bavail as u64).saturating_mul(st.f_frsize as u64))
}

/// Free space in whole MB, rounded down.
pub fn free_mb(dir: &Path) -> u64 {
    free_bytes(dir).unwrap_or(0) / (1024 * 1024)
}

/// Whether an I/O error means the disk (or the user's quota) is full.
pub fn is_disk_full(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOSPC) | Some(libc::EDQUOT))
        || e.kind() == std::io::ErrorKind::StorageFull
        || e.kind() == std::io::ErrorKind::QuotaExceeded
}

/// `Err(message)` when the disk holding `dir` has less than `min_mb` free.
pub fn check_floor(dir: &Path, min_mb: u64) -> Result<(), String> {
    if min_mb == 0 {
        return Ok(());
    }
    let Some(free) = free_bytes(dir) else {
        return Ok(());
    };
    let free_mb = free / (1024 * 1024);
    if free_mb < min_mb {
        return Err(format!(
            "not starting the sync: the disk holding {} has {free_mb} MB free, less than \
             min_free_mb = {min_mb}. Free some space there (or move the data dir with \
             --data-dir), or lower min_free_mb in the config",
            dir.display()
        ));
    }
    Ok(())
}

/// The pid written by the deskmail that has the store open, if it still runs.
pub fn holder_pid(dir: &Path) -> Option<u32> {
    let text = std::fs::read_to_string(dir.join(PID_FILE)).ok()?;
    let pid: u32 = text.trim().parse().ok()?;
    Path::new(&format!("/proc/{pid}")).exists().then_some(pid)
}

/// Next to the store: the pid of the process that has it open.
pub const PID_FILE: &str = "deskmail.pid";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Store, StoreError};

    #[test]
    fn a_store_locked_by_another_process_names_its_pid() {
        let dir = tempfile::tempdir().expect("tmp");
        let first = Store::open(dir.path()).expect("opens");
        let err = match Store::open(dir.path()) {
            Ok(_) => panic!("a second open of a locked store succeeded"),
            Err(e) => e,
        };
        assert!(matches!(err, StoreError::Locked { .. }), "{err:?}");
        let s = err.to_string();
        assert!(s.contains("in use by another deskmail"), "{s}");
        assert!(s.contains(&format!("pid {}", std::process::id())), "{s}");
        assert!(!s.contains("full"), "{s}");
        drop(first);
    }

    #[test]
    fn a_damaged_store_says_so_and_what_to_do() {
        damaged_store_says_so(&["conf", "db"]);
    }

    fn damaged_store_says_so(files: &[&str]) {
        let dir = tempfile::tempdir().expect("tmp");
        {
            let s = Store::open(dir.path()).expect("opens");
            s.set_setting("x", "y").expect("write");
            s.flush().expect("flush");
        }
        for name in files {
            let f = dir.path().join("store").join(name);
            let len = std::fs::metadata(&f).map(|m| m.len()).unwrap_or(0) as usize;
            std::fs::write(&f, vec![0xA5u8; len.max(64)]).expect("damage");
        }
        let err = match Store::open(dir.path()) {
            Ok(_) => panic!("a damaged store opened"),
            Err(e) => e,
        };
        let s = err.to_string();
        assert!(s.contains("damaged"), "{err:?}: {s}");
        assert!(s.contains("move it aside"), "{s}");
        assert!(!s.contains("another deskmail"), "{s}");
    }

    #[test]
    fn the_floor_refuses_and_zero_turns_it_off() {
        let dir = tempfile::tempdir().expect("tmp");
        let err = check_floor(dir.path(), u64::MAX / (1024 * 1024)).expect_err("below");
        assert!(
            err.contains("MB free") && err.contains("min_free_mb"),
            "{err}"
        );
        assert!(check_floor(dir.path(), 0).is_ok());
    }
}
