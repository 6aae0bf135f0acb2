// A tutor's answer as Markdown with math: GitHub's extensions (tables, lists of tasks,
// strikethrough), KaTeX for `$…$`, `$$…$$`, `\(…\)` and `\[…\]`. Raw HTML in the text is
// never rendered: react-markdown shows it as text (there is no rehype-raw here), and it drops
// `javascript:` links. Loaded on demand (see TextoDoTutor.tsx), KaTeX's stylesheet with it.
import "katex/dist/katex.min.css";

import ReactMarkdown, { type Components } from "react-markdown";
import rehypeKatex from "rehype-katex";
import remarkGfm from "remark-gfm";
import remarkMath from "remark-math";

import { normalizarDelimitadores } from "./delimitadores";

const COMPONENTES: Components = {
  // Links open beside the conversation, without handing it the opener.
  a: ({ node: _node, ...props }) => <a {...props} target="_blank" rel="noopener noreferrer" />,
};

export default function Markdown({ texto }: { texto: string }) {
  return (
    <ReactMarkdown
      remarkPlugins={[remarkGfm, remarkMath]}
      // A formula KaTeX cannot parse (half-streamed, or wrong) shows as its source in red.
      rehypePlugins={[[rehypeKatex, { strict: "ignore" }]]}
      components={COMPONENTES}
    >
      {normalizarDelimitadores(texto)}
    </ReactMarkdown>
  );
}
