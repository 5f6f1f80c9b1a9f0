//! The record form: one line per field, edited in place; validation errors
//! are shown next to the field they concern and saving is refused until
//! there are none.

use crate::crm::create::{form_fields, normalize_record, validate_record};
use crate::store::{Record, RecordKind};
use crate::tui::keymap::Key;
use std::collections::BTreeMap;

#[derive(Debug, Clone)]
pub struct RecordForm {
    /// The record being edited (id 0 for a new one).
    pub record: Record,
    pub labels: Vec<String>,
    pub values: Vec<String>,
    pub field: usize,
    /// Field label → what is wrong with it.
    pub errors: BTreeMap<String, String>,
}

fn list(v: &[String]) -> String {
    v.join(", ")
}

fn split(s: &str) -> Vec<String> {
    s.split([',', ';'])
        .map(|x| x.trim().to_string())
        .filter(|x| !x.is_empty())
        .collect()
}

impl RecordForm {
    pub fn edit(record: Record) -> RecordForm {
        let mut labels = vec![
            "name".to_string(),
            "emails".to_string(),
            "phones".to_string(),
        ];
        let mut values = vec![
            record.name.clone(),
            list(&record.emails),
            list(&record.phones),
        ];
        for f in form_fields(record.kind) {
            labels.push((*f).to_string());
            values.push(record.field(f).unwrap_or("").to_string());
        }
        RecordForm {
            record,
            labels,
            values,
            field: 0,
            errors: BTreeMap::new(),
        }
    }

    pub fn new_record(kind: RecordKind) -> RecordForm {
        RecordForm::edit(Record::new(kind, ""))
    }

    pub fn title(&self) -> String {
        if self.record.id == 0 {
            format!("New {}", self.record.kind.label().to_lowercase())
        } else {
            format!("Edit {}", self.record.kind.label().to_lowercase())
        }
    }

    pub fn input(&mut self, key: Key) {
        use crossterm::event::KeyCode;
        let Some(v) = self.values.get_mut(self.field) else {
            return;
        };
        match key.code {
            KeyCode::Char(c) => v.push(c),
            KeyCode::Backspace => {
                v.pop();
            }
            KeyCode::Enter => self.next(true),
            _ => {}
        }
    }

    pub fn next(&mut self, forward: bool) {
        let n = self.labels.len();
        self.field = if forward {
            (self.field + 1) % n
        } else {
            (self.field + n - 1) % n
        };
    }

    /// The record with the form's values applied.
    pub fn build(&self) -> Record {
        let mut r = self.record.clone();
        for (label, value) in self.labels.iter().zip(&self.values) {
            match label.as_str() {
                "name" => r.name = value.trim().to_string(),
                "emails" => r.emails = split(value),
                "phones" => r.phones = split(value),
                other => {
                    if value.trim().is_empty() {
                        r.fields.remove(other);
                    } else {
                        r.fields.insert(other.to_string(), value.trim().to_string());
                    }
                }
            }
        }
        normalize_record(r)
    }

    /// Validate; on success the record to save, else the errors are kept
    /// for display and `None` is returned.
    pub fn validated(&mut self) -> Option<Record> {
        let r = self.build();
        self.errors.clear();
        match validate_record(&r) {
            Ok(()) => Some(r),
            Err(errs) => {
                for (field, msg) in errs {
                    // Errors about one address name the list they sit in.
                    let label = if field.starts_with("email") {
                        "emails".to_string()
                    } else if field.starts_with("phone") {
                        "phones".to_string()
                    } else {
                        field
                    };
                    self.errors.entry(label).or_insert(msg);
                }
                if let Some(i) = self.labels.iter().position(|l| self.errors.contains_key(l)) {
                    self.field = i;
                }
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_name_is_refused_in_place() {
        let mut f = RecordForm::new_record(RecordKind::Contact);
        f.field = 1;
        for c in "emma@northwind.example".chars() {
            f.input(Key::char(c));
        }
        assert!(f.validated().is_none());
        assert!(f.errors.contains_key("name"), "{:?}", f.errors);
        assert_eq!(f.field, 0, "cursor goes to the first wrong field");
    }

    #[test]
    fn values_become_the_record() {
        let mut f = RecordForm::new_record(RecordKind::Case);
        f.values[0] = "Printer jams".into();
        let status = f
            .labels
            .iter()
            .position(|l| l == "status")
            .expect("status field");
        f.values[status] = "Pending".into();
        let r = f.validated().expect("valid");
        assert_eq!(r.name, "Printer jams");
        assert_eq!(r.field("status"), Some("Pending"));
    }
}
