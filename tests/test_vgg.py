import pytest
import torch

from runtime.errors import DependencyError, InputError, StylecastError
from train import vgg
from tests.conftest import VGG16, VGG19_CAFFE, need


def test_layer_tables_have_the_published_depths():
    t16, t19 = vgg.layer_table("vgg16"), vgg.layer_table("vgg19")
    assert sum(k == "conv" for _, k in t16) == 13 and sum(k == "conv" for _, k in t19) == 16
    assert [n for n, _ in t16][:5] == ["conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1"]
    assert vgg.layer_names("vgg19")[-2:] == ["relu5_4", "pool5"]
    # torchvision index of conv4_2 in vgg19.features is 21
    assert vgg.layer_names("vgg19").index("conv4_2") == 21
    assert vgg.downsampling_before("vgg19", "relu5_1") == 4


def test_unknown_layer_is_a_user_error():
    with pytest.raises(StylecastError, match="relu9_9"):
        vgg.validate_layers("vgg16", ["relu9_9"])


def test_layer_table_matches_checkpoint():
    for path, net in ((need(VGG16), "vgg16"), (need(VGG19_CAFFE), "vgg19")):
        w = vgg.load_weights(net, path)
        table = vgg.layer_table(net)
        for i, (name, kind) in enumerate(table):
            if kind == "conv":
                weight = w.state[f"features.{i}.weight"]
                assert weight.shape[2:] == (3, 3), name
        assert w.convention == ("caffe" if "caffe" in path.name else "torchvision")


def test_all_checkpoint_forms_give_identical_activations(tmp_path):
    from safetensors.torch import save_file

    base = vgg.load_weights("vgg16", need(VGG16))
    features_only = tmp_path / "features.pth"
    torch.save({k.removeprefix("features."): v for k, v in base.state.items()}, features_only)  # bare N.weight
    full = tmp_path / "full.pth"
    torch.save({**base.state, "classifier.0.weight": torch.zeros(4, 4)}, full)
    fp32_st = tmp_path / "fp32.safetensors"
    save_file({k: v.float().contiguous() for k, v in base.state.items()}, str(fp32_st))
    layers = ["relu1_2", "relu3_3", "relu4_3"]
    x = torch.rand(1, 3, 40, 48) * 255
    ref = vgg.VGGFeatures(base, layers)(x)
    for path in (features_only, full, fp32_st):
        got = vgg.build_vgg(layers, "vgg16", path, "torchvision")(x)
        for l in layers:
            torch.testing.assert_close(got[l], ref[l], rtol=0, atol=0)


def test_caffe_convention_flips_to_bgr_and_subtracts_mean():
    w = vgg.VGGWeights("vgg16", {}, "caffe", "test")
    w.state = {k: torch.randn(*_shape(k)) for k in vgg.conv_keys("vgg16")}
    m = vgg.VGGFeatures(w, ["relu1_1"])
    x = torch.zeros(1, 3, 2, 2)
    x[:, 0] = 200.0  # pure red
    n = m.normalise(x)
    assert torch.allclose(n[:, 2], torch.full_like(n[:, 2], 200.0 - 123.68))  # R is last in BGR
    assert torch.allclose(n[:, 0], torch.full_like(n[:, 0], -103.939))


def _shape(key: str):
    idx = int(key.split(".")[1])
    table = vgg.layer_table("vgg16")
    convs = [i for i, (_, k) in enumerate(table) if k == "conv"]
    chans = [64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512]
    j = convs.index(idx)
    cin = 3 if j == 0 else chans[j - 1]
    return (chans[j], cin, 3, 3) if key.endswith("weight") else (chans[j],)


def test_offline_without_file_names_url_and_way_out(monkeypatch):
    monkeypatch.delenv("STYLECAST_VGG", raising=False)

    def offline(*a, **k):
        raise OSError("network unreachable")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    with pytest.raises(DependencyError) as err:
        vgg.load_weights("vgg19")
    msg = str(err.value)
    assert vgg.URLS["vgg19"] in msg and "--vgg" in msg and "STYLECAST_VGG" in msg


def test_env_var_and_wrong_net(monkeypatch):
    monkeypatch.setenv("STYLECAST_VGG", str(need(VGG16)))
    assert vgg.load_weights().net == "vgg16"
    with pytest.raises(InputError, match="vgg16 weights but vgg19"):
        vgg.load_weights("vgg19")


def test_corrupt_weights_file(tmp_path):
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="cannot read VGG weights"):
        vgg.load_weights("vgg16", bad)
