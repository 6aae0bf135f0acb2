// The class at a glance: every student's conversations, most recently active first, who is
// being answered right now, and how much of the day's budget each student has used.
import { useEffect, useState } from "react";

import type { ResumoConversa } from "./protocol";
import { dataHora, haQuanto } from "./tempo";
import type { Turma } from "./useTurma";

const NUMERO = new Intl.NumberFormat("pt-BR");

/** The current time, again every `ms`, so "há 2 minutos" keeps true. */
function useAgora(ms: number): number {
  const [agora, setAgora] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setAgora(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return agora;
}

interface Props {
  turma: Turma;
  onAbrir: (id: string) => void;
}

export function TabelaTurma({ turma, onAbrir }: Props) {
  const agora = useAgora(30_000);
  const { linhas, tokensPorDia } = turma;
  return (
    <section className="turma" aria-label="Conversas da turma" data-testid="turma">
      <div className="turma-cabecalho">
        <h2>Conversas da turma</h2>
        <p className="legenda">Atualiza sozinha enquanto os alunos conversam. Clique numa conversa para acompanhá-la.</p>
      </div>
      {turma.erro ? (
        <p className="aviso" role="alert" data-testid="aviso">
          {turma.erro}
        </p>
      ) : null}
      {turma.carregada && linhas.length === 0 ? (
        <p className="vazio" data-testid="turma-vazia">
          Nenhum aluno conversou com o tutor ainda.
        </p>
      ) : null}
      {linhas.length > 0 ? (
        <div className="tabela-rolagem">
          <table className="tabela-turma">
            <thead>
              <tr>
                <th scope="col">Aluno</th>
                <th scope="col">Conversa</th>
                <th scope="col">Última atividade</th>
                <th scope="col" className="numero">Mensagens</th>
                <th scope="col" className="numero">Tokens hoje</th>
              </tr>
            </thead>
            <tbody>
              {linhas.map((l) => (
                <LinhaTurma key={l.id} linha={l} agora={agora} tokensPorDia={tokensPorDia} onAbrir={onAbrir} />
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {turma.temMais ? (
        <button
          type="button"
          className="secundario carregar-mais"
          data-testid="carregar-mais"
          onClick={turma.carregarMais}
          disabled={turma.carregandoMais}
        >
          {turma.carregandoMais ? "Carregando…" : "Carregar mais"}
        </button>
      ) : null}
    </section>
  );
}

interface PropsLinha {
  linha: ResumoConversa;
  agora: number;
  tokensPorDia: number;
  onAbrir: (id: string) => void;
}

function LinhaTurma({ linha: l, agora, tokensPorDia, onAbrir }: PropsLinha) {
  const esgotado = tokensPorDia > 0 && l.tokens_hoje >= tokensPorDia;
  return (
    <tr
      data-testid="turma-linha"
      data-conversa-id={l.id}
      data-gerando={l.gerando}
      className={l.gerando ? "gerando" : undefined}
      onClick={() => onAbrir(l.id)}
    >
      <td data-testid="turma-aluno" className="aluno">
        {l.nome_usuario ?? l.usuario}
      </td>
      <td className="titulo">
        {/* What the keyboard reaches; its click, like one anywhere on the row, reaches the
            row's handler. */}
        <button type="button" className="link" data-testid="turma-titulo">
          {l.titulo}
        </button>
        {l.gerando ? (
          <span className="selo" data-testid="respondendo">
            respondendo…
          </span>
        ) : null}
      </td>
      <td data-testid="turma-atividade" title={dataHora(l.atualizada_em)}>
        {haQuanto(l.atualizada_em, agora)}
      </td>
      <td data-testid="turma-mensagens" className="numero">
        {NUMERO.format(l.mensagens)}
      </td>
      <td
        data-testid="turma-tokens"
        className={`numero${esgotado ? " esgotado" : ""}`}
        title={esgotado ? "Limite diário atingido" : undefined}
      >
        {NUMERO.format(l.tokens_hoje)}
        {tokensPorDia > 0 ? <span className="de"> / {NUMERO.format(tokensPorDia)}</span> : null}
      </td>
    </tr>
  );
}
