//! `deskmail import contacts FILE`: contacts from CSV (header row with name,
//! email, phone, company) or vCard 3.0/4.0. A contact already known by one
//! of its addresses is updated, never duplicated; a company creates (or
//! reuses) an account the contact belongs to.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::crm::linking::party_name;
use crate::crm::vcard::parse_vcards;
use crate::mail::address::{normalize_email, validate_recipient};
use crate::store::{Party, Record, RecordKind, RecordRef, Store, StoreError};

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportSummary {
    pub created: usize,
    pub updated: usize,
    /// `(where, why)`: "line 7" / "card 3" and the reason.
    pub skipped: Vec<(String, String)>,
    /// Accounts created for companies named in the file.
    pub accounts_created: usize,
}

/// How many skip reasons the summary line spells out.
const SKIPS_SHOWN: usize = 5;

impl fmt::Display for ImportSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "created {}, updated {}, skipped {}",
            self.created,
            self.updated,
            self.skipped.len()
        )?;
        if !self.skipped.is_empty() {
            let shown: Vec<String> = self
                .skipped
                .iter()
                .take(SKIPS_SHOWN)
                .map(|(at, why)| format!("{at}: {why}"))
                .collect();
            write!(f, " ({}", shown.join("; "))?;
            if self.skipped.len() > SKIPS_SHOWN {
                write!(f, "; and {} more", self.skipped.len() - SKIPS_SHOWN)?;
            }
            write!(f, ")")?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: the file is not UTF-8 text; save it as UTF-8 (\"CSV UTF-8\" in spreadsheets) and import again", path.display())]
    NotUtf8 { path: PathBuf },
    #[error(
        "{}: the header row has no email column (found: {found}); it needs name, email, phone, company",
        path.display()
    )]
    NoEmailColumn { path: PathBuf, found: String },
    #[error("{} line {line}: {message}", path.display())]
    Csv {
        path: PathBuf,
        line: u64,
        message: String,
    },
    #[error("{}: {}", .0.display(), .1)]
    Format(PathBuf, String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The file formats import understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactFormat {
    Csv,
    VCard,
}

/// By extension (`.csv`, `.tsv`, `.vcf`, `.vcard`), else by content.
pub fn detect_format(path: &Path, text: &str) -> ContactFormat {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    match ext.as_str() {
        "vcf" | "vcard" => ContactFormat::VCard,
        "csv" | "tsv" => ContactFormat::Csv,
        _ => {
            let head = text.trim_start_matches('\u{feff}').trim_start();
            if head
                .get(..11)
                .is_some_and(|h| h.eq_ignore_ascii_case("BEGIN:VCARD"))
            {
                ContactFormat::VCard
            } else {
                ContactFormat::Csv
            }
        }
    }
}

/// One contact as a file gives it.
#[derive(Debug, Default)]
struct Incoming {
    name: String,
    emails: Vec<String>,
    phones: Vec<String>,
    company: String,
}

/// Import contacts from `path` into the store.
pub fn import_contacts(store: &Store, path: &Path) -> Result<ImportSummary, ImportError> {
    let bytes = std::fs::read(path).map_err(|source| ImportError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let text = String::from_utf8(bytes).map_err(|_| ImportError::NotUtf8 {
        path: path.to_path_buf(),
    })?;
    import_contacts_text(store, path, &text)
}

/// [`import_contacts`] on text already read; `path` names it in messages
/// and its extension picks the format.
pub fn import_contacts_text(
    store: &Store,
    path: &Path,
    text: &str,
) -> Result<ImportSummary, ImportError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut importer = Importer::new(store);
    match detect_format(path, text) {
        ContactFormat::Csv => read_csv(path, text, &mut importer)?,
        ContactFormat::VCard => {
            let cards = parse_vcards(text);
            if cards.is_empty() {
                return Err(ImportError::Format(
                    path.to_path_buf(),
                    "no vCard in the file".into(),
                ));
            }
            for card in cards {
                match card {
                    Ok(c) => {
                        let place = format!("card {}", c.index);
                        let inc = Incoming {
                            name: c.display_name().unwrap_or_default(),
                            emails: c.emails,
                            phones: c.phones,
                            company: c.org.unwrap_or_default(),
                        };
                        importer.add(&place, inc)?;
                    }
                    Err(e) => importer.summary.skipped.push((e.place, e.reason)),
                }
            }
        }
    }
    tracing::info!(file = %path.display(), summary = %importer.summary, "contacts imported");
    Ok(importer.summary)
}

/// The delimiter of the header line: the most frequent of `,` `;` tab
/// outside quotes (spreadsheets in many locales write `;`).
fn sniff_delimiter(path: &Path, text: &str) -> u8 {
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("tsv"))
    {
        return b'\t';
    }
    let first = text.lines().next().unwrap_or_default();
    let mut counts = [(b',', 0usize), (b';', 0), (b'\t', 0)];
    let mut quoted = false;
    for c in first.bytes() {
        if c == b'"' {
            quoted = !quoted;
        } else if !quoted {
            for (d, n) in counts.iter_mut() {
                if *d == c {
                    *n += 1;
                }
            }
        }
    }
    counts
        .iter()
        .max_by_key(|(_, n)| *n)
        .filter(|(_, n)| *n > 0)
        .map(|(d, _)| *d)
        .unwrap_or(b',')
}

#[derive(Debug, Default)]
struct Columns {
    name: Option<usize>,
    first: Option<usize>,
    last: Option<usize>,
    email: Option<usize>,
    phone: Option<usize>,
    company: Option<usize>,
}

fn header_key(h: &str) -> String {
    h.trim()
        .trim_start_matches('\u{feff}')
        .to_lowercase()
        .replace(['_', '-'], " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn columns(headers: &csv::StringRecord) -> Columns {
    let mut c = Columns::default();
    for (i, h) in headers.iter().enumerate() {
        let slot = match header_key(h).as_str() {
            "name" | "full name" | "display name" | "contact" | "contact name" | "имя" | "фио" => {
                &mut c.name
            }
            "first name" | "given name" => &mut c.first,
            "last name" | "family name" | "surname" => &mut c.last,
            "email" | "e mail" | "email address" | "e mail address" | "mail" | "почта" => {
                &mut c.email
            }
            "phone" | "phone number" | "telephone" | "tel" | "mobile" | "телефон" => {
                &mut c.phone
            }
            "company" | "organization" | "organisation" | "org" | "account" | "компания" => {
                &mut c.company
            }
            _ => continue,
        };
        if slot.is_none() {
            *slot = Some(i);
        }
    }
    c
}

/// The addresses of an email cell: several may be separated by `;` or `,`,
/// each bare or as `Name <address>`.
fn split_list(s: &str) -> Vec<String> {
    s.split([';', ','])
        .map(|p| {
            let p = p.trim();
            match (p.rfind('<'), p.rfind('>')) {
                (Some(a), Some(b)) if a < b => p[a + 1..b].trim(),
                _ => p,
            }
        })
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}

fn read_csv(path: &Path, text: &str, importer: &mut Importer<'_>) -> Result<(), ImportError> {
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(sniff_delimiter(path, text))
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = rdr.headers().map_err(|e| csv_error(path, &e))?.clone();
    let cols = columns(&headers);
    let Some(email_col) = cols.email else {
        let found: Vec<&str> = headers.iter().collect();
        return Err(ImportError::NoEmailColumn {
            path: path.to_path_buf(),
            found: if found.is_empty() {
                "nothing".into()
            } else {
                found.join(", ")
            },
        });
    };
    let mut record = csv::StringRecord::new();
    loop {
        match rdr.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                importer
                    .summary
                    .skipped
                    .push((format!("line {line}"), format!("not valid CSV: {e}")));
                continue;
            }
        }
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let get = |c: Option<usize>| {
            c.and_then(|i| record.get(i))
                .unwrap_or_default()
                .trim()
                .to_string()
        };
        let mut name = get(cols.name);
        if name.is_empty() {
            name = [get(cols.first), get(cols.last)]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
        }
        let inc = Incoming {
            name,
            emails: split_list(&get(Some(email_col))),
            phones: get(cols.phone)
                .split([';', ','])
                .map(|p| p.trim().to_string())
                .filter(|p| !p.is_empty())
                .collect(),
            company: get(cols.company),
        };
        importer.add(&format!("line {line}"), inc)?;
    }
    Ok(())
}

fn csv_error(path: &Path, e: &csv::Error) -> ImportError {
    ImportError::Csv {
        path: path.to_path_buf(),
        line: e.position().map(|p| p.line()).unwrap_or(1),
        message: e.to_string(),
    }
}

/// Upserts contacts and their companies, counting what it does.
struct Importer<'a> {
    store: &'a Store,
    summary: ImportSummary,
    /// Account name (lowercased) to reference; loaded on first use.
    accounts: Option<HashMap<String, RecordRef>>,
}

impl<'a> Importer<'a> {
    fn new(store: &'a Store) -> Importer<'a> {
        Importer {
            store,
            summary: ImportSummary::default(),
            accounts: None,
        }
    }

    fn account(&mut self, company: &str) -> Result<RecordRef, StoreError> {
        let key = company.trim().to_lowercase();
        if self.accounts.is_none() {
            let mut m = HashMap::new();
            for a in self.store.records(RecordKind::Account)? {
                m.entry(a.name.trim().to_lowercase())
                    .or_insert(a.reference());
            }
            self.accounts = Some(m);
        }
        if let Some(r) = self.accounts.as_ref().and_then(|m| m.get(&key)) {
            return Ok(*r);
        }
        let mut a = Record::new(RecordKind::Account, company.trim());
        a.fields.insert("source".into(), "import".into());
        let a = self.store.put_record(a)?;
        self.summary.accounts_created += 1;
        if let Some(m) = self.accounts.as_mut() {
            m.insert(key, a.reference());
        }
        Ok(a.reference())
    }

    fn add(&mut self, place: &str, inc: Incoming) -> Result<(), StoreError> {
        let mut emails: Vec<String> = Vec::new();
        for e in &inc.emails {
            let e = e.trim().trim_start_matches("mailto:");
            match (validate_recipient(e), normalize_email(e, false)) {
                (Ok(_), Some(n)) => {
                    if !emails.contains(&n) {
                        emails.push(n);
                    }
                }
                (Err(why), _) => {
                    self.summary.skipped.push((
                        place.to_string(),
                        format!("invalid email address \"{e}\": {why}"),
                    ));
                    return Ok(());
                }
                (Ok(_), None) => {
                    self.summary
                        .skipped
                        .push((place.to_string(), format!("invalid email address \"{e}\"")));
                    return Ok(());
                }
            }
        }
        let Some(primary) = emails.first().cloned() else {
            self.summary
                .skipped
                .push((place.to_string(), "no email address".to_string()));
            return Ok(());
        };
        let name_given = !inc.name.trim().is_empty();
        let parent = if inc.company.trim().is_empty() {
            None
        } else {
            Some(self.account(&inc.company)?)
        };

        let mut existing: Option<Record> = None;
        for e in &emails {
            if let Some(r) = self
                .store
                .records_by_address(e)?
                .into_iter()
                .find(|r| r.kind == RecordKind::Contact)
            {
                existing = Some(r);
                break;
            }
        }
        match existing {
            Some(mut r) => {
                if name_given {
                    r.name = inc.name.trim().to_string();
                }
                for e in emails {
                    if !r.emails.contains(&e) {
                        r.emails.push(e);
                    }
                }
                for p in inc.phones {
                    if !r.phones.contains(&p) {
                        r.phones.push(p);
                    }
                }
                if parent.is_some() {
                    r.parent = parent;
                }
                self.store.put_record(r)?;
                self.summary.updated += 1;
            }
            None => {
                let name = if name_given {
                    inc.name.trim().to_string()
                } else {
                    party_name(&Party {
                        name: String::new(),
                        email: primary,
                    })
                };
                let mut r = Record::new(RecordKind::Contact, name);
                r.emails = emails;
                r.phones = inc.phones;
                r.parent = parent;
                r.fields.insert("source".into(), "import".into());
                self.store.put_record(r)?;
                self.summary.created += 1;
            }
        }
        Ok(())
    }
}
