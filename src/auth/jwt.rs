//! `private_key_jwt` client authentication (RFC 7523 §2.2, RFC 7521): a JWT
//! signed with the client's key, ES256 or RS256. The signatures are ring's;
//! this file only assembles the JWS.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, RsaKeyPair};
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject;
use serde_json::json;

use super::pkce::random_token;
use crate::error::{AuthStep, Error, Result};

/// How long an assertion is valid (the token request follows at once).
const LIFETIME_SECS: u64 = 300;

/// The `client_assertion_type` of a JWT assertion.
pub(crate) const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

enum Key {
    Ec(EcdsaKeyPair),
    Rsa(RsaKeyPair),
}

/// Signs client assertions for one client.
pub(crate) struct ClientAssertion {
    key: Key,
    client_id: String,
}

impl std::fmt::Debug for ClientAssertion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientAssertion").field("alg", &self.alg()).field("key", &"<redacted>").finish()
    }
}

impl ClientAssertion {
    /// Loads a PEM private key for `alg` (`ES256`, `RS256`, or `None` to take
    /// the key's kind). EC keys must be PKCS#8 (`BEGIN PRIVATE KEY`); RSA
    /// keys PKCS#8 or PKCS#1. The error says what is wrong, never the key.
    pub(crate) fn from_pem(
        pem: &str,
        alg: Option<&str>,
        client_id: &str,
    ) -> std::result::Result<Self, String> {
        let der = PrivateKeyDer::from_pem_slice(pem.as_bytes())
            .map_err(|_| "not a PEM private key (expected -----BEGIN PRIVATE KEY-----)".to_owned())?;
        let rng = SystemRandom::new();
        let ec = |bytes: &[u8]| {
            EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, bytes, &rng).map(Key::Ec)
        };
        let alg = match (alg, &der) {
            (Some(alg), _) => alg,
            (None, PrivateKeyDer::Pkcs8(k)) if ec(k.secret_pkcs8_der()).is_ok() => "ES256",
            (None, PrivateKeyDer::Sec1(_)) => "ES256",
            (None, _) => "RS256",
        };
        let key = match (alg, &der) {
            ("ES256", PrivateKeyDer::Pkcs8(k)) => {
                ec(k.secret_pkcs8_der()).map_err(|e| format!("ES256 needs a P-256 EC key: {e}"))?
            }
            ("ES256", PrivateKeyDer::Sec1(_)) => {
                return Err(
                    "an EC key must be PKCS#8 (convert it with `openssl pkcs8 -topk8 -nocrypt`)".into()
                );
            }
            ("RS256", PrivateKeyDer::Pkcs8(k)) => RsaKeyPair::from_pkcs8(k.secret_pkcs8_der())
                .map(Key::Rsa)
                .map_err(|e| format!("RS256 needs an RSA key: {e}"))?,
            ("RS256", PrivateKeyDer::Pkcs1(k)) => RsaKeyPair::from_der(k.secret_pkcs1_der())
                .map(Key::Rsa)
                .map_err(|e| format!("not a usable RSA key: {e}"))?,
            ("ES256" | "RS256", _) => return Err(format!("{alg} cannot use this kind of key")),
            (other, _) => return Err(format!("unsupported signing algorithm {other} (use ES256 or RS256)")),
        };
        Ok(ClientAssertion { key, client_id: client_id.to_owned() })
    }

    /// The JWS `alg` of this key.
    pub(crate) fn alg(&self) -> &'static str {
        match self.key {
            Key::Ec(_) => "ES256",
            Key::Rsa(_) => "RS256",
        }
    }

    /// A fresh assertion for the authorization server `audience` (its issuer):
    /// `iss` and `sub` are the client id, `exp` five minutes ahead, `jti` unique.
    pub(crate) fn sign(&self, audience: &str) -> Result<String> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let header = json!({"alg": self.alg(), "typ": "JWT"});
        let claims = json!({
            "iss": self.client_id, "sub": self.client_id, "aud": audience,
            "iat": now, "exp": now + LIFETIME_SECS, "jti": random_token(16)?,
        });
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let rng = SystemRandom::new();
        let failed = |_| Error::auth(AuthStep::Token, "signing the client assertion failed");
        let signature = match &self.key {
            Key::Ec(k) => k.sign(&rng, input.as_bytes()).map_err(failed)?.as_ref().to_vec(),
            Key::Rsa(k) => {
                let mut sig = vec![0; k.public().modulus_len()];
                k.sign(&signature::RSA_PKCS1_SHA256, &rng, input.as_bytes(), &mut sig).map_err(failed)?;
                sig
            }
        };
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::signature::KeyPair;

    fn ec_pem() -> (String, Vec<u8>) {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let key = EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(pkcs8.as_ref());
        (
            format!("-----BEGIN PRIVATE KEY-----\n{b64}\n-----END PRIVATE KEY-----\n"),
            key.public_key().as_ref().to_vec(),
        )
    }

    #[test]
    fn es256_assertions_verify() {
        let (pem, public) = ec_pem();
        let a = ClientAssertion::from_pem(&pem, Some("ES256"), "client-1").unwrap();
        assert_eq!(a.alg(), "ES256");
        assert!(!format!("{a:?}").contains("PRIVATE"));
        let jwt = a.sign("http://localhost:9").unwrap();
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims["iss"], "client-1");
        assert_eq!(claims["sub"], "client-1");
        assert_eq!(claims["aud"], "http://localhost:9");
        assert!(claims["exp"].as_u64().unwrap() > claims["iat"].as_u64().unwrap());
        let sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        let verifier = signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, public);
        verifier.verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &sig).unwrap();
        assert_ne!(a.sign("x").unwrap(), a.sign("x").unwrap(), "jti differs");
        // The kind is taken from the key when no algorithm is named.
        assert_eq!(ClientAssertion::from_pem(&pem, None, "c").unwrap().alg(), "ES256");
    }

    #[test]
    fn rs256_assertions_verify() {
        // A throwaway 2048-bit key made with `openssl genpkey` for this test only.
        let pem = include_str!("../../tests/fixtures/rsa-test-key.pem");
        let a = ClientAssertion::from_pem(pem, Some("RS256"), "c").unwrap();
        assert_eq!(a.alg(), "RS256");
        assert_eq!(ClientAssertion::from_pem(pem, None, "c").unwrap().alg(), "RS256");
        assert!(ClientAssertion::from_pem(pem, Some("ES256"), "c").is_err());
        let Key::Rsa(k) = &a.key else { unreachable!() };
        let public = k.public().as_ref().to_vec();
        let jwt = a.sign("https://as.example").unwrap();
        let (input, sig) = jwt.rsplit_once('.').unwrap();
        let verifier = signature::UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, public);
        verifier.verify(input.as_bytes(), &URL_SAFE_NO_PAD.decode(sig).unwrap()).unwrap();
        let header = input.split('.').next().unwrap();
        let header: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
        assert_eq!(header["alg"], "RS256");
    }

    #[test]
    fn bad_keys_are_explained() {
        let (pem, _) = ec_pem();
        assert!(ClientAssertion::from_pem(&pem, Some("RS256"), "c").is_err());
        assert!(ClientAssertion::from_pem(&pem, Some("HS256"), "c").is_err());
        assert!(ClientAssertion::from_pem("not a key", Some("ES256"), "c").unwrap_err().contains("PEM"));
        let sec1 = "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n";
        assert!(ClientAssertion::from_pem(sec1, Some("ES256"), "c").unwrap_err().contains("PKCS#8"));
    }
}
