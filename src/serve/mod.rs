//! The shared desk: `deskmail serve` owns one desk behind a Unix socket and
//! every agent's deskmail attaches to it. Owns the socket's place and
//! permissions, the note in the data dir naming it, and the serve loop.

pub mod access;
pub mod cli;
pub mod client;
pub mod server;
pub mod wire;

use crate::config::Config;
use crate::desk::Desk;
use crate::protocol::Event;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::mpsc;

/// The file in a served data dir naming the socket that serves it.
pub const NOTE: &str = "serve.socket";

/// The socket a personal server uses: `$XDG_RUNTIME_DIR/deskmail/desk.sock`
/// (else under the state dir, for systems without a runtime dir).
pub fn default_socket() -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(v) if !v.is_empty() => PathBuf::from(v).join("deskmail").join("desk.sock"),
        _ => crate::config::paths::state_dir().join("desk.sock"),
    }
}

/// The socket `deskmail serve` listens on: the flag, the config, the default.
pub fn serve_socket(flag: Option<&Path>, cfg: Option<&Config>) -> PathBuf {
    flag.map(Path::to_path_buf)
        .or_else(|| cfg.and_then(|c| c.server.socket.clone()))
        .unwrap_or_else(default_socket)
}

/// The socket named in `data_dir`'s note, when a server wrote one.
pub fn noted_socket(data_dir: &Path) -> Option<PathBuf> {
    let text = std::fs::read_to_string(data_dir.join(NOTE)).ok()?;
    let t = text.trim();
    (!t.is_empty()).then(|| PathBuf::from(t))
}

/// Whether a server answers on `socket` (a connect, no handshake).
pub fn answers(socket: &Path) -> bool {
    std::os::unix::net::UnixStream::connect(socket).is_ok()
}

/// The gid of group `name`.
fn group_id(name: &str) -> Option<u32> {
    let c = std::ffi::CString::new(name).ok()?;
    let mut buf = vec![0u8; 4096];
    let mut grp: libc::group = unsafe { std::mem::zeroed() };
    let mut out: *mut libc::group = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call; buf outlives it.
    let rc = unsafe {
        libc::getgrnam_r(
            c.as_ptr(),
            &mut grp,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut out,
        )
    };
    (rc == 0 && !out.is_null()).then_some(grp.gr_gid)
}

/// Bind `socket`: its directory 0750, the socket 0660, both in `group` when
/// one is named. A stale socket file is replaced; a live one is refused.
pub fn bind(socket: &Path, group: Option<&str>) -> anyhow::Result<tokio::net::UnixListener> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    let dir = socket
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let gid = match group {
        Some(g) => Some(group_id(g).ok_or_else(|| {
            anyhow::anyhow!(
                "no group named \"{g}\" on this system: create it (groupadd {g}) or change \
                 server.group in the config"
            )
        })?),
        None => None,
    };
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o750)
            .create(dir)
            .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o750))?;
    }
    let chown = |p: &Path| -> anyhow::Result<()> {
        if let Some(gid) = gid {
            rustix::fs::chown(p, None, Some(rustix::fs::Gid::from_raw(gid))).map_err(|e| {
                anyhow::anyhow!(
                    "cannot give {} to group {}: {e}; the server's user must be a member",
                    p.display(),
                    group.unwrap_or_default()
                )
            })?;
        }
        Ok(())
    };
    if socket.exists() {
        if answers(socket) {
            anyhow::bail!(
                "a deskmail server already listens on {}; attach with `deskmail --socket {}` \
                 or stop that server first",
                socket.display(),
                socket.display()
            );
        }
        // Left behind by a server that did not stop cleanly.
        std::fs::remove_file(socket)
            .map_err(|e| anyhow::anyhow!("cannot remove the stale {}: {e}", socket.display()))?;
    }
    let listener = tokio::net::UnixListener::bind(socket)
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", socket.display()))?;
    std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o660))?;
    chown(socket)?;
    if gid.is_some() {
        chown(dir)?;
    }
    Ok(listener)
}

/// Serve `desk` on `socket` until SIGTERM or SIGINT, then flush the store.
pub async fn serve(
    desk: Arc<Desk>,
    events: mpsc::UnboundedReceiver<Event>,
    socket: &Path,
    group: Option<&str>,
    data_dir: &Path,
) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let listener = bind(socket, group)?;
    let note = data_dir.join(NOTE);
    let _ = std::fs::write(&note, format!("{}\n", socket.display()));
    let server = server::Server::new(Arc::clone(&desk));
    let fan = tokio::spawn(Arc::clone(&server).fan_out(events));
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tracing::info!("serve: listening on {}", socket.display());
    crate::console::err(&format!(
        "serving {} on {} (stop with Ctrl-C or SIGTERM)",
        data_dir.display(),
        socket.display()
    ));
    let stop = async {
        tokio::select! {
            _ = term.recv() => tracing::info!("serve: SIGTERM; stopping"),
            _ = int.recv() => tracing::info!("serve: SIGINT; stopping"),
        }
    };
    server.run(listener, stop).await;
    let _ = std::fs::remove_file(socket);
    let _ = std::fs::remove_file(&note);
    fan.abort();
    tracing::info!(
        "serve: stopped with {} client(s) attached; flushing the store",
        server.clients()
    );
    crate::protocol::DeskClient::flush(desk.as_ref()).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(())
}
