// The text of a tutor's message, rendered as Markdown with math while it streams and once it
// is final. Until the renderer has loaded, and if it ever fails on some text, the plain text
// shows instead: an answer is never blank.
import { Component, type ReactNode, Suspense, lazy, memo } from "react";

const Markdown = lazy(() => import("./Markdown"));

export const TextoDoTutor = memo(function TextoDoTutor({ texto }: { texto: string }) {
  const simples = <div className="texto simples">{texto}</div>;
  return (
    <SemFalha texto={texto} reserva={simples}>
      <Suspense fallback={simples}>
        <div className="texto markdown">
          <Markdown texto={texto} />
        </div>
      </Suspense>
    </SemFalha>
  );
});

interface PropsSemFalha {
  texto: string;
  reserva: ReactNode;
  children: ReactNode;
}

/** Shows `reserva` when rendering `children` threw; tries again once the text changes (the
 * next piece of a streaming answer). */
class SemFalha extends Component<PropsSemFalha, { falhou: boolean; texto: string }> {
  state = { falhou: false, texto: this.props.texto };

  static getDerivedStateFromError() {
    return { falhou: true };
  }

  static getDerivedStateFromProps(props: PropsSemFalha, state: { texto: string }) {
    return props.texto === state.texto ? null : { falhou: false, texto: props.texto };
  }

  render() {
    return this.state.falhou ? this.props.reserva : this.props.children;
  }
}
