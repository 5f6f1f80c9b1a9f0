//! How sizes and dates read on screen and in reasons, in one place. Pure:
//! the time zone and "now" come from the caller's [`Clock`], never the system.

use chrono::{FixedOffset, Local, Offset, TimeZone};

/// "512 B", "12.3 KB", "10 MB" (a whole number shows no decimal), "1.2 GB".
pub fn human_size(n: u64) -> String {
    let (unit, name) = match n {
        0..1024 => return format!("{n} B"),
        1024..0x10_0000 => (1u64 << 10, "KB"),
        0x10_0000..0x4000_0000 => (1 << 20, "MB"),
        _ => (1 << 30, "GB"),
    };
    if n.is_multiple_of(unit) {
        format!("{} {name}", n / unit)
    } else {
        format!("{:.1} {name}", n as f64 / unit as f64)
    }
}

/// The time zone dates are shown in and the moment that counts as now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    /// Seconds east of UTC.
    pub tz_offset_secs: i32,
    /// Unix seconds.
    pub now: i64,
}

impl Clock {
    /// The system's time zone and time, read once by the caller.
    pub fn local() -> Clock {
        let now = chrono::Utc::now();
        Clock {
            tz_offset_secs: now.with_timezone(&Local).offset().fix().local_minus_utc(),
            now: now.timestamp(),
        }
    }

    /// UTC at a fixed moment (tests, reproducible screens).
    pub fn utc_at(now: i64) -> Clock {
        Clock {
            tz_offset_secs: 0,
            now,
        }
    }

    fn format(&self, ts: i64, fmt: &str) -> String {
        FixedOffset::east_opt(self.tz_offset_secs)
            .and_then(|tz| tz.timestamp_opt(ts, 0).single())
            .map(|d| d.format(fmt).to_string())
            .unwrap_or_default()
    }

    /// "Nov 25 14:03", for list rows.
    pub fn short_date(&self, ts: i64) -> String {
        self.format(ts, "%b %d %H:%M")
    }

    /// "14:03:09", for today's events such as a retry.
    pub fn time_of_day(&self, ts: i64) -> String {
        self.format(ts, "%H:%M:%S")
    }

    /// "2026-11-25 14:03".
    pub fn date_time(&self, ts: i64) -> String {
        self.format(ts, "%Y-%m-%d %H:%M")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_in_binary_units_with_one_decimal() {
        assert_eq!(human_size(512), "512 B");
        assert_eq!(human_size(2048), "2 KB");
        assert_eq!(human_size(3000), "2.9 KB");
        assert_eq!(human_size(12_595), "12.3 KB");
        assert_eq!(human_size(10 * 1024 * 1024), "10 MB");
        assert_eq!(human_size((3 << 30) + (1 << 29)), "3.5 GB");
    }

    #[test]
    fn dates_follow_the_clocks_time_zone_not_the_systems() {
        let utc = Clock::utc_at(0);
        assert_eq!(utc.short_date(0), "Jan 01 00:00");
        let east = Clock {
            tz_offset_secs: 3 * 3600,
            now: 0,
        };
        assert_eq!(east.date_time(0), "1970-01-01 03:00");
        assert_eq!(east.time_of_day(59), "03:00:59");
    }
}
