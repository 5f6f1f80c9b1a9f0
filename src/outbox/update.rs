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
    Notice(String),
}
