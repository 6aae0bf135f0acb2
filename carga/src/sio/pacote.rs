//! Engine.IO v4 and Socket.IO v5 packets as text, with no I/O, so every rule of the wire
//! format is testable without a server. The tutor protocol has no binary payloads, so only
//! text packets exist here.

use anyhow::{Context, Result, anyhow, bail};
use serde_json::Value;

/// Separates packets in one HTTP long-polling body (Engine.IO v4 uses the record separator).
pub const SEPARADOR: char = '\x1e';

/// One Engine.IO packet. `Mensagem` carries a Socket.IO packet as text.
#[derive(Debug, Clone, PartialEq)]
pub enum Engine {
    /// `0{"sid":…,"pingInterval":…,"pingTimeout":…,"upgrades":[…],"maxPayload":…}`
    Abrir(Abertura),
    Fechar,
    /// The server's heartbeat (v4: server pings, client pongs). `probe` during an upgrade.
    Ping(String),
    Pong(String),
    Mensagem(String),
    Upgrade,
    Noop,
}

/// The open packet's fields a client needs.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Abertura {
    pub sid: String,
    pub ping_interval_ms: u64,
    pub ping_timeout_ms: u64,
    pub upgrades: Vec<String>,
}

impl Engine {
    /// Parses one Engine.IO text packet.
    pub fn decodificar(texto: &str) -> Result<Engine> {
        let mut chars = texto.chars();
        let tipo = chars.next().context("empty engine.io packet")?;
        let resto = chars.as_str();
        Ok(match tipo {
            '0' => {
                let v: Value = serde_json::from_str(resto).context("engine.io open packet")?;
                Engine::Abrir(Abertura {
                    sid: v["sid"]
                        .as_str()
                        .context("open packet without sid")?
                        .to_owned(),
                    ping_interval_ms: v["pingInterval"].as_u64().unwrap_or(25_000),
                    ping_timeout_ms: v["pingTimeout"].as_u64().unwrap_or(20_000),
                    upgrades: v["upgrades"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(|u| u.as_str().map(str::to_owned))
                                .collect()
                        })
                        .unwrap_or_default(),
                })
            }
            '1' => Engine::Fechar,
            '2' => Engine::Ping(resto.to_owned()),
            '3' => Engine::Pong(resto.to_owned()),
            '4' => Engine::Mensagem(resto.to_owned()),
            '5' => Engine::Upgrade,
            '6' => Engine::Noop,
            outro => bail!("unknown engine.io packet type {outro:?}"),
        })
    }

    /// The packet as text (the client only ever sends these kinds).
    pub fn codificar(&self) -> String {
        match self {
            Engine::Abrir(_) => "0".to_owned(),
            Engine::Fechar => "1".to_owned(),
            Engine::Ping(p) => format!("2{p}"),
            Engine::Pong(p) => format!("3{p}"),
            Engine::Mensagem(m) => format!("4{m}"),
            Engine::Upgrade => "5".to_owned(),
            Engine::Noop => "6".to_owned(),
        }
    }
}

/// Splits a long-polling body into its packets.
pub fn dividir_polling(corpo: &str) -> Result<Vec<Engine>> {
    corpo
        .split(SEPARADOR)
        .filter(|p| !p.is_empty())
        .map(Engine::decodificar)
        .collect()
}

/// Joins packets into one long-polling POST body.
pub fn juntar_polling<'a>(pacotes: impl IntoIterator<Item = &'a str>) -> String {
    let mut corpo = String::new();
    for (i, p) in pacotes.into_iter().enumerate() {
        if i > 0 {
            corpo.push(SEPARADOR);
        }
        corpo.push_str(p);
    }
    corpo
}

/// One Socket.IO packet on the default namespace `/`.
#[derive(Debug, Clone, PartialEq)]
pub enum Socket {
    /// Client: `0{auth}`; server: `0{"sid":…}`.
    Conectar(Option<Value>),
    Desconectar,
    /// `2[id]["name",data…]`
    Evento {
        id: Option<u64>,
        nome: String,
        dados: Vec<Value>,
    },
    /// `3id[data…]`
    Ack {
        id: u64,
        dados: Vec<Value>,
    },
    /// `4{"message":…}`
    ErroConexao(Value),
}

impl Socket {
    /// Parses a Socket.IO packet (the text after the Engine.IO `4`).
    pub fn decodificar(texto: &str) -> Result<Socket> {
        let mut chars = texto.chars();
        let tipo = chars.next().context("empty socket.io packet")?;
        let mut resto = chars.as_str();
        // A namespace other than "/" is written "/nsp," first; the tutor uses only "/".
        if resto.starts_with('/') {
            let fim = resto.find(',').map_or(resto.len(), |i| i + 1);
            resto = &resto[fim..];
        }
        let digitos = resto.bytes().take_while(u8::is_ascii_digit).count();
        let id = if digitos > 0 {
            Some(
                resto[..digitos]
                    .parse::<u64>()
                    .context("socket.io ack id")?,
            )
        } else {
            None
        };
        let json = &resto[digitos..];
        let valor = || -> Result<Value> {
            serde_json::from_str(json).with_context(|| format!("socket.io payload {json:?}"))
        };
        Ok(match tipo {
            '0' => Socket::Conectar(if json.is_empty() {
                None
            } else {
                Some(valor()?)
            }),
            '1' => Socket::Desconectar,
            '2' => {
                let Value::Array(mut itens) = valor()? else {
                    bail!("socket.io event that is not an array")
                };
                if itens.is_empty() {
                    bail!("socket.io event without a name");
                }
                let nome = match itens.remove(0) {
                    Value::String(s) => s,
                    outro => bail!("socket.io event name {outro}"),
                };
                Socket::Evento {
                    id,
                    nome,
                    dados: itens,
                }
            }
            '3' => {
                let Value::Array(dados) = valor()? else {
                    bail!("socket.io ack that is not an array")
                };
                Socket::Ack {
                    id: id.ok_or_else(|| anyhow!("socket.io ack without id"))?,
                    dados,
                }
            }
            '4' => Socket::ErroConexao(valor()?),
            outro => bail!("unsupported socket.io packet type {outro:?}"),
        })
    }

    /// The packet as text, without the Engine.IO `4`.
    pub fn codificar(&self) -> String {
        match self {
            Socket::Conectar(None) => "0".to_owned(),
            Socket::Conectar(Some(v)) => format!("0{v}"),
            Socket::Desconectar => "1".to_owned(),
            Socket::Evento { id, nome, dados } => {
                let mut itens = Vec::with_capacity(dados.len() + 1);
                itens.push(Value::String(nome.clone()));
                itens.extend(dados.iter().cloned());
                let id = id.map(|i| i.to_string()).unwrap_or_default();
                format!("2{id}{}", Value::Array(itens))
            }
            Socket::Ack { id, dados } => format!("3{id}{}", Value::Array(dados.clone())),
            Socket::ErroConexao(v) => format!("4{v}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn abre_com_os_tempos_do_servidor() {
        let p = Engine::decodificar(
            r#"0{"sid":"abc","upgrades":["websocket"],"pingInterval":300,"pingTimeout":200,"maxPayload":1000}"#,
        )
        .expect("valid open");
        assert_eq!(
            p,
            Engine::Abrir(Abertura {
                sid: "abc".into(),
                ping_interval_ms: 300,
                ping_timeout_ms: 200,
                upgrades: vec!["websocket".into()],
            })
        );
        assert!(Engine::decodificar("0{}").is_err(), "open without sid");
        assert!(Engine::decodificar("9").is_err());
        assert!(Engine::decodificar("").is_err());
    }

    #[test]
    fn polling_separa_e_junta_pelo_separador() {
        let corpo = "40{\"sid\":\"x\"}\x1e2\x1e42[\"a\",1]";
        let p = dividir_polling(corpo).expect("three packets");
        assert_eq!(
            p,
            vec![
                Engine::Mensagem("0{\"sid\":\"x\"}".into()),
                Engine::Ping(String::new()),
                Engine::Mensagem("2[\"a\",1]".into()),
            ]
        );
        assert_eq!(juntar_polling(["3", "42[1]"]), "3\x1e42[1]");
        assert_eq!(juntar_polling(["3"]), "3");
        assert_eq!(Engine::Ping("probe".into()).codificar(), "2probe");
    }

    #[test]
    fn evento_com_ack_ida_e_volta() {
        let e = Socket::Evento {
            id: Some(12),
            nome: "mensagem_enviada".into(),
            dados: vec![json!({"conteudo": "olá\u{0}"})],
        };
        let texto = e.codificar();
        assert_eq!(texto, r#"212["mensagem_enviada",{"conteudo":"olá\u0000"}]"#);
        assert_eq!(Socket::decodificar(&texto).expect("round trip"), e);
        let sem_id = Socket::decodificar(r#"2["resposta_parcial",{"indice":0}]"#).expect("event");
        assert_eq!(
            sem_id,
            Socket::Evento {
                id: None,
                nome: "resposta_parcial".into(),
                dados: vec![json!({"indice": 0})]
            }
        );
    }

    #[test]
    fn ack_erro_e_namespace() {
        assert_eq!(
            Socket::decodificar(r#"37[{"ok":true}]"#).expect("ack"),
            Socket::Ack {
                id: 7,
                dados: vec![json!({"ok": true})]
            }
        );
        assert!(Socket::decodificar("3[1]").is_err(), "ack needs an id");
        assert_eq!(
            Socket::decodificar(r#"4{"message":"nao_autorizado"}"#).expect("connect error"),
            Socket::ErroConexao(json!({"message": "nao_autorizado"}))
        );
        assert_eq!(
            Socket::decodificar(r#"0/admin,{"sid":"s"}"#).expect("namespace skipped"),
            Socket::Conectar(Some(json!({"sid": "s"})))
        );
        assert_eq!(
            Socket::Conectar(Some(json!({"token": "t"}))).codificar(),
            r#"0{"token":"t"}"#
        );
        assert!(Socket::decodificar("2{}").is_err());
        assert!(Socket::decodificar("2[]").is_err());
    }
}
