//! Writing RFC 822 messages for the demo desk: plain, HTML, attachments and
//! bodies in KOI8-R or windows-1251, all from code (no binary blobs).

use base64::Engine;

/// Deterministic pseudo-random numbers (SplitMix64): the same seed gives the same desk.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        (self.next_u64() % n as u64) as usize
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charset {
    Utf8,
    Koi8R,
    Windows1251,
}

impl Charset {
    fn name(self) -> &'static str {
        match self {
            Charset::Utf8 => "utf-8",
            Charset::Koi8R => "koi8-r",
            Charset::Windows1251 => "windows-1251",
        }
    }
    fn encode(self, text: &str) -> Vec<u8> {
        let enc = match self {
            Charset::Utf8 => return text.as_bytes().to_vec(),
            Charset::Koi8R => encoding_rs::KOI8_R,
            Charset::Windows1251 => encoding_rs::WINDOWS_1251,
        };
        enc.encode(text).0.into_owned()
    }
}

pub struct Attachment {
    pub name: String,
    pub mime: String,
    pub data: Vec<u8>,
}

/// A message to write.
pub struct DraftMail {
    pub from: (String, String),
    pub to: Vec<(String, String)>,
    pub cc: Vec<(String, String)>,
    pub subject: String,
    pub date: i64,
    pub message_id: String,
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
    pub body: String,
    pub charset: Charset,
    pub html: bool,
    pub attachments: Vec<Attachment>,
}

/// RFC 2047 B-encoding for a header word that is not plain ASCII.
fn encode_word(s: &str) -> String {
    if s.is_ascii() {
        return s.to_string();
    }
    format!(
        "=?utf-8?B?{}?=",
        base64::engine::general_purpose::STANDARD.encode(s.as_bytes())
    )
}

fn mailbox((name, email): &(String, String)) -> String {
    if name.is_empty() {
        email.clone()
    } else if name.is_ascii() {
        format!("\"{name}\" <{email}>")
    } else {
        format!("{} <{email}>", encode_word(name))
    }
}

fn wrap_base64(data: &[u8]) -> String {
    let enc = base64::engine::general_purpose::STANDARD.encode(data);
    let mut out = String::with_capacity(enc.len() + enc.len() / 76 * 2 + 2);
    for chunk in enc.as_bytes().chunks(76) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push_str("\r\n");
    }
    out
}

fn html_of(text: &str) -> String {
    let mut h = String::from("<html><body>");
    for para in text.split("\n\n") {
        let esc = para
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('\n', "<br>");
        h.push_str(&format!("<p>{esc}</p>"));
    }
    h.push_str("<p>See our <a href=\"https://help.desk.example/faq\">FAQ</a>.</p></body></html>");
    h
}

impl DraftMail {
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out: Vec<u8> = Vec::with_capacity(self.body.len() * 2 + 512);
        let date = chrono::DateTime::from_timestamp(self.date, 0)
            .map(|d| d.to_rfc2822())
            .unwrap_or_default();
        let mut head = String::new();
        head.push_str(&format!("Message-ID: {}\r\n", self.message_id));
        head.push_str(&format!("Date: {date}\r\n"));
        head.push_str(&format!("From: {}\r\n", mailbox(&self.from)));
        let to: Vec<String> = self.to.iter().map(mailbox).collect();
        head.push_str(&format!("To: {}\r\n", to.join(", ")));
        if !self.cc.is_empty() {
            let cc: Vec<String> = self.cc.iter().map(mailbox).collect();
            head.push_str(&format!("Cc: {}\r\n", cc.join(", ")));
        }
        head.push_str(&format!("Subject: {}\r\n", encode_word(&self.subject)));
        if let Some(irt) = &self.in_reply_to {
            head.push_str(&format!("In-Reply-To: {irt}\r\n"));
        }
        if !self.references.is_empty() {
            head.push_str(&format!("References: {}\r\n", self.references.join(" ")));
        }
        head.push_str("MIME-Version: 1.0\r\n");
        out.extend_from_slice(head.as_bytes());

        let text_part = |out: &mut Vec<u8>| {
            out.extend_from_slice(
                format!(
                    "Content-Type: text/plain; charset={}\r\nContent-Transfer-Encoding: 8bit\r\n\r\n",
                    self.charset.name()
                )
                .as_bytes(),
            );
            out.extend(self.charset.encode(&self.body.replace('\n', "\r\n")));
            out.extend_from_slice(b"\r\n");
        };
        let alt = "=_alt_boundary_7f3a";
        let mixed = "=_mixed_boundary_91c2";
        let body_part = |out: &mut Vec<u8>| {
            if self.html {
                out.extend_from_slice(
                    format!(
                        "Content-Type: multipart/alternative; boundary=\"{alt}\"\r\n\r\n--{alt}\r\n"
                    )
                    .as_bytes(),
                );
                text_part(out);
                out.extend_from_slice(
                    format!(
                        "--{alt}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{}\r\n--{alt}--\r\n",
                        html_of(&self.body)
                    )
                    .as_bytes(),
                );
            } else {
                text_part(out);
            }
        };
        if self.attachments.is_empty() {
            body_part(&mut out);
        } else {
            out.extend_from_slice(
                format!("Content-Type: multipart/mixed; boundary=\"{mixed}\"\r\n\r\nThis is a multi-part message.\r\n--{mixed}\r\n").as_bytes(),
            );
            body_part(&mut out);
            for a in &self.attachments {
                out.extend_from_slice(
                    format!(
                        "--{mixed}\r\nContent-Type: {}; name=\"{}\"\r\nContent-Disposition: attachment; filename=\"{}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}",
                        a.mime,
                        a.name,
                        a.name,
                        wrap_base64(&a.data)
                    )
                    .as_bytes(),
                );
            }
            out.extend_from_slice(format!("--{mixed}--\r\n").as_bytes());
        }
        out
    }
}
