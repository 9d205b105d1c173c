"""Trial: a learned post-filter mask (refines the ratio mask of core/ratio_mask.py), starts exactly at it."""
import torch
from torch import nn
FFT, HOP = 2048, 512
EPS = 1e-8

def stft(x, window):
    """(..., L) -> (..., F, T) complex."""
    shape = x.shape
    s = torch.stft(x.reshape(-1, shape[-1]), FFT, HOP, window=window, center=True, return_complex=True)
    return s.reshape(*shape[:-1], *s.shape[-2:])

class MaskNet(nn.Module):
    def __init__(self, width=16, depth=4, delta=1e-3):
        super().__init__()
        self.delta = delta
        layers = [nn.Conv2d(11, width, 3, padding=1), nn.GELU()]
        for k in range(depth - 1):
            d = 2 ** (k + 1)
            layers += [nn.Conv2d(width, width, 3, padding=d, dilation=d), nn.GELU()]
        self.body = nn.Sequential(*layers)
        self.head = nn.Conv2d(width, 5, 1)
        nn.init.zeros_(self.head.weight); nn.init.zeros_(self.head.bias)

    def masks(self, Y, X):
        """Y (N, S=4, F, T), X (N, F, T) complex -> masks (N, 4, F, T) and the ratio masks."""
        mag, xm = Y.abs(), X.abs()
        claimed = mag.sum(1)
        total = torch.maximum(claimed, xm)
        m0 = torch.cat([mag, (xm - claimed).clamp_min(0)[:, None]], 1) / (total[:, None] + EPS)  # (N,5,F,T)
        level = xm.mean((1, 2), keepdim=True) + EPS
        F_ = X.shape[1]
        freq = torch.linspace(-1, 1, F_, device=X.device)[None, None, :, None].expand(X.shape[0], 1, F_, X.shape[2])
        feats = torch.cat([
            (torch.log(mag + EPS) - torch.log(xm + EPS)[:, None]).clamp(-10, 5) / 4,
            (torch.log(xm + EPS) - torch.log(level))[:, None].clamp(-15, 5) / 4,
            torch.log(m0 + self.delta) / 4, freq], 1)
        logits = torch.log(m0 + self.delta) + self.head(self.body(feats))
        return torch.softmax(logits, 1)[:, :4], m0[:, :4]

    def forward(self, est, mix, window):
        """est (N, 4, L), mix (N, L) -> (N, 4, L)."""
        Y, X = stft(est, window), stft(mix, window)
        m, _ = self.masks(Y, X)
        out = torch.istft((m * X[:, None]).reshape(-1, *X.shape[1:]), FFT, HOP, window=window, center=True,
                          length=est.shape[-1])
        return out.reshape(est.shape)
