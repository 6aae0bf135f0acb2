//! The conversation service: accepting a student's message, reading and listing
//! conversations, cancelling an answer, and who may do each. It knows nothing of sockets:
//! it talks to storage functions, the model (through `Gerador`) and a `Difusor`.
mod acesso;
mod coordenacao;
mod cota;
mod difusor;
mod entrada;
mod envio;
mod geracao;
mod historicos;
mod modelo;
mod prompt;
mod sala;
mod turma;

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use uuid::Uuid;

pub use coordenacao::{Coordenacao, Sozinho};
pub use cota::{Cota, ler_fuso};
pub use difusor::{Difusor, Origem};
pub use geracao::{Ajustes, Gerador, texto_do_erro};
pub use modelo::{
    Atualizacao, Autor, CodigoResposta, Conversa, Mensagem, Motivo, ResumoConversa, Status,
};
pub use prompt::PROMPT_PADRAO;
pub use sala::{EmAndamento, Parada, Sala, Salas};
pub use turma::{PedidoTurma, Turma};

use crate::limite::Limitador;
use crate::{
    auth::Usuario,
    error::Erro,
    storage::{self, Db, Escritor, Prazo},
};
use entrada::parse_id;

/// What a send stored (or, for a retry, had stored before).
#[derive(Debug, Clone)]
pub struct Enviada {
    pub conversa: Conversa,
    pub mensagem: Mensagem,
    /// This send created the conversation.
    pub conversa_nova: bool,
    /// A retry of an earlier send with the same `id_cliente`: nothing new was stored.
    pub repetida: bool,
}

/// One `mensagem_enviada` as it reached the server.
pub struct Pedido {
    pub conversa_id: Option<String>,
    pub conteudo: String,
    pub id_cliente: Option<String>,
    /// When it arrived: it is refused as `indisponivel` once `espera_db` has passed since
    /// then, even if it spent that time waiting for its turn behind earlier sends.
    pub chegada: Instant,
}

/// A conversation as a joining tab needs it, with the room held still: the caller joins
/// the socket to the room and acks before it drops `parada`, so the snapshot and the pieces
/// that follow it neither overlap nor leave a gap.
pub struct Entrada {
    pub conversa: Conversa,
    pub mensagens: Vec<Mensagem>,
    /// The answer streaming now: its id and text so far.
    pub em_andamento: Option<(Uuid, String)>,
    pub parada: Parada,
}

pub struct Servico {
    db: Db,
    escritor: Escritor,
    conhecidas: acesso::Conhecidas,
    difusor: Arc<dyn Difusor>,
    gerador: Arc<Gerador>,
    salas: Arc<Salas>,
    coordenacao: Arc<dyn Coordenacao>,
    /// Sends per user.
    envios: Limitador,
    /// Every other event per user: looser, but bounded.
    eventos: Limitador,
    /// The same for professors, who join whole classes at once.
    eventos_professor: Limitador,
    max_caracteres: usize,
    espera_db: Duration,
    /// The students' daily budget of model tokens.
    cota: Cota,
}

/// How much each user may do, and how long a send may wait to be stored.
pub struct Limites {
    pub mensagens_por_minuto: u32,
    pub eventos_por_minuto: u32,
    pub eventos_por_minuto_professor: u32,
    pub max_caracteres: usize,
    /// A send is answered `indisponivel` this long after it arrived if it is not stored by
    /// then, however long the sends before it took.
    pub espera_db: Duration,
    /// The model tokens each student may use per day.
    pub cota: Cota,
}

/// Sends that may come back to back before the per-minute rate applies.
const RAJADA_ENVIOS: u32 = 5;
const RAJADA_EVENTOS: u32 = 30;
/// Several classes of 40 joined at once.
const RAJADA_EVENTOS_PROFESSOR: u32 = 400;
/// Reads of a join that found the room changing under it before it gives up.
const TENTATIVAS_ENTRADA: u32 = 8;
/// How long a join waits for the room to settle between two reads.
const ESPERA_ENTRADA: Duration = Duration::from_millis(150);

impl Servico {
    pub fn new(
        db: Db,
        escritor: Escritor,
        difusor: Arc<dyn Difusor>,
        gerador: Arc<Gerador>,
        salas: Arc<Salas>,
        coordenacao: Arc<dyn Coordenacao>,
        limites: Limites,
    ) -> Self {
        Self {
            db,
            escritor,
            conhecidas: acesso::Conhecidas::default(),
            difusor,
            gerador,
            salas,
            coordenacao,
            // A burst never exceeds the per-minute limit itself (3/min means 3, not 5).
            envios: Limitador::new(
                limites.mensagens_por_minuto,
                RAJADA_ENVIOS.min(limites.mensagens_por_minuto),
            ),
            eventos: Limitador::new(
                limites.eventos_por_minuto,
                RAJADA_EVENTOS.min(limites.eventos_por_minuto),
            ),
            eventos_professor: Limitador::new(
                limites.eventos_por_minuto_professor,
                RAJADA_EVENTOS_PROFESSOR.min(limites.eventos_por_minuto_professor),
            ),
            max_caracteres: limites.max_caracteres,
            espera_db: limites.espera_db,
            cota: limites.cota,
        }
    }

    fn contar_evento(&self, usuario: &Usuario) -> Result<(), Erro> {
        let balde = if usuario.is_professor() {
            &self.eventos_professor
        } else {
            &self.eventos
        };
        balde
            .tomar(&usuario.id)
            .map_err(|tentar_em_ms| Erro::LimiteExcedido { tentar_em_ms })
    }

    /// `mensagem_enviada`: stores the student's message (with its new conversation when
    /// there is none) and returns it once it is durable. Nothing is announced yet: the caller
    /// joins the room and acks, then calls `anunciar`, so the sender sees its ack before any
    /// event about the message or its answer.
    pub async fn enviar_mensagem(
        &self,
        usuario: &Usuario,
        pedido: Pedido,
    ) -> Result<Enviada, Erro> {
        let Pedido {
            conversa_id,
            conteudo,
            id_cliente,
            chegada,
        } = pedido;
        // At the deadline the send gives up, unless its commit has begun: then the ack waits
        // for that commit, so a send told `indisponivel` is never stored after all (`Prazo`).
        let prazo = Prazo::new(chegada + self.espera_db);
        let armazenada = self.armazenar(usuario, conversa_id, conteudo, id_cliente, prazo.clone());
        tokio::pin!(armazenada);
        tokio::select! {
            r = &mut armazenada => r,
            () = tokio::time::sleep_until(prazo.ate().into()) => {
                if prazo.desistir() {
                    tracing::warn!(user = %usuario.id, "send not stored within its deadline");
                    return Err(Erro::Indisponivel);
                }
                armazenada.await
            }
        }
    }

    /// After a send's ack: tells the user's other sockets, the room and the professors, and
    /// makes sure the message is answered. `origem`, the sending socket, is left out.
    pub fn anunciar(&self, usuario: &Usuario, enviada: &Enviada, origem: &Origem) {
        if enviada.conversa_nova {
            self.difusor
                .conversa_criada(&usuario.id, &enviada.conversa, origem);
        }
        if !enviada.repetida {
            self.difusor.mensagem_recebida(&enviada.mensagem, origem);
            let id = enviada.conversa.id;
            self.difusor.conversa_atualizada(&Atualizacao {
                conversa_id: id,
                usuario: usuario.id.clone(),
                motivo: if enviada.conversa_nova {
                    Motivo::Criada
                } else {
                    Motivo::Mensagem
                },
                gerando: self
                    .salas
                    .existente(id)
                    .is_some_and(|s| s.com_atual(|_| ()).is_some()),
                atualizada_em: enviada.mensagem.criada_em,
            });
        }
        // Idempotent: a retry whose answer is still queued starts no second one.
        self.gerador.agendar(enviada.conversa.id);
    }

    /// `entrar_conversa`: the snapshot, returned while the conversation's live answer is
    /// held still (see `Entrada`).
    pub async fn entrar_conversa(
        &self,
        usuario: &Usuario,
        conversa_id: String,
        apos: Option<String>,
    ) -> Result<Entrada, Erro> {
        self.contar_evento(usuario)?;
        let id = parse_id("conversa_id", &conversa_id)?;
        let conversa = self.para_ler(usuario, id).await?;
        // An `apos` that is no message id of this conversation gets the whole history.
        let apos = apos.and_then(|a| Uuid::parse_str(&a).ok());
        let sala = self.salas.sala(conversa.id);
        let mut tentativa = 0;
        loop {
            let ultima = tentativa >= TENTATIVAS_ENTRADA;
            tentativa += 1;
            let versao = sala.versao();
            let linhas = storage::list_mensagens(&self.db, sala.conversa_id, apos).await?;
            let gerando = linhas
                .iter()
                .rev()
                .find(|m| m.status == Status::Gerando)
                .map(|m| m.id);
            if let Ok(parada) = sala.juntar(versao, ultima) {
                let ao_vivo = parada.ao_vivo();
                // An answer `gerando` in the database that this process does not see stream
                // has just started, or streams in a process we have not heard all of:
                // read again rather than hand out a snapshot that may miss pieces.
                if ultima || gerando.is_none() || ao_vivo.map(|a| a.mensagem_id) == gerando {
                    let em_andamento = ao_vivo.map(|a| (a.mensagem_id, a.texto.clone()));
                    let mut mensagens: Vec<Mensagem> =
                        linhas.into_iter().map(Mensagem::from).collect();
                    if let Some((id, texto)) = &em_andamento
                        && let Some(m) = mensagens.iter_mut().find(|m| m.id == *id)
                    {
                        // The stored row may already be final while its end is on the way
                        // here: the tab sees it streaming, then gets the end.
                        m.conteudo.clone_from(texto);
                        m.status = Status::Gerando;
                    }
                    return Ok(Entrada {
                        conversa: conversa.into(),
                        mensagens,
                        em_andamento,
                        parada,
                    });
                }
            }
            if gerando.is_some() {
                self.coordenacao.pedir_estado(sala.conversa_id);
            }
            sala.esperar_mudanca(ESPERA_ENTRADA).await;
        }
    }

    /// `sair_conversa`: only checks that the conversation is visible to the caller.
    pub async fn sair_conversa(
        &self,
        usuario: &Usuario,
        conversa_id: String,
    ) -> Result<Uuid, Erro> {
        let id = parse_id("conversa_id", &conversa_id)?;
        self.para_ler(usuario, id).await.map(|c| c.id)
    }

    /// `cancelar_resposta`: true when an answer was streaming and is now stopped (here, or
    /// in the process that generates it, which is asked to stop that very answer).
    pub async fn cancelar_resposta(
        &self,
        usuario: &Usuario,
        conversa_id: String,
    ) -> Result<bool, Erro> {
        let id = parse_id("conversa_id", &conversa_id)?;
        let c = self.para_escrever(usuario, id).await?;
        let Some(sala) = self.salas.existente(c.id) else {
            return Ok(false);
        };
        if sala.cancelar(None) {
            return Ok(true);
        }
        match sala.atual() {
            Some(a) => {
                self.coordenacao.cancelar_em_outro(c.id, a.mensagem_id);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// `listar_conversas`: the caller's own, or, for a professor, another user's.
    pub async fn listar_conversas(
        &self,
        usuario: &Usuario,
        de: Option<String>,
    ) -> Result<Vec<Conversa>, Erro> {
        self.contar_evento(usuario)?;
        let alvo = match de {
            Some(outro) if outro != usuario.id => {
                if !usuario.is_professor() {
                    return Err(Erro::Proibido);
                }
                // No token can name such a student, and Postgres cannot even compare a
                // text with U+0000: a clear refusal, not a database error.
                if !crate::auth::id_usuario_valido(&outro) {
                    return Err(Erro::entrada(
                        "usuario deve ter de 1 a 255 caracteres, sem o caractere NUL.",
                    ));
                }
                outro
            }
            _ => usuario.id.clone(),
        };
        let linhas = storage::list_conversas(&self.db, &alvo).await?;
        Ok(linhas.into_iter().map(Conversa::from).collect())
    }
}
