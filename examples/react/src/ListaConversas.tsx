// The student's conversations, most recently active first.
import type { Conversa } from "./protocol";

interface Props {
  conversas: Conversa[];
  atual: string | null;
  onEscolher: (id: string) => void;
  onNova: () => void;
}

export function ListaConversas({ conversas, atual, onEscolher, onNova }: Props) {
  return (
    <nav className="lista" aria-label="Conversas">
      <button data-testid="nova-conversa" type="button" onClick={onNova}>
        + Nova conversa
      </button>
      <ul data-testid="lista-conversas">
        {conversas.map((c) => (
          <li key={c.id}>
            <button
              type="button"
              data-testid="conversa-item"
              className={c.id === atual ? "ativa" : ""}
              onClick={() => onEscolher(c.id)}
            >
              {c.titulo}
            </button>
          </li>
        ))}
      </ul>
      {conversas.length === 0 ? <p className="vazio">Nenhuma conversa ainda.</p> : null}
    </nav>
  );
}
