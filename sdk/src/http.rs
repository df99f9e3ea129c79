//! A small blocking HTTP client over `wasi:http` (through `wstd`).
//!
//! Every request is checked by the host against the instance's grant
//! (scheme, host, port and the resolved address) before it leaves the
//! machine; a refused request comes back as [`Error::Denied`].
//!
//! Redirects are **not** followed: a 3xx response is returned to the caller
//! as it is ([`Response::is_redirect`], [`Response::location`]). A plugin
//! that wants to follow one sends a second request, and the host checks that
//! request against the grant again — so a granted host cannot redirect a
//! plugin somewhere it was not granted.

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use wstd::http::error::ErrorCode;

use crate::{Error, Result};

/// An outgoing request. Build one with [`Request::get`], [`Request::post`]
/// … and the chaining methods, then [`send`] it.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// HTTP method, upper case.
    pub method: String,
    /// Absolute URL, `scheme://host[:port]/path?query`.
    pub url: String,
    /// Header names and values, in order.
    pub headers: Vec<(String, String)>,
    /// The body; empty for none.
    pub body: Vec<u8>,
    /// Longest wait for the first byte of the response; `None` leaves it to
    /// the host's default.
    pub timeout: Option<Duration>,
}

impl Request {
    /// A request with `method` (any case) to `url`.
    pub fn new(method: &str, url: impl Into<String>) -> Self {
        Request {
            method: method.to_ascii_uppercase(),
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
            timeout: None,
        }
    }

    /// `GET url`.
    pub fn get(url: impl Into<String>) -> Self {
        Request::new("GET", url)
    }

    /// `POST url`.
    pub fn post(url: impl Into<String>) -> Self {
        Request::new("POST", url)
    }

    /// `PUT url`.
    pub fn put(url: impl Into<String>) -> Self {
        Request::new("PUT", url)
    }

    /// `DELETE url`.
    pub fn delete(url: impl Into<String>) -> Self {
        Request::new("DELETE", url)
    }

    /// Add a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Add `Authorization: Bearer <token>`.
    pub fn bearer(self, token: &str) -> Self {
        self.header("Authorization", format!("Bearer {token}"))
    }

    /// Set the raw body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Set a JSON body and `Content-Type: application/json`.
    pub fn json<T: Serialize + ?Sized>(self, value: &T) -> Result<Self> {
        let body = serde_json::to_vec(value)
            .map_err(|e| Error::Other(format!("cannot serialise request body: {e}")))?;
        Ok(self.header("Content-Type", "application/json").body(body))
    }

    /// Set the first-byte timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

/// A response, read to the end.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Header names (lower case) and values, in order.
    pub headers: Vec<(String, String)>,
    /// The whole body.
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// 3xx. Redirects are never followed for you; see the module docs.
    pub fn is_redirect(&self) -> bool {
        (300..400).contains(&self.status)
    }

    /// The `Location` header of a redirect.
    pub fn location(&self) -> Option<&str> {
        self.header("location")
    }

    /// The body as UTF-8 text (invalid sequences replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON; `other` naming the status when it is not
    /// the expected shape.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.body).map_err(|e| {
            Error::Other(format!(
                "response (status {}) is not the expected JSON: {e}",
                self.status
            ))
        })
    }
}

/// `GET url`.
pub fn get(url: &str) -> Result<Response> {
    send(Request::get(url))
}

/// `POST url` with `body` as JSON.
pub fn post_json<T: Serialize + ?Sized>(url: &str, body: &T) -> Result<Response> {
    send(Request::post(url).json(body)?)
}

/// Send `request` and read the whole response. Any status, including 4xx,
/// 5xx and 3xx, is a successful `Response`; errors are transport failures:
/// `denied` (the host refused the destination), `unavailable` (DNS,
/// connection, timeout — worth a retry), `invalid-input` (a malformed
/// request) or `other`.
pub fn send(request: Request) -> Result<Response> {
    wstd::runtime::block_on(send_async(request))
}

async fn send_async(request: Request) -> Result<Response> {
    let mut builder = wstd::http::Request::builder()
        .method(request.method.as_str())
        .uri(request.url.as_str());
    for (name, value) in &request.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let outgoing = builder
        .body(wstd::http::Body::from(request.body))
        .map_err(|e| Error::invalid("request", format!("{} {}: {e}", request.method, request.url)))?;

    let mut client = wstd::http::Client::new();
    if let Some(timeout) = request.timeout {
        client.set_first_byte_timeout(timeout);
    }
    let response = client
        .send(outgoing)
        .await
        .map_err(|e| transport_error(&request.url, e))?;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    let mut body = response.into_body();
    let body = body
        .contents()
        .await
        .map_err(|e| body_error(&request.url, e))?
        .to_vec();
    Ok(Response {
        status,
        headers,
        body,
    })
}

/// A failure while reading the body: the host reports a body that ran
/// past its size cap through the stream, as text.
fn body_error(url: &str, err: wstd::http::Error) -> Error {
    if format!("{err:#}").contains("HttpResponseBodySize") {
        return too_large(url, None);
    }
    transport_error(url, err)
}

fn too_large(url: &str, size: Option<u64>) -> Error {
    Error::Other(format!(
        "{url}: the response{} is larger than the host lets a plugin receive (limits.http_response_mib)",
        size.map(|n| format!(" of {n} bytes")).unwrap_or_default()
    ))
}

fn request_too_large(url: &str, size: Option<u64>) -> Error {
    Error::invalid(
        "body",
        format!(
            "{url}: the request body{} is larger than the host lets a plugin send (limits.http_request_mib)",
            size.map(|n| format!(" of at least {n} bytes"))
                .unwrap_or_default()
        ),
    )
}

/// Map a `wasi:http` failure to the SDK error a caller can act on.
fn transport_error(url: &str, err: wstd::http::Error) -> Error {
    let message = format!("{url}: {err:#}");
    match err.downcast_ref::<ErrorCode>() {
        Some(ErrorCode::HttpResponseBodySize(size)) => too_large(url, *size),
        Some(ErrorCode::HttpRequestBodySize(size)) => request_too_large(url, *size),
        // The refusal can also reach the guest through the body stream,
        // where the code arrives as text (as with `body_error`).
        None if message.contains("HttpRequestBodySize") => request_too_large(url, None),
        Some(ErrorCode::HttpRequestDenied | ErrorCode::DestinationIpProhibited) => {
            Error::Denied(message)
        }
        Some(
            ErrorCode::DnsTimeout
            | ErrorCode::DnsError(_)
            | ErrorCode::DestinationNotFound
            | ErrorCode::DestinationUnavailable
            | ErrorCode::DestinationIpUnroutable
            | ErrorCode::ConnectionRefused
            | ErrorCode::ConnectionTerminated
            | ErrorCode::ConnectionTimeout
            | ErrorCode::ConnectionReadTimeout
            | ErrorCode::ConnectionWriteTimeout
            | ErrorCode::ConnectionLimitReached
            | ErrorCode::HttpResponseTimeout,
        ) => Error::Unavailable(message),
        Some(ErrorCode::HttpRequestUriInvalid | ErrorCode::HttpRequestMethodInvalid) => {
            Error::invalid("request", message)
        }
        _ => Error::Other(message),
    }
}
