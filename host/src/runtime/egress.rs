//! Sending a plugin's HTTP request once the grant check has passed.
//!
//! Two things the stock `wasmtime-wasi-http` sender cannot do, and a
//! sandbox needs:
//!
//! - **Pinned address.** The grant check resolves the host name and
//!   checks every address (no loopback or LAN unless allowed). The stock
//!   sender then connects by name and resolves again, so a DNS server that
//!   answers "public" to the check and "127.0.0.1" to the connect would
//!   walk a plugin past its grant (DNS rebinding). Here the connection goes
//!   to the exact address that was checked; TLS still verifies the
//!   certificate against the host *name*.
//! - **Response size.** `limits.http_response_mib` caps what one response
//!   may bring into the host: a declared `Content-Length` above the cap is
//!   refused before the body is read, and a body that runs past it without
//!   one ends with `HTTP-response-body-size` at the crossing chunk.

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, SizeHint};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use tokio::net::TcpStream;
use tokio::time::timeout;
use wasmtime_wasi_http::bindings::http::types::ErrorCode;
use wasmtime_wasi_http::body::HyperIncomingBody;
use wasmtime_wasi_http::hyper_request_error;
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::types::{IncomingResponse, OutgoingRequestConfig};

/// Send `request` over a connection to one of `addrs`, which the caller
/// checked against the grants (tried in order, as a resolver's answer
/// is), never re-resolving `host`. The response body is capped at
/// `max_response_bytes`.
pub(crate) async fn send_pinned<B>(
    mut request: hyper::Request<B>,
    config: OutgoingRequestConfig,
    host: &str,
    addrs: &[SocketAddr],
    max_response_bytes: u64,
) -> Result<IncomingResponse, ErrorCode>
where
    B: Body<Data = Bytes, Error = ErrorCode> + Send + 'static,
{
    let tcp = connect(addrs, config.connect_timeout).await?;
    // Small request/response exchanges: send without Nagle's delay.
    let _ = tcp.set_nodelay(true);

    let (mut sender, worker) = if config.use_tls {
        let name = rustls::pki_types::ServerName::try_from(host.to_string())
            .map_err(|_| ErrorCode::TlsProtocolError)?;
        let connector = tokio_rustls::TlsConnector::from(tls_config());
        let tls = timeout(config.connect_timeout, connector.connect(name, tcp))
            .await
            .map_err(|_| ErrorCode::ConnectionTimeout)?
            .map_err(|e| {
                tracing::warn!(%host, "tls handshake failed: {e}");
                ErrorCode::TlsProtocolError
            })?;
        handshake(TokioIo::new(tls), config.connect_timeout).await?
    } else {
        handshake(TokioIo::new(tcp), config.connect_timeout).await?
    };

    // The request line carries only path and query when not talking to a
    // proxy; the Host header (set by wasi:http from the authority) names
    // the site.
    let path = request
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    *request.uri_mut() = hyper::Uri::builder()
        .path_and_query(path)
        .build()
        .map_err(|_| ErrorCode::HttpRequestUriInvalid)?;

    let response = timeout(config.first_byte_timeout, sender.send_request(request))
        .await
        .map_err(|_| ErrorCode::ConnectionReadTimeout)?
        .map_err(hyper_request_error)?;

    if let Some(declared) = content_length(&response)
        && declared > max_response_bytes
    {
        return Err(ErrorCode::HttpResponseBodySize(Some(declared)));
    }
    let resp = response.map(|body| -> HyperIncomingBody {
        Capped {
            inner: body.map_err(hyper_request_error),
            left: max_response_bytes,
        }
        .boxed()
    });
    Ok(IncomingResponse {
        resp,
        worker: Some(worker),
        between_bytes_timeout: config.between_bytes_timeout,
    })
}

async fn connect(
    addrs: &[SocketAddr],
    connect_timeout: std::time::Duration,
) -> Result<TcpStream, ErrorCode> {
    let mut last = ErrorCode::DestinationNotFound;
    for addr in addrs {
        last = match timeout(connect_timeout, TcpStream::connect(addr)).await {
            Ok(Ok(tcp)) => return Ok(tcp),
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::TimedOut => ErrorCode::ConnectionTimeout,
            Ok(Err(_)) => ErrorCode::ConnectionRefused,
            Err(_) => ErrorCode::ConnectionTimeout,
        };
    }
    Err(last)
}

type Sender<B> = hyper::client::conn::http1::SendRequest<B>;
type Worker = wasmtime_wasi::runtime::AbortOnDropJoinHandle<()>;

async fn handshake<IO, B>(
    io: IO,
    connect_timeout: std::time::Duration,
) -> Result<(Sender<B>, Worker), ErrorCode>
where
    IO: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    B: Body<Data = Bytes, Error = ErrorCode> + Send + 'static,
{
    let (sender, conn) = timeout(connect_timeout, hyper::client::conn::http1::handshake(io))
        .await
        .map_err(|_| ErrorCode::ConnectionTimeout)?
        .map_err(hyper_request_error)?;
    let worker = wasmtime_wasi::runtime::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!("plugin http connection ended: {e}");
        }
    });
    Ok((sender, worker))
}

/// Web PKI roots, built once: every plugin request shares them.
fn tls_config() -> Arc<rustls::ClientConfig> {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let roots = rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.into(),
            };
            Arc::new(
                rustls::ClientConfig::builder()
                    .with_root_certificates(roots)
                    .with_no_client_auth(),
            )
        })
        .clone()
}

fn content_length<B>(response: &hyper::Response<B>) -> Option<u64> {
    response
        .headers()
        .get(hyper::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// A response body that fails once more than `left` bytes have come.
struct Capped<B> {
    inner: B,
    left: u64,
}

impl<B> Body for Capped<B>
where
    B: Body<Data = Bytes, Error = ErrorCode> + Unpin,
{
    type Data = Bytes;
    type Error = ErrorCode;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, ErrorCode>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            let len = data.len() as u64;
            if len > self.left {
                self.left = 0;
                return Poll::Ready(Some(Err(ErrorCode::HttpResponseBodySize(None))));
            }
            self.left -= len;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::routing::get;
    use std::time::Duration;

    /// A local server: `/host` echoes the Host header, `/declared`
    /// answers 3,000 bytes with a Content-Length, `/streamed` sends 3,000
    /// bytes in 30 chunks without one.
    async fn server() -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new()
            .route(
                "/host",
                get(|headers: axum::http::HeaderMap| async move {
                    headers["host"].to_str().unwrap().to_string()
                }),
            )
            .route("/declared", get(|| async { vec![b'x'; 3000] }))
            .route(
                "/streamed",
                get(|| async {
                    let chunks =
                        (0..30).map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![b'y'; 100])));
                    axum::body::Body::from_stream(futures::stream::iter(chunks))
                }),
            );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        addr
    }

    fn config() -> OutgoingRequestConfig {
        OutgoingRequestConfig {
            use_tls: false,
            connect_timeout: Duration::from_secs(5),
            first_byte_timeout: Duration::from_secs(5),
            between_bytes_timeout: Duration::from_secs(5),
        }
    }

    fn get_request(
        url: &str,
    ) -> hyper::Request<impl Body<Data = Bytes, Error = ErrorCode> + Send + use<>> {
        let host = url.split('/').nth(2).unwrap().to_string();
        hyper::Request::get(url)
            .header(hyper::header::HOST, host)
            .body(http_body_util::Empty::<Bytes>::new().map_err(|never| match never {}))
            .unwrap()
    }

    async fn read_all(response: IncomingResponse) -> Result<Bytes, ErrorCode> {
        Ok(response.resp.into_body().collect().await?.to_bytes())
    }

    #[tokio::test]
    async fn p2_the_connection_goes_to_the_checked_address_without_resolving_again() {
        let addr = server().await;
        // `.invalid` never resolves (RFC 2606): had the sender looked the
        // name up again, this request could not have been made at all.
        let url = format!("http://rebound.invalid:{}/host", addr.port());
        let response = send_pinned(
            get_request(&url),
            config(),
            "rebound.invalid",
            &[addr],
            1 << 20,
        )
        .await
        .expect("sent to the pinned address");
        assert_eq!(response.resp.status(), 200);
        let body = read_all(response).await.unwrap();
        assert_eq!(
            &body[..],
            format!("rebound.invalid:{}", addr.port()).as_bytes()
        );
    }

    #[tokio::test]
    async fn p2_an_unreachable_first_address_falls_back_to_the_next_checked_one() {
        let addr = server().await;
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let url = format!("http://site.invalid:{}/host", addr.port());
        let response = send_pinned(
            get_request(&url),
            config(),
            "site.invalid",
            &[closed, addr],
            1 << 20,
        )
        .await
        .expect("second address answers");
        assert_eq!(response.resp.status(), 200);
        let none = send_pinned(
            get_request(&url),
            config(),
            "site.invalid",
            &[closed],
            1 << 20,
        )
        .await;
        assert!(
            matches!(none, Err(ErrorCode::ConnectionRefused)),
            "{none:?}"
        );
    }

    #[tokio::test]
    async fn p2_a_declared_body_over_the_cap_is_refused_before_it_is_read() {
        let addr = server().await;
        let url = format!("http://127.0.0.1:{}/declared", addr.port());
        let over = send_pinned(get_request(&url), config(), "127.0.0.1", &[addr], 2999).await;
        assert!(
            matches!(over, Err(ErrorCode::HttpResponseBodySize(Some(3000)))),
            "{:?}",
            over.map(|r| r.resp.status())
        );
        let exact = send_pinned(get_request(&url), config(), "127.0.0.1", &[addr], 3000)
            .await
            .unwrap();
        assert_eq!(read_all(exact).await.unwrap().len(), 3000);
    }

    #[tokio::test]
    async fn p2_an_undeclared_body_is_cut_where_it_crosses_the_cap() {
        let addr = server().await;
        let url = format!("http://127.0.0.1:{}/streamed", addr.port());
        let response = send_pinned(get_request(&url), config(), "127.0.0.1", &[addr], 2950)
            .await
            .expect("headers arrive; the body is the problem");
        assert!(response.resp.headers().get("content-length").is_none());
        let read = read_all(response).await;
        assert!(
            matches!(read, Err(ErrorCode::HttpResponseBodySize(None))),
            "{read:?}"
        );
        let whole = send_pinned(get_request(&url), config(), "127.0.0.1", &[addr], 3000)
            .await
            .unwrap();
        assert_eq!(read_all(whole).await.unwrap().len(), 3000);
    }
}
