//! A TCP proxy in front of the API server that can stall its connections (bytes held, as a
//! congested or partitioned network would) and cut them all mid-stream (as a restarting load
//! balancer would). TLS passes through untouched: the client still talks to the API server.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

pub struct FaultyProxy {
    pub address: std::net::SocketAddr,
    flowing: watch::Sender<bool>,
    connections: Arc<Mutex<JoinSet<()>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl FaultyProxy {
    pub async fn start(upstream: std::net::SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (flowing, _) = watch::channel(true);
        let connections = Arc::new(Mutex::new(JoinSet::new()));
        let sender = flowing.clone();
        let set = connections.clone();
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let flowing = sender.subscribe();
                set.lock().unwrap().spawn(async move {
                    let Ok(server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let _ = client.set_nodelay(true);
                    let _ = server.set_nodelay(true);
                    let (client_read, client_write) = client.into_split();
                    let (server_read, server_write) = server.into_split();
                    tokio::join!(
                        pump(client_read, server_write, flowing.clone()),
                        pump(server_read, client_write, flowing),
                    );
                });
            }
        });
        Self {
            address,
            flowing,
            connections,
            accept,
        }
    }

    /// Holds every byte in both directions, on open and new connections, until `flow`.
    pub fn stall(&self) {
        self.flowing.send_replace(false);
    }

    pub fn flow(&self) {
        self.flowing.send_replace(true);
    }

    /// Cuts every open connection mid-stream; new ones are accepted.
    pub fn reset(&self) -> usize {
        let mut set = self.connections.lock().unwrap();
        while set.try_join_next().is_some() {}
        let open = set.len();
        set.abort_all();
        open
    }
}

impl FaultyProxy {
    /// The fault of the network scenarios: some requests go out, then the network stalls
    /// mid-flight for 5 s, then every connection is cut, twice. Returns how many were cut.
    pub async fn stall_mid_flight_then_cut(&self) -> usize {
        use std::time::Duration;
        tokio::time::sleep(Duration::from_millis(300)).await;
        self.stall();
        tokio::time::sleep(Duration::from_secs(5)).await;
        let mut cut = self.reset();
        self.flow();
        tokio::time::sleep(Duration::from_millis(500)).await;
        cut += self.reset();
        cut
    }
}

impl Drop for FaultyProxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.connections.lock().unwrap().abort_all();
    }
}

/// Copies `from` to `to` while the proxy is flowing; waits while it is stalled.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut flowing: watch::Receiver<bool>,
) {
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        if flowing.wait_for(|f| *f).await.is_err() {
            return;
        }
        let read = tokio::select! {
            read = from.read(&mut buffer) => read,
            // Stalled while waiting: stop reading (the bytes stay in the socket).
            _ = flowing.wait_for(|f| !*f) => continue,
        };
        let n = match read {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if flowing.wait_for(|f| *f).await.is_err() || to.write_all(&buffer[..n]).await.is_err() {
            return;
        }
    }
}
