"""Feasibility: does a harmonic/percussive split of the high band find the drums? (non-causal, whole chunk)"""
import sys, time
from pathlib import Path
import numpy as np, torch
from scipy.ndimage import median_filter
from core.audio.high_band import HighBandAssigner, HighBandMasks
from core.audio.learned_high_band import load_network, LearnedHighBandMasks
from core.bundle import load_model
from core.evaluation.full_band import FullBandSource, _native_windows, high_pass, oracle_high_band
from core.evaluation.protocol import PAPER_SETTINGS, select_windows, window_si_sdri
from core.training.high_band import model_stems_for
torch.set_num_threads(2)
net = load_network(Path("resources/models/high-band.safetensors"))
model = load_model("stemforge-lite", "cpu"); preset = model.presets["draft"]
TW, FW = int(sys.argv[2]), int(sys.argv[3])

class Hpss:
    """Wraps a base mask maker; drums get the percussive share Mp plus their base share of the rest."""
    def __init__(self, base, mode, *args):
        self.base = base(*args); self.high = self.base.high; self.mode = mode
    def __call__(self, stems, mix):
        base = self.base(stems, mix)  # (C,S,T,H)
        mag = np.abs(mix[..., self.high])  # (C,T,H)
        h = median_filter(mag, size=(1, TW, 1), mode="nearest")
        p = median_filter(mag, size=(1, 1, FW), mode="nearest")
        mp = p**2 / (h**2 + p**2 + 1e-20)
        out = base * (1 - mp[:, None])
        if self.mode == "add":
            out[:, 1] += mp
        elif self.mode == "pure":
            out[:, 1] = mp
        return out.astype(np.float32)

class AllDrums:
    def __init__(self, freqs, edge, settings, fs):
        self.high = np.flatnonzero(freqs >= 0.9 * edge)
    def __call__(self, stems, mix):
        m = np.zeros((mix.shape[0], 4, mix.shape[1], self.high.size), np.float32); m[:, 1] = 1; return m

makers = {
    "alldrums": AllDrums,
    "learned": lambda *a: LearnedHighBandMasks(net, range(4), *a),
    "hpss+learned": lambda *a: Hpss(lambda *b: LearnedHighBandMasks(net, range(4), *b), "add", *a),
    "hpss+rule": lambda *a: Hpss(HighBandMasks, "add", *a),
    "hpss-pure+learned": lambda *a: Hpss(lambda *b: LearnedHighBandMasks(net, range(4), *b), "pure", *a),
}
for v in sys.argv[1].split(","):
    d, s = v.split(":")
    chunks = list(FullBandSource(Path(f"/root/sf/data/{d}"), [s]))
    rows = []
    for c in chunks:
        st = model_stems_for(model, c, preset, 0, Path("/root/sf/hbcache"))
        windows = select_windows(torch.from_numpy(c.stems_model), PAPER_SETTINGS)
        if not windows.starts: continue
        wins, length = _native_windows(windows, c.rate, PAPER_SETTINGS)
        hm, hs = high_pass(c.mixture, c.rate), high_pass(c.stems, c.rate)
        ests = {"oracle": oracle_high_band(st, c.mixture, c.stems, c.rate)}
        for name, mk in makers.items():
            a = HighBandAssigner(c.rate, 1, 4, 11025.0, make_masks=mk)
            ests[name] = np.concatenate([a.push(c.mixture[:, None].astype(np.float64), st.T[:, None, :].astype(np.float64))[1], a.finish()[1]])[:, 0, :].T
        sc = {k: window_si_sdri(torch.from_numpy(high_pass(e, c.rate)), torch.from_numpy(hm), torch.from_numpy(hs), wins, length).numpy()[:, 1] for k, e in ests.items()}
        for w, start in enumerate(wins.starts):
            if not windows.active[w, 1]: continue
            dh = (hs[1, start:start+length] ** 2).sum(); mh = (hm[start:start+length] ** 2).sum()
            rows.append([10 * np.log10(dh / mh + 1e-20)] + [sc[k][w] for k in sc])
    rows = np.array(rows); names = list(sc)
    print(v, f"TW={TW} FW={FW}", "n", len(rows), " ".join(f"{k} {m:.2f}" for k, m in zip(names, rows[:, 1:].mean(0))), flush=True)
    order = np.argsort(rows[:, 0])
    for q in np.array_split(order, 6):
        r = rows[q]
        print(f"  share {r[:,0].min():6.1f}..{r[:,0].max():5.1f} n={len(q):3d} " + " ".join(f"{k} {m:6.2f}" for k, m in zip(names, r[:, 1:].mean(0))), flush=True)
