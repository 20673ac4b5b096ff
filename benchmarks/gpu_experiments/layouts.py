import time, statistics, torch
from train.transformer_net import TransformerNet
torch.backends.cudnn.benchmark = True
def t(fn, n=30):
    for _ in range(5): fn()
    torch.cuda.synchronize(); ts=[]
    for _ in range(n):
        a=time.perf_counter(); fn(); torch.cuda.synchronize(); ts.append(time.perf_counter()-a)
    return 1000*statistics.median(ts)
net = TransformerNet().cuda().eval()
for h, w in [(360, 640), (1080, 1920)]:
    for dt in (torch.float32, torch.float16, torch.bfloat16):
        for cl in (False, True):
            m = TransformerNet().cuda().eval().to(dt)
            x = torch.rand(1, 3, h, w, device='cuda', dtype=dt) * 255
            if cl: m = m.to(memory_format=torch.channels_last); x = x.contiguous(memory_format=torch.channels_last)
            with torch.no_grad():
                e = t(lambda: m(x))
                g = torch.cuda.CUDAGraph(); s = torch.cuda.Stream(); s.wait_stream(torch.cuda.current_stream())
                with torch.cuda.stream(s):
                    for _ in range(3): m(x)
                torch.cuda.current_stream().wait_stream(s)
                with torch.cuda.graph(g): y = m(x)
                gr = t(g.replay)
            print(f"{w}x{h} {str(dt)[6:]:8s} CL={cl!s:5s} eager {e:6.2f} ms  graph {gr:6.2f} ms", flush=True)
    # autocast variant on fp32 weights
    x = torch.rand(1, 3, h, w, device='cuda') * 255
    with torch.no_grad(), torch.autocast('cuda', dtype=torch.float16):
        print(f"{w}x{h} autocast fp16 eager {t(lambda: net(x)):6.2f} ms", flush=True)
with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA]) as prof:
    m = TransformerNet().cuda().eval().half().to(memory_format=torch.channels_last); x = (torch.rand(1,3,1080,1920,device='cuda')*255).half().contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        for _ in range(3): m(x)
    torch.cuda.synchronize()
print(prof.key_averages().table(sort_by="cuda_time_total", row_limit=12))
