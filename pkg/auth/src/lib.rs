//! Tenant resolution at Strata's HTTP edge, the same rule on every tenant-scoped endpoint
//! (push, queries, remote read):
//!
//! 1. multitenancy disabled → every request is tenant [`ANONYMOUS_TENANT`];
//! 2. the `X-Scope-OrgID` header, when present;
//! 3. otherwise the basic-auth username (as hosted Mimir does; Prometheus 2.42 cannot send
//!    custom remote-write headers but does send `basic_auth`). Passwords are not checked yet.
//!
//! A missing tenant is a 401, an invalid one a 400 ([`TenantError::status`]).

use base64::Engine as _;
use http::{HeaderMap, StatusCode};
use strata_model::{TenantId, TenantIdError};

/// The header that names the tenant, as in Cortex and Mimir.
pub const ORG_ID_HEADER: &str = "X-Scope-OrgID";

/// The tenant every request belongs to when multitenancy is disabled.
pub const ANONYMOUS_TENANT: &str = "anonymous";

/// Why a request has no usable tenant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TenantError {
    /// Neither `X-Scope-OrgID` nor a basic-auth username was sent.
    #[error("no org id: set the X-Scope-OrgID header or a basic-auth username")]
    Missing,
    /// The header or username is not a valid tenant id.
    #[error("invalid tenant id: {0}")]
    Invalid(#[from] TenantIdError),
    /// The Authorization header is malformed.
    #[error("malformed basic-auth credentials")]
    BadAuthorization,
}

impl TenantError {
    /// The HTTP status to answer with: 401 when missing, 400 when invalid.
    pub fn status(&self) -> StatusCode {
        match self {
            TenantError::Missing | TenantError::BadAuthorization => StatusCode::UNAUTHORIZED,
            TenantError::Invalid(_) => StatusCode::BAD_REQUEST,
        }
    }
}

/// Resolves the tenant of a request from its headers.
pub fn tenant_from_headers(
    headers: &HeaderMap,
    multitenancy_enabled: bool,
) -> Result<TenantId, TenantError> {
    if !multitenancy_enabled {
        return Ok(TenantId::new(ANONYMOUS_TENANT)?);
    }
    if let Some(v) = headers.get(ORG_ID_HEADER) {
        let s = v.to_str().map_err(|_| TenantIdError::BadChar('\u{fffd}'))?;
        return Ok(TenantId::new(s)?);
    }
    if let Some(v) = headers.get(http::header::AUTHORIZATION) {
        let user = basic_auth_user(v.as_bytes())?;
        return Ok(TenantId::new(&user)?);
    }
    Err(TenantError::Missing)
}

fn basic_auth_user(value: &[u8]) -> Result<String, TenantError> {
    let value = std::str::from_utf8(value).map_err(|_| TenantError::BadAuthorization)?;
    let (scheme, rest) = value
        .trim()
        .split_once(' ')
        .ok_or(TenantError::BadAuthorization)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(TenantError::Missing);
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .map_err(|_| TenantError::BadAuthorization)?;
    let decoded = String::from_utf8(decoded).map_err(|_| TenantError::BadAuthorization)?;
    let user = decoded.split_once(':').map_or(decoded.as_str(), |(u, _)| u);
    if user.is_empty() {
        return Err(TenantError::Missing);
    }
    Ok(user.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().expect("valid header value"));
        }
        h
    }

    #[test]
    fn org_id_header_wins() {
        let h = headers(&[
            ("x-scope-orgid", "team-a"),
            ("authorization", "Basic dGVhbS1iOnB3"),
        ]);
        assert_eq!(
            tenant_from_headers(&h, true).expect("tenant").as_str(),
            "team-a"
        );
    }

    #[test]
    fn basic_auth_username_names_the_tenant() {
        // "team-b:pw"
        let h = headers(&[("authorization", "Basic dGVhbS1iOnB3")]);
        assert_eq!(
            tenant_from_headers(&h, true).expect("tenant").as_str(),
            "team-b"
        );
    }

    #[test]
    fn missing_is_401_invalid_is_400() {
        let e = tenant_from_headers(&HeaderMap::new(), true).expect_err("missing");
        assert_eq!(e.status(), StatusCode::UNAUTHORIZED);
        let e =
            tenant_from_headers(&headers(&[("x-scope-orgid", "a/b")]), true).expect_err("invalid");
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
        let e =
            tenant_from_headers(&headers(&[("x-scope-orgid", "..")]), true).expect_err("invalid");
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn disabled_multitenancy_is_anonymous() {
        assert_eq!(
            tenant_from_headers(&HeaderMap::new(), false)
                .expect("tenant")
                .as_str(),
            "anonymous"
        );
    }
}
