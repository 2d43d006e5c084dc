//! The client's IP address, for per-IP limits: the peer address, or the last untrusted hop of
//! `X-Forwarded-For` when the peer is one of `TRUSTED_PROXIES` (addresses or CIDR ranges).

use std::net::{IpAddr, SocketAddr};

use axum::{
    extract::{ConnectInfo, FromRequestParts},
    http::request::Parts,
};

use crate::{error::AppError, state::AppState};

/// The client's address, when known (it is unknown only without connect info, as in-process tests).
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub Option<IpAddr>);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
        let Some(peer) = peer else { return Ok(Self(None)) };
        let trusted = state.config.trusted_proxies();
        if !trusted.contains(peer) {
            return Ok(Self(Some(peer)));
        }
        // Walk back from the nearest hop: the first address that is not one of our proxies is the
        // client as far as anything we trust can tell.
        let forwarded: Vec<IpAddr> = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|s| s.trim().parse().ok())
            .collect();
        let client = forwarded.iter().rev().find(|ip| !trusted.contains(**ip)).copied().unwrap_or(peer);
        Ok(Self(Some(client)))
    }
}
