//! The WooCommerce REST client: Basic auth over HTTPS, OAuth 1.0a
//! (HMAC-SHA256, fresh nonce and host-clock timestamp per request) over
//! plain HTTP, JSON in and out, errors mapped by [`crate::errors`].

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use hamgam_sdk::http::{self, Request, Response};
use hamgam_sdk::{Error, clock, config};
use rand_core::OsRng;
use serde::de::DeserializeOwned;

use crate::errors;
use crate::oauth;
use crate::settings::Settings;

type Result<T> = core::result::Result<T, Error>;

/// WordPress behind a slow host can take a while on a 100-order page.
const TIMEOUT: Duration = Duration::from_secs(60);

pub struct Client {
    pub settings: Settings,
    key: String,
    secret: String,
}

/// Query parameters, in order.
pub type Query = Vec<(String, String)>;

pub fn q(pairs: &[(&str, &str)]) -> Query {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

impl Client {
    pub fn connect(settings: Settings) -> Result<Self> {
        Ok(Client {
            settings,
            key: config::secret("consumer_key")?,
            secret: config::secret("consumer_secret")?,
        })
    }

    fn url(&self, path: &str) -> String {
        format!(
            "{}/{}",
            self.settings.base_url,
            path.trim_start_matches('/')
        )
    }

    /// The request with its auth: Basic for HTTPS, a signed query for HTTP.
    pub fn build(&self, method: &str, path: &str, query: &[(String, String)]) -> Request {
        let url = self.url(path);
        let mut request = if self.settings.is_https() {
            let full = if query.is_empty() {
                url
            } else {
                format!("{url}?{}", oauth::query_string(query))
            };
            let basic = B64.encode(format!("{}:{}", self.key, self.secret));
            Request::new(method, full).header("Authorization", format!("Basic {basic}"))
        } else {
            let nonce = oauth::nonce(&mut OsRng);
            let creds = oauth::Credentials {
                consumer_key: &self.key,
                consumer_secret: &self.secret,
                nonce: &nonce,
                timestamp: clock::now().seconds,
            };
            let signed = oauth::signed_query(method, &url, query, &creds);
            Request::new(method, format!("{url}?{signed}"))
        };
        request = request
            .header("Accept", "application/json")
            .timeout(TIMEOUT);
        request
    }

    /// Any answer; only transport failures are errors.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        query: &[(String, String)],
        body: Option<&serde_json::Value>,
    ) -> Result<Response> {
        let mut request = self.build(method, path, query);
        if let Some(body) = body {
            request = request.json(body)?;
        }
        http::send(request).map_err(errors::transport)
    }

    fn parse<T: DeserializeOwned>(response: &Response, what: &str) -> Result<T> {
        serde_json::from_slice(&response.body).map_err(|e| {
            Error::Other(format!(
                "WooCommerce answered {what} with unexpected JSON: {e}"
            ))
        })
    }

    /// A 2xx answer parsed; anything else as the mapped error.
    pub fn get<T: DeserializeOwned>(&self, path: &str, query: &[(String, String)]) -> Result<T> {
        let response = self.call("GET", path, query, None)?;
        if !response.is_success() {
            return Err(errors::map_status(response.status, &response.body));
        }
        Self::parse(&response, path)
    }

    /// Like [`get`](Self::get), with 404 as `None`.
    pub fn get_opt<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(String, String)],
    ) -> Result<Option<T>> {
        let response = self.call("GET", path, query, None)?;
        if response.status == 404 {
            return Ok(None);
        }
        if !response.is_success() {
            return Err(errors::map_status(response.status, &response.body));
        }
        Self::parse(&response, path).map(Some)
    }

    /// One page of a list and `X-WP-TotalPages` (when the header is
    /// missing: one more page while pages come back full).
    pub fn list(
        &self,
        path: &str,
        query: &[(String, String)],
        page: u32,
        per_page: u32,
    ) -> Result<(Vec<serde_json::Value>, u32)> {
        let response = self.call("GET", path, query, None)?;
        if !response.is_success() {
            return Err(errors::map_status(response.status, &response.body));
        }
        let items: Vec<serde_json::Value> = Self::parse(&response, path)?;
        let total_pages = response
            .header("x-wp-totalpages")
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(if items.len() as u32 >= per_page {
                page + 1
            } else {
                page
            });
        Ok((items, total_pages))
    }

    /// POST/PUT a JSON body; the 2xx answer, else the mapped error.
    pub fn send_json(
        &self,
        method: &str,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<serde_json::Value> {
        let response = self.call(method, path, &[], Some(body))?;
        if !response.is_success() {
            return Err(errors::map_status(response.status, &response.body));
        }
        Self::parse(&response, path)
    }
}
