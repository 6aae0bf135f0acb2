//! What one process tells the others over Redis: every room event (so their tabs get it),
//! and the few requests that must reach the process generating an answer.
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::conversation::{Atualizacao, CodigoResposta, Conversa, Mensagem, Origem};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum Aviso {
    ConversaCriada {
        usuario: String,
        conversa: Conversa,
        exceto: Origem,
    },
    MensagemRecebida {
        mensagem: Mensagem,
        exceto: Origem,
    },
    RespostaIniciada {
        conversa_id: Uuid,
        mensagem_id: Uuid,
    },
    RespostaParcial {
        conversa_id: Uuid,
        mensagem_id: Uuid,
        indice: u64,
        delta: String,
    },
    MensagemRespondida {
        mensagem: Mensagem,
    },
    ErroResposta {
        conversa_id: Uuid,
        mensagem_id: Uuid,
        codigo: CodigoResposta,
    },
    /// For the professors' room on every process.
    ConversaAtualizada(Atualizacao),
    /// To the process generating `mensagem_id`: stop it (any other answer is left alone).
    Cancelar {
        conversa_id: Uuid,
        mensagem_id: Uuid,
    },
    /// To the process generating the conversation's answer: publish its whole state.
    PedirEstado {
        conversa_id: Uuid,
    },
    /// The answer's whole state so far, in order with its pieces.
    Estado {
        conversa_id: Uuid,
        mensagem_id: Uuid,
        texto: String,
        proximo_indice: u64,
    },
    /// A stopping process let go of the conversation with work left: take it now.
    Liberada {
        conversa_id: Uuid,
    },
}

/// An `Aviso` and the process that sent it (which skips its own).
#[derive(Debug, Serialize, Deserialize)]
pub struct Envelope {
    pub de: String,
    #[serde(flatten)]
    pub aviso: Aviso,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_piece_with_nul_and_emoji_crosses_byte_exact() {
        let e = Envelope {
            de: "no-a/1".into(),
            aviso: Aviso::RespostaParcial {
                conversa_id: Uuid::now_v7(),
                mensagem_id: Uuid::now_v7(),
                indice: 7,
                delta: "a\u{0}b 🧮".into(),
            },
        };
        let bytes = serde_json::to_vec(&e).expect("serializes");
        let volta: Envelope = serde_json::from_slice(&bytes).expect("parses");
        match volta.aviso {
            Aviso::RespostaParcial { delta, indice, .. } => {
                assert_eq!(delta, "a\u{0}b 🧮");
                assert_eq!(indice, 7);
            }
            outro => panic!("{outro:?}"),
        }
    }
}
