// The wire types of PROTOCOL.md and of its additions for the class view and the daily
// budget (docs/turma.md), defined once for the whole app.

export type Papel = "aluno" | "tutor";
export type Status = "completa" | "gerando" | "erro" | "cancelada";

export interface Mensagem {
  id: string;
  conversa_id: string;
  papel: Papel;
  conteudo: string;
  status: Status;
  criada_em: string;
  id_cliente?: string;
}

export interface Conversa {
  id: string;
  titulo: string;
  criada_em: string;
  atualizada_em: string;
}

export type CodigoErro =
  | "entrada_invalida"
  | "nao_encontrada"
  | "proibido"
  | "limite_excedido"
  | "indisponivel"
  | "interno"
  | "modelo_indisponivel"
  | "interrompida";

export interface Erro {
  codigo: CodigoErro;
  mensagem: string;
  tentar_em_ms?: number;
  /** Which limit refused a send: `tokens_por_dia` for the daily budget; absent for the rate
   * limit. */
  limite?: string;
}

export type Ack<T> = ({ ok: true } & T) | { ok: false; erro: Erro };

export interface AckEnviada {
  conversa_id: string;
  mensagem: Mensagem;
}
export interface AckEntrar {
  conversa: Conversa;
  mensagens: Mensagem[];
  resposta_em_andamento?: { mensagem_id: string; conteudo: string };
}
export interface AckListar {
  conversas: Conversa[];
}
export interface AckCancelar {
  cancelada: boolean;
}

/** One conversation in the class view (`listar_turma`). */
export interface ResumoConversa extends Conversa {
  /** The student's id (`sub`). */
  usuario: string;
  /** The student's `name` claim, when their token had one. */
  nome_usuario?: string;
  /** Messages stored, the student's and the tutor's. */
  mensagens: number;
  /** An answer is streaming now. */
  gerando: boolean;
  /** Model tokens this student used today. */
  tokens_hoje: number;
}
export interface AckListarTurma {
  conversas: ResumoConversa[];
  proximo_cursor?: string;
  /** The server's daily budget per student; 0: none. */
  tokens_por_dia: number;
}

export interface EvMensagem {
  conversa_id: string;
  mensagem: Mensagem;
}
export interface EvRespostaIniciada {
  conversa_id: string;
  mensagem_id: string;
}
export interface EvRespostaParcial {
  conversa_id: string;
  mensagem_id: string;
  indice: number;
  delta: string;
}
export interface EvErroResposta {
  conversa_id: string;
  mensagem_id: string;
  erro: Erro;
}
export interface EvConversaCriada {
  conversa: Conversa;
}
/** To the professors' room: a conversation changed (no text, no title). */
export interface EvConversaAtualizada {
  conversa_id: string;
  usuario: string;
  motivo: "criada" | "mensagem" | "resposta_iniciada" | "resposta_terminada";
  gerando: boolean;
  atualizada_em: string;
}

export interface ServidorParaCliente {
  mensagem_recebida: (e: EvMensagem) => void;
  resposta_iniciada: (e: EvRespostaIniciada) => void;
  resposta_parcial: (e: EvRespostaParcial) => void;
  mensagem_respondida: (e: EvMensagem) => void;
  erro_resposta: (e: EvErroResposta) => void;
  conversa_criada: (e: EvConversaCriada) => void;
  conversa_atualizada: (e: EvConversaAtualizada) => void;
}

export interface ClienteParaServidor {
  mensagem_enviada: (
    p: { conversa_id?: string; conteudo: string; id_cliente?: string },
    ack: (r: Ack<AckEnviada>) => void,
  ) => void;
  entrar_conversa: (p: { conversa_id: string; apos?: string }, ack: (r: Ack<AckEntrar>) => void) => void;
  sair_conversa: (p: { conversa_id: string }, ack: (r: Ack<object>) => void) => void;
  listar_conversas: (p: { usuario?: string }, ack: (r: Ack<AckListar>) => void) => void;
  cancelar_resposta: (p: { conversa_id: string }, ack: (r: Ack<AckCancelar>) => void) => void;
  listar_turma: (
    p: { cursor?: string; limite?: number; conversa_ids?: string[] },
    ack: (r: Ack<AckListarTurma>) => void,
  ) => void;
  acompanhar_turma: (p: object, ack: (r: Ack<object>) => void) => void;
  deixar_turma: (p: object, ack: (r: Ack<object>) => void) => void;
}
