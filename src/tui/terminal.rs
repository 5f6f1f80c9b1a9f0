//! Terminal ownership: raw mode + alternate screen for exactly as long as a
//! `TerminalGuard` lives. Drop and the panic hook both restore the terminal.

use crossterm::{
    cursor, execute,
    terminal::{self, EnterAlternateScreen, LeaveAlternateScreen},
};
use ratatui::{Terminal, backend::CrosstermBackend};
use std::io::{self, Stdout};

pub type Term = Terminal<CrosstermBackend<Stdout>>;

pub struct TerminalGuard {
    pub terminal: Term,
}

/// Put the terminal into the state deskmail draws in.
pub fn enter() -> io::Result<()> {
    terminal::enable_raw_mode()?;
    // Mouse capture stays off: tmux selection and copy keep working.
    execute!(io::stdout(), EnterAlternateScreen, cursor::Hide)?;
    Ok(())
}

/// Give the terminal back as we found it. Safe to call twice.
pub fn restore_terminal() {
    let _ = execute!(io::stdout(), LeaveAlternateScreen, cursor::Show);
    let _ = terminal::disable_raw_mode();
}

impl TerminalGuard {
    pub fn new() -> io::Result<TerminalGuard> {
        install_panic_hook();
        enter()?;
        let terminal = Terminal::new(CrosstermBackend::new(io::stdout()))?;
        Ok(TerminalGuard { terminal })
    }

    /// Ctrl-Z: hand the terminal back, stop, and take it again on resume.
    pub fn suspend(&mut self) -> io::Result<()> {
        restore_terminal();
        // SAFETY: raising SIGTSTP on ourselves is the documented way to stop
        // a process; execution resumes here after SIGCONT.
        unsafe {
            libc::raise(libc::SIGTSTP);
        }
        self.retake()
    }

    /// Take the screen back and make the next frame redraw every cell.
    /// (`Terminal::clear` would ask the terminal for the cursor position,
    /// and the input reader may swallow that answer.)
    fn retake(&mut self) -> io::Result<()> {
        enter()?;
        execute!(io::stdout(), terminal::Clear(terminal::ClearType::All))?;
        self.terminal = Terminal::new(CrosstermBackend::new(io::stdout()))?;
        Ok(())
    }

    /// Leave the screen to an external program (e.g. `$EDITOR`).
    pub fn pause(&mut self) {
        restore_terminal();
    }

    pub fn resume(&mut self) -> io::Result<()> {
        self.retake()
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore_terminal();
    }
}

fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore_terminal();
            tracing::error!("panic: {info}");
            previous(info);
        }));
    });
}
