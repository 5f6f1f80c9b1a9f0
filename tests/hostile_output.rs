//! Hostile strings from a server, a vCard, a CSV file and a mail file fed
//! through every command that prints outside the interface, run under a
//! pseudo-terminal (`script`): no escape sequence, C1 control or bidi control
//! may reach the terminal. One Dovecot serves the whole suite.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use support::{MailStack, StackOptions};

/// What the proxy shows the client instead of Dovecot's folder names
/// (Dovecot itself refuses control characters in names).
const HOSTILE_FOLDERS: [(&str, &str); 4] = [
    ("Sent", "Sent\u{1b}]0;pwned\u{7}"),
    ("Trash", "Trash\u{1b}[2J"),
    ("Junk", "Junk\u{9b}31m"),
    ("Drafts", "Drafts\u{202e}txt.exe"),
];

/// Bytes no terminal may see from deskmail's own text output.
fn forbidden_in(out: &str) -> Vec<String> {
    out.char_indices()
        .filter(|(_, c)| {
            matches!(*c, '\u{1b}' | '\u{7}' | '\u{80}'..='\u{9f}')
                || deskmail::mail::sanitize::is_bidi_control(*c)
        })
        .map(|(i, c)| {
            let from = out[..i].char_indices().rev().nth(20).map_or(0, |(j, _)| j);
            format!("U+{:04X} after {:?}", c as u32, &out[from..i])
        })
        .collect()
}

/// The suite's one Dovecot, its rewriting proxy port and runtime.
struct Server {
    stack: MailStack,
    proxy_port: u16,
    _rt: tokio::runtime::Runtime,
}

fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let stack = MailStack::start_with(StackOptions::dovecot_only());
        for (folder, _) in HOSTILE_FOLDERS {
            stack.save_to(
                "support",
                folder,
                b"From: a@x.example\r\nSubject: hi\r\n\r\nbody\r\n",
            );
        }
        stack.save_to(
            "support",
            "INBOX",
            b"From: a@x.example\r\nSubject: hi\r\n\r\nbody\r\n",
        );
        let port = rt.block_on(renaming_proxy(stack.imap_port));
        Server {
            stack,
            proxy_port: port,
            _rt: rt,
        }
    })
}

fn replace_all(buf: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(buf.len());
    let mut i = 0;
    while i < buf.len() {
        if buf[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(buf[i]);
            i += 1;
        }
    }
    out
}

/// A plain-text loopback proxy in front of Dovecot that renames the folders
/// of [`HOSTILE_FOLDERS`] in LIST replies and back in the client's commands.
async fn renaming_proxy(upstream: u16) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(server) = tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await
                else {
                    return;
                };
                let (mut cr, mut cw) = client.into_split();
                let (mut sr, mut sw) = server.into_split();
                let up = tokio::spawn(async move {
                    let mut buf = vec![0u8; 64 * 1024];
                    while let Ok(k) = cr.read(&mut buf).await {
                        if k == 0 {
                            break;
                        }
                        let mut chunk = buf[..k].to_vec();
                        for (plain, hostile) in HOSTILE_FOLDERS {
                            // A name sent back raw or in modified UTF-7 is the
                            // same mailbox to an IMAP server.
                            let encoded = deskmail::mail::mutf7::encode(hostile);
                            for name in [hostile.to_string(), encoded] {
                                chunk = replace_all(
                                    &chunk,
                                    format!("\"{name}\"").as_bytes(),
                                    plain.as_bytes(),
                                );
                            }
                        }
                        if sw.write_all(&chunk).await.is_err() {
                            break;
                        }
                    }
                });
                let mut buf = vec![0u8; 64 * 1024];
                while let Ok(k) = sr.read(&mut buf).await {
                    if k == 0 {
                        break;
                    }
                    let mut chunk = buf[..k].to_vec();
                    for (plain, hostile) in HOSTILE_FOLDERS {
                        chunk = replace_all(
                            &chunk,
                            format!("\"/\" {plain}\r\n").as_bytes(),
                            format!("\"/\" \"{hostile}\"\r\n").as_bytes(),
                        );
                    }
                    if cw.write_all(&chunk).await.is_err() {
                        break;
                    }
                }
                up.abort();
            });
        }
    });
    port
}

fn toml_escaped(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() || deskmail::mail::sanitize::is_bidi_control(c) {
                format!("\\u{:04X}", c as u32)
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// A desk dir with a config monitoring INBOX and every hostile folder.
fn desk(dir: &Path) -> PathBuf {
    let s = server();
    let folders: Vec<String> = std::iter::once("INBOX".to_string())
        .chain(
            HOSTILE_FOLDERS
                .iter()
                .map(|(_, h)| format!("\"{}\"", toml_escaped(h))),
        )
        .map(|f| if f == "INBOX" { "\"INBOX\"".into() } else { f })
        .collect();
    let cfg = dir.join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            r#"
[[accounts]]
name = "support"
kind = "imap"
email = "support@desk.example"
host = "127.0.0.1"
port = {port}
tls = "none"
user = "support"
password_command = "printf {password}"
folders = [{folders}]
"#,
            port = s.proxy_port,
            password = s.stack.password(),
            folders = folders.join(", ")
        ),
    )
    .expect("config");
    cfg
}

/// Runs deskmail with `args` under a pseudo-terminal; returns what the
/// terminal received (stdout and stderr share the pty).
fn on_terminal(dir: &Path, args: &[&str]) -> String {
    let cfg = desk(dir);
    let mut line = format!(
        "{} --config {} --data-dir {}",
        env!("CARGO_BIN_EXE_deskmail"),
        cfg.display(),
        dir.join("data").display()
    );
    for a in args {
        line.push(' ');
        line.push_str(&format!("'{}'", a.replace('\'', "'\\''")));
    }
    let out = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .env("HOME", dir)
        .env("XDG_STATE_HOME", dir.join("state"))
        .env("TERM", "xterm-256color")
        .output()
        .expect("script from util-linux runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Progress bars draw with their own escape sequences; drop exactly those.
fn without_progress_drawing(out: &str) -> String {
    let mut s = out.to_string();
    for seq in [
        "\u{1b}[2K",
        "\u{1b}[1A",
        "\u{1b}[?25l",
        "\u{1b}[?25h",
        "\u{1b}[J",
        "\u{1b}[0J",
    ] {
        s = s.replace(seq, "");
    }
    s
}

/// Notes what `command` printed that a terminal must not see.
fn check(command: &str, out: &str, problems: &mut Vec<String>) {
    let bad = forbidden_in(out);
    if !bad.is_empty() {
        problems.push(format!("{command} printed {bad:?}\n{out:?}"));
    }
}

#[test]
fn sync_stats_and_doctor_print_no_control_sequences_from_folder_names() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sync = on_terminal(dir.path(), &["sync", "--once"]);
    assert!(sync.contains("synced 1 account(s)"), "{sync}");
    let mut problems = Vec::new();
    check("sync", &without_progress_drawing(&sync), &mut problems);

    let stats = on_terminal(dir.path(), &["stats"]);
    assert!(stats.contains("support/Sent"), "{stats}");
    assert!(stats.contains("support/Trash"), "{stats}");
    check("stats", &stats, &mut problems);

    let json = on_terminal(dir.path(), &["stats", "--json"]);
    check("stats --json", &json, &mut problems);
    let v: serde_json::Value = serde_json::from_str(json.trim()).expect("stats --json is JSON");
    let folders = v["accounts"][0]["folders"].as_array().map_or(0, Vec::len);
    assert!(folders >= 5, "INBOX and four hostile folders: {v}");

    let doctor = on_terminal(dir.path(), &["doctor"]);
    assert!(doctor.contains("monitors"), "{doctor}");
    check("doctor", &doctor, &mut problems);
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    // Stored under their sanitised names, the server's kept for commands.
    let store = deskmail::store::Store::open(&dir.path().join("data")).expect("store");
    let folders: Vec<_> = store
        .folders_by_account()
        .expect("folders")
        .into_iter()
        .flat_map(|(_, f)| f)
        .collect();
    for f in &folders {
        assert!(forbidden_in(&f.name).is_empty(), "stored raw: {:?}", f.name);
    }
    let sent = folders
        .iter()
        .find(|f| f.name == "Sent")
        .expect("Sent stored");
    assert_eq!(sent.server.as_deref(), Some(HOSTILE_FOLDERS[0].1));
}

#[test]
fn importing_a_hostile_vcard_and_csv_prints_no_control_sequences() {
    let dir = tempfile::tempdir().expect("tempdir");
    let vcf = dir.path().join("contacts.vcf");
    std::fs::write(
        &vcf,
        "BEGIN:VCARD\r\nVERSION:\u{1b}]52;c;ZXZpbA==\u{7}2.1\r\nFN:Eve\r\nEMAIL:eve@x.example\r\nEND:VCARD\r\n\
         BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Mallory\u{9b}2J\u{202e}\r\nEMAIL:bad\u{1b}[2J@\r\nEND:VCARD\r\n",
    )
    .expect("vcf");
    let out = on_terminal(
        dir.path(),
        &["import", "contacts", &vcf.display().to_string()],
    );
    assert!(out.contains("skipped"), "{out}");
    let bad = forbidden_in(&out);
    assert!(bad.is_empty(), "vCard import printed {bad:?}\n{out:?}");

    let csv = dir.path().join("contacts.csv");
    std::fs::write(
        &csv,
        "name,email,phone,company\n\
         \"Eve\u{1b}]0;title\u{7}\",\"not-an-address\u{1b}]52;c;ZXZpbA==\u{7}\",1,\"Acme\u{202e}\"\n\
         \"Bob\u{9b}31m\",bob@x.example,\"\u{1b}[2J\",Acme\n",
    )
    .expect("csv");
    let out = on_terminal(
        dir.path(),
        &["import", "contacts", &csv.display().to_string()],
    );
    assert!(out.contains("created"), "{out}");
    let bad = forbidden_in(&out);
    assert!(bad.is_empty(), "CSV import printed {bad:?}\n{out:?}");
}

#[test]
fn render_and_send_print_no_control_sequences_from_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mail/hostile.eml");
    let out = on_terminal(dir.path(), &["render", &fixture.display().to_string()]);
    assert!(out.contains("Subject:"), "{out}");
    let bad = forbidden_in(&out);
    assert!(bad.is_empty(), "render printed {bad:?}\n{out:?}");

    let body = dir.path().join("body.txt");
    std::fs::write(&body, "hello").expect("body");
    let out = on_terminal(
        dir.path(),
        &[
            "send",
            "--account",
            "support",
            "--to",
            "eve@x.example",
            "--subject",
            "hi",
            "--body-file",
            &body.display().to_string(),
            "--attach",
            "/nonexistent/\u{1b}]0;pwned\u{7}report\u{202e}fdp.exe",
        ],
    );
    assert!(out.contains("cannot read attachment"), "{out}");
    let bad = forbidden_in(&out);
    assert!(bad.is_empty(), "send printed {bad:?}\n{out:?}");
}
