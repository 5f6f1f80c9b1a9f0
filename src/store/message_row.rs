//! The one sled row of a mail (schema 4, key `m`+id): its summary, where its
//! raw body lives, the folders it is in and the records it is linked to.
//! Owns the row's byte layout; never touches the tree itself.
//!
//! Layout: tag byte, u32 summary length, the summary's JSON, then the other
//! parts in fixed-width binary. List pages decode only the JSON slice (one
//! length read to find it), and a row gaining a location or a body copies
//! that slice verbatim instead of decoding and encoding the summary again.

use super::segments::Locator;
use super::{Location, MessageSummary, RecordKind, RecordRef, Result, StoreError, decode, encode};

/// First byte of a schema-4 row; a schema-3 summary row is JSON and starts with `{`.
const ROW_TAG: u8 = 0x04;

/// A mail's row, its summary kept encoded.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MessageRow {
    /// The summary's JSON, as stored.
    summary: Vec<u8>,
    pub body: Option<Locator>,
    /// One per (account, folder).
    pub locations: Vec<Location>,
    pub links: Vec<RecordRef>,
}

/// The summary's bytes inside a stored row (a schema-3 row is all summary).
pub fn summary_bytes(v: &[u8]) -> Result<&[u8]> {
    match v.first() {
        Some(&ROW_TAG) => {
            let n = read_u32(v, 1)? as usize;
            v.get(5..5 + n).ok_or_else(|| truncated("summary"))
        }
        _ => Ok(v),
    }
}

/// Where a stored row's body lives, read without decoding the rest.
pub fn body_place(v: &[u8]) -> Result<Option<Locator>> {
    if !is_current(v) {
        return Ok(None);
    }
    let at = 5 + summary_bytes(v)?.len();
    match v.get(at) {
        Some(0) => Ok(None),
        Some(_) => v
            .get(at + 1..at + 33)
            .and_then(Locator::decode)
            .map(Some)
            .ok_or_else(|| truncated("body place")),
        None => Err(truncated("body place")),
    }
}

/// Whether a stored row is in the schema-4 layout.
pub fn is_current(v: &[u8]) -> bool {
    v.first() == Some(&ROW_TAG)
}

fn truncated(part: &str) -> StoreError {
    StoreError::Decode(format!("a mail row ends inside its {part}"))
}

fn read_u32(v: &[u8], at: usize) -> Result<u32> {
    let b = v.get(at..at + 4).ok_or_else(|| truncated("header"))?;
    Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// A cursor over the binary tail of a row.
struct Reader<'a> {
    v: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, part: &str) -> Result<&'a [u8]> {
        let b = self
            .v
            .get(self.at..self.at + n)
            .ok_or_else(|| truncated(part))?;
        self.at += n;
        Ok(b)
    }

    fn u8(&mut self, part: &str) -> Result<u8> {
        Ok(self.take(1, part)?[0])
    }

    fn u16(&mut self, part: &str) -> Result<u16> {
        let b = self.take(2, part)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self, part: &str) -> Result<u32> {
        let b = self.take(4, part)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self, part: &str) -> Result<u64> {
        Ok(super::keys::read_u64(self.take(8, part)?))
    }

    fn string(&mut self, part: &str) -> Result<String> {
        let n = self.u16(part)? as usize;
        Ok(String::from_utf8_lossy(self.take(n, part)?).into_owned())
    }
}

fn put_string(out: &mut Vec<u8>, s: &str) -> Result<()> {
    let n = u16::try_from(s.len()).map_err(|_| {
        StoreError::Encode(format!("a folder or account name of {} bytes", s.len()))
    })?;
    out.extend_from_slice(&n.to_be_bytes());
    out.extend_from_slice(s.as_bytes());
    Ok(())
}

fn count(n: usize, what: &str) -> Result<[u8; 2]> {
    u16::try_from(n)
        .map(u16::to_be_bytes)
        .map_err(|_| StoreError::Encode(format!("{n} {what} on one mail")))
}

impl MessageRow {
    /// A new row holding only a summary.
    pub fn new(summary: &MessageSummary) -> Result<MessageRow> {
        Ok(MessageRow {
            summary: encode(summary)?,
            ..MessageRow::default()
        })
    }

    /// A stored row; a schema-3 row (a bare summary) comes back with no other parts.
    pub fn decode(v: &[u8]) -> Result<MessageRow> {
        if !is_current(v) {
            return Ok(MessageRow {
                summary: v.to_vec(),
                ..MessageRow::default()
            });
        }
        let summary = summary_bytes(v)?;
        let mut r = Reader {
            v,
            at: 5 + summary.len(),
        };
        let body = match r.u8("body place")? {
            0 => None,
            _ => Some(
                Locator::decode(r.take(32, "body place")?)
                    .ok_or_else(|| truncated("body place"))?,
            ),
        };
        let n = r.u16("locations")?;
        let mut locations = Vec::with_capacity(n as usize);
        for _ in 0..n {
            locations.push(Location {
                account: r.string("locations")?,
                folder: r.string("locations")?,
                uidvalidity: r.u32("locations")?,
                uid: r.u32("locations")?,
            });
        }
        let n = r.u16("links")?;
        let mut links = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let code = r.u8("links")?;
            let id = r.u64("links")?;
            // A kind this build does not know is dropped, as the old link rows were.
            if let Some(kind) = RecordKind::from_code(code) {
                links.push((kind, id));
            }
        }
        Ok(MessageRow {
            summary: summary.to_vec(),
            body,
            locations,
            links,
        })
    }

    pub fn encode(&self) -> Result<Vec<u8>> {
        let n = u32::try_from(self.summary.len())
            .map_err(|_| StoreError::Encode("a mail summary over 4 GB".into()))?;
        let mut out = Vec::with_capacity(
            5 + self.summary.len() + 36 + 40 * self.locations.len() + 9 * self.links.len(),
        );
        out.push(ROW_TAG);
        out.extend_from_slice(&n.to_be_bytes());
        out.extend_from_slice(&self.summary);
        match &self.body {
            Some(loc) => {
                out.push(1);
                out.extend_from_slice(&loc.encode());
            }
            None => out.push(0),
        }
        out.extend_from_slice(&count(self.locations.len(), "locations")?);
        for l in &self.locations {
            put_string(&mut out, &l.account)?;
            put_string(&mut out, &l.folder)?;
            out.extend_from_slice(&l.uidvalidity.to_be_bytes());
            out.extend_from_slice(&l.uid.to_be_bytes());
        }
        out.extend_from_slice(&count(self.links.len(), "links")?);
        for (kind, id) in &self.links {
            out.push(kind.code());
            out.extend_from_slice(&id.to_be_bytes());
        }
        Ok(out)
    }

    pub fn summary(&self) -> Result<MessageSummary> {
        decode(&self.summary)
    }

    pub fn set_summary(&mut self, s: &MessageSummary) -> Result<()> {
        self.summary = encode(s)?;
        Ok(())
    }

    /// Add or replace the location in `loc`'s (account, folder); kept in
    /// (account, folder) order, the order schema 3's location keys had.
    pub fn put_location(&mut self, loc: Location) {
        let at = self.locations.binary_search_by(|l| {
            (l.account.as_str(), l.folder.as_str())
                .cmp(&(loc.account.as_str(), loc.folder.as_str()))
        });
        match at {
            Ok(i) => self.locations[i] = loc,
            Err(i) => self.locations.insert(i, loc),
        }
    }

    /// Forget the location in (account, folder); whether there was one.
    pub fn remove_location(&mut self, account: &str, folder: &str) -> bool {
        let before = self.locations.len();
        self.locations
            .retain(|l| !(l.account == account && l.folder == folder));
        self.locations.len() != before
    }

    pub fn location(&self, account: &str, folder: &str) -> Option<&Location> {
        self.locations
            .iter()
            .find(|l| l.account == account && l.folder == folder)
    }

    /// Add a link; false when it was there already. Kept in (kind code,
    /// record) order, the order schema 3's link keys had.
    pub fn add_link(&mut self, to: RecordRef) -> bool {
        match self
            .links
            .binary_search_by(|(k, id)| (k.code(), *id).cmp(&(to.0.code(), to.1)))
        {
            Ok(_) => false,
            Err(i) => {
                self.links.insert(i, to);
                true
            }
        }
    }

    pub fn remove_link(&mut self, to: RecordRef) -> bool {
        let before = self.links.len();
        self.links.retain(|l| *l != to);
        self.links.len() != before
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> MessageRow {
        let s = MessageSummary {
            id: 7,
            message_id: "<a@x>".into(),
            subject: "Refund".into(),
            date: 1_700_000_000,
            ..MessageSummary::default()
        };
        let mut r = MessageRow::new(&s).expect("new");
        r.body = Some(Locator {
            segment: 3,
            first: 7,
            offset: 100,
            len: 2000,
        });
        r.put_location(Location {
            account: "support".into(),
            folder: "INBOX".into(),
            uidvalidity: 9,
            uid: 41,
        });
        r.put_location(Location {
            account: "support".into(),
            folder: "Архив".into(),
            uidvalidity: 9,
            uid: 2,
        });
        r.add_link((RecordKind::Contact, 12));
        r.add_link((RecordKind::Case, 99));
        r
    }

    #[test]
    fn a_row_reads_back_whole_and_its_summary_alone() {
        let r = row();
        let v = r.encode().expect("encode");
        assert_eq!(MessageRow::decode(&v).expect("decode"), r);
        let s: MessageSummary = decode(summary_bytes(&v).expect("slice")).expect("summary");
        assert_eq!(s.subject, "Refund");
    }

    #[test]
    fn a_schema_3_summary_row_reads_as_a_row_with_no_other_parts() {
        let s = row().summary().expect("summary");
        let old = encode(&s).expect("json");
        assert!(!is_current(&old));
        let r = MessageRow::decode(&old).expect("decode");
        assert_eq!(r.summary().expect("summary"), s);
        assert!(r.body.is_none() && r.locations.is_empty() && r.links.is_empty());
    }

    #[test]
    fn a_second_copy_in_the_same_folder_replaces_its_location_and_links_stay_unique() {
        let mut r = row();
        r.put_location(Location {
            account: "support".into(),
            folder: "INBOX".into(),
            uidvalidity: 10,
            uid: 1,
        });
        assert_eq!(r.locations.len(), 2);
        assert_eq!(r.location("support", "INBOX").map(|l| l.uid), Some(1));
        assert!(!r.add_link((RecordKind::Contact, 12)));
        assert!(r.remove_link((RecordKind::Contact, 12)));
        assert!(r.remove_location("support", "INBOX"));
        assert!(!r.remove_location("support", "INBOX"));
    }

    #[test]
    fn a_cut_row_is_a_decode_error_not_a_panic() {
        let v = row().encode().expect("encode");
        for n in [1, 3, 10, v.len() - 1] {
            assert!(MessageRow::decode(&v[..n]).is_err(), "cut at {n}");
        }
    }
}
