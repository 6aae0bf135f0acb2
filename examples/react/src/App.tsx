// The app: log in with a token, then a student's chat, or for a teacher the class view.
import { useMemo, useState } from "react";

import { ChatAluno } from "./ChatAluno";
import { useConexao, type EstadoConexao } from "./conexao";
import { identidadeDoToken } from "./identidade";
import { Login, tokenDeVisitante } from "./Login";
import { PainelTurma } from "./PainelTurma";

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

const ROTULOS: Record<EstadoConexao, string> = {
  conectando: "Conectando…",
  conectado: "Conectado",
  reconectando: "Reconectando…",
  recusado: "Acesso recusado",
};

function Tutor({ token, onSair }: { token: string; onSair: () => void }) {
  const { socket, estado } = useConexao(token, renovarVisitante);
  const professor = useMemo(() => identidadeDoToken(token)?.papel === "professor", [token]);

  return (
    <div className="app">
      <header className="topo">
        <h1>
          Tutor{professor ? <span className="subtitulo"> · Turma</span> : null}
        </h1>
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
      {socket && (professor ? <PainelTurma socket={socket} /> : <ChatAluno socket={socket} />)}
    </div>
  );
}
