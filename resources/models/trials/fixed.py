"""Loss (mean active-stem SDR, 3 s crops) of a checkpoint vs the plain ratio mask on fixed crops of cached chunks."""
import sys, glob
sys.path.insert(0, "/root/sf/lm")
import numpy as np, torch
from net import MaskNet, FFT
from core.ratio_mask import ratio_mask_resynthesis
torch.set_num_threads(1)
files = sorted(glob.glob(sys.argv[2]))[:int(sys.argv[3])]
rng = np.random.default_rng(123); L = 65536; window = torch.hann_window(FFT)
st = torch.load(sys.argv[1]); net = MaskNet(st["width"], st["depth"]); net.load_state_dict(st["net"]); net.eval()
def sdr(est, ref):
    return 10 * torch.log10((ref ** 2).sum(-1) / (((ref - est) ** 2).sum(-1) + 1e-8) + 1e-8)
a_r, a_n, a_raw = [], [], []
for f in files:
    a = np.load(f, mmap_mode="r"); o = rng.integers(0, a.shape[1] - L)
    x = torch.from_numpy(np.asarray(a[:, o:o + L], dtype=np.float32))[None]
    est, ref, mix = x[:, :4], x[:, 4:8], x[:, 8]
    active = (ref ** 2).mean(-1) > 1e-6
    with torch.no_grad():
        for lst, y in ((a_raw, est), (a_r, ratio_mask_resynthesis(est, mix)), (a_n, net(est, mix, window))):
            lst.append(sdr(y, ref)[active])
print(f"step {st['step']}: raw {torch.cat(a_raw).mean():.3f} ratio {torch.cat(a_r).mean():.3f} net {torch.cat(a_n).mean():.3f}")
