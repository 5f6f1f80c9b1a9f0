//! In-process benchmark of ingest's CPU outside the sync: parsing the
//! harness's generated mailbox, then committing it (linking decisions and
//! batch building) to a fresh store. Run by `benches/parse_bench.sh`; prints
//! one `BENCH parse` line and asserts only that every mail was parsed.

mod support;

use std::sync::Arc;
use std::time::Instant;

use deskmail::crm::linking::LinkRules;
use deskmail::store::{Record, RecordKind, Store};
use deskmail::sync::pipeline::{Extras, Incoming, Steps};

/// CPU time of the calling thread, in seconds.
fn thread_cpu_s() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the timespec it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

#[test]
#[ignore = "benchmark: run by benches/parse_bench.sh"]
fn bench_parse_generated_mailbox() {
    let n: usize = std::env::var("BENCH_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let mails = support::gen_mailbox(n, 42);
    let bytes: usize = mails.iter().map(Vec::len).sum();
    let rules = Arc::new(LinkRules {
        own: vec!["support@desk.example".into(), "desk@desk.example".into()],
        system_address: Some("desk@desk.example".into()),
        ..LinkRules::default()
    });
    let own = Arc::new(vec!["support@desk.example".to_string()]);
    let steps = Steps::new(Arc::clone(&rules), own);
    let incoming = |uid: usize, raw: Vec<u8>| Incoming {
        account: "support".into(),
        folder: "INBOX".into(),
        uidvalidity: 1,
        uid: u32::try_from(uid + 1).expect("uid"),
        flags: 0,
        raw,
        reported_size: 0,
        inherit_links_of: None,
    };

    let batch: Vec<Incoming> = mails
        .into_iter()
        .enumerate()
        .map(|(i, raw)| incoming(i, raw))
        .collect();
    let (cpu0, wall0) = (thread_cpu_s(), Instant::now());
    let parsed: Vec<_> = batch.into_iter().map(|m| steps.parse(m)).collect();
    let parse_cpu = thread_cpu_s() - cpu0;
    let parse_wall = wall0.elapsed().as_secs_f64();
    assert_eq!(parsed.len(), n);

    // Every tenth customer is a contact, so linking finds matches too.
    let dir = tempfile::tempdir().expect("tmp");
    let store = Store::open(dir.path()).expect("open");
    for k in (0..support::mailgen::CUSTOMER_COUNT).step_by(10) {
        let mut c = Record::new(RecordKind::Contact, format!("Client {k}"));
        c.emails = vec![format!("client{k}@example{}.com", k % 97)];
        store.put_record(c).expect("contact");
    }
    let cpu1 = thread_cpu_s();
    let mut rest = parsed;
    while !rest.is_empty() {
        let tail = rest.split_off(500.min(rest.len()));
        let part = std::mem::replace(&mut rest, tail);
        steps
            .commit_to(&store, part, Extras::default())
            .expect("commit");
    }
    let commit_cpu = thread_cpu_s() - cpu1;
    println!(
        "BENCH parse mails={n} mb={:.1} cpu_s={parse_cpu:.3} wall_s={parse_wall:.3} us_per_mail={:.1} \
         | commit_cpu_s={commit_cpu:.3} (batches of 500, linking and building; sled's own threads not counted) \
         | load average {}",
        bytes as f64 / 1e6,
        parse_cpu * 1e6 / n as f64,
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split(' ')
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
}
