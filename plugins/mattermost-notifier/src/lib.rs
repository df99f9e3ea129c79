//! A Mattermost notification channel.
//!
//! - **Out:** `send` posts `{"text", "channel"}` to a Mattermost *incoming
//!   webhook* whose URL is the secret `webhook_url`. `message.to` is the
//!   channel name (empty: the webhook's default channel); a subject is
//!   prepended in bold.
//! - **In:** `handle-inbound` accepts a Mattermost *outgoing webhook* call
//!   (form-encoded or JSON, fields `token`, `text`, `user_name`…), checks
//!   `token` against the secret `outgoing_token`, and returns the message.
//!
//! Mattermost's incoming webhooks answer a bare `ok` with no message id, so
//! the delivery id is made here from the host clock and a counter in state
//! (`mm-<millis>-<n>`); it is unique per instance, which is what the host
//! needs to correlate deliveries.

use hamgam_sdk::http::{self, Request};
use hamgam_sdk::{
    Channel, Delivery, Error, HttpRequest, Inbound, Message, Notifier, Result, clock, config, info,
    state,
};
use serde::Serialize;

const COUNTER_KEY: &str = "delivery-counter";

struct Mattermost;

#[derive(Serialize)]
struct Post<'a> {
    text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    channel: Option<&'a str>,
}

impl Notifier for Mattermost {
    fn channels() -> Vec<Channel> {
        vec![Channel::Mattermost]
    }

    fn send(message: Message) -> Result<Delivery> {
        if message.channel != Channel::Mattermost {
            return Err(Error::Unsupported(format!(
                "this plugin delivers only to Mattermost, not {:?}",
                message.channel
            )));
        }
        if message.body.trim().is_empty() {
            return Err(Error::invalid("body", "must not be empty"));
        }
        let url = config::secret("webhook_url")?;
        let text = match &message.subject {
            Some(subject) if !subject.is_empty() => format!("**{subject}**\n{}", message.body),
            _ => message.body.clone(),
        };
        let to = message.to.trim().trim_start_matches('~');
        let post = Post {
            text,
            channel: (!to.is_empty()).then_some(to),
        };
        let response = http::send(Request::post(url).json(&post)?)?;
        if !response.is_success() {
            // Mattermost answers `{"id", "message", "status_code"}` on errors.
            let detail = serde_json::from_slice::<serde_json::Value>(&response.body)
                .ok()
                .and_then(|v| v.get("message")?.as_str().map(str::to_owned))
                .unwrap_or_else(|| response.text());
            let detail = format!("mattermost answered {}: {detail}", response.status);
            return Err(match response.status {
                400 => Error::invalid("to", detail),
                401 | 403 => Error::Unauthorized(detail),
                404 => Error::NotFound(detail),
                408 | 429 | 500..=599 => Error::Unavailable(detail),
                _ => Error::Other(detail),
            });
        }

        let n = state::get_json::<u64>(COUNTER_KEY)?.unwrap_or(0) + 1;
        state::set_json(COUNTER_KEY, &n)?;
        let accepted_at = clock::now();
        let id = format!("mm-{}-{n}", accepted_at.as_millis());
        info!(
            "mattermost message {id} delivered to {}",
            if to.is_empty() {
                "the default channel"
            } else {
                to
            }
        );
        Ok(Delivery { id, accepted_at })
    }

    fn handle_inbound(request: HttpRequest) -> Result<Vec<Inbound>> {
        let is_json = request
            .header("content-type")
            .is_some_and(|v| v.to_ascii_lowercase().contains("json"));
        let fields: Vec<(String, String)> = if is_json {
            let value: serde_json::Value = request.json()?;
            value
                .as_object()
                .map(|object| {
                    object
                        .iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                        .collect()
                })
                .unwrap_or_default()
        } else {
            request.form_pairs()
        };
        let field = |name: &str| {
            fields
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };

        let expected = config::secret("outgoing_token")?;
        let token = field("token").unwrap_or_default();
        if !constant_time_eq(token.as_bytes(), expected.as_bytes()) {
            return Err(Error::Unauthorized(
                "outgoing webhook token does not match".into(),
            ));
        }
        let text = field("text").unwrap_or_default();
        if text.trim().is_empty() {
            return Ok(Vec::new());
        }
        Ok(vec![Inbound {
            channel: Channel::Mattermost,
            sender: field("user_name").unwrap_or_default().to_owned(),
            body: text.to_owned(),
        }])
    }
}

hamgam_sdk::export_notifier!(Mattermost);

/// Compare without an early exit, so response timing does not reveal how
/// much of a guessed token was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
