//! What the desk knows of an account's folders beyond the synced ones: the
//! server's whole listing (for moving mail anywhere), the folders whose new
//! mail stays quiet, and dropping or adding a folder in one batch.

use super::{FolderState, Result, Store, decode, encode, keys};
use serde::{Deserialize, Serialize};

/// A folder the account's server lists, synced here or not.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ServerFolder {
    /// The desk's (decoded, sanitised) name.
    pub name: String,
    /// `\Sent`, `\Trash`… or none.
    pub special_use: Option<String>,
    /// Mails in it when last listed; `None` when not counted.
    pub messages: Option<u64>,
}

fn setting_key(kind: &str, account: &str) -> Vec<u8> {
    let mut k = vec![keys::SETTING];
    k.extend_from_slice(kind.as_bytes());
    k.push(0);
    k.extend_from_slice(account.as_bytes());
    k
}

const LISTED: &str = "folders.listed";
const QUIET: &str = "folders.quiet";

impl Store {
    /// The server's folders as last listed; empty before the first sync.
    pub fn server_folders(&self, account: &str) -> Result<Vec<ServerFolder>> {
        match self.tree.get(setting_key(LISTED, account))? {
            Some(v) => decode(&v),
            None => Ok(Vec::new()),
        }
    }

    pub fn put_server_folders(&self, account: &str, list: &[ServerFolder]) -> Result<()> {
        self.tree
            .insert(setting_key(LISTED, account), encode(&list.to_vec())?)?;
        Ok(())
    }

    /// Folders of `account` whose new mail notifies nobody.
    pub fn quiet_folders(&self, account: &str) -> Result<Vec<String>> {
        match self.tree.get(setting_key(QUIET, account))? {
            Some(v) => decode(&v),
            None => Ok(Vec::new()),
        }
    }

    pub fn is_quiet(&self, account: &str, folder: &str) -> bool {
        self.quiet_folders(account)
            .is_ok_and(|q| q.iter().any(|f| f == folder))
    }

    pub fn set_quiet(&self, account: &str, folder: &str, quiet: bool) -> Result<()> {
        let _g = self.lock();
        let mut list = self.quiet_folders(account)?;
        list.retain(|f| f != folder);
        if quiet {
            list.push(folder.to_string());
        }
        self.tree
            .insert(setting_key(QUIET, account), encode(&list)?)?;
        Ok(())
    }

    /// A folder made on the server: known to the desk (and its listing),
    /// not synced until the config says so.
    pub fn add_folder(&self, account: &str, name: &str) -> Result<()> {
        let _g = self.lock();
        let mut batch = sled::Batch::default();
        if self.tree.get(keys::folder_state(account, name))?.is_none() {
            let st = FolderState {
                name: name.to_string(),
                ..FolderState::default()
            };
            batch.insert(keys::folder_state(account, name), encode(&st)?);
        }
        let mut listed = self.server_folders(account)?;
        if !listed.iter().any(|f| f.name == name) {
            listed.push(ServerFolder {
                name: name.to_string(),
                special_use: None,
                messages: Some(0),
            });
            listed.sort_by(|a, b| a.name.cmp(&b.name));
            batch.insert(setting_key(LISTED, account), encode(&listed)?);
        }
        self.tree.apply_batch(batch)?;
        Ok(())
    }

    /// A folder renamed on the server: its mail, state, listing entry and
    /// quiet setting follow. The mail moves in one batch (`rename_folder`).
    pub fn rename_known_folder(&self, account: &str, from: &str, to: &str) -> Result<()> {
        self.rename_folder(account, from, to)?;
        let _g = self.lock();
        let mut batch = sled::Batch::default();
        if let Some(v) = self.tree.get(keys::folder_state(account, to))? {
            let mut st: FolderState = decode(&v)?;
            st.server = None;
            batch.insert(keys::folder_state(account, to), encode(&st)?);
        }
        let mut listed = self.server_folders(account)?;
        for f in &mut listed {
            // Children move with their parent on the server.
            if f.name == from {
                f.name = to.to_string();
            } else if let Some(rest) = f.name.strip_prefix(&format!("{from}/")) {
                f.name = format!("{to}/{rest}");
            }
        }
        listed.sort_by(|a, b| a.name.cmp(&b.name));
        batch.insert(setting_key(LISTED, account), encode(&listed)?);
        let mut quiet = self.quiet_folders(account)?;
        for f in &mut quiet {
            if f == from {
                *f = to.to_string();
            }
        }
        batch.insert(setting_key(QUIET, account), encode(&quiet)?);
        self.tree.apply_batch(batch)?;
        Ok(())
    }

    /// A folder deleted on the server: its locations, index, state, listing
    /// entry and quiet setting go in one batch; mails and their links stay
    /// for the copies other folders hold.
    pub fn drop_folder(&self, account: &str, folder: &str) -> Result<()> {
        let _g = self.lock();
        let mut batch = sled::Batch::default();
        self.forget_folder_locations(&mut batch, account, folder)?;
        batch.remove(keys::folder_state(account, folder));
        let mut listed = self.server_folders(account)?;
        listed.retain(|f| f.name != folder);
        batch.insert(setting_key(LISTED, account), encode(&listed)?);
        let mut quiet = self.quiet_folders(account)?;
        quiet.retain(|f| f != folder);
        batch.insert(setting_key(QUIET, account), encode(&quiet)?);
        self.tree.apply_batch(batch)?;
        Ok(())
    }
}
