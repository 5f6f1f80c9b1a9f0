//! Folders stored under their raw modified-UTF-7 names (by desks synced
//! before names were decoded) are renamed to the decoded name at open, so
//! a Cyrillic folder is not synced a second time under its real name.

use super::{FolderState, Result, Store, decode, encode, keys};

impl Store {
    /// Rename every stored folder whose name is modified UTF-7 for another
    /// name; one already stored under the decoded name keeps its mail and
    /// the raw one is dropped (its mails have that other location too).
    pub(super) fn decode_folder_names(&self) -> Result<usize> {
        let mut renamed = 0;
        for (account, folders) in self.folders_by_account()? {
            for st in folders {
                if !st.name.contains('&') || st.server.is_some() {
                    continue;
                }
                let Some(decoded) = crate::mail::mutf7::decode(&st.name) else {
                    continue;
                };
                // A decoded name with controls is kept raw, as the sync keeps it.
                if decoded == st.name
                    || crate::mail::sanitize::sanitize_line(&decoded) != decoded
                    || decoded.is_empty()
                {
                    continue;
                }
                if self.folder_state(&account, &decoded)?.is_some() {
                    self.reset_folder(&account, &st.name)?;
                    self.tree.remove(keys::folder_state(&account, &st.name))?;
                } else {
                    self.rename_folder(&account, &st.name, &decoded)?;
                }
                tracing::info!(
                    "store: folder {:?} of {account} is now {decoded:?}",
                    st.name
                );
                renamed += 1;
            }
        }
        Ok(renamed)
    }

    /// Move a whole folder of `account` to a new name in one batch: its
    /// index, UIDs, thread members, mail locations and state.
    pub fn rename_folder(&self, account: &str, from: &str, to: &str) -> Result<()> {
        let _g = self.lock();
        let mut batch = sled::Batch::default();
        for tag in [keys::FOLDER_INDEX, keys::UID_MAP, keys::THREAD_MEMBER] {
            let old = keys::folder_prefix(tag, account, from);
            let new = keys::folder_prefix(tag, account, to);
            for item in self.tree.scan_prefix(&old) {
                let (k, v) = item?;
                if tag == keys::FOLDER_INDEX {
                    let id = keys::id_of_folder_index(&k);
                    if let Some(mut row) = self.message_row(id)?
                        && let Some(mut loc) = row.location(account, from).cloned()
                    {
                        row.remove_location(account, from);
                        loc.folder = to.to_string();
                        row.put_location(loc);
                        batch.insert(keys::with_id(keys::MESSAGE, id), row.encode()?);
                    }
                }
                let mut moved = new.clone();
                moved.extend_from_slice(&k[old.len()..]);
                batch.insert(moved, v);
                batch.remove(k);
            }
        }
        if let Some(v) = self.tree.get(keys::folder_state(account, from))? {
            let mut st: FolderState = decode(&v)?;
            st.name = to.to_string();
            batch.insert(keys::folder_state(account, to), encode(&st)?);
            batch.remove(keys::folder_state(account, from));
        }
        self.tree.apply_batch(batch)?;
        Ok(())
    }
}
