#!/bin/sh
# Regenerate the shipped default model, resources/models/stemforge-lite, from nothing.
# Run from the repository root after: apt-get install fluidsynth fluid-soundfont-gm
# musescore-general-soundfont-small && python3 -m pip install -e ".[eval,bench]".
# The refiners were trained before anchors existed: the options after --validate-every
# give the paper's refiner (anchored at zero, no warm start, the whole log-normal, a grid
# from 10, no predictive loss), which today's defaults no longer are.
# Step counts are the ones the shipped bundle was trained for (2 CPU cores, torch 2.13.0);
# with --minutes instead of --steps, a faster machine trains further in the same time.
set -e
# synth200 came from the first data generator (General MIDI only, commit 2014059);
# today's `stemforge synth` makes different songs, so render it with that commit:
git worktree add --detach ../stemforge-gen1 2014059 2>/dev/null || true
(cd ../stemforge-gen1 && python3 -m core.cli synth --out "$OLDPWD/data/synth200" --songs 200 --seconds 30 --seed 0)
stemforge train extractor --data data/synth200 --config lite --out runs/extractor --steps 7821 --lr 3e-4 --validate-every 500
stemforge train diffusion --data data/synth200 --extractor runs/extractor --out runs/teacher --steps 2598 --validate-every 500 --anchor zero --no-warm-start --sigma-train-range 1e-4 1e4
stemforge train distill --data data/synth200 --extractor runs/extractor --teacher runs/teacher --out runs/student --steps 533 --validate-every 150 --sigma-max 10 --predictive-weight 0 --sigma-train-range 1e-4 1e4
stemforge export --extractor runs/extractor --student runs/student --out resources/models/stemforge-lite --id stemforge-lite --overwrite
stemforge export --extractor runs/extractor --student runs/student --teacher runs/teacher --out runs/stemforge-lite-teacher --id stemforge-lite-teacher --overwrite
stemforge tune --model resources/models/stemforge-lite --data data/synth200 --split validation --max-chunks 8 --grid 3e-4:1:8
stemforge sweep --model runs/stemforge-lite-teacher --data data/synth200 --split validation --max-chunks 4 --grid 3e-4:1:6 --out runs/sweep
stemforge eval --model resources/models/stemforge-lite --data data/synth200 --split test --modes draft,fast,balanced,best --out runs/eval
# teacher:1 at sigma_max 3e-4: the teacher's best point of the validation sweep above
stemforge eval --model runs/stemforge-lite-teacher --data data/synth200 --split test --modes teacher:1 --teacher-sigma-max 0.0003 --out runs/eval-teacher
stemforge bench --model resources/models/stemforge-lite --out runs/bench.md
stemforge card --model resources/models/stemforge-lite --eval runs/eval --eval runs/eval-teacher --sweep runs/sweep --bench runs/bench.json --runs runs/extractor runs/teacher runs/student --recipe resources/models/regenerate-stemforge-lite.sh --notes resources/models/stemforge-lite.notes.md --data-description "200 synthetic songs x 30 s (stemforge synth --songs 200 --seconds 30 --seed 0; General MIDI soundfonts rendered with FluidSynth): 160 train, 20 validation, 20 test songs"
