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
