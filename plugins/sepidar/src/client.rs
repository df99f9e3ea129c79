//! The Sepidar web-service client: device registration, login and the
//! per-request headers, with the device key and token kept in plugin state
//! so a fresh instance reuses them (the host may run every call in a new
//! instance, and Sepidar refuses a second registration).

use std::time::Duration;

use hamgam_sdk::http::{self, Request, Response};
use hamgam_sdk::{Error, config, info, state, warn};
use rand_core::{OsRng, RngCore};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::crypto::{self, DeviceKey};
use crate::errors::{self, Sent};
use crate::model::{GenerationVersion, LoginRequest, LoginResponse, RegisterResponse};
use crate::settings::Settings;

type Result<T> = core::result::Result<T, Error>;

/// Sepidar runs on the customer's desktop-class server; give it time.
const TIMEOUT: Duration = Duration::from_secs(60);

pub struct Client {
    pub settings: Settings,
    key: DeviceKey,
    token: Option<String>,
}

fn key_state(settings: &Settings) -> String {
    format!("device-key:{}", settings.serial.as_str())
}

fn token_state(settings: &Settings) -> String {
    format!("token:{}:{}", settings.serial.as_str(), settings.username)
}

/// Transport failures (refused, timed out, reset) are worth a retry.
fn transport(err: Error) -> Error {
    match err {
        Error::Other(m) => Error::Unavailable(m),
        other => other,
    }
}

impl Client {
    /// The device key from state, or a new registration (after checking
    /// that the server speaks our GenerationVersion).
    pub fn connect(settings: Settings) -> Result<Self> {
        let key = match state::get_json::<DeviceKey>(&key_state(&settings))? {
            Some(key) => key,
            None => {
                probe_generation(&settings)?;
                let key = register(&settings)?;
                state::set_json(&key_state(&settings), &key)?;
                info!(
                    "registered device {} with Sepidar",
                    settings.serial.as_str()
                );
                key
            }
        };
        let token = state::get_string(&token_state(&settings))?;
        Ok(Client {
            settings,
            key,
            token,
        })
    }

    fn url(&self, path: &str) -> String {
        format!(
            "{}/{}",
            self.settings.base_url,
            path.trim_start_matches('/')
        )
    }

    /// The device headers, regenerated for every attempt: Sepidar rejects
    /// a reused ArbitraryCode, so a retry can never replay the old ones.
    fn signed(&self, mut request: Request, token: Option<&str>) -> Result<Request> {
        let code = crypto::new_uuid(&mut OsRng);
        let encrypted = self.key.encrypt_code(&mut OsRng, &code)?;
        request = request
            .header(
                "GenerationVersion",
                self.settings.generation_version.to_string(),
            )
            .header(
                "IntegrationID",
                self.settings.serial.integration_id().to_string(),
            )
            .header("ArbitraryCode", code.to_string())
            .header("EncArbitraryCode", encrypted)
            .header("Accept", "application/json")
            .timeout(TIMEOUT);
        if let Some(token) = token {
            request = request.bearer(token);
        }
        Ok(request)
    }

    fn build(method: &str, url: String, body: Option<&serde_json::Value>) -> Result<Request> {
        let request = Request::new(method, url);
        match body {
            Some(body) => request.json(body),
            None => Ok(request),
        }
    }

    /// Logs in (MD5 of the secret password) and keeps the token in state.
    fn login(&mut self) -> Result<String> {
        probe_generation(&self.settings)?;
        let body = LoginRequest {
            user_name: self.settings.username.clone(),
            password_hash: crypto::md5_hex(&config::secret("password")?),
        };
        let request = self.signed(Request::post(self.url("users/login")).json(&body)?, None)?;
        let response = http::send(request).map_err(transport)?;
        if !response.is_success() {
            return Err(self.error(&response, &Sent::default()));
        }
        let token = response.json::<LoginResponse>()?.token;
        state::set(&token_state(&self.settings), token.as_bytes())?;
        self.token = Some(token.clone());
        Ok(token)
    }

    /// Sends a request with auth; on 401 logs in again once and retries
    /// with fresh headers. Any other status comes back to the caller.
    pub fn call(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Response> {
        let token = match self.token.clone() {
            Some(token) => token,
            None => self.login()?,
        };
        let url = self.url(path);
        let first = self.signed(Self::build(method, url.clone(), body)?, Some(&token))?;
        let response = http::send(first).map_err(transport)?;
        if response.status != 401 {
            return Ok(response);
        }
        warn!("Sepidar answered 401 to {method} {path}; logging in again");
        let token = self.login()?;
        let second = self.signed(Self::build(method, url, body)?, Some(&token))?;
        let response = http::send(second).map_err(transport)?;
        if response.status == 401 {
            return Err(Error::Unauthorized(errors::message_of(401, &response.body)));
        }
        Ok(response)
    }

    pub fn error(&self, response: &Response, sent: &Sent) -> Error {
        errors::map_status(
            response.status,
            &response.body,
            sent,
            self.settings.generation_version,
        )
    }

    /// A 2xx answer parsed, anything else as the mapped error.
    pub fn get<T: DeserializeOwned>(&mut self, path: &str) -> Result<T> {
        let response = self.call("GET", path, None)?;
        if !response.is_success() {
            return Err(self.error(&response, &Sent::default()));
        }
        response.json()
    }

    /// Like [`get`](Self::get), with 404 as `None`.
    pub fn get_opt<T: DeserializeOwned>(&mut self, path: &str) -> Result<Option<T>> {
        let response = self.call("GET", path, None)?;
        if response.status == 404 {
            return Ok(None);
        }
        if !response.is_success() {
            return Err(self.error(&response, &Sent::default()));
        }
        response.json().map(Some)
    }

    /// POST/PUT/DELETE with a body; the raw answer, for callers that treat
    /// some 400s (duplicate GUID, stale Version) specially.
    pub fn send_json<B: Serialize>(
        &mut self,
        method: &str,
        path: &str,
        body: &B,
    ) -> Result<Response> {
        let value = serde_json::to_value(body)
            .map_err(|e| Error::Other(format!("cannot serialise the request: {e}")))?;
        self.call(method, path, Some(&value))
    }
}

/// `GET /General/GenerationVersion` (no headers): a server speaking another
/// generation would misread our payloads, so stop with both numbers.
fn probe_generation(settings: &Settings) -> Result<()> {
    let url = format!("{}/General/GenerationVersion", settings.base_url);
    let response = http::send(Request::get(url).timeout(TIMEOUT)).map_err(transport)?;
    if !response.is_success() {
        return Err(errors::map_status(
            response.status,
            &response.body,
            &Sent::default(),
            settings.generation_version,
        ));
    }
    let server = response.json::<GenerationVersion>()?.generation_version;
    if server != settings.generation_version {
        return Err(Error::VersionMismatch(format!(
            "Sepidar's web service reports GenerationVersion {server}; this connector sends and supports {}",
            settings.generation_version
        )));
    }
    Ok(())
}

/// `POST /Devices/Register` with a random IV; the answer holds the RSA key.
fn register(settings: &Settings) -> Result<DeviceKey> {
    let mut iv = [0u8; 16];
    OsRng.fill_bytes(&mut iv);
    let body = crypto::register_request(&settings.serial, iv);
    let url = format!("{}/Devices/Register", settings.base_url);
    let response =
        http::send(Request::post(url).json(&body)?.timeout(TIMEOUT)).map_err(transport)?;
    if response.is_success() {
        let answer: RegisterResponse = response.json()?;
        let xml = crypto::decrypt_register_response(&settings.serial, &answer.cypher, &answer.iv)?;
        return DeviceKey::from_xml(&xml);
    }
    let message = errors::message_of(response.status, &response.body);
    if response.status == 400 && is_already_registered(&message) {
        return Err(Error::Other(format!(
            "Sepidar says device {} is already registered, but this connector has no key for it \
             (it was registered by another program or the connector's state was lost). \
             Reset the device in Sepidar (Ordering & Distribution → Device definition), then retry. \
             Sepidar's message: {message}",
            settings.serial.as_str()
        )));
    }
    Err(errors::map_status(
        response.status,
        &response.body,
        &Sent::default(),
        settings.generation_version,
    ))
}

fn is_already_registered(message: &str) -> bool {
    let lower = message.to_lowercase();
    lower.contains("already") || message.contains("قبلا") || message.contains("قبلاً")
}
