//! The history of the conversations answered lately, kept in memory: answering a message
//! then reads nothing (the queue, the orphans and the prompt all come from it), where it used
//! to read the conversation's whole history and its queue for every answer.
//!
//! It is only used by a single process, which makes every write itself and notes each one
//! here once it committed (`anotar`). With several processes another one may write to a
//! conversation, so the worker reads the database instead.
//!
//! A load races with the writes that commit while it reads: each entry counts the writes
//! noted (`escritas`), a load takes that count before its read and installs its rows only if
//! no write was noted meanwhile. Memory is bounded: texts are cut to what a prompt can use,
//! and past `limite` bytes the least recently used histories are dropped (they are read again
//! when needed). A cut text is never written back: an answer left `gerando` is ended with the
//! text the database holds.
use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard},
};

use uuid::Uuid;

use crate::storage::{Autor, MensagemRow};

#[derive(Default)]
struct Entrada {
    /// The conversation's rows in `seq` order, once loaded.
    linhas: Option<Arc<Vec<MensagemRow>>>,
    escritas: u64,
    usada: u64,
    bytes: usize,
}

#[derive(Default)]
struct Mapa {
    entradas: HashMap<Uuid, Entrada>,
    bytes: usize,
    relogio: u64,
}

pub struct Historicos {
    mapa: Mutex<Mapa>,
    limite: usize,
    /// Characters kept of each answer: one more than the prompt's history budget. A longer
    /// answer never fits the prompt (its cost alone is over the budget, and only the
    /// question being answered goes in whatever its length), so its cut copy gives the same
    /// prompt; answers of megabytes do not stay in memory.
    max_caracteres: usize,
}

/// What became of a history loaded from the database; each holds the rows, usable now.
#[derive(Debug)]
pub enum Carga {
    /// Kept: later answers read it from memory.
    Guardada(Arc<Vec<MensagemRow>>),
    /// Too big to keep: correct now, read again next time.
    Grande(Arc<Vec<MensagemRow>>),
    /// A write was noted while it loaded: it may miss that write, so it was not kept.
    Corrida(Arc<Vec<MensagemRow>>),
}

/// A load in progress: the count of writes it must see unchanged to install its rows.
pub struct Marca(u64);

fn tamanho(m: &MensagemRow) -> usize {
    m.conteudo.len() + m.usuario_id.len() + std::mem::size_of::<MensagemRow>()
}

impl Historicos {
    pub fn new(limite: usize, orcamento_prompt: usize) -> Self {
        Self {
            mapa: Mutex::new(Mapa::default()),
            limite,
            max_caracteres: orcamento_prompt.saturating_add(1),
        }
    }

    /// Only answers are cut: the question being answered always goes whole into its prompt
    /// (and a student's text is bounded by the send limit anyway).
    fn cortar(&self, mut linha: MensagemRow) -> MensagemRow {
        if linha.papel == Autor::Aluno {
            return linha;
        }
        if let Some((i, _)) = linha.conteudo.char_indices().nth(self.max_caracteres) {
            linha.conteudo.truncate(i);
            linha.conteudo.shrink_to_fit();
        }
        linha
    }

    fn travar(&self) -> MutexGuard<'_, Mapa> {
        self.mapa.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The rows of the conversation, if loaded.
    pub fn ler(&self, conversa_id: Uuid) -> Option<Arc<Vec<MensagemRow>>> {
        let mut m = self.travar();
        m.relogio += 1;
        let agora = m.relogio;
        let e = m.entradas.get_mut(&conversa_id)?;
        e.usada = agora;
        e.linhas.clone()
    }

    /// Before reading the conversation from the database.
    pub fn marcar(&self, conversa_id: Uuid) -> Marca {
        let mut m = self.travar();
        Marca(m.entradas.entry(conversa_id).or_default().escritas)
    }

    /// Installs what the database read gave, unless a write was noted since `marca`; the
    /// rows come back either way, to use now.
    pub fn instalar(&self, conversa_id: Uuid, marca: Marca, linhas: Vec<MensagemRow>) -> Carga {
        let linhas: Vec<MensagemRow> = linhas.into_iter().map(|l| self.cortar(l)).collect();
        let bytes: usize = linhas.iter().map(tamanho).sum();
        let linhas = Arc::new(linhas);
        let mut m = self.travar();
        m.relogio += 1;
        let agora = m.relogio;
        let Some(e) = m.entradas.get_mut(&conversa_id) else {
            return Carga::Corrida(linhas);
        };
        if e.escritas != marca.0 {
            return Carga::Corrida(linhas);
        }
        // A history too big to keep is read each time instead.
        if bytes > self.limite / 8 {
            return Carga::Grande(linhas);
        }
        let antes = e.bytes;
        e.linhas = Some(Arc::clone(&linhas));
        e.bytes = bytes;
        e.usada = agora;
        m.bytes = m.bytes + bytes - antes;
        self.aparar(&mut m);
        Carga::Guardada(linhas)
    }

    /// A row committed: added to (or replaced in) the conversation's history if loaded.
    pub fn anotar(&self, linha: &MensagemRow) {
        let mut m = self.travar();
        let Some(e) = m.entradas.get_mut(&linha.conversa_id) else {
            return;
        };
        e.escritas += 1;
        let Some(linhas) = e.linhas.as_mut() else {
            return;
        };
        let linhas = Arc::make_mut(linhas);
        let linha = &self.cortar(linha.clone());
        let novo = tamanho(linha);
        let antes = match linhas.iter().position(|l| l.id == linha.id) {
            Some(i) => {
                let antes = tamanho(&linhas[i]);
                linhas[i] = linha.clone();
                antes
            }
            None => {
                let i = linhas.partition_point(|l| l.seq < linha.seq);
                linhas.insert(i, linha.clone());
                0
            }
        };
        e.bytes = e.bytes + novo - antes;
        m.bytes = m.bytes + novo - antes;
        self.aparar(&mut m);
    }

    /// Forgets the conversation's history: the next read goes to the database.
    pub fn esquecer(&self, conversa_id: Uuid) {
        let mut m = self.travar();
        if let Some(e) = m.entradas.remove(&conversa_id) {
            m.bytes -= e.bytes;
        }
    }

    /// Drops the least recently used histories until half the budget is free.
    fn aparar(&self, m: &mut Mapa) {
        if m.bytes <= self.limite {
            return;
        }
        let mut usos: Vec<(u64, Uuid)> = m.entradas.iter().map(|(id, e)| (e.usada, *id)).collect();
        usos.sort_unstable();
        for (_, id) in usos {
            if m.bytes <= self.limite / 2 {
                break;
            }
            if let Some(e) = m.entradas.remove(&id) {
                m.bytes -= e.bytes;
            }
        }
    }
}

/// The oldest student message without an answer (`linhas` in `seq` order).
pub fn proxima_sem_resposta(linhas: &[MensagemRow]) -> Option<&MensagemRow> {
    let respondidas: std::collections::HashSet<Uuid> =
        linhas.iter().filter_map(|m| m.responde_a).collect();
    linhas
        .iter()
        .find(|m| m.papel == Autor::Aluno && !respondidas.contains(&m.id))
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::storage::Status;

    fn linha(conversa_id: Uuid, seq: i64, papel: Autor, responde_a: Option<Uuid>) -> MensagemRow {
        MensagemRow {
            seq,
            id: Uuid::now_v7(),
            conversa_id,
            usuario_id: "u".into(),
            papel,
            conteudo: "texto".into(),
            status: Status::Completa,
            id_cliente: None,
            responde_a,
            erro: None,
            criada_em: Utc::now(),
            atualizada_em: Utc::now(),
        }
    }

    impl Carga {
        fn guardada(&self) -> bool {
            matches!(self, Carga::Guardada(_))
        }
    }

    #[test]
    fn a_load_that_raced_a_write_is_not_installed() {
        let h = Historicos::new(1 << 20, 1000);
        let c = Uuid::now_v7();
        let marca = h.marcar(c);
        // A message commits while the load reads: the load may have missed it.
        h.anotar(&linha(c, 1, Autor::Aluno, None));
        assert!(matches!(h.instalar(c, marca, vec![]), Carga::Corrida(_)));
        assert!(h.ler(c).is_none());
        let marca = h.marcar(c);
        assert!(
            h.instalar(c, marca, vec![linha(c, 1, Autor::Aluno, None)])
                .guardada()
        );
        assert_eq!(h.ler(c).map(|l| l.len()), Some(1));
    }

    #[test]
    fn writes_keep_the_history_in_order_and_the_queue_follows() {
        let h = Historicos::new(1 << 20, 1000);
        let c = Uuid::now_v7();
        let q1 = linha(c, 1, Autor::Aluno, None);
        let marca = h.marcar(c);
        assert!(h.instalar(c, marca, vec![q1.clone()]).guardada());
        let q2 = linha(c, 3, Autor::Aluno, None);
        h.anotar(&q2);
        let mut r1 = linha(c, 2, Autor::Tutor, Some(q1.id));
        r1.status = Status::Gerando;
        h.anotar(&r1);
        r1.status = Status::Completa;
        h.anotar(&r1);
        let l = h.ler(c).expect("loaded");
        assert_eq!(l.iter().map(|m| m.seq).collect::<Vec<_>>(), vec![1, 2, 3]);
        assert_eq!(l[1].status, Status::Completa);
        assert_eq!(proxima_sem_resposta(&l).map(|m| m.id), Some(q2.id));
    }

    #[test]
    fn long_texts_are_kept_only_as_far_as_a_prompt_reads() {
        let h = Historicos::new(1 << 20, 4);
        let c = Uuid::now_v7();
        let marca = h.marcar(c);
        let mut l = linha(c, 1, Autor::Tutor, None);
        l.conteudo = "ção😀ab".into();
        assert!(h.instalar(c, marca, vec![l]).guardada());
        assert_eq!(h.ler(c).expect("loaded")[0].conteudo, "ção😀a");
    }

    #[test]
    fn memory_stays_within_its_budget() {
        let h = Historicos::new(64 * 1024, 1000);
        for _ in 0..200 {
            let c = Uuid::now_v7();
            let marca = h.marcar(c);
            let linhas = (0..5).map(|i| linha(c, i, Autor::Aluno, None)).collect();
            assert!(h.instalar(c, marca, linhas).guardada());
        }
        assert!(h.travar().bytes <= 64 * 1024);
    }

    #[test]
    fn a_history_too_big_to_keep_is_handed_back_to_use_once() {
        let h = Historicos::new(8 * 1024, 100_000);
        let c = Uuid::now_v7();
        let marca = h.marcar(c);
        let mut l = linha(c, 1, Autor::Aluno, None);
        l.conteudo = "x".repeat(2 * 1024);
        match h.instalar(c, marca, vec![l]) {
            Carga::Grande(linhas) => assert_eq!(linhas.len(), 1),
            outra => panic!("{outra:?}"),
        }
        assert!(h.ler(c).is_none(), "not kept");
    }
}
