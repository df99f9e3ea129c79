//! A plugin's stderr, turned into log lines that say who wrote them.
//!
//! Rust guests print their panic message to stderr. Inherited, those bytes
//! landed in the host's own stderr with nothing to tell which tenant's
//! plugin wrote them, interleaved with other instances' output. Here every
//! line goes to the log (target `hamgam::plugin`) and the audit trail with
//! tenant, instance and plugin, cut at 4,096 bytes and escaped like
//! `log` lines (`log_line.rs`).

use super::backends::CallEvent;
use super::instance::InstanceContext;
use bytes::Bytes;
use std::sync::{Arc, Mutex};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// Longest line kept; a longer run without a newline is cut into lines.
const MAX_LINE: usize = 4096;

/// The stderr of one store.
#[derive(Clone)]
pub(crate) struct PluginStderr {
    lines: Arc<Lines>,
}

struct Lines {
    ctx: Arc<InstanceContext>,
    /// Bytes after the last newline.
    partial: Mutex<Vec<u8>>,
}

impl PluginStderr {
    pub(crate) fn new(ctx: Arc<InstanceContext>) -> Self {
        PluginStderr {
            lines: Arc::new(Lines {
                ctx,
                partial: Mutex::new(Vec::new()),
            }),
        }
    }
}

impl Lines {
    fn write(&self, bytes: &[u8]) {
        let mut partial = self.partial.lock().unwrap_or_else(|p| p.into_inner());
        for &b in bytes {
            if b == b'\n' {
                self.emit(&partial);
                partial.clear();
            } else {
                partial.push(b);
                if partial.len() >= MAX_LINE {
                    self.emit(&partial);
                    partial.clear();
                }
            }
        }
    }

    fn finish(&self) {
        let mut partial = self.partial.lock().unwrap_or_else(|p| p.into_inner());
        if !partial.is_empty() {
            self.emit(&partial);
            partial.clear();
        }
    }

    fn emit(&self, line: &[u8]) {
        let line = String::from_utf8_lossy(line);
        // Escaped like `log` messages: a carriage return, terminal escape
        // or Unicode line separator inside cannot fake or rewrite a line.
        let line = super::log_line::escape(line.trim_end_matches('\r'));
        let line = line.as_ref();
        let scope = &self.ctx.scope;
        tracing::warn!(target: "hamgam::plugin", tenant = %scope.tenant, instance = %scope.instance, plugin = %self.ctx.plugin_id, "stderr: {line}");
        self.ctx.services.recorder.record(CallEvent {
            tenant: &scope.tenant,
            instance: &scope.instance,
            call: "stderr",
            detail: line,
            allowed: true,
        });
    }
}

impl IsTerminal for PluginStderr {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for PluginStderr {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(Writer(self.lines.clone()))
    }

    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(Writer(self.lines.clone()))
    }
}

/// One handle on the stream, as the guest gets it. Writing never blocks:
/// a line is logged as soon as its newline arrives, a trailing partial
/// line when the last handle goes.
struct Writer(Arc<Lines>);

impl Drop for Writer {
    fn drop(&mut self) {
        // The guest dropped its handle (or its store went): whatever it
        // wrote without a final newline is still worth a line.
        self.0.finish();
    }
}

#[async_trait::async_trait]
impl Pollable for Writer {
    async fn ready(&mut self) {}
}

impl OutputStream for Writer {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.0.write(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(64 * 1024)
    }
}

impl tokio::io::AsyncWrite for Writer {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.0.write(buf);
        std::task::Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        self.0.finish();
        std::task::Poll::Ready(Ok(()))
    }
}
