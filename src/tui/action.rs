//! Everything a key can be bound to.
//!
//! [`Action`] is the vocabulary shared by keymap files, the command palette
//! and the help overlay. Names are `snake_case` everywhere (`move_down`,
//! `reply_all`), both in TOML and in [`Display`](std::fmt::Display) /
//! [`FromStr`] output.

use std::fmt;
use std::str::FromStr;

macro_rules! actions {
    ($( $(#[$meta:meta])* $variant:ident => $name:literal, $desc:literal; )+) => {
        /// A user-bindable command.
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
            serde::Deserialize, serde::Serialize,
        )]
        #[serde(rename_all = "snake_case")]
        pub enum Action {
            $( $(#[$meta])* $variant, )+
        }

        impl Action {
            /// Every action, in declaration order (used by the command palette).
            pub const ALL: &'static [Action] = &[ $( Action::$variant, )+ ];

            /// The `snake_case` name used in keymap files.
            pub fn name(&self) -> &'static str {
                match self {
                    $( Action::$variant => $name, )+
                }
            }

            /// A short default description, used when a binding has no `desc`.
            pub fn describe(&self) -> &'static str {
                match self {
                    $( Action::$variant => $desc, )+
                }
            }
        }

        impl FromStr for Action {
            type Err = UnknownAction;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $( $name => Ok(Action::$variant), )+
                    _ => Err(UnknownAction(s.to_owned())),
                }
            }
        }
    };
}

actions! {
    /// Leave deskmail.
    Quit => "quit", "Quit";
    /// Show the key help overlay.
    Help => "help", "Show key help";
    /// Open the command palette.
    CommandPalette => "command_palette", "Command palette";
    /// Suspend to the shell (SIGTSTP).
    Suspend => "suspend", "Suspend to shell";
    FocusNext => "focus_next", "Focus next pane";
    FocusPrev => "focus_prev", "Focus previous pane";
    FocusFolders => "focus_folders", "Focus folders";
    FocusList => "focus_list", "Focus mail list";
    FocusReader => "focus_reader", "Focus reader";
    FocusRecords => "focus_records", "Focus CRM records";
    MoveDown => "move_down", "Move down";
    MoveUp => "move_up", "Move up";
    PageDown => "page_down", "Page down";
    PageUp => "page_up", "Page up";
    GoTop => "go_top", "Go to top";
    GoBottom => "go_bottom", "Go to bottom";
    Open => "open", "Open";
    Back => "back", "Back / close";
    ToggleHeaders => "toggle_headers", "Toggle full headers";
    ToggleQuotes => "toggle_quotes", "Fold/unfold quoted text";
    RawSource => "raw_source", "View raw source";
    NextInThread => "next_in_thread", "Next mail in thread";
    PrevInThread => "prev_in_thread", "Previous mail in thread";
    ToggleThread => "toggle_thread", "Collapse/expand thread";
    ToggleRead => "toggle_read", "Toggle read/unread";
    ToggleFlag => "toggle_flag", "Toggle flag";
    Delete => "delete", "Delete";
    Archive => "archive", "Archive";
    MoveToFolder => "move_to_folder", "Move to folder";
    Reply => "reply", "Reply";
    ReplyAll => "reply_all", "Reply to all";
    Forward => "forward", "Forward";
    Compose => "compose", "Compose new mail";
    LinkRecord => "link_record", "Link to CRM record";
    UnlinkRecord => "unlink_record", "Unlink CRM record";
    CreateContact => "create_contact", "Create contact from mail";
    CreateLead => "create_lead", "Create lead from mail";
    CreateCase => "create_case", "Create case from mail";
    CreateTask => "create_task", "Create task from mail";
    SaveAttachment => "save_attachment", "Save attachment";
    SaveAllAttachments => "save_all_attachments", "Save all attachments";
    PipePart => "pipe_part", "Pipe part to command";
    Outbox => "outbox", "Show outbox";
    SyncNow => "sync_now", "Sync now";
    Send => "send", "Send";
    Cancel => "cancel", "Cancel";
    InsertTemplate => "insert_template", "Insert template";
    ExternalEditor => "external_editor", "Edit in $EDITOR";
    NextField => "next_field", "Next field";
    PrevField => "prev_field", "Previous field";
    ScrollDown => "scroll_down", "Scroll down";
    ScrollUp => "scroll_up", "Scroll up";
    /// Open the search line: hits of every folder become the list.
    Search => "search", "Search all mail";
    /// The next hit of the search in the reader, then in the next mail found
    /// (without a search: the next mail of the thread).
    SearchNext => "search_next", "Next search hit";
    SearchPrev => "search_prev", "Previous search hit";
    /// Edit the selected record in a form.
    EditRecord => "edit_record", "Edit record";
    /// Follow / stop following the selected record (notified of its new mail).
    FollowRecord => "follow_record", "Follow / unfollow record";
    /// Show notifications about followed records.
    Notifications => "notifications", "Notifications";
    /// Show deleted records; Enter restores one.
    RecordTrash => "record_trash", "Deleted records (restore)";
    /// Mark or unmark the selected mail and move down.
    ToggleMark => "toggle_mark", "Mark / unmark mail";
    MarkThread => "mark_thread", "Mark / unmark thread";
    /// Mark every mail of the current view.
    MarkAll => "mark_all", "Mark all";
    ClearMarks => "clear_marks", "Clear marks";
    /// Revert the last move, delete, flag, read, link or unlink.
    Undo => "undo", "Undo last change";
    ViewUnread => "view_unread", "View: unread";
    ViewFlagged => "view_flagged", "View: flagged";
    /// Mail linked to no record: what still needs triage.
    ViewUnlinked => "view_unlinked", "View: not linked to a record";
    /// Threads whose last mail is the customer's and unanswered, oldest first.
    ViewWaiting => "view_waiting", "View: waiting for an answer";
    ViewAll => "view_all", "View: whole folder";
    /// Hide the thread until a time (`2h`, `tomorrow 9:00`, `mon`).
    Snooze => "snooze", "Snooze until…";
    /// The next unread mail, in this folder or the account's next ones.
    NextUnread => "next_unread", "Next unread mail";
    MarkFolderRead => "mark_folder_read", "Mark the folder read";
    /// The accounts: sync state, every setting in a form, connection test.
    Accounts => "accounts", "Accounts: sync state and settings";
    /// Every filter with its action; the ones matching the selected mail marked.
    Filters => "filters", "Filters: which match the selected mail";
    /// Log in to the account's servers and say how each step went.
    TestConnection => "test_connection", "Test the account's connection";
    /// A new folder on the account's server (folder pane).
    CreateFolder => "create_folder", "New folder on the server";
    RenameFolder => "rename_folder", "Rename folder on the server";
    /// Asks to confirm with the number of mails it holds.
    DeleteFolder => "delete_folder", "Delete folder on the server";
    /// New mail in the folder notifies, or stays quiet.
    ToggleFolderNotify => "toggle_folder_notify", "Folder: notify / stay quiet on new mail";
    /// The case queue: mine / team / unassigned, oldest waiting first.
    Cases => "cases", "Cases: the case queue";
    /// Open cases per agent, mail per hour, the oldest unanswered case.
    Dashboard => "dashboard", "Triage dashboard";
    CasesMine => "cases_mine", "Cases: mine";
    CasesTeam => "cases_team", "Cases: the team's";
    CasesUnassigned => "cases_unassigned", "Cases: unassigned";
    /// Show the next status (open, New, Assigned, Pending, closed, all).
    FilterStatus => "filter_status", "Cases: next status filter";
    /// Assign the selected case to me.
    TakeCase => "take_case", "Take the case (assign to me)";
    AssignCase => "assign_case", "Assign the case to an agent";
    SetCaseStatus => "set_case_status", "Set the case's status";
    CloseCase => "close_case", "Close the case";
}

impl Action {
    /// Whether the action does something yet; the shipped keymaps leave the
    /// others unbound and the palette does not offer them.
    pub fn is_available(&self) -> bool {
        true
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Returned by [`Action::from_str`] for a name that is not an action.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown action \"{0}\"")]
pub struct UnknownAction(pub String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for a in Action::ALL {
            let s = a.to_string();
            assert_eq!(s.parse::<Action>().ok(), Some(*a), "{s}");
            assert!(!a.describe().is_empty());
        }
    }

    #[test]
    fn names_match_serde() {
        for a in Action::ALL {
            let json = serde_json::to_string(a).expect("serialize");
            assert_eq!(json, format!("\"{}\"", a.name()));
            let back: Action = serde_json::from_str(&json).expect("deserialize");
            assert_eq!(back, *a);
        }
    }

    #[test]
    fn unknown_name() {
        assert_eq!(
            "move_sideways".parse::<Action>(),
            Err(UnknownAction("move_sideways".into()))
        );
        assert!("MoveDown".parse::<Action>().is_err());
        assert_eq!(Action::ALL.len(), 89);
    }
}
