//! The folder pane's own actions: a folder created, renamed or deleted on
//! the server through one-line prompts (delete asks to confirm with the
//! mail count), quiet folders, and the folders `m` offers with Tab.

use super::{App, FolderRow, LineInput, Overlay, Prompt, PromptPurpose};
use crate::mail::sanitize::sanitize_line;
use crate::protocol::{Command, DeskClient};
use crate::tui::action::Action;

impl App {
    /// The account and folder under the folder cursor (`None` folder: an
    /// account's heading).
    fn folder_under_cursor(&self) -> Option<(String, Option<String>, bool)> {
        match self.folders.get(self.folder_cursor)? {
            FolderRow::Account { name, .. } => Some((name.clone(), None, false)),
            FolderRow::Folder {
                account,
                name,
                quiet,
                ..
            } => Some((account.clone(), Some(name.clone()), *quiet)),
        }
    }

    /// Create, rename, delete a folder or make it quiet; `None`: not one
    /// of these actions.
    pub(super) fn folder_action(
        &mut self,
        desk: &dyn DeskClient,
        action: Action,
    ) -> Option<Vec<Command>> {
        if !matches!(
            action,
            Action::CreateFolder
                | Action::RenameFolder
                | Action::DeleteFolder
                | Action::ToggleFolderNotify
        ) {
            return None;
        }
        let Some((account, folder, quiet)) = self.folder_under_cursor() else {
            self.notice("Select an account or folder in the folder pane first.");
            return Some(vec![]);
        };
        if action == Action::CreateFolder {
            self.prompt(
                format!("New folder on the server of {}:", sanitize_line(&account)),
                PromptPurpose::CreateFolder { account },
            );
            return Some(vec![]);
        }
        let Some(name) = folder else {
            self.notice("Select a folder (not the account) first.");
            return Some(vec![]);
        };
        if action == Action::ToggleFolderNotify {
            return Some(vec![Command::SetFolderNotify {
                account,
                folder: name,
                notify: quiet,
            }]);
        }
        if let Some(why) = self.untouchable(desk, &account, &name) {
            self.error(why);
            return Some(vec![]);
        }
        if action == Action::RenameFolder {
            self.prompt(
                format!("Rename folder \"{}\" to:", sanitize_line(&name)),
                PromptPurpose::RenameFolder {
                    account,
                    from: name,
                },
            );
            return Some(vec![]);
        }
        let listed = desk.server_folders(&account);
        let count = self
            .ask(listed)
            .into_iter()
            .find(|f| f.name == name)
            .and_then(|f| f.messages);
        let shown = sanitize_line(&name);
        let question = match count {
            Some(0) => format!("Delete the empty folder \"{shown}\" on the server?"),
            Some(1) => format!("Delete folder \"{shown}\" and its 1 mail on the server?"),
            Some(n) => format!("Delete folder \"{shown}\" and its {n} mails on the server?"),
            None => {
                format!("Delete folder \"{shown}\" and all its mails (not counted) on the server?")
            }
        };
        self.prompt(
            format!("{question} Type yes:"),
            PromptPurpose::DeleteFolder { account, name },
        );
        Some(vec![])
    }

    fn prompt(&mut self, label: String, purpose: PromptPurpose) {
        self.overlay = Some(Overlay::Prompt(Box::new(Prompt {
            label,
            input: LineInput::default(),
            purpose,
        })));
    }

    /// Why the folder cannot be renamed or deleted from here, if it cannot
    /// (the desk checks again; this spares a prompt).
    fn untouchable(&mut self, desk: &dyn DeskClient, account: &str, name: &str) -> Option<String> {
        if name.eq_ignore_ascii_case("INBOX") {
            return Some(
                "INBOX is where new mail arrives; it cannot be renamed or deleted.".into(),
            );
        }
        let listed = desk.server_folders(account);
        let special = self
            .ask(listed)
            .into_iter()
            .find(|f| f.name == name)
            .and_then(|f| f.special_use)?;
        Some(format!(
            "\"{}\" is the account's {} folder; rename or delete it with the server's own tools.",
            sanitize_line(name),
            special.trim_start_matches('\\')
        ))
    }

    /// The answer to a folder prompt.
    pub(super) fn answer_folder_prompt(
        &mut self,
        input: &str,
        purpose: PromptPurpose,
    ) -> Vec<Command> {
        match purpose {
            PromptPurpose::CreateFolder { account } => {
                self.folder_wanted = Some((account.clone(), input.to_string()));
                vec![Command::CreateFolder {
                    account,
                    name: input.to_string(),
                }]
            }
            PromptPurpose::RenameFolder { account, from } => {
                self.folder_wanted = Some((account.clone(), input.to_string()));
                vec![Command::RenameFolder {
                    account,
                    from,
                    to: input.to_string(),
                }]
            }
            PromptPurpose::DeleteFolder { account, name } => {
                if input.eq_ignore_ascii_case("yes") || input.eq_ignore_ascii_case("y") {
                    vec![Command::DeleteFolder { account, name }]
                } else {
                    self.notice("Not deleted.");
                    vec![]
                }
            }
            _ => vec![],
        }
    }

    /// Every folder of `account` mail can be moved to: the server's whole
    /// listing and the desk's own, sorted.
    pub(super) fn move_targets(&mut self, desk: &dyn DeskClient, account: &str) -> Vec<String> {
        let listed = desk.server_folders(account);
        let mut all: Vec<String> = self.ask(listed).into_iter().map(|f| f.name).collect();
        for row in &self.folders {
            if let FolderRow::Folder {
                account: a, name, ..
            } = row
                && a == account
            {
                all.push(name.clone());
            }
        }
        all.sort();
        all.dedup();
        all
    }

    /// Tab in a move prompt: the first folder starting with what was typed,
    /// or, on a whole name, the next folder.
    pub(super) fn next_move_target(&mut self, desk: &dyn DeskClient, forward: bool) {
        let Some(Overlay::Prompt(p)) = &self.overlay else {
            return;
        };
        let (PromptPurpose::MoveTo {
            account, folder, ..
        }
        | PromptPurpose::MoveMarked {
            account, folder, ..
        }) = &p.purpose
        else {
            return;
        };
        let (account, folder) = (account.clone(), folder.clone());
        let typed = p.input.as_str().to_string();
        let mut all = self.move_targets(desk, &account);
        all.retain(|f| *f != folder);
        if !forward {
            all.reverse();
        }
        let next = match all.iter().position(|f| *f == typed) {
            Some(i) => all.get(i + 1).or(all.first()),
            None => {
                let low = typed.to_lowercase();
                all.iter().find(|f| f.to_lowercase().starts_with(&low))
            }
        };
        if let (Some(next), Some(Overlay::Prompt(p))) = (next.cloned(), &mut self.overlay) {
            p.input = LineInput::from(next.as_str());
        }
    }
}
