//! What the process does when its terminal goes away (SIGHUP, SSH dropped,
//! tmux pane killed): stop writing to it. Never prints, never panics.

/// Point stdin, stdout and stderr at /dev/null so nothing afterwards
/// (restoring the screen, a library's Drop, an error message) writes to a
/// dead terminal and fails or panics with EIO.
pub fn detach_stdio() {
    // SAFETY: plain libc calls on a path literal and the three standard
    // descriptors; dup2 atomically replaces each one.
    unsafe {
        let fd = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC);
        if fd < 0 {
            return;
        }
        for std_fd in 0..=2 {
            libc::dup2(fd, std_fd);
        }
        libc::close(fd);
    }
}
