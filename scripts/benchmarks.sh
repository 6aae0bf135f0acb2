#!/usr/bin/env bash
# Every figure of BENCHMARKS.md, in one go (about 15 minutes on 2 cores): the Node baseline
# side by side (../shared/baseline/compare.sh), then tutor-carga scenarios against fresh local
# servers (scripts/carga.sh), then the chat load on PostgreSQL, alone and as three processes
# over Redis (tests/cluster/bench.mjs). JSON results go to target/bench/, charts to docs/.
#   scripts/benchmarks.sh                 everything
#   PARTES=carga scripts/benchmarks.sh    only some of: baseline, carga, postgres
# Noisy machines: compare ratios from one run, never absolute figures across days.
set -euo pipefail
cd "$(dirname "$0")/.."
partes="${PARTES:-baseline,carga,postgres}"
saida=target/bench
mkdir -p "$saida" docs
cargo build --release --quiet --bin tutor --bin tutor-carga
export TUTOR_BIN="$PWD/target/release/tutor" CARGA_BIN="$PWD/target/release/tutor-carga"
tem() { [[ ",$partes," == *",$1,"* ]]; }

if tem baseline; then
  echo "== against the Node baseline (compare.sh, 3 interleaved rounds)"
  # It exits non-zero while a goal does not hold: a report here, not a verdict.
  ../shared/baseline/compare.sh "$TUTOR_BIN" | tee "$saida/compare.txt" || true
fi

if tem carga; then
  echo "== open-loop chat: latency against offered load"
  rm -f "$saida"/taxa-*.json
  for r in 100 200 400 800 1200; do
    scripts/carga.sh chat -n 400 -m 5 --taxa "$r" --silencioso --json "$saida/taxa-$r.json" >/dev/null
    python3 - "$saida/taxa-$r.json" <<'EOF'
import json, sys
j = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
r, s = j["result"], j["server"]
print(f"  {j['config']['rate']:>5} msg/s offered: {r['answers_per_s']:.0f} answered/s, first piece p50/p99 "
      f"{r['first_piece_ms']['p50']}/{r['first_piece_ms']['p99']} ms, ack p50/p99 {r['ack_ms']['p50']}/{r['ack_ms']['p99']} ms, "
      f"server CPU {s.get('cpu_ms_per_answer')} ms/answer, wrong {r['missing_or_wrong'] + r['mismatches']}")
EOF
  done
  "$CARGA_BIN" plot "$saida"/taxa-*.json --x config.rate --y result.first_piece_ms.p50,result.first_piece_ms.p99,result.ack_ms.p99 \
    --titulo "first piece and ack against offered load (SQLite, one process)" --rotulo-x "offered messages/s" --rotulo-y ms \
    -o docs/latencia-por-carga.svg

  echo "== durable acks: every send of 2000 students at once"
  scripts/carga.sh burst -n 2000 -m 1 --tokens 2 --atraso 0 --json "$saida/burst.json" | grep -E '^  (sent|ack )'

  echo "== fan-out: 100 conversations x 4 tabs"
  scripts/carga.sh fanout -n 100 -m 5 --abas 3 --json "$saida/fanout.json" | grep -E '^  (sent|first piece|whole answer|server)'

  echo "== idle: 19000 sockets in 6 steps"
  scripts/carga.sh idle -n 19000 --passos 6 --json "$saida/idle.json" | grep -E '^  (held_at_end|rss_kb_per_socket)'
  python3 - "$saida/idle.json" "$saida/idle-passos.json" <<'EOF'
import json, sys
j = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
with open(sys.argv[2], "w") as f:
    for p in j["scenario_report"]["steps"]:
        f.write(json.dumps({"sockets": p["sockets"], "rss_mib": p["rss_kb"] / 1024}) + "\n")
EOF
  "$CARGA_BIN" plot "$saida/idle-passos.json" --x sockets --y rss_mib \
    --titulo "server RSS against idle WebSocket connections" --rotulo-x sockets --rotulo-y MiB -o docs/rss-por-socket.svg
fi

if tem postgres; then
  echo "== chat on PostgreSQL: one process, then three over Redis"
  (cd tests/cluster && node bench.mjs --nos 1 --sem-redis --clientes 200 --mensagens 5 | tail -1 | tee "../../$saida/postgres-1.json")
  (cd tests/cluster && node bench.mjs --nos 3 --clientes 201 --mensagens 5 | tail -1 | tee "../../$saida/postgres-3.json")
fi
