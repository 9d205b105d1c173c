"""Trial: a causal CNN that hears the 44.1 kHz spectrogram (5.5-22 kHz) and the model's stems,
and shares each high-band tile among the sources. Proxy metric: per-4s-window SI-SDRi on the
bins above 11025 Hz (STFT domain; sqrt-Hann at 50% is a tight frame, so inner products carry)."""
import sys, time, json, argparse
from pathlib import Path
import numpy as np
import torch
from torch import nn
import torch.nn.functional as F
from core.bundle import load_model
from core.evaluation.full_band import FullBandSource
from core.training.high_band import model_stems_for, stft_frames, make_example, masks_for
from core.audio.learned_high_band import load_network, LearnedHighBandMasks
from core.audio.high_band import crossover_weights, DEFAULT_SETTINGS

N = 2048; B0 = 256; BC = 461; BE = 512  # input from 5.5 kHz; masks from f_c; loss from f_e
FLOOR = 1e-10
WIN = 172  # 4 s of frames

def log_inputs(mix, stems):
    """mix (T,F) stems (4,T,F) complex -> (6, T, F-B0) float32 (5 log-powers rel. frame mean, + abs level)."""
    p = np.concatenate([np.abs(mix[None, :, B0:]) ** 2, np.abs(stems[:, :, B0:]) ** 2])  # (5,T,Fb)
    ref = p[0].mean(-1, keepdims=True)  # (T,1)
    rel = np.log((p + FLOOR) / (ref[None] + FLOOR))
    absl = np.broadcast_to(np.log(ref + FLOOR)[None], (1,) + p.shape[1:])
    return (np.concatenate([rel, absl]) / 8.0).astype(np.float16)

def load(data, split, first=None, cache=Path("/root/sf/hbcache"), keep_ex=True):
    model = load_model("stemforge-lite", "cpu"); preset = model.presets["draft"]
    out = []
    seen = {}
    for c in FullBandSource(Path(data), [split]):
        seen[c.track] = seen.get(c.track, 0) + 1
        if first and seen[c.track] > first:
            continue
        st = model_stems_for(model, c, preset, 0, cache)
        mix = stft_frames(c.mixture.astype(np.float64), N); S = stft_frames(st.astype(np.float64), N)
        T = stft_frames(c.stems.astype(np.float64), N)
        ex = make_example(c, st)  # for the shipped network's features
        out.append(dict(x=log_inputs(mix, S), mix=mix[:, BC:], stems=S[:, :, BC:], truth=T[:, :, BC:], ex=ex if keep_ex else None, track=c.track, chunk=c if keep_ex else None, st=st if keep_ex else None))
    return out

class CConv(nn.Module):
    def __init__(self, cin, cout, kt=3, kf=3, sf=1, df=1):
        super().__init__(); self.kt = kt
        self.conv = nn.Conv2d(cin, cout, (kt, kf), stride=(1, sf), padding=(0, df * (kf - 1) // 2), dilation=(1, df))
    def forward(self, x):
        return self.conv(F.pad(x, (0, 0, self.kt - 1, 0)))

class Net(nn.Module):
    def __init__(self, c0=16, c1=24, c2=32, cin=7):
        super().__init__()
        self.e0 = nn.Sequential(CConv(cin, c0, 3, 5), nn.GELU(), CConv(c0, c0), nn.GELU())
        self.e1 = nn.Sequential(CConv(c0, c1, 3, 4, 2), nn.GELU())
        self.e2 = nn.Sequential(CConv(c1, c2, 3, 4, 2), nn.GELU(), CConv(c2, c2, 3, 3, 1, 2), nn.GELU(), CConv(c2, c2, 3, 3, 1, 4), nn.GELU())
        self.d1 = nn.Sequential(CConv(c2 + c1, c1), nn.GELU())
        self.d0 = nn.Sequential(CConv(c1 + c0, c0), nn.GELU())
        self.out = nn.Conv2d(c0, 5, 1)
        nn.init.zeros_(self.out.weight); nn.init.zeros_(self.out.bias)
        with torch.no_grad(): self.out.bias[1] = 2.0  # start: the drums claim the high band
    def forward(self, x):  # x (B, 6, T, Fb)
        Fb = x.shape[-1]
        pos = torch.linspace(-1, 1, Fb).expand(x.shape[0], 1, x.shape[2], Fb)
        x = torch.cat([x, pos], 1)
        a = self.e0(x); b = self.e1(a); c = self.e2(b)
        c = F.interpolate(c, size=b.shape[-2:], mode="nearest")
        d = self.d1(torch.cat([c, b], 1))
        d = F.interpolate(d, size=a.shape[-2:], mode="nearest")
        d = self.d0(torch.cat([d, a], 1))
        return self.out(d)[..., BC - B0:]  # (B, 5, T, H) logits for bins >= BC

w_hi = torch.from_numpy(crossover_weights(np.fft.rfftfreq(N, 1 / 44100)[BC:], 11025.0, 0.9).astype(np.float32))

def assemble(shares, mix, stems, visible):
    """shares (4,T,H) for bins>=BC; mix (T,H), stems (4,T,H) -> outputs (4,T,H)."""
    return stems + w_hi * (shares * mix - stems)

FLOOR_W = 1e-3
def window_loss(out, tgt, mix, frames):
    cut = (out.shape[1] // frames) * frames
    def pw(x):
        e = x[:, :cut].abs().square(); return e.reshape(e.shape[0], -1, frames, e.shape[-1]).sum((-1, -2))
    fl = FLOOR_W * pw(mix[None])
    return (10 * torch.log10((pw(out - tgt) + fl) / (pw(tgt) + fl))).mean()

def train(net, exs, steps, lr, seed, hide=0.15, warm=16, log=None):
    torch.manual_seed(seed); rng = np.random.default_rng(seed)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=steps, pct_start=0.05)
    t0 = time.time(); losses = []
    step = -1
    while step + 1 < steps:
        ex = exs[rng.integers(len(exs))]
        Tn = ex["x"].shape[1]
        s = int(rng.integers(0, max(1, Tn - WIN - warm)))
        if OVERSAMPLE:
            e0 = BE - BC
            dsh = (np.abs(ex["truth"][1, s + warm:s + warm + WIN, e0:]) ** 2).sum() / ((np.abs(ex["mix"][s + warm:s + warm + WIN, e0:]) ** 2).sum() + 1e-20)
            if rng.random() > 0.2 + 0.8 * min(1.0, 4 * (1 - dsh)):
                continue
        sl = slice(s, s + warm + WIN)
        x = torch.from_numpy(ex["x"][:, sl].astype(np.float32))
        vis = rng.random(4) >= hide
        for i in range(4):
            if not vis[i]: x[1 + i] = np.log(FLOOR) / 8.0 - x[5]  # a hidden stem: zero power
        logits = net(x[None])[0][:, warm:]  # (5,T,H)
        sh = torch.softmax(logits, 0)[:4]
        sl2 = slice(s + warm, s + warm + WIN)
        mix = torch.from_numpy(ex["mix"][sl2]); st = torch.from_numpy(ex["stems"][:, sl2]); tr = torch.from_numpy(ex["truth"][:, sl2])
        k = torch.from_numpy(vis)
        out = assemble(sh[k], mix, st[k], vis)
        out = torch.cat([out, (mix - out.sum(0))[None]]); tgt = torch.cat([tr[k], (mix - tr[k].sum(0))[None]])
        e = BE - BC
        loss = window_loss(out[..., e:], tgt[..., e:], mix[..., e:], WIN)
        if CE_WEIGHT > 0:
            mags = torch.cat([tr.abs(), (mix - tr.sum(0)).abs()[None]])[..., e:]  # (5,T,H')
            q = mags / mags.sum(0, keepdim=True).clamp_min(1e-12)
            w = mix[..., e:].abs().square(); w = w / w.sum().clamp_min(1e-20)
            logp = torch.log_softmax(logits, 0)[..., e:]
            ce = -(q * logp).sum(0)
            loss = loss + CE_WEIGHT * (w * ce).sum()
        opt.zero_grad(); loss.backward(); nn.utils.clip_grad_norm_(net.parameters(), 5.0); opt.step(); sched.step()
        losses.append(loss.item()); step += 1
        if (step + 1) % 100 == 0:
            print(f"step {step+1} loss {np.mean(losses[-100:]):.3f} {time.time()-t0:.0f}s", flush=True)
    return losses

def si_sdr_windows(est, ref, frames):
    """est, ref (T,H) complex -> per-window SI-SDR (dB) array, and reference energies."""
    n = est.shape[0] // frames
    res = []; en = []
    for w in range(n):
        e = est[w * frames:(w + 1) * frames].reshape(-1); r = ref[w * frames:(w + 1) * frames].reshape(-1)
        rr = np.vdot(r, r).real
        a = np.vdot(r, e).real / (rr + 1e-12)
        t = a * r; d = e - t
        res.append(10 * np.log10((np.vdot(t, t).real + 1e-12) / (np.vdot(d, d).real + 1e-12))); en.append(rr)
    return np.array(res), np.array(en)

def proxy(exs, shares_fn, name):
    """Mean SI-SDRi of each stem's band above f_e, per 4 s window where the stem's high band
    holds at least 1e-4 of the mixture's (a stand-in for 'active')."""
    e = BE - BC
    gains = {i: [] for i in range(4)}
    for ex in exs:
        sh = shares_fn(ex)  # (4,T,H)
        out = ex["stems"] + w_hi.numpy() * (sh * ex["mix"][None] - ex["stems"])
        for i in range(4):
            s1, en = si_sdr_windows(out[i][:, e:], ex["truth"][i][:, e:], WIN)
            s0, _ = si_sdr_windows(ex["mix"][:, e:], ex["truth"][i][:, e:], WIN)
            _, em = si_sdr_windows(ex["mix"][:, e:], ex["mix"][:, e:], WIN)
            keep = en > 1e-4 * em
            gains[i] += list((s1 - s0)[keep])
    r = {k: float(np.mean(v)) if v else float("nan") for k, v in gains.items()}
    print(name, " ".join(f"{['bass','drums','guitar','piano'][k]} {v:.2f} (n={len(gains[k])})" for k, v in r.items()), flush=True)
    return r

def net_shares(net, warm=0):
    def f(ex):
        with torch.no_grad():
            lg = net(torch.from_numpy(ex["x"].astype(np.float32))[None])[0]
        return torch.softmax(lg, 0)[:4].numpy()
    return f

def shipped_shares(ex):
    m = masks_for(44100, DEFAULT_SETTINGS, load_network(Path("/work/main/resources/models/high-band.safetensors")))
    E = ex["ex"]
    feats = m.features(E.raw, E.smoothed, E.tiles, E.tiles_smoothed)
    with torch.no_grad():
        sh = torch.softmax(m.network(torch.from_numpy(feats)), -1).numpy()[0]  # (T,H,5)
    return np.moveaxis(sh[..., :4], -1, 0)

def oracle_shares(ex):
    a = np.abs(ex["truth"]); return a / (a.sum(0, keepdims=True) + 1e-12)


from core.audio.high_band import HighBandAssigner
from core.evaluation.protocol import PAPER_SETTINGS, ScoreTable, select_windows, window_si_sdri
from core.evaluation.full_band import _native_windows, high_pass, with_high_band

class NetMasks:
    """Mask maker wrapping the CNN; keeps the whole input history (trial only)."""
    def __init__(self, net, freqs, edge_hz, settings, frame_seconds):
        self.net = net; self.high = np.flatnonzero(freqs >= 0.9 * edge_hz); assert self.high[0] == BC
        self.hist = None
    def __call__(self, stems, mix):
        x = np.stack([log_inputs(mix[c], stems[c]) for c in range(mix.shape[0])]).astype(np.float32)
        T = x.shape[2]
        self.hist = x if self.hist is None else np.concatenate([self.hist, x], 2)
        with torch.no_grad():
            lg = self.net(torch.from_numpy(self.hist))[:, :, -T:]
        return torch.softmax(lg, 1)[:, :4].numpy()

def real_eval(exs, make_masks, name):
    """The full-band evaluation's high-band score (same windows, scoring, assigner)."""
    table = ScoreTable()
    for ex in exs:
        c = ex["chunk"]; st = ex["st"]
        windows = select_windows(torch.from_numpy(c.stems_model), PAPER_SETTINGS)
        if not windows.starts: continue
        wins, length = _native_windows(windows, c.rate, PAPER_SETTINGS)
        if make_masks is None:
            est = with_high_band(st, c.mixture, c.rate, "learned", MODEL)
        else:
            a = HighBandAssigner(c.rate, 1, 4, 11025.0, make_masks=make_masks)
            parts = [a.push(c.mixture[:, None].astype(np.float64), st.T[:, None, :].astype(np.float64))[1], a.finish()[1]]
            est = np.concatenate(parts)[:, 0, :].T
        hm, hs = high_pass(c.mixture, c.rate), high_pass(c.stems, c.rate)
        table.add(window_si_sdri(torch.from_numpy(high_pass(est, c.rate)), torch.from_numpy(hm), torch.from_numpy(hs), wins, length), windows.active)
    m = table.means("active")
    print(name, " ".join(f"{k} {v:.2f}" for k, v in m.items()), flush=True)
    return m

MODEL = None
OVERSAMPLE = False
CE_WEIGHT = 0.0

if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=1500); ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--train", default="fb44x:train:1,fb44r:train:1"); ap.add_argument("--val", default="fb44x:validation,fb44r:validation")
    ap.add_argument("--threads", type=int, default=2); ap.add_argument("--out", default="/root/sf/hb2/net.pt")
    ap.add_argument("--width", type=int, nargs=3, default=[16, 24, 32])
    ap.add_argument("--floor", type=float, default=1e-3); ap.add_argument("--oversample", action="store_true"); ap.add_argument("--ce", type=float, default=0.0)
    a = ap.parse_args()
    FLOOR_W = a.floor; OVERSAMPLE = a.oversample; CE_WEIGHT = a.ce
    torch.set_num_threads(a.threads)
    vals = {v: load(f"/root/sf/data/{v.split(':')[0]}", v.split(':')[1]) for v in a.val.split(",")}
    MODEL = load_model("stemforge-lite", "cpu")

    exs = []
    for t in a.train.split(","):
        d, s, f = t.split(":"); exs += load(f"/root/sf/data/{d}", s, int(f), keep_ex=False)
    print("train examples", len(exs), flush=True)
    net = Net(*a.width); print("params", sum(p.numel() for p in net.parameters()), flush=True)
    train(net, exs, a.steps, a.lr, 0)
    torch.save(net.state_dict(), a.out)
    net.eval()
    for k, v in vals.items():
        real_eval(v, lambda *args: NetMasks(net, *args), f"{k} cnn:")
