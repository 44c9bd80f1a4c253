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
//! It reads plain HTTP: should Rocket ever terminate TLS itself, the head deadline must become
//! a handshake deadline here (TLS bytes never show the end of an HTTP head).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rocket::figment::providers::Serialized;
use rocket::figment::Figment;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{timeout_at, Instant};

use super::start_error::StartError;

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
    pub async fn bind(at: SocketAddr, timeouts: Timeouts) -> Result<Front, StartError> {
        let listener = TcpListener::bind(at)
            .await
            .map_err(|e| StartError::because(format!("cannot listen on {at}"), e))?;
        Ok(Front {
            listener,
            timeouts,
            peers: PeerMap::default(),
        })
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
                        let (timeouts, peers) = (self.timeouts, self.peers.clone());
                        tokio::spawn(carry(client, from, backend, timeouts, peers));
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
}

/// Reads until the end of the request head, or `None` if the client is too slow or leaves.
async fn read_head(client: &mut TcpStream, deadline: Duration) -> Option<Vec<u8>> {
    let until = Instant::now() + deadline;
    let mut head = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        let n = timeout_at(until, client.read(&mut chunk))
            .await
            .ok()?
            .ok()?;
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

async fn carry(
    mut client: TcpStream,
    from: SocketAddr,
    backend: SocketAddr,
    timeouts: Timeouts,
    peers: PeerMap,
) {
    let Some(head) = read_head(&mut client, timeouts.header).await else {
        return;
    };
    let Ok(mut server) = TcpStream::connect(backend).await else {
        return;
    };
    let _ = server.set_nodelay(true);
    let _ = client.set_nodelay(true);
    let Ok(local) = server.local_addr() else {
        return;
    };
    peers.lock().insert(local, from);
    if server.write_all(&head).await.is_ok() {
        splice(client, server, timeouts.idle).await;
    }
    peers.lock().remove(&local);
}

/// Copies both ways until Rocket closes, or nothing moves for `idle`.
async fn splice(client: TcpStream, server: TcpStream, idle: Duration) {
    let (mut client_r, mut client_w) = client.into_split();
    let (mut server_r, mut server_w) = server.into_split();
    let last = Mutex::new(Instant::now());
    let up = async {
        // A client that stops sending (or half-closes) may still be waiting for its answer.
        pump(&mut client_r, &mut server_w, &last).await;
        std::future::pending::<()>().await
    };
    let down = async {
        pump(&mut server_r, &mut client_w, &last).await;
        let _ = client_w.shutdown().await;
    };
    let watchdog = async {
        loop {
            let quiet_until = *last.lock().unwrap_or_else(|p| p.into_inner()) + idle;
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

/// Copies `from` to `to`, noting the time of each transfer; ends at EOF or error.
async fn pump<R, W>(from: &mut R, to: &mut W, last: &Mutex<Instant>)
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
        *last.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
    }
}
