import sys, torch, numpy as np
sys.argv, rest = sys.argv[:1], sys.argv[1:]
import trial
from trial import *
from core.audio.high_band import HighBandAssigner
from core.evaluation.protocol import PAPER_SETTINGS, select_windows, window_si_sdri
from core.evaluation.full_band import _native_windows, high_pass, with_high_band, oracle_high_band
torch.set_num_threads(2)
trial.MODEL = load_model("stemforge-lite", "cpu")
net = Net(16, 24, 32); net.load_state_dict(torch.load(rest[0])); net.eval()
d, s = rest[1].split(":")
exs = load(f"/root/sf/data/{d}", s)
rows = []
for ex in exs:
    c = ex["chunk"]; st = ex["st"]
    windows = select_windows(torch.from_numpy(c.stems_model), PAPER_SETTINGS)
    if not windows.starts: continue
    wins, length = _native_windows(windows, c.rate, PAPER_SETTINGS)
    hm, hs = high_pass(c.mixture, c.rate), high_pass(c.stems, c.rate)
    class AllDrums:
        def __init__(self, freqs, edge, settings, fs):
            self.high = np.flatnonzero(freqs >= 0.9 * edge)
        def __call__(self, stems, mix):
            m = np.zeros((mix.shape[0], 4, mix.shape[1], self.high.size), np.float32); m[:, 1] = 1; return m
    ad = HighBandAssigner(c.rate, 1, 4, 11025.0, make_masks=AllDrums)
    ests = {"mlp": np.concatenate([ad.push(c.mixture[:, None].astype(np.float64), st.T[:, None, :].astype(np.float64))[1], ad.finish()[1]])[:, 0, :].T,
            "oracle": oracle_high_band(st, c.mixture, c.stems, c.rate)}
    a = HighBandAssigner(c.rate, 1, 4, 11025.0, make_masks=lambda *args: NetMasks(net, *args))
    ests["cnn"] = np.concatenate([a.push(c.mixture[:, None].astype(np.float64), st.T[:, None, :].astype(np.float64))[1], a.finish()[1]])[:, 0, :].T
    sc = {k: window_si_sdri(torch.from_numpy(high_pass(v, c.rate)), torch.from_numpy(hm), torch.from_numpy(hs), wins, length).numpy()[:, 1] for k, v in ests.items()}
    for w, start in enumerate(wins.starts):
        if not windows.active[w, 1]: continue
        dh = (hs[1, start:start+length] ** 2).sum(); mh = (hm[start:start+length] ** 2).sum()
        rows.append((10 * np.log10(dh / mh + 1e-20), sc["mlp"][w], sc["cnn"][w], sc["oracle"][w]))
rows = np.array(rows)
print("windows", len(rows), "means alldrums/cnn/oracle", rows[:, 1:].mean(0).round(2))
order = np.argsort(rows[:, 0])
for q in np.array_split(order, 6):
    r = rows[q]
    print(f"drum HP share {r[:,0].min():7.1f}..{r[:,0].max():6.1f} dB  n={len(q):3d}  alldrums {r[:,1].mean():6.2f}  cnn {r[:,2].mean():6.2f}  oracle {r[:,3].mean():6.2f}")
