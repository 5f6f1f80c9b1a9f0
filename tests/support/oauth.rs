//! A token-introspection endpoint (RFC 7662) on loopback for Dovecot's
//! `oauth2` passdb: the test grants and revokes tokens, Dovecot POSTs
//! `token=…` and gets `{"active": …, "username": …}` back.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub struct TokenServer {
    pub port: u16,
    tokens: Arc<Mutex<HashMap<String, String>>>,
    /// How many introspection requests arrived.
    hits: Arc<Mutex<usize>>,
    stop: Arc<AtomicBool>,
}

impl TokenServer {
    pub fn start() -> TokenServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind token server");
        let port = listener.local_addr().expect("local addr").port();
        let tokens: Arc<Mutex<HashMap<String, String>>> = Arc::default();
        let hits: Arc<Mutex<usize>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (t, h, s) = (Arc::clone(&tokens), Arc::clone(&hits), Arc::clone(&stop));
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(conn) = conn {
                    if let Ok(mut n) = h.lock() {
                        *n += 1;
                    }
                    let _ = answer(conn, &t);
                }
            }
        });
        TokenServer {
            port,
            tokens,
            hits,
            stop,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/introspect", self.port)
    }

    /// `token` is valid for `user` from now on.
    pub fn grant(&self, token: &str, user: &str) {
        self.tokens
            .lock()
            .expect("tokens")
            .insert(token.to_string(), user.to_string());
    }

    pub fn revoke(&self, token: &str) {
        self.tokens.lock().expect("tokens").remove(token);
    }

    pub fn hits(&self) -> usize {
        *self.hits.lock().expect("hits")
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn answer(mut conn: TcpStream, tokens: &Mutex<HashMap<String, String>>) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let (head_end, length) = loop {
        let n = conn.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            break (end + 4, length);
        }
    };
    while buf.len() < head_end + length {
        let n = conn.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = String::from_utf8_lossy(&buf[head_end..]).to_string();
    let token = body
        .split('&')
        .find_map(|kv| kv.strip_prefix("token="))
        .unwrap_or("")
        .to_string();
    let user = tokens.lock().ok().and_then(|t| t.get(&token).cloned());
    let json = match user {
        Some(u) => format!("{{\"active\":true,\"username\":\"{u}\"}}"),
        None => "{\"active\":false}".to_string(),
    };
    let reply = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{json}",
        json.len()
    );
    conn.write_all(reply.as_bytes())
}
