#!/usr/bin/env bash
# The MedSSR two-stage GRPO recipe (medkg/training/recipes/medssr.yaml, unchanged) on one
# CUDA GPU, with the before/after evaluation recorded in bench/README.md.
#
#   bench/gpu_medssr.sh DATA OUT MODEL_DIR
#
# DATA: the folder bench/gpu_medssr_prepare.py wrote on a CPU (synthetic train items, the
#       human-labelled MMLU half, two held-out benchmarks). OUT: logs, the pseudo-label
#       report, each stage's metrics.jsonl, eval.json and timings.tsv. MODEL_DIR: the policy,
#       any local HF model folder; for the packaged SmolLM2-135M-Instruct the folder medkg
#       exports from its GGUF: `python -c 'from medkg.llm.local import
#       ensure_smollm2; print(ensure_smollm2())'`. Sizes come from the environment (defaults
#       below); DEVICE=cpu with small sizes is a dry run of the same chain on a CPU.
#
# Steps: eval of the initial model on the held-out MMLU half and the held-out synthetic
# items -> pseudo-label the synthetic train items with the policy itself (self-consistency,
# K samples, tau) -> stage 1 self-supervised GRPO on them -> stage 2 supervised GRPO on the
# human-labelled MMLU half (init_from stage 1), under TRAIN_TIMEOUT seconds -> eval of every
# stage that finished. bench/gpu_medssr_report.py joins the eval files into one table.
# Stage 1 is gated (medssr.yaml labels: pseudo): pseudo-labels not above chance + PSEUDO_MARGIN
# on the rows' graph keys stop the recipe before training (SmolLM2-135M's did: 0.197 vs 0.20).
# bench/gpu_graph_keyed.sh is the run that rewards against the graph's keys instead.
set -euo pipefail
DATA=$1 OUT=$2 MODEL=$3
MEDKG=${MEDKG:-medkg}
DEVICE=${DEVICE:-cuda}
K=${K:-8} TAU=${TAU:-0.5} LABEL_TOKENS=${LABEL_TOKENS:-192} LABEL_BATCH=${LABEL_BATCH:-64}
LABEL_LIMIT=${LABEL_LIMIT:-512}
STEPS=${STEPS:-20} BATCH=${BATCH:-64} GENERATIONS=${GENERATIONS:-8}
TOKENS=${TOKENS:-192} LR=${LR:-1e-4} TRAIN_TIMEOUT=${TRAIN_TIMEOUT:-330}
EVAL_TOKENS=${EVAL_TOKENS:-192} EVAL_BATCH=${EVAL_BATCH:-128} EVAL_LIMIT=${EVAL_LIMIT:-}
RUNS=${RUNS:-$OUT/runs} PSEUDO=${PSEUDO:-$OUT/pseudo}
mkdir -p "$OUT"
T0=$(date +%s)
step() {  # step NAME CMD...: run, log, time (a failing step stops the script)
  local name=$1 s
  shift
  s=$(date +%s)
  echo "=== $name: $*" | tee -a "$OUT/log.txt"
  "$@" 2>&1 | tee -a "$OUT/log.txt"
  echo -e "$name\t$(($(date +%s) - s))" >>"$OUT/timings.tsv"
}
spec() { echo "local:model=$1,device=$DEVICE,batch_size=$2"; }
evaluate() {  # evaluate OUT_JSON LABEL=FOLDER...
  local out=$1 models=() m
  shift
  for m in "$@"; do models+=(--model "${m%%=*}=$(spec "${m#*=}" "$EVAL_BATCH")"); done
  step "eval:$(basename "$out" .json)" $MEDKG train eval "${models[@]}" \
    --bench "$DATA/bench_mmlu.jsonl" --bench "$DATA/bench_synth.jsonl" \
    ${EVAL_LIMIT:+--limit "$EVAL_LIMIT"} --max-new-tokens "$EVAL_TOKENS" --no-link --out "$out"
}

evaluate "$OUT/eval_before.json" "before=$MODEL"

step pseudo-label $MEDKG train pseudo-label "$DATA/synth_train.jsonl" --out "$PSEUDO" \
  --generator "$(spec "$MODEL" "$LABEL_BATCH")" --k "$K" --tau "$TAU" --limit "$LABEL_LIMIT" \
  --max-new-tokens "$LABEL_TOKENS" --no-graph --json
cp "$PSEUDO/report.json" "$OUT/pseudo_report.json"

set +e
step train timeout "$TRAIN_TIMEOUT" $MEDKG train run medkg/training/recipes/medssr.yaml \
  --var MODEL="$MODEL" --var PSEUDO_DATA="$PSEUDO" --var HUMAN_DATA="$DATA/mmlu_train.jsonl" \
  --var STEPS="$STEPS" --var BATCH="$BATCH" --var GENERATIONS="$GENERATIONS" \
  --var COMPLETION_TOKENS="$TOKENS" --var LR="$LR" --var OUT="$RUNS" \
  --var PSEUDO_MARGIN="${PSEUDO_MARGIN:-0.1}"
set -e
after=()
for s in self_supervised supervised; do
  [ -f "$RUNS/$s/metrics.jsonl" ] && cp "$RUNS/$s/metrics.jsonl" "$OUT/metrics_$s.jsonl"
  [ -f "$RUNS/$s/DONE" ] && after+=("$s=$RUNS/$s/final")
done
[ ${#after[@]} -gt 0 ] && evaluate "$OUT/eval_after.json" "${after[@]}"
echo -e "total\t$(($(date +%s) - T0))" >>"$OUT/timings.tsv"
cat "$OUT/timings.tsv"
