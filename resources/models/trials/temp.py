import sys, torch, numpy as np
sys.argv, rest = sys.argv[:1], sys.argv[1:]
import trial
from trial import *
torch.set_num_threads(2)
net = Net(16, 24, 32); net.load_state_dict(torch.load(rest[0])); net.eval()
class Scaled(nn.Module):
    def __init__(self, n, s): super().__init__(); self.n, self.s = n, s
    def forward(self, x): return self.n(x) * self.s
for v in rest[1].split(","):
    d, s = v.split(":"); exs = load(f"/root/sf/data/{d}", s)
    for sc in [float(x) for x in rest[2].split(",")]:
        m = Scaled(net, sc)
        real_eval(exs, lambda *args: NetMasks(m, *args), f"{v} x{sc}:")
