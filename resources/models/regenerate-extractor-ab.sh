#!/bin/sh
# Issue 13's extractor A/B, from nothing (after regenerate-data-ab.sh has made
# $SF/data/rec1000 and the 65-minute MSE run $SF/runs/ab-new):
#
# 1. Loss, at equal wall-clock on the held-out-timbre validation split: `lite` with
#    waveform L1 + multi-resolution STFT against the same recipe with MSE (ab-new).
# 2. Architecture, 2 hours each side by side (one thread each on the 2-core machine):
#    `lite` (waveform U-Net, MSE: ab-new continued to 120 minutes) against
#    `bandsplit-lite` (STFT band-split mask network, MSE, lr 1e-3).
# 3. Both arms exported as extractor-only bundles and scored with `stemforge eval` (draft)
#    on the held-out-timbre validation split and on the test split.
# Every run resumes from its checkpoint when the same command is run again.
set -e
SF=${SF:-/root/sf}
D="$SF/data/rec1000"
# (stopped at 47.6 minutes: at equal time it trailed MSE by 3.7 dB on validation)
stemforge train extractor --data "$D" --config lite --loss l1_stft --out "$SF/runs/lite-l1stft" --minutes 47.6 --lr 3e-4 --validate-every 500 --threads 1
[ -d "$SF/runs/lite-mse-2h" ] || cp -r "$SF/runs/ab-new" "$SF/runs/lite-mse-2h"
stemforge train extractor --data "$D" --config lite --loss mse --out "$SF/runs/lite-mse-2h" --minutes 120 --lr 3e-4 --validate-every 500 --threads 1 &
stemforge train extractor --data "$D" --config bandsplit-lite --loss mse --out "$SF/runs/bs-lite-mse" --minutes 120 --lr 1e-3 --validate-every 500 --threads 1 &
wait
for run in lite-l1stft lite-mse-2h bs-lite-mse; do
  stemforge export --extractor "$SF/runs/$run" --out "$SF/runs/$run-bundle" --id "$run" --overwrite
  for split in validation test; do
    stemforge eval --model "$SF/runs/$run-bundle" --data "$D" --split $split --modes draft --out "$SF/runs/$run-eval-$split" --quiet
  done
done

# 4. The winner (lite, MSE) trains on, in several stretches, towards 8 hours: a copy of
#    the 120-minute run, resumed with the same command after any interruption.
[ -d "$SF/runs/lite-long" ] || cp -r "$SF/runs/lite-mse-2h" "$SF/runs/lite-long"
stemforge train extractor --data "$D" --config lite --loss mse --out "$SF/runs/lite-long" --minutes 480 --lr 3e-4 --validate-every 500 --threads 1

# 5. Learning rate (2026-12-02): a branch from lite-long's EMA weights at step 7,296 at
#    lr 1e-4 against lite-long itself at 3e-4, 35 minutes side by side (one thread each),
#    both scored by `stemforge eval` on the held-out-timbre split (2.16 against 2.29 dB).
[ -d "$SF/runs/ext-s5b" ] || { stemforge train extractor --data "$D" --config lite --loss mse --out "$SF/runs/ext-s5b" --steps 7296 --lr 3e-4 --validate-every 500 --threads 1; }
stemforge train extractor --data "$D" --config lite --loss mse --init-from "$SF/runs/ext-s5b" --out "$SF/runs/lite-lr1e4" --steps 1725 --lr 1e-4 --validate-every 500 --threads 1
# (lite-long's side is its step 9,174, the shipped model: regenerate-stemforge-lite.sh scores it)
stemforge export --extractor "$SF/runs/lite-lr1e4" --out "$SF/runs/lite-lr1e4-bundle" --id lite-lr1e4 --overwrite
stemforge eval --model "$SF/runs/lite-lr1e4-bundle" --data "$D" --split validation --modes draft --out "$SF/runs/lite-lr1e4-eval-validation" --quiet

# 6. The plateau check: lite-long's step 10,847 (238.9 min), 30 minutes past the shipped
#    step 9,174, scored on the held-out-timbre split (2.27 dB against 2.29).
stemforge train extractor --data "$D" --config lite --loss mse --out "$SF/runs/lite-long-10847" --steps 10847 --lr 3e-4 --validate-every 500 --threads 1
stemforge export --extractor "$SF/runs/lite-long-10847" --out "$SF/runs/lite-long-10847-bundle" --id lite-long-10847 --overwrite
stemforge eval --model "$SF/runs/lite-long-10847-bundle" --data "$D" --split validation --modes draft --out "$SF/runs/lite-long-10847-eval-validation" --quiet
# 7. The shipped extractor's part 2 (2026-12-02, session 6): the step-9,174 bundle trained on
#    with a fresh Adam and seed 1 (regenerate-stemforge-lite.sh builds that bundle as
#    $SF/runs/stemforge-lite-9174); its held-out curve at 40 and 80 minutes of part 2
#    (steps 1,573 and 2,990; the end of part 2 is the shipped model, scored by that script).
for steps in 1573 2990; do
  stemforge train extractor --data "$D" --config lite --loss mse --init-from "$SF/runs/stemforge-lite-9174" --seed 1 --out "$SF/runs/lite-cont-$steps" --steps "$steps" --lr 3e-4 --validate-every 500 --threads 1
  stemforge export --extractor "$SF/runs/lite-cont-$steps" --out "$SF/runs/lite-cont-$steps-bundle" --id "lite-cont-$steps" --overwrite
  stemforge eval --model "$SF/runs/lite-cont-$steps-bundle" --data "$D" --split validation --modes draft --out "$SF/runs/lite-cont-$steps-eval-validation" --quiet
done

# 8. The shipped extractor's part 3 (2026-12-02, session 7; regenerate-stemforge-lite.sh builds
#    its start, $SF/runs/stemforge-lite-13563): its held-out curve at 45.1 and 100.2 minutes
#    (steps 4,295 and 9482; the end of part 3 is the shipped model, scored by that script), and
#    a branch beside it with remix augmentation (--remix 0.5: with probability 0.5 a crop's
#    four stems come from four songs, with random gains and polarities), scored at equal
#    steps (4,000 and 9,000).
for steps in 4295 9482; do
  stemforge train extractor --data "$D" --config lite --loss mse --init-from "$SF/runs/stemforge-lite-13563" --seed 2 --out "$SF/runs/lite-part3-$steps" --steps "$steps" --lr 3e-4 --validate-every 500 --threads 1
  stemforge export --extractor "$SF/runs/lite-part3-$steps" --out "$SF/runs/lite-part3-$steps-bundle" --id "lite-part3-$steps" --overwrite
  stemforge eval --model "$SF/runs/lite-part3-$steps-bundle" --data "$D" --split validation --modes draft --out "$SF/runs/lite-part3-$steps-eval-validation" --quiet
done
for steps in 4000 9000; do
  stemforge train extractor --data "$D" --config lite --loss mse --init-from "$SF/runs/stemforge-lite-13563" --seed 2 --remix 0.5 --out "$SF/runs/lite-remix" --steps "$steps" --lr 3e-4 --validate-every 500 --threads 1
  stemforge export --extractor "$SF/runs/lite-remix" --out "$SF/runs/lite-remix-$steps-bundle" --id "lite-remix-$steps" --overwrite
  stemforge eval --model "$SF/runs/lite-remix-$steps-bundle" --data "$D" --split validation --modes draft --out "$SF/runs/lite-remix-$steps-eval-validation" --quiet
done
