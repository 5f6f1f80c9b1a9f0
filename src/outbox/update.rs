//! What the outbox worker tells the desk about sends; the desk turns these
//! into interface events.

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboxUpdate {
    /// A sent mail was filed in Sent and linked like the mail it answers.
    LinksChanged {
        id: u64,
    },
    /// A folder's rows changed (a copy in Sent, an answered flag).
    FolderChanged {
        account: String,
        folder: String,
    },
    /// Something failed: plain words, already sanitised.
    Error(String),
    /// One account's mail failed: a shared desk tells only the agents who see
    /// that account.
    AccountError {
        account: String,
        message: String,
    },
    Notice(String),
}
