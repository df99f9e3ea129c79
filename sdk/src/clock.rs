//! Wall-clock time as the host sees it (tests can fix it, so plugins must
//! not read time any other way).

use crate::{Date, Timestamp};

/// The current instant.
pub fn now() -> Timestamp {
    crate::platform::clock::now()
}

/// The current instant in milliseconds since the Unix epoch.
pub fn now_millis() -> i64 {
    now().as_millis()
}

/// Today's date in UTC.
pub fn today_utc() -> Date {
    Date::from_timestamp(now())
}
