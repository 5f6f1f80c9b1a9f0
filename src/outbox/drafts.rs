//! Drafts on the server: a saved draft is APPENDed to the account's Drafts
//! folder (`\Draft`), replacing its previous version there, and removed when
//! sent or discarded; drafts other clients left there are read back.

use super::imap::{self, ImapError, Session};
use crate::config::AccountConfig;
use crate::mail::folders::SpecialFolder;
use crate::store::drafts::StoredDraft;
use base64::Engine;
use futures::TryStreamExt;

/// The header naming the desk draft a server copy belongs to.
pub const DRAFT_HEADER: &str = "X-Deskmail-Draft";

/// A header value: plain ASCII as is, anything else as one RFC 2047 word.
fn header_value(v: &str) -> String {
    let v: String = v.chars().filter(|c| !c.is_control()).collect();
    if v.is_ascii() {
        return v;
    }
    format!(
        "=?UTF-8?B?{}?=",
        base64::engine::general_purpose::STANDARD.encode(v.as_bytes())
    )
}

/// The draft as a mail for the Drafts folder. Addresses are kept as typed,
/// even half-written ones: a draft need not be sendable yet.
pub fn draft_bytes(d: &StoredDraft, account_email: &str) -> Vec<u8> {
    let from = d.from.as_deref().unwrap_or(account_email);
    let mut out = String::new();
    out.push_str(&format!("From: {}\r\n", header_value(from)));
    for (name, v) in [("To", &d.to), ("Cc", &d.cc), ("Bcc", &d.bcc)] {
        if !v.trim().is_empty() {
            out.push_str(&format!("{name}: {}\r\n", header_value(v.trim())));
        }
    }
    out.push_str(&format!("Subject: {}\r\n", header_value(&d.subject)));
    out.push_str(&format!("Date: {}\r\n", chrono::Utc::now().to_rfc2822()));
    let domain = from
        .rsplit_once('@')
        .map(|(_, dom)| dom.trim_end_matches('>'))
        .filter(|dom| !dom.is_empty() && dom.is_ascii())
        .unwrap_or("deskmail.invalid");
    out.push_str(&format!(
        "Message-ID: <draft.{}.{}@{domain}>\r\n",
        d.id,
        chrono::Utc::now().timestamp_micros()
    ));
    out.push_str(&format!("{DRAFT_HEADER}: {}\r\n", d.id));
    out.push_str("MIME-Version: 1.0\r\n");
    out.push_str("Content-Type: text/plain; charset=utf-8\r\n");
    out.push_str("Content-Transfer-Encoding: base64\r\n\r\n");
    let body = base64::engine::general_purpose::STANDARD.encode(d.body.as_bytes());
    for chunk in body.as_bytes().chunks(76) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push_str("\r\n");
    }
    out.into_bytes()
}

/// Log in and open the account's Drafts folder (read-write).
async fn open_drafts(acc: &AccountConfig) -> Result<(Session, String), ImapError> {
    let mut session = imap::login(acc).await?;
    let Some(folder) = imap::special_folder(&mut session, SpecialFolder::Drafts).await? else {
        imap::logout(session).await;
        return Err(ImapError(format!(
            "account \"{}\" has no Drafts folder on the server (none is marked \\Drafts \
             and none has a usual name); drafts stay on this machine until one is created",
            acc.name
        )));
    };
    Ok((session, folder))
}

/// UIDs of the selected folder's mails matching `query`.
async fn search(session: &mut Session, query: &str) -> Result<Vec<u32>, ImapError> {
    let found = tokio::time::timeout(imap::IMAP_TIMEOUT, session.uid_search(query))
        .await
        .map_err(|_| ImapError("UID SEARCH got no answer in time".into()))?
        .map_err(|e| ImapError(format!("UID SEARCH failed: {e}")))?;
    let mut uids: Vec<u32> = found.into_iter().collect();
    uids.sort_unstable();
    Ok(uids)
}

/// Server copies of draft `id`, and of the other client's draft it continues.
async fn copies_of(
    session: &mut Session,
    id: u64,
    origin: Option<&str>,
) -> Result<Vec<u32>, ImapError> {
    let mut uids = search(session, &format!("HEADER {DRAFT_HEADER} \"{id}\"")).await?;
    // A header search matches substrings: draft 1 must not take draft 12.
    if !uids.is_empty() {
        uids = exact_header_matches(session, &uids, id).await?;
    }
    if let Some(origin) = origin {
        let bare = origin.trim().trim_start_matches('<').trim_end_matches('>');
        uids.extend(
            search(
                session,
                &format!("HEADER Message-ID {}", imap::quoted(bare)),
            )
            .await?,
        );
    }
    uids.sort_unstable();
    uids.dedup();
    Ok(uids)
}

/// Of `uids`, those whose draft header is exactly `id`.
async fn exact_header_matches(
    session: &mut Session,
    uids: &[u32],
    id: u64,
) -> Result<Vec<u32>, ImapError> {
    let set = uids
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let query = format!("(UID BODY.PEEK[HEADER.FIELDS ({DRAFT_HEADER})])");
    let fetched: Vec<_> = tokio::time::timeout(imap::IMAP_TIMEOUT, async {
        session
            .uid_fetch(&set, &query)
            .await?
            .try_collect::<Vec<_>>()
            .await
    })
    .await
    .map_err(|_| ImapError("UID FETCH got no answer in time".into()))?
    .map_err(|e| ImapError(format!("UID FETCH failed: {e}")))?;
    Ok(fetched
        .iter()
        .filter(|f| {
            f.header().or_else(|| f.body()).is_some_and(|h| {
                String::from_utf8_lossy(h)
                    .lines()
                    .filter_map(|l| l.split_once(':'))
                    .any(|(_, v)| v.trim() == id.to_string())
            })
        })
        .filter_map(|f| f.uid)
        .collect())
}

/// APPEND the draft's current version, then remove its older versions.
pub async fn put(acc: &AccountConfig, d: &StoredDraft) -> Result<(), ImapError> {
    let (mut session, folder) = open_drafts(acc).await?;
    let raw = draft_bytes(d, &acc.email);
    let result = async {
        tokio::time::timeout(
            imap::IMAP_TIMEOUT,
            session.append(
                crate::mail::mutf7::encode(&folder),
                Some("(\\Draft \\Seen)"),
                None,
                &raw,
            ),
        )
        .await
        .map_err(|_| ImapError(format!("APPEND to {folder} got no answer in time")))?
        .map_err(|e| ImapError(format!("APPEND to {folder} failed: {e}")))?;
        select(&mut session, &folder).await?;
        let mut old = copies_of(&mut session, d.id, d.server_origin.as_deref()).await?;
        // The highest UID is the version just appended.
        let newest = search(&mut session, &format!("HEADER {DRAFT_HEADER} \"{}\"", d.id))
            .await?
            .into_iter()
            .max();
        old.retain(|u| Some(*u) != newest);
        imap::remove_uids(&mut session, &old).await
    }
    .await;
    imap::logout(session).await;
    result
}

/// Remove every server copy of draft `d` (it was sent or discarded).
pub async fn remove(acc: &AccountConfig, d: &StoredDraft) -> Result<(), ImapError> {
    let (mut session, folder) = open_drafts(acc).await?;
    let result = async {
        select(&mut session, &folder).await?;
        let uids = copies_of(&mut session, d.id, d.server_origin.as_deref()).await?;
        imap::remove_uids(&mut session, &uids).await
    }
    .await;
    imap::logout(session).await;
    result
}

async fn select(session: &mut Session, folder: &str) -> Result<(), ImapError> {
    tokio::time::timeout(
        imap::IMAP_TIMEOUT,
        session.select(crate::mail::mutf7::encode(folder)),
    )
    .await
    .map_err(|_| ImapError(format!("SELECT {folder} got no answer in time")))?
    .map_err(|e| ImapError(format!("SELECT {folder} failed: {e}")))?;
    Ok(())
}

/// Drafts in the account's Drafts folder that no desk wrote (no draft
/// header), as drafts of this account: their raw mails parsed.
pub async fn foreign(acc: &AccountConfig) -> Result<Vec<StoredDraft>, ImapError> {
    let (mut session, folder) = open_drafts(acc).await?;
    let result = async {
        select(&mut session, &folder).await?;
        let uids = search(
            &mut session,
            &format!("UNDELETED NOT HEADER {DRAFT_HEADER} \"\""),
        )
        .await?;
        if uids.is_empty() {
            return Ok(vec![]);
        }
        let set = uids
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let fetched: Vec<_> = tokio::time::timeout(imap::IMAP_TIMEOUT, async {
            session
                .uid_fetch(&set, "(UID BODY.PEEK[])")
                .await?
                .try_collect::<Vec<_>>()
                .await
        })
        .await
        .map_err(|_| ImapError("UID FETCH got no answer in time".into()))?
        .map_err(|e| ImapError(format!("UID FETCH failed: {e}")))?;
        Ok(fetched
            .iter()
            .filter_map(|f| f.body())
            .filter_map(|raw| parse_draft(acc, raw))
            .collect())
    }
    .await;
    imap::logout(session).await;
    result
}

/// A mail from the Drafts folder as a draft to continue.
fn parse_draft(acc: &AccountConfig, raw: &[u8]) -> Option<StoredDraft> {
    let m = mail_parser::MessageParser::default().parse(raw)?;
    let list = |a: Option<&mail_parser::Address>| {
        a.map(|a| {
            a.iter()
                .filter_map(|x| x.address())
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
    };
    Some(StoredDraft {
        account: Some(acc.name.clone()),
        from: m
            .from()
            .and_then(|a| a.first())
            .and_then(|a| a.address())
            .map(str::to_string),
        to: list(m.to()),
        cc: list(m.cc()),
        bcc: list(m.bcc()),
        subject: m.subject().unwrap_or("").to_string(),
        body: m.body_text(0).map(|b| b.into_owned()).unwrap_or_default(),
        server_origin: Some(m.message_id()?.to_string()),
        ..StoredDraft::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_draft_round_trips_through_its_server_form() {
        let d = StoredDraft {
            id: 42,
            to: "carol@example.com".into(),
            subject: "Возврат заказа".into(),
            body: "Здравствуйте!\nВаш возврат оформлен.".into(),
            ..StoredDraft::default()
        };
        let raw = draft_bytes(&d, "support@desk.example");
        let m = mail_parser::MessageParser::default()
            .parse(&raw)
            .expect("parses");
        assert_eq!(m.subject(), Some("Возврат заказа"));
        assert_eq!(
            m.body_text(0).as_deref(),
            Some("Здравствуйте!\nВаш возврат оформлен.")
        );
        assert_eq!(m.header(DRAFT_HEADER).and_then(|h| h.as_text()), Some("42"));
    }
}
