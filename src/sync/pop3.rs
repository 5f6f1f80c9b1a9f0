//! Fetching a POP3 account into one desk folder (INBOX or `target_folder`).
//!
//! POP3 has no folders, flags or stable numbers, only `UIDL` strings. Each
//! mail gets a synthetic UID from a counter that only grows (the folder
//! cursor's `uidnext`), and the UIDL strings already fetched are kept in a
//! store setting, one JSON blob per account, together with the counter value
//! they cover.
//!
//! Crash safety: a batch of mails is ingested in one atomic write with the
//! cursor (the counter advanced past the batch) and the UIDL map that names
//! them (`sync::pipeline`). Stores written before that held the map apart: a
//! crash between the two writes left UIDs at or above the map's counter that
//! no UIDL points to; the next sync drops those locations (the records stay)
//! and downloads the mails again under fresh UIDs, deduplicated by
//! Message-ID. UIDs are never reused, so a UID can never name two mails.
//!
//! Mail is deleted on the server only when `delete_after_download` says so,
//! and only after its copy and the UIDL map are flushed to disk.

use super::connect::{self, AsyncReadWrite, CONNECT_TIMEOUT, READ_TIMEOUT};
use super::diagnose::{Ctx, Stage, SyncError};
use super::imap::AccountCtx;
use super::pipeline::{Extras, Incoming};
use crate::config::{AccountConfig, TlsMode};
use crate::mail::sanitize::sanitize_line;
use crate::protocol::SyncState;
use crate::store::FolderState;
use crate::sync::SyncUpdate;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::{Notify, watch};

/// Header bytes kept by `TOP`, to read a mail's date.
const HEADERS_MAX: usize = 256 * 1024;
/// Mails per RETR batch (and per store write).
const BATCH: usize = 200;
/// POP3 has one mailbox; its desk copy has a fixed UIDVALIDITY.
const UIDVALIDITY: u32 = 1;
/// The longest UIDL listing accepted (a million mails take about 30 MB).
const UIDL_MAX: usize = 64 << 20;
/// Bytes of mail per store write at most (one bigger mail still goes alone).
const BATCH_BYTES: usize = 8 << 20;
/// The longest response line accepted (RFC 1939 allows 512 bytes; mail lines may be longer).
const MAX_LINE: usize = 1 << 20;

/// The desk folder POP3 mail goes to.
pub fn desk_folder(acc: &AccountConfig) -> String {
    acc.target_folder
        .clone()
        .unwrap_or_else(|| "INBOX".to_string())
}

fn setting_name(account: &str) -> String {
    format!("pop3.uidl.{account}")
}

/// What was fetched from a POP3 account: UIDL string -> synthetic UID, and
/// the counter value this map is complete up to.
#[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
struct UidlMap {
    next: u32,
    uids: HashMap<String, u32>,
    /// When each UIDL was downloaded (Unix seconds), for `delete_after_download = "30d"`.
    #[serde(default)]
    seen: HashMap<String, i64>,
    /// UIDLs left on the server as older than `fetch_since`: never stored,
    /// so never deleted, and not looked at again.
    #[serde(default, skip_serializing_if = "HashSet::is_empty")]
    older: HashSet<String>,
}

/// A POP3 connection: line-oriented commands and dot-terminated answers.
pub struct Pop3 {
    stream: BufReader<Box<dyn AsyncReadWrite>>,
    /// The greeting's text: its `<…>` timestamp offers APOP.
    greeting: String,
}

/// A `-ERR` answer or a transport failure.
#[derive(Debug)]
enum Fail {
    Err(String),
    Io(std::io::Error),
    Closed,
    Timeout,
}

impl Fail {
    fn diagnose(self, c: &Ctx<'_>, stage: Stage) -> SyncError {
        match self {
            Fail::Err(text) => c.server_said(stage, &text),
            Fail::Io(e) => c.io(stage, &e),
            Fail::Closed => SyncError::ConnectionLost {
                account: c.account.into(),
                doing: "talking to the POP3 server".into(),
                reason: "the server closed the connection".into(),
            },
            Fail::Timeout => c.timeout(stage),
        }
    }
}

async fn read_line<S: AsyncBufReadExt + Unpin>(s: &mut S, buf: &mut Vec<u8>) -> Result<(), Fail> {
    buf.clear();
    let read = tokio::time::timeout(READ_TIMEOUT, async {
        let mut limited = (&mut *s).take(MAX_LINE as u64);
        limited.read_until(b'\n', buf).await
    })
    .await;
    match read {
        Err(_) => Err(Fail::Timeout),
        Ok(Err(e)) => Err(Fail::Io(e)),
        Ok(Ok(0)) => Err(Fail::Closed),
        Ok(Ok(_)) => Ok(()),
    }
}

/// `+OK text` gives `Ok(text)`, `-ERR text` gives `Fail::Err(text)`.
fn status(line: &[u8]) -> Result<String, Fail> {
    let text = String::from_utf8_lossy(line);
    let text = text.trim_end_matches(['\r', '\n']);
    if let Some(rest) = text.strip_prefix("+OK") {
        Ok(rest.trim().to_string())
    } else if let Some(rest) = text.strip_prefix("-ERR") {
        Err(Fail::Err(format!("-ERR{rest}")))
    } else {
        Err(Fail::Err(text.to_string()))
    }
}

async fn read_status<S: AsyncBufReadExt + Unpin>(s: &mut S) -> Result<String, Fail> {
    let mut line = Vec::new();
    read_line(s, &mut line).await?;
    status(&line)
}

impl Pop3 {
    /// Send one line and return the answer line as it is (for SASL, whose
    /// `+ ` continuations are neither `+OK` nor `-ERR`).
    async fn exchange(&mut self, line: &str) -> Result<String, Fail> {
        let line = format!("{line}\r\n");
        match tokio::time::timeout(READ_TIMEOUT, async {
            self.stream.get_mut().write_all(line.as_bytes()).await?;
            self.stream.get_mut().flush().await
        })
        .await
        {
            Err(_) => return Err(Fail::Timeout),
            Ok(Err(e)) => return Err(Fail::Io(e)),
            Ok(Ok(())) => {}
        }
        let mut buf = Vec::new();
        read_line(&mut self.stream, &mut buf).await?;
        Ok(String::from_utf8_lossy(&buf)
            .trim_end_matches(['\r', '\n'])
            .to_string())
    }

    async fn command(&mut self, cmd: &str) -> Result<String, Fail> {
        let line = format!("{cmd}\r\n");
        match tokio::time::timeout(READ_TIMEOUT, async {
            self.stream.get_mut().write_all(line.as_bytes()).await?;
            self.stream.get_mut().flush().await
        })
        .await
        {
            Err(_) => return Err(Fail::Timeout),
            Ok(Err(e)) => return Err(Fail::Io(e)),
            Ok(Ok(())) => {}
        }
        read_status(&mut self.stream).await
    }

    /// The body of a multi-line answer, dot-unstuffed, CRLF kept, and its
    /// whole length. Past `limit` bytes the rest is read but not kept.
    async fn multiline(&mut self, limit: usize) -> Result<(Vec<u8>, u64), Fail> {
        let mut out = Vec::new();
        let mut total = 0u64;
        let mut line = Vec::new();
        loop {
            read_line(&mut self.stream, &mut line).await?;
            if line == b".\r\n" || line == b".\n" {
                return Ok((out, total));
            }
            let body = if line.starts_with(b"..") {
                &line[1..]
            } else {
                &line[..]
            };
            total += body.len() as u64;
            let room = limit.saturating_sub(out.len());
            out.extend_from_slice(&body[..body.len().min(room)]);
        }
    }

    /// `UIDL`: (message number, unique id) of every mail on the server.
    async fn uidl(&mut self) -> Result<Vec<(u32, String)>, Fail> {
        self.command("UIDL").await?;
        let (text, total) = self.multiline(UIDL_MAX).await?;
        if total > text.len() as u64 {
            return Err(Fail::Err(format!(
                "the server's UIDL listing is larger than {} MB",
                UIDL_MAX >> 20
            )));
        }
        Ok(parse_uidl(&text))
    }

    /// `TOP n 0`: the mail's headers only.
    async fn top(&mut self, n: u32) -> Result<Vec<u8>, Fail> {
        self.command(&format!("TOP {n} 0")).await?;
        Ok(self.multiline(HEADERS_MAX).await?.0)
    }

    /// `RETR`: at most `limit` bytes of the mail, and its whole length.
    async fn retr(&mut self, n: u32, limit: usize) -> Result<(Vec<u8>, u64), Fail> {
        self.command(&format!("RETR {n}")).await?;
        self.multiline(limit).await
    }

    /// Say goodbye; the answer does not matter.
    pub async fn quit(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(2), self.command("QUIT")).await;
    }
}

fn parse_uidl(text: &[u8]) -> Vec<(u32, String)> {
    String::from_utf8_lossy(text)
        .lines()
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            let n = parts.next()?.parse().ok()?;
            let id = parts.next()?.to_string();
            Some((n, id))
        })
        .collect()
}

fn greeting_failed(c: &Ctx<'_>, f: Fail) -> SyncError {
    match f {
        Fail::Timeout => c.timeout(Stage::Greeting),
        Fail::Closed => SyncError::ConnectionLost {
            account: c.account.into(),
            doing: "waiting for the server's greeting".into(),
            reason: "the server closed the connection before greeting".into(),
        },
        // Not a POP3 answer at all: a wrong port, which no retry fixes.
        Fail::Err(text) if !text.starts_with("-ERR") => SyncError::Config {
            account: c.account.into(),
            message: format!(
                "{}:{} does not answer like a POP3 server (it said \"{}\"). \
                 Check host and port: POP3 is usually port 995 with tls = \"tls\" \
                 or 110 with tls = \"starttls\"",
                c.host,
                c.port,
                sanitize_line(text.trim())
            ),
        },
        other => other.diagnose(c, Stage::Greeting),
    }
}

/// Open the transport as the account says (TLS, STLS or plain) and read the greeting.
pub async fn open(acc: &AccountConfig) -> Result<Pop3, SyncError> {
    let c = connect::ctx(acc);
    let tcp = match tokio::time::timeout(
        CONNECT_TIMEOUT,
        TcpStream::connect((acc.host.as_str(), acc.port)),
    )
    .await
    {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return Err(c.io(Stage::Connect, &e)),
        Err(_) => return Err(c.timeout(Stage::Connect)),
    };
    let _ = tcp.set_nodelay(true);
    let stream: Box<dyn AsyncReadWrite> = match acc.tls {
        TlsMode::Tls => connect::tls_wrap(acc, tcp).await?,
        TlsMode::None => Box::new(tcp),
        TlsMode::Starttls => {
            let mut plain = BufReader::new(tcp);
            let greeting = read_status(&mut plain)
                .await
                .map_err(|f| greeting_failed(&c, f))?;
            let sent = tokio::time::timeout(CONNECT_TIMEOUT, async {
                plain.get_mut().write_all(b"STLS\r\n").await?;
                plain.get_mut().flush().await
            })
            .await;
            let answer = match sent {
                Ok(Ok(())) => read_status(&mut plain).await,
                Ok(Err(e)) => Err(Fail::Io(e)),
                Err(_) => Err(Fail::Timeout),
            };
            // Never fall back to plain text.
            if let Err(f) = answer {
                let server = match f {
                    Fail::Err(t) => sanitize_line(t.trim()),
                    Fail::Io(e) => sanitize_line(&e.to_string()),
                    Fail::Closed => "the server closed the connection".into(),
                    Fail::Timeout => "no answer to STLS".into(),
                };
                return Err(SyncError::StarttlsFailed {
                    account: acc.name.clone(),
                    server,
                });
            }
            if !plain.buffer().is_empty() {
                return Err(SyncError::StarttlsFailed {
                    account: acc.name.clone(),
                    server: "the server sent data before the TLS handshake".into(),
                });
            }
            let stream = connect::tls_wrap(acc, plain.into_inner()).await?;
            return Ok(Pop3 {
                stream: BufReader::new(stream),
                greeting,
            });
        }
    };
    let mut pop = Pop3 {
        stream: BufReader::new(stream),
        greeting: String::new(),
    };
    pop.greeting = read_status(&mut pop.stream)
        .await
        .map_err(|f| greeting_failed(&c, f))?;
    Ok(pop)
}

/// Resolve the secret, open the connection and log in with USER/PASS.
pub async fn connect(acc: &AccountConfig) -> Result<Pop3, SyncError> {
    let c = connect::ctx(acc);
    if acc.auth.is_oauth() {
        let pop = open(acc).await?;
        return oauth_login(acc, pop).await;
    }
    let secret = connect::resolve_secret(acc).await?;
    let mut pop = open(acc).await?;
    if acc.user.contains(['\r', '\n']) || secret.expose().contains(['\r', '\n']) {
        return Err(SyncError::Config {
            account: acc.name.clone(),
            message: "the user name or password contains a line break".into(),
        });
    }
    // APOP when offered: the password never crosses the wire, even in TLS.
    if let Some(stamp) = apop_timestamp(&pop.greeting) {
        let digest = apop_digest(&stamp, secret.expose());
        pop.command(&format!("APOP {} {digest}", acc.user))
            .await
            .map_err(|f| f.diagnose(&c, Stage::Login))?;
        return Ok(pop);
    }
    pop.command(&format!("USER {}", acc.user))
        .await
        .map_err(|f| f.diagnose(&c, Stage::Login))?;
    pop.command(&format!("PASS {}", secret.expose()))
        .await
        .map_err(|f| f.diagnose(&c, Stage::Login))?;
    Ok(pop)
}

/// Log in with SASL XOAUTH2 / OAUTHBEARER (RFC 5034) when CAPA offers it; a
/// refused token is fetched again once, as for IMAP.
async fn oauth_login(acc: &AccountConfig, mut pop: Pop3) -> Result<Pop3, SyncError> {
    use base64::Engine;
    let c = connect::ctx(acc);
    let mech = acc.auth.mechanism();
    pop.command("CAPA")
        .await
        .map_err(|f| f.diagnose(&c, Stage::Login))?;
    let (capa, _) = pop
        .multiline(64 << 10)
        .await
        .map_err(|f| f.diagnose(&c, Stage::Login))?;
    let capa = String::from_utf8_lossy(&capa).into_owned();
    let sasl = capa
        .lines()
        .find(|l| l.to_ascii_uppercase().starts_with("SASL"))
        .unwrap_or("")
        .trim()
        .to_string();
    if !sasl
        .split_whitespace()
        .any(|m| m.eq_ignore_ascii_case(mech))
    {
        pop.quit().await;
        return Err(SyncError::Config {
            account: acc.name.clone(),
            message: format!(
                "the POP3 server does not offer SASL {mech} (it offers: \"{}\"); use \
                 auth = \"password\" for this account or ask the mail admin to enable {mech} for POP3",
                sanitize_line(if sasl.is_empty() {
                    "no SASL at all"
                } else {
                    &sasl
                })
            ),
        });
    }
    let mut refused = String::new();
    for attempt in 0..2 {
        let token = connect::resolve_token(acc).await?;
        let initial = connect::oauth_initial_response(acc.auth, &acc.user, token.expose());
        let answer = pop
            .exchange(&format!("AUTH {mech}"))
            .await
            .map_err(|f| f.diagnose(&c, Stage::Login))?;
        if !answer.starts_with('+') || answer.starts_with("+OK") {
            return Err(Fail::Err(answer).diagnose(&c, Stage::Login));
        }
        let mut answer = pop
            .exchange(&base64::engine::general_purpose::STANDARD.encode(initial))
            .await
            .map_err(|f| f.diagnose(&c, Stage::Login))?;
        if answer.starts_with("+OK") {
            return Ok(pop);
        }
        let mut detail = String::new();
        if let Some(challenge) = answer.strip_prefix('+') {
            // The server's reason comes as a challenge; an empty answer ends it.
            detail = base64::engine::general_purpose::STANDARD
                .decode(challenge.trim())
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
            answer = pop
                .exchange("")
                .await
                .map_err(|f| f.diagnose(&c, Stage::Login))?;
        }
        refused = format!("{answer} {detail}").trim().to_string();
        tracing::warn!(account = %acc.name, attempt, "OAuth2 token refused by POP3: {refused}");
    }
    pop.quit().await;
    Err(SyncError::TokenRefused {
        account: acc.name.clone(),
        user: acc.user.clone(),
        mechanism: mech.to_string(),
        server: sanitize_line(&refused),
    })
}

/// The `<…@…>` timestamp of a greeting that offers APOP (RFC 1939 7).
fn apop_timestamp(greeting: &str) -> Option<String> {
    let start = greeting.find('<')?;
    let end = greeting[start..].find('>')? + start;
    let stamp = &greeting[start..=end];
    (stamp.contains('@') && !stamp.contains(char::is_whitespace)).then(|| stamp.to_string())
}

/// APOP's digest: MD5 of the timestamp followed by the password, in hex.
fn apop_digest(stamp: &str, password: &str) -> String {
    use md5::Digest;
    let mut h = md5::Md5::new();
    h.update(stamp.as_bytes());
    h.update(password.as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn load_map(ctx: &AccountCtx) -> Result<UidlMap, SyncError> {
    match ctx.store.setting(&setting_name(&ctx.acc.name))? {
        Some(text) => serde_json::from_str(&text).map_err(|e| {
            SyncError::Store(format!(
                "the POP3 state of account \"{}\" is unreadable: {e}",
                ctx.acc.name
            ))
        }),
        None => Ok(UidlMap::default()),
    }
}

fn joined<T>(r: Result<Result<T, SyncError>, tokio::task::JoinError>) -> Result<T, SyncError> {
    r.map_err(|e| SyncError::Store(format!("a sync worker failed: {e}")))?
}

/// Drop locations written by a batch whose UIDL map update was lost (see
/// the module comment); their mails are fetched again.
fn forget_unmapped(ctx: &AccountCtx, desk: &str, map: &UidlMap) -> Result<usize, SyncError> {
    let mapped: HashSet<u32> = map.uids.values().copied().collect();
    let mut dropped = 0;
    for (uid, _) in ctx.store.known_uids(&ctx.acc.name, desk, UIDVALIDITY)? {
        if uid >= map.next
            && !mapped.contains(&uid)
            && ctx
                .store
                .remove_location(&ctx.acc.name, desk, UIDVALIDITY, uid)?
        {
            dropped += 1;
        }
    }
    Ok(dropped)
}

/// Settle the desk's queued changes of a POP3 account: the server keeps no
/// flags, so flag changes are final as stored; it has no folders either, so a
/// move cannot happen there and the agent is told.
fn settle_changes(ctx: &AccountCtx) -> Result<(), SyncError> {
    use crate::store::changes::ChangeOp;
    let acc = ctx.acc.name.as_str();
    for change in ctx.store.pending_changes(acc)? {
        match &change.op {
            ChangeOp::Flags { .. } => {}
            ChangeOp::Trash | ChangeOp::Move { .. } | ChangeOp::Restore { .. } => {
                ctx.report.event(SyncUpdate::Notice(format!(
                    "account \"{}\": a POP3 server has no folders, so the mail stays in \"{}\"",
                    sanitize_line(acc),
                    sanitize_line(&change.folder)
                )));
            }
        }
        ctx.store.finish_change(acc, change.seq)?;
    }
    Ok(())
}

/// Connect, download what is new, QUIT. Returns the number of new mails.
pub async fn sync_once(ctx: &AccountCtx) -> Result<usize, SyncError> {
    {
        let c2 = ctx.clone();
        joined(tokio::task::spawn_blocking(move || settle_changes(&c2)).await)?;
    }
    ctx.report.state(SyncState::Connecting);
    let mut pop = connect(&ctx.acc).await?;
    let result = fetch_new(ctx, &mut pop).await;
    pop.quit().await;
    let new = result?;
    ctx.report.idle();
    Ok(new)
}

async fn fetch_new(ctx: &AccountCtx, pop: &mut Pop3) -> Result<usize, SyncError> {
    let c = connect::ctx(&ctx.acc);
    let acc = ctx.acc.name.clone();
    let desk = desk_folder(&ctx.acc);
    let skip_notification = ctx
        .acc
        .skip_notification
        .iter()
        .any(|s| s == &desk || s.eq_ignore_ascii_case("INBOX"));

    let mut map = {
        let c2 = ctx.clone();
        joined(tokio::task::spawn_blocking(move || load_map(&c2)).await)?
    };
    let stored = ctx.store.folder_state(&acc, &desk)?;
    let first_sync = map.uids.is_empty() && stored.as_ref().is_none_or(|s| s.total == 0);
    let cursor_next = stored
        .as_ref()
        .filter(|s| s.uidvalidity == UIDVALIDITY)
        .map(|s| s.uidnext)
        .unwrap_or(0);
    if cursor_next > map.next {
        let (c2, d2) = (ctx.clone(), desk.clone());
        let covered = UidlMap {
            next: map.next,
            uids: map.uids.clone(),
            seen: HashMap::new(),
            older: HashSet::new(),
        };
        let dropped =
            joined(tokio::task::spawn_blocking(move || forget_unmapped(&c2, &d2, &covered)).await)?;
        if dropped > 0 {
            tracing::info!(account = %acc, "{dropped} POP3 mails were stored without their UIDL: fetching them again");
        }
    }
    // Never hand out a UID twice.
    let mut next = map.next.max(cursor_next).max(1);

    let listing = pop.uidl().await.map_err(|f| f.diagnose(&c, Stage::Fetch))?;
    // Mail removed on the server stays in the desk; its UIDL is forgotten
    // (it is not listed again), which keeps the map as small as the mailbox.
    let listed: HashSet<&str> = listing.iter().map(|(_, id)| id.as_str()).collect();
    map.uids.retain(|id, _| listed.contains(id.as_str()));
    map.seen.retain(|id, _| listed.contains(id.as_str()));
    map.older.retain(|id| listed.contains(id.as_str()));
    let mut seen = HashSet::new();
    let mut new: Vec<(u32, String)> = listing
        .iter()
        .filter(|(_, id)| {
            !map.uids.contains_key(id) && !map.older.contains(id) && seen.insert(id.clone())
        })
        .cloned()
        .collect();
    // The oldest first; the rest waits for the next connection.
    if let Some(max) = ctx.acc.max_messages_per_connection.filter(|m| *m > 0) {
        new.truncate(max as usize);
    }
    let total = new.len() as u64;
    if new.is_empty() {
        delete_expired(ctx, pop, &listing, &map).await?;
        return Ok(0);
    }
    ctx.report.progress(&desk, 0, total);
    let mut created = 0usize;
    let mut done = 0u64;
    let limit = ctx.acc.max_message_bytes();
    let since = ctx.acc.fetch_since.as_deref().and_then(|d| {
        chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc().timestamp())
    });
    let mut rest = &new[..];
    while !rest.is_empty() {
        // A batch ends at BATCH mails or BATCH_BYTES, whichever comes first.
        let mut raws = Vec::new();
        let mut bytes = 0usize;
        let mut taken = 0usize;
        for (n, id) in rest {
            if taken >= BATCH || bytes > BATCH_BYTES {
                break;
            }
            if let Some(since) = since {
                // POP3 has no SEARCH: the Date header decides, as for IMAP's SINCE.
                let head = pop
                    .top(*n)
                    .await
                    .map_err(|f| f.diagnose(&c, Stage::Fetch))?;
                if crate::mail::parse::parse_headers(&head)
                    .date
                    .is_some_and(|d| d < since)
                {
                    map.older.insert(id.clone());
                    taken += 1;
                    continue;
                }
            }
            let (raw, size) = pop
                .retr(*n, limit.saturating_add(1))
                .await
                .map_err(|f| f.diagnose(&c, Stage::Fetch))?;
            bytes += raw.len();
            taken += 1;
            raws.push((id.clone(), next, raw, size));
            next = next.checked_add(1).ok_or_else(|| SyncError::Protocol {
                account: acc.clone(),
                doing: "fetching mail".into(),
                server: "more mails than deskmail can number".into(),
            })?;
        }
        let (chunk, left) = rest.split_at(taken);
        rest = left;
        let cursor = FolderState {
            name: desk.clone(),
            uidvalidity: UIDVALIDITY,
            uidnext: next,
            monitored: true,
            skip_notification,
            ..FolderState::default()
        };
        // The UIDL map changes in the same batch as the mails it names.
        let now = chrono::Utc::now().timestamp();
        let mut mails = Vec::with_capacity(raws.len());
        for (id, uid, raw, size) in raws {
            map.seen.insert(id.clone(), now);
            map.uids.insert(id, uid);
            mails.push(Incoming {
                account: acc.clone(),
                folder: desk.clone(),
                uidvalidity: UIDVALIDITY,
                uid,
                flags: 0,
                raw,
                reported_size: size,
                inherit_links_of: None,
            });
        }
        map.next = next;
        let snapshot = serde_json::to_string(&map)
            .map_err(|e| SyncError::Store(format!("encoding the POP3 state failed: {e}")))?;
        let parsed = ctx.pipeline.parse_all(mails).await?;
        let (pipeline, a2) = (ctx.pipeline.clone(), acc.clone());
        let setting = setting_name(&ctx.acc.name);
        let report = joined(
            tokio::task::spawn_blocking(move || {
                pipeline
                    .commit(
                        parsed,
                        Extras {
                            cursor: Some((a2, cursor)),
                            setting: Some((setting, snapshot)),
                        },
                    )
                    .map_err(SyncError::from)
            })
            .await,
        )?;
        created += report.created.len();
        done += chunk.len() as u64;
        ctx.report.progress(&desk, done, total);
        ctx.report.event(SyncUpdate::FolderChanged {
            account: acc.clone(),
            folder: desk.clone(),
        });
    }
    if created > 0 && !first_sync && !skip_notification {
        ctx.report.event(SyncUpdate::NewMail {
            account: acc,
            folder: desk,
            count: created,
        });
    }
    delete_expired(ctx, pop, &listing, &map).await?;
    Ok(created)
}

/// `DELE` the stored mails whose `delete_after_download` time has come; the
/// server removes them at QUIT. Runs after the store is flushed, so a mail
/// is never deleted before its copy is on disk.
async fn delete_expired(
    ctx: &AccountCtx,
    pop: &mut Pop3,
    listing: &[(u32, String)],
    map: &UidlMap,
) -> Result<(), SyncError> {
    let Some(days) = ctx
        .acc
        .delete_after_download
        .as_ref()
        .and_then(|d| d.days().ok().flatten())
    else {
        return Ok(());
    };
    let c = connect::ctx(&ctx.acc);
    let cutoff = chrono::Utc::now().timestamp() - i64::from(days) * 86_400;
    let due: Vec<u32> = listing
        .iter()
        .filter(|(_, id)| map.uids.contains_key(id))
        .filter(|(_, id)| map.seen.get(id).is_none_or(|t| *t <= cutoff) || days == 0)
        .map(|(n, _)| *n)
        .collect();
    if due.is_empty() {
        return Ok(());
    }
    let c2 = ctx.clone();
    joined(tokio::task::spawn_blocking(move || c2.store.flush().map_err(SyncError::from)).await)?;
    for n in &due {
        pop.command(&format!("DELE {n}"))
            .await
            .map_err(|f| f.diagnose(&c, Stage::Fetch))?;
    }
    tracing::info!(account = %ctx.acc.name, "{} POP3 mails marked for deletion on the server", due.len());
    Ok(())
}

/// `Duration::MAX` never ends (tokio's sleep cannot take it).
async fn sleep_or_forever(d: Duration) {
    if d == Duration::MAX {
        std::future::pending::<()>().await;
    } else {
        tokio::time::sleep(d).await;
    }
}

/// Poll the account every `check_interval_secs` (or when woken) until shutdown.
pub async fn run_polling(
    ctx: &AccountCtx,
    wake: &Arc<Notify>,
    shutdown: &mut watch::Receiver<bool>,
    new_total: &mut usize,
    healthy: &mut bool,
) -> Result<(), SyncError> {
    loop {
        *new_total += sync_once(ctx).await?;
        *healthy = true;
        // check_interval_secs = 0: manual only, the next sync waits to be asked.
        let every = match ctx.acc.check_interval_secs {
            0 => Duration::MAX,
            n => Duration::from_secs(n),
        };
        tokio::select! {
            _ = sleep_or_forever(every) => {}
            _ = wake.notified() => {}
            _ = shutdown.wait_for(|v| *v) => return Ok(()),
        }
        if *shutdown.borrow() {
            return Ok(());
        }
    }
}

/// The longest mail fetched on demand: the agent asked for it, but a
/// hostile server must still not fill memory.
const ON_DEMAND_MAX: usize = 1 << 30;

/// What an on-demand fetch found on the POP3 server.
pub enum Whole {
    /// The whole source of the mail.
    Mail(Vec<u8>),
    /// The server no longer lists the mail (deleted there since the sync).
    Gone,
}

/// The whole source of one mail imported as headers only because of its
/// size, asked for when the agent opens it: found by its UIDL, then `RETR`.
pub async fn fetch_whole(
    acc: &AccountConfig,
    store: &crate::store::Store,
    loc: &crate::store::Location,
) -> Result<Whole, SyncError> {
    let c = connect::ctx(acc);
    let map: UidlMap = match store.setting(&setting_name(&acc.name))? {
        Some(text) => serde_json::from_str(&text).map_err(|e| {
            SyncError::Store(format!(
                "the POP3 state of account \"{}\" is unreadable: {e}",
                acc.name
            ))
        })?,
        None => UidlMap::default(),
    };
    // The map forgets a UIDL once the server stops listing it.
    let Some(uidl) = map
        .uids
        .iter()
        .find(|(_, uid)| **uid == loc.uid)
        .map(|(id, _)| id.clone())
    else {
        return Ok(Whole::Gone);
    };
    let mut pop = connect(acc).await?;
    let result = async {
        let listing = pop.uidl().await.map_err(|f| f.diagnose(&c, Stage::Fetch))?;
        let Some(n) = listing.iter().find(|(_, id)| *id == uidl).map(|(n, _)| *n) else {
            return Ok(Whole::Gone);
        };
        let (raw, size) = pop
            .retr(n, ON_DEMAND_MAX)
            .await
            .map_err(|f| f.diagnose(&c, Stage::Fetch))?;
        if size > raw.len() as u64 {
            return Err(SyncError::Protocol {
                account: acc.name.clone(),
                doing: "fetching a whole mail".into(),
                server: format!(
                    "the mail is larger than {} MB, more than deskmail fetches",
                    ON_DEMAND_MAX >> 20
                ),
            });
        }
        Ok(Whole::Mail(raw))
    }
    .await;
    pop.quit().await;
    result
}

/// Log in and out: a check of the account's settings.
pub async fn check(acc: &AccountConfig) -> Result<(), SyncError> {
    let pop = connect(acc).await?;
    pop.quit().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines() {
        assert_eq!(
            status(b"+OK Dovecot ready.\r\n").ok(),
            Some("Dovecot ready.".into())
        );
        match status(b"-ERR [AUTH] Authentication failed.\r\n") {
            Err(Fail::Err(t)) => assert_eq!(t, "-ERR [AUTH] Authentication failed."),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn uidl_listing() {
        let l = parse_uidl(b"1 000000010000abcd\r\n2 x y\r\nbad\r\n");
        assert_eq!(
            l,
            vec![(1, "000000010000abcd".to_string()), (2, "x".to_string())]
        );
    }

    #[tokio::test]
    async fn multiline_is_dot_unstuffed() {
        let (client, mut server) = tokio::io::duplex(1024);
        let mut pop = Pop3 {
            stream: BufReader::new(Box::new(client)),
            greeting: String::new(),
        };
        server
            .write_all(b"Subject: a\r\n\r\n..dot\r\nline\r\n.\r\n")
            .await
            .expect("write");
        let (body, size) = pop.multiline(1 << 20).await.expect("body");
        assert_eq!(body, b"Subject: a\r\n\r\n.dot\r\nline\r\n");
        assert_eq!(size, body.len() as u64);
    }

    #[tokio::test]
    async fn a_multiline_answer_keeps_at_most_the_limit_and_counts_the_rest() {
        let (client, mut server) = tokio::io::duplex(1 << 16);
        let mut pop = Pop3 {
            stream: BufReader::new(Box::new(client)),
            greeting: String::new(),
        };
        let writer = tokio::spawn(async move {
            server.write_all(b"Subject: big\r\n\r\n").await?;
            for _ in 0..10_000 {
                server.write_all(&[b'x'; 98]).await?;
                server.write_all(b"\r\n").await?;
            }
            server.write_all(b".\r\n").await
        });
        let (body, size) = pop.multiline(4096).await.expect("body");
        assert_eq!(body.len(), 4096);
        assert_eq!(size, 16 + 10_000 * 100);
        writer.await.expect("join").expect("write");
    }

    fn account(port: u16) -> AccountConfig {
        let text = format!(
            "[[accounts]]\nname = \"p\"\nkind = \"pop3\"\nemail = \"p@desk.example\"\n\
             host = \"127.0.0.1\"\nport = {port}\ntls = \"starttls\"\nuser = \"p\"\n\
             password = \"pw\"\n"
        );
        let config = crate::config::Config::parse(&text, std::path::Path::new("c.toml"))
            .expect("config parses");
        config.accounts[0].clone()
    }

    #[tokio::test]
    async fn refused_stls_stops_before_the_password() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let server = tokio::spawn(async move {
            let (sock, _) = listener.accept().await.expect("accept");
            let mut sock = BufReader::new(sock);
            sock.get_mut()
                .write_all(b"+OK ready\r\n")
                .await
                .expect("greet");
            let mut seen = Vec::new();
            let mut line = String::new();
            while sock.read_line(&mut line).await.expect("read") > 0 {
                seen.push(line.trim_end().to_string());
                if line.starts_with("STLS") {
                    sock.get_mut()
                        .write_all(b"-ERR TLS support isn't enabled\r\n")
                        .await
                        .expect("answer");
                }
                line.clear();
            }
            seen
        });
        let e = match connect(&account(port)).await {
            Ok(_) => panic!("STLS was refused, the session must not go on"),
            Err(e) => e,
        };
        assert_eq!(e.kind(), crate::sync::ErrorKind::StarttlsFailed, "{e}");
        assert!(e.to_string().contains("TLS support isn't enabled"), "{e}");
        let seen = server.await.expect("server");
        assert_eq!(seen, vec!["STLS".to_string()]);
    }

    #[test]
    fn apop_digest_matches_the_rfc_example() {
        let g = "POP3 server ready <1896.697170952@dbc.mtview.ca.us>";
        let stamp = apop_timestamp(g).expect("stamp");
        assert_eq!(
            apop_digest(&stamp, "tanstaaf"),
            "c4c9334bac560ecc979e58001b3e22fb"
        );
        assert_eq!(apop_timestamp("Dovecot ready."), None);
    }

    #[test]
    fn map_roundtrip() {
        let m = UidlMap {
            next: 3,
            uids: HashMap::from([("a".to_string(), 1)]),
            seen: HashMap::from([("a".to_string(), 1_700_000_000)]),
            older: HashSet::from(["b".to_string()]),
        };
        let t = serde_json::to_string(&m).expect("json");
        let back: UidlMap = serde_json::from_str(&t).expect("json");
        assert_eq!(back, m);
    }
}
