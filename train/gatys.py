"""`python -m train.gatys content.jpg style.jpg -o out.png`: stylize a still by optimizing its pixels (Gatys et al.).

Loss: alpha * L_content + beta * L_style (+ tv * TV) with the paper's normalisation
(content 1/2 sum of squares; style 1/(4 N^2 M^2) sum over Gram differences), on VGG activations
of RGB 0-255 images. The pixels are optimized with L-BFGS (default) or Adam.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from runtime.errors import InputError, StylecastError, cli_entry
from runtime.files import check_output_dir
from runtime.frames import IMAGE_SUFFIXES, from_nchw, preserve_color, read_image, resize_long_side, resize_to, to_nchw, write_image
from runtime.validate import Parser, float_range, int_range, non_negative_float, non_negative_int
from train import losses
from train.device import pick_device
from train.vgg import CAFFE, VGGFeatures, build_vgg, load_weights, validate_layers

# Layer presets: Gatys et al. (VGG19) and the seed report's VGG16 choice.
PRESETS: dict[str, dict[str, list[str]]] = {
    "vgg19": {"content": ["relu4_2"], "style": ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]},
    "vgg16": {"content": ["relu3_3"], "style": ["relu1_2", "relu2_2", "relu3_3", "relu4_3"]},
}
# beta for alpha = 1, per VGG input convention (Caffe features are ~60x larger, so Gram terms scale differently).
DEFAULT_STYLE_WEIGHT = {"torchvision": 1e6, "caffe": 1e1}


@dataclass
class StyleSpec:
    path: str
    weight: float


def parse_style(text: str) -> StyleSpec:
    """'a.jpg' or 'a.jpg:0.7' (the weight after the last colon)."""
    head, sep, tail = text.rpartition(":")
    if sep:
        try:
            weight = float(tail)
        except ValueError:
            return StyleSpec(text, 1.0)
        if weight <= 0:
            raise StylecastError(f"style weight must be positive in '{text}'")
        return StyleSpec(head, weight)
    return StyleSpec(text, 1.0)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = Parser(prog="python -m train.gatys", description=__doc__.splitlines()[0])
    p.add_argument("content", help="content image")
    p.add_argument("style_image", nargs="?", help="style image (or use --style, repeatable, PATH[:WEIGHT])")
    p.add_argument("-o", "--output", required=True, help="output image (.png, .jpg, ...)")
    p.add_argument("--style", action="append", default=[], metavar="PATH[:WEIGHT]", help="style image with blend weight; repeat to blend")
    p.add_argument("--size", type=int_range(1, 16384), default=512, help="long side of the output in pixels (default 512)")
    p.add_argument("--scales", type=int_range(1, 16384), nargs="+", help="coarse-to-fine long sides, e.g. 256 512 1024 (overrides --size)")
    p.add_argument("--iters", type=int_range(1, 100000), default=300, help="optimizer iterations per scale (default 300)")
    p.add_argument("--optimizer", choices=["lbfgs", "adam"], default="lbfgs")
    p.add_argument("--lr", type=float_range(0.0, 1e6, lo_open=True), help="step size (default: 1 for L-BFGS, 5 for Adam, in 0-255 pixel units)")
    p.add_argument("--content-weight", type=non_negative_float, default=1.0, help="alpha (default 1)")
    p.add_argument("--style-weight", type=non_negative_float, help="beta (default 1e6 for torchvision VGG weights, 1e1 for Caffe)")
    p.add_argument("--tv-weight", type=non_negative_float, default=0.0, help="weight of squared total variation (default 0)")
    p.add_argument("--net", choices=["vgg19", "vgg16"], default="vgg19")
    p.add_argument("--content-layers", nargs="+", help="default: relu4_2 (vgg19) / relu3_3 (vgg16)")
    p.add_argument("--style-layers", nargs="+", help="default: relu1_1..relu5_1 (vgg19) / relu1_2 relu2_2 relu3_3 relu4_3 (vgg16)")
    p.add_argument("--init", choices=["content", "noise", "style"], default="content")
    p.add_argument("--preserve-color", action="store_true", help="luminance-only transfer: keep the content's colours")
    p.add_argument("--vgg", help="local VGG weights (.pth/.safetensors); default $STYLECAST_VGG, else torchvision's URL")
    p.add_argument("--vgg-input", choices=["torchvision", "caffe"], help="input convention of --vgg (default: its metadata)")
    p.add_argument("--save-every", type=non_negative_int, default=0, metavar="K", help="also write OUT_iterK.png every K iterations")
    p.add_argument("--seed", type=non_negative_int, default=0)
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p.parse_args(argv)


def luminance_only(rgb: np.ndarray, like: np.ndarray | None = None) -> np.ndarray:
    """Grey (Y of YCrCb) as 3 channels; with `like`, Y's mean/std matched to like's Y (Gatys et al. 2016b)."""
    import cv2

    y = cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb)[..., 0].astype(np.float32)
    if like is not None:
        ly = cv2.cvtColor(like, cv2.COLOR_RGB2YCrCb)[..., 0].astype(np.float32)
        y = (y - y.mean()) / (y.std() + 1e-6) * ly.std() + ly.mean()
    y = np.clip(y + 0.5, 0, 255).astype(np.uint8)
    return np.repeat(y[..., None], 3, axis=2)


class GatysProblem:
    """Targets for one scale: content features and blended style Grams."""

    def __init__(self, vgg: VGGFeatures, content: np.ndarray, styles: list[tuple[np.ndarray, float]],
                 content_layers: list[str], style_layers: list[str], device: torch.device):
        self.vgg, self.device = vgg, device
        with torch.no_grad():
            c = vgg(self.tensor(content))
            self.content_targets = {l: c[l] for l in content_layers}
            feats = [vgg(self.tensor(s)) for s, _ in styles]
            self.grams = losses.style_targets(feats, [w for _, w in styles], style_layers)

    def tensor(self, rgb: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(to_nchw(rgb)).to(self.device)

    def loss(self, x: torch.Tensor, weights: losses.LossWeights) -> losses.LossTerms:
        return losses.perceptual_loss(self.vgg(x), x, self.content_targets, self.grams, {}, weights, losses.Normalisation.PAPER)


def optimize(problem: GatysProblem, x0: torch.Tensor, weights: losses.LossWeights, iters: int, optimizer: str,
             lr: float | None, on_iter=None, progress: bool = True, desc: str = "gatys") -> tuple[torch.Tensor, list[dict]]:
    """Run `iters` optimizer iterations on the pixels; returns the image and per-iteration losses."""
    x = x0.clone().requires_grad_(True)
    history: list[dict] = []
    if optimizer == "lbfgs":
        opt = torch.optim.LBFGS([x], lr=lr or 1.0, max_iter=1, history_size=50)
    else:
        opt = torch.optim.Adam([x], lr=lr or 5.0)
    last: dict = {}
    # Optimize the loss scaled so the initial pixel gradient has mean magnitude 1: L-BFGS's fixed
    # thresholds (curvature 1e-10, gradient 1e-7) and the first step then behave alike in any loss unit.
    (grad0,) = torch.autograd.grad(problem.loss(x, weights).total, x)
    scale = 1.0 / max(grad0.abs().mean().item(), 1e-30)

    def closure() -> torch.Tensor:
        opt.zero_grad(set_to_none=True)
        terms = problem.loss(x, weights)
        (terms.total * scale).backward()
        last.update(content=weights.content * terms.content.item(), style=weights.style * terms.style.item(),
                    tv=weights.tv * terms.tv.item(), total=terms.total.item())
        return terms.total.detach() * scale

    bar = tqdm(range(iters), desc=desc, unit="it", disable=not progress, dynamic_ncols=True)
    for i in bar:
        opt.step(closure)
        if not np.isfinite(last["total"]):
            raise StylecastError(f"loss became {last['total']} at iteration {i + 1}; lower --lr or the weights")
        history.append(dict(last))
        bar.set_postfix(content=f"{last['content']:.3g}", style=f"{last['style']:.3g}", total=f"{last['total']:.3g}")
        if on_iter:
            on_iter(i + 1, x.detach())
    bar.close()
    return x.detach(), history


def run(args: argparse.Namespace) -> dict:
    out = Path(args.output)
    if out.suffix.lower() not in IMAGE_SUFFIXES:
        raise InputError(f"output must be an image file ({', '.join(IMAGE_SUFFIXES)}), got {out.name}")
    check_output_dir(out)
    specs = [parse_style(s) for s in args.style]
    if args.style_image:
        specs.insert(0, StyleSpec(args.style_image, 1.0))
    if not specs:
        raise StylecastError("no style image: give one after the content image or with --style")
    if args.iters < 1:
        raise StylecastError("--iters must be >= 1")
    torch.manual_seed(args.seed)
    device = pick_device(args.device)
    content_rgb = read_image(args.content)
    style_rgbs = [(read_image(s.path), s.weight) for s in specs]

    preset = PRESETS[args.net]
    content_layers = validate_layers(args.net, args.content_layers or preset["content"])
    style_layers = validate_layers(args.net, args.style_layers or preset["style"])
    weights_file = load_weights(args.net, args.vgg, args.vgg_input)
    vgg = VGGFeatures(weights_file, content_layers + style_layers).to(device)
    beta = args.style_weight if args.style_weight is not None else DEFAULT_STYLE_WEIGHT[weights_file.convention]
    weights = losses.LossWeights(args.content_weight, beta, args.tv_weight)

    scales = args.scales or [args.size]
    for s in scales:
        small = resize_long_side(content_rgb, s)
        if min(small.shape[:2]) < vgg.min_size():
            raise StylecastError(f"size {s} gives a {small.shape[1]}x{small.shape[0]} image; the deepest layer needs >= {vgg.min_size()} px per side")

    x: torch.Tensor | None = None
    history: list[dict] = []
    for si, s in enumerate(scales):
        content = resize_long_side(content_rgb, s)
        h, w = content.shape[:2]
        styles = [(resize_long_side(rgb, s), wt) for rgb, wt in style_rgbs]
        if args.preserve_color:
            styles = [(luminance_only(rgb, content), wt) for rgb, wt in styles]
            content_in = luminance_only(content)
        else:
            content_in = content
        problem = GatysProblem(vgg, content_in, styles, content_layers, style_layers, device)
        if x is not None:
            x0 = torch.nn.functional.interpolate(x, size=(h, w), mode="bicubic", align_corners=False)
        elif args.init == "content":
            x0 = problem.tensor(content_in)
        elif args.init == "style":
            x0 = problem.tensor(resize_to(styles[0][0], h, w))
        else:
            x0 = torch.randn(1, 3, h, w, device=device) * 40 + 127.5

        def save_intermediate(i: int, img: torch.Tensor, scale=s) -> None:
            if args.save_every and i % args.save_every == 0:
                write_image(out.with_name(f"{out.stem}_{scale}px_iter{i:05d}{out.suffix}"), finish(img, content, args.preserve_color))

        x, hist = optimize(problem, x0, weights, args.iters, args.optimizer, args.lr, save_intermediate,
                           progress=not args.quiet, desc=f"gatys {w}x{h}")
        history += [{"scale": s, **r} for r in hist]
    write_image(out, finish(x, content, args.preserve_color))
    return {"output": str(out), "history": history, "initial": history[0], "final": history[-1]}


def finish(x: torch.Tensor, content: np.ndarray, keep_color: bool) -> np.ndarray:
    img = from_nchw(x.cpu().numpy())[0]
    return preserve_color(img, content) if keep_color else img


@cli_entry
def main(argv: list[str] | None = None) -> None:
    result = run(parse_args(argv))
    f, i = result["final"], result["initial"]
    print(f"wrote {result['output']}: total loss {i['total']:.4g} -> {f['total']:.4g} "
          f"(content {f['content']:.4g}, style {f['style']:.4g})")


if __name__ == "__main__":
    main()
