//! Which folder of a server is Sent, Drafts or Trash: the special-use
//! attribute (RFC 6154) first, then the names servers use without it.
//! Sync and the outbox both ask here, so they always agree.

/// A folder with a role every account has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpecialFolder {
    Sent,
    Drafts,
    Trash,
    Archive,
}

impl SpecialFolder {
    /// The special-use attribute as the store keeps it.
    pub fn attribute(self) -> &'static str {
        match self {
            SpecialFolder::Sent => "\\Sent",
            SpecialFolder::Drafts => "\\Drafts",
            SpecialFolder::Trash => "\\Trash",
            SpecialFolder::Archive => "\\Archive",
        }
    }

    /// Names that mean this folder on servers without SPECIAL-USE, most
    /// usual first: English, then the Russian, German, French and Spanish
    /// defaults of common servers and clients.
    fn names(self) -> &'static [&'static str] {
        match self {
            SpecialFolder::Sent => &[
                "Sent",
                "Sent Items",
                "Sent Messages",
                "Sent Mail",
                "Отправленные",
                "Gesendet",
                "Gesendete Elemente",
                "Gesendete Objekte",
                "Éléments envoyés",
                "Messages envoyés",
                "Envoyés",
                "Enviados",
                "Elementos enviados",
            ],
            SpecialFolder::Drafts => &[
                "Drafts",
                "Черновики",
                "Entwürfe",
                "Brouillons",
                "Borradores",
            ],
            SpecialFolder::Trash => &[
                "Trash",
                "Deleted Items",
                "Deleted Messages",
                "Bin",
                "Удалённые",
                "Удаленные",
                "Корзина",
                "Papierkorb",
                "Gelöschte Elemente",
                "Gelöschte Objekte",
                "Corbeille",
                "Éléments supprimés",
                "Papelera",
                "Elementos eliminados",
            ],
            SpecialFolder::Archive => &["Archive", "Archives", "Архив", "Archiv", "Archivo"],
        }
    }
}

/// A listed name without the `INBOX.` / `INBOX/` parent some servers use.
fn leaf(name: &str) -> &str {
    let b = name.as_bytes();
    if b.len() > 6 && b[..5].eq_ignore_ascii_case(b"INBOX") && (b[5] == b'.' || b[5] == b'/') {
        // Bytes 0..6 are ASCII, so 6 is a character boundary.
        return &name[6..];
    }
    name
}

/// Names are compared without case, in any script.
fn same_name(a: &str, b: &str) -> bool {
    a == b || a.to_lowercase() == b.to_lowercase()
}

/// The folder of a listing (decoded name, special use) that plays `role`.
pub fn find(list: &[(String, Option<String>)], role: SpecialFolder) -> Option<String> {
    list.iter()
        .find(|(_, s)| s.as_deref() == Some(role.attribute()))
        .or_else(|| {
            role.names().iter().find_map(|want| {
                // A top-level folder wins over one under INBOX.
                list.iter()
                    .find(|(n, _)| same_name(n, want))
                    .or_else(|| list.iter().find(|(n, _)| same_name(leaf(n), want)))
            })
        })
        .map(|(n, _)| n.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(names: &[&str]) -> Vec<(String, Option<String>)> {
        names.iter().map(|n| (n.to_string(), None)).collect()
    }

    #[test]
    fn special_use_wins_over_a_usual_name() {
        let mut l = plain(&["INBOX", "Sent"]);
        l.push(("Gesendet".into(), Some("\\Sent".into())));
        assert_eq!(find(&l, SpecialFolder::Sent).as_deref(), Some("Gesendet"));
    }

    #[test]
    fn a_sent_folder_under_inbox_is_found_with_either_separator() {
        for name in ["INBOX/Sent", "INBOX.Sent"] {
            let l = plain(&["INBOX", name]);
            assert_eq!(find(&l, SpecialFolder::Sent).as_deref(), Some(name));
        }
    }

    #[test]
    fn drafts_and_trash_by_name_and_none_when_absent() {
        let l = plain(&["INBOX", "Deleted Items", "INBOX.Drafts"]);
        assert_eq!(
            find(&l, SpecialFolder::Trash).as_deref(),
            Some("Deleted Items")
        );
        assert_eq!(
            find(&l, SpecialFolder::Drafts).as_deref(),
            Some("INBOX.Drafts")
        );
        assert_eq!(find(&l, SpecialFolder::Sent), None);
    }

    #[test]
    fn russian_german_french_and_spanish_defaults_are_found_by_name() {
        for (names, role, want) in [
            (
                &["INBOX", "Отправленные", "Черновики"][..],
                SpecialFolder::Sent,
                "Отправленные",
            ),
            (
                &["INBOX", "Удалённые"][..],
                SpecialFolder::Trash,
                "Удалённые",
            ),
            (&["INBOX", "Корзина"][..], SpecialFolder::Trash, "Корзина"),
            (
                &["INBOX", "INBOX.Архив"][..],
                SpecialFolder::Archive,
                "INBOX.Архив",
            ),
            (
                &["INBOX", "Entwürfe"][..],
                SpecialFolder::Drafts,
                "Entwürfe",
            ),
            (
                &["INBOX", "Papierkorb"][..],
                SpecialFolder::Trash,
                "Papierkorb",
            ),
            (
                &["INBOX", "Éléments envoyés"][..],
                SpecialFolder::Sent,
                "Éléments envoyés",
            ),
            (
                &["INBOX", "Brouillons"][..],
                SpecialFolder::Drafts,
                "Brouillons",
            ),
            (
                &["INBOX", "Corbeille"][..],
                SpecialFolder::Trash,
                "Corbeille",
            ),
            (&["INBOX", "Enviados"][..], SpecialFolder::Sent, "Enviados"),
            (
                &["INBOX", "Borradores"][..],
                SpecialFolder::Drafts,
                "Borradores",
            ),
            (&["INBOX", "Papelera"][..], SpecialFolder::Trash, "Papelera"),
            (
                &["INBOX", "отправленные"][..],
                SpecialFolder::Sent,
                "отправленные",
            ),
        ] {
            assert_eq!(
                find(&plain(names), role).as_deref(),
                Some(want),
                "{names:?}"
            );
        }
    }
}
