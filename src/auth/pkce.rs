//! PKCE (RFC 7636) with S256, and the random values of a flow (`state`, JWT ids).
//! The randomness and the hash are ring's.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::{SecureRandom, SystemRandom};

use crate::error::{AuthStep, Error, Result};

/// A PKCE pair: the verifier stays here, the challenge goes to the authorization endpoint.
pub(crate) struct Pkce {
    verifier: String,
    challenge: String,
}

impl std::fmt::Debug for Pkce {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkce").field("verifier", &"<redacted>").field("challenge", &self.challenge).finish()
    }
}

impl Pkce {
    /// A fresh pair: 32 random bytes as a 43-character verifier (RFC 7636 §4.1),
    /// and `BASE64URL(SHA256(verifier))` as the challenge (§4.2).
    pub(crate) fn new() -> Result<Pkce> {
        let verifier = random_token(32)?;
        let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
        Ok(Pkce { challenge: URL_SAFE_NO_PAD.encode(digest.as_ref()), verifier })
    }

    /// The verifier, for the token request only.
    pub(crate) fn verifier(&self) -> &str {
        &self.verifier
    }

    /// The challenge, for the authorization request.
    pub(crate) fn challenge(&self) -> &str {
        &self.challenge
    }
}

/// `bytes` random bytes from the system, base64url without padding.
pub(crate) fn random_token(bytes: usize) -> Result<String> {
    let mut buf = vec![0u8; bytes];
    SystemRandom::new()
        .fill(&mut buf)
        .map_err(|_| Error::auth(AuthStep::Authorization, "the system has no random numbers to give"))?;
    Ok(URL_SAFE_NO_PAD.encode(&buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s256_challenges() {
        // The pair computed independently (Python's hashlib and base64).
        let verifier = "dBjftJeZ4CVP-mJ92K9RYqTcZrcSSx7oxqFxgNs2YRE";
        let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
        assert_eq!(URL_SAFE_NO_PAD.encode(digest.as_ref()), "detZNi9Fqh89JCplFxdbc0BTnHBJlneseB21OZ0FlSE");
        let p = Pkce::new().unwrap();
        assert_eq!(p.verifier().len(), 43);
        assert!(p.verifier().bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        let again = ring::digest::digest(&ring::digest::SHA256, p.verifier().as_bytes());
        assert_eq!(p.challenge(), URL_SAFE_NO_PAD.encode(again.as_ref()));
        assert_ne!(Pkce::new().unwrap().verifier(), p.verifier());
        assert!(!format!("{p:?}").contains(p.verifier()));
    }
}
