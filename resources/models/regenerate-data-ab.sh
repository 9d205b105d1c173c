#!/bin/sh
# Issue 12's data A/B, from nothing: the old General-MIDI-only set (generator v1, made by
# commit 2014059) against the new set (recorded instruments, production chain, mix bus,
# held-out-timbre validation split), each training the same `lite` extractor recipe for
# the same wall-clock time, side by side on one 2-core machine (one thread each), then
# both scored with `stemforge eval` (draft) on the new set's held-out-timbre validation
# split. Run from the repository root after:
#   apt-get install fluidsynth fluid-soundfont-gm musescore-general-soundfont-small avldrums.lv2-soundfont
#   python3 -m pip install -e ".[eval]"
# SAMPLES is a folder laid out like ../shared/samples (see resources/data/DATA_CARD.md).
set -e
SF=${SF:-/root/sf}
SAMPLES=${SAMPLES:-../shared/samples}
MINUTES=${MINUTES:-65}
git worktree add --detach "$SF/old-generator" 2014059 2>/dev/null || true
(cd "$SF/old-generator" && python3 -m core.cli synth --out "$SF/data/old200" --songs 200 --seconds 30 --seed 0)
stemforge synth --out "$SF/data/rec1000" --songs 1000 --seconds 30 --seed 0 --samples "$SAMPLES"
stemforge train extractor --data "$SF/data/old200" --config lite --out "$SF/runs/ab-old" --minutes "$MINUTES" --lr 3e-4 --validate-every 500 --threads 1 &
stemforge train extractor --data "$SF/data/rec1000" --config lite --out "$SF/runs/ab-new" --minutes "$MINUTES" --lr 3e-4 --validate-every 500 --threads 1 &
wait
stemforge export --extractor "$SF/runs/ab-old" --out "$SF/runs/ab-old-bundle" --id ab-old --overwrite
stemforge export --extractor "$SF/runs/ab-new" --out "$SF/runs/ab-new-bundle" --id ab-new --overwrite
stemforge eval --model "$SF/runs/ab-old-bundle" --data "$SF/data/rec1000" --split validation --modes draft --out "$SF/runs/ab-old-eval"
stemforge eval --model "$SF/runs/ab-new-bundle" --data "$SF/data/rec1000" --split validation --modes draft --out "$SF/runs/ab-new-eval"
