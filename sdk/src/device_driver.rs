//! The `device-driver` world: a scale or card reader behind a host-granted
//! byte port.

use core::marker::PhantomData;

use crate::wit::exports::hamgam::hardware::driver as wit_driver;
pub use wit_driver::{CardPayment, DeviceKind, Weight};

use crate::{Error, Money, Result};

/// A hardware driver. [`describe`](DeviceDriver::describe) is required; the
/// device operations answer `unsupported` until implemented.
pub trait DeviceDriver {
    /// What kind of device this driver speaks to.
    fn describe() -> DeviceKind;

    /// Read the weight on a scale.
    fn read_weight() -> Result<Weight> {
        Err(Error::not_implemented("read_weight"))
    }

    /// Charge `amount` on a card reader.
    fn charge(amount: Money) -> Result<CardPayment> {
        let _ = amount;
        Err(Error::not_implemented("charge"))
    }
}

/// Adapts a [`DeviceDriver`] to the generated `Guest` trait.
#[doc(hidden)]
pub struct DeviceDriverExport<T>(PhantomData<T>);

impl<T: DeviceDriver> wit_driver::Guest for DeviceDriverExport<T> {
    fn describe() -> DeviceKind {
        T::describe()
    }

    fn read_weight() -> Result<Weight> {
        T::read_weight()
    }

    fn charge(amount: Money) -> Result<CardPayment> {
        T::charge(amount)
    }
}

/// Export a [`DeviceDriver`] implementation as this component's
/// `device-driver` world. Call it once, at the crate root of the plugin.
#[macro_export]
macro_rules! export_device_driver {
    ($ty:ty) => {
        const _: () = {
            type __HamgamExport = $crate::__private::DeviceDriverExport<$ty>;
    $crate::wit::export!(__HamgamExport with_types_in $crate::wit);
        };
    };
}

/// The device byte port the host opened for this instance (a serial line or
/// a TCP connection; the plugin never sees which).
pub mod port {
    use crate::{Error, Result};

    /// Write all of `bytes`; returns how many were written.
    pub fn write(bytes: &[u8]) -> Result<u32> {
        crate::wit::hamgam::hardware::port::write(bytes)
    }

    /// Read up to `max` bytes, waiting at most `timeout_ms` for the first;
    /// an empty vector means the timeout passed.
    pub fn read(max: u32, timeout_ms: u32) -> Result<Vec<u8>> {
        crate::wit::hamgam::hardware::port::read(max, timeout_ms)
    }

    /// Write all of `bytes`, looping over short writes.
    pub fn write_all(mut bytes: &[u8]) -> Result<()> {
        while !bytes.is_empty() {
            let n = write(bytes)? as usize;
            if n == 0 {
                return Err(Error::Unavailable("device port accepted no bytes".into()));
            }
            bytes = &bytes[n.min(bytes.len())..];
        }
        Ok(())
    }

    /// Read until `delimiter` has arrived (returned, delimiter included) or
    /// `timeout_ms` passed without a byte (`unavailable`), or more than
    /// `max_len` bytes came without it (`other`). The timeout is per read,
    /// so a device that keeps talking never times out mid-line.
    pub fn read_until(delimiter: &[u8], timeout_ms: u32, max_len: usize) -> Result<Vec<u8>> {
        let mut line = Vec::new();
        loop {
            if !delimiter.is_empty() && line.ends_with(delimiter) {
                return Ok(line);
            }
            if line.len() > max_len {
                return Err(Error::Other(format!(
                    "no delimiter within {max_len} bytes from the device"
                )));
            }
            // Byte by byte so nothing after the delimiter is consumed.
            let chunk = read(1, timeout_ms)?;
            if chunk.is_empty() {
                return Err(Error::Unavailable(format!(
                    "device sent nothing for {timeout_ms} ms"
                )));
            }
            line.extend_from_slice(&chunk);
        }
    }
}
