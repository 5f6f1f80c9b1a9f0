//! A full disk under the data dir: deskmail fails fast, says how much is
//! free, refuses to start a sync below its free-space floor, never hangs.
//! The disk is a small tmpfs, so these tests need root (skipped otherwise).

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use support::{MailStack, StackOptions, gen_mailbox};

/// A tmpfs of `mb` MB mounted on a temp dir, unmounted on drop.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(mb: u32) -> Option<Tmpfs> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("SKIPPED: mounting a small tmpfs needs root");
            return None;
        }
        let dir = tempfile::tempdir().expect("tmp");
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mb}m"), "tmpfs"])
            .arg(dir.path())
            .status()
            .expect("mount");
        if !ok.success() {
            eprintln!("SKIPPED: mount -t tmpfs failed (no privilege in this container?)");
            return None;
        }
        Some(Tmpfs { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Fill the disk with a file until only about `leave_kb` KB are free.
    fn fill_leaving(&self, leave_kb: u64) {
        let free = free_kb(self.path());
        let size = free.saturating_sub(leave_kb) * 1024;
        let f = std::fs::File::create(self.path().join("filler")).expect("filler");
        use std::io::Write;
        let mut w = std::io::BufWriter::new(f);
        let block = vec![0x5au8; 64 * 1024];
        let mut written = 0u64;
        while written < size {
            let n = (size - written).min(block.len() as u64) as usize;
            if w.write_all(&block[..n]).is_err() {
                break;
            }
            written += n as u64;
        }
        let _ = w.flush();
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

fn free_kb(p: &Path) -> u64 {
    let out = Command::new("df")
        .args(["-k", "--output=avail"])
        .arg(p)
        .output()
        .expect("df");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .nth(1)
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(0)
}

fn config_file(dir: &Path, stack: &MailStack, extra: &str) -> PathBuf {
    let text = format!(
        r#"{extra}

[[accounts]]
name = "support"
email = "support@desk.example"
host = "127.0.0.1"
port = {port}
tls = "starttls"
ca_file = "{ca}"
user = "support"
password_command = "printf secret"
folders = ["INBOX"]
"#,
        port = stack.imap_port,
        ca = stack.cert_pem.display()
    );
    let f = dir.join("config.toml");
    std::fs::write(&f, text).expect("config");
    f
}

/// Run the binary for at most `limit`; `None` if it was still running (then
/// it is killed). Returns stdout and stderr too.
fn run_bounded(args: &[&std::ffi::OsStr], limit: Duration) -> (Option<ExitStatus>, String) {
    let out_dir = tempfile::tempdir().expect("tmp");
    let err_path = out_dir.path().join("stderr");
    let mut child = Command::new(env!("CARGO_BIN_EXE_deskmail"))
        .args(args)
        .env("HOME", out_dir.path())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&err_path).expect("stderr file"))
        .spawn()
        .expect("spawn deskmail");
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break Some(s);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    (status, stderr)
}

#[test]
fn sync_filling_the_disk_stops_at_once_saying_how_much_is_free() {
    let Some(disk) = Tmpfs::mount(3) else {
        return;
    };
    let stack = MailStack::start_with(StackOptions::dovecot_only());
    stack.fill_inbox("support", gen_mailbox(2500, 5));
    let dir = tempfile::tempdir().expect("tmp");
    // A floor low enough that the sync starts and fills the 3 MB disk.
    let cfg = config_file(dir.path(), &stack, "min_free_mb = 1");
    let data = disk.path().join("data");
    let (status, stderr) = run_bounded(
        &[
            "sync".as_ref(),
            "--once".as_ref(),
            "--config".as_ref(),
            cfg.as_os_str(),
            "--data-dir".as_ref(),
            data.as_os_str(),
        ],
        Duration::from_secs(120),
    );
    let status =
        status.unwrap_or_else(|| panic!("deskmail hung on a full disk; stderr:\n{stderr}"));
    assert!(!status.success(), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.contains("is full"), "{stderr}");
    assert!(stderr.contains("MB free"), "{stderr}");
    assert!(
        stderr.contains(&disk.path().display().to_string()),
        "names the directory: {stderr}"
    );
}

#[test]
fn sync_refuses_to_start_below_the_free_space_floor() {
    let Some(disk) = Tmpfs::mount(3) else {
        return;
    };
    let stack = MailStack::start_with(StackOptions::dovecot_only());
    stack.fill_inbox("support", gen_mailbox(20, 6));
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = config_file(dir.path(), &stack, "min_free_mb = 2");
    disk.fill_leaving(1024);
    let data = disk.path().join("data");
    let (status, stderr) = run_bounded(
        &[
            "sync".as_ref(),
            "--once".as_ref(),
            "--config".as_ref(),
            cfg.as_os_str(),
            "--data-dir".as_ref(),
            data.as_os_str(),
        ],
        Duration::from_secs(60),
    );
    let status = status.unwrap_or_else(|| panic!("deskmail hung; stderr:\n{stderr}"));
    assert!(!status.success(), "{stderr}");
    assert!(stderr.contains("not starting the sync"), "{stderr}");
    assert!(stderr.contains("MB free"), "{stderr}");
    assert!(
        stderr.contains("min_free_mb"),
        "says how to change it: {stderr}"
    );
}

#[test]
fn opening_the_store_on_a_full_disk_says_the_disk_is_full() {
    let Some(disk) = Tmpfs::mount(3) else {
        return;
    };
    disk.fill_leaving(0);
    let data = disk.path().join("data");
    let (status, stderr) = run_bounded(
        &[
            "demo".as_ref(),
            "--no-tui".as_ref(),
            "--data-dir".as_ref(),
            data.as_os_str(),
        ],
        Duration::from_secs(60),
    );
    let status = status.unwrap_or_else(|| panic!("deskmail hung; stderr:\n{stderr}"));
    assert!(!status.success(), "{stderr}");
    assert!(stderr.contains("is full"), "{stderr}");
    assert!(!stderr.contains("another deskmail"), "{stderr}");
}
