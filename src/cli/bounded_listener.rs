//! A TCP listener for the monitor's status endpoint that bounds what clients can hold: at
//! most so many connections at once, each for at most so long. A status answer takes
//! milliseconds; without the bounds, clients that connect and send nothing (or trickle a
//! request) would each keep a socket and a task forever, and enough of them would exhaust the
//! monitor's file descriptors. hyper's header timeout does not cover a connection that never
//! sends a byte.

use std::future::Future as _;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Sleep;

/// How many connections, and for how long each.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub connections: usize,
    pub lifetime: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            connections: 32,
            lifetime: Duration::from_secs(10),
        }
    }
}

/// Accepts a connection only when fewer than `limits.connections` are open; later clients
/// wait in the kernel's backlog.
pub(crate) struct Bounded {
    inner: TcpListener,
    slots: Arc<Semaphore>,
    lifetime: Duration,
}

impl Bounded {
    pub(crate) fn new(inner: TcpListener, limits: Limits) -> Bounded {
        Bounded {
            inner,
            slots: Arc::new(Semaphore::new(limits.connections.max(1))),
            lifetime: limits.lifetime,
        }
    }
}

impl axum::serve::Listener for Bounded {
    type Io = Conn;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Conn, SocketAddr) {
        let Ok(permit) = self.slots.clone().acquire_owned().await else {
            unreachable!("the semaphore is never closed")
        };
        loop {
            match self.inner.accept().await {
                Ok((stream, addr)) => {
                    return (
                        Conn {
                            stream,
                            _slot: permit,
                            deadline: Box::pin(tokio::time::sleep(self.lifetime)),
                        },
                        addr,
                    )
                }
                // Out of descriptors, say: wait rather than spin.
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// A connection that fails every read and write after its deadline, which makes hyper close
/// it, and frees its slot when dropped.
pub(crate) struct Conn {
    stream: TcpStream,
    _slot: OwnedSemaphorePermit,
    deadline: Pin<Box<Sleep>>,
}

impl Conn {
    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        self.deadline.as_mut().poll(cx).is_ready()
    }
}

fn timed_out<T>() -> Poll<io::Result<T>> {
    Poll::Ready(Err(io::Error::new(
        io::ErrorKind::TimedOut,
        "the connection outlived its deadline",
    )))
}

impl AsyncRead for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.expired(cx) {
            return timed_out();
        }
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.expired(cx) {
            return timed_out();
        }
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
