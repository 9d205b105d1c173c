import sys, time, glob, os
import numpy as np, torch
sys.path.insert(0, "/root/sf/lm")
from net import MaskNet, FFT
torch.set_num_threads(int(os.environ.get("THREADS", "2")))
out, steps, width, depth, lr = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
files = sorted(glob.glob("/root/sf/lm/cache/train/*.npy"))
data = [np.load(f, mmap_mode="r") for f in files]
print(len(data), "chunks", flush=True)
torch.manual_seed(0); rng = np.random.default_rng(0)
net = MaskNet(width, depth); print(sum(p.numel() for p in net.parameters()), "params", flush=True)
opt = torch.optim.Adam(net.parameters(), lr)
window = torch.hann_window(FFT)
start = 0
if os.path.exists(out):
    st = torch.load(out); net.load_state_dict(st["net"]); opt.load_state_dict(st["opt"]); start = st["step"]
B, L = 6, 65536
def sdr(est, ref):
    return 10 * torch.log10((ref ** 2).sum(-1) / (((ref - est) ** 2).sum(-1) + 1e-8) + 1e-8)
t = time.time(); hist = []
for step in range(start, steps):
    batch = []
    for b in range(B):
        a = data[rng.integers(len(data))]; o = rng.integers(0, a.shape[1] - L)
        batch.append(np.asarray(a[:, o:o + L], dtype=np.float32))
    x = torch.from_numpy(np.stack(batch))
    est, ref, mix = x[:, :4], x[:, 4:8], x[:, 8]
    g = 1 / (mix.abs().amax(-1, keepdim=True) + 1e-4)  # level-normalise
    est, ref, mix = est * g[:, :, None] if False else est * g[..., None], ref * g[..., None], mix * g
    active = (ref ** 2).mean(-1) > 1e-6
    y = net(est, mix, window)
    loss = -(sdr(y, ref) * active).sum() / active.sum().clamp_min(1)
    opt.zero_grad(); loss.backward(); torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0); opt.step()
    hist.append(loss.item())
    if (step + 1) % 50 == 0:
        print(f"step {step+1} loss {np.mean(hist[-50:]):.3f} {time.time()-t:.0f}s", flush=True)
    if (step + 1) % 200 == 0 or step + 1 == steps:
        torch.save({"net": net.state_dict(), "opt": opt.state_dict(), "step": step + 1, "width": width, "depth": depth}, out)
