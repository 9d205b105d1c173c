#!/bin/sh
# Regenerate the learned high-band mask, resources/models/high-band.safetensors, from nothing
# (stemforge separate --high-band learned, the default), and measure it. Run from the
# repository root after: apt-get install fluidsynth fluid-soundfont-gm
# musescore-general-soundfont-small avldrums.lv2-soundfont && python3 -m pip install -e ".[eval]".
# The mask learns from the shipped model's stems (stemforge-lite, draft) on the TRAIN split
# of a set rendered at 44.1 kHz from recorded instruments and General MIDI (fb44r); one
# thread and the seed make the file repeatable. Its size (one chunk per song, 800 steps)
# was chosen on fb44r's validation split; the test splits of fb44r and fb44 (General MIDI
# only) are only ever evaluated. Retrain it whenever the shipped model changes.
# SAMPLES is a folder laid out like ../shared/samples (resources/data/DATA_CARD.md).
set -e
SAMPLES=${SAMPLES:-../shared/samples}
stemforge synth --out data/fb44r --songs 40 --seconds 30 --seed 7 --sample-rate 44100 --samples "$SAMPLES"
stemforge synth --out data/fb44 --songs 30 --seconds 30 --seed 7 --sample-rate 44100
stemforge train high-band --data data/fb44r --model stemforge-lite --out resources/models/high-band.safetensors --seed 0 --threads 1 --overwrite
stemforge eval --full-band --model stemforge-lite --data data/fb44r --split validation --modes draft --out runs/fb44r-validation
stemforge eval --full-band --model stemforge-lite --data data/fb44r --split test --modes draft --out runs/fb44r-test
stemforge eval --full-band --model stemforge-lite --data data/fb44 --split test --modes draft --out runs/fb44-test

# Trials for the drums' high band (2026-12-02, session 6; on the model shipped until then,
# stemforge-lite step 9,174): selection sets the card never scores, fb44x (validation split:
# held-out instruments) and fb44v (--no-hold-out, scored on its train split). None beat the
# recipe above (resources/docs/experiments.md, "What else was tried"); the peakiness feature lives in commit 5567003.
stemforge synth --out data/fb44x --songs 200 --seconds 30 --seed 11 --sample-rate 44100 --samples "$SAMPLES"
stemforge synth --out data/fb44v --songs 40 --seconds 30 --seed 13 --sample-rate 44100 --samples "$SAMPLES" --no-hold-out
for pair in "fb44x validation" "fb44v train"; do
  set -- $pair
  stemforge eval --full-band --model stemforge-lite --data "data/$1" --split "$2" --modes draft --out "runs/hb-shipped-$1-$2"
done
for trial in "fb44x-data" "fb44x-drums4 --source-weights 1 4 1 1 1"; do
  set -- $trial
  name=$1; shift
  mkdir -p "runs/hb-$name"
  stemforge train high-band --data data/fb44x --model stemforge-lite --out "runs/hb-$name/stemforge-lite.high-band.safetensors" --seed 0 --threads 1 "$@"
  for pair in "fb44x validation" "fb44v train"; do
    set -- $pair
    STEMFORGE_MODELS="runs/hb-$name" stemforge eval --full-band --model stemforge-lite --data "data/$1" --split "$2" --modes draft --out "runs/hb-$name-$1-$2"
  done
done

# Third round (2026-12-02, session 10; resources/docs/experiments.md, "Third round"): a causal U-Net that hears
# 5.5-22 kHz, in commit 2114ef8 (reverted by the next commit) with its trial scripts in
# resources/models/trials/ there (trial.py trains and scores on the evaluation's own
# windows; diag2.py splits the drums' windows by how much of the high band they hold).
# They read the model's stems from the cache that model_stems_for writes, and fb44y:
stemforge synth --out data/fb44y --songs 400 --seconds 30 --seed 17 --sample-rate 44100 --samples "$SAMPLES"
# e.g. (from a checkout of 2114ef8, with the sets under /root/sf/data):
#   python3 resources/models/trials/trial.py --steps 2000 --ce 3 --val fb44x:validation --out cnn3.pt

# Fourth round (2026-12-03, session 11; resources/docs/experiments.md, "Fourth round"): hand-made cues, no training.
# The scripts are in commit 3270600 (removed by the next commit), resources/models/trials/:
#   python3 resources/models/trials/hpss.py fb44x:validation 17 17
#   python3 resources/models/trials/tonal.py fb44r:validation,fb44x:test 5 9
#   python3 resources/models/trials/gated.py fb44r:validation,fb44x:test 5 9
