//! The serve socket's wire: length-prefixed MessagePack frames of the
//! protocol types, and the version handshake that opens every connection.
//! The handshake bytes are fixed so any two versions can refuse each other clearly.

use crate::config::Config;
use crate::protocol::{Command, DeskError, Event, PageQuery, SearchQuery};
use crate::store::{Record, RecordKind, RecordRef};
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};

/// Bumped whenever a message below changes shape.
pub const VERSION: u32 = 2;
/// The client's first frame: these bytes, then [`VERSION`] big-endian.
pub const MAGIC: &[u8; 8] = b"DESKMAIL";
/// A frame longer than this closes the connection (a rendered mail is the
/// largest honest frame; the reader already cuts huge mails).
pub const MAX_FRAME: usize = 64 << 20;

/// The server's first frame starts with one of these bytes.
const WELCOME: u8 = 0;
const REFUSED: u8 = 1;

#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("a frame of {0} bytes is over the limit of {MAX_FRAME}")]
    TooLarge(usize),
    #[error("a frame could not be read: {0}")]
    Malformed(String),
    #[error("the desk server refused the connection: {0}")]
    Refused(String),
}

/// What the server says once the handshake passed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Welcome {
    /// Who the server knows the peer as (from the socket's credentials).
    pub agent: String,
    /// The desk's configuration as this agent may see it, without secrets.
    pub config: Config,
    /// Whether the desk is the generated demo desk.
    pub demo: bool,
}

/// What a client sends after the handshake.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ClientMsg {
    Command(Command),
    Query { id: u64, query: Query },
}

/// The desk's reads, one per [`crate::protocol::DeskClient`] query the
/// server answers, plus the command line's.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Query {
    Folders,
    Page(PageQuery),
    Summary(u64),
    AccountOf(u64),
    RawSource(u64),
    BodySize(u64),
    QuoteLines(u64),
    SpecialFolder {
        account: String,
        use_: String,
    },
    LinksOf(u64),
    Records(RecordKind),
    Record(RecordRef),
    ChildrenOf(RecordRef),
    History(Box<Record>),
    Notifications,
    DeletedRecords,
    OutboxEntries,
    Drafts,
    NewDraftId,
    TemplateContext {
        parent: Option<u64>,
        to: Option<String>,
    },
    /// A stored mail's raw bytes (forwarding, saving and piping parts).
    MailBytes(u64),
    Flush,
    /// `deskmail stats`.
    Stats,
    /// `deskmail import contacts`: the file's name and bytes.
    ImportContacts {
        name: String,
        data: Vec<u8>,
    },
    /// `deskmail send`: the request with the body and attachments read.
    SendMail(Box<CliSend>),
    /// Every folder the account's server lists.
    ServerFolders(String),
    /// A full-text search; hits are filtered to the agent's accounts.
    Search(SearchQuery),
    /// The filters, marked when they match this mail.
    Filters(Option<u64>),
    /// The case queue, only cases of the agent's accounts.
    Cases,
    CaseMails(u64),
    Dashboard(crate::protocol::DashboardQuery),
}

/// `deskmail send` as it crosses the socket: files are read by the client.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CliSend {
    pub account: String,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub subject: String,
    pub body: Option<String>,
    pub template: Option<String>,
    /// File name and bytes.
    pub attach: Vec<(String, Vec<u8>)>,
    pub wait: bool,
}

/// What a `SendMail` query answers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CliSent {
    pub message_id: String,
    pub state: String,
    pub warnings: Vec<String>,
}

/// What the server sends after the handshake.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ServerMsg {
    /// The answer to query `id`, itself MessagePack of the query's type.
    Answer {
        id: u64,
        result: Result<Vec<u8>, DeskError>,
    },
    /// `seq` counts this connection's events from 1: a gap means some were
    /// dropped (read everything again), so loss is never silent.
    Event { seq: u64, event: Event },
    /// Events were dropped while this client was not reading: read again.
    Resync,
}

/// MessagePack with field names, so optional fields may be left out.
pub fn encode<T: Serialize>(v: &T) -> Result<Vec<u8>, WireError> {
    rmp_serde::to_vec_named(v).map_err(|e| WireError::Malformed(e.to_string()))
}

pub fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, WireError> {
    rmp_serde::from_slice(bytes).map_err(|e| WireError::Malformed(e.to_string()))
}

/// One frame: the length, 4 bytes big-endian, then the payload.
pub fn framed(payload: &[u8]) -> Result<Vec<u8>, WireError> {
    if payload.len() > MAX_FRAME {
        return Err(WireError::TooLarge(payload.len()));
    }
    let mut out = Vec::with_capacity(payload.len() + 4);
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
    Ok(out)
}

/// The length a frame header announces, refused when over the limit.
pub fn frame_len(header: [u8; 4]) -> Result<usize, WireError> {
    let n = u32::from_be_bytes(header) as usize;
    if n > MAX_FRAME {
        return Err(WireError::TooLarge(n));
    }
    Ok(n)
}

/// The client's hello frame.
pub fn hello(version: u32) -> Vec<u8> {
    let mut p = MAGIC.to_vec();
    p.extend_from_slice(&version.to_be_bytes());
    p
}

/// Check a hello payload: `Err` carries the refusal to send back.
pub fn check_hello(payload: &[u8]) -> Result<(), String> {
    if payload.len() != 12 || &payload[..8] != MAGIC {
        return Err("this is a deskmail desk socket; the client did not speak its protocol".into());
    }
    let mut v = [0u8; 4];
    v.copy_from_slice(&payload[8..]);
    let version = u32::from_be_bytes(v);
    if version != VERSION {
        return Err(format!(
            "the client speaks protocol version {version}, this server speaks {VERSION}; \
             run the same deskmail version as the server ({})",
            env!("CARGO_PKG_VERSION")
        ));
    }
    Ok(())
}

pub fn welcome(w: &Welcome) -> Result<Vec<u8>, WireError> {
    let mut p = vec![WELCOME];
    p.extend(encode(w)?);
    Ok(p)
}

pub fn refusal(reason: &str) -> Vec<u8> {
    let mut p = vec![REFUSED];
    p.extend_from_slice(reason.as_bytes());
    p
}

/// Read the server's answer to the hello.
pub fn read_welcome(payload: &[u8]) -> Result<Welcome, WireError> {
    match payload.split_first() {
        Some((&WELCOME, rest)) => decode(rest),
        Some((&REFUSED, rest)) => Err(WireError::Refused(crate::mail::sanitize::sanitize_line(
            &String::from_utf8_lossy(rest),
        ))),
        _ => Err(WireError::Malformed(
            "the server's first frame is empty".into(),
        )),
    }
}

/// Blocking: write one frame.
pub fn write_frame(w: &mut impl Write, payload: &[u8]) -> Result<(), WireError> {
    w.write_all(&framed(payload)?)?;
    w.flush()?;
    Ok(())
}

/// Blocking: read one frame; `Ok(None)` at a clean end of stream.
pub fn read_frame(r: &mut impl Read) -> Result<Option<Vec<u8>>, WireError> {
    let mut header = [0u8; 4];
    match r.read_exact(&mut header) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    let n = frame_len(header)?;
    let mut buf = vec![0u8; n];
    r.read_exact(&mut buf)?;
    Ok(Some(buf))
}

/// Async: read one frame; `Ok(None)` at a clean end of stream.
pub async fn read_frame_async(
    r: &mut (impl tokio::io::AsyncRead + Unpin),
) -> Result<Option<Vec<u8>>, WireError> {
    use tokio::io::AsyncReadExt;
    let mut header = [0u8; 4];
    match r.read_exact(&mut header).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    let n = frame_len(header)?;
    let mut buf = vec![0u8; n];
    r.read_exact(&mut buf).await?;
    Ok(Some(buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_reads_back_as_written() {
        let msg = ClientMsg::Query {
            id: 7,
            query: Query::Summary(42),
        };
        let bytes = framed(&encode(&msg).expect("encode")).expect("frame");
        let payload = read_frame(&mut bytes.as_slice())
            .expect("read")
            .expect("a frame");
        match decode::<ClientMsg>(&payload).expect("decode") {
            ClientMsg::Query {
                id: 7,
                query: Query::Summary(42),
            } => {}
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn an_announced_length_over_the_limit_is_refused_before_reading_it() {
        let header = ((MAX_FRAME + 1) as u32).to_be_bytes();
        assert!(matches!(frame_len(header), Err(WireError::TooLarge(_))));
    }

    #[test]
    fn another_version_is_refused_with_both_versions_named() {
        let err = check_hello(&hello(VERSION + 1)).expect_err("refused");
        assert!(err.contains(&format!("version {}", VERSION + 1)), "{err}");
        assert!(err.contains(&format!("speaks {VERSION}")), "{err}");
        assert!(check_hello(&hello(VERSION)).is_ok());
        assert!(check_hello(b"GET / HTTP/1.1").is_err());
    }

    #[test]
    fn a_refusal_reads_as_the_reason() {
        match read_welcome(&refusal("not an agent")) {
            Err(WireError::Refused(r)) => assert_eq!(r, "not an agent"),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn a_summary_with_left_out_fields_crosses_the_wire() {
        // MessageSummary leaves false flags out; named fields keep it readable.
        let s = crate::store::MessageSummary::default();
        let back: crate::store::MessageSummary =
            decode(&encode(&s).expect("encode")).expect("decode");
        assert_eq!(back.id, s.id);
    }
}
