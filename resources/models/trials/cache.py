"""Cache the shipped model's stems (draft, residual) for full-band chunks."""
import sys, time
from pathlib import Path
import torch
from core.bundle import load_model
from core.evaluation.full_band import FullBandSource
from core.training.high_band import model_stems_for
torch.set_num_threads(int(sys.argv[3]) if len(sys.argv) > 3 else 2)
model = load_model("stemforge-lite", "cpu")
preset = model.presets["draft"]
data, split = sys.argv[1], sys.argv[2]
t = time.time()
chunks = list(FullBandSource(Path(data), [split]))
for i, c in enumerate(chunks):
    model_stems_for(model, c, preset, 0, Path("/root/sf/hbcache"))
    if i % 10 == 0:
        print(data, split, i, len(chunks), round(time.time() - t), flush=True)
print("done", data, split, len(chunks), round(time.time() - t), flush=True)
