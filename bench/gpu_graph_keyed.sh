#!/usr/bin/env bash
# Baseline -> graph-keyed GRPO -> eval on one CUDA GPU, in one call that fits 10 minutes.
#
#   bench/gpu_graph_keyed.sh DATA OUT MODEL_DIR
#
# DATA: the folder bench/gpu_graph_keyed_prepare.py wrote on a CPU (train_grpo.jsonl with
#       the graph's verified keys; bench_a/b/mmlu.jsonl held out). OUT: log.txt, timings.tsv,
#       eval_*.json (every record with each order's full response, letter and parse method),
#       the stage's metrics.jsonl and table.md. MODEL_DIR: a local HF model folder (for the
#       packaged SmolLM2-135M-Instruct: `python -c 'from medkg.llm.local
#       import ensure_smollm2; print(ensure_smollm2())'`).
#
# Steps (each timed; a failing step stops the script, training is cut at TRAIN_TIMEOUT):
#  1. before: letter-logit eval of every held-out question under every cyclic option order
#     (one forward pass per order), and a generation eval (GEN_LIMIT questions per file,
#     GEN_ORDERS orders, EVAL_TOKENS tokens) - through vLLM's OpenAI-compatible server when
#     `import vllm` works, else transformers' generate;
#  2. graph-keyed GRPO (medkg/training/recipes/graph_keyed.yaml: reward = the graph's key;
#     TRL generates with vLLM, colocated, when it is installed);
#  3. after: the same two evals of the stage's final model, if the stage finished;
#  4. table.md: raw and permutation-consistent accuracy, before and after, per set/family.
# Sizes come from the environment (defaults below fit an H200 in ~8 minutes).
set -euo pipefail
DATA=$1 OUT=$2 MODEL=$3
MEDKG=${MEDKG:-medkg}
PY=${PY:-python}
DEVICE=${DEVICE:-cuda}  # cpu + tiny sizes + a tiny model: a dry run of the same chain
STEPS=${STEPS:-12} BATCH=${BATCH:-64} GENERATIONS=${GENERATIONS:-8} TOKENS=${TOKENS:-128}
LR=${LR:-2e-5} TRAIN_TIMEOUT=${TRAIN_TIMEOUT:-300}
EVAL_BATCH=${EVAL_BATCH:-128} EVAL_TOKENS=${EVAL_TOKENS:-160} GEN_LIMIT=${GEN_LIMIT:-100}
GEN_ORDERS=${GEN_ORDERS:-cyclic:2} PORT=${PORT:-8765}
RUNS=$OUT/runs
mkdir -p "$OUT"
T0=$(date +%s)
VLLM=false
$PY -c 'import vllm' 2>/dev/null && VLLM=true
echo "vllm available: $VLLM" | tee -a "$OUT/log.txt"
step() {  # step NAME CMD...: run, log, time
  local name=$1 s
  shift
  s=$(date +%s)
  echo "=== $name: $*" | tee -a "$OUT/log.txt"
  "$@" 2>&1 | tee -a "$OUT/log.txt"
  echo -e "$name\t$(($(date +%s) - s))" >>"$OUT/timings.tsv"
}
benches=(--bench "$DATA/bench_a.jsonl" --bench "$DATA/bench_b.jsonl" --bench "$DATA/bench_mmlu.jsonl")
letters_eval() {  # letters_eval LABEL FOLDER
  step "letters:$1" $MEDKG train eval --model "$1=local:model=$2,device=$DEVICE,batch_size=$EVAL_BATCH" \
    "${benches[@]}" --scoring letters --permutations cyclic --no-link --out "$OUT/eval_letters_$1.json"
}
gen_eval() {  # gen_eval LABEL FOLDER: vLLM server when available, else transformers
  local spec="$1=local:model=$2,device=$DEVICE,batch_size=$EVAL_BATCH" pid=""
  if [ "$VLLM" = true ]; then
    $PY -m vllm.entrypoints.openai.api_server --model "$2" --served-model-name m --port "$PORT" \
      --gpu-memory-utilization 0.4 --max-model-len 2048 >>"$OUT/vllm_$1.log" 2>&1 &
    pid=$!
    for _ in $(seq 120); do
      curl -sf "http://127.0.0.1:$PORT/v1/models" >/dev/null && break
      sleep 1
    done
    spec="$1=openai:base_url=http://127.0.0.1:$PORT/v1,model=m,batch_size=$EVAL_BATCH"
  fi
  step "generate:$1" $MEDKG train eval --model "$spec" "${benches[@]}" --limit "$GEN_LIMIT" \
    --permutations "$GEN_ORDERS" --max-new-tokens "$EVAL_TOKENS" --no-link \
    --out "$OUT/eval_generate_$1.json" || true
  if [ -n "$pid" ]; then kill "$pid"; wait "$pid" 2>/dev/null || true; fi
}

letters_eval before "$MODEL"
gen_eval before "$MODEL"

set +e
step train timeout "$TRAIN_TIMEOUT" $MEDKG train run medkg/training/recipes/graph_keyed.yaml \
  --var MODEL="$MODEL" --var DATA="$DATA/train_grpo.jsonl" --var OUT="$RUNS" \
  --var STEPS="$STEPS" --var BATCH="$BATCH" --var GENERATIONS="$GENERATIONS" \
  --var COMPLETION_TOKENS="$TOKENS" --var LR="$LR" --var VLLM="$VLLM"
set -e
[ -f "$RUNS/graph_keyed/metrics.jsonl" ] && cp "$RUNS/graph_keyed/metrics.jsonl" "$OUT/metrics.jsonl"
if [ -f "$RUNS/graph_keyed/DONE" ]; then
  letters_eval after "$RUNS/graph_keyed/final"
  gen_eval after "$RUNS/graph_keyed/final"
fi
echo -e "total\t$(($(date +%s) - T0))" >>"$OUT/timings.tsv"
$PY bench/gpu_graph_keyed_report.py "$OUT" | tee "$OUT/table.md"
cat "$OUT/timings.tsv"
