"""train.multistyle: slots folded into plain nets, exact resume, the stability term, export and user errors."""
import json

import pytest
import torch
import torch.nn.functional as F

from train import multistyle
from train.model_io import load_style_model
from tests.conftest import assert_user_error, run_cli

SMALL = {"variant": "johnson", "channels": [8, 16, 32], "residual_blocks": 2}


def _randomise_norms(net: multistyle.MultiStyleNet) -> None:
    with torch.no_grad():
        for n in net.norms:
            n.weight.uniform_(0.5, 1.5)
            n.bias.uniform_(-0.3, 0.3)


def test_a_folded_slot_is_exactly_the_multistyle_net_for_that_slot():
    torch.manual_seed(0)
    net = multistyle.MultiStyleNet(3, arch=SMALL).eval()
    _randomise_norms(net)
    x = torch.rand(2, 3, 32, 40) * 255
    with torch.no_grad():
        for i in range(3):
            mix = F.one_hot(torch.tensor([i, i]), 3).float()
            torch.testing.assert_close(net.fold(mix[0])(x), net(x, mix), rtol=1e-5, atol=1e-4)
        blend = torch.tensor([0.6, 0.4, 0.0])  # interpolated norm parameters: a style blend
        torch.testing.assert_close(net.fold(blend)(x), net(x, blend.expand(2, 3)), rtol=1e-5, atol=1e-4)
        assert not torch.allclose(net.fold(blend)(x), net.fold(torch.tensor([1.0, 0, 0]))(x))


def _plan(tmp_path, style_png, stability: float = 0.0, slots: int = 2, **extra) -> str:
    plan = {**extra, "slots": [{"name": f"s{i}", "style": str(style_png), "style_weight": 1e9 * (i + 1), "style_size": 64,
                       "stability_weight": stability} for i in range(slots)],
            "image_size": 32, "batch_per_slot": 1, "max_shift": 2,
            "content_layers": ["relu2_2"], "style_layers": ["relu1_2", "relu2_2"]}
    path = tmp_path / f"plan_{stability}.json"
    path.write_text(json.dumps(plan))
    return str(path)


def _train(argv):
    return multistyle.train(multistyle.parse_args(["train", *argv, "--precision", "fp32", "--log-every", "100"]))


@pytest.mark.parametrize("subpixel", [False, True])
def test_resume_gives_bit_identical_weights(tmp_path, photo_dir, style_png, random_vgg16, subpixel):
    plan = _plan(tmp_path, style_png, stability=10.0, subpixel_shift=subpixel)
    common = ["--data", str(photo_dir), "--steps", "4", "--vgg", str(random_vgg16), "--device", "cpu"]
    assert _train(["--plan", plan, "--workdir", str(tmp_path / "a"), *common])
    assert not _train(["--plan", plan, "--workdir", str(tmp_path / "b"), *common, "--stop-after", "2"])
    assert _train(["--workdir", str(tmp_path / "b"), *common, "--resume"])
    a = torch.load(tmp_path / "a" / multistyle.CKPT, weights_only=False)["model"]
    b = torch.load(tmp_path / "b" / multistyle.CKPT, weights_only=False)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_export_writes_loadable_single_style_nets(tmp_path, photo_dir, style_png, random_vgg16):
    work = tmp_path / "w"
    _train(["--plan", _plan(tmp_path, style_png), "--workdir", str(work), "--data", str(photo_dir), "--steps", "2",
            "--vgg", str(random_vgg16), "--device", "cpu"])
    multistyle.export_slots(multistyle.parse_args(["export", "--workdir", str(work), "--slot", "second=s1", "--out-dir", str(tmp_path / "nets")]))
    net, card = load_style_model(tmp_path / "nets" / "second.safetensors")
    assert card["name"] == "second" and card["hyperparameters"]["slot"] == "s1" and card["steps"] == 2
    ms = multistyle.net_from_checkpoint(multistyle.load_checkpoint(work))
    x = torch.rand(1, 3, 32, 32) * 255
    with torch.no_grad():
        torch.testing.assert_close(net(x), ms(x, torch.tensor([[0.0, 1.0]])), rtol=1e-2, atol=0.5)  # fp16 weights


def test_a_continued_run_carries_every_phase_to_the_model_card(tmp_path, photo_dir, style_png, random_vgg16):
    common = ["--data", str(photo_dir), "--vgg", str(random_vgg16), "--device", "cpu"]
    _train(["--plan", _plan(tmp_path, style_png), "--workdir", str(tmp_path / "a"), "--steps", "2", *common])
    one = _plan(tmp_path, style_png, slots=1, stability=1.0)
    _train(["--plan", one, "--workdir", str(tmp_path / "b"), "--steps", "3", "--init", str(tmp_path / "a"), *common])
    _train(["--plan", one, "--workdir", str(tmp_path / "c"), "--steps", "1", "--init", str(tmp_path / "b"), *common])
    export = ["export", "--workdir", str(tmp_path / "c"), "--slot", "x=s0", "--out-dir", str(tmp_path / "nets")]
    multistyle.export_slots(multistyle.parse_args(export))
    _, card = load_style_model(tmp_path / "nets" / "x.safetensors")
    assert [p["steps"] for p in card["schedule"]] == [2, 3, 1] and card["steps"] == 6
    assert list(card["schedule"][0]["slots"]) == ["s0", "s1"] and list(card["schedule"][1]["slots"]) == ["s0"]
    assert card["hyperparameters"]["steps"] == 1 and card["data"].endswith("(8 photos)")
    # weights that lost their history (moved at reduced precision) get it back from a file
    history = tmp_path / "history.json"
    history.write_text(json.dumps([{"steps": 1927, "training_minutes": 3.7, "hardware": "H100"}]))
    multistyle.export_slots(multistyle.parse_args([*export, "--history", str(history)]))
    _, card = load_style_model(tmp_path / "nets" / "x.safetensors")
    assert [p["steps"] for p in card["schedule"]] == [1927, 1] and card["steps"] == 1928
    history.write_text('[{"minutes": 3}]')
    assert_user_error(run_cli("train.multistyle", *export, "--history", str(history)), "--history")


def test_a_run_from_a_pytorch_examples_net_records_it_as_its_first_phase(tmp_path, photo_dir, style_png, random_vgg16):
    from train.transformer_net import TransformerNet

    torch.save(TransformerNet().state_dict(), tmp_path / "foreign.pth")  # no card: steps and time unknown
    _train(["--plan", _plan(tmp_path, style_png, slots=1), "--workdir", str(tmp_path / "w"), "--steps", "1",
            "--init", str(tmp_path / "foreign.pth"), "--data", str(photo_dir), "--vgg", str(random_vgg16), "--device", "cpu"])
    multistyle.export_slots(multistyle.parse_args(["export", "--workdir", str(tmp_path / "w"), "--slot", "x=s0",
                                                    "--out-dir", str(tmp_path / "nets")]))
    _, card = load_style_model(tmp_path / "nets" / "x.safetensors")
    assert card["schedule"][0]["single_style"] == "foreign" and card["schedule"][0]["steps"] is None
    assert card["steps"] == 1 and card["schedule"][1]["steps"] == 1


def test_init_from_a_single_style_net_of_another_kind_is_a_one_line_error(tmp_path, photo_dir, style_png, random_vgg16):
    from train.transformer_net import LiteTransformerNet

    torch.save(LiteTransformerNet().state_dict(), tmp_path / "lite.pth")  # a lite net into the plan's Johnson net
    proc = run_cli("train.multistyle", "train", "--plan", _plan(tmp_path, style_png, slots=1), "--workdir", str(tmp_path / "w"),
                   "--steps", "1", "--init", str(tmp_path / "lite.pth"), "--data", str(photo_dir), "--vgg", str(random_vgg16))
    assert_user_error(proc, "--init: 'conv1.conv2d.weight' is (16, 3, 5, 5) in the single-style net")


def test_stability_term_lowers_the_output_change_under_noise_and_shift(tmp_path, photo_dir, style_png, random_vgg16):
    """Same run twice, with and without the term; the trained nets' outputs for shifted noisy crops differ less with it."""
    common = ["--data", str(photo_dir), "--steps", "40", "--vgg", str(random_vgg16), "--device", "cpu"]
    _train(["--plan", _plan(tmp_path, style_png, 0.0, slots=1), "--workdir", str(tmp_path / "off"), *common])
    _train(["--plan", _plan(tmp_path, style_png, 2000.0, slots=1), "--workdir", str(tmp_path / "on"), *common])
    pack = multistyle.PhotoPack(photo_dir, 32, 2, torch.device("cpu"))
    gen = torch.Generator().manual_seed(123)
    xa, xb, shifts = pack.pairs(16, gen, 2)
    xb = (xb + 4.0 * torch.randn(xb.shape, generator=gen)).clamp(0, 255)
    change = {}
    for name in ("off", "on"):
        net = multistyle.net_from_checkpoint(multistyle.load_checkpoint(tmp_path / name))
        mix = torch.ones(16, 1)
        with torch.no_grad():
            change[name] = float(multistyle.overlap_difference(net(xa, mix), net(xb, mix), shifts, margin=4))
    assert change["on"] < 0.7 * change["off"], change


def test_fractional_shift_moves_a_ramp_by_the_fraction():
    ramp = torch.arange(10.0).view(1, 1, 10, 1) * 3 + torch.arange(10.0).view(1, 1, 1, 10)  # 3/px down, 1/px right
    two = torch.cat([ramp, ramp])
    out = multistyle.fractional_shift(two, torch.tensor([[0.0, 0.0], [0.25, 0.5]]))
    assert torch.equal(out[0], ramp[0])
    torch.testing.assert_close(out[1, :, :-1, :-1], ramp[0, :, :-1, :-1] + 0.75 + 0.5)


def test_subpixel_overlap_difference_is_zero_for_a_shift_equivariant_map(photo_dir):
    """y = x commutes with any shift: with the fractions the difference vanishes; ignoring them it does not."""
    pack = multistyle.PhotoPack(photo_dir, 32, 2, torch.device("cpu"))
    xa, xb, shifts = pack.pairs(8, torch.Generator().manual_seed(5), 2)
    fractions = torch.rand((8, 2), generator=torch.Generator().manual_seed(6)) * 0.8 + 0.1
    xb = multistyle.fractional_shift(xb, fractions)
    assert float(multistyle.overlap_difference(xa, xb, shifts, margin=4, fractions=fractions)) < 1e-6
    assert float(multistyle.overlap_difference(xa, xb, shifts, margin=4)) > 1.0


def test_plan_errors_are_one_line(tmp_path, photo_dir, style_png):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"slots": [{"name": "x", "style": str(tmp_path / "missing.jpg")}]}))
    proc = run_cli("train.multistyle", "train", "--plan", str(bad), "--data", str(photo_dir), "--workdir", str(tmp_path / "w"), "--steps", "1")
    assert_user_error(proc, "style image not found")
    bad.write_text("{not json")
    proc = run_cli("train.multistyle", "train", "--plan", str(bad), "--data", str(photo_dir), "--workdir", str(tmp_path / "w"), "--steps", "1")
    assert_user_error(proc, "not a valid plan")


def test_fitted_steps_end_the_schedule_inside_the_time_limit():
    # 30 timed steps took 3.75 s (0.125 s each), 10 s gone of a 100 s limit: 98 - 10 - 0.375 s left = 701 more steps
    assert multistyle._fitted_steps(5000, 40, t_warm=6.25, now=10.0, t_start=0.0, time_limit=100.0) == 40 + 701
    assert multistyle._fitted_steps(500, 40, t_warm=6.25, now=10.0, t_start=0.0, time_limit=100.0) == 500  # never more than asked
    assert multistyle._fitted_steps(5000, 40, t_warm=7.0, now=99.0, t_start=0.0, time_limit=100.0) == 41  # out of time: finish now
    # the second window: 100 steps in 25 s (0.25 s each), 40 s gone: 98 - 40 - 0.75 s left = 229 more steps
    assert multistyle._fitted_steps(5000, 200, t_warm=15.0, now=40.0, t_start=0.0, time_limit=100.0, timed_steps=100) == 200 + 229


def test_fit_schedule_completes_the_run_with_its_learning_rate_decay(tmp_path, photo_dir, style_png, random_vgg16, monkeypatch):
    monkeypatch.setattr(multistyle, "FIT_WARMUP", 1)
    monkeypatch.setattr(multistyle, "FIT_AFTER", 2)
    monkeypatch.setattr(multistyle, "_fitted_steps", lambda steps, step, *a: 5)
    work = tmp_path / "fit"
    assert _train(["--plan", _plan(tmp_path, style_png), "--workdir", str(work), "--data", str(photo_dir), "--steps", "1000",
                   "--vgg", str(random_vgg16), "--device", "cpu", "--time-limit", "3600", "--fit-schedule"])
    ckpt = torch.load(work / multistyle.CKPT, weights_only=False)
    assert ckpt["step"] == 5
    base = json.loads((tmp_path / "plan_0.0.json").read_text()).get("lr", multistyle.Plan.lr)
    assert abs(ckpt["optimizer"]["param_groups"][0]["lr"] - 0.1 * base) < 1e-12  # the cosine decay reached its floor


@pytest.mark.parametrize("first, second, final", [(50, 8, 8), (6, 3, 6)])
def test_fit_schedule_refits_while_the_learning_rate_is_still_constant(tmp_path, photo_dir, style_png, random_vgg16, monkeypatch,
                                                                       first, second, final):
    """The second timing replaces the first fit (50 -> 8), unless the decay has begun under it (step 3 of 3: kept 6)."""
    monkeypatch.setattr(multistyle, "FIT_WARMUP", 1)
    monkeypatch.setattr(multistyle, "FIT_AFTER", 2)
    monkeypatch.setattr(multistyle, "REFIT_AT", 0.0)  # the second timing closes at the next step
    calls = []

    def fitted(steps, step, *a, timed_steps=None):
        calls.append((step, timed_steps))
        return first if timed_steps is None else second
    monkeypatch.setattr(multistyle, "_fitted_steps", fitted)
    work = tmp_path / "refit"
    assert _train(["--plan", _plan(tmp_path, style_png), "--workdir", str(work), "--data", str(photo_dir), "--steps", "1000",
                   "--vgg", str(random_vgg16), "--device", "cpu", "--time-limit", "3600", "--fit-schedule"])
    ckpt = torch.load(work / multistyle.CKPT, weights_only=False)
    assert calls == [(2, None), (3, 1)]  # fitted at FIT_AFTER, refitted once over the step since
    assert ckpt["step"] == final
    base = json.loads((tmp_path / "plan_0.0.json").read_text()).get("lr", multistyle.Plan.lr)
    assert abs(ckpt["optimizer"]["param_groups"][0]["lr"] - 0.1 * base) < 1e-12  # and the decay still ended at its floor


def test_fit_schedule_needs_a_time_limit(tmp_path, photo_dir, style_png):
    proc = run_cli("train.multistyle", "train", "--plan", _plan(tmp_path, style_png), "--workdir", str(tmp_path / "w"),
                   "--data", str(photo_dir), "--steps", "3", "--fit-schedule")
    assert_user_error(proc, "--time-limit")


def test_relative_style_loss_is_the_metrics_style_distance():
    from train import losses
    from train.quality import QualityMeter

    torch.manual_seed(0)
    style_feat, out_feat = torch.rand(1, 6, 9, 11) * 3, torch.rand(2, 6, 8, 8)
    grams = {"relu4_3": losses.gram_per_position(style_feat)}
    plan = multistyle.Plan(slots=[multistyle.Slot("s", "s.jpg")], style_normalisation="relative")
    loss = multistyle.style_term(plan, out_feat, grams["relu4_3"].expand(2, 6, 6))
    g_style = QualityMeter.gram(style_feat)
    metric = [float(torch.linalg.norm(QualityMeter.gram(out_feat[i: i + 1]) - g_style) / torch.linalg.norm(g_style)) for i in range(2)]
    torch.testing.assert_close(loss, torch.tensor(metric), rtol=1e-4, atol=0)
    absolute = multistyle.Plan(slots=plan.slots)
    torch.testing.assert_close(multistyle.style_term(absolute, out_feat, grams["relu4_3"].expand(2, 6, 6)),
                               multistyle.per_item_style(out_feat, grams["relu4_3"].expand(2, 6, 6)))


def test_rms_content_loss_is_the_metrics_content_distance():
    torch.manual_seed(0)
    out_feat, photo_feat = torch.rand(2, 6, 8, 8), torch.rand(2, 6, 8, 8)
    plan = multistyle.Plan(slots=[multistyle.Slot("s", "s.jpg")], content_distance="rms")
    metric = [float(torch.linalg.norm(out_feat[i] - photo_feat[i]) / out_feat[i].numel() ** 0.5) for i in range(2)]
    torch.testing.assert_close(multistyle.content_term(plan, out_feat, photo_feat), torch.tensor(metric), rtol=1e-5, atol=0)
    mse = multistyle.Plan(slots=plan.slots)
    torch.testing.assert_close(multistyle.content_term(mse, out_feat, photo_feat), torch.tensor(metric) ** 2, rtol=1e-5, atol=0)


def test_an_unknown_content_distance_is_a_plan_error(tmp_path, photo_dir, style_png):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"slots": [{"name": "x", "style": str(style_png)}], "content_distance": "l1"}))
    proc = run_cli("train.multistyle", "train", "--plan", str(bad), "--data", str(photo_dir), "--workdir", str(tmp_path / "w"), "--steps", "1")
    assert_user_error(proc, "content_distance")


def test_an_unknown_style_normalisation_is_a_plan_error(tmp_path, photo_dir, style_png):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"slots": [{"name": "x", "style": str(style_png)}], "style_normalisation": "loud"}))
    proc = run_cli("train.multistyle", "train", "--plan", str(bad), "--data", str(photo_dir), "--workdir", str(tmp_path / "w"), "--steps", "1")
    assert_user_error(proc, "style_normalisation")


def test_a_plan_arch_grows_a_trained_net_without_changing_its_output(tmp_path, photo_dir, style_png, random_vgg16):
    common = ["--data", str(photo_dir), "--vgg", str(random_vgg16), "--device", "cpu"]
    small = _plan(tmp_path, style_png, variant="lite", arch={"channels": [8, 16, 16], "residual_blocks": 1})
    _train(["--plan", small, "--workdir", str(tmp_path / "a"), "--steps", "2", *common])
    src = multistyle.net_from_checkpoint(multistyle.load_checkpoint(tmp_path / "a"))
    _randomise_norms(src)  # trained norms are near 1/0 after 2 steps; make the copy test bite
    torch.save({**multistyle.load_checkpoint(tmp_path / "a"), "model": src.state_dict()}, tmp_path / "a" / multistyle.WEIGHTS)
    (tmp_path / "a" / multistyle.CKPT).unlink(missing_ok=True)
    big = json.loads(open(small).read())
    big["arch"] = {"channels": [8, 24, 32], "residual_blocks": 3}
    big["slots"] = big["slots"][::-1]  # slots mapped by name, in another order
    (tmp_path / "big.json").write_text(json.dumps(big))
    grown = multistyle.MultiStyleNet(2, "lite", multistyle.Plan.load(tmp_path / "big.json").net_arch())
    multistyle._init_from(grown, str(tmp_path / "a"), multistyle.Plan.load(tmp_path / "big.json"))
    assert grown.body.arch() == {"variant": "lite", "channels": [8, 24, 32], "residual_blocks": 3}
    x = torch.rand(2, 3, 32, 48) * 255
    with torch.no_grad():
        for i in range(2):
            mix = F.one_hot(torch.tensor([i, i]), 2).float()
            torch.testing.assert_close(grown.eval()(x, mix.flip(1)), src(x, mix), rtol=1e-4, atol=1e-3)
    _train(["--plan", str(tmp_path / "big.json"), "--workdir", str(tmp_path / "b"), "--steps", "2", "--init", str(tmp_path / "a"), *common])
    trained = multistyle.net_from_checkpoint(multistyle.load_checkpoint(tmp_path / "b"))
    assert trained.body.arch()["channels"] == [8, 24, 32]
    # the old channels' zero reads of the new ones have started to learn
    assert float(trained.state_dict()["body.deconv1.conv2d.weight"][:16, 16:].abs().sum()) > 0
    # shrinking is refused in one line
    big["arch"] = {"channels": [8, 8, 16], "residual_blocks": 1}
    (tmp_path / "shrink.json").write_text(json.dumps(big))
    proc = run_cli("train.multistyle", "train", "--plan", str(tmp_path / "shrink.json"), "--workdir", str(tmp_path / "c"), "--steps", "1",
                   "--init", str(tmp_path / "a"), *common)
    assert_user_error(proc, "may only widen or deepen")


def test_a_refinement_stage_grows_a_lite_net_without_changing_its_output_then_learns(tmp_path, photo_dir, style_png, random_vgg16):
    common = ["--data", str(photo_dir), "--vgg", str(random_vgg16), "--device", "cpu"]
    arch = {"channels": [8, 16, 16], "residual_blocks": 1}
    small = _plan(tmp_path, style_png, variant="lite", arch=arch)
    _train(["--plan", small, "--workdir", str(tmp_path / "a"), "--steps", "2", *common])
    src = multistyle.net_from_checkpoint(multistyle.load_checkpoint(tmp_path / "a"))
    big = {**json.loads(open(small).read()), "arch": {**arch, "refine": [2, 4]}}
    (tmp_path / "big.json").write_text(json.dumps(big))
    plan = multistyle.Plan.load(tmp_path / "big.json")
    grown = multistyle.MultiStyleNet(2, "lite", plan.net_arch())
    multistyle._init_from(grown, str(tmp_path / "a"), plan)
    x = torch.rand(2, 3, 32, 48) * 255
    mix = F.one_hot(torch.tensor([1, 1]), 2).float()
    with torch.no_grad():
        torch.testing.assert_close(grown.eval()(x, mix), src(x, mix), rtol=1e-4, atol=1e-3)
    _train(["--plan", str(tmp_path / "big.json"), "--workdir", str(tmp_path / "b"), "--steps", "3", "--init", str(tmp_path / "a"), *common])
    trained = multistyle.net_from_checkpoint(multistyle.load_checkpoint(tmp_path / "b"))
    assert trained.body.arch()["refine"] == [2, 4]
    assert float(trained.state_dict()["body.refine2.conv2d.weight"].abs().sum()) > 0  # the stage has started to learn
    folded = trained.fold([1.0, 0.0])
    assert "refine1.conv2d.weight" in folded.state_dict() and folded.arch()["refine"] == [2, 4]
    # a refinement stage on a Johnson net is a one-line plan error
    (tmp_path / "johnson.json").write_text(json.dumps({**big, "variant": "johnson"}))
    proc = run_cli("train.multistyle", "train", "--plan", str(tmp_path / "johnson.json"), "--workdir", str(tmp_path / "c"), "--steps", "1",
                   *common)
    assert_user_error(proc, "lite nets only")


def test_lite_training_scores_the_top_left_of_a_larger_crop(tmp_path, photo_dir, style_png, random_vgg16, monkeypatch):
    from runtime.stylizer import LITE_BORDER_MARGIN

    assert multistyle.Plan(slots=[], variant="lite", image_size=256).context_size() == 256 + LITE_BORDER_MARGIN
    assert multistyle.Plan(slots=[], variant="johnson", image_size=256).context_size() == 256
    assert multistyle.Plan(slots=[], variant="lite", image_size=256, border_margin=0).context_size() == 256
    assert multistyle.Plan(slots=[], variant="lite", image_size=60, border_margin=5).context_size() == 72  # to a multiple of 8
    seen = {"net": [], "style": []}
    forward, style_term = multistyle.MultiStyleNet.forward, multistyle.style_term
    monkeypatch.setattr(multistyle.MultiStyleNet, "forward", lambda self, x, mix: seen["net"].append(x.shape[-2:]) or forward(self, x, mix))
    monkeypatch.setattr(multistyle, "style_term", lambda plan, f, t: seen["style"].append(f.shape[-2:]) or style_term(plan, f, t))
    plan = json.loads(open(_plan(tmp_path, style_png, slots=1, stability=1.0)).read())
    plan.update(variant="lite", arch={"channels": [4, 8, 8], "residual_blocks": 1}, image_size=32)
    (tmp_path / "lite.json").write_text(json.dumps(plan))
    _train(["--plan", str(tmp_path / "lite.json"), "--steps", "1", "--workdir", str(tmp_path / "w"), "--data", str(photo_dir),
            "--vgg", str(random_vgg16), "--device", "cpu"])
    # the net ran on 32 + 24 px crops of the photo; the losses saw its top-left 32 px (relu1_2 is full resolution)
    assert seen["net"][0] == (56, 56) and seen["style"][0] == (32, 32)


def test_four_sided_margin_scores_the_centre_and_tells_the_runtime(tmp_path, photo_dir, style_png, random_vgg16, monkeypatch):
    import train.vgg
    from runtime.stylizer import border_margins

    assert multistyle.Plan(slots=[], variant="lite", image_size=256, border_sides="all").context_size() == 256 + 2 * 24
    assert multistyle.Plan(slots=[], variant="lite", image_size=60, border_margin=5, border_sides="all").context_size() == 72
    assert multistyle.Plan(slots=[], variant="lite", image_size=256).card_border() == {}
    net_in, vgg_in = [], []
    forward, build_vgg = multistyle.MultiStyleNet.forward, train.vgg.build_vgg

    def recording_vgg(*a, **k):
        vgg = build_vgg(*a, **k)
        inner = vgg.forward
        vgg.forward = lambda x: vgg_in.append(x.detach().clone()) or inner(x)
        return vgg

    monkeypatch.setattr(multistyle.MultiStyleNet, "forward", lambda self, x, mix: net_in.append(x.detach().clone()) or forward(self, x, mix))
    monkeypatch.setattr(train.vgg, "build_vgg", recording_vgg)
    plan = json.loads(open(_plan(tmp_path, style_png, slots=1)).read())
    plan.update(variant="lite", arch={"channels": [4, 8, 8], "residual_blocks": 1}, image_size=32, border_sides="all", band_width=8)
    plan["slots"][0]["band_weight"] = 1e3
    (tmp_path / "lite.json").write_text(json.dumps(plan))
    _train(["--plan", str(tmp_path / "lite.json"), "--steps", "1", "--workdir", str(tmp_path / "w"), "--data", str(photo_dir),
            "--vgg", str(random_vgg16), "--device", "cpu"])
    # the net ran on 24 + 32 + 24 px crops; the content target is the photo's centre 32 px
    assert net_in[0].shape[-2:] == (80, 80)
    photo_target = [x for x in vgg_in if x.shape[-2:] == (32, 32) and torch.equal(x, net_in[0][..., 24:56, 24:56])]
    assert photo_target, "the losses did not score the centre of the crop"
    assert "band" in torch.load(tmp_path / "w" / multistyle.CKPT, weights_only=False)["log"][0]  # the band term ran
    # the model card tells the runtime to stylize the margin on all four sides, and the gate measures it so
    multistyle.main(["export", "--workdir", str(tmp_path / "w"), "--slot", "x=" + plan["slots"][0]["name"], "--out-dir", str(tmp_path / "out")])
    from train.model_io import load_style_model
    from train.quality import NetStylizer

    net, card = load_style_model(tmp_path / "out" / "x.safetensors")
    assert border_margins(card) == (24, 24) and border_margins(NetStylizer(net, card=card).card) == (24, 24)
    # a plan with an unknown side is refused in one line
    plan["border_sides"] = "left"
    (tmp_path / "bad.json").write_text(json.dumps(plan))
    proc = run_cli("train.multistyle", "train", "--plan", str(tmp_path / "bad.json"), "--workdir", str(tmp_path / "b"), "--steps", "1",
                   "--data", str(photo_dir), "--vgg", str(random_vgg16), "--device", "cpu")
    assert_user_error(proc, "border_sides must be one of")


def test_a_checkpoint_from_before_border_margin_resumes_without_one(tmp_path, photo_dir, style_png, random_vgg16):
    plan = json.loads(open(_plan(tmp_path, style_png, slots=1)).read())
    plan.update(variant="lite", arch={"channels": [4, 8, 8], "residual_blocks": 1}, image_size=64)
    (tmp_path / "lite.json").write_text(json.dumps(plan))
    common = ["--workdir", str(tmp_path / "w"), "--data", str(photo_dir), "--vgg", str(random_vgg16), "--device", "cpu"]
    _train(["--plan", str(tmp_path / "lite.json"), "--steps", "2", "--stop-after", "1", *common])
    ckpt = torch.load(tmp_path / "w" / multistyle.CKPT, weights_only=False)
    assert ckpt["plan"]["border_margin"] is None  # a new plan: the runtime's margin
    del ckpt["plan"]["border_margin"]
    torch.save(ckpt, tmp_path / "w" / multistyle.CKPT)
    _train(["--steps", "2", "--resume", *common])
    assert torch.load(tmp_path / "w" / multistyle.CKPT, weights_only=False)["plan"]["border_margin"] == 0


def test_style_scale_paints_the_style_targets_from_the_resized_painting(style_png, random_vgg16):
    """A slot's style_scale resizes the (capped) painting before its Gram targets are taken: the texture scale
    the net learns, while style_size alone only ever shrinks."""
    from runtime.frames import cap_long_side, read_image, resize_long_side
    from train import losses
    from train.vgg import build_vgg

    layers = ["relu1_2", "relu2_2"]
    vgg = build_vgg(layers, "vgg16", random_vgg16)
    slot = {"name": "s", "style": str(style_png), "style_size": 64}
    plan = multistyle.Plan(slots=[multistyle.Slot(**slot), multistyle.Slot(**slot, style_scale=1.5)], style_layers=layers)
    grams = multistyle.style_grams(plan, vgg, torch.device("cpu"))
    big = resize_long_side(cap_long_side(read_image(style_png), 64), 96)
    with torch.no_grad():
        feats = vgg(torch.from_numpy(big).permute(2, 0, 1)[None].float())
    for l in layers:
        torch.testing.assert_close(grams[l][1], losses.gram_per_position(feats[l].float())[0])
        assert not torch.allclose(grams[l][0], grams[l][1], rtol=1e-3)
