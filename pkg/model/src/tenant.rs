use std::fmt;

/// The longest tenant id accepted, in bytes (as Mimir).
pub const MAX_TENANT_ID_LEN: usize = 150;

/// Why a string is not a valid tenant id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TenantIdError {
    /// The id is empty.
    #[error("tenant id is empty")]
    Empty,
    /// The id is longer than [`MAX_TENANT_ID_LEN`] bytes.
    #[error("tenant id is {0} bytes long, more than the maximum of {MAX_TENANT_ID_LEN}")]
    TooLong(usize),
    /// The id holds a character outside `[a-zA-Z0-9!_.*'()-]`.
    #[error("tenant id contains unsupported character {0:?}")]
    BadChar(char),
    /// The id is `.` or `..`, which would name a directory.
    #[error("tenant id {0:?} is not allowed")]
    Reserved(String),
}

/// A validated tenant id, the unit of isolation: one tenant never sees another's data.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantId(String);

impl TenantId {
    /// Validates `id` by Mimir's rules: 1 to 150 bytes of `[a-zA-Z0-9!_.*'()-]`, and not `.` or `..`.
    pub fn new(id: &str) -> Result<Self, TenantIdError> {
        if id.is_empty() {
            return Err(TenantIdError::Empty);
        }
        if id.len() > MAX_TENANT_ID_LEN {
            return Err(TenantIdError::TooLong(id.len()));
        }
        if let Some(c) = id
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || "!-_.*'()".contains(*c)))
        {
            return Err(TenantIdError::BadChar(c));
        }
        if id == "." || id == ".." {
            return Err(TenantIdError::Reserved(id.to_string()));
        }
        Ok(Self(id.to_string()))
    }

    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_mimir_charset() {
        assert!(TenantId::new("team-a").is_ok());
        assert!(TenantId::new("a!_.*'()-Z9").is_ok());
        assert!(TenantId::new(&"x".repeat(150)).is_ok());
    }

    #[test]
    fn rejects_bad_ids() {
        assert_eq!(TenantId::new(""), Err(TenantIdError::Empty));
        assert_eq!(
            TenantId::new(&"x".repeat(151)),
            Err(TenantIdError::TooLong(151))
        );
        assert_eq!(TenantId::new("a/b"), Err(TenantIdError::BadChar('/')));
        assert_eq!(TenantId::new("a b"), Err(TenantIdError::BadChar(' ')));
        assert!(matches!(
            TenantId::new("."),
            Err(TenantIdError::Reserved(_))
        ));
        assert!(matches!(
            TenantId::new(".."),
            Err(TenantIdError::Reserved(_))
        ));
        assert!(TenantId::new("...").is_ok());
    }
}
