//! Protocol version negotiation.

use crate::error::Error;

/// The version this client offers in `initialize`.
pub const LATEST_PROTOCOL_VERSION: &str = "2025-11-25";

/// Every version this client accepts from a server, newest first.
pub const SUPPORTED_PROTOCOL_VERSIONS: &[&str] = &["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];

/// Checks the version a server answered with; refuses versions this client does not speak.
pub fn negotiate(server_version: &str) -> Result<&'static str, Error> {
    SUPPORTED_PROTOCOL_VERSIONS
        .iter()
        .find(|v| **v == server_version)
        .copied()
        .ok_or_else(|| Error::UnsupportedVersion(server_version.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_known_and_refuses_others() {
        assert_eq!(negotiate("2025-06-18").unwrap(), "2025-06-18");
        assert_eq!(negotiate("2024-11-05").unwrap(), "2024-11-05");
        let err = negotiate("1999-01-01").unwrap_err();
        assert!(err.to_string().contains("1999-01-01"));
    }
}
