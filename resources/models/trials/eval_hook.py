"""Run `stemforge eval` with the ratio mask replaced by the trial network (LM=path), else unchanged."""
import os, sys
sys.path.insert(0, "/root/sf/lm")
import torch
import core.hybrid
from net import MaskNet, FFT
path = os.environ.get("LM")
if path:
    st = torch.load(path)
    net = MaskNet(st["width"], st["depth"]); net.load_state_dict(st["net"]); net.eval()
    window = torch.hann_window(FFT)
    def learned(estimates, mixture, *a, **k):
        with torch.no_grad():
            return net(estimates.float(), mixture.float(), window).to(estimates.dtype)
    core.hybrid.ratio_mask_resynthesis = learned
from core.cli import main
sys.exit(main(sys.argv[1:]))
