// One conversation: its messages (the state `mensagens`), the answer streaming into it, the
// box to send, and the stop button; or, for a teacher, the same read-only. It catches up
// after a reconnect with `apos`, merging by id, so nothing shows twice.
import { useCallback, useEffect, useRef, useState } from "react";

import type { TutorSocket } from "./conexao";
import { AvisoEnvio, type Aviso, avisoDoErro, bloqueadoAte } from "./AvisoEnvio";
import { MensagemItem } from "./MensagemItem";
import {
  type Fluxo, acrescentar, comAndamento, mesclar, receberParte, respostaNova, ultimoFinal,
} from "./mensagens";
import type {
  EvErroResposta,
  EvMensagem,
  EvRespostaIniciada,
  EvRespostaParcial,
  Mensagem,
} from "./protocol";

type Props = { socket: TutorSocket; conversaId: string | null } & (
  | {
      /** The student's own conversation: the box to send and the stop button. */
      modo: "aluno";
      /** A send of this tab was stored; `nova` when it created the conversation. */
      onEnviada: (conversaId: string, nova: boolean) => void;
    }
  | {
      /** A teacher reading along: no box, no stop. */
      modo: "leitura";
      /** Who signs the student's messages. */
      nomeAluno: string;
    }
);

const PRAZO_MS = 15_000;

export function ConversaView(props: Props) {
  const { socket, conversaId } = props;
  const [mensagens, setMensagens] = useState<Mensagem[]>([]);
  const [erros, setErros] = useState<Record<string, string>>({});
  const [texto, setTexto] = useState("");
  const [aviso, setAviso] = useState<Aviso | null>(null);
  const [conectado, setConectado] = useState(socket.connected);
  const [enviando, setEnviando] = useState(false);
  const [parando, setParando] = useState(false);
  // A send whose ack never came: sending the same text again reuses its `id_cliente`, so
  // the server returns the stored message instead of storing it twice.
  const semAck = useRef<{ conteudo: string; conversa: string | null; id: string } | null>(null);
  const conversaRef = useRef<string | null>(conversaId);
  // The conversation whose messages are on screen (differs from `conversaId` right after
  // the user picks another one).
  const abertaRef = useRef<string | null>(null);
  const mensagensRef = useRef<Mensagem[]>([]);
  const fluxos = useRef(new Map<string, Fluxo>());
  const fim = useRef<HTMLDivElement>(null);

  mensagensRef.current = mensagens;

  // Over the day's budget every send would be refused until it renews: Enviar stays off
  // (the notice says until when) instead of letting each click be refused again, and comes
  // back by itself at the renewal.
  const esgotadoAte = bloqueadoAte(aviso);
  useEffect(() => {
    if (!esgotadoAte) return;
    const ms = Math.min(esgotadoAte.getTime() - Date.now(), 2 ** 31 - 1);
    const t = setTimeout(() => setAviso((a) => (a?.renovaEm === esgotadoAte ? null : a)), ms);
    return () => clearTimeout(t);
  }, [esgotadoAte]);

  const entrar = useCallback(
    async (id: string, apos?: string) => {
      try {
        const r = await socket.timeout(PRAZO_MS).emitWithAck("entrar_conversa", { conversa_id: id, apos });
        if (!r.ok) {
          setAviso(avisoDoErro(r.erro));
          return;
        }
        if (conversaRef.current !== id) return;
        const andamento = r.resposta_em_andamento;
        // The pieces after the ack continue that text, from whatever `indice` comes first.
        if (andamento) fluxos.current.set(andamento.mensagem_id, { proximo: null, adiantados: new Map() });
        const lista = comAndamento(r.mensagens, andamento);
        setMensagens((atuais) => (apos ? mesclar(atuais, lista) : lista));
      } catch {
        setAviso({ texto: "O servidor não respondeu a tempo." });
      }
    },
    [socket],
  );

  // Open the conversation: all of it on arrival, then only what was missed after a reconnect.
  useEffect(() => {
    conversaRef.current = conversaId;
    setAviso(null);
    if (abertaRef.current !== conversaId) {
      abertaRef.current = conversaId;
      mensagensRef.current = [];
      fluxos.current.clear();
      setMensagens([]);
      setErros({});
    }
    if (!conversaId) return;
    const aoConectar = () => void entrar(conversaId, ultimoFinal(mensagensRef.current));
    socket.on("connect", aoConectar);
    if (socket.connected) aoConectar();
    return () => {
      socket.off("connect", aoConectar);
      if (socket.connected) socket.emit("sair_conversa", { conversa_id: conversaId }, () => {});
    };
  }, [socket, conversaId, entrar]);

  useEffect(() => {
    const aoConectar = () => setConectado(true);
    const aoCair = () => setConectado(false);
    socket.on("connect", aoConectar);
    socket.on("disconnect", aoCair);
    setConectado(socket.connected);
    return () => {
      socket.off("connect", aoConectar);
      socket.off("disconnect", aoCair);
    };
  }, [socket]);

  useEffect(() => {
    const minha = (id: string) => id === conversaRef.current;
    const recebida = ({ conversa_id, mensagem }: EvMensagem) => {
      if (minha(conversa_id)) setMensagens((ms) => mesclar(ms, [mensagem]));
    };
    const iniciada = ({ conversa_id, mensagem_id }: EvRespostaIniciada) => {
      if (!minha(conversa_id)) return;
      fluxos.current.set(mensagem_id, { proximo: 0, adiantados: new Map() });
      const nova = respostaNova(mensagem_id, conversa_id);
      setMensagens((ms) => (ms.some((m) => m.id === mensagem_id) ? ms : [...ms, nova]));
    };
    const parcial = ({ conversa_id, mensagem_id, indice, delta }: EvRespostaParcial) => {
      if (!minha(conversa_id)) return;
      const f = fluxos.current.get(mensagem_id) ?? { proximo: null, adiantados: new Map() };
      fluxos.current.set(mensagem_id, f);
      const acrescimo = receberParte(f, indice, delta);
      if (!acrescimo) return;
      setMensagens((ms) => acrescentar(ms, mensagem_id, conversa_id, acrescimo));
    };
    const respondida = ({ conversa_id, mensagem }: EvMensagem) => {
      if (!minha(conversa_id)) return;
      fluxos.current.delete(mensagem.id);
      setMensagens((ms) => mesclar(ms, [mensagem]));
    };
    const erro = ({ conversa_id, mensagem_id, erro: e }: EvErroResposta) => {
      if (!minha(conversa_id)) return;
      fluxos.current.delete(mensagem_id);
      setErros((es) => ({ ...es, [mensagem_id]: e.mensagem }));
      setMensagens((ms) => ms.map((m) => (m.id === mensagem_id ? { ...m, status: "erro" } : m)));
    };
    socket.on("mensagem_recebida", recebida);
    socket.on("resposta_iniciada", iniciada);
    socket.on("resposta_parcial", parcial);
    socket.on("mensagem_respondida", respondida);
    socket.on("erro_resposta", erro);
    return () => {
      socket.off("mensagem_recebida", recebida);
      socket.off("resposta_iniciada", iniciada);
      socket.off("resposta_parcial", parcial);
      socket.off("mensagem_respondida", respondida);
      socket.off("erro_resposta", erro);
    };
  }, [socket]);

  useEffect(() => {
    fim.current?.scrollIntoView?.({ block: "end" });
  }, [mensagens]);

  const enviar = async () => {
    if (props.modo !== "aluno") return;
    const conteudo = texto;
    if (!conteudo.trim() || enviando || esgotadoAte) return;
    const conversa = conversaRef.current;
    const p = semAck.current;
    const id = p && p.conteudo === conteudo && p.conversa === conversa ? p.id : crypto.randomUUID();
    semAck.current = { conteudo, conversa, id };
    setAviso(null);
    setEnviando(true);
    try {
      const r = await socket.timeout(PRAZO_MS).emitWithAck("mensagem_enviada", {
        conversa_id: conversa ?? undefined,
        conteudo,
        id_cliente: id,
      });
      semAck.current = null;
      if (!r.ok) {
        // Nothing was stored: the text stays in the box to send again.
        setAviso(avisoDoErro(r.erro));
        return;
      }
      setTexto((t) => (t === conteudo ? "" : t));
      if (conversaRef.current !== conversa) {
        // The user opened another conversation meanwhile: leave the screen as it is.
        props.onEnviada(r.conversa_id, false);
        return;
      }
      const nova = conversa === null;
      if (nova) {
        // A new conversation: its events from now on are ours, and what is on screen is it.
        conversaRef.current = r.conversa_id;
        abertaRef.current = r.conversa_id;
      }
      setMensagens((ms) => mesclar(ms, [r.mensagem]));
      props.onEnviada(r.conversa_id, nova);
    } catch {
      setAviso({ texto: "O servidor não respondeu a tempo. Envie de novo: a mensagem não será duplicada." });
    } finally {
      setEnviando(false);
    }
  };

  const parar = async () => {
    const id = conversaRef.current;
    if (!id) return;
    setParando(true);
    try {
      const r = await socket.timeout(PRAZO_MS).emitWithAck("cancelar_resposta", { conversa_id: id });
      // Stopped: the button goes away with `mensagem_respondida` (status `cancelada`).
      if (r.ok && r.cancelada) return;
      if (!r.ok) setAviso(avisoDoErro(r.erro));
    } catch {
      setAviso({ texto: "O servidor não respondeu a tempo." });
    }
    setParando(false);
  };

  const gerando = mensagens.some((m) => m.status === "gerando");
  // The stop button comes back for the next answer.
  useEffect(() => {
    if (!gerando) setParando(false);
  }, [gerando]);

  return (
    <section className="conversa" aria-label="Conversa">
      <div className="mensagens" data-testid="mensagens">
        {mensagens.length === 0 ? (
          <p className="vazio">
            {props.modo === "aluno" ? "Pergunte o que quiser ao tutor." : "Nenhuma mensagem nesta conversa."}
          </p>
        ) : null}
        {mensagens.map((m) => (
          <MensagemItem
            key={m.id}
            m={m}
            erro={erros[m.id]}
            nomeAluno={props.modo === "leitura" ? props.nomeAluno : undefined}
          />
        ))}
        <div ref={fim} />
      </div>
      {aviso ? <AvisoEnvio aviso={aviso} /> : null}
      {props.modo === "aluno" ? (
        <form
          className="envio"
          onSubmit={(e) => {
            e.preventDefault();
            void enviar();
          }}
        >
          <textarea
            data-testid="entrada-mensagem"
            value={texto}
            onChange={(e) => setTexto(e.target.value)}
            onKeyDown={(e) => {
              if (e.key === "Enter" && !e.shiftKey) {
                e.preventDefault();
                void enviar();
              }
            }}
            placeholder="Escreva sua pergunta…"
            rows={2}
            aria-label="Sua mensagem"
          />
          {gerando ? (
            <button
              data-testid="parar"
              type="button"
              className="parar"
              onClick={() => void parar()}
              disabled={parando || !conectado}
            >
              {parando ? "Parando…" : "Parar"}
            </button>
          ) : null}
          <button
            data-testid="enviar"
            type="submit"
            disabled={!conectado || enviando || !texto.trim() || esgotadoAte !== null}
            title={esgotadoAte ? "Limite diário atingido" : undefined}
          >
            Enviar
          </button>
        </form>
      ) : null}
    </section>
  );
}
