//! The public listener: a small TCP front that times out slow clients before they reach Rocket.
//!
//! Rocket 0.5 serves hyper with `header_read_timeout(None)` and no idle timeout, and offers no
//! way to bring one's own listener; connections that send their headers slowly are held
//! forever. So the appliance listens here, and Rocket only on 127.0.0.1 at a free port, with
//! keep-alive off (one request per connection), which makes every request a connection's first:
//! - a client must send its whole request head within `header_timeout_secs`, or is closed;
//! - a connection on which neither side sends anything for `idle_timeout_secs` is closed.
//!
//! The front remembers which client each of its loopback connections carries ([`PeerMap`]), so
//! `ClientAddress` still sees the real address. It adds no header and changes no byte.
//!
//! With HTTPS on (`tls.rs`), TLS ends here: the handshake and the request head together must
//! arrive within `header_timeout_secs`, and Rocket still sees plain HTTP on loopback. A plain
//! HTTP request to an HTTPS appliance is answered with a redirect to its https:// address.
//!
//! How many connections it holds, in all and per address, is capped ([`admission`]).

mod admission;
mod body;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rocket::figment::providers::Serialized;
use rocket::figment::Figment;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{timeout_at, Instant};
use tokio_rustls::TlsAcceptor;

use super::start_error::StartError;
pub use admission::Limits;
use admission::{Admission, LastMoved, Ticket};
use body::BodyProgress;

/// A request head larger than this is not waited for: Rocket answers it (431) or not at all.
const MAX_HEAD_BYTES: usize = 64 * 1024;
const END_OF_HEAD: &[u8] = b"\r\n\r\n";

/// Which client each loopback connection from the front to Rocket carries, by the front's end
/// of that connection. Managed by Rocket; read by `ClientAddress`.
#[derive(Clone, Default)]
pub struct PeerMap(Arc<Mutex<HashMap<SocketAddr, SocketAddr>>>);

impl PeerMap {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SocketAddr, SocketAddr>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The client behind `peer` when `peer` is one of the front's loopback connections.
    pub fn client_of(&self, peer: SocketAddr) -> Option<SocketAddr> {
        self.lock().get(&peer).copied()
    }
}

/// The front's timeouts.
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    pub header: Duration,
    pub idle: Duration,
}

pub struct Front {
    listener: TcpListener,
    timeouts: Timeouts,
    peers: PeerMap,
    tls: Option<TlsAcceptor>,
    admission: Admission,
}

/// Rocket's settings behind the front: loopback only, a free port, one request per connection.
pub fn behind_front(figment: Figment) -> Figment {
    figment
        .merge(Serialized::global("address", "127.0.0.1"))
        .merge(Serialized::global("port", 0))
        .merge(Serialized::global("keep_alive", 0))
}

impl Front {
    /// Binds the public address now, so a port in use stops start-up with a clear error.
    pub async fn bind(
        at: SocketAddr,
        timeouts: Timeouts,
        limits: Limits,
    ) -> Result<Front, StartError> {
        let listener = TcpListener::bind(at)
            .await
            .map_err(|e| StartError::because(format!("cannot listen on {at}"), e))?;
        Ok(Front {
            listener,
            timeouts,
            peers: PeerMap::default(),
            tls: None,
            admission: Admission::new(limits),
        })
    }

    /// Serves HTTPS with `tls` (when given) instead of plain HTTP.
    pub fn serving(mut self, tls: Option<&super::tls::ServerTls>) -> Front {
        self.tls = tls.map(|t| TlsAcceptor::from(t.config.clone()));
        self
    }

    /// `https` or `http`, for the address the appliance announces.
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() {
            "https"
        } else {
            "http"
        }
    }

    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.local_addr().ok()
    }

    pub fn peers(&self) -> PeerMap {
        self.peers.clone()
    }

    /// Accepts clients for ever, each handed to Rocket at `backend` once its head has arrived.
    pub fn spawn(self, backend: SocketAddr) {
        tokio::spawn(async move {
            loop {
                match self.listener.accept().await {
                    Ok((client, from)) => {
                        let local = client.local_addr().ok().map(|a| a.ip());
                        let ticket = match self.admission.admit_at(from.ip(), local) {
                            Ok(ticket) => ticket,
                            Err(_) => {
                                self.refuse(client);
                                continue;
                            }
                        };
                        let link = Link {
                            from,
                            backend,
                            timeouts: self.timeouts,
                            peers: self.peers.clone(),
                        };
                        tokio::spawn(accept(client, link, ticket, self.tls.clone()));
                    }
                    // Out of descriptors or similar: wait a moment rather than spin.
                    Err(e) => {
                        log::warn!("front listener: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
        });
    }

    /// Closes a connection over the caps at once: over plain HTTP with a 503 if the socket takes
    /// it without waiting (over TLS a plain answer would be noise).
    fn refuse(&self, client: TcpStream) {
        if self.tls.is_none() {
            let _ = client.try_write(BUSY);
        }
    }
}

const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\n\
Content-Type: text/plain; charset=utf-8\r\nContent-Length: 45\r\nConnection: close\r\n\r\n\
The appliance is busy: try again in a moment.";

/// Reads until the end of the request head, or `None` if the client is too slow or leaves, or
/// is closed to make room.
async fn read_head<S: AsyncRead + Unpin>(
    client: &mut S,
    ticket: &mut Ticket,
    until: Instant,
) -> Option<Vec<u8>> {
    let mut head = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        let n = ticket.before(until, client.read(&mut chunk)).await?.ok()?;
        if n == 0 {
            return None;
        }
        // Only the new bytes and the three before them can complete the end of the head.
        let from = head.len().saturating_sub(END_OF_HEAD.len() - 1);
        head.extend_from_slice(&chunk[..n]);
        if head[from..]
            .windows(END_OF_HEAD.len())
            .any(|w| w == END_OF_HEAD)
            || head.len() > MAX_HEAD_BYTES
        {
            return Some(head);
        }
    }
}

/// One client's connection to Rocket: who it is, where Rocket is, and the rules it is held to.
struct Link {
    from: SocketAddr,
    backend: SocketAddr,
    timeouts: Timeouts,
    peers: PeerMap,
}

/// Takes a new connection: over TLS when the appliance serves HTTPS, the handshake inside the
/// same deadline as the request head.
async fn accept(client: TcpStream, link: Link, mut ticket: Ticket, tls: Option<TlsAcceptor>) {
    let _ = client.set_nodelay(true);
    let until = Instant::now() + link.timeouts.header;
    let Some(acceptor) = tls else {
        return carry(client, link, ticket, until).await;
    };
    let mut first = [0u8; 1];
    match ticket.before(until, client.peek(&mut first)).await {
        Some(Ok(1)) if first[0] == TLS_HANDSHAKE => {}
        Some(Ok(1)) => return redirect_to_https(client, ticket, until).await,
        _ => return,
    }
    if let Some(Ok(secure)) = ticket.before(until, acceptor.accept(client)).await {
        carry(secure, link, ticket, until).await;
    }
}

/// The first byte of every TLS connection: a handshake record.
const TLS_HANDSHAKE: u8 = 0x16;

async fn carry<S>(mut client: S, link: Link, mut ticket: Ticket, until: Instant)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let Some(head) = read_head(&mut client, &mut ticket, until).await else {
        return;
    };
    if !ticket.past_head() {
        return;
    }
    let Ok(mut server) = TcpStream::connect(link.backend).await else {
        return;
    };
    let _ = server.set_nodelay(true);
    let Ok(local) = server.local_addr() else {
        return;
    };
    link.peers.lock().insert(local, link.from);
    if server.write_all(&head).await.is_ok() {
        let (body, moved) = (BodyProgress::of(&head), ticket.moved());
        tokio::select! {
            _ = splice(client, server, body, moved, link.timeouts.idle) => {}
            _ = ticket.closed() => {}
        }
    }
    link.peers.lock().remove(&local);
}

/// Someone typed `http://` for an HTTPS appliance: send them to the same place over https, so
/// nothing but this first request crosses the network in clear.
async fn redirect_to_https(mut client: TcpStream, mut ticket: Ticket, until: Instant) {
    let Some(head) = read_head(&mut client, &mut ticket, until).await else {
        return;
    };
    let answer = https_redirect(&String::from_utf8_lossy(&head));
    let _ = timeout_at(until, client.write_all(answer.as_bytes())).await;
    let _ = client.shutdown().await;
}

/// The answer to a plain HTTP request head: a redirect to its https:// address when it names
/// its host, else a sentence.
fn https_redirect(head: &str) -> String {
    let path = head
        .lines()
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .filter(|p| p.starts_with('/'));
    let host = head.lines().skip(1).find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("host")
            .then(|| value.trim())
    });
    let usable = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_graphic());
    match (host.filter(|h| usable(h)), path.filter(|p| usable(p))) {
        (Some(host), Some(path)) => format!(
            "HTTP/1.1 301 Moved Permanently\r\nLocation: https://{host}{path}\r\n\
             Content-Length: 0\r\nConnection: close\r\n\r\n"
        ),
        _ => {
            let body = "This appliance speaks HTTPS only: use its https:// address.\n";
            format!(
                "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
        }
    }
}

/// How long a client that has sent its whole request and hung up (or half-closed) may still
/// wait for its answer.
const EOF_GRACE: Duration = Duration::from_secs(30);

/// Copies both ways until Rocket closes, or nothing moves for `idle`, or the client hangs up
/// before its request's `body` is complete (Rocket would wait for the rest in vain).
async fn splice<S>(
    client: S,
    server: TcpStream,
    mut body: BodyProgress,
    moved: LastMoved,
    idle: Duration,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (mut client_r, mut client_w) = tokio::io::split(client);
    let (mut server_r, mut server_w) = server.into_split();
    if body.complete() {
        moved.request_whole();
    }
    let up = async {
        let saw = |b: &[u8]| {
            body.saw(b);
            if body.complete() {
                moved.request_whole();
            }
        };
        pump(&mut client_r, &mut server_w, &moved, saw).await;
        // A client that has sent its request and half-closes may still be waiting for its
        // answer, but not for long: one that sends a head and hangs up must not hold its place.
        if body.complete() {
            tokio::time::sleep(EOF_GRACE).await
        }
    };
    let down = async {
        pump(&mut server_r, &mut client_w, &moved, |_| {}).await;
        let _ = client_w.shutdown().await;
    };
    let watchdog = async {
        loop {
            let quiet_until = moved.at() + idle;
            if Instant::now() >= quiet_until {
                return;
            }
            tokio::time::sleep_until(quiet_until).await;
        }
    };
    // Rocket closes its side after each answer (keep-alive is off behind the front).
    tokio::select! {
        _ = down => {}
        _ = up => {}
        _ = watchdog => {}
    }
}

/// Copies `from` to `to`, showing each transfer to `saw` and noting its time; ends at EOF or
/// error.
async fn pump<R, W>(from: &mut R, to: &mut W, moved: &LastMoved, mut saw: impl FnMut(&[u8]))
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
        saw(&buf[..n]);
        moved.touch();
    }
}

#[cfg(test)]
mod tests {
    use super::https_redirect;

    #[test]
    fn plain_http_to_an_https_appliance_is_sent_to_https() {
        let answer = https_redirect("GET /app?x=1 HTTP/1.1\r\nhost: box:8000\r\n\r\n");
        assert!(answer.starts_with("HTTP/1.1 301"), "{answer}");
        assert!(
            answer.contains("\r\nLocation: https://box:8000/app?x=1\r\n"),
            "{answer}"
        );
        let answer = https_redirect("GET / HTTP/1.0\r\n\r\n");
        assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
        assert!(answer.contains("HTTPS only"), "{answer}");
    }
}
