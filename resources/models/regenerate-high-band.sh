#!/bin/sh
# Regenerate the learned high-band mask, resources/models/high-band.safetensors, from nothing
# (stemforge separate --high-band learned), and measure it. Run from the repository root
# after: apt-get install fluidsynth fluid-soundfont-gm musescore-general-soundfont-small
# && python3 -m pip install -e ".[eval]". The mask learns from the shipped model's stems
# (stemforge-lite, draft) on the TRAIN split of a set rendered at 44.1 kHz; one thread and
# the seed make the file repeatable. The second set (seed 11) is only ever evaluated.
set -e
stemforge synth --out data/fb44 --songs 30 --seconds 30 --seed 7 --sample-rate 44100
stemforge synth --out data/fb44-s11 --songs 6 --seconds 30 --seed 11 --sample-rate 44100
nice -n 15 stemforge train high-band --data data/fb44 --model stemforge-lite --out resources/models/high-band.safetensors --seed 0 --threads 1 --overwrite
stemforge eval --full-band --model stemforge-lite --data data/fb44 --split test --modes draft --out runs/fb-seed7-test
stemforge eval --full-band --model stemforge-lite --data data/fb44-s11 --split train,validation,test --modes draft --out runs/fb-seed11-all
