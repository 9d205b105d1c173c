import sys
sys.argv, rest = sys.argv[:1], sys.argv[1:]
import numpy as np, torch
import trial
from trial import *
torch.set_num_threads(2)
net = Net(16, 24, 32); net.load_state_dict(torch.load(rest[0])); net.eval()
exs = load("/root/sf/data/fb44x", "train", 1, keep_ex=False)[:60]
e = BE - BC
res = {"alldrums": [], "cnn": [], "oracle": []}
comp = 0
for ex in exs:
    with torch.no_grad():
        cs = torch.softmax(net(torch.from_numpy(ex["x"].astype(np.float32))[None])[0], 0)[:4].numpy()
    a = np.abs(ex["truth"]); orc = a / (a.sum(0, keepdims=True) + 1e-12)
    ad = np.zeros_like(orc); ad[1] = 1
    for s0 in range(0, ex["mix"].shape[0] - WIN + 1, WIN):
        sl = slice(s0, s0 + WIN)
        dsh = (np.abs(ex["truth"][1, sl, e:])**2).sum() / ((np.abs(ex["mix"][sl, e:])**2).sum() + 1e-20)
        if dsh >= 0.75: continue
        comp += 1
        mix = torch.from_numpy(ex["mix"][sl]); st = torch.from_numpy(ex["stems"][:, sl]); tr = torch.from_numpy(ex["truth"][:, sl])
        for name, m in (("alldrums", ad), ("oracle", orc), ("cnn", cs)):
            sh = torch.from_numpy(m[:, sl].astype(np.float32))
            out = assemble(sh, mix, st, None); out = torch.cat([out, (mix - out.sum(0))[None]]); tgt = torch.cat([tr, (mix - tr.sum(0))[None]])
            pw = lambda x: (x[..., e:].abs() ** 2).sum((-1, -2))
            fl = 1e-3 * pw(mix[None])
            res[name].append((10 * torch.log10((pw(out - tgt) + fl) / (pw(tgt) + fl))).numpy())
print("competitive train windows", comp, "of", sum(ex["mix"].shape[0] // WIN for ex in exs))
for k, v in res.items():
    print(k, np.round(np.mean(v, 0), 2))
