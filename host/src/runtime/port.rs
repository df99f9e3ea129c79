//! The device byte port behind `hamgam:hardware/port`: a TCP connection
//! or a serial device, opened lazily on first use and reopened after an
//! error, so a scale that was switched off and on again keeps working.

use super::bindings::types;
use crate::config::PortGrant;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

trait Stream: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Stream for T {}

/// An open (or not yet opened) device port.
pub struct PortConn {
    grant: PortGrant,
    stream: Option<Box<dyn Stream>>,
}

impl PortConn {
    pub(crate) fn new(grant: PortGrant) -> Self {
        PortConn {
            grant,
            stream: None,
        }
    }

    async fn open(&mut self) -> Result<&mut Box<dyn Stream>, types::Error> {
        if self.stream.is_none() {
            let stream: Box<dyn Stream> = if let Some(addr) = &self.grant.tcp {
                let s = tokio::time::timeout(
                    Duration::from_secs(5),
                    tokio::net::TcpStream::connect(addr),
                )
                .await
                .map_err(|_| {
                    types::Error::Unavailable(format!("device at {addr}: connect timed out"))
                })?
                .map_err(|e| types::Error::Unavailable(format!("device at {addr}: {e}")))?;
                Box::new(s)
            } else if let Some(path) = &self.grant.serial {
                let f = tokio::fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(path)
                    .await
                    .map_err(|e| {
                        types::Error::Unavailable(format!("device {}: {e}", path.display()))
                    })?;
                Box::new(f)
            } else {
                return Err(types::Error::Denied("no device port is granted".into()));
            };
            self.stream = Some(stream);
        }
        self.stream
            .as_mut()
            .ok_or_else(|| types::Error::Other("port closed".into()))
    }

    pub(crate) async fn write(&mut self, bytes: &[u8]) -> Result<u32, types::Error> {
        let stream = self.open().await?;
        let result = stream.write_all(bytes).await.and(stream.flush().await);
        match result {
            Ok(()) => Ok(bytes.len() as u32),
            Err(e) => {
                self.stream = None;
                Err(types::Error::Unavailable(format!("device write: {e}")))
            }
        }
    }

    pub(crate) async fn read(
        &mut self,
        max: usize,
        timeout_ms: u32,
    ) -> Result<Vec<u8>, types::Error> {
        let stream = self.open().await?;
        let mut buf = vec![0u8; max.max(1)];
        match tokio::time::timeout(
            Duration::from_millis(timeout_ms.into()),
            stream.read(&mut buf),
        )
        .await
        {
            Err(_) => Ok(Vec::new()),
            Ok(Ok(0)) => {
                self.stream = None;
                Err(types::Error::Unavailable(
                    "device closed the connection".into(),
                ))
            }
            Ok(Ok(n)) => {
                buf.truncate(n);
                Ok(buf)
            }
            Ok(Err(e)) => {
                self.stream = None;
                Err(types::Error::Unavailable(format!("device read: {e}")))
            }
        }
    }
}
