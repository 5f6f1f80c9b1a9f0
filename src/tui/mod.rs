//! The terminal interface: guard, event loop, state, keymap, theme and panes.
//! The loop owns the terminal; state changes only in `App`, drawing only in
//! `ui::draw`, and every data access goes through the `Desk`.

pub mod action;
pub mod app;
pub mod compose;
pub mod form;
pub mod keymap;
pub mod panes;
pub mod snapshot;
pub mod terminal;
pub mod theme;
pub mod ui;

use crate::protocol::{Command, DeskClient, Event};
use app::App;
use futures::StreamExt;
use keymap::{Key, Keymap};
use ratatui::layout::Rect;
use std::sync::Arc;
use std::time::{Duration, Instant};
use theme::Theme;
use tokio::sync::mpsc::UnboundedReceiver;

pub struct RunOptions {
    pub keymap: Keymap,
    pub theme: Theme,
    pub first_frame_and_exit: bool,
    pub bell: bool,
    /// Warnings shown permanently in the status bar (e.g. unverified TLS).
    pub warnings: Vec<String>,
    /// The config.toml the accounts screen saves to (`None`: the demo desk).
    pub config_file: Option<std::path::PathBuf>,
    /// The terminal, already taken to paint the kept opening frame.
    pub early: Option<terminal::TerminalGuard>,
    /// Where the opening frame is kept at a clean quit (`None`: not kept).
    pub snapshot: Option<snapshot::Place>,
}

const FRAME: Duration = Duration::from_millis(16);
/// `--first-frame-and-exit` waits this long at most for the selected mail.
const FIRST_FRAME_PATIENCE: Duration = Duration::from_secs(5);
/// A quit waits this long at most to draw the frame kept for the next start.
const QUIT_PATIENCE: Duration = Duration::from_millis(300);

/// How the interface ended; the process exit code follows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// The agent quit (or one frame was asked for): 0.
    Quit,
    /// SIGHUP, or the terminal vanished (SSH dropped, tmux pane killed): 129.
    HangUp,
    /// SIGTERM: 143.
    Terminated,
}

impl Exit {
    /// 128 + the signal number for the signals, as shells report them.
    pub fn code(self) -> i32 {
        match self {
            Exit::Quit => 0,
            Exit::HangUp => 128 + libc::SIGHUP,
            Exit::Terminated => 128 + libc::SIGTERM,
        }
    }
}

fn run_commands(desk: &dyn DeskClient, cmds: Vec<Command>) {
    for c in cmds {
        desk.send(c);
    }
}

/// Keep the list window and reader width in step with the terminal size.
fn fit_to(app: &mut App, desk: &dyn DeskClient, area: Rect) {
    app.reader_width = ui::reader_width(area, app.focus);
    let cmds = app.resize_list(desk, ui::list_rows(area, app.focus));
    run_commands(desk, cmds);
}

fn draw(guard: &mut terminal::TerminalGuard, app: &App, theme: &Theme) -> std::io::Result<()> {
    draw_with(guard, |f| ui::draw(f, app, theme))
}

/// One frame drawn by `paint`, shown by the terminal all at once.
fn draw_with(
    guard: &mut terminal::TerminalGuard,
    paint: impl FnOnce(&mut ratatui::Frame),
) -> std::io::Result<()> {
    use crossterm::terminal::{BeginSynchronizedUpdate, EndSynchronizedUpdate};
    crossterm::execute!(std::io::stdout(), BeginSynchronizedUpdate)?;
    let r = guard.terminal.draw(paint);
    crossterm::execute!(std::io::stdout(), EndSynchronizedUpdate)?;
    r.map(|_| ())
}

/// Hand `text` to `$VISUAL`/`$EDITOR` (else `vi`) in a temp file with the
/// terminal given back, and return what was saved.
fn edit_externally(guard: &mut terminal::TerminalGuard, text: &str) -> std::io::Result<String> {
    use std::io::Write;
    let mut file = tempfile::Builder::new()
        .prefix("deskmail-")
        .suffix(".eml")
        .tempfile()?;
    file.write_all(text.as_bytes())?;
    file.flush()?;
    let editor = std::env::var("VISUAL")
        .or_else(|_| std::env::var("EDITOR"))
        .unwrap_or_else(|_| "vi".into());
    guard.pause();
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("sh")
        .arg(file.path())
        .status();
    guard.resume()?;
    let status = status?;
    if !status.success() {
        return Err(std::io::Error::other(format!(
            "{editor} exited with {status}"
        )));
    }
    std::fs::read_to_string(file.path())
}

/// Run the interface until the agent quits, a signal asks us to, or the
/// terminal goes away; the store is flushed in every case.
pub async fn run(
    desk: Arc<dyn DeskClient>,
    mut events: UnboundedReceiver<Event>,
    mut opts: RunOptions,
) -> anyhow::Result<Exit> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut guard = match opts.early.take() {
        Some(g) => g,
        None => terminal::TerminalGuard::new()?,
    };
    let keymap = opts.keymap.clone();
    let warnings = opts.warnings.clone();
    let theme = opts.theme.clone();
    let size = guard.terminal.size()?;
    let mut area = Rect::new(0, 0, size.width, size.height);
    let desk: &dyn DeskClient = desk.as_ref();
    let mut app = opening_view(
        desk,
        &mut events,
        opts.keymap,
        opts.warnings,
        area,
        !opts.first_frame_and_exit,
        if opts.first_frame_and_exit {
            FIRST_FRAME_PATIENCE
        } else {
            Duration::ZERO
        },
    )
    .await;
    app.config_file = opts.config_file;

    if opts.first_frame_and_exit {
        draw(&mut guard, &app, &theme)?;
        if let Some(place) = opts.snapshot {
            snapshot::set_pending(place, offscreen(&app, &theme, area)?);
        }
        return Ok(Exit::Quit);
    }

    // `None` while an external editor owns the terminal, so no key is stolen.
    let mut input = Some(crossterm::event::EventStream::new());
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sighup = signal(SignalKind::hangup())?;
    let mut dirty = true;
    let mut last_draw = Instant::now() - FRAME;
    let mut exit = Exit::Quit;
    loop {
        if dirty && last_draw.elapsed() >= FRAME {
            // Drawing reads the time from state only; the loop keeps it current.
            app.clock.now = chrono::Utc::now().timestamp();
            fit_to(&mut app, desk, area);
            if let Err(e) = draw(&mut guard, &app, &theme) {
                tracing::info!(
                    "drawing failed ({e}): the terminal went away; flushing and leaving"
                );
                exit = Exit::HangUp;
                break;
            }
            last_draw = Instant::now();
            dirty = false;
        }
        let composing = matches!(app.overlay, Some(app::Overlay::Compose(_)));
        let wait = if dirty {
            FRAME.saturating_sub(last_draw.elapsed())
        } else if composing {
            // Wake up now and then so an idle draft still gets autosaved.
            Duration::from_millis(500)
        } else {
            Duration::from_secs(3600)
        };
        // A typed search runs once typing pauses.
        let wait = match app.search_due() {
            Some(due) => wait.min(due.saturating_duration_since(Instant::now())),
            None => wait,
        };
        tokio::select! {
            ev = async {
                match input.as_mut() {
                    Some(i) => i.next().await,
                    None => std::future::pending().await,
                }
            } => match ev {
                Some(Ok(crossterm::event::Event::Key(k))) => {
                    if let Some(key) = Key::from_event(&k) {
                        let cmds = app.handle_key(desk, key);
                        run_commands(desk, cmds);
                        dirty = true;
                    }
                }
                Some(Ok(crossterm::event::Event::Resize(w, h))) => {
                    // Bursts collapse: only the size at the next frame counts.
                    area = Rect::new(0, 0, w, h);
                    dirty = true;
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    tracing::info!("reading the terminal failed ({e}): the terminal went away; flushing and leaving");
                    exit = Exit::HangUp;
                    break;
                }
                None => {
                    tracing::info!("the terminal's input ended: the terminal went away; flushing and leaving");
                    exit = Exit::HangUp;
                    break;
                }
            },
            e = events.recv() => {
                if let Some(e) = e {
                    let cmds = app.handle_event(desk, e);
                    run_commands(desk, cmds);
                    dirty = true;
                }
            }
            _ = sigterm.recv() => {
                tracing::info!("SIGTERM: flushing and leaving");
                exit = Exit::Terminated;
                break;
            }
            _ = sighup.recv() => {
                tracing::info!("SIGHUP: the terminal went away; flushing and leaving");
                exit = Exit::HangUp;
                break;
            }
            _ = tokio::time::sleep(wait) => {}
        }
        if let Some(cmds) = app.search_tick(desk, Instant::now()) {
            run_commands(desk, cmds);
            dirty = true;
        }
        if let Some(app::Overlay::Compose(c)) = &mut app.overlay {
            if c.wants_editor {
                c.wants_editor = false;
                tracing::debug!("handing the mail to the editor");
                drop(input.take());
                let edited = edit_externally(&mut guard, &c.editor_text());
                input = Some(crossterm::event::EventStream::new());
                if let Err(e) = &edited {
                    tracing::warn!("the editor failed: {e}");
                }
                match edited {
                    Ok(text) => {
                        if let Err(e) = c.apply_editor_text(desk, &text) {
                            app.error(format!("The edited mail was not taken: {e}"));
                        }
                    }
                    Err(e) => app.error(format!("The editor failed: {e}")),
                }
                dirty = true;
            } else if let Some(save) = c.autosave(Instant::now()) {
                desk.send(save);
            }
        }
        if app.suspend || app.quit {
            // Whatever is being written survives a suspend that never comes back.
            if let Some(app::Overlay::Compose(c)) = &mut app.overlay {
                desk.send(c.save_draft());
            }
        }
        if app.suspend {
            app.suspend = false;
            desk.flush()?;
            guard.suspend()?;
            let size = guard.terminal.size()?;
            area = Rect::new(0, 0, size.width, size.height);
            dirty = true;
        }
        if app.bell {
            app.bell = false;
            if opts.bell {
                use std::io::Write;
                let mut out = std::io::stdout();
                let _ = out.write_all(b"\x07");
                let _ = out.flush();
            }
        }
        if app.quit {
            break;
        }
    }
    if exit == Exit::HangUp {
        crate::hangup::detach_stdio();
    }
    if exit != Exit::Quit
        && let Some(app::Overlay::Compose(c)) = &mut app.overlay
    {
        // The desk writes the draft before the flush below.
        desk.send(c.save_draft());
    }
    if exit == Exit::Quit
        && let Some(place) = opts.snapshot
    {
        // What the next start opens on, drawn now while the desk is at hand;
        // quitting never waits long for it (a body still on the server).
        let next = opening_view(
            desk,
            &mut events,
            keymap,
            warnings,
            area,
            true,
            QUIT_PATIENCE,
        )
        .await;
        if next.reader.id.is_none() || next.reader.mail.is_some() {
            snapshot::set_pending(place, offscreen(&next, &theme, area)?);
        }
    }
    desk.flush()?;
    tracing::info!("store flushed");
    drop(guard);
    Ok(exit)
}

/// The view the interface opens on: folders loaded, the agent's last
/// position, the drafts offer; the selected mail rendered too when it comes
/// within `patience`.
async fn opening_view(
    desk: &dyn DeskClient,
    events: &mut UnboundedReceiver<Event>,
    keymap: Keymap,
    warnings: Vec<String>,
    area: Rect,
    offer_drafts: bool,
    patience: Duration,
) -> App {
    let mut app = App::new(keymap);
    app.status.warnings = warnings;
    app.list.height = ui::list_rows(area, app.focus).max(1);
    app.reader_width = ui::reader_width(area, app.focus);
    let cmds = app.load(desk);
    run_commands(desk, cmds);
    let drafts = desk.drafts();
    let drafts = app.ask(drafts);
    if !drafts.is_empty() && offer_drafts {
        app.overlay = Some(app::Overlay::Drafts(app::PickList::new(drafts)));
    }
    let deadline = Instant::now() + patience;
    while app.reader.id.is_some() && app.reader.mail.is_none() && Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_millis(50), events.recv()).await {
            Ok(Some(e)) => {
                let cmds = app.handle_event(desk, e);
                run_commands(desk, cmds);
            }
            Ok(None) => break,
            Err(_) => {}
        }
    }
    app
}

/// `app` drawn into a buffer of `area`'s size instead of the terminal.
fn offscreen(app: &App, theme: &Theme, area: Rect) -> std::io::Result<ratatui::buffer::Buffer> {
    let mut t = ratatui::Terminal::new(ratatui::backend::TestBackend::new(area.width, area.height))
        .map_err(std::io::Error::other)?;
    t.draw(|f| ui::draw(f, app, theme))
        .map_err(std::io::Error::other)?;
    Ok(t.backend().buffer().clone())
}

/// Paint the opening frame kept at the last clean quit, before the store is
/// open. Returns the terminal (already taken) and whether a frame was painted;
/// `None` when no frame is kept, so the terminal is taken as usual later.
pub fn paint_kept(place: &snapshot::Place) -> Option<(terminal::TerminalGuard, bool)> {
    if std::env::var_os(snapshot::DISABLE_ENV).is_some() || !snapshot::exists(&place.dir) {
        return None;
    }
    let mut guard = terminal::TerminalGuard::new().ok()?;
    let size = guard.terminal.size().ok()?;
    let Some(buf) = snapshot::load(place, Rect::new(0, 0, size.width, size.height)) else {
        return Some((guard, false));
    };
    let painted = draw_with(&mut guard, |f| {
        f.buffer_mut().content.clone_from(&buf.content)
    })
    .is_ok();
    Some((guard, painted))
}
