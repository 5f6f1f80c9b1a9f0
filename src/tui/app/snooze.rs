//! Snooze: which mails (the marked ones, or the selected thread on screen)
//! and until when, read from what the agent typed: `2h`, `tomorrow 9:00`, `mon`.

use super::{App, LineInput, Overlay, Prompt, PromptPurpose};
use crate::mail::format::Clock;
use crate::protocol::Command;
use chrono::{Datelike, Duration, FixedOffset, NaiveTime, TimeZone, Weekday};

impl App {
    /// Ask until when to snooze the marked mails or the selected thread.
    pub(super) fn ask_snooze(&mut self) -> Vec<Command> {
        let ids: Vec<u64> = if self.list.marks.is_empty() {
            let Some(tid) = self.list.selected().map(|r| r.summary.thread_id) else {
                return vec![];
            };
            self.list
                .rows
                .iter()
                .filter(|r| r.summary.thread_id == tid)
                .map(|r| r.summary.id)
                .collect()
        } else {
            self.list.marks.keys().copied().collect()
        };
        self.overlay = Some(Overlay::Prompt(Box::new(Prompt {
            label: "Snooze until (2h, 3d, tomorrow 9:00, mon, 17:30):".into(),
            input: LineInput::default(),
            purpose: PromptPurpose::Snooze {
                ids,
                account: self.list.account.clone(),
                folder: self.list.folder.clone(),
            },
        })));
        vec![]
    }

    pub(super) fn answer_snooze(
        &mut self,
        input: &str,
        ids: Vec<u64>,
        account: String,
        folder: String,
    ) -> Vec<Command> {
        match snooze_until(input, &self.clock) {
            Some(until) => {
                self.list.marks.clear();
                vec![Command::Snooze {
                    ids,
                    account,
                    folder,
                    until,
                }]
            }
            None => {
                self.error(format!(
                    "\"{input}\" is not a time: try 2h, 3d, tomorrow 9:00, mon or 17:30."
                ));
                vec![]
            }
        }
    }
}

/// When `text` means, seen from `clock`: `30m` `2h` `3d`, `tomorrow [9:00]`,
/// a weekday `mon`… (next one, 9:00 unless a time follows), or `17:30`
/// (today, or tomorrow once past).
pub fn snooze_until(text: &str, clock: &Clock) -> Option<i64> {
    let text = text.trim().to_lowercase();
    let mut words = text.split_whitespace();
    let first = words.next()?;
    let time = match words.next() {
        Some(t) => Some(NaiveTime::parse_from_str(t, "%H:%M").ok()?),
        None => None,
    };
    if words.next().is_some() {
        return None;
    }
    if let Some(n) = first
        .strip_suffix(['m', 'h', 'd'])
        .and_then(|n| n.parse::<i64>().ok())
        && time.is_none()
        && n > 0
    {
        let unit = match first.chars().last()? {
            'm' => 60,
            'h' => 3600,
            _ => 86_400,
        };
        return Some(clock.now + n.checked_mul(unit)?);
    }
    let tz = FixedOffset::east_opt(clock.tz_offset_secs)?;
    let now = tz.timestamp_opt(clock.now, 0).single()?;
    let nine = NaiveTime::from_hms_opt(9, 0, 0)?;
    let at = |days: i64, t: NaiveTime| {
        let day = now.date_naive() + Duration::days(days);
        tz.from_local_datetime(&day.and_time(t))
            .single()
            .map(|d| d.timestamp())
    };
    if let Ok(t) = NaiveTime::parse_from_str(first, "%H:%M") {
        if time.is_some() {
            return None;
        }
        let today = at(0, t)?;
        return if today > clock.now {
            Some(today)
        } else {
            at(1, t)
        };
    }
    if first == "tomorrow" {
        return at(1, time.unwrap_or(nine));
    }
    let day: Weekday = first.parse().ok()?;
    let ahead = (day.num_days_from_monday() as i64 - now.weekday().num_days_from_monday() as i64)
        .rem_euclid(7);
    at(if ahead == 0 { 7 } else { ahead }, time.unwrap_or(nine))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Tuesday 2026-12-01 15:00 UTC.
    const NOW: i64 = 1_796_137_200;

    #[test]
    fn durations_weekdays_tomorrow_and_clock_times() {
        let c = Clock::utc_at(NOW);
        assert_eq!(snooze_until("2h", &c), Some(NOW + 7200));
        assert_eq!(snooze_until("30m", &c), Some(NOW + 1800));
        assert_eq!(snooze_until("3d", &c), Some(NOW + 3 * 86_400));
        // Wednesday 09:00.
        assert_eq!(snooze_until("tomorrow", &c), Some(NOW + 18 * 3600));
        assert_eq!(snooze_until("Tomorrow 9:00", &c), Some(NOW + 18 * 3600));
        // Next Monday 09:00 is six days later; "tue" is a week ahead.
        assert_eq!(snooze_until("mon", &c), Some(NOW + 5 * 86_400 + 18 * 3600));
        assert_eq!(snooze_until("tue", &c), Some(NOW + 6 * 86_400 + 18 * 3600));
        assert_eq!(snooze_until("17:30", &c), Some(NOW + 9000));
        assert_eq!(snooze_until("8:00", &c), Some(NOW + 17 * 3600));
        for bad in ["", "soon", "2x", "-2h", "mon 25:00", "tomorrow 9:00 pm"] {
            assert_eq!(snooze_until(bad, &c), None, "{bad}");
        }
    }

    #[test]
    fn a_time_zone_east_of_utc_counts_in_local_days() {
        // 15:00 UTC is 18:00 at +3: tomorrow 9:00 local is 06:00 UTC.
        let c = Clock {
            tz_offset_secs: 3 * 3600,
            now: NOW,
        };
        assert_eq!(snooze_until("tomorrow", &c), Some(NOW + 15 * 3600));
    }
}
