//! The command line: parsing and one function per subcommand.
//! `main.rs` only calls `cli::main`.

use crate::config::{Config, paths};
use crate::desk::{Backend, Desk};
use crate::store::Store;
use crate::tui::keymap::Keymap;
use crate::tui::theme::{ColorEnv, Theme};
use anyhow::{Context, Result};
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Parser, Debug)]
#[command(
    name = "deskmail",
    version,
    about = "A terminal mail desk for customer-support agents"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Option<Cmd>,
}

#[derive(Args, Debug, Clone)]
pub struct Global {
    /// Config file (default: ~/.config/deskmail/config.toml)
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Data directory holding the mail store (default: ~/.local/share/deskmail)
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Theme: dark, light, mono, or a file in ~/.config/deskmail/themes
    #[arg(long, global = true, value_name = "NAME")]
    pub theme: Option<String>,
    /// Keymap: default (vim-like) or emacs
    #[arg(long, global = true, value_name = "NAME")]
    pub keymap: Option<String>,
    /// Draw the first complete frame, restore the terminal and exit 0
    #[arg(long, global = true)]
    pub first_frame_and_exit: bool,
    /// The socket of a desk served by `deskmail serve` (to serve on, or attach to)
    #[arg(long, global = true, value_name = "PATH")]
    pub socket: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Open the interface on the configured desk (the default)
    Tui,
    /// Open the interface on a generated demo desk (no network)
    Demo {
        /// Write the desk and exit without opening the interface
        #[arg(long)]
        no_tui: bool,
        /// How many mails to generate
        #[arg(long, default_value_t = crate::demo::DEFAULT_MESSAGES)]
        messages: usize,
    },
    /// Print counts of the store (messages, folders, records, cases, outbox)
    Stats {
        /// One JSON object on stdout
        #[arg(long)]
        json: bool,
    },
    /// Sync mail from the configured accounts without the interface
    Sync {
        /// Only this account
        #[arg(long, value_name = "NAME")]
        account: Option<String>,
        /// Sync once and exit (default: keep syncing with IDLE until SIGTERM)
        #[arg(long)]
        once: bool,
    },
    /// Queue a mail from a script (exit 2 for an invalid address)
    Send {
        /// The account (identity) to send from
        #[arg(long, value_name = "NAME")]
        account: String,
        #[arg(long, value_name = "ADDR", required = true)]
        to: Vec<String>,
        #[arg(long, value_name = "ADDR")]
        cc: Vec<String>,
        #[arg(long)]
        subject: String,
        /// The body, from a file
        #[arg(long, value_name = "FILE", conflicts_with = "template")]
        body_file: Option<PathBuf>,
        /// The body, from a template
        #[arg(long, value_name = "NAME")]
        template: Option<String>,
        #[arg(long, value_name = "FILE")]
        attach: Vec<PathBuf>,
        /// Wait until it is sent (exit 0) or failed for good (non-zero)
        #[arg(long)]
        wait: bool,
    },
    /// Import records
    Import {
        #[command(subcommand)]
        what: ImportWhat,
    },
    /// Check each account: connect, log in, list folders, find Sent, try SMTP
    Doctor {
        #[arg(long, value_name = "NAME")]
        account: Option<String>,
    },
    /// Search every account and folder (exit 0 with hits, 1 without, 2 on a bad query)
    #[command(
        after_help = "Query: words, \"phrases\", from: to: cc: subject: body: attachment: \
has:attachment is:unread is:flagged folder: account: case:N record:NAME \
before:YYYY-MM-DD after:YYYY-MM-DD date:7d, AND OR NOT -word ( )"
    )]
    Search {
        /// The query, e.g. 'from:lucas refund'
        query: String,
        /// One JSON object per line
        #[arg(long)]
        json: bool,
        /// At most this many mails, newest first
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Delete the search index and build it again from the store
    Reindex,
    /// Serve the desk on a Unix socket for agents' deskmail to attach to
    /// (foreground; stop with SIGTERM or Ctrl-C)
    Serve,
    /// Print a mail file as the reader shows it, sanitised
    Render {
        /// An RFC 822 file (.eml)
        file: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
pub enum ImportWhat {
    /// Contacts from CSV (name, email, phone, company) or vCard 3/4
    Contacts { file: PathBuf },
}

fn log_init(dir: &Path) -> Option<tracing_appender::non_blocking::WorkerGuard> {
    paths::ensure_private_dir(dir).ok()?;
    let appender = tracing_appender::rolling::never(dir, "deskmail.log");
    let (writer, guard) = tracing_appender::non_blocking(appender);
    let filter = tracing_subscriber::EnvFilter::try_from_env("DESKMAIL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(false)
        .with_env_filter(filter)
        .try_init()
        .ok()?;
    Some(guard)
}

/// Parse the arguments and run; returns the process exit code.
pub fn main() -> i32 {
    let help = format!(
        "Logs: {} (level from DESKMAIL_LOG, e.g. DESKMAIL_LOG=debug)",
        paths::log_file().display()
    );
    let matches = Cli::command().after_help(help).get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    let _log = log_init(&paths::state_dir());
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            crate::console::err(&format!("cannot start: {e}"));
            return 1;
        }
    };
    let code = match rt.block_on(dispatch(cli)) {
        Ok(code) => code,
        Err(e) => {
            let msg = crate::mail::sanitize::sanitize_text(&format!("{e:#}"));
            tracing::error!("{msg}");
            // console::err never panics on a dead terminal.
            crate::console::err(&msg);
            1
        }
    };
    // The store is closed once the runtime is gone: the kept frame is
    // stamped with its final state.
    drop(rt);
    crate::tui::snapshot::save_pending();
    tracing::info!("leaving with exit code {code}");
    code
}

async fn dispatch(cli: Cli) -> Result<i32> {
    let g = cli.global.clone();
    match cli.command {
        None | Some(Cmd::Tui) => run_configured(&g).await,
        Some(Cmd::Demo { no_tui, messages }) => run_demo(&g, no_tui, messages).await,
        Some(Cmd::Stats { json }) => stats(&g, json),
        Some(Cmd::Render { file }) => render(&file),
        Some(Cmd::Sync { account, once }) => sync(&g, account, once).await,
        Some(Cmd::Send {
            account,
            to,
            cc,
            subject,
            body_file,
            template,
            attach,
            wait,
        }) => {
            let req = crate::outbox::send::SendRequest {
                account,
                to,
                cc,
                subject,
                body_file,
                template,
                attach,
                wait,
            };
            send(&g, req).await
        }
        Some(Cmd::Import {
            what: ImportWhat::Contacts { file },
        }) => {
            if let Some((remote, _)) = attach_cli(&g)? {
                return crate::serve::cli::import(&remote, &file);
            }
            let store = open_store(&data_dir(&g))?;
            let summary = crate::crm::import::import_contacts(&store, &file)?;
            // Mail that arrived before its sender was a contact links now.
            let rules = match load_config(&g) {
                Ok(cfg) => crate::crm::linking::LinkRules::from_config(&cfg),
                Err(_) => crate::crm::linking::LinkRules::default(),
            };
            let relinked = crate::crm::linking::relink_unlinked(&store, &rules)?;
            store.flush()?;
            crate::console::out(&summary.to_string());
            if relinked.linked > 0 {
                crate::console::out(&format!(
                    "linked {} earlier mail(s) to the imported contacts",
                    relinked.linked
                ));
            }
            Ok(0)
        }
        Some(Cmd::Doctor { account }) => doctor(&g, account).await,
        Some(Cmd::Search { query, json, limit }) => {
            crate::search::cli::search(&data_dir(&g), &query, json, limit)
        }
        Some(Cmd::Reindex) => crate::search::cli::reindex(&data_dir(&g)),
        Some(Cmd::Serve) => run_serve(&g).await,
    }
}

fn config_path(g: &Global) -> PathBuf {
    g.config
        .clone()
        .unwrap_or_else(|| paths::config_dir().join("config.toml"))
}

fn data_dir(g: &Global) -> PathBuf {
    g.data_dir.clone().unwrap_or_else(paths::data_dir)
}

fn load_config(g: &Global) -> Result<Config> {
    let path = config_path(g);
    if !path.exists() {
        anyhow::bail!(
            "no config at {}: create it (see the README's configuration example), pass --config FILE, or try `deskmail demo`",
            path.display()
        );
    }
    Ok(Config::load(&path)?)
}

fn ui_options(g: &Global, cfg: &Config) -> Result<crate::tui::RunOptions> {
    let theme_name = g
        .theme
        .clone()
        .or(cfg.theme.clone())
        .unwrap_or_else(|| "dark".into());
    let keymap_name = g
        .keymap
        .clone()
        .or(cfg.keymap.clone())
        .unwrap_or_else(|| "default".into());
    let cfg_dir = paths::config_dir();
    let theme = Theme::load(
        &theme_name,
        Some(&cfg_dir.join("themes")),
        ColorEnv::from_env(),
    )?;
    let keymap = Keymap::load(&keymap_name, Some(&cfg_dir.join("keymap.toml")))?;
    let warnings = cfg.security_warnings();
    Ok(crate::tui::RunOptions {
        keymap,
        theme,
        first_frame_and_exit: g.first_frame_and_exit,
        bell: cfg.bell,
        warnings,
        config_file: None,
        early: None,
        snapshot: None,
    })
}

/// Where the opening frame of a local desk in `dir` is kept, and what it
/// must match: theme, keymap, colour support and `config` unchanged.
fn frame_place(g: &Global, dir: &Path, config: Option<PathBuf>) -> crate::tui::snapshot::Place {
    crate::tui::snapshot::Place {
        dir: dir.to_path_buf(),
        look: format!("{:?}/{:?}/{:?}", g.theme, g.keymap, ColorEnv::from_env()),
        also: config.into_iter().collect(),
    }
}

async fn run_configured(g: &Global) -> Result<i32> {
    let local = load_config(g);
    if let Some(socket) = attach_socket(g, local.as_ref().ok())? {
        let (desk, events) = crate::serve::client::RemoteDesk::connect(&socket)
            .with_context(|| format!("cannot attach to {}", socket.display()))?;
        // Theme, keymap and downloads are the agent's own; the rest is the server's.
        let cfg = local.unwrap_or_else(|_| desk.welcome().config.clone());
        if let Some(d) = &cfg.download_dir {
            desk.set_download_dir(d.clone());
        }
        let mut opts = ui_options(g, &cfg)?;
        opts.warnings.clear();
        return Ok(crate::tui::run(desk, events, opts).await?.code());
    }
    let cfg = local?;
    let place = frame_place(g, &data_dir(g), Some(config_path(g)));
    let early = crate::tui::paint_kept(&place);
    if g.first_frame_and_exit && early.as_ref().is_some_and(|(_, painted)| *painted) {
        return Ok(0);
    }
    let store = Arc::new(open_store(&data_dir(g))?);
    let mut opts = ui_options(g, &cfg)?;
    opts.config_file = Some(config_path(g));
    opts.early = early.map(|(guard, _)| guard);
    opts.snapshot = Some(place);
    let (desk, events) = Desk::new(store, cfg, Backend::Servers);
    desk.set_data_dir(&data_dir(g));
    desk.start_background();
    desk.start_search(&data_dir(g));
    Ok(crate::tui::run(desk, events, opts).await?.code())
}

async fn run_demo(g: &Global, no_tui: bool, messages: usize) -> Result<i32> {
    let tmp;
    let dir = match &g.data_dir {
        Some(d) => d.clone(),
        None => {
            tmp = tempfile::Builder::new()
                .prefix("deskmail-demo-")
                .tempdir()?;
            tmp.path().to_path_buf()
        }
    };
    let place = frame_place(g, &dir, None);
    let early = if no_tui || g.data_dir.is_none() {
        None
    } else {
        crate::tui::paint_kept(&place)
    };
    if g.first_frame_and_exit && early.as_ref().is_some_and(|(_, painted)| *painted) {
        return Ok(0);
    }
    let store = Arc::new(open_store(&dir)?);
    if store.is_empty() {
        let started = std::time::Instant::now();
        let report = crate::demo::build(&store, messages, 7).context("building the demo desk")?;
        tracing::info!(
            "demo desk: {} mails, {} records, {} links in {:?}",
            report.messages,
            report.records,
            report.links,
            started.elapsed()
        );
        if no_tui {
            crate::console::out(&format!(
                "demo desk written to {}: {} mails, {} records, {} links",
                dir.display(),
                report.messages,
                report.records,
                report.links
            ));
        }
    } else if no_tui {
        crate::console::out(&format!("demo desk already present in {}", dir.display()));
    }
    // Lets `deskmail serve` know this data dir holds the demo desk.
    let _ = std::fs::write(dir.join(DEMO_MARK), "");
    if no_tui {
        store.flush()?;
        return Ok(0);
    }
    let cfg = crate::demo::demo_config();
    let mut opts = ui_options(g, &cfg)?;
    opts.early = early.map(|(guard, _)| guard);
    // A demo desk in a temp dir is gone at exit: nothing to keep a frame for.
    opts.snapshot = g.data_dir.is_some().then_some(place);
    let (desk, events) = Desk::new(store, cfg, Backend::Demo);
    desk.set_data_dir(&dir);
    desk.start_search(&dir);
    Ok(crate::tui::run(desk, events, opts).await?.code())
}

fn stats(g: &Global, json: bool) -> Result<i32> {
    let s = if let Some((remote, _)) = attach_cli(g)? {
        remote
            .ask::<crate::store::Stats>(crate::serve::wire::Query::Stats)
            .map_err(|e| anyhow::anyhow!("{e}"))?
    } else {
        let dir = data_dir(g);
        if !dir.join("store").exists() {
            anyhow::bail!(
                "no mail store in {}: run `deskmail sync` or pass --data-dir",
                dir.display()
            );
        }
        open_store(&dir)?.stats()?
    };
    if json {
        crate::console::out(&crate::console::json(&s)?);
    } else {
        let mut text = format!("messages: {} ({} bodies)\n", s.messages, s.bodies);
        for a in &s.accounts {
            for f in &a.folders {
                text.push_str(&format!(
                    "  {}/{}: {} mails, {} unread\n",
                    crate::console::label(&a.name),
                    crate::console::label(&f.name),
                    f.total,
                    f.unread
                ));
            }
        }
        text.push_str(&format!("records: {:?}\n", s.records));
        text.push_str(&format!("links: {}\n", s.links));
        text.push_str(&format!("cases: {:?}\n", s.cases));
        text.push_str(&format!("unassigned cases: {}\n", s.unassigned));
        if let Some(secs) = s.first_response_median_secs {
            text.push_str(&format!("median first response: {} min\n", secs / 60));
        }
        text.push_str(&format!("outbox: {:?}\n", s.outbox));
        crate::console::print(crate::console::Stream::Out, &text);
    }
    Ok(0)
}

async fn sync(g: &Global, account: Option<String>, once: bool) -> Result<i32> {
    use std::io::IsTerminal;
    if let Some((remote, events)) = attach_cli(g)? {
        if !once {
            anyhow::bail!(
                "this desk is served on {}, which keeps it synced; use `deskmail sync --once` to sync now",
                remote.socket().display()
            );
        }
        return crate::serve::cli::sync_once(&remote, events, account).await;
    }
    let cfg = Arc::new(load_config(g)?);
    if let Some(name) = &account
        && cfg.account(name).is_none()
    {
        anyhow::bail!(
            "no account named \"{name}\" in {}",
            config_path(g).display()
        );
    }
    let floor = cfg
        .min_free_mb
        .unwrap_or(crate::store::disk::DEFAULT_MIN_FREE_MB);
    crate::store::disk::check_floor(&data_dir(g), floor).map_err(anyhow::Error::msg)?;
    let store = Arc::new(open_store(&data_dir(g))?);
    let opts = crate::sync::SyncOptions {
        account,
        once,
        progress: std::io::stderr().is_terminal(),
    };
    let before: std::collections::HashSet<u64> =
        store.outbox_entries()?.iter().map(|e| e.id).collect();
    match crate::sync::run(Arc::clone(&cfg), Arc::clone(&store), opts, None).await {
        Ok(summary) => {
            store.flush()?;
            crate::console::out(&format!(
                "synced {} account(s): {} new mail",
                summary.accounts, summary.new_messages
            ));
            if once {
                return deliver_queued_by_sync(cfg, store, &before).await;
            }
            Ok(0)
        }
        Err(e) => {
            store.flush()?;
            let msg = crate::mail::sanitize::sanitize_text(&e.to_string());
            tracing::error!("sync failed: {msg}");
            crate::console::err(&msg);
            Ok(2)
        }
    }
}

/// `sync --once` sends what its sync queued (auto-replies) before it exits,
/// so a cron job sees them sent; a few passes, then it says what is left.
async fn deliver_queued_by_sync(
    cfg: Arc<Config>,
    store: Arc<crate::store::Store>,
    before: &std::collections::HashSet<u64>,
) -> Result<i32> {
    use crate::store::OutboxState;
    const PASSES: u32 = 3;
    let mine = |store: &crate::store::Store| -> Result<Vec<crate::store::OutboxEntry>> {
        Ok(store
            .outbox_entries()?
            .into_iter()
            .filter(|e| !before.contains(&e.id))
            .collect())
    };
    if mine(&store)?.is_empty() {
        return Ok(0);
    }
    for pass in 0..PASSES {
        crate::outbox::drain_once(Arc::clone(&cfg), Arc::clone(&store), None).await?;
        let open: Vec<_> = mine(&store)?
            .into_iter()
            .filter(|e| matches!(e.state, OutboxState::Queued | OutboxState::Retrying { .. }))
            .collect();
        if open.is_empty() || pass + 1 == PASSES {
            break;
        }
        let wait = open
            .iter()
            .filter_map(|e| match e.state {
                OutboxState::Retrying { at, .. } => Some(at - chrono::Utc::now().timestamp()),
                _ => None,
            })
            .min()
            .unwrap_or(1)
            .clamp(1, 30);
        tokio::time::sleep(std::time::Duration::from_secs(wait as u64)).await;
    }
    store.flush()?;
    let all = mine(&store)?;
    let sent = all
        .iter()
        .filter(|e| matches!(e.state, OutboxState::Sent { .. }))
        .count();
    crate::console::out(&format!(
        "sent {sent} of {} mail queued by the sync",
        all.len()
    ));
    let left: Vec<_> = all
        .iter()
        .filter(|e| !matches!(e.state, OutboxState::Sent { .. }))
        .collect();
    for e in &left {
        crate::console::err(&crate::mail::sanitize::sanitize_line(&format!(
            "not sent yet: \"{}\" to {} ({}){}; `deskmail` or the next `deskmail sync --once` sends it",
            e.subject,
            e.recipients.join(", "),
            e.state.name(),
            e.last_error
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        )));
    }
    Ok(if left.is_empty() { 0 } else { 1 })
}

async fn send(g: &Global, req: crate::outbox::send::SendRequest) -> Result<i32> {
    if let Some((remote, _)) = attach_cli(g)? {
        return crate::serve::cli::send(&remote, req).await;
    }
    let cfg = Arc::new(load_config(g)?);
    let store = Arc::new(open_store(&data_dir(g))?);
    let wait = req.wait;
    match crate::outbox::send::send_from_cli(cfg, Arc::clone(&store), req).await {
        Ok(out) => {
            store.flush()?;
            for w in &out.warnings {
                crate::console::err(&format!("warning: {w}"));
            }
            if wait {
                crate::console::out(&format!("sent <{}>", out.message_id));
            } else {
                crate::console::out(&format!(
                    "queued <{}> in the outbox ({})",
                    out.message_id,
                    out.state.name()
                ));
            }
            Ok(0)
        }
        Err(e) => {
            store.flush()?;
            let msg = crate::mail::sanitize::sanitize_text(&e.to_string());
            tracing::error!("send failed: {msg}");
            crate::console::err(&msg);
            Ok(e.exit_code())
        }
    }
}

async fn doctor(g: &Global, only: Option<String>) -> Result<i32> {
    let cfg = load_config(g)?;
    let mut failed = false;
    for acc in cfg
        .accounts
        .iter()
        .filter(|a| only.as_ref().is_none_or(|o| *o == a.name))
    {
        let tls = match acc.tls {
            crate::config::TlsMode::Tls => "tls",
            crate::config::TlsMode::Starttls => "starttls",
            crate::config::TlsMode::None => "no encryption",
        };
        crate::console::out(&format!(
            "account \"{}\" ({}:{}, {tls})",
            crate::console::label(&acc.name),
            crate::console::label(&acc.host),
            acc.port
        ));
        match crate::sync::check_account(acc).await {
            Ok(plans) => {
                crate::console::out("  ok: logged in and listed folders");
                for p in plans {
                    let server = crate::console::label(&p.server);
                    let special = crate::console::label(p.special_use.as_deref().unwrap_or(""));
                    crate::console::out(&format!("  monitors \"{server}\" {special}"));
                }
            }
            Err(e) => {
                failed = true;
                crate::console::out(&format!("  FAILED: {e}"));
            }
        }
        if acc.smtp.is_some() {
            match crate::outbox::smtp::check(acc).await {
                Ok(()) => crate::console::out("  ok: SMTP connected and logged in"),
                Err(d) => {
                    failed = true;
                    crate::console::out(&format!("  SMTP FAILED: {}", d.message));
                }
            }
        } else {
            crate::console::out("  note: no [accounts.smtp] table, so this account cannot send");
        }
        for w in acc.security_warnings() {
            crate::console::out(&format!("  warning: {w}"));
        }
    }
    Ok(if failed { 1 } else { 0 })
}

/// Bytes of rendered text per write to the terminal.
const CHUNK: usize = 64 << 10;

fn render(file: &Path) -> Result<i32> {
    let raw = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let mail = crate::mail::render::render(&raw, &crate::mail::render::text_options());
    drop(raw);
    // Printed in chunks: a 100 MB mail is not copied whole once more.
    let mut chunk = String::with_capacity(CHUNK);
    crate::mail::render::write_text(&mail, |piece| {
        chunk.push_str(piece);
        if chunk.len() >= CHUNK {
            crate::console::print(crate::console::Stream::Out, &chunk);
            chunk.clear();
        }
    });
    crate::console::print(crate::console::Stream::Out, &chunk);
    Ok(0)
}

/// The file `deskmail demo` leaves in a data dir holding the demo desk.
const DEMO_MARK: &str = "demo-desk";

/// The socket of a running server this invocation should attach to: the
/// `--socket` flag (which must answer), else the data dir's note, the config
/// and the default, whichever answers first.
fn attach_socket(g: &Global, cfg: Option<&Config>) -> Result<Option<PathBuf>> {
    if let Some(s) = &g.socket {
        if crate::serve::answers(s) {
            return Ok(Some(s.clone()));
        }
        anyhow::bail!(
            "no deskmail server answers on {}: start one with `deskmail serve --socket {}`, \
             or leave out --socket to use the desk directly",
            s.display(),
            s.display()
        );
    }
    // An explicit data dir is served only by the server its note names.
    let candidates: Vec<PathBuf> = match &g.data_dir {
        Some(d) => crate::serve::noted_socket(d).into_iter().collect(),
        None => cfg
            .and_then(|c| c.server.socket.clone())
            .into_iter()
            .chain(crate::serve::noted_socket(&paths::data_dir()))
            .chain(std::iter::once(crate::serve::default_socket()))
            .collect(),
    };
    Ok(candidates.into_iter().find(|s| crate::serve::answers(s)))
}

/// A command-line subcommand's connection to a running server, if one answers.
fn attach_cli(g: &Global) -> Result<Option<crate::serve::cli::Attached>> {
    let cfg = load_config(g).ok();
    let Some(socket) = attach_socket(g, cfg.as_ref())? else {
        return Ok(None);
    };
    let attached = crate::serve::client::RemoteDesk::connect(&socket)
        .with_context(|| format!("cannot attach to {}", socket.display()))?;
    Ok(Some(attached))
}

/// Open the store; when a server holds it, say which socket to attach to.
fn open_store(dir: &Path) -> Result<Store> {
    match Store::open(dir) {
        Ok(s) => Ok(s),
        Err(e @ crate::store::StoreError::Locked { .. }) => match crate::serve::noted_socket(dir) {
            Some(sock) => anyhow::bail!(
                "the desk in {} is served by `deskmail serve` on {}; attach with \
                 `deskmail --socket {}`",
                dir.display(),
                sock.display(),
                sock.display()
            ),
            None => Err(e.into()),
        },
        Err(e) => Err(e.into()),
    }
}

async fn run_serve(g: &Global) -> Result<i32> {
    let dir = data_dir(g);
    let demo = dir.join(DEMO_MARK).exists();
    let cfg = if demo {
        crate::demo::demo_config()
    } else {
        load_config(g)?
    };
    let socket = crate::serve::serve_socket(g.socket.as_deref(), Some(&cfg));
    if let Some(s) = crate::serve::noted_socket(&dir)
        && crate::serve::answers(&s)
    {
        anyhow::bail!(
            "the desk in {} is already served on {}; attach with `deskmail --socket {}`",
            dir.display(),
            s.display(),
            s.display()
        );
    }
    let store = Arc::new(open_store(&dir)?);
    let backend = if demo {
        Backend::Demo
    } else {
        Backend::Servers
    };
    let group = cfg.server.group.clone();
    let (desk, events) = Desk::new(store, cfg, backend);
    desk.set_data_dir(&dir);
    desk.start_background();
    desk.start_search(&dir);
    crate::serve::serve(desk, events, &socket, group.as_deref(), &dir).await?;
    Ok(0)
}
