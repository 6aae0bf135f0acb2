// One conversation: its messages (the state `mensagens`), the answer streaming into it, the
// box to send, and the stop button. It catches up after a reconnect with `apos`, merging by
// id, so nothing shows twice.
import { useCallback, useEffect, useRef, useState } from "react";

import type { TutorSocket } from "./conexao";
import type {
  EvErroResposta,
  EvMensagem,
  EvRespostaIniciada,
  EvRespostaParcial,
  Mensagem,
} from "./protocol";

interface Props {
  socket: TutorSocket;
  conversaId: string | null;
  onCriada: (id: string) => void;
}

/** Where the stream of one answer is: the next `indice` expected (null: take the first
 * piece that comes, as after joining mid-answer) and pieces that came early. */
interface Fluxo {
  proximo: number | null;
  adiantados: Map<number, string>;
}

const PRAZO_MS = 15_000;

/** Adds or replaces messages by id, keeping conversation order. */
function mesclar(atuais: Mensagem[], novas: Mensagem[]): Mensagem[] {
  const resultado = [...atuais];
  for (const m of novas) {
    const i = resultado.findIndex((x) => x.id === m.id);
    if (i >= 0) resultado[i] = m;
    else resultado.push(m);
  }
  return resultado;
}

function ultimoFinal(ms: Mensagem[]): string | undefined {
  return [...ms].reverse().find((m) => m.status !== "gerando")?.id;
}

export function ConversaView({ socket, conversaId, onCriada }: Props) {
  const [mensagens, setMensagens] = useState<Mensagem[]>([]);
  const [erros, setErros] = useState<Record<string, string>>({});
  const [texto, setTexto] = useState("");
  const [aviso, setAviso] = useState<string | null>(null);
  const [conectado, setConectado] = useState(socket.connected);
  const conversaRef = useRef<string | null>(conversaId);
  // The conversation whose messages are on screen (differs from `conversaId` right after
  // the user picks another one).
  const abertaRef = useRef<string | null>(null);
  const mensagensRef = useRef<Mensagem[]>([]);
  const fluxos = useRef(new Map<string, Fluxo>());
  const fim = useRef<HTMLDivElement>(null);

  mensagensRef.current = mensagens;

  const entrar = useCallback(
    async (id: string, apos?: string) => {
      try {
        const r = await socket.timeout(PRAZO_MS).emitWithAck("entrar_conversa", { conversa_id: id, apos });
        if (!r.ok) {
          setAviso(r.erro.mensagem);
          return;
        }
        if (conversaRef.current !== id) return;
        let lista = r.mensagens;
        const andamento = r.resposta_em_andamento;
        if (andamento) {
          fluxos.current.set(andamento.mensagem_id, { proximo: null, adiantados: new Map() });
          lista = lista.map((m: Mensagem) => (m.id === andamento.mensagem_id ? { ...m, conteudo: andamento.conteudo } : m));
        }
        setMensagens((atuais) => (apos ? mesclar(atuais, lista) : lista));
      } catch {
        setAviso("O servidor não respondeu a tempo.");
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
      const nova: Mensagem = {
        id: mensagem_id, conversa_id, papel: "tutor", conteudo: "", status: "gerando",
        criada_em: new Date().toISOString(),
      };
      setMensagens((ms) => (ms.some((m) => m.id === mensagem_id) ? ms : [...ms, nova]));
    };
    const parcial = ({ conversa_id, mensagem_id, indice, delta }: EvRespostaParcial) => {
      if (!minha(conversa_id)) return;
      const f = fluxos.current.get(mensagem_id) ?? { proximo: null, adiantados: new Map() };
      fluxos.current.set(mensagem_id, f);
      f.adiantados.set(indice, delta);
      if (f.proximo === null) f.proximo = indice;
      let acrescimo = "";
      while (f.adiantados.has(f.proximo)) {
        acrescimo += f.adiantados.get(f.proximo);
        f.adiantados.delete(f.proximo);
        f.proximo += 1;
      }
      if (!acrescimo) return;
      setMensagens((ms) => {
        const existe = ms.some((m) => m.id === mensagem_id);
        const base: Mensagem[] = existe
          ? ms
          : [...ms, { id: mensagem_id, conversa_id, papel: "tutor", conteudo: "", status: "gerando", criada_em: new Date().toISOString() }];
        return base.map((m) => (m.id === mensagem_id ? { ...m, conteudo: m.conteudo + acrescimo } : m));
      });
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
    const conteudo = texto;
    if (!conteudo.trim()) return;
    setAviso(null);
    try {
      const r = await socket.timeout(PRAZO_MS).emitWithAck("mensagem_enviada", {
        conversa_id: conversaRef.current ?? undefined,
        conteudo,
        id_cliente: crypto.randomUUID(),
      });
      if (!r.ok) {
        setAviso(r.erro.mensagem);
        return;
      }
      setTexto("");
      if (conversaRef.current !== r.conversa_id) {
        // A new conversation: its events from now on are ours, and what is on screen is it.
        conversaRef.current = r.conversa_id;
        abertaRef.current = r.conversa_id;
        onCriada(r.conversa_id);
      }
      setMensagens((ms) => mesclar(ms, [r.mensagem]));
    } catch {
      setAviso("O servidor não respondeu a tempo. Tente de novo.");
    }
  };

  const parar = () => {
    const id = conversaRef.current;
    if (id) socket.emit("cancelar_resposta", { conversa_id: id }, () => {});
  };

  const gerando = mensagens.some((m) => m.status === "gerando");

  return (
    <section className="conversa" aria-label="Conversa">
      <div className="mensagens" data-testid="mensagens">
        {mensagens.length === 0 ? (
          <p className="vazio">Pergunte o que quiser ao tutor.</p>
        ) : null}
        {mensagens.map((m) => (
          <article
            key={m.id}
            data-testid="mensagem"
            data-papel={m.papel}
            data-status={m.status}
            className={`mensagem ${m.papel} ${m.status}`}
          >
            <span className="autor">{m.papel === "aluno" ? "Você" : "Tutor"}</span>
            <p className="texto">{m.conteudo}</p>
            {m.status === "gerando" ? <span className="digitando">escrevendo…</span> : null}
            {m.status === "cancelada" ? <span className="nota">Resposta interrompida.</span> : null}
            {m.status === "erro" ? (
              <span className="nota erro" data-testid="erro-resposta" role="alert">
                {erros[m.id] ?? "A resposta não pôde ser concluída."}
              </span>
            ) : null}
          </article>
        ))}
        <div ref={fim} />
      </div>
      {aviso ? (
        <p className="aviso" role="alert" data-testid="aviso">
          {aviso}
        </p>
      ) : null}
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
          <button data-testid="parar" type="button" className="parar" onClick={parar}>
            Parar
          </button>
        ) : null}
        <button data-testid="enviar" type="submit" disabled={!conectado || !texto.trim()}>
          Enviar
        </button>
      </form>
    </section>
  );
}
