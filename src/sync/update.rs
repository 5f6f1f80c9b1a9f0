//! What sync tells the desk: progress, changed folders, new mail, problems.
//! The desk turns these into interface events; sync never talks to a screen.

use crate::protocol::SyncState;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncUpdate {
    /// An account's connection state.
    State {
        account: String,
        state: SyncState,
    },
    /// A folder's rows changed (flags, moves, removals, or mail whose
    /// linking is done).
    FolderChanged {
        account: String,
        folder: String,
    },
    /// `count` new mails were stored (and linked) in a folder.
    NewMail {
        account: String,
        folder: String,
        count: usize,
    },
    /// Something failed: plain words, already sanitised.
    Error(String),
    /// Something failed in one account (what `Error` becomes once the
    /// account's reporter sends it), so a shared desk tells only its agents.
    AccountError {
        account: String,
        message: String,
    },
    Notice(String),
}
