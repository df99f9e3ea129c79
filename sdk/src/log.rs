//! Structured logging through the host.
//!
//! The host tags every line with tenant, plugin and instance, so messages
//! carry only what happened. Use the macros ([`info!`](crate::info) …) for
//! `format!`-style messages.

pub use crate::platform::log::Level;

/// Log `message` at `level`.
pub fn log(level: Level, message: &str) {
    crate::platform::log::log(level, message);
}

/// Log at `trace` level.
pub fn trace(message: &str) {
    log(Level::Trace, message);
}

/// Log at `debug` level.
pub fn debug(message: &str) {
    log(Level::Debug, message);
}

/// Log at `info` level.
pub fn info(message: &str) {
    log(Level::Info, message);
}

/// Log at `warn` level.
pub fn warn(message: &str) {
    log(Level::Warn, message);
}

/// Log at `error` level.
pub fn error(message: &str) {
    log(Level::Error, message);
}

/// Log a `format!`-style message at `trace` level.
#[macro_export]
macro_rules! trace {
    ($($arg:tt)*) => { $crate::log::log($crate::log::Level::Trace, &::std::format!($($arg)*)) };
}

/// Log a `format!`-style message at `debug` level.
#[macro_export]
macro_rules! debug {
    ($($arg:tt)*) => { $crate::log::log($crate::log::Level::Debug, &::std::format!($($arg)*)) };
}

/// Log a `format!`-style message at `info` level.
#[macro_export]
macro_rules! info {
    ($($arg:tt)*) => { $crate::log::log($crate::log::Level::Info, &::std::format!($($arg)*)) };
}

/// Log a `format!`-style message at `warn` level.
#[macro_export]
macro_rules! warn {
    ($($arg:tt)*) => { $crate::log::log($crate::log::Level::Warn, &::std::format!($($arg)*)) };
}

/// Log a `format!`-style message at `error` level.
#[macro_export]
macro_rules! error {
    ($($arg:tt)*) => { $crate::log::log($crate::log::Level::Error, &::std::format!($($arg)*)) };
}
