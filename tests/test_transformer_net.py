import pytest
import torch

from runtime.errors import InputError
from train.model_io import load_style_model, save_style_model
from train.transformer_net import TransformerNet, net_from_state_dict

PYTORCH_EXAMPLES_KEYS = ["conv1.conv2d.weight", "conv1.conv2d.bias", "in1.weight", "in1.bias", "conv2.conv2d.weight",
                         "in3.bias", "res1.conv1.conv2d.weight", "res1.in1.weight", "res1.in2.bias", "res5.conv2.conv2d.bias",
                         "deconv1.conv2d.weight", "in4.weight", "deconv2.conv2d.bias", "in5.bias", "deconv3.conv2d.weight",
                         "deconv3.conv2d.bias"]


def test_key_names_and_sizes_match_pytorch_examples():
    state = TransformerNet().state_dict()
    for key in PYTORCH_EXAMPLES_KEYS:
        assert key in state, key
    assert state["conv1.conv2d.weight"].shape == (32, 3, 9, 9)
    assert state["conv3.conv2d.weight"].shape == (128, 64, 3, 3)
    assert state["deconv3.conv2d.weight"].shape == (3, 32, 9, 9)
    assert sum(v.numel() for v in state.values()) == 1679235  # the published Johnson net size


def test_loads_old_checkpoint_with_running_stats(tmp_path):
    torch.manual_seed(0)
    ref = TransformerNet().eval()
    old = dict(ref.state_dict())
    for i in range(1, 6):
        old[f"in{i}.running_mean"] = torch.zeros(4)  # what PyTorch < 0.4 saved
        old[f"in{i}.running_var"] = torch.ones(4)
    old["res1.in1.running_mean"] = torch.zeros(128)
    path = tmp_path / "old.model"
    torch.save(old, path)
    net, card = load_style_model(path)
    x = torch.rand(1, 3, 32, 36) * 255
    torch.testing.assert_close(net(x), ref(x))
    assert card["name"] == "old"


def test_output_shape_and_scale():
    y = TransformerNet().eval()(torch.rand(2, 3, 64, 96) * 255)
    assert y.shape == (2, 3, 64, 96)


def test_model_card_round_trip_and_fp16_storage(tmp_path):
    net = TransformerNet((8, 16, 32), 2)
    path = save_style_model(tmp_path / "s.safetensors", net, {"name": "s", "steps": 7, "final": {"style": 1.5}})
    loaded, card = load_style_model(path)
    assert card["steps"] == 7 and card["final"] == {"style": 1.5} and card["arch"]["residual_blocks"] == 2
    assert (tmp_path / "s.json").is_file()
    assert loaded.channels == (8, 16, 32)
    for k, v in net.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[k], v.half().float())


def test_not_a_transform_net(tmp_path):
    p = tmp_path / "x.pth"
    torch.save({"foo": torch.zeros(1)}, p)
    with pytest.raises(InputError, match="not a transform-net"):
        load_style_model(p)


def test_fused_instance_norm_gives_the_same_output():
    import torch

    from train.transformer_net import FusedInstanceNorm, TransformerNet, fuse_instance_norms

    torch.manual_seed(0)
    net = TransformerNet((8, 16, 32), residual_blocks=2).eval()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.InstanceNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    x = torch.rand(2, 3, 36, 44) * 255
    with torch.no_grad():
        ref = net(x)
        fused = fuse_instance_norms(net)
        assert not any(isinstance(m, torch.nn.InstanceNorm2d) for m in fused.modules())
        assert any(isinstance(m, FusedInstanceNorm) for m in fused.modules())
        torch.testing.assert_close(fused(x), ref, rtol=1e-4, atol=1e-3)
        assert set(fused.state_dict()) == set(TransformerNet((8, 16, 32), residual_blocks=2).state_dict())
