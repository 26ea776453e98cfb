#!/usr/bin/env bash
# The GPU path in one command (a few minutes on one H100/H200): on CUDA (bf16, SDPA attention),
#   1. build the real-vocabulary Qwen2.5-VL checkpoint (streampro/model/qwen_vocab.py) and `prepare` it,
#   2. SFT with CB-Stream, GRPO, then `bench run` + `bench score` of the GRPO model, through the CLI,
#   3. benchmarks/gpu_step.py: streaming turns/s (KV cache vs recompute) and the time and peak memory of one
#      training step of a random-weight model shaped like Qwen2.5-VL-3B.
#
#   benchmarks/gpu_smoke.sh [DATA]
#
# DATA holds the sliced trajectories and items of `make run` (sliced/, synth/items/, rubrics/; default: data).
# Environment: PYTHON (default python3), WORK (scratch folder; default a new temporary one),
# SFT_STEPS (default 30), GRPO_STEPS (default 2; ~23 s a step on an H200), STEP_TURNS (gpu_step.py's streamed turns, default 10), ALLOW_CPU=1 to run it without a GPU (a check of the script).
set -euo pipefail
DATA=${1:-data}
PY=${PYTHON:-python3}
WORK=${WORK:-$(mktemp -d)}
SP="$PY -m streampro.cli"
for f in "$DATA/sliced/sft" "$DATA/sliced/rl" "$DATA/sliced/bench" "$DATA/synth/items/bench.jsonl" "$DATA/rubrics/rl.jsonl"; do
  [ -e "$f" ] || { echo "gpu_smoke: $f is missing: run \`make run\` (or dvc repro slice rubrics) first" >&2; exit 2; }
done
$PY - <<EOF
import os, torch, transformers, trl
print("torch", torch.__version__, "transformers", transformers.__version__, "trl", trl.__version__)
if not torch.cuda.is_available() and os.environ.get("ALLOW_CPU") != "1":
    raise SystemExit("gpu_smoke: no CUDA device (ALLOW_CPU=1 runs it on the CPU)")
print("device:", torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu")
EOF
t() { local s=$SECONDS; "$@"; echo "[gpu_smoke] $((SECONDS - s)) s: ${*:1:4}"; }
t $PY -c "from streampro.model.qwen_vocab import build_real_vocab_checkpoint as b; b('$WORK/base')"
t $SP prepare --base "$WORK/base" --out "$WORK/prepared"
# one stream a GRPO step and no reward probes (2 x 7 greedy streams: ~60 s on an H200) keep it within 5 minutes
printf 'model: {name_or_path: %s, max_new_tokens: 8}\ngrpo: {streams_per_step: 1, probe_streams: 0}\n' "$WORK/prepared" > "$WORK/profile.yaml"
P="--profile $WORK/profile.yaml"
t $SP sft $P --trajectories "$DATA/sliced/sft" --eval-trajectories "$DATA/sliced/rl" --out "$WORK/sft" \
  --live "$WORK/sft_live" --max-steps "${SFT_STEPS:-30}"
t $SP grpo $P --model "$WORK/sft" --trajectories "$DATA/sliced/rl" --items "$DATA/rubrics/rl.jsonl" --out "$WORK/grpo" \
  --live "$WORK/grpo_live" --max-steps "${GRPO_STEPS:-2}"
t $SP bench run $P --policy "model:$WORK/grpo" --trajectories "$DATA/sliced/bench" \
  --items "$DATA/synth/items/bench.jsonl" --out "$WORK/predictions.jsonl"
t $SP bench score $P --items "$DATA/synth/items/bench.jsonl" --predictions "$WORK/predictions.jsonl" --out "$WORK/bench"
$PY -c "import json; m = json.load(open('$WORK/bench/metrics.json')); print('bench W-Avg', m.get('overall_w_avg', m))"
cat "$WORK/grpo/grpo_summary.json"
if [ "${ALLOW_CPU:-0}" = 1 ] && ! $PY -c "import torch, sys; sys.exit(not torch.cuda.is_available())"; then
  t $PY benchmarks/gpu_step.py --processor "$WORK/prepared" --shape tiny --frame-size 56 --turns 4 --train-turns 4
else
  t $PY benchmarks/gpu_step.py --processor "$WORK/prepared" --turns "${STEP_TURNS:-10}"  # recomputing 20 turns: ~80 s
fi
echo "gpu_smoke: done ($WORK)"
