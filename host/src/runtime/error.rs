//! Typed errors of the runtime: loading a plugin, and calling one.

/// A limit the runtime enforced inside a call. Carried as the trap's error
/// so the caller can tell a limit from a bug.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitHit {
    /// The instance tried to grow its memory past the cap.
    #[error("memory limit of {cap_bytes} bytes exceeded")]
    Memory {
        /// The cap.
        cap_bytes: usize,
    },
    /// The call used up its CPU deadline.
    #[error("call deadline of {ms} ms exceeded")]
    Deadline {
        /// The deadline.
        ms: u64,
    },
}

/// Why a plugin could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Its manifest is missing or invalid.
    #[error(transparent)]
    Manifest(#[from] hamgam_trust::manifest::ManifestError),
    /// wasmtime refused to compile it.
    #[error("plugin `{id}` does not compile: {message}")]
    Compile {
        /// Plugin id.
        id: String,
        /// wasmtime's message.
        message: String,
    },
    /// Its imports or exports do not match the world its manifest names.
    #[error("plugin `{id}` does not fit the `{world}` world: {message}")]
    World {
        /// Plugin id.
        id: String,
        /// The world from its manifest.
        world: &'static str,
        /// The linker's message (which import is missing, which type differs).
        message: String,
    },
    /// Reading the file failed.
    #[error("cannot read plugin {path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Why a call into a plugin failed. Business failures are not here: they
/// come back as the WIT `error` inside a successful call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// Wasm execution went past the CPU deadline; the instance was discarded.
    #[error("`{call}` exceeded its deadline of {ms} ms")]
    Deadline {
        /// The export called.
        call: String,
        /// The deadline.
        ms: u64,
    },
    /// The whole call, host I/O included, went past the wall-clock timeout.
    #[error("`{call}` timed out after {ms} ms")]
    Timeout {
        /// The export called.
        call: String,
        /// The timeout.
        ms: u64,
    },
    /// The instance wanted more memory than its cap.
    #[error("`{call}` exceeded the memory limit of {cap_mib} MiB")]
    Memory {
        /// The export called.
        call: String,
        /// The cap.
        cap_mib: u64,
    },
    /// The wasm stack overflowed (unbounded recursion).
    #[error("`{call}` overflowed its stack")]
    StackOverflow {
        /// The export called.
        call: String,
    },
    /// Any other trap: a panic, an unreachable, a bad host call.
    #[error("`{call}` trapped: {message}")]
    Trap {
        /// The export called.
        call: String,
        /// wasmtime's description.
        message: String,
    },
    /// The module's `describe` broke a rule of the host's (a bad route, a
    /// record type its manifest does not declare).
    #[error("{0}")]
    Describe(String),
    /// A fresh instance could not be created.
    #[error("cannot instantiate plugin: {0}")]
    Instantiate(String),
    /// The call does not exist for this plugin's world.
    #[error("`{call}` is not an export of a {kind} plugin")]
    WrongWorld {
        /// The export asked for.
        call: String,
        /// The plugin's kind.
        kind: hamgam_trust::manifest::PluginKind,
    },
    /// The plugin was built before its world gained this (optional)
    /// export: rebuilding it with the current SDK adds it.
    #[error(
        "`{call}`: the plugin does not export `{interface}` (built before it was added to its world)"
    )]
    NotExported {
        /// The export asked for.
        call: String,
        /// The interface it belongs to.
        interface: String,
    },
}

impl CallError {
    /// Short machine-readable name, used in metrics and API errors.
    pub fn code(&self) -> &'static str {
        match self {
            CallError::Deadline { .. } => "deadline",
            CallError::Timeout { .. } => "timeout",
            CallError::Memory { .. } => "memory",
            CallError::StackOverflow { .. } => "stack-overflow",
            CallError::Trap { .. } => "trap",
            CallError::Describe(_) => "describe",
            CallError::Instantiate(_) => "instantiate",
            CallError::WrongWorld { .. } => "wrong-world",
            CallError::NotExported { .. } => "not-exported",
        }
    }
}

/// A plugin's business error as one line for people (logs, the outbox's
/// and the event log's `last_error`).
pub fn render(e: &crate::runtime::bindings::types::Error) -> String {
    use crate::runtime::bindings::types::Error as E;
    match e {
        E::NotFound(m) => format!("not found: {m}"),
        E::InvalidInput(f) => format!("invalid {}: {}", f.field, f.message),
        E::Unauthorized(m) => format!("unauthorized: {m}"),
        E::Denied(m) => format!("denied: {m}"),
        E::Conflict(m) => format!("conflict: {m}"),
        E::VersionMismatch(m) => format!("version mismatch: {m}"),
        E::Unavailable(m) => format!("unavailable: {m}"),
        E::Unsupported(m) => format!("unsupported: {m}"),
        E::Other(m) => m.clone(),
    }
}
