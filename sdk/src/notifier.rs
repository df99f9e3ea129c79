//! The `notifier` world: a notification channel (SMS, Telegram, Mattermost,
//! email).

use core::marker::PhantomData;

use crate::wit::exports::hamgam::notify::notifier as wit_notifier;
pub use wit_notifier::{Channel, Delivery, Inbound, Message};

use crate::{Error, HttpRequest, Result};

/// A notification channel. [`channels`](Notifier::channels) and
/// [`send`](Notifier::send) are required; inbound handling answers
/// `unsupported` until implemented.
pub trait Notifier {
    /// The channels this plugin delivers to.
    fn channels() -> Vec<Channel>;

    /// Deliver one message; returns the gateway's id for it.
    fn send(message: Message) -> Result<Delivery>;

    /// A callback from the gateway; returns the inbound messages it carries.
    fn handle_inbound(request: HttpRequest) -> Result<Vec<Inbound>> {
        let _ = request;
        Err(Error::not_implemented("handle_inbound"))
    }
}

/// Adapts a [`Notifier`] to the generated `Guest` trait.
#[doc(hidden)]
pub struct NotifierExport<T>(PhantomData<T>);

impl<T: Notifier> wit_notifier::Guest for NotifierExport<T> {
    fn channels() -> Vec<Channel> {
        T::channels()
    }

    fn send(message: Message) -> Result<Delivery> {
        T::send(message)
    }

    fn handle_inbound(request: HttpRequest) -> Result<Vec<Inbound>> {
        T::handle_inbound(request)
    }
}

/// Export a [`Notifier`] implementation as this component's `notifier`
/// world. Call it once, at the crate root of the plugin.
#[macro_export]
macro_rules! export_notifier {
    ($ty:ty) => {
        const _: () = {
            type __HamgamExport = $crate::__private::NotifierExport<$ty>;
    $crate::wit::export!(__HamgamExport with_types_in $crate::wit);
        };
    };
}
