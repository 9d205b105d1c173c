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
