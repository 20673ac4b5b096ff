import torch

from train import losses
from train.losses import Normalisation


def test_gram_matches_hand_computation():
    f = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]], [[0.0, 1.0], [-1.0, 2.0]]]])  # C=2, 2x2
    # channel vectors a = (1,2,3,4), b = (0,1,-1,2): aa=30, ab=0+2-3+8=7, bb=0+1+1+4=6
    assert torch.equal(losses.gram_matrix(f)[0], torch.tensor([[30.0, 7.0], [7.0, 6.0]]))


def test_paper_style_loss_matches_formula():
    torch.manual_seed(0)
    g, s = torch.randn(1, 3, 4, 5), torch.randn(1, 3, 4, 5)
    n, m = 3, 20
    G, A = losses.gram_matrix(g)[0], losses.gram_matrix(s)[0]
    expected = ((G - A) ** 2).sum() / (4 * n**2 * m**2)
    got = losses.style_layer_loss(g, losses.gram_per_position(s)[0], Normalisation.PAPER)
    torch.testing.assert_close(got, expected)


def test_mean_style_loss_matches_pytorch_examples():
    torch.manual_seed(1)
    g, s = torch.randn(2, 4, 6, 6), torch.randn(1, 4, 6, 6)

    def gram_pe(y):  # pytorch/examples utils.gram_matrix
        b, ch, h, w = y.size()
        feats = y.view(b, ch, w * h)
        return feats.bmm(feats.transpose(1, 2)) / (ch * h * w)

    expected = torch.nn.functional.mse_loss(gram_pe(g), gram_pe(s).expand(2, 4, 4))
    got = losses.style_layer_loss(g, losses.gram_per_position(s)[0], Normalisation.MEAN)
    torch.testing.assert_close(got, expected)


def test_content_loss_paper_is_half_sum_of_squares():
    a, b = torch.ones(1, 2, 2, 2), torch.zeros(1, 2, 2, 2)
    assert losses.content_loss(a, b, Normalisation.PAPER).item() == 4.0
    assert losses.content_loss(a, b, Normalisation.MEAN).item() == 1.0


def test_losses_are_zero_for_identical_inputs():
    x = torch.rand(1, 3, 8, 8)
    for norm in Normalisation:
        assert losses.content_loss(x, x.clone(), norm).item() == 0
        assert abs(losses.style_layer_loss(x, losses.gram_per_position(x)[0], norm).item()) < 1e-10


def test_style_targets_blend_is_weighted_mean():
    a, b = torch.rand(1, 2, 4, 4), torch.rand(1, 2, 4, 4)
    t = losses.style_targets([{"l": a}, {"l": b}], [3, 1], ["l"])["l"]
    torch.testing.assert_close(t, 0.75 * losses.gram_per_position(a)[0] + 0.25 * losses.gram_per_position(b)[0])


def test_tv_loss_zero_on_constant_image_positive_on_edges():
    flat = torch.full((1, 3, 5, 5), 7.0)
    assert losses.tv_loss(flat, Normalisation.PAPER).item() == 0
    edge = flat.clone()
    edge[..., 2:] = 9.0
    assert losses.tv_loss(edge, Normalisation.PAPER).item() == 3 * 5 * 4.0


def _smooth_photo(size: int = 96) -> torch.Tensor:
    """A smooth synthetic photo (gradients and a few soft blobs), 0-255, 1x3xHxW."""
    yy, xx = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij")
    blobs = sum(torch.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 0.02) for cy, cx in ((0.3, 0.4), (0.7, 0.6), (0.5, 0.2)))
    return (torch.stack([yy, xx, blobs / blobs.max()]) * 200 + 20).unsqueeze(0)


def test_border_band_excess_is_zero_for_the_photo_and_costs_a_band_of_noise():
    photo = _smooth_photo()
    textured = photo + 8 * torch.randn_like(photo)  # even texture everywhere: no band
    assert float(losses.border_band_excess(photo, photo, 16)) == 0
    assert float(losses.border_band_excess(textured, photo, 16)) == 0
    banded = textured.clone()
    banded[..., -10:, :] += 60 * torch.randn_like(banded[..., -10:, :])
    ratios = losses.border_band_ratios(banded, 16)[0].mean(dim=1)
    assert ratios[1] > 3 and max(ratios[0], ratios[2], ratios[3]) < 2  # bottom (and its corners)
    assert float(losses.border_band_excess(banded, photo, 16)) > 1
    thin = textured.clone()  # a band of 3 px is not diluted by the 16 px it is measured over
    thin[..., -3:, :] += 60 * torch.randn_like(thin[..., -3:, :])
    assert float(losses.border_band_excess(thin, photo, 16)) > 1
    # the photo's own busy border is allowed: a styled copy of it pays nothing
    busy = photo.clone()
    busy[..., :, :10] += 60 * torch.randn_like(busy[..., :, :10])
    assert float(losses.border_band_excess(busy, busy, 16)) == 0


def test_descending_border_band_excess_removes_the_band_and_leaves_the_interior():
    torch.manual_seed(0)
    photo = _smooth_photo()
    styled = photo + 8 * torch.randn_like(photo)
    styled[..., :, -10:] += 60 * torch.randn_like(styled[..., :, -10:])
    styled.requires_grad_(True)
    before = styled.detach().clone()
    opt = torch.optim.Adam([styled], lr=2.0)
    for _ in range(150):
        opt.zero_grad()
        losses.border_band_excess(styled, photo, 16).sum().backward()
        opt.step()
    assert float(losses.border_band_ratios(styled.detach(), 16)[0, 3].max()) <= 1.6
    assert torch.equal(styled.detach()[..., 20:-20, 20:-20], before[..., 20:-20, 20:-20])  # the interior is not touched
