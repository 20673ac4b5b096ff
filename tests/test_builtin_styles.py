import numpy as np

from runtime import catalog
from runtime.engines import open_stylizer
from runtime.files import sha256_file
from runtime.frames import read_image
from runtime.samples import sample_images


def test_catalogue_lists_shipped_files_with_matching_hashes():
    entries = catalog.load_catalogue()
    assert {"mosaic", "starry"} <= {e["name"] for e in entries}
    for e in entries:
        path = catalog.STYLES_DIR / e["file"]
        assert path.stat().st_size < 4.5e6
        assert sha256_file(path) == e["sha256"]
        if e.get("variant") == "lite":  # distilled from a shipped full net, whose output it must copy well
            assert e["card"]["distilled_from"]["name"] in catalog.style_names()
            assert e["card"]["val_psnr_vs_teacher_db"] > 20
        else:
            assert e["card"]["steps"] > 0 and e["card"]["final_losses_mean_last_50"]["style"] > 0


def test_every_builtin_style_stylizes_without_torch_and_differs_from_the_others():
    photo = read_image(sample_images()[1])[:120, :160]
    outs = {}
    for name in catalog.style_names():
        net = open_stylizer(name, "ort-cpu", announce=lambda m: None)
        out = net(photo)
        assert out.shape == photo.shape
        assert np.abs(out.astype(int) - photo.astype(int)).mean() > 15
        outs[name] = out.astype(int)
    names = list(outs)
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            a, b = names[i], names[j]
            diff = np.abs(outs[a] - outs[b]).mean()
            if a.removesuffix("-lite") == b.removesuffix("-lite"):
                assert diff < 20, (a, b, diff)  # the lite net reproduces its teacher
            else:
                assert diff > 10, (a, b, diff)
