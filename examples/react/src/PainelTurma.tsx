// A teacher's side: the class view, or one student's conversation read-only, streaming live.
// The list keeps following the class while a conversation is open, so going back shows it
// current.
import { useEffect } from "react";

import type { TutorSocket } from "./conexao";
import { ConversaView } from "./ConversaView";
import { useConversaNoEndereco } from "./endereco";
import { TabelaTurma } from "./TabelaTurma";
import { useTurma } from "./useTurma";

export function PainelTurma({ socket }: { socket: TutorSocket }) {
  const turma = useTurma(socket);
  const [atual, setAtual] = useConversaNoEndereco();
  const linha = atual ? turma.linhas.find((l) => l.id === atual) : undefined;

  // A link to a conversation further down than the pages loaded: fetch its row, for the
  // student's name and the title.
  const { atualizar, carregada } = turma;
  const faltaLinha = atual !== null && carregada && !linha;
  useEffect(() => {
    if (faltaLinha) atualizar(atual);
  }, [faltaLinha, atual, atualizar]);

  if (!atual) return <TabelaTurma turma={turma} onAbrir={setAtual} />;
  const aluno = linha ? (linha.nome_usuario ?? linha.usuario) : "Aluno";
  return (
    <div className="leitura">
      <div className="leitura-topo">
        <button type="button" className="secundario" data-testid="voltar-turma" onClick={() => setAtual(null)}>
          ← Turma
        </button>
        <div className="leitura-titulo">
          <strong data-testid="leitura-titulo">{linha?.titulo ?? "Conversa"}</strong>
          <span className="legenda">
            {aluno} · somente leitura{linha?.gerando ? " · respondendo…" : ""}
          </span>
        </div>
      </div>
      <ConversaView socket={socket} conversaId={atual} modo="leitura" nomeAluno={aluno} />
    </div>
  );
}
