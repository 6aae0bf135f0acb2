//! The tutor answers in Markdown with math. This turns it into terminal text one line at a
//! time, so an answer still streams: a line is shown once its newline arrives (or the answer
//! ends), and the only state carried between lines is the block a line is in (a code fence, a
//! display-math block).
//!
//! What it does: headings bold without their `#`s; `**bold**`, `*em*` and `` `code` `` styled
//! without their markers; `-`/`*`/`+` items as `•` with their indentation; numbered items as
//! they are; fenced code verbatim, indented and dim, without its fences; math (`$…$`, `$$…$$`,
//! `\(…\)`, `\[…\]`) kept exactly, delimiters included, in a colour, and never read as
//! emphasis; links as `text (url)`; quotes behind a bar. Anything else passes through as
//! written. With [`Estilo::Simples`] the same markers go, with no escape codes in their place.
use std::io::IsTerminal;

/// How the text is styled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Estilo {
    /// ANSI escape codes: bold, italic, dim, colours.
    Ansi,
    /// Plain text, the markers removed the same way: for pipes, files and `NO_COLOR`.
    Simples,
}

impl Estilo {
    /// ANSI only when stdout is a terminal and `NO_COLOR` is unset or empty (no-color.org).
    pub fn do_terminal() -> Self {
        let sem_cor = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        if std::io::stdout().is_terminal() && !sem_cor {
            Estilo::Ansi
        } else {
            Estilo::Simples
        }
    }
}

/// A whole message at once (the history of a conversation).
pub fn renderizar(texto: &str, estilo: Estilo) -> String {
    let mut fluxo = Fluxo::new(estilo);
    let mut saida = fluxo.receber(texto);
    saida.push_str(&fluxo.terminar());
    saida
}

/// An answer arriving in pieces: holds the line being written until its newline.
pub struct Fluxo {
    linhas: Linhas,
    pendente: String,
}

impl Fluxo {
    pub fn new(estilo: Estilo) -> Self {
        Self {
            linhas: Linhas::new(estilo),
            pendente: String::new(),
        }
    }

    /// Takes a piece; returns the lines it completed, rendered, each with its newline.
    pub fn receber(&mut self, pedaco: &str) -> String {
        self.pendente.push_str(pedaco);
        let Some(fim) = self.pendente.rfind('\n') else {
            return String::new();
        };
        let completas: String = self.pendente.drain(..=fim).collect();
        let mut saida = String::new();
        for linha in completas.split_terminator('\n') {
            if let Some(l) = self.linhas.linha(linha) {
                saida.push_str(&l);
                saida.push('\n');
            }
        }
        saida
    }

    /// The answer ended: its last line, rendered, with no newline (a mark may follow it).
    pub fn terminar(&mut self) -> String {
        let ultima = std::mem::take(&mut self.pendente);
        if ultima.is_empty() {
            return ultima;
        }
        self.linhas.linha(&ultima).unwrap_or_default()
    }
}

/// The block the next line is in.
enum Bloco {
    Texto,
    /// Inside a fenced code block opened by `cerca` (three or more backticks or tildes),
    /// indented by `recuo` columns.
    Codigo {
        cerca: String,
        recuo: usize,
    },
    /// Inside display math opened on a line of its own, until `fim`.
    Matematica {
        fim: &'static str,
    },
}

/// What the last line shown was, to decide whether a code block needs a blank line before it.
#[derive(PartialEq)]
enum Anterior {
    Nada,
    Vazia,
    Texto,
}

/// The line-by-line renderer: one complete line in, at most one line out.
pub struct Linhas {
    estilo: Estilo,
    bloco: Bloco,
    anterior: Anterior,
}

impl Linhas {
    pub fn new(estilo: Estilo) -> Self {
        Self {
            estilo,
            bloco: Bloco::Texto,
            anterior: Anterior::Nada,
        }
    }

    /// Renders one line (without its newline). `None` when the line is only markup and shows
    /// nothing (a code fence).
    pub fn linha(&mut self, linha: &str) -> Option<String> {
        let linha = linha.strip_suffix('\r').unwrap_or(linha);
        let saida = self.bloco_ou_texto(linha)?;
        self.anterior = if saida.trim().is_empty() {
            Anterior::Vazia
        } else {
            Anterior::Texto
        };
        Some(saida)
    }

    fn bloco_ou_texto(&mut self, linha: &str) -> Option<String> {
        let mut e = Escritor::new(self.estilo);
        match &self.bloco {
            Bloco::Codigo { cerca, recuo } => {
                if fecha_cerca(linha, cerca) {
                    self.bloco = Bloco::Texto;
                    return None;
                }
                // Verbatim, less the fence's own indentation (a fence inside a list item).
                let espacos = linha.len() - linha.trim_start_matches(' ').len();
                let tirar = espacos.min(*recuo);
                e.texto("    ");
                e.com(Marca::Apagado, |e| e.texto(&linha[tirar..]));
            }
            Bloco::Matematica { fim } => {
                if linha.contains(fim) {
                    self.bloco = Bloco::Texto;
                }
                e.com(Marca::Matematica, |e| e.texto(linha));
            }
            Bloco::Texto => {
                if let Some((cerca, recuo)) = abre_cerca(linha) {
                    self.bloco = Bloco::Codigo { cerca, recuo };
                    // Code starts on a line of its own, apart from the text before it.
                    return (self.anterior != Anterior::Vazia).then(String::new);
                }
                if let Some(fim) = abre_matematica(linha) {
                    self.bloco = Bloco::Matematica { fim };
                    e.com(Marca::Matematica, |e| e.texto(linha));
                } else {
                    bloco_de_texto(linha, &mut e);
                }
            }
        }
        Some(e.terminar())
    }
}

/// A line that opens a code fence: its fence and how far it is indented.
fn abre_cerca(linha: &str) -> Option<(String, usize)> {
    let sem_recuo = linha.trim_start();
    let c = sem_recuo
        .chars()
        .next()
        .filter(|c| *c == '`' || *c == '~')?;
    let cerca: String = sem_recuo.chars().take_while(|x| *x == c).collect();
    // An info string (the language) may follow; a backtick fence's may not hold backticks.
    let info = &sem_recuo[cerca.len()..];
    (cerca.len() >= 3 && !(c == '`' && info.contains('`')))
        .then(|| (cerca, linha.len() - sem_recuo.len()))
}

fn fecha_cerca(linha: &str, cerca: &str) -> bool {
    let t = linha.trim();
    let c = cerca.chars().next().unwrap_or('`');
    t.len() >= cerca.len() && t.chars().all(|x| x == c)
}

/// A line that opens display math without closing it: the delimiter that will close it.
fn abre_matematica(linha: &str) -> Option<&'static str> {
    let t = linha.trim();
    [("$$", "$$"), ("\\[", "\\]")]
        .into_iter()
        .find(|(abre, fim)| t.starts_with(abre) && !t[abre.len()..].contains(fim))
        .map(|(_, fim)| fim)
}

/// A line outside any block: a heading, a rule, a quote, a list item or a paragraph's line.
fn bloco_de_texto(linha: &str, e: &mut Escritor) {
    let sem_recuo = linha.trim_start();
    let recuo = &linha[..linha.len() - sem_recuo.len()];
    if let Some(titulo) = titulo(sem_recuo) {
        e.com(Marca::Negrito, |e| inline(titulo, e));
    } else if e_regra(sem_recuo) {
        e.texto(recuo);
        e.com(Marca::Apagado, |e| e.texto(&"─".repeat(40)));
    } else if let Some(citado) = sem_recuo.strip_prefix('>') {
        e.texto(recuo);
        e.com(Marca::Apagado, |e| e.texto("│ "));
        bloco_de_texto(citado.strip_prefix(' ').unwrap_or(citado), e);
    } else if let Some(item) = item_com_marcador(sem_recuo) {
        e.texto(recuo);
        e.texto("• ");
        inline(item, e);
    } else if let Some((numero, item)) = item_numerado(sem_recuo) {
        e.texto(recuo);
        e.texto(numero);
        e.texto(" ");
        inline(item, e);
    } else {
        e.texto(recuo);
        inline(sem_recuo.trim_end(), e);
    }
}

/// `# Título` … `###### Título`, with the optional closing `#`s taken off.
fn titulo(linha: &str) -> Option<&str> {
    let nivel = linha.bytes().take_while(|b| *b == b'#').count();
    let resto = &linha[nivel..];
    if !(1..=6).contains(&nivel) || !(resto.is_empty() || resto.starts_with([' ', '\t'])) {
        return None;
    }
    let resto = resto.trim();
    let sem_fecho = resto.trim_end_matches('#');
    Some(if sem_fecho.is_empty() || sem_fecho.ends_with(' ') {
        sem_fecho.trim_end()
    } else {
        resto
    })
}

/// `---`, `***`, `___` (spaces between allowed).
fn e_regra(linha: &str) -> bool {
    let sem_espacos: String = linha.chars().filter(|c| !c.is_whitespace()).collect();
    sem_espacos.len() >= 3
        && ['-', '*', '_']
            .iter()
            .any(|m| sem_espacos.chars().all(|c| c == *m))
}

fn item_com_marcador(linha: &str) -> Option<&str> {
    let mut cs = linha.chars();
    let marcador = cs.next().filter(|c| matches!(c, '-' | '*' | '+'))?;
    let resto = &linha[marcador.len_utf8()..];
    resto
        .strip_prefix([' ', '\t'])
        .map(str::trim_end)
        .or_else(|| resto.is_empty().then_some(""))
}

/// `1.` or `1)` and the item's text.
fn item_numerado(linha: &str) -> Option<(&str, &str)> {
    let digitos = linha.bytes().take_while(u8::is_ascii_digit).count();
    if !(1..=9).contains(&digitos) {
        return None;
    }
    let depois = linha[digitos..].chars().next()?;
    if depois != '.' && depois != ')' {
        return None;
    }
    let numero = &linha[..=digitos];
    let resto = &linha[digitos + 1..];
    resto
        .strip_prefix([' ', '\t'])
        .map(|item| (numero, item.trim_end()))
}

/// Inline markup: code spans, math, escapes, strong, emphasis, links.
fn inline(s: &str, e: &mut Escritor) {
    let mut i = 0;
    while i < s.len() {
        let resto = &s[i..];
        let usado = codigo(resto, e)
            .or_else(|| matematica(resto, e))
            .or_else(|| escape(resto, e))
            .or_else(|| enfase(s, i, e))
            .or_else(|| link(resto, e));
        i += usado.unwrap_or_else(|| {
            let c = resto.chars().next().map_or(1, char::len_utf8);
            e.texto(&resto[..c]);
            c
        });
    }
}

/// `` `code` `` (any run of backticks, closed by a run of the same length).
fn codigo(resto: &str, e: &mut Escritor) -> Option<usize> {
    let n = resto.bytes().take_while(|b| *b == b'`').count();
    if n == 0 {
        return None;
    }
    let cerca = &resto[..n];
    let mut busca = n;
    while let Some(p) = resto[busca..].find(cerca) {
        let inicio = busca + p;
        let fim = inicio + n;
        if resto[fim..].starts_with('`') {
            busca = fim + resto[fim..].bytes().take_while(|b| *b == b'`').count();
            continue;
        }
        let dentro = &resto[n..inicio];
        let dentro = match dentro.strip_prefix(' ').and_then(|d| d.strip_suffix(' ')) {
            Some(d) if !d.trim().is_empty() => d,
            _ => dentro,
        };
        e.com(Marca::Codigo, |e| e.texto(dentro));
        return Some(fim);
    }
    // No closing run: the backticks are text.
    e.texto(cerca);
    Some(n)
}

/// Math, kept exactly as written, delimiters included, so no `*` or `_` in it is markup.
fn matematica(resto: &str, e: &mut Escritor) -> Option<usize> {
    let fim = ["$$", "\\(", "\\["]
        .into_iter()
        .zip(["$$", "\\)", "\\]"])
        .find_map(|(abre, fecha)| {
            let depois = resto.strip_prefix(abre)?;
            let p = depois.find(fecha).filter(|p| *p > 0)?;
            Some(abre.len() + p + fecha.len())
        })
        .or_else(|| dolar_simples(resto))?;
    e.com(Marca::Matematica, |e| e.texto(&resto[..fim]));
    Some(fim)
}

/// `$x$`: opened by a `$` before a non-space, closed by a `$` after a non-space and not before
/// a digit, so money (`R$ 5 e R$ 10`, `$5 and $10`) stays text.
fn dolar_simples(resto: &str) -> Option<usize> {
    let depois = resto.strip_prefix('$')?;
    let primeiro = depois.chars().next()?;
    if primeiro.is_whitespace() || primeiro == '$' {
        return None;
    }
    let mut anterior = '$';
    for (p, c) in depois.char_indices() {
        if c == '$' && anterior != '\\' && !anterior.is_whitespace() && p > 0 {
            let seguinte = depois[p + 1..].chars().next();
            return (!seguinte.is_some_and(|s| s.is_ascii_digit())).then_some(p + 2);
        }
        anterior = c;
    }
    None
}

/// `\*` and the like: the character itself. `\(` and `\[` not closed stay as written.
fn escape(resto: &str, e: &mut Escritor) -> Option<usize> {
    let c = resto.strip_prefix('\\')?.chars().next()?;
    if !c.is_ascii_punctuation() || c == '(' || c == '[' {
        return None;
    }
    e.texto(&resto[1..2]);
    Some(2)
}

/// `**strong**`, `__strong__`, `*em*`, `_em_`. Underscores count only at word edges, so
/// `snake_case_names` stay text; a marker before a space (`2 * 3`) is no marker.
fn enfase(s: &str, i: usize, e: &mut Escritor) -> Option<usize> {
    let resto = &s[i..];
    let c = resto.chars().next().filter(|c| *c == '*' || *c == '_')?;
    let n = if resto[1..].starts_with(c) { 2 } else { 1 };
    let marcador = &resto[..n];
    let palavra = |x: Option<char>| x.is_some_and(char::is_alphanumeric);
    if c == '_' && palavra(s[..i].chars().next_back()) {
        return None;
    }
    let depois = &resto[n..];
    if depois.starts_with(char::is_whitespace) || depois.is_empty() {
        return None;
    }
    let mut busca = 0;
    while let Some(p) = depois[busca..].find(marcador) {
        let p = busca + p;
        let fim = n + p + n;
        let antes = depois[..p].chars().next_back();
        let seguinte = resto[fim..].chars().next();
        let valido = p > 0
            && !antes.is_some_and(char::is_whitespace)
            && seguinte != Some(c)
            && !(c == '_' && palavra(seguinte))
            && !(n == 1 && antes == Some(c));
        if valido {
            let marca = if n == 2 {
                Marca::Negrito
            } else {
                Marca::Italico
            };
            e.com(marca, |e| inline(&depois[..p], e));
            return Some(fim);
        }
        busca = p + depois[p..].chars().next().map_or(1, char::len_utf8);
    }
    None
}

/// `[text](url)` as `text (url)`; `![alt](url)` the same; `[url](url)` as the url once.
fn link(resto: &str, e: &mut Escritor) -> Option<usize> {
    let imagem = resto.starts_with("![");
    let abre = if imagem { 2 } else { 1 };
    if !imagem && !resto.starts_with('[') {
        return None;
    }
    let fecha_texto = abre + resto[abre..].find("](")?;
    let texto = &resto[abre..fecha_texto];
    let url_inicio = fecha_texto + 2;
    let url = &resto[url_inicio..url_inicio + resto[url_inicio..].find(')')?];
    if url.is_empty() || url.contains(char::is_whitespace) {
        return None;
    }
    if texto != url {
        inline(texto, e);
        e.texto(" (");
    }
    e.com(Marca::Url, |e| e.texto(url));
    if texto != url {
        e.texto(")");
    }
    Some(url_inicio + url.len() + 1)
}

/// A kind of styled span.
#[derive(Clone, Copy)]
enum Marca {
    Negrito,
    Italico,
    Codigo,
    Matematica,
    Url,
    Apagado,
}

impl Marca {
    /// Its SGR parameter.
    fn sgr(self) -> &'static str {
        match self {
            Marca::Negrito => "1",
            Marca::Italico => "3",
            Marca::Codigo => "36",
            Marca::Matematica => "35",
            Marca::Url => "4",
            Marca::Apagado => "2",
        }
    }
}

/// Builds one output line. Styles nest: closing one resets and sets again those still open,
/// so `**bold `code` bold**` is bold on both sides of the code.
struct Escritor {
    estilo: Estilo,
    saida: String,
    abertas: Vec<Marca>,
}

impl Escritor {
    fn new(estilo: Estilo) -> Self {
        Self {
            estilo,
            saida: String::new(),
            abertas: Vec::new(),
        }
    }

    fn texto(&mut self, s: &str) {
        self.saida.push_str(s);
    }

    fn com(&mut self, marca: Marca, f: impl FnOnce(&mut Self)) {
        if self.estilo == Estilo::Simples {
            return f(self);
        }
        self.abertas.push(marca);
        self.sgr(&[marca]);
        f(self);
        self.abertas.pop();
        self.saida.push_str("\x1b[0m");
        let abertas = std::mem::take(&mut self.abertas);
        self.sgr(&abertas);
        self.abertas = abertas;
    }

    fn sgr(&mut self, marcas: &[Marca]) {
        if !marcas.is_empty() {
            let codigos: Vec<&str> = marcas.iter().map(|m| m.sgr()).collect();
            self.saida.push_str(&format!("\x1b[{}m", codigos.join(";")));
        }
    }

    fn terminar(self) -> String {
        self.saida
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn simples(texto: &str) -> String {
        renderizar(texto, Estilo::Simples)
    }

    fn ansi(texto: &str) -> String {
        renderizar(texto, Estilo::Ansi)
    }

    #[test]
    fn headings_lose_their_hashes_and_are_bold() {
        assert_eq!(simples("## Frações ##\nTexto"), "Frações\nTexto");
        assert_eq!(ansi("# Frações"), "\x1b[1mFrações\x1b[0m");
        assert_eq!(simples("#hashtag"), "#hashtag", "no space: not a heading");
        assert_eq!(simples("# C#"), "C#", "a closing # only after a space");
    }

    #[test]
    fn strong_emphasis_and_code_lose_their_markers() {
        assert_eq!(
            simples("Uma **fração** é *parte* de `um todo` e __isto__ _aquilo_."),
            "Uma fração é parte de um todo e isto aquilo."
        );
        assert_eq!(
            ansi("**a** *b* `c`"),
            "\x1b[1ma\x1b[0m \x1b[3mb\x1b[0m \x1b[36mc\x1b[0m"
        );
        assert_eq!(simples("``um ` dentro``"), "um ` dentro");
    }

    #[test]
    fn nested_styles_come_back_after_an_inner_one_closes() {
        assert_eq!(
            ansi("**a `b` c**"),
            "\x1b[1ma \x1b[36mb\x1b[0m\x1b[1m c\x1b[0m"
        );
        assert_eq!(
            simples("**negrito com *itálico* dentro**"),
            "negrito com itálico dentro"
        );
    }

    #[test]
    fn what_only_looks_like_markup_stays_text() {
        for texto in [
            "2 * 3 * 4 = 24",
            "nomes_com_sublinhado e mais_um",
            "um ** solto",
            "R$ 5,00 e R$ 10,00",
            "custa $5 ou $10",
            "`sem fim",
            "[não é link]",
            "a * b",
        ] {
            assert_eq!(simples(texto), texto);
        }
    }

    #[test]
    fn math_is_kept_exactly_with_its_delimiters() {
        for texto in [
            r"A área é $\pi r^2$ e $a*b*c$ fica igual.",
            r"Em bloco: $$\frac{a_1}{b_2}$$ no meio.",
            r"Também \(x_1 + x_2\) e \[\sum_{i=1}^n i\].",
        ] {
            assert_eq!(simples(texto), texto);
        }
        assert_eq!(ansi("$x^2$"), "\x1b[35m$x^2$\x1b[0m");
    }

    #[test]
    fn display_math_over_several_lines_is_not_read_as_markdown() {
        let texto = "Veja:\n$$\n\\frac{1}{2} * \\frac{2}{4}\n- 1\n$$\n- item";
        assert_eq!(
            simples(texto),
            "Veja:\n$$\n\\frac{1}{2} * \\frac{2}{4}\n- 1\n$$\n• item"
        );
        assert_eq!(simples("\\[\nx_1\n\\]"), "\\[\nx_1\n\\]");
    }

    #[test]
    fn lists_get_bullets_and_keep_their_indentation() {
        assert_eq!(
            simples("- um\n  * dois\n    + três\n1. primeiro\n2) segundo **forte**"),
            "• um\n  • dois\n    • três\n1. primeiro\n2) segundo forte"
        );
    }

    #[test]
    fn fenced_code_is_verbatim_indented_and_dim_without_fences() {
        let texto = "Código:\n```python\ndef f(x):\n    return x**2  # *não* é ênfase\n```\nFim.";
        assert_eq!(
            simples(texto),
            "Código:\n\n    def f(x):\n        return x**2  # *não* é ênfase\nFim."
        );
        assert_eq!(ansi("```\nx\n```"), "\n    \x1b[2mx\x1b[0m\n");
        assert_eq!(
            simples("~~~~\n```\n~~~~"),
            "\n    ```\n",
            "only its own fence closes it"
        );
    }

    #[test]
    fn a_fence_after_a_blank_line_adds_no_second_one() {
        assert_eq!(simples("Texto\n\n```\nx\n```"), "Texto\n\n    x\n");
    }

    #[test]
    fn an_indented_fence_keeps_the_code_relative_to_it() {
        assert_eq!(
            simples("- passo:\n  ```\n  a\n    b\n  ```"),
            "• passo:\n\n    a\n      b\n"
        );
    }

    #[test]
    fn links_show_their_text_and_url() {
        assert_eq!(
            simples("Veja [a doc](https://exemplo.org/x) e ![fig](f.png)."),
            "Veja a doc (https://exemplo.org/x) e fig (f.png)."
        );
        assert_eq!(simples("[https://a.b](https://a.b)"), "https://a.b");
    }

    #[test]
    fn quotes_rules_and_escapes() {
        assert_eq!(simples("> citado **aqui**"), "│ citado aqui");
        assert_eq!(simples("---"), "─".repeat(40));
        assert_eq!(simples(r"\*não itálico\*"), "*não itálico*");
    }

    #[test]
    fn a_stream_shows_lines_only_when_they_are_complete() {
        let mut f = Fluxo::new(Estilo::Simples);
        assert_eq!(f.receber("## Tí"), "");
        assert_eq!(f.receber("tulo\n- **um"), "Título\n");
        assert_eq!(f.receber("**\n```"), "• um\n");
        assert_eq!(
            f.receber("\nx = 1\n"),
            "\n    x = 1\n",
            "the fence is a blank line"
        );
        assert_eq!(
            f.receber("```\nfim *aqui"),
            "",
            "the closing fence shows nothing"
        );
        assert_eq!(f.terminar(), "fim *aqui", "the last line, without newline");
        assert_eq!(f.terminar(), "");
    }

    #[test]
    fn crlf_line_ends_are_taken_off() {
        assert_eq!(simples("**a**\r\nb\r\n"), "a\nb\n");
    }
}
