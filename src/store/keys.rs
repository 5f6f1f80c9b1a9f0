//! Key encodings of the one sled tree. Every family starts with a one-byte tag;
//! numbers are big-endian so range scans come out in order. Dates are stored
//! inverted (`u64::MAX - date`) where newest-first order is wanted.

pub const SCHEMA_VERSION: &[u8] = b"v";
/// (id): a mail's one row, see `message_row`.
pub const MESSAGE: u8 = b'm';
/// Schema 1 only: raw bodies in the index tree.
pub const BODY: u8 = b'b';
/// Schema 3 only: (id) where a mail's raw body lives; now in the `m` row.
pub const BODY_AT: u8 = b'B';
pub const MSGID: u8 = b'i';
pub const FOLDER_INDEX: u8 = b'f';
pub const UID_MAP: u8 = b'u';
/// Schema 3 only: (id, account, folder) a mail's location; now in the `m` row.
pub const LOCATION: u8 = b'l';
pub const FOLDER_STATE: u8 = b's';
pub const THREAD_SUBJECT: u8 = b'T';
pub const THREAD_SIZE: u8 = b't';
/// (account, folder, thread, inverted date, id): a thread's mail per folder,
/// newest first, so "is this the newest of its thread here" is one seek.
pub const THREAD_MEMBER: u8 = b'H';
pub const RECORD: u8 = b'r';
pub const RECORD_BY_ADDRESS: u8 = b'a';
/// Schema 3 only: (id, kind, record) a mail's link; now in the `m` row.
pub const LINK_BY_MESSAGE: u8 = b'L';
pub const LINK_BY_RECORD: u8 = b'R';
pub const OUTBOX: u8 = b'o';
pub const NOTIFICATION: u8 = b'n';
pub const PENDING_CHANGE: u8 = b'p';
pub const SETTING: u8 = b'S';
/// (id): a snoozed mail, hidden from its folder until its time.
pub const SNOOZE: u8 = b'z';

pub fn inv_date(date: i64) -> u64 {
    u64::MAX - (date.max(0) as u64)
}

pub fn with_id(tag: u8, id: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(9);
    k.push(tag);
    k.extend_from_slice(&id.to_be_bytes());
    k
}

pub fn read_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    let n = b.len().min(8);
    a[..n].copy_from_slice(&b[..n]);
    u64::from_be_bytes(a)
}

/// `account \0 folder \0`: the folder part shared by several families.
pub fn folder_part(account: &str, folder: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(account.len() + folder.len() + 2);
    k.extend_from_slice(account.as_bytes());
    k.push(0);
    k.extend_from_slice(folder.as_bytes());
    k.push(0);
    k
}

pub fn folder_prefix(tag: u8, account: &str, folder: &str) -> Vec<u8> {
    let mut k = vec![tag];
    k.extend(folder_part(account, folder));
    k
}

pub fn folder_index(account: &str, folder: &str, date: i64, id: u64) -> Vec<u8> {
    let mut k = folder_prefix(FOLDER_INDEX, account, folder);
    k.extend_from_slice(&inv_date(date).to_be_bytes());
    k.extend_from_slice(&id.to_be_bytes());
    k
}

/// The message id is the last 8 bytes of a folder index key.
pub fn id_of_folder_index(key: &[u8]) -> u64 {
    read_u64(&key[key.len().saturating_sub(8)..])
}

pub fn uid_map(account: &str, folder: &str, uidvalidity: u32, uid: u32) -> Vec<u8> {
    let mut k = folder_prefix(UID_MAP, account, folder);
    k.extend_from_slice(&uidvalidity.to_be_bytes());
    k.extend_from_slice(&uid.to_be_bytes());
    k
}

pub fn location(id: u64, account: &str, folder: &str) -> Vec<u8> {
    let mut k = with_id(LOCATION, id);
    k.extend(folder_part(account, folder));
    k
}

pub fn folder_state(account: &str, folder: &str) -> Vec<u8> {
    folder_prefix(FOLDER_STATE, account, folder)
}

pub fn msgid(message_id: &str) -> Vec<u8> {
    let mut k = vec![MSGID];
    k.extend_from_slice(message_id.as_bytes());
    k
}

pub fn record(kind: u8, id: u64) -> Vec<u8> {
    let mut k = vec![RECORD, kind];
    k.extend_from_slice(&id.to_be_bytes());
    k
}

pub fn record_by_address(email: &str, kind: u8, id: u64) -> Vec<u8> {
    let mut k = vec![RECORD_BY_ADDRESS];
    k.extend_from_slice(email.as_bytes());
    k.push(0);
    k.push(kind);
    k.extend_from_slice(&id.to_be_bytes());
    k
}

pub fn link_by_message(msg: u64, kind: u8, rid: u64) -> Vec<u8> {
    let mut k = with_id(LINK_BY_MESSAGE, msg);
    k.push(kind);
    k.extend_from_slice(&rid.to_be_bytes());
    k
}

pub fn link_by_record(kind: u8, rid: u64, date: i64, msg: u64) -> Vec<u8> {
    let mut k = vec![LINK_BY_RECORD, kind];
    k.extend_from_slice(&rid.to_be_bytes());
    k.extend_from_slice(&inv_date(date).to_be_bytes());
    k.extend_from_slice(&msg.to_be_bytes());
    k
}

/// The smallest key greater than every key starting with `prefix`.
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return end;
        }
    }
    vec![u8::MAX; prefix.len() + 1]
}

pub fn thread_member(account: &str, folder: &str, thread: u64, date: i64, id: u64) -> Vec<u8> {
    let mut k = folder_prefix(THREAD_MEMBER, account, folder);
    k.extend_from_slice(&thread.to_be_bytes());
    k.extend_from_slice(&inv_date(date).to_be_bytes());
    k.extend_from_slice(&id.to_be_bytes());
    k
}

/// The Message-ID index value: id, date and thread, so threading and dedup
/// never have to decode a summary.
pub fn msgid_value(id: u64, date: i64, thread: u64) -> Vec<u8> {
    let mut v = Vec::with_capacity(24);
    v.extend_from_slice(&id.to_be_bytes());
    v.extend_from_slice(&date.to_be_bytes());
    v.extend_from_slice(&thread.to_be_bytes());
    v
}

/// `(id, Some((date, thread)))`, or `(id, None)` for a row written before
/// the index carried them.
pub fn read_msgid(v: &[u8]) -> (u64, Option<(i64, u64)>) {
    let id = read_u64(v);
    if v.len() >= 24 {
        (id, Some((read_u64(&v[8..16]) as i64, read_u64(&v[16..24]))))
    } else {
        (id, None)
    }
}
