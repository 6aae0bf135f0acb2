//! Faults inside the server's reach: the database busy or gone, a tab that stops reading, a
//! panic in the generation.
use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use futures::StreamExt;
use serde_json::{Value, json};
use tutor::llm::{ErroModelo, Fluxo, LinhaPrompt, ModeloChat, Parte};

use crate::apoio::{
    Roteiro, TestApp, banco, definir, id_conversa, spawn_app_com_modelo, spawn_app_with,
    textos_do_aluno,
};

#[tokio::test]
async fn a_locked_database_refuses_the_send_as_indisponivel_and_ready_says_503_until_it_is_back() {
    let app = spawn_app_with(|a| definir(a, "--db-espera-ms", "200")).await;
    let ana = app.cliente("ana").await;

    // Another process holds the write lock (on Postgres, locks on both tables).
    let trava = banco::travar_escritas(&app.db_url).await;

    let r = ana
        .pedir("mensagem_enviada", json!({ "conteudo": "vai falhar" }))
        .await;
    assert_eq!(r["erro"]["codigo"], "indisponivel", "{r}");
    let pronto = reqwest::get(format!("{}/ready", app.url))
        .await
        .expect("ready");
    assert_eq!(pronto.status(), 503);

    trava.soltar().await;
    let pronto = reqwest::get(format!("{}/ready", app.url))
        .await
        .expect("ready");
    assert_eq!(pronto.status(), 200, "ready again without a restart");
    let l = ana.emit_ack("listar_conversas", None).await;
    assert_eq!(l["conversas"], json!([]), "nothing half-written");
    assert!(
        app.upstream.pedidos().is_empty(),
        "no model call for a message not stored"
    );
    TestApp::enviar(&ana, json!({ "conteudo": "agora vai" })).await;
    ana.esperar_fins(1).await;
}

/// A model whose first answer panics, mid-stream or before it.
struct ModeloComBug {
    chamadas: AtomicUsize,
}

#[async_trait::async_trait]
impl ModeloChat for ModeloComBug {
    async fn gerar(&self, _: Vec<LinhaPrompt>) -> Result<Fluxo, ErroModelo> {
        match self.chamadas.fetch_add(1, Ordering::SeqCst) {
            0 => panic!("bug simulado antes do primeiro pedaço"),
            1 => Ok(futures::stream::iter(0..3)
                .map(|i| {
                    assert!(i < 2, "bug simulado no meio da resposta");
                    Ok(Parte::Texto(format!("p{i} ")))
                })
                .boxed()),
            _ => Ok(futures::stream::iter(vec![Ok(Parte::Texto("tudo certo".to_owned()))]).boxed()),
        }
    }
}

#[tokio::test]
async fn a_panic_in_the_generation_ends_only_that_answer() {
    let app = spawn_app_com_modelo(Arc::new(ModeloComBug {
        chamadas: AtomicUsize::new(0),
    }))
    .await;
    let a = app.cliente("ana").await;
    let ack = TestApp::enviar(&a, json!({ "conteudo": "um" })).await;
    let conversa = id_conversa(&ack);
    let (ev, fim) = a.esperar_fim(&conversa).await;
    assert_eq!(ev, "erro_resposta", "{fim}");

    TestApp::enviar(&a, json!({ "conversa_id": conversa, "conteudo": "dois" })).await;
    let fins = a.esperar_fins(2).await;
    assert_eq!(fins[1].0, "erro_resposta");

    TestApp::enviar(&a, json!({ "conversa_id": conversa, "conteudo": "três" })).await;
    let fins = a.esperar_fins(3).await;
    assert_eq!(
        fins[2].0, "mensagem_respondida",
        "the conversation is not left locked"
    );
    assert_eq!(fins[2].1["mensagem"]["conteudo"], "tudo certo");

    let h = a
        .pedir("entrar_conversa", json!({ "conversa_id": conversa }))
        .await;
    let status: Vec<Value> = h["mensagens"]
        .as_array()
        .expect("m")
        .iter()
        .map(|m| m["status"].clone())
        .collect();
    assert_eq!(
        status,
        [
            "completa", "erro", "completa", "erro", "completa", "completa"
        ]
        .map(|s| json!(s))
    );
    // What the tabs saw of the broken answer is what is stored.
    let quebrada = &h["mensagens"][3];
    let visto = a.texto_transmitido(quebrada["id"].as_str().expect("id"));
    assert!(visto.starts_with("p0 "), "{visto}");
    assert_eq!(quebrada["conteudo"], visto.as_str());
    let b = app.cliente("bia").await;
    TestApp::enviar(&b, json!({ "conteudo": "o processo segue" })).await;
    b.esperar_fins(1).await;
}

/// A raw Engine.IO polling session that reads only when told to: a tab that stopped reading.
struct SessaoParada {
    http: reqwest::Client,
    base: String,
}

impl SessaoParada {
    async fn abrir(url: &str, token: &str) -> Self {
        let http = reqwest::Client::new();
        let corpo = http
            .get(format!("{url}/socket.io/?EIO=4&transport=polling"))
            .send()
            .await
            .expect("open")
            .text()
            .await
            .expect("body");
        let aberto: Value =
            serde_json::from_str(corpo.trim_start_matches('0')).expect("open packet");
        let sid = aberto["sid"].as_str().expect("sid");
        let s = Self {
            http,
            base: format!("{url}/socket.io/?EIO=4&transport=polling&sid={sid}"),
        };
        s.postar(&format!("40{}", json!({ "token": token }))).await;
        assert!(s.ler().await.contains("40{"), "connected");
        s
    }

    async fn postar(&self, corpo: &str) {
        let r = self
            .http
            .post(&self.base)
            .body(corpo.to_owned())
            .send()
            .await
            .expect("post");
        assert_eq!(r.status(), 200);
    }

    /// Polls until the ack of the request just posted arrives (a poll may first bring a ping
    /// or an event), and asserts it succeeded. Each poll's payload is split on its own: two
    /// polls glued together would hide a packet that starts the second. A ping is answered,
    /// as a live tab does, so the session is not closed for that while it still reads.
    async fn esperar_ack_ok(&self) {
        let mut lido = Vec::new();
        for _ in 0..20 {
            let corpo = self.ler().await;
            for pacote in corpo.split('\u{1e}') {
                if pacote == "2" {
                    self.postar("3").await;
                } else if pacote.starts_with("43") {
                    assert!(
                        pacote.contains("\"ok\":true"),
                        "the request failed: {pacote}"
                    );
                    return;
                }
            }
            lido.push(corpo);
        }
        panic!("no ack; got {lido:?}");
    }

    async fn ler(&self) -> String {
        match self.http.get(&self.base).send().await {
            Ok(r) if r.status() == 200 => r.text().await.unwrap_or_default(),
            Ok(r) => format!("<status {}>", r.status()),
            Err(e) => format!("<{e}>"),
        }
    }
}

#[tokio::test]
async fn a_tab_that_stops_reading_is_disconnected_and_the_others_get_every_piece() {
    let app = spawn_app_with(|a| definir(a, "--socket-buffer", "8")).await;
    let a = app.cliente("ana").await;
    let ack = TestApp::enviar(&a, json!({ "conteudo": "primeira" })).await;
    let conversa = id_conversa(&ack);
    a.esperar_fins(1).await;

    let parada = SessaoParada::abrir(&app.url, &app.token("ana")).await;
    parada
        .postar(&format!(
            "420{}",
            json!(["entrar_conversa", { "conversa_id": conversa }])
        ))
        .await;
    parada.esperar_ack_ok().await;

    // A long answer, while the stalled tab reads nothing.
    let pedacos: Vec<String> = (0..40).map(|i| format!("{i} ")).collect();
    let pedacos_ref: Vec<&str> = pedacos.iter().map(String::as_str).collect();
    app.upstream.roteiro(Roteiro::lento(&pedacos_ref, 40));
    TestApp::enviar(&a, json!({ "conversa_id": conversa, "conteudo": "longa" })).await;
    let fins = a.esperar_fins(2).await;
    let id = fins[1].1["mensagem"]["id"].as_str().expect("id");
    assert_eq!(
        a.texto_transmitido(id),
        pedacos.concat(),
        "the reading tab got every piece"
    );

    // The stalled tab now finds its session closed, after a gapless prefix at most.
    let mut recebido = String::new();
    let mut fechada = false;
    for _ in 0..20 {
        let lido = parada.ler().await;
        if lido.starts_with("<status")
            || lido.contains("\u{1e}1")
            || lido == "1"
            || lido.contains("41")
        {
            fechada = true;
            break;
        }
        recebido.push_str(&lido);
    }
    assert!(fechada, "the stalled session was closed; got {recebido}");
    let indices: Vec<u64> = recebido
        .split('\u{1e}')
        .filter_map(|p| p.strip_prefix("42"))
        .filter_map(|p| serde_json::from_str::<Value>(p).ok())
        .filter(|v| v[0] == "resposta_parcial")
        .map(|v| v[1]["indice"].as_u64().expect("indice"))
        .collect();
    assert!(
        indices.iter().enumerate().all(|(i, x)| *x == i as u64),
        "no gap: {indices:?}"
    );
    assert!(
        indices.len() < 40,
        "it did not get the whole stream: {}",
        indices.len()
    );
    let metricas = app.metricas().await;
    assert!(
        metricas
            .lines()
            .any(|l| l == "tutor_sockets_lentos_total 1"),
        "one slow socket, counted once:\n{metricas}"
    );
}

#[tokio::test]
async fn every_send_during_a_long_lock_is_answered_within_its_own_deadline_in_send_order() {
    const ESPERA_MS: u64 = 1_500;
    let app = spawn_app_with(|a| definir(a, "--db-espera-ms", &ESPERA_MS.to_string())).await;
    let ana = app.cliente("ana").await;
    let ack = TestApp::enviar(&ana, json!({ "conteudo": "antes da trava" })).await;
    let conversa = id_conversa(&ack);
    ana.esperar_fins(1).await;

    // Another process holds the write lock far longer than the deadline (on Postgres, locks
    // on both tables).
    let trava = banco::travar_escritas(&app.db_url).await;

    // Two sends at once: the second waits behind the first (send order), but its deadline
    // counts from when it arrived, not from when its turn came.
    let inicio = std::time::Instant::now();
    let nova = ana
        .emitir_sem_esperar("mensagem_enviada", json!({ "conteudo": "nova conversa" }))
        .await;
    let na_existente = ana
        .emitir_sem_esperar(
            "mensagem_enviada",
            json!({ "conversa_id": conversa, "conteudo": "na conversa que existe" }),
        )
        .await;
    let medir = |rx: tokio::sync::oneshot::Receiver<Value>| async move {
        let r = tokio::time::timeout(std::time::Duration::from_secs(10), rx)
            .await
            .expect("an ack within 10 s")
            .expect("ack channel");
        (r, inicio.elapsed())
    };
    let ((r1, t1), (r2, t2)) = tokio::join!(medir(nova), medir(na_existente));
    assert_eq!(r1["erro"]["codigo"], "indisponivel", "{r1}");
    assert_eq!(r2["erro"]["codigo"], "indisponivel", "{r2}");
    assert!(t1 <= t2, "acked out of send order: {t1:?} then {t2:?}");
    // The behaviour under test is the deadline itself: half again as long is the slack for a
    // loaded machine, well short of two deadlines back to back.
    let limite = std::time::Duration::from_millis(ESPERA_MS * 3 / 2);
    assert!(
        t2 < limite,
        "the second send waited {t2:?}, past its own deadline of {ESPERA_MS} ms"
    );

    trava.soltar().await;
    let h = ana
        .pedir("entrar_conversa", json!({ "conversa_id": conversa }))
        .await;
    assert_eq!(
        textos_do_aluno(&h),
        ["antes da trava"],
        "nothing half-written"
    );
    let l = ana.emit_ack("listar_conversas", None).await;
    assert_eq!(l["conversas"].as_array().map(Vec::len), Some(1), "{l}");
    assert_eq!(
        app.upstream.pedidos().len(),
        1,
        "no model call for what was refused"
    );
    // Nothing lost for good: the same sends go through once the lock is gone.
    TestApp::enviar(
        &ana,
        json!({ "conversa_id": conversa, "conteudo": "na conversa que existe" }),
    )
    .await;
    ana.esperar_fins(2).await;
}

#[tokio::test]
async fn a_send_whose_commit_outlasts_its_deadline_is_acked_when_it_is_stored() {
    const ESPERA_MS: u64 = 400;
    let app = spawn_app_with(|a| definir(a, "--db-espera-ms", &ESPERA_MS.to_string())).await;
    // The commit of this one message takes three deadlines.
    if !banco::retardar_commits(&app.db_url, "commit lento", ESPERA_MS * 3).await {
        eprintln!("SQLite: the writer's own tests slow its commit (storage::escrita::sqlite)");
        return;
    }
    let ana = app.cliente("ana").await;
    let inicio = std::time::Instant::now();
    let ack = ana
        .pedir("mensagem_enviada", json!({ "conteudo": "um commit lento" }))
        .await;
    // Before, the send said `indisponivel` at its deadline while its commit went on and
    // stored it: a student told to send again what the tutor was already answering.
    assert_eq!(ack["ok"], true, "the commit had begun: {ack}");
    assert!(
        inicio.elapsed() >= std::time::Duration::from_millis(ESPERA_MS * 3),
        "acked before its commit ended"
    );
    ana.esperar_fins(1).await;
    let h = ana
        .pedir(
            "entrar_conversa",
            json!({ "conversa_id": id_conversa(&ack) }),
        )
        .await;
    assert_eq!(textos_do_aluno(&h), ["um commit lento"], "{h}");
}

#[tokio::test]
async fn a_stuck_tab_in_many_conversations_costs_the_server_at_most_its_byte_bound() {
    const LIMITE: usize = 2 << 20;
    const CONVERSAS: usize = 10;
    const PEDACOS: usize = 20;
    const PEDACO: usize = 64 * 1024;
    let app = spawn_app_with(|a| definir(a, "--socket-buffer-bytes", &LIMITE.to_string())).await;
    let a = app.cliente("ana").await;
    let mut conversas = Vec::new();
    for i in 0..CONVERSAS {
        let ack = TestApp::enviar(&a, json!({ "conteudo": format!("conversa {i}") })).await;
        conversas.push(id_conversa(&ack));
    }
    a.esperar_fins(CONVERSAS).await;

    // The other tab joins every conversation, then stops reading.
    let parada = SessaoParada::abrir(&app.url, &app.token("ana")).await;
    for c in &conversas {
        parada
            .postar(&format!(
                "420{}",
                json!(["entrar_conversa", { "conversa_id": c }])
            ))
            .await;
        parada.esperar_ack_ok().await;
    }

    // Held at the gate until the student's tab is gone.
    let portao = Arc::new(tokio::sync::Semaphore::new(0));
    // Big answers stream into all of them at once: far more than the bound, and in few
    // packets (each piece 64 KiB), so a bound that counts packets would hold it all.
    let textos: Vec<String> = (0..CONVERSAS)
        .map(|i| {
            let pedacos: Vec<String> = (0..PEDACOS)
                .map(|p| format!("{i}.{p}:{}", "x".repeat(PEDACO)))
                .collect();
            app.upstream.roteiro(Roteiro::Portao {
                pedacos: pedacos.clone(),
                portao: portao.clone(),
            });
            pedacos.concat()
        })
        .collect();
    for c in &conversas {
        TestApp::enviar(
            &a,
            json!({ "conversa_id": c, "conteudo": "uma resposta longa" }),
        )
        .await;
    }
    // The student closes that tab (the answers go on): the stuck tab is all that is left in
    // the rooms, so nothing but the bound can drain what the server queues for it.
    a.desconectar().await;
    let volume: usize = textos.iter().map(String::len).sum();
    portao.add_permits(CONVERSAS * PEDACOS);
    // Every answer has left the model (the first answers and these).
    app.upstream.esperar_fechados(2 * CONVERSAS).await;

    // What the stuck tab finds when it reads again is what the server held for it.
    let mut guardado = 0;
    let mut fechada = false;
    for _ in 0..1_000 {
        let lido = parada.ler().await;
        guardado += lido.len();
        // Socket.IO's DISCONNECT (`41`) or Engine.IO's CLOSE (`1`) packet, or a session gone.
        if lido.starts_with("<status") || lido.split('\u{1e}').any(|p| p == "41" || p == "1") {
            fechada = true;
            break;
        }
    }
    assert!(fechada, "the stuck tab was disconnected");
    println!("streamed {volume} bytes past the stuck tab; it had {guardado} bytes queued");
    // The bound, plus the one packet that crossed it (at most a whole answer).
    assert!(
        guardado <= LIMITE + PEDACO * PEDACOS + 4096,
        "the server held {guardado} bytes for a tab that did not read (bound {LIMITE})"
    );

    // Nothing was lost: a tab opened now finds every answer whole (which script answered
    // which conversation depends on the order the requests reached the model).
    let b = app.cliente("ana").await;
    let mut guardados = Vec::new();
    for c in &conversas {
        let h = b
            .pedir("entrar_conversa", json!({ "conversa_id": c }))
            .await;
        let ultima = h["mensagens"]
            .as_array()
            .and_then(|m| m.last())
            .cloned()
            .expect("messages");
        let final_ = if ultima["status"] == "gerando" {
            b.esperar_fim(c).await.1["mensagem"].clone()
        } else {
            ultima
        };
        assert_eq!(final_["status"], "completa", "{final_}");
        guardados.push(final_["conteudo"].as_str().expect("conteudo").to_owned());
    }
    guardados.sort();
    let mut esperados = textos;
    esperados.sort();
    assert!(guardados == esperados, "every answer stored whole");
}

/// A WebSocket tab that joins a conversation, then reads nothing more: a frozen laptop whose
/// network stack still acknowledges, so the server's writes block instead of failing. Its
/// receive buffer is small so that little of what the server sends fits in the kernel.
struct AbaCongelada {
    _ws: tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>,
    local: std::net::SocketAddr,
    servidor: std::net::SocketAddr,
}

impl AbaCongelada {
    async fn abrir(url: &str, token: &str, conversa: &str) -> Self {
        use futures::SinkExt;
        use tokio_tungstenite::tungstenite::Message;
        let servidor: std::net::SocketAddr = url
            .trim_start_matches("http://")
            .parse()
            .expect("the test server's address");
        let tcp = tokio::net::TcpSocket::new_v4().expect("socket");
        tcp.set_recv_buffer_size(4096).expect("SO_RCVBUF");
        let tcp = tcp.connect(servidor).await.expect("connect");
        let local = tcp.local_addr().expect("local address");
        let ws_url = format!("ws://{servidor}/socket.io/?EIO=4&transport=websocket");
        let (mut ws, _) = tokio_tungstenite::client_async(ws_url, tcp)
            .await
            .expect("websocket handshake");
        let proximo = async |ws: &mut tokio_tungstenite::WebSocketStream<_>| loop {
            match ws.next().await.expect("open").expect("frame") {
                Message::Text(t) if t.as_str() == "2" => {
                    ws.send(Message::text("3")).await.expect("pong");
                }
                Message::Text(t) => break t.as_str().to_owned(),
                _ => {}
            }
        };
        assert!(proximo(&mut ws).await.starts_with('0'), "the open packet");
        let conectar = format!("40{}", json!({ "token": token }));
        ws.send(Message::text(conectar)).await.expect("connect");
        assert!(proximo(&mut ws).await.starts_with("40"), "connected");
        let entrar = format!(
            "420{}",
            json!(["entrar_conversa", { "conversa_id": conversa }])
        );
        ws.send(Message::text(entrar)).await.expect("join");
        loop {
            let p = proximo(&mut ws).await;
            if let Some(ack) = p.strip_prefix("430") {
                assert!(ack.contains("\"ok\":true"), "joined: {ack}");
                break;
            }
        }
        Self {
            _ws: ws,
            local,
            servidor,
        }
    }

    /// Whether the server still holds its end of the connection open (Linux's table of TCP
    /// sockets: the server's end has the server's address as its local one; `01` is
    /// ESTABLISHED, while a socket the server closed is in a closing state or gone).
    fn servidor_segura_a_conexao(&self) -> bool {
        let hex = |a: std::net::SocketAddr| {
            let std::net::IpAddr::V4(ip) = a.ip() else {
                panic!("IPv4 only");
            };
            format!("{:08X}:{:04X}", u32::from_le_bytes(ip.octets()), a.port())
        };
        let (de, para) = (hex(self.servidor), hex(self.local));
        let tabela = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
        tabela.lines().skip(1).any(|l| {
            let c: Vec<&str> = l.split_whitespace().collect();
            c.len() > 3 && c[1] == de && c[2] == para && c[3] == "01"
        })
    }
}

#[tokio::test]
async fn a_frozen_websocket_tab_is_let_go_of_once_its_heartbeat_fails() {
    // Room for the tab that reads to lag a little (a debug build on a loaded machine), far
    // below what streams past the frozen one.
    const LIMITE: usize = 1024 * 1024;
    const PEDACOS: usize = 160;
    const PEDACO: usize = 64 * 1024;
    let app = spawn_app_with(|a| {
        definir(a, "--socket-buffer-bytes", &LIMITE.to_string());
        definir(a, "--ping-intervalo-ms", "1000");
        definir(a, "--ping-timeout-ms", "5000");
    })
    .await;
    let ana = app.cliente("ana").await;
    let ack = TestApp::enviar(&ana, json!({ "conteudo": "primeira" })).await;
    let conversa = id_conversa(&ack);
    ana.esperar_fins(1).await;
    let aba = AbaCongelada::abrir(&app.url, &app.token("ana"), &conversa).await;
    assert!(aba.servidor_segura_a_conexao(), "the tab is connected");

    // 10 MB into its room: far past the bound and every kernel buffer on the way, so the
    // server's writer blocks in a write the tab never reads.
    let pedacos: Vec<String> = (0..PEDACOS)
        .map(|i| format!("{i:04}{}", "z".repeat(PEDACO - 4)))
        .collect();
    let pedacos_ref: Vec<&str> = pedacos.iter().map(String::as_str).collect();
    app.upstream.roteiro(Roteiro::lento(&pedacos_ref, 10));
    TestApp::enviar(
        &ana,
        json!({ "conversa_id": conversa, "conteudo": "longa" }),
    )
    .await;
    let fins = ana.esperar_fins(2).await;
    assert_eq!(
        fins[1].0, "mensagem_respondida",
        "the tab that reads got it"
    );
    let metricas = app.metricas().await;
    assert!(
        metricas.contains("tutor_sockets_lentos_total 1"),
        "the frozen tab was dropped for not reading:\n{metricas}"
    );

    // Its pings go unanswered, so its session closes within interval + timeout. Before, the
    // writer stayed blocked in its write after that, holding the connection, the packets
    // queued for the tab and its session for as long as the tab lived.
    let inicio = std::time::Instant::now();
    while aba.servidor_segura_a_conexao() {
        assert!(
            inicio.elapsed() < std::time::Duration::from_secs(30),
            "the server still holds the connection of a tab whose heartbeat failed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        !ana.nomes().iter().any(|n| n == "close" || n == "error"),
        "the tab that reads and answers its pings stays: {:?}",
        ana.nomes()
    );
}

#[tokio::test]
async fn an_answer_bigger_than_the_byte_bound_still_reaches_a_tab_that_reads() {
    const LIMITE: usize = 64 * 1024;
    let app = spawn_app_with(|a| definir(a, "--socket-buffer-bytes", &LIMITE.to_string())).await;
    // One piece, and so one packet, four times the bound; then the whole answer again in
    // `mensagem_respondida`.
    let texto = "y".repeat(4 * LIMITE);
    app.upstream.roteiro(Roteiro::Responder {
        pedacos: vec![texto.clone()],
        atraso: std::time::Duration::ZERO,
        finish: "stop",
    });
    let a = app.cliente("ana").await;
    TestApp::enviar(&a, json!({ "conteudo": "uma resposta enorme" })).await;
    let fins = a.esperar_fins(1).await;
    assert_eq!(fins[0].0, "mensagem_respondida");
    assert!(fins[0].1["mensagem"]["conteudo"] == texto.as_str());
    assert!(
        !a.nomes().iter().any(|n| n == "close" || n == "error"),
        "a tab that reads was disconnected: {:?}",
        a.nomes()
    );
    TestApp::enviar(&a, json!({ "conteudo": "e continua conectada" })).await;
}
