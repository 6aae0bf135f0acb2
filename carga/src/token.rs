//! HS256 handshake tokens with the claims PROTOCOL.md names, so the tool can be pointed at
//! any deployment whose secret it is given and act as many distinct users.

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use jsonwebtoken::{EncodingKey, Header, encode};
use serde::Serialize;

#[derive(Serialize)]
struct Claims<'a> {
    sub: &'a str,
    papel: &'a str,
    exp: u64,
}

/// Where each simulated user's token comes from.
#[derive(Clone)]
pub enum Fonte {
    /// Mint one per user with this secret.
    Segredo { segredo: String, horas: u64 },
    /// Everyone uses this one token (one user: mind the server's sockets-per-user limit).
    Fixo(String),
}

impl Fonte {
    /// The token for user `sub` with role `papel` (`aluno` or `professor`).
    pub fn token(&self, sub: &str, papel: &str) -> Result<String> {
        match self {
            Fonte::Fixo(t) => Ok(t.clone()),
            Fonte::Segredo { segredo, horas } => gerar(segredo, sub, papel, *horas),
        }
    }
}

/// Signs a token for `sub` valid for `horas` hours from now.
pub fn gerar(segredo: &str, sub: &str, papel: &str, horas: u64) -> Result<String> {
    let agora = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .context("clock before 1970")?
        .as_secs();
    let claims = Claims {
        sub,
        papel,
        exp: agora + horas * 3600,
    };
    encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(segredo.as_bytes()),
    )
    .context("signing token")
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{DecodingKey, Validation, decode};

    #[test]
    fn token_tem_sub_papel_e_exp_e_confere_com_o_segredo() {
        let t = gerar("segredo", "aluno-7", "professor", 2).expect("signed");
        let v = decode::<serde_json::Value>(
            &t,
            &DecodingKey::from_secret(b"segredo"),
            &Validation::default(),
        )
        .expect("valid with the same secret");
        assert_eq!(v.claims["sub"], "aluno-7");
        assert_eq!(v.claims["papel"], "professor");
        assert!(v.claims["exp"].as_u64().expect("exp") > 1_700_000_000);
        assert!(
            decode::<serde_json::Value>(
                &t,
                &DecodingKey::from_secret(b"outro"),
                &Validation::default()
            )
            .is_err()
        );
    }
}
