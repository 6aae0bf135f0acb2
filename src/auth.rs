//! Who is calling: the handshake token (HS256 JWT) and the identity it proves. Knows nothing
//! of sockets; `socket::auth` is the middleware that uses it.
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// Seconds of clock skew tolerated on `exp`, at the handshake and while connected.
pub const LEEWAY_SECS: u64 = 5;

/// A user id (`sub`) that a token may carry: not blank, at most 255 characters (a key
/// column), and no U+0000 (Postgres cannot store it).
pub fn id_usuario_valido(id: &str) -> bool {
    !id.trim().is_empty() && id.chars().count() <= 255 && !id.contains('\0')
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Papel {
    #[default]
    Aluno,
    Professor,
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    /// Absent means `aluno`; any value other than the two roles fails to parse.
    #[serde(default)]
    papel: Papel,
}

/// The authenticated user of a socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usuario {
    pub id: String,
    pub nome: Option<String>,
    pub papel: Papel,
    /// The token's `exp` (Unix seconds).
    pub expira_em: u64,
}

impl Usuario {
    pub fn is_professor(&self) -> bool {
        self.papel == Papel::Professor
    }

    /// The instant the token stops being accepted: `exp` plus the leeway. The handshake and
    /// the watcher that closes a connected socket both use this one instant, to the
    /// millisecond, so a socket closed for expiry cannot reconnect with the same token.
    pub fn fim_da_validade(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(self.expira_em.saturating_add(LEEWAY_SECS))
    }
}

/// Verifies handshake tokens with one secret.
#[derive(Clone)]
pub struct Verificador {
    chave: DecodingKey,
    validacao: Validation,
}

impl Verificador {
    pub fn new(segredo: &str) -> Self {
        // HS256 only: `none` and other algorithms are refused by `Validation`.
        let mut validacao = Validation::new(Algorithm::HS256);
        validacao.set_required_spec_claims(&["exp", "sub"]);
        validacao.leeway = LEEWAY_SECS;
        Self {
            chave: DecodingKey::from_secret(segredo.as_bytes()),
            validacao,
        }
    }

    /// Any failure (malformed, wrong signature, expired, bad role, blank `sub` or NUL in it)
    /// is `None`: the client is told only `nao_autorizado`.
    pub fn verificar(&self, token: &str) -> Option<Usuario> {
        let dados = jsonwebtoken::decode::<Claims>(token, &self.chave, &self.validacao).ok()?;
        let c = dados.claims;
        if !id_usuario_valido(&c.sub) {
            return None;
        }
        let usuario = Usuario {
            id: c.sub,
            nome: c.name,
            papel: c.papel,
            expira_em: c.exp,
        };
        // `jsonwebtoken` compares whole seconds (`exp + leeway < now`), which accepts a
        // token for up to a second after the watcher has closed its socket for expiry.
        (SystemTime::now() < usuario.fim_da_validade()).then_some(usuario)
    }
}

/// Signs a token for `sub`, valid for `validade` (the `tutor token` subcommand, tests, demo).
pub fn emitir_token(segredo: &str, sub: &str, papel: Papel, validade: Duration) -> String {
    emitir_token_com_nome(segredo, sub, None, papel, validade)
}

pub fn emitir_token_com_nome(
    segredo: &str,
    sub: &str,
    nome: Option<&str>,
    papel: Papel,
    validade: Duration,
) -> String {
    let claims = Claims {
        sub: sub.to_owned(),
        exp: agora_unix() + validade.as_secs(),
        name: nome.map(str::to_owned),
        papel,
    };
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(segredo.as_bytes()),
    )
    .expect("HS256 signing with an in-memory key cannot fail")
}

pub fn agora_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}
