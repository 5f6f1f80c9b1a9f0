//! The test mail stack itself: real Dovecot + Postfix on loopback.

mod support;

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::time::{Duration, Instant};

use async_imap::types::NameAttribute;
use futures::TryStreamExt;
use lettre::AsyncTransport;
use lettre::message::{Mailbox, Message, header::ContentType};

use support::{ImapSession, MailStack, StackOptions, gen_mailbox, gen_message_id};

const DELIVERY_LIMIT: Duration = Duration::from_secs(30);

fn unique_token(tag: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{tag}-{}-{nanos}", std::process::id())
}

fn simple_message(from: &str, to: &str, subject: &str, body: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{subject}@test.desk.example>\r\n\
         Date: Tue, 14 Nov 2023 22:13:20 +0000\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

async fn header_of(session: &mut ImapSession, uid: u32, field: &str) -> String {
    let fetches: Vec<_> = session
        .uid_fetch(
            uid.to_string(),
            format!("BODY.PEEK[HEADER.FIELDS ({field})]"),
        )
        .await
        .unwrap_or_else(|e| panic!("UID FETCH {uid}: {e}"))
        .try_collect()
        .await
        .unwrap_or_else(|e| panic!("UID FETCH {uid} responses: {e}"));
    let fetch = fetches
        .iter()
        .find(|f| f.uid == Some(uid))
        .unwrap_or_else(|| panic!("no FETCH response for UID {uid}"));
    let raw = fetch.header().unwrap_or_default();
    let text = String::from_utf8_lossy(raw);
    text.split_once(':')
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_default()
}

/// Waits (bounded) until a message whose subject contains `token` is in
/// `user`'s INBOX; returns its UID.
async fn wait_for_subject(stack: &MailStack, user: &str, token: &str) -> Option<u32> {
    let mut session = stack.imap_session(user).await;
    let deadline = Instant::now() + DELIVERY_LIMIT;
    let found = loop {
        // SELECT again each round so new mail is seen.
        session.select("INBOX").await.expect("SELECT INBOX");
        let uids = session
            .uid_search(format!("SUBJECT \"{token}\""))
            .await
            .expect("UID SEARCH");
        if let Some(uid) = uids.into_iter().max() {
            break Some(uid);
        }
        if Instant::now() >= deadline {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let _ = session.logout().await;
    found
}

#[tokio::test]
async fn imap_starttls_and_imaps_list_special_folders() {
    let t = Instant::now();
    let stack = MailStack::start_with(StackOptions::dovecot_only());
    eprintln!(
        "dovecot-only stack up in {:?} ({})",
        t.elapsed(),
        stack.dir.path().display()
    );

    // STARTTLS on the plain port.
    let client = stack.imap_starttls_client().await;
    let mut session = client
        .login("agent", stack.password())
        .await
        .unwrap_or_else(|(e, _)| panic!("login over STARTTLS: {e}"));
    let caps = session.capabilities().await.expect("CAPABILITY");
    for cap in [
        "IMAP4rev1",
        "IDLE",
        "CONDSTORE",
        "QRESYNC",
        "SPECIAL-USE",
        "UIDPLUS",
        "MOVE",
    ] {
        assert!(caps.has_str(cap), "server lacks {cap}");
    }
    let names: Vec<_> = session
        .list(Some(""), Some("*"))
        .await
        .expect("LIST")
        .try_collect()
        .await
        .expect("LIST responses");
    let listed: HashSet<&str> = names.iter().map(|n| n.name()).collect();
    eprintln!("LIST: {listed:?}");
    for want in ["INBOX", "Sent", "Drafts", "Trash", "Junk"] {
        assert!(listed.contains(want), "{want} missing from LIST {listed:?}");
    }
    let special = |name: &str| {
        names
            .iter()
            .find(|n| n.name() == name)
            .map(|n| n.attributes().to_vec())
            .unwrap_or_default()
    };
    assert!(special("Sent").contains(&NameAttribute::Sent));
    assert!(special("Drafts").contains(&NameAttribute::Drafts));
    assert!(special("Trash").contains(&NameAttribute::Trash));
    assert!(special("Junk").contains(&NameAttribute::Junk));
    session.logout().await.expect("LOGOUT");

    // Implicit TLS, and a message delivered over LMTP shows up.
    let mut session = stack.imap_session("agent").await;
    let inbox = session.select("INBOX").await.expect("SELECT INBOX");
    assert_eq!(inbox.exists, 0);
    stack.deliver(
        "agent",
        &simple_message(
            "Client <client1@example1.com>",
            "agent@desk.example",
            "lmtp-hello",
            "Hello over LMTP.\n.leading dot survives\n",
        ),
    );
    let inbox = session.select("INBOX").await.expect("SELECT INBOX again");
    assert_eq!(inbox.exists, 1);
    let uid_next = inbox.uid_next.expect("UIDNEXT");
    assert_eq!(
        header_of(&mut session, uid_next - 1, "SUBJECT").await,
        "lmtp-hello"
    );
    let bodies: Vec<_> = session
        .uid_fetch((uid_next - 1).to_string(), "BODY.PEEK[TEXT]")
        .await
        .expect("FETCH TEXT")
        .try_collect()
        .await
        .expect("FETCH responses");
    let text = String::from_utf8_lossy(bodies.first().and_then(|f| f.text()).unwrap_or_default())
        .into_owned();
    assert!(text.contains("\r\n.leading dot survives"), "body: {text:?}");
    session.logout().await.expect("LOGOUT");

    // POP3S greets over TLS.
    let mut pop3s = stack.tls_wrap(stack.tcp(stack.pop3s_port).await).await;
    let mut greeting = [0u8; 64];
    let n = tokio::io::AsyncReadExt::read(&mut pop3s, &mut greeting)
        .await
        .expect("POP3S greeting");
    let greeting = String::from_utf8_lossy(&greeting[..n]);
    assert!(greeting.starts_with("+OK"), "POP3S greeting: {greeting}");

    // Special-use folders take direct saves too.
    stack.save_to(
        "agent",
        "Sent",
        &simple_message("agent@desk.example", "x@example.com", "saved", "x"),
    );
    assert_eq!(stack.message_count("agent", "Sent"), 1);
}

#[tokio::test]
async fn submission_starttls_auth_delivers_to_customer() {
    let t = Instant::now();
    let stack = MailStack::start();
    eprintln!(
        "full stack up in {:?} ({})",
        t.elapsed(),
        stack.dir.path().display()
    );

    let mailer = stack.submission_transport("agent", stack.password());
    let token = unique_token("ticket");
    let from: Mailbox = "Support Agent <agent@desk.example>".parse().expect("from");
    let msg = Message::builder()
        .from(from.clone())
        .to("customer@desk.example".parse().expect("to"))
        .subject(format!("Re: your order {token}"))
        .header(ContentType::TEXT_PLAIN)
        .body(String::from(
            "Your refund has been issued.\nРегарды, поддержка\n",
        ))
        .expect("message");
    let resp = mailer
        .send(msg)
        .await
        .expect("submission accepted the message");
    eprintln!("submission: {} {:?}", resp.code(), resp.first_line());
    assert!(resp.is_positive());

    let uid = wait_for_subject(&stack, "customer", &token)
        .await
        .unwrap_or_else(|| panic!("message not in customer's INBOX within {DELIVERY_LIMIT:?}"));
    let mut session = stack.imap_session("customer").await;
    session.select("INBOX").await.expect("SELECT");
    let from_hdr = header_of(&mut session, uid, "FROM").await;
    assert!(from_hdr.contains("agent@desk.example"), "From: {from_hdr}");
    session.logout().await.expect("LOGOUT");

    // Any address at a customer domain is a catch-all for `customer`.
    let token2 = unique_token("catchall");
    let msg = Message::builder()
        .from(from.clone())
        .to("someone@example42.com".parse().expect("to"))
        .subject(format!("Catch-all {token2}"))
        .body(String::from("hi"))
        .expect("message");
    mailer.send(msg).await.expect("catch-all accepted");
    assert!(
        wait_for_subject(&stack, "customer", &token2)
            .await
            .is_some(),
        "catch-all mail did not reach customer"
    );

    // Plain SMTP (port 25 style, no AUTH) takes mail for local users.
    let token3 = unique_token("smtp25");
    let msg = Message::builder()
        .from("Client 7 <client7@example7.com>".parse().expect("from"))
        .to("bob@desk.example".parse().expect("to"))
        .subject(format!("Inbound {token3}"))
        .body(String::from("hello bob"))
        .expect("message");
    stack
        .smtp_transport()
        .send(msg)
        .await
        .expect("SMTP accepted the message");
    assert!(
        wait_for_subject(&stack, "bob", &token3).await.is_some(),
        "SMTP mail did not reach bob"
    );

    // Nothing is relayed anywhere else.
    let msg = Message::builder()
        .from(from)
        .to("someone@example.org".parse().expect("to"))
        .subject("must not leave")
        .body(String::from("x"))
        .expect("message");
    let err = mailer.send(msg).await.expect_err("relay must be refused");
    eprintln!("relay attempt refused: {err}");
    assert!(
        err.is_permanent(),
        "expected a permanent rejection, got {err}"
    );
}

#[tokio::test]
async fn wrong_password_is_an_authentication_error() {
    let stack = MailStack::start();

    // IMAP
    let client = stack.imaps_client().await;
    let err = match client.login("agent", "not-the-password").await {
        Ok(_) => panic!("IMAP login with a wrong password succeeded"),
        Err((e, _)) => e,
    };
    eprintln!("IMAP server said: {err}");
    match &err {
        async_imap::error::Error::No(text) => assert!(
            text.contains("AUTHENTICATIONFAILED") || text.contains("Authentication failed"),
            "unexpected NO text: {text}"
        ),
        other => panic!("expected a NO response, got {other:?}"),
    }
    // The right password still works afterwards (no lock-out).
    let session = stack.imap_session("agent").await;
    drop(session);

    // Submission
    let mailer = stack.submission_transport("agent", "not-the-password");
    let msg = Message::builder()
        .from("agent@desk.example".parse().expect("from"))
        .to("customer@desk.example".parse().expect("to"))
        .subject("should not be sent")
        .body(String::from("x"))
        .expect("message");
    let err = mailer
        .send(msg)
        .await
        .expect_err("AUTH with a wrong password must fail");
    eprintln!("submission server said: {err}");
    assert!(err.is_permanent(), "expected a permanent error, got {err}");
    assert_eq!(
        err.status().map(|c| c.to_string()).as_deref(),
        Some("535"),
        "expected 535 authentication failed, got {err}"
    );
}

#[tokio::test]
async fn postfix_can_be_stopped_and_restarted() {
    let stack = MailStack::start();
    assert!(stack.postfix_running());
    stack.stop_postfix();
    assert!(!stack.postfix_running());
    assert!(
        std::net::TcpStream::connect((stack.host.as_str(), stack.submission_port)).is_err(),
        "submission still accepts connections after stop_postfix"
    );
    let t = Instant::now();
    stack.start_postfix();
    eprintln!("postfix restarted in {:?}", t.elapsed());
    let token = unique_token("restart");
    let msg = Message::builder()
        .from("agent@desk.example".parse().expect("from"))
        .to("alice@desk.example".parse().expect("to"))
        .subject(format!("after restart {token}"))
        .body(String::from("x"))
        .expect("message");
    stack
        .submission_transport("agent", stack.password())
        .send(msg)
        .await
        .expect("send after restart");
    assert!(wait_for_subject(&stack, "alice", &token).await.is_some());
}

#[tokio::test]
async fn fill_inbox_bulk_keeps_order_and_pop3_sees_it() {
    const N: usize = 20_000;
    let stack = MailStack::start_with(StackOptions::dovecot_only());
    let t = Instant::now();
    let msgs = gen_mailbox(N, 7);
    let gen_time = t.elapsed();
    let bytes: usize = msgs.iter().map(Vec::len).sum();
    let t = Instant::now();
    let count = stack.fill_inbox("support", msgs);
    eprintln!(
        "generated {N} messages ({} MB) in {gen_time:?}; fill_inbox + index in {:?}",
        bytes / 1_000_000,
        t.elapsed()
    );
    assert_eq!(count, N);
    let uids = stack.uid_list("support", "INBOX");
    assert_eq!(uids.len(), N);

    // UIDs follow the order of the iterator.
    let mut session = stack.imap_session("support").await;
    let inbox = session.select("INBOX").await.expect("SELECT");
    assert_eq!(inbox.exists as usize, N);
    assert_eq!(
        inbox.unseen.map(|_| ()),
        Some(()),
        "messages should be unseen"
    );
    for (k, uid) in [(0, uids[0]), (N / 2, uids[N / 2]), (N - 1, uids[N - 1])] {
        let mid = header_of(&mut session, uid, "MESSAGE-ID").await;
        assert_eq!(mid, gen_message_id(k, 7), "UID {uid}");
    }
    let t = Instant::now();
    let all: Vec<_> = session
        .fetch("1:*", "(UID FLAGS)")
        .await
        .expect("FETCH 1:*")
        .try_collect()
        .await
        .expect("FETCH responses");
    eprintln!(
        "FETCH 1:* (UID FLAGS) over {} messages in {:?}",
        all.len(),
        t.elapsed()
    );
    assert_eq!(all.len(), N);
    session.logout().await.expect("LOGOUT");

    // POP3 (plain port; the harness allows plaintext auth on loopback).
    let stream =
        std::net::TcpStream::connect((stack.host.as_str(), stack.pop3_port)).expect("POP3");
    let mut w = stream.try_clone().expect("dup");
    let mut r = BufReader::new(stream);
    let mut line = String::new();
    let mut cmd = |cmd: &str, r: &mut BufReader<std::net::TcpStream>| -> String {
        if !cmd.is_empty() {
            w.write_all(format!("{cmd}\r\n").as_bytes())
                .expect("POP3 write");
        }
        line.clear();
        r.read_line(&mut line).expect("POP3 read");
        assert!(line.starts_with("+OK"), "POP3 {cmd:?}: {line}");
        line.clone()
    };
    cmd("", &mut r);
    cmd("USER support", &mut r);
    cmd(&format!("PASS {}", stack.password()), &mut r);
    let stat = cmd("STAT", &mut r);
    let n: usize = stat
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("STAT: {stat}"));
    assert_eq!(n, N);
    cmd("QUIT", &mut r);
}

#[test]
fn generated_mail_is_well_formed_and_deterministic() {
    const N: usize = 600;
    let msgs = gen_mailbox(N, 11);
    assert_eq!(msgs, gen_mailbox(N, 11), "same seed, same mail");
    assert_ne!(msgs, gen_mailbox(N, 12), "another seed, other mail");
    let parser = mail_parser::MessageParser::default();
    let (mut replies, mut html, mut attachments, mut cyrillic_subjects) = (0, 0, 0, 0);
    let mut encodings = HashSet::new();
    for (i, raw) in msgs.iter().enumerate() {
        let text = String::from_utf8_lossy(raw);
        for line in text.split("\r\n") {
            assert!(line.len() <= 998, "message {i}: line too long");
            if let Some(cte) = line.strip_prefix("Content-Transfer-Encoding: ") {
                encodings.insert(cte.to_string());
            }
        }
        assert!(
            !text.replace("\r\n", "").contains('\n'),
            "message {i}: bare LF"
        );
        let msg = parser
            .parse(raw.as_slice())
            .unwrap_or_else(|| panic!("message {i} does not parse"));
        assert_eq!(
            format!("<{}>", msg.message_id().unwrap_or_default()),
            gen_message_id(i, 11)
        );
        let subject = msg.subject().unwrap_or_default();
        assert!(subject.contains(" #"), "message {i}: subject {subject:?}");
        if subject.starts_with("Re: ") {
            replies += 1;
            assert!(
                msg.in_reply_to().as_text().is_some(),
                "message {i}: reply without In-Reply-To"
            );
        }
        if !subject.is_ascii() {
            cyrillic_subjects += 1;
        }
        let body = msg.body_text(0).unwrap_or_default();
        assert!(
            body.starts_with("Здравствуйте! ") || body.starts_with("Hello, "),
            "message {i}: body decodes to {:?}",
            body.chars().take(40).collect::<String>()
        );
        assert!(
            body.split_whitespace().skip(1).all(|w| [
                "order",
                "заказ",
                "login",
                "payment",
                "оплата",
                "please",
                "help",
                "urgent"
            ]
            .contains(&w)),
            "message {i}: garbled body {body:?}"
        );
        if text.contains("Content-Type: text/html") {
            html += 1;
        }
        if msg.attachment_count() > 0 {
            attachments += 1;
            let att = msg.attachment(0).expect("attachment");
            assert!(
                (1000..=20000).contains(&att.contents().len()),
                "message {i}: attachment size"
            );
        }
    }
    eprintln!(
        "{N} messages: {replies} replies, {html} with HTML, {attachments} with attachments, \
         {cyrillic_subjects} Cyrillic subjects, encodings {encodings:?}"
    );
    assert!(replies > N / 5 && html > N / 10 && attachments > N / 30 && cyrillic_subjects > N / 5);
    for e in ["8bit", "quoted-printable", "base64"] {
        assert!(encodings.contains(e), "no {e} part generated");
    }
}

#[test]
fn servers_are_stopped_when_a_test_panics() {
    let mut seen = None;
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let stack = MailStack::start();
        seen = Some((
            stack.dir.path().to_path_buf(),
            stack.dovecot_pid().expect("dovecot runs"),
            stack.postfix_pid().expect("postfix runs"),
            [stack.imap_port, stack.lmtp_port, stack.submission_port],
        ));
        panic!("deliberate panic with a running mail stack");
    }));
    assert!(result.is_err());
    let (dir, dovecot, postfix, ports) = seen.expect("stack started");
    let gone = |pid: u32| {
        // Gone, or a zombie waiting for init to reap it.
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| {
                s.rsplit_once(") ")
                    .is_some_and(|(_, rest)| rest.starts_with('Z'))
            })
            .unwrap_or(true)
    };
    assert!(gone(dovecot), "dovecot master {dovecot} still running");
    assert!(gone(postfix), "postfix master {postfix} still running");
    for port in ports {
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
            "port {port} still accepts connections"
        );
    }
    assert!(!dir.exists(), "{} was not removed", dir.display());
}
