// The app: log in with a token, then the conversation list beside the open conversation.
import { useCallback, useEffect, useState } from "react";

import { useConexao, type EstadoConexao } from "./conexao";
import { ConversaView } from "./ConversaView";
import { ListaConversas } from "./ListaConversas";
import { Login, tokenDeVisitante } from "./Login";
import type { Conversa } from "./protocol";

const CHAVE_TOKEN = "tutor.token";
/** The demo guest's name, so a refused guest token can be renewed for the same guest. */
const CHAVE_VISITANTE = "tutor.visitante";

export function App() {
  const [token, setToken] = useState<string | null>(() => sessionStorage.getItem(CHAVE_TOKEN));
  const entrar = (t: string, visitante?: string) => {
    sessionStorage.setItem(CHAVE_TOKEN, t);
    if (visitante) sessionStorage.setItem(CHAVE_VISITANTE, visitante);
    else sessionStorage.removeItem(CHAVE_VISITANTE);
    setToken(t);
  };
  const sair = () => {
    sessionStorage.removeItem(CHAVE_TOKEN);
    sessionStorage.removeItem(CHAVE_VISITANTE);
    setToken(null);
  };
  if (!token) return <Login onToken={entrar} />;
  return <Tutor key={token} token={token} onSair={sair} />;
}

/** A fresh token for the demo guest of this tab (the server's demo secret changes on every
 * restart); null for a pasted token, which only the user can replace. */
async function renovarVisitante(): Promise<string | null> {
  const sub = sessionStorage.getItem(CHAVE_VISITANTE);
  if (!sub) return null;
  const novo = await tokenDeVisitante(sub);
  // Kept for a reload, without remounting the app (its state is the same user's).
  if (novo) sessionStorage.setItem(CHAVE_TOKEN, novo);
  return novo;
}

function conversaDoEndereco(): string | null {
  const m = location.hash.match(/^#\/c\/([0-9a-f-]{36})$/i);
  return m ? m[1] : null;
}

const ROTULOS: Record<EstadoConexao, string> = {
  conectando: "Conectando…",
  conectado: "Conectado",
  reconectando: "Reconectando…",
  recusado: "Acesso recusado",
};

function Tutor({ token, onSair }: { token: string; onSair: () => void }) {
  const { socket, estado } = useConexao(token, renovarVisitante);
  const [conversas, setConversas] = useState<Conversa[]>([]);
  // The open conversation lives in the address (#/c/ID), so a reload or a shared link
  // opens it again.
  const [atual, setAtualEstado] = useState<string | null>(() => conversaDoEndereco());
  const setAtual = useCallback((id: string | null) => {
    setAtualEstado(id);
    history.replaceState(null, "", id ? `#/c/${id}` : "#/");
  }, []);

  // A link to a conversation opened in this tab (or back/forward) switches to it.
  useEffect(() => {
    const aoMudar = () => setAtualEstado(conversaDoEndereco());
    window.addEventListener("hashchange", aoMudar);
    return () => window.removeEventListener("hashchange", aoMudar);
  }, []);

  const carregarLista = useCallback(async () => {
    if (!socket) return;
    try {
      const r = await socket.timeout(15_000).emitWithAck("listar_conversas", {});
      if (r.ok) setConversas(r.conversas);
    } catch {
      // The list comes back on the next connect.
    }
  }, [socket]);

  useEffect(() => {
    if (!socket) return;
    const aoConectar = () => void carregarLista();
    const aoCriar = ({ conversa }: { conversa: Conversa }) =>
      setConversas((cs) => [conversa, ...cs.filter((c) => c.id !== conversa.id)]);
    socket.on("connect", aoConectar);
    socket.on("conversa_criada", aoCriar);
    if (socket.connected) aoConectar();
    return () => {
      socket.off("connect", aoConectar);
      socket.off("conversa_criada", aoCriar);
    };
  }, [socket, carregarLista]);

  // After a send of this tab: a conversation it created is selected (the server tells only
  // the user's other tabs with `conversa_criada`), and the list is fetched again so the most
  // recently active conversation comes first.
  const enviada = useCallback(
    (id: string, nova: boolean) => {
      if (nova) setAtual(id);
      void carregarLista();
    },
    [carregarLista, setAtual],
  );

  return (
    <div className="app">
      <header className="topo">
        <h1>Tutor</h1>
        <span data-testid="estado-conexao" role="status" className={`conexao conexao-${estado}`}>
          {ROTULOS[estado]}
        </span>
        <button type="button" className="secundario" onClick={onSair}>
          Sair
        </button>
      </header>
      {estado === "recusado" ? (
        <p className="aviso" role="alert">
          O servidor recusou este token (inválido ou expirado). Saia e entre de novo.
        </p>
      ) : null}
      <div className="corpo">
        <ListaConversas
          conversas={conversas}
          atual={atual}
          onEscolher={setAtual}
          onNova={() => setAtual(null)}
        />
        {socket ? <ConversaView socket={socket} conversaId={atual} onEnviada={enviada} /> : null}
      </div>
    </div>
  );
}
