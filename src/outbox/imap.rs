//! The few IMAP steps the outbox needs: find the Sent folder, look a mail up
//! by Message-ID, APPEND a sent mail, set \Answered. One short session per
//! pass, opened with the sync engine's connect helper; every step is bounded.

use crate::config::AccountConfig;
use crate::mail::mutf7;
use futures::TryStreamExt;
use std::time::Duration;

pub type Session = crate::sync::connect::ImapSession;

/// The longest wait for one IMAP step.
pub const IMAP_TIMEOUT: Duration = Duration::from_secs(30);

/// Why an IMAP step failed, in words for the agent.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct ImapError(pub String);

async fn bounded<T, E: std::fmt::Display>(
    what: &str,
    fut: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, ImapError> {
    match tokio::time::timeout(IMAP_TIMEOUT, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(ImapError(format!(
            "{what} failed: {}",
            crate::mail::sanitize::sanitize_line(&e.to_string())
        ))),
        Err(_) => Err(ImapError(format!("{what} got no answer in time"))),
    }
}

/// Open a logged-in session of the account, as the sync engine does.
pub async fn login(acc: &AccountConfig) -> Result<Session, ImapError> {
    crate::sync::connect::connect(acc)
        .await
        .map(|c| c.session)
        .map_err(|e| ImapError(e.to_string()))
}

fn drain(session: &mut Session) {
    while session.unsolicited_responses.try_recv().is_ok() {}
}

/// The name of the account's folder playing `role`: special use first,
/// then the usual names; `None` when there is none.
pub async fn special_folder(
    session: &mut Session,
    role: crate::mail::folders::SpecialFolder,
) -> Result<Option<String>, ImapError> {
    let names: Vec<_> = bounded("LIST", async {
        session
            .list(Some(""), Some("*"))
            .await?
            .try_collect::<Vec<_>>()
            .await
    })
    .await?;
    drain(session);
    let list: Vec<(String, Option<String>)> = names
        .iter()
        .map(|n| {
            let special = crate::sync::imap::special_use_of(n.attributes());
            (mutf7::display(n.name()), special)
        })
        .collect();
    Ok(crate::mail::folders::find(&list, role))
}

/// The name of the account's Sent folder: special-use `\Sent` first, then
/// the usual names.
pub async fn sent_folder(session: &mut Session) -> Result<String, ImapError> {
    if let Some(sent) = special_folder(session, crate::mail::folders::SpecialFolder::Sent).await? {
        return Ok(sent);
    }
    Err(ImapError(
        "the server has no Sent folder (none is marked \\Sent and none is called Sent); \
         create one, or set server_saves_sent = true if the server files sent mail itself"
            .into(),
    ))
}

pub(crate) fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars().filter(|c| !c.is_control()) {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// UIDVALIDITY and the UIDs of the mails in `folder` with this Message-ID.
pub async fn find_by_message_id(
    session: &mut Session,
    folder: &str,
    message_id: &str,
) -> Result<(u32, Vec<u32>), ImapError> {
    let mb = bounded(
        &format!("EXAMINE {folder}"),
        session.examine(mutf7::encode(folder)),
    )
    .await?;
    let uidvalidity = mb.uid_validity.unwrap_or(0);
    let bare = message_id
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>');
    let query = format!("HEADER Message-ID {}", quoted(bare));
    let mut uids: Vec<u32> = bounded("UID SEARCH", session.uid_search(&query))
        .await?
        .into_iter()
        .collect();
    drain(session);
    uids.sort_unstable();
    Ok((uidvalidity, uids))
}

/// APPEND `raw` to `folder` marked \Seen.
pub async fn append(session: &mut Session, folder: &str, raw: &[u8]) -> Result<(), ImapError> {
    bounded(
        &format!("APPEND to {folder}"),
        session.append(mutf7::encode(folder), Some("(\\Seen)"), None, raw),
    )
    .await?;
    drain(session);
    Ok(())
}

/// Add \Answered to one UID of `folder` if its UIDVALIDITY is still `uidvalidity`.
pub async fn mark_answered(
    session: &mut Session,
    folder: &str,
    uidvalidity: u32,
    uid: u32,
) -> Result<bool, ImapError> {
    let mb = bounded(
        &format!("SELECT {folder}"),
        session.select(mutf7::encode(folder)),
    )
    .await?;
    if mb.uid_validity.unwrap_or(0) != uidvalidity {
        return Ok(false);
    }
    bounded("UID STORE", async {
        session
            .uid_store(uid.to_string(), "+FLAGS.SILENT (\\Answered)")
            .await?
            .try_collect::<Vec<_>>()
            .await
    })
    .await?;
    drain(session);
    Ok(true)
}

/// Remove `uids` of the selected folder: flagged \\Deleted, then expunged
/// by UID so no other mail flagged by someone else goes with them.
pub async fn remove_uids(session: &mut Session, uids: &[u32]) -> Result<(), ImapError> {
    if uids.is_empty() {
        return Ok(());
    }
    let set = uids
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",");
    bounded("UID STORE", async {
        session
            .uid_store(&set, "+FLAGS.SILENT (\\Deleted)")
            .await?
            .try_collect::<Vec<_>>()
            .await
    })
    .await?;
    bounded("UID EXPUNGE", async {
        session
            .uid_expunge(&set)
            .await?
            .try_collect::<Vec<_>>()
            .await
    })
    .await?;
    drain(session);
    Ok(())
}

pub async fn logout(mut session: Session) {
    let _ = tokio::time::timeout(Duration::from_secs(5), session.logout()).await;
}
