//! The `haproxy` provider: `haproxy_backend` switches which servers of a running HAProxy's
//! backend take traffic, through the runtime API on its admin socket (unix path or host:port).

#![warn(missing_docs)]

mod backend;
mod runtime;

pub use backend::HaproxyProvider;
