//! IMAP's modified UTF-7 for folder names (RFC 3501 5.1.3): decoded once when
//! a server lists its folders, so the desk shows and matches real names, and
//! encoded again for every command that names a folder.

use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

/// RFC 3501's base64 variant: `,` for `/`, no padding.
const B64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::IMAP_MUTF7,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone),
);

/// The name a server sent, decoded; `None` when it is not valid modified
/// UTF-7. A name already in UTF-8 (servers with UTF8=ACCEPT) is kept.
pub fn decode(wire: &str) -> Option<String> {
    if !wire.is_ascii() {
        return Some(wire.to_string());
    }
    let mut out = String::with_capacity(wire.len());
    let mut rest = wire;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let end = after.find('-')?;
        let chunk = &after[..end];
        if chunk.is_empty() {
            out.push('&');
        } else {
            let bytes = B64.decode(chunk).ok()?;
            if bytes.len() % 2 != 0 {
                return None;
            }
            let units = bytes
                .chunks_exact(2)
                .map(|p| u16::from_be_bytes([p[0], p[1]]));
            for c in char::decode_utf16(units) {
                let c = c.ok()?;
                // Printable ASCII must not be encoded (RFC 3501): a sign of garbage.
                if (' '..='~').contains(&c) {
                    return None;
                }
                out.push(c);
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// The name for display and matching: decoded when it is valid modified
/// UTF-7, else as the server sent it.
pub fn display(wire: &str) -> String {
    decode(wire).unwrap_or_else(|| wire.to_string())
}

/// A folder name as it goes into an IMAP command.
pub fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut pending: Vec<u16> = Vec::new();
    let flush = |pending: &mut Vec<u16>, out: &mut String| {
        if !pending.is_empty() {
            let bytes: Vec<u8> = pending.iter().flat_map(|u| u.to_be_bytes()).collect();
            out.push('&');
            out.push_str(&B64.encode(bytes));
            out.push('-');
            pending.clear();
        }
    };
    for c in name.chars() {
        if (' '..='~').contains(&c) {
            flush(&mut pending, &mut out);
            if c == '&' {
                out.push_str("&-");
            } else {
                out.push(c);
            }
        } else {
            let mut buf = [0u16; 2];
            pending.extend_from_slice(c.encode_utf16(&mut buf));
        }
    }
    flush(&mut pending, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_server_names_decode() {
        for (wire, name) in [
            ("&BB4EQgQ,BEAEMAQyBDsENQQ9BD0ESwQ1-", "Отправленные"),
            ("&BCcENQRABD0EPgQyBDgEOgQ4-", "Черновики"),
            ("Entw&APw-rfe", "Entwürfe"),
            ("&AMk-l&AOk-ments envoy&AOk-s", "Éléments envoyés"),
            ("R&-D", "R&D"),
            ("INBOX", "INBOX"),
            ("~peter/mail/&U,BTFw-/&ZeVnLIqe-", "~peter/mail/台北/日本語"),
        ] {
            assert_eq!(decode(wire).as_deref(), Some(name), "{wire}");
            assert_eq!(encode(name), wire, "{name}");
        }
    }

    #[test]
    fn malformed_names_are_kept_as_sent() {
        for wire in ["&BB4", "&!!!-", "&AEE-", "&2D3-"] {
            assert_eq!(decode(wire), None, "{wire}");
            assert_eq!(display(wire), wire);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn any_name_round_trips(name in "\\PC{0,24}") {
            let wire = encode(&name);
            prop_assert!(wire.is_ascii());
            prop_assert_eq!(decode(&wire), Some(name));
        }

        #[test]
        fn decoding_arbitrary_ascii_never_panics(wire in "[ -~]{0,40}") {
            let _ = decode(&wire);
        }
    }
}
