"""Cache the shipped extractor's raw (no mask) estimates on rec1000 chunks: (9, L) float16 = 4 estimates, 4 true stems, mixture."""
import sys, time
from pathlib import Path
import numpy as np, torch
from dataclasses import replace
from core.bundle import load_model
from core.evaluation.dataset import ChunkSource
from core.evaluation.protocol import PAPER_SETTINGS, model_estimates
torch.set_num_threads(2)
split, every, limit = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
model = load_model("stemforge-lite", "cpu")
preset = replace(model.presets["draft"], mask=False)
out = Path(f"/root/sf/lm/cache/{split}"); out.mkdir(parents=True, exist_ok=True)
t = time.time(); n = 0
for i, c in enumerate(ChunkSource(Path("/root/sf/data/rec1000"), split)):
    if i % every or n >= limit: continue
    path = out / f"{i:05d}.npy"; n += 1
    if path.exists(): continue
    est = model_estimates(model, c.mixture, preset, torch.Generator().manual_seed(0), PAPER_SETTINGS)
    arr = np.concatenate([est.numpy(), c.stems.numpy(), c.mixture.numpy()[None]]).astype(np.float16)
    np.save(path, arr)
    if n % 50 == 0: print(n, f"{time.time()-t:.0f}s", flush=True)
print("done", n, f"{time.time()-t:.0f}s", flush=True)
