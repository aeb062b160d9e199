"""Training batches: samples of another layout are named, not trained on."""

import pytest
import torch
from fakes import SIZE

from bigraph_pyg.engine import CachedDataset, collate_samples, prepare_batch


def _samples(fake_set, n=3):
    return [dict(fake_set[i]) for i in range(n)]


def test_a_sample_missing_a_key_is_named(fake_set):
    samples = _samples(fake_set)
    del samples[2]["vertices"]
    with pytest.raises(
        ValueError,
        match=r"hold 'vertices' as the first does, shape \(6890, 3\) \(got no"
        r" such key in sample 2 of dataset 'fake'\)",
    ):
        collate_samples(samples)
    # Missing from every sample: prepare_batch names it.
    for s in samples:
        s.pop("vertices", None)
    with pytest.raises(
        ValueError, match=r"\['vertices'\] missing; datasets \['fake'\]"
    ):
        prepare_batch(collate_samples(samples), (SIZE, SIZE))


def test_a_sample_with_13_joints_is_named(fake_set):
    samples = _samples(fake_set)
    samples[1]["joints_2d"] = torch.zeros(13, 2)
    with pytest.raises(
        ValueError,
        match=r"'joints_2d' as the first does, shape \(12, 2\) \(got shape "
        r"\(13, 2\) in sample 1 of dataset 'fake'\)",
    ):
        collate_samples(samples)
    for s in samples:  # every sample of a 13-joint dataset
        s["joints_3d"] = torch.zeros(13, 3)
        s["joints_2d"] = torch.zeros(13, 2)
    with pytest.raises(
        ValueError,
        match=r"'joints_2d' of shape \(12, 2\) per sample \(got \(13, 2\); "
        r"datasets \['fake'\], indices \[0, 1, 2\]\)",
    ):
        prepare_batch(collate_samples(samples), (SIZE, SIZE))


def test_uint8_images_are_refused_as_the_model_refuses_them(fake_set):
    """Raw 0-255 pixels used to train un-normalised (prepare_batch called
    .float() on them) while the model's forward refuses uint8: both refuse
    them now, naming the normalisation to apply."""
    samples = _samples(fake_set)
    for s in samples:
        s["img"] = (s["img"].clamp(-2, 2) * 60 + 128).to(torch.uint8)
    batch = collate_samples(samples)
    with pytest.raises(
        ValueError,
        match=r"'img' as float pixels, ImageNet-normalised .*normalize_image"
        r".*\(got torch.uint8; datasets \['fake'\]",
    ):
        prepare_batch(batch, (SIZE, SIZE))

    class RawImages(torch.utils.data.Dataset):
        def __len__(self):
            return len(samples)

        def __getitem__(self, i):
            return samples[i]

    with pytest.raises(ValueError, match=r"\(got torch.uint8; "):
        CachedDataset(RawImages(), (SIZE, SIZE), progress=False)
    good = collate_samples(_samples(fake_set))
    assert prepare_batch(good, (SIZE, SIZE)).images.dtype == torch.float32
