// The app: log in with a token, then the conversation list beside the open conversation.
import { useCallback, useEffect, useState } from "react";

import { useConexao, type EstadoConexao } from "./conexao";
import { ConversaView } from "./ConversaView";
import { ListaConversas } from "./ListaConversas";
import { Login } from "./Login";
import type { Conversa } from "./protocol";

const CHAVE_TOKEN = "tutor.token";

export function App() {
  const [token, setToken] = useState<string | null>(() => sessionStorage.getItem(CHAVE_TOKEN));
  const entrar = (t: string) => {
    sessionStorage.setItem(CHAVE_TOKEN, t);
    setToken(t);
  };
  const sair = () => {
    sessionStorage.removeItem(CHAVE_TOKEN);
    setToken(null);
  };
  if (!token) return <Login onToken={entrar} />;
  return <Tutor key={token} token={token} onSair={sair} />;
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
  const { socket, estado } = useConexao(token);
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

  // A conversation this tab created: select it and refresh the list (the server tells only
  // the user's other tabs with `conversa_criada`).
  const criada = useCallback(
    (id: string) => {
      setAtual(id);
      void carregarLista();
    },
    [carregarLista, setAtual],
  );

  return (
    <div className="app">
      <header className="topo">
        <h1>Tutor</h1>
        <span data-testid="estado-conexao" className={`conexao conexao-${estado}`}>
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
        <ListaConversas conversas={conversas} atual={atual} onEscolher={setAtual} onNova={() => setAtual(null)} />
        {socket ? <ConversaView socket={socket} conversaId={atual} onCriada={criada} /> : null}
      </div>
    </div>
  );
}
