//! What the search indexer reads from the store: mail ids past its watermark
//! and each mail's "state" (places, flags, links) whose fingerprint tells a
//! stale index document from a current one. Read-only.

use super::{FolderEntry, Result, Store, decode, keys};
use std::collections::HashMap;

/// Where a mail is and what is linked to it, as the index needs it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailState {
    /// (account, folder, flags), sorted.
    pub places: Vec<(String, String, u8)>,
    /// (record kind code, record id), sorted.
    pub links: Vec<(u8, u64)>,
}

impl MailState {
    /// A stable FNV-1a fingerprint (std's hasher may change between releases,
    /// which would make every document look stale).
    pub fn fingerprint(&self) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut eat = |bytes: &[u8]| {
            for b in bytes {
                h ^= u64::from(*b);
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
        };
        for (a, f, fl) in &self.places {
            eat(a.as_bytes());
            eat(&[0]);
            eat(f.as_bytes());
            eat(&[0, *fl, 1]);
        }
        for (k, id) in &self.links {
            eat(&[*k]);
            eat(&id.to_be_bytes());
        }
        h
    }

    fn sort(&mut self) {
        self.places.sort();
        self.links.sort();
    }
}

impl Store {
    /// How many mail records the store holds.
    pub fn message_count(&self) -> u64 {
        self.count_prefix(&[keys::MESSAGE])
    }

    /// Mail ids greater than `after`, ascending, at most `limit`.
    pub fn message_ids_after(&self, after: u64, limit: usize) -> Result<Vec<u64>> {
        let start = keys::with_id(keys::MESSAGE, after.saturating_add(1));
        let end = keys::prefix_end(&[keys::MESSAGE]);
        let mut out = Vec::new();
        for item in self.tree.range(start..end).keys().take(limit) {
            out.push(keys::read_u64(&item?[1..]));
        }
        Ok(out)
    }

    /// The state of one mail now; places are empty once it left every folder.
    pub fn mail_state(&self, id: u64) -> Result<MailState> {
        let mut st = MailState::default();
        if let Some(row) = self.message_row(id)? {
            let date = row.summary()?.date;
            for loc in &row.locations {
                let fkey = keys::folder_index(&loc.account, &loc.folder, date, id);
                if let Some(v) = self.tree.get(fkey)? {
                    let e: FolderEntry = decode(&v)?;
                    st.places
                        .push((loc.account.clone(), loc.folder.clone(), e.flags));
                }
            }
            st.links = row.links.iter().map(|(k, rid)| (k.code(), *rid)).collect();
        }
        st.sort();
        Ok(st)
    }

    /// Every placed mail's state in one pass over the folder indexes and the
    /// records' link index (the indexer's reconcile on start).
    pub fn all_mail_states(&self) -> Result<HashMap<u64, MailState>> {
        let mut out: HashMap<u64, MailState> = HashMap::new();
        for item in self.tree.scan_prefix([keys::FOLDER_INDEX]) {
            let (k, v) = item?;
            if k.len() < 1 + 16 + 2 {
                continue;
            }
            let id = keys::id_of_folder_index(&k);
            let mut parts = k[1..k.len() - 16].split(|b| *b == 0);
            let account = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
            let folder = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
            let e: FolderEntry = decode(&v)?;
            out.entry(id)
                .or_default()
                .places
                .push((account, folder, e.flags));
        }
        // `R` kind, record, inverted date, mail: the same pairs as the mail rows hold.
        for item in self.tree.scan_prefix([keys::LINK_BY_RECORD]).keys() {
            let k = item?;
            if k.len() < 26 {
                continue;
            }
            let id = keys::read_u64(&k[18..26]);
            if let Some(st) = out.get_mut(&id) {
                st.links.push((k[1], keys::read_u64(&k[2..10])));
            }
        }
        for st in out.values_mut() {
            st.sort();
        }
        Ok(out)
    }
}
