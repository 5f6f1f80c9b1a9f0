//! Render scheduling for the desk: at most one render per mail and options at
//! a time, renders the interface no longer wants are cancelled, and rendered
//! mails are cached within a byte budget. It never touches the store.

use crate::mail::render::{RenderOptions, RenderedMail};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Bytes of rendered text kept for going back to a mail.
pub const CACHE_BUDGET_BYTES: usize = 64 << 20;

/// What to do about a render the interface asked for.
pub enum Ticket {
    /// Already rendered: show this.
    Cached(Arc<RenderedMail>),
    /// The same render is running; its result will be sent.
    Running,
    /// Render now, stopping as soon as the flag is set.
    Start(Arc<AtomicBool>),
}

type Key = (u64, String);

fn key(id: u64, o: &RenderOptions) -> Key {
    (
        id,
        format!(
            "{}:{}:{}:{:?}",
            o.all_headers, o.show_quotes, o.width, o.tz_offset_secs
        ),
    )
}

/// Roughly the heap a rendered mail holds.
pub fn rendered_bytes(m: &RenderedMail) -> usize {
    const PER_STRING: usize = 32;
    m.lines
        .iter()
        .map(|l| l.text.len() + PER_STRING)
        .chain(
            m.headers
                .iter()
                .map(|(n, v)| n.len() + v.len() + 2 * PER_STRING),
        )
        .chain(m.links.iter().map(|l| l.len() + PER_STRING))
        .chain(
            m.attachments
                .iter()
                .map(|a| a.name.len() + a.mime.len() + 64),
        )
        .sum()
}

#[derive(Default)]
struct Inner {
    /// Most recent first: (key, mail, its bytes).
    cache: VecDeque<(Key, Arc<RenderedMail>, usize)>,
    cached_bytes: usize,
    running: Vec<(Key, Arc<AtomicBool>)>,
    /// The render the interface asked for last.
    wanted: Option<(u64, RenderOptions)>,
    /// Mails whose whole body is being fetched.
    fetching: std::collections::HashSet<u64>,
}

/// The desk's renders: running ones and the cache.
pub struct RenderQueue {
    inner: Mutex<Inner>,
    budget: usize,
}

impl Default for RenderQueue {
    fn default() -> Self {
        RenderQueue::with_budget(CACHE_BUDGET_BYTES)
    }
}

impl RenderQueue {
    pub fn with_budget(budget: usize) -> RenderQueue {
        RenderQueue {
            inner: Mutex::new(Inner::default()),
            budget,
        }
    }

    /// The interface wants mail `id` rendered with `o`; every other running
    /// render is no longer wanted and is cancelled.
    pub fn request(&self, id: u64, o: &RenderOptions) -> Ticket {
        let k = key(id, o);
        let Ok(mut g) = self.inner.lock() else {
            return Ticket::Start(Arc::new(AtomicBool::new(false)));
        };
        for (rk, flag) in &g.running {
            if *rk != k {
                flag.store(true, Ordering::Relaxed);
            }
        }
        g.wanted = Some((id, o.clone()));
        if let Some(pos) = g.cache.iter().position(|(ck, _, _)| *ck == k)
            && let Some(entry) = g.cache.remove(pos)
        {
            let mail = Arc::clone(&entry.1);
            g.cache.push_front(entry);
            return Ticket::Cached(mail);
        }
        let running = g
            .running
            .iter()
            .any(|(rk, flag)| *rk == k && !flag.load(Ordering::Relaxed));
        if running {
            return Ticket::Running;
        }
        let flag = Arc::new(AtomicBool::new(false));
        g.running.push((k, Arc::clone(&flag)));
        Ticket::Start(flag)
    }

    /// A render started by [`RenderQueue::request`] ended. Returns the mail to
    /// show, or `None` when it was cancelled.
    pub fn finish(
        &self,
        id: u64,
        o: &RenderOptions,
        flag: &Arc<AtomicBool>,
        mail: Option<RenderedMail>,
    ) -> Option<Arc<RenderedMail>> {
        let k = key(id, o);
        let mut g = self.inner.lock().ok()?;
        g.running.retain(|(_, f)| !Arc::ptr_eq(f, flag));
        let mail = Arc::new(mail.filter(|_| !flag.load(Ordering::Relaxed))?);
        let bytes = rendered_bytes(&mail);
        g.cached_bytes += bytes;
        g.cache.push_front((k, Arc::clone(&mail), bytes));
        // The newest entry stays even alone over budget: the reader shows it.
        while g.cached_bytes > self.budget && g.cache.len() > 1 {
            if let Some((_, _, b)) = g.cache.pop_back() {
                g.cached_bytes -= b;
            }
        }
        Some(mail)
    }

    /// The mail and options the interface asked for last.
    pub fn wanted(&self) -> Option<(u64, RenderOptions)> {
        self.inner.lock().ok().and_then(|g| g.wanted.clone())
    }

    /// Drop every cached rendering of mail `id` (its body changed).
    pub fn forget(&self, id: u64) {
        if let Ok(mut g) = self.inner.lock() {
            let mut freed = 0;
            g.cache.retain(|((cid, _), _, b)| {
                let keep = *cid != id;
                if !keep {
                    freed += b;
                }
                keep
            });
            g.cached_bytes -= freed;
        }
    }

    /// Whether to start fetching the whole body of `id` (not already doing so).
    pub fn claim_fetch(&self, id: u64) -> bool {
        self.inner.lock().is_ok_and(|mut g| g.fetching.insert(id))
    }

    pub fn fetch_done(&self, id: u64) {
        if let Ok(mut g) = self.inner.lock() {
            g.fetching.remove(&id);
        }
    }

    /// Bytes held by the cache and its number of entries.
    pub fn cache_size(&self) -> (usize, usize) {
        self.inner
            .lock()
            .map(|g| (g.cached_bytes, g.cache.len()))
            .unwrap_or((0, 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::render::{LineKind, RenderedLine};

    fn mail(text_bytes: usize) -> RenderedMail {
        RenderedMail {
            lines: vec![RenderedLine {
                kind: LineKind::Body,
                text: "x".repeat(text_bytes),
            }],
            ..RenderedMail::default()
        }
    }

    fn start(t: Ticket) -> Arc<AtomicBool> {
        match t {
            Ticket::Start(f) => f,
            _ => panic!("expected a new render"),
        }
    }

    #[test]
    fn the_same_mail_is_rendered_once_at_a_time() {
        let q = RenderQueue::default();
        let o = RenderOptions::default();
        let flag = start(q.request(1, &o));
        assert!(matches!(q.request(1, &o), Ticket::Running));
        assert!(q.finish(1, &o, &flag, Some(mail(10))).is_some());
        assert!(matches!(q.request(1, &o), Ticket::Cached(_)));
    }

    #[test]
    fn selecting_another_mail_cancels_the_running_render() {
        let q = RenderQueue::default();
        let o = RenderOptions::default();
        let first = start(q.request(1, &o));
        let second = start(q.request(2, &o));
        assert!(first.load(Ordering::Relaxed));
        assert!(!second.load(Ordering::Relaxed));
        assert!(q.finish(1, &o, &first, Some(mail(10))).is_none());
        assert_eq!(q.cache_size().1, 0);
        // Coming back to the first mail starts it again.
        start(q.request(1, &o));
    }

    #[test]
    fn a_resize_cancels_the_render_at_the_old_width() {
        let q = RenderQueue::default();
        let narrow = RenderOptions {
            width: 40,
            ..RenderOptions::default()
        };
        let wide = RenderOptions::default();
        let old = start(q.request(1, &narrow));
        start(q.request(1, &wide));
        assert!(old.load(Ordering::Relaxed));
    }

    #[test]
    fn the_cache_keeps_within_its_byte_budget() {
        let q = RenderQueue::with_budget(10_000);
        let o = RenderOptions::default();
        for id in 0..10 {
            let f = start(q.request(id, &o));
            q.finish(id, &o, &f, Some(mail(3_000)));
        }
        let (bytes, entries) = q.cache_size();
        assert!(bytes <= 10_000, "{bytes}");
        assert_eq!(entries, 3);
        assert!(matches!(q.request(9, &o), Ticket::Cached(_)));
        assert!(matches!(q.request(0, &o), Ticket::Start(_)));
        // One mail bigger than the budget is still kept while shown.
        let f = start(q.request(99, &o));
        q.finish(99, &o, &f, Some(mail(50_000)));
        assert_eq!(q.cache_size().1, 1);
    }
}
