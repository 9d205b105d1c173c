#!/bin/sh
# Regenerate the shipped default model, resources/models/stemforge-lite, from nothing:
# the `lite` extractor alone (presets draft and its two-view fast, each ending with the ratio
# mask that `stemforge export` writes into every preset), trained with the paper's MSE on rec1000 (1,000
# songs of recorded instruments and General MIDI through a production chain; held-out-timbre
# validation split), then measured and described. The refiners are not shipped: trained on
# this CPU budget they do not beat the extractor yet (issue 14; regenerate-refiner-trial.sh).
# Run from the repository root after:
#   apt-get install fluidsynth fluid-soundfont-gm musescore-general-soundfont-small avldrums.lv2-soundfont
#   python3 -m pip install -e ".[eval,bench]"
# SAMPLES is a folder laid out like ../shared/samples (resources/data/DATA_CARD.md).
# The extractor trains in four parts (2 CPU cores, one thread, torch 2.13.0); each part
# starts from the previous part's exported bundle (float16 weights; --init-from, a fresh
# Adam, its own data seed):
#   part 1: step 9,174 (208.8 min) of the run that regenerate-extractor-ab.sh calls lite-long
#           (same seed, data order and options), in a folder of its own: the model shipped
#           on the morning of 2026-12-02;
#   part 2: 4,389 steps (120 min, seed 1): the model shipped at noon on 2026-12-02;
#   part 3: 14,755 steps (152.0 min, seed 2, on a faster machine): the model shipped on the
#           afternoon of 2026-12-02;
#   part 4: 9,661 steps (88.3 min, seed 3, --remix 0.5): this model.
# The held-out curves of parts 2 to 4 are in EXTRACTOR_AB.md.
# Each part resumes from its checkpoint when run again.
set -e
SF=${SF:-/root/sf}
SAMPLES=${SAMPLES:-../shared/samples}
D="$SF/data/rec1000"
OUT=resources/models/stemforge-lite
stemforge synth --out "$D" --songs 1000 --seconds 30 --seed 0 --samples "$SAMPLES"
stemforge train extractor --data "$D" --config lite --loss mse --out "$SF/runs/stemforge-lite-extractor" --steps 9174 --lr 3e-4 --validate-every 500 --threads 1
stemforge export --extractor "$SF/runs/stemforge-lite-extractor" --out "$SF/runs/stemforge-lite-9174" --id stemforge-lite --overwrite
stemforge train extractor --data "$D" --config lite --loss mse --init-from "$SF/runs/stemforge-lite-9174" --seed 1 --out "$SF/runs/lite-cont" --steps 4389 --lr 3e-4 --validate-every 500 --threads 1
stemforge export --extractor "$SF/runs/lite-cont" --out "$SF/runs/stemforge-lite-13563" --id stemforge-lite --overwrite
stemforge train extractor --data "$D" --config lite --loss mse --init-from "$SF/runs/stemforge-lite-13563" --seed 2 --out "$SF/runs/lite-part3" --steps 14755 --lr 3e-4 --validate-every 500 --threads 1
stemforge export --extractor "$SF/runs/lite-part3" --out "$SF/runs/stemforge-lite-28318" --id stemforge-lite --overwrite
stemforge train extractor --data "$D" --config lite --loss mse --init-from "$SF/runs/stemforge-lite-28318" --seed 3 --remix 0.5 --out "$SF/runs/lite-part4" --steps 9661 --lr 3e-4 --validate-every 500 --threads 1
stemforge export --extractor "$SF/runs/lite-part4" --out "$OUT" --id stemforge-lite --overwrite
# the two-view preset fast: its gain over draft on the validation split goes into the bundle
# (with the ratio mask on both, +0.05 dB: not offered, so draft is the default)
stemforge tune --model "$OUT" --data "$D" --split validation
# the learned high-band mask learns from this model's stems on 44.1 kHz renders
stemforge synth --out "$SF/data/fb44" --songs 30 --seconds 30 --seed 7 --sample-rate 44100
stemforge synth --out "$SF/data/fb44r" --songs 40 --seconds 30 --seed 7 --sample-rate 44100 --samples "$SAMPLES"
stemforge synth --out "$SF/data/fb44x" --songs 200 --seconds 30 --seed 11 --sample-rate 44100 --samples "$SAMPLES"
stemforge train high-band --data "$SF/data/fb44r" --model "$OUT" --out resources/models/high-band.safetensors --seed 0 --threads 1 --overwrite
# measurements for the card and the README
stemforge eval --model "$OUT" --data "$D" --split validation --modes draft:nomask,draft,fast:nomask,fast --out "$SF/runs/ship-eval-validation"
stemforge eval --model "$OUT" --data "$D" --split test --modes draft:nomask,draft,fast:nomask,fast --out "$SF/runs/ship-eval-test"
stemforge eval --full-band --model "$OUT" --data "$SF/data/fb44r" --split test --modes draft --out "$SF/runs/ship-fb44r-test"
stemforge eval --full-band --model "$OUT" --data "$SF/data/fb44" --split test --modes draft --out "$SF/runs/ship-fb44-test"
stemforge eval --full-band --model "$OUT" --data "$SF/data/fb44x" --split test --modes draft --out "$SF/runs/ship-fb44x-test"
# the README's General-MIDI-only row: old200 (the previous model's data, made by regenerate-data-ab.sh)
[ -d "$SF/data/old200" ] && stemforge eval --model "$OUT" --data "$SF/data/old200" --split test --modes draft:nomask,draft,fast:nomask,fast --out "$SF/runs/ship-eval-old200-test"
stemforge bench --model "$OUT" --out "$SF/runs/ship-bench.md"
stemforge card --model "$OUT" --eval "$SF/runs/ship-eval-validation" --eval "$SF/runs/ship-eval-test" --full-band "$SF/runs/ship-fb44r-test" --full-band "$SF/runs/ship-fb44-test" --full-band "$SF/runs/ship-fb44x-test" --bench "$SF/runs/ship-bench.json" --runs "$SF/runs/lite-part4" --recipe resources/models/regenerate-stemforge-lite.sh --notes resources/models/stemforge-lite.notes.md --data-description "rec1000: 1,000 synthetic songs x 30 s (stemforge synth --songs 1000 --seconds 30 --seed 0 --samples; recorded instruments and General MIDI soundfonts, production chain): 800 train, 100 validation (held-out timbres), 100 test songs"
