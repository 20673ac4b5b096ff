import time, statistics, torch, torch.nn.functional as F
from torch import nn
from train.transformer_net import TransformerNet
torch.backends.cudnn.benchmark = True
def t(fn, n=30):
    for _ in range(5): fn()
    torch.cuda.synchronize(); ts=[]
    for _ in range(n):
        a=time.perf_counter(); fn(); torch.cuda.synchronize(); ts.append(time.perf_counter()-a)
    return 1000*statistics.median(ts)
class FastIN(nn.Module):
    def __init__(self, m): super().__init__(); self.weight, self.bias, self.eps = m.weight, m.bias, m.eps
    def forward(self, x):
        v, mu = torch.var_mean(x.float(), dim=(2, 3), keepdim=True, correction=0)
        scale = self.weight.float()[None, :, None, None] * torch.rsqrt(v + self.eps)
        shift = self.bias.float()[None, :, None, None] - mu * scale
        return torch.addcmul(shift.to(x.dtype), x, scale.to(x.dtype))
def swap(net):
    for name, mod in list(net.named_modules()):
        if isinstance(mod, nn.InstanceNorm2d):
            parent = net.get_submodule(name.rpartition('.')[0]) if '.' in name else net
            setattr(parent, name.rpartition('.')[2], FastIN(mod))
    return net
def graph(m, x):
    g = torch.cuda.CUDAGraph(); s = torch.cuda.Stream(); s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        for _ in range(3): m(x)
    torch.cuda.current_stream().wait_stream(s)
    with torch.cuda.graph(g): y = m(x)
    return g, y
ref = TransformerNet().cuda().eval()
for p in ref.parameters(): p.data.normal_(0, 0.05) if p.dim() > 1 else None
for h, w in [(360, 640), (1080, 1920)]:
    x32 = torch.rand(1, 3, h, w, device='cuda') * 255
    with torch.no_grad():
        y32 = ref(x32)
        for label, m in [("fp16 IN", TransformerNet().cuda().eval().half()), ("fp16 fastIN", swap(TransformerNet().cuda().eval()).half())]:
            m.load_state_dict(ref.state_dict()); m.half()
            x = x32.half()
            g, y = graph(m, x)
            err = (y.float() - y32).abs().max().item()
            print(f"{w}x{h} {label:12s} graph {t(g.replay):6.2f} ms  maxerr {err:.3f}", flush=True)
        m = swap(TransformerNet().cuda().eval()); m.load_state_dict(ref.state_dict()); m.half()
        t0 = time.time(); c = torch.compile(m, mode="max-autotune-no-cudagraphs" if False else "default")
        c(x32.half()); print(f"compile {time.time()-t0:.0f}s", flush=True)
        g, y = graph(c, x32.half())
        print(f"{w}x{h} compiled fp16 graph {t(g.replay):6.2f} ms maxerr {(y.float()-y32).abs().max().item():.3f}", flush=True)
