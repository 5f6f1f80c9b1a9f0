//! The accounts screen: the configured accounts with their sync state, and a
//! form per account whose invalid fields are all marked as the agent types.
//! Saving edits config.toml through `config::edit`; it never holds a password.

use super::{App, Overlay, PickList};
use crate::config::AccountConfig;
use crate::config::edit::{self, FIELDS};
use crate::protocol::{CheckStep, Command, DeskClient};
use crate::tui::action::Action;
use crate::tui::keymap::Key;
use std::collections::BTreeMap;

/// The accounts overlay: the list, or one account's form over it.
#[derive(Debug)]
pub struct AccountsScreen {
    pub list: PickList<AccountConfig>,
    pub form: Option<AccountForm>,
    /// The last connection test per account.
    pub tests: BTreeMap<String, Vec<CheckStep>>,
    /// Names of accounts whose test is under way.
    pub testing: Vec<String>,
}

/// One account's settings being edited, one line of text per field.
#[derive(Debug, Clone)]
pub struct AccountForm {
    /// The account as configured.
    pub before: AccountConfig,
    pub initial: Vec<String>,
    pub values: Vec<String>,
    pub field: usize,
    /// Field index → why its text is not valid.
    pub errors: BTreeMap<usize, String>,
    /// Whether config.toml holds a plain password for it (kept, never shown).
    pub has_plain_password: bool,
}

impl AccountForm {
    pub fn edit(account: &AccountConfig) -> AccountForm {
        let values = edit::values_of(account);
        AccountForm {
            before: account.clone(),
            initial: values.clone(),
            values,
            field: 0,
            errors: BTreeMap::new(),
            has_plain_password: account.password.is_some(),
        }
    }

    /// Check every field again; the account when all are valid.
    pub fn revalidate(&mut self, taken: &[String]) -> Option<AccountConfig> {
        match edit::check(&self.values, Some(&self.before), taken) {
            Ok(a) => {
                self.errors.clear();
                Some(a)
            }
            Err(errs) => {
                self.errors = errs.into_iter().collect();
                None
            }
        }
    }

    fn input(&mut self, key: &Key) -> bool {
        use crossterm::event::KeyCode;
        let Some(v) = self.values.get_mut(self.field) else {
            return false;
        };
        match key.code {
            KeyCode::Char(c) => v.push(c),
            KeyCode::Backspace => {
                v.pop();
            }
            KeyCode::Enter | KeyCode::Down => self.step(true),
            KeyCode::Up => self.step(false),
            _ => return false,
        }
        true
    }

    fn step(&mut self, forward: bool) {
        let n = FIELDS.len();
        self.field = if forward {
            (self.field + 1) % n
        } else {
            (self.field + n - 1) % n
        };
    }
}

impl App {
    /// Open the accounts screen on the desk's configured accounts.
    pub(super) fn open_accounts(&mut self, desk: &dyn DeskClient) {
        let accounts = desk.config().accounts.clone();
        self.overlay = Some(Overlay::Accounts(Box::new(AccountsScreen {
            list: PickList::new(accounts),
            form: None,
            tests: BTreeMap::new(),
            testing: vec![],
        })));
    }

    /// Names of the configured accounts other than `except`.
    fn other_names(list: &PickList<AccountConfig>, except: &str) -> Vec<String> {
        list.items()
            .iter()
            .map(|a| a.name.clone())
            .filter(|n| n != except)
            .collect()
    }

    /// Typed text in the account form; every field is checked again at once.
    pub(super) fn accounts_input(&mut self, key: Key) {
        let Some(Overlay::Accounts(screen)) = &mut self.overlay else {
            return;
        };
        let taken = match &screen.form {
            Some(f) => Self::other_names(&screen.list, &f.before.name),
            None => return,
        };
        if let Some(form) = &mut screen.form
            && form.input(&key)
        {
            form.revalidate(&taken);
        }
    }

    /// A bound action while the accounts screen is open.
    pub(super) fn accounts_action(&mut self, action: Action) -> Vec<Command> {
        let Some(Overlay::Accounts(screen)) = &mut self.overlay else {
            return vec![];
        };
        if let Some(form) = &mut screen.form {
            let taken = Self::other_names(&screen.list, &form.before.name);
            match action {
                Action::NextField => form.step(true),
                Action::PrevField => form.step(false),
                Action::TestConnection => {
                    return match form.revalidate(&taken) {
                        Some(account) => {
                            screen.testing.push(account.name.clone());
                            self.notice(format!("Testing the connection of {}…", account.name));
                            vec![Command::TestAccount(Box::new(account))]
                        }
                        None => {
                            let n = form.errors.len();
                            self.error(format!(
                                "Fix the {n} field(s) marked in red before testing."
                            ));
                            vec![]
                        }
                    };
                }
                Action::Send | Action::Open => return self.save_account_form(),
                Action::Cancel | Action::Back => {
                    screen.form = None;
                    self.notice("Not saved.");
                }
                _ => {}
            }
            return vec![];
        }
        match action {
            Action::MoveDown => screen.list.down(1),
            Action::MoveUp => screen.list.up(1),
            Action::GoTop => screen.list.top(),
            Action::GoBottom => screen.list.bottom(),
            Action::Open => {
                if let Some(a) = screen.list.selected() {
                    let taken = Self::other_names(&screen.list, &a.name);
                    let mut form = AccountForm::edit(a);
                    form.revalidate(&taken);
                    screen.form = Some(form);
                }
            }
            Action::TestConnection => {
                if let Some(a) = screen.list.selected().cloned() {
                    screen.testing.push(a.name.clone());
                    self.notice(format!("Testing the connection of {}…", a.name));
                    return vec![Command::TestAccount(Box::new(a))];
                }
            }
            Action::Quit => self.quit = true,
            Action::Back | Action::Cancel | Action::Accounts => self.overlay = None,
            _ => {}
        }
        vec![]
    }

    /// Save the form into config.toml: refused while a field is invalid.
    fn save_account_form(&mut self) -> Vec<Command> {
        let file = self.config_file.clone();
        let Some(Overlay::Accounts(screen)) = &mut self.overlay else {
            return vec![];
        };
        let Some(form) = &mut screen.form else {
            return vec![];
        };
        let taken = Self::other_names(&screen.list, &form.before.name);
        let Some(account) = form.revalidate(&taken) else {
            let n = form.errors.len();
            self.error(format!("Not saved: fix the {n} field(s) marked in red."));
            return vec![];
        };
        let Some(file) = file else {
            self.error("There is no config.toml to save to here (a demo desk, or a desk attached to a shared one).");
            return vec![];
        };
        let saved = std::fs::read_to_string(&file)
            .map_err(|e| format!("cannot read {}: {e}", file.display()))
            .and_then(|text| {
                edit::save_account(
                    &text,
                    &file,
                    Some(&form.before.name),
                    &form.initial,
                    &form.values,
                )
                .map_err(|e| e.to_string())
            })
            .and_then(|text| {
                // What is written must load again as it is.
                crate::config::Config::parse(&text, &file).map_err(|e| e.to_string())?;
                edit::write_config(&file, &text).map_err(|e| e.to_string())
            });
        match saved {
            Ok(()) => {
                tracing::info!("account {} saved to {}", account.name, file.display());
                if let Some(a) = screen.list.selected_mut() {
                    *a = account.clone();
                }
                screen.form = None;
                self.notice(format!(
                    "Saved {} to {}; restart deskmail to sync with the new settings.",
                    account.name,
                    file.display()
                ));
            }
            Err(e) => {
                tracing::warn!("saving account {} failed: {e}", account.name);
                self.error(format!("Not saved: {e}"));
            }
        }
        vec![]
    }

    /// A connection test finished: its steps show in the screen.
    pub(super) fn account_tested(&mut self, account: String, steps: Vec<CheckStep>) {
        let failed = steps.iter().any(|s| s.ok == Some(false));
        if let Some(Overlay::Accounts(screen)) = &mut self.overlay {
            screen.testing.retain(|n| *n != account);
            screen.tests.insert(account.clone(), steps);
        }
        if failed {
            self.error(format!(
                "The connection test of {account} failed; see the steps."
            ));
        } else {
            self.notice(format!("The connection test of {account} passed."));
        }
    }
}
