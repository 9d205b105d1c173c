#!/bin/bash
# First trial of the anchored refiners (METHOD.md section 4a) on the 65-minute extractor of
# the data A/B (regenerate-data-ab.sh makes $SF/runs/ab-new). Figures: issue 14 closing note.
# Issue 14 on today's extractor (ab-new: lite, MSE, 65 min on rec1000): mixer, anchored
# teacher, student with the predictive loss, then a bundle tuned on validation.
# Resumable: every stage resumes from its run folder with the same command.
set -e
SF=${SF:-/root/sf}; D=$SF/data/rec1000; R=$SF/runs; E=$R/ab-new
stemforge train mixer --data $D --extractor $E --out $R/r14-mixer --minutes 5 --validate-every 100 --threads 1
stemforge train diffusion --data $D --extractor $E --out $R/r14-teacher --minutes 20 --lr 3e-4 --segment-seconds 1.5 --validate-every 250 --threads 1
stemforge train distill --data $D --extractor $E --teacher $R/r14-teacher --out $R/r14-student --minutes 15 --segment-seconds 1.5 --validate-every 100 --threads 1
rm -rf $R/r14-bundle
stemforge export --extractor $E --teacher $R/r14-teacher --student $R/r14-student --out $R/r14-bundle --id r14
stemforge tune --model $R/r14-bundle --data $D --split validation --max-chunks 40 --grid 0.003,0.01,0.03,0.1,0.3 --quiet
