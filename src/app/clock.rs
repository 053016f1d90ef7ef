//! The one clock of the application. Everything else takes dates as arguments.

use chrono::{DateTime, Local, NaiveDate, NaiveDateTime, SecondsFormat, Utc};

/// Where "now" comes from: the system in production, a fixed instant in tests and replays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    System,
    /// A fixed local date and time.
    Fixed(NaiveDateTime),
}

impl Clock {
    pub fn fixed_on(date: NaiveDate) -> Self {
        Clock::Fixed(date.and_hms_opt(12, 0, 0).unwrap_or_default())
    }

    /// The local date and time (the bureau's working day follows the server's time zone).
    pub fn now_local(&self) -> NaiveDateTime {
        match self {
            Clock::System => Local::now().naive_local(),
            Clock::Fixed(t) => *t,
        }
    }

    /// Now in UTC (a fixed clock's local time is taken as UTC).
    pub fn now_utc(&self) -> DateTime<Utc> {
        match self {
            Clock::System => Utc::now(),
            Clock::Fixed(t) => DateTime::<Utc>::from_naive_utc_and_offset(*t, Utc),
        }
    }

    pub fn today(&self) -> NaiveDate {
        self.now_local().date()
    }

    /// A timestamp for records and the audit log.
    pub fn stamp(&self) -> String {
        match self {
            Clock::System => Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
            Clock::Fixed(t) => DateTime::<Utc>::from_naive_utc_and_offset(*t, Utc)
                .to_rfc3339_opts(SecondsFormat::Secs, true),
        }
    }
}
