//! Deterministic synthetic support mailboxes: threads and replies, mixed
//! charsets (utf-8, koi8-r, windows-1251) and transfer encodings (8bit,
//! quoted-printable, base64), RFC 2047 subjects, HTML alternatives and small
//! binary attachments.  Same `(n, seed)`, same bytes.

use std::fmt::Write as _;

/// Customers write from these domains (all catch-alls of `customer` in the stack).
pub const CUSTOMER_COUNT: usize = 2000;

const SUBJECTS: [&str; 8] = [
    "Не работает вход",
    "Invoice question",
    "Refund request",
    "Ошибка при оплате",
    "Cannot connect mailbox",
    "Feature request: export",
    "Доставка задерживается",
    "Password reset",
];
const WORDS: [&str; 8] = [
    "order",
    "заказ",
    "login",
    "payment",
    "оплата",
    "please",
    "help",
    "urgent",
];
const T0: i64 = 1_700_000_000;

/// SplitMix64: small, fast and stable across platforms and versions.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x5eed_de5c_0a11_u64)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as usize
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.range(0, items.len() - 1)]
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cte {
    EightBit,
    QuotedPrintable,
    Base64,
}

impl Cte {
    fn name(self) -> &'static str {
        match self {
            Cte::EightBit => "8bit",
            Cte::QuotedPrintable => "quoted-printable",
            Cte::Base64 => "base64",
        }
    }
}

/// `n` messages (CRLF line endings) of a support INBOX, deterministic in `seed`.
pub fn gen_mailbox(n: usize, seed: u64) -> Vec<Vec<u8>> {
    gen_mailbox_iter(n, seed).collect()
}

/// The messages of [`gen_mailbox`] one by one (no need to hold them all).
pub fn gen_mailbox_iter(n: usize, seed: u64) -> impl Iterator<Item = Vec<u8>> {
    let mut g = Generator {
        rnd: Rng::new(seed),
        seed,
        threads: Vec::new(),
    };
    (0..n).map(move |i| g.message(i))
}

/// The Message-ID [`gen_mailbox`] gives message `i` (0-based) for `seed`.
pub fn gen_message_id(i: usize, seed: u64) -> String {
    format!("<{i}.{seed}@gen.example>")
}

struct Generator {
    rnd: Rng,
    seed: u64,
    threads: Vec<(String, String, String)>,
}

impl Generator {
    fn message(&mut self, i: usize) -> Vec<u8> {
        let rnd = &mut self.rnd;
        let mut h = String::new();
        let mid = gen_message_id(i, self.seed);
        let (subject, cust) = if !self.threads.is_empty() && rnd.unit() < 0.4 {
            let (root, subj, cust) = rnd.pick(&self.threads).clone();
            let _ = write!(h, "In-Reply-To: {root}\r\nReferences: {root}\r\n");
            (format!("Re: {subj}"), cust)
        } else {
            let k = rnd.range(0, CUSTOMER_COUNT - 1);
            let cust = format!("client{k}@example{}.com", k % 97);
            let subj = format!("{} #{i}", rnd.pick(&SUBJECTS));
            self.threads.push((mid.clone(), subj.clone(), cust.clone()));
            (subj, cust)
        };
        let mut out = String::new();
        let _ = write!(out, "Subject: {}\r\n", encode_header(&subject));
        out.push_str(&h);
        let _ = write!(out, "Message-ID: {mid}\r\n");
        let _ = write!(out, "From: Client {} <{cust}>\r\n", i % CUSTOMER_COUNT);
        out.push_str("To: support@desk.example\r\n");
        if rnd.unit() < 0.2 {
            out.push_str("Cc: sales@desk.example\r\n");
        }
        let date = chrono::DateTime::from_timestamp(T0 + i as i64 * 37, 0)
            .map(|d| d.to_rfc2822())
            .unwrap_or_default();
        let _ = write!(out, "Date: {date}\r\nMIME-Version: 1.0\r\n");

        let greeting = if rnd.unit() < 0.5 {
            "Здравствуйте! "
        } else {
            "Hello, "
        };
        let n_words = rnd.range(20, 200);
        let words: Vec<&str> = (0..n_words).map(|_| *rnd.pick(&WORDS)).collect();
        let body = format!("{greeting}{}", words.join(" "));
        let charset = *rnd.pick(&["utf-8", "utf-8", "koi8-r", "windows-1251"]);
        let cte = *rnd.pick(&[Cte::EightBit, Cte::QuotedPrintable, Cte::Base64]);
        let shape = rnd.unit();

        let mut msg = out.into_bytes();
        let plain = wrap(&body, 72);
        if shape < 0.3 {
            let boundary = format!("=_alt_{}_{i}", self.seed);
            let html = format!("<html><body><p>{}</p></body></html>\n", wrap(&body, 72));
            msg.extend_from_slice(
                format!("Content-Type: multipart/alternative; boundary=\"{boundary}\"\r\n\r\n")
                    .as_bytes(),
            );
            msg.extend_from_slice(b"This is a multi-part message in MIME format.\r\n");
            for (sub, text) in [("plain", &plain), ("html", &html)] {
                msg.extend_from_slice(format!("\r\n--{boundary}\r\n").as_bytes());
                msg.extend_from_slice(&text_part(sub, text, charset, cte));
            }
            msg.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        } else if shape < 0.4 {
            let boundary = format!("=_mix_{}_{i}", self.seed);
            let len = rnd.range(1000, 20000);
            let mut blob = Vec::with_capacity(len + 8);
            while blob.len() < len {
                blob.extend_from_slice(&rnd.next_u64().to_le_bytes());
            }
            blob.truncate(len);
            msg.extend_from_slice(
                format!("Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n")
                    .as_bytes(),
            );
            msg.extend_from_slice(format!("\r\n--{boundary}\r\n").as_bytes());
            msg.extend_from_slice(&text_part("plain", &plain, charset, cte));
            msg.extend_from_slice(format!("\r\n--{boundary}\r\n").as_bytes());
            msg.extend_from_slice(
                format!(
                    "Content-Type: application/octet-stream\r\n\
                     Content-Disposition: attachment; filename=\"log{i}.bin\"\r\n\
                     Content-Transfer-Encoding: base64\r\n\r\n"
                )
                .as_bytes(),
            );
            msg.extend_from_slice(&base64_lines(&blob));
            msg.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        } else {
            msg.extend_from_slice(&text_part("plain", &plain, charset, cte));
        }
        msg
    }
}

/// Headers + body of one text part.
fn text_part(subtype: &str, text: &str, charset: &str, cte: Cte) -> Vec<u8> {
    let bytes = encode_charset(text, charset);
    let mut out = format!(
        "Content-Type: text/{subtype}; charset=\"{charset}\"\r\nContent-Transfer-Encoding: {}\r\n\r\n",
        cte.name()
    )
    .into_bytes();
    match cte {
        Cte::EightBit => out.extend_from_slice(&crlf(&bytes)),
        Cte::QuotedPrintable => out.extend_from_slice(&quoted_printable(&bytes)),
        Cte::Base64 => out.extend_from_slice(&base64_lines(&crlf(&bytes))),
    }
    out
}

fn encode_charset(text: &str, charset: &str) -> Vec<u8> {
    let enc = match charset {
        "koi8-r" => encoding_rs::KOI8_R,
        "windows-1251" => encoding_rs::WINDOWS_1251,
        _ => return text.as_bytes().to_vec(),
    };
    enc.encode(text).0.into_owned()
}

/// Word-wraps to lines of at most `width` characters, LF-terminated.
fn wrap(text: &str, width: usize) -> String {
    let mut out = String::new();
    let mut col = 0;
    for w in text.split(' ').filter(|w| !w.is_empty()) {
        let len = w.chars().count();
        if col > 0 && col + 1 + len > width {
            out.push('\n');
            col = 0;
        } else if col > 0 {
            out.push(' ');
            col += 1;
        }
        out.push_str(w);
        col += len;
    }
    out.push('\n');
    out
}

fn crlf(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 40);
    for &b in bytes {
        if b == b'\n' {
            out.push(b'\r');
        }
        out.push(b);
    }
    out
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 without line breaks.
pub fn base64(data: &[u8]) -> String {
    let mut out = Vec::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let v = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let sym = |k: u32| B64[((v >> (18 - 6 * k)) & 63) as usize];
        out.extend_from_slice(&[
            sym(0),
            sym(1),
            if chunk.len() > 1 { sym(2) } else { b'=' },
            if chunk.len() > 2 { sym(3) } else { b'=' },
        ]);
    }
    // Only ASCII from the alphabet above.
    String::from_utf8_lossy(&out).into_owned()
}

/// Base64 in CRLF-terminated lines of 76 characters.
fn base64_lines(data: &[u8]) -> Vec<u8> {
    let enc = base64(data);
    let mut out = Vec::with_capacity(enc.len() + enc.len() / 38 + 2);
    for line in enc.as_bytes().chunks(76) {
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Quoted-printable (RFC 2045) with soft line breaks; input lines end in LF.
fn quoted_printable(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() * 3);
    for line in data.split(|&b| b == b'\n') {
        let mut col = 0;
        for (k, &b) in line.iter().enumerate() {
            let last = k + 1 == line.len();
            let literal =
                ((b == b' ' || b == b'\t') && !last) || ((33..=126).contains(&b) && b != b'=');
            let piece_len = if literal { 1 } else { 3 };
            if col + piece_len > 75 {
                out.extend_from_slice(b"=\r\n");
                col = 0;
            }
            if literal {
                out.push(b);
            } else {
                const HEX: &[u8; 16] = b"0123456789ABCDEF";
                out.extend_from_slice(&[b'=', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
            }
            col += piece_len;
        }
        out.extend_from_slice(b"\r\n");
    }
    // `split` yields an empty last piece after the final LF.
    if data.ends_with(b"\n") {
        out.truncate(out.len() - 2);
    }
    out
}

/// A header value, RFC 2047-encoded (UTF-8, B) when it is not plain ASCII,
/// folded into encoded words of at most 75 characters.
pub fn encode_header(value: &str) -> String {
    if value.is_ascii() {
        return value.to_string();
    }
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in value.chars() {
        if chunk.len() + c.len_utf8() > 45 {
            words.push(format!("=?utf-8?b?{}?=", base64(chunk.as_bytes())));
            chunk.clear();
        }
        chunk.push(c);
    }
    if !chunk.is_empty() {
        words.push(format!("=?utf-8?b?{}?=", base64(chunk.as_bytes())));
    }
    words.join("\r\n ")
}
