"""The person mask: MediaPipe's segmentation reaches the fit by default.

The fake MediaPipe (tests/apps/conftest.py) returns a segmentation of the
image it is given with each person, as ``enable_segmentation=True`` does;
the tests check where the mask lands in the photo and that the fit uses it.
"""

import numpy as np
import pytest

from bigraph_pyg.apps import find_people, predict
from bigraph_pyg.apps.detection import (
    _POSE_OPTIONS,
    MASK_MARGIN,
    _person_mask,
    clear_detector_cache,
    landmarks_to_person,
)
from tests.apps.conftest import standing_landmarks

H, W = 240, 320


def _photo(seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 255, (H, W, 3), dtype=np.uint8)


def _blob(hw, x0, x1, y0, y1, value=1.0):
    """A segmentation of ``hw`` with ``value`` in the pixel rectangle."""
    seg = np.zeros(hw, np.float32)
    seg[int(y0) : int(y1), int(x0) : int(x1)] = value
    return seg


def test_the_detector_asks_mediapipe_for_the_segmentation(fake_detector):
    module = fake_detector([None])
    find_people(_photo(), tiles=False)
    assert _POSE_OPTIONS["enable_segmentation"] is True
    from bigraph_pyg.apps import detection

    graph = next(iter(detection._GRAPHS.values()))[1]
    assert graph.kwargs["enable_segmentation"] is True
    assert module.images  # one pass ran


def test_the_mask_is_the_photos_size_and_kept_near_the_person(fake_detector):
    """A whole-photo pass: the person's mask is the segmentation where the
    person is; another blob far from them (a second person MediaPipe
    segmented with them) is cut away."""
    lm = standing_landmarks(0.1, 0.4, 0.1, 0.9)  # x 32-128, y 24-216 px
    seg = _blob((H, W), 40, 120, 20, 220) + _blob((H, W), 250, 310, 20, 220)
    fake_detector([(lm, seg), None])
    person = find_people(_photo(), tiles=False).people[0]
    assert person.mask.shape == (H, W) and person.mask.dtype == np.float32
    np.testing.assert_array_equal(person.mask[20:220, 40:120], 1.0)
    assert person.mask[:, 200:].sum() == 0  # the other blob is gone
    # Kept within the box grown by MASK_MARGIN of its longer side.
    x, y, w, h = person.box
    m = MASK_MARGIN * max(w, h)
    rows, cols = np.nonzero(person.mask)
    assert cols.max() <= x + w + m + 1 and cols.min() >= x - m - 1


def test_a_mask_found_in_a_zoomed_tile_is_mapped_to_the_photo(fake_detector):
    """Nobody in the whole photo; the first half-size tile (top left,
    160 x 120) finds a small person: the tile's segmentation lands at the
    tile's place in the photo."""
    lm = standing_landmarks(0.2, 0.6, 0.1, 0.9)  # in the tile's frame
    seg = _blob((H // 2, W // 2), 40, 90, 10, 110)
    fake_detector([None, (lm, seg)])
    search = find_people(_photo(), max_people=1)
    assert search.tiled and len(search.people) == 1
    mask = search.people[0].mask
    assert mask.shape == (H, W)
    np.testing.assert_array_equal(mask[10:110, 40:90], 1.0)  # offset (0, 0)
    assert mask[120:].sum() == 0 and mask[:, 160:].sum() == 0


def test_a_tile_away_from_the_corner_shifts_the_mask():
    """``_person_mask`` pastes a pass's segmentation at its offset."""
    lm = standing_landmarks(0.2, 0.6, 0.1, 0.9)
    person = landmarks_to_person(lm, 80, 60)
    seg = _blob((60, 80), 20, 50, 5, 55, value=0.8)
    mask = _person_mask(seg, person, (100, 50), (H, W))
    np.testing.assert_allclose(mask[55:105, 120:150], 0.8)
    assert mask.sum() == pytest.approx(0.8 * 50 * 30)
    assert _person_mask(None, person, (0, 0), (H, W)) is None


def test_each_person_gets_the_mask_of_the_pass_that_found_them(fake_detector):
    """Two people, one per pass (the first painted over in the second):
    each carries their own pass's segmentation, not the other's."""
    left = standing_landmarks(0.05, 0.35, 0.1, 0.9)
    right = standing_landmarks(0.6, 0.95, 0.05, 0.95)
    seg_l = _blob((H, W), 20, 110, 20, 220)
    seg_r = _blob((H, W), 195, 300, 10, 230)
    fake_detector([(right, seg_r), (left, seg_l), None])
    people = find_people(_photo(), tiles=False).people
    assert len(people) == 2
    for p in people:
        cx = p.box[0] + p.box[2] / 2
        ys, xs = np.nonzero(p.mask > 0.5)
        assert abs(xs.mean() - cx) < 0.25 * p.box[2] + 10
    assert (people[0].mask * people[1].mask).sum() == 0


def test_the_fit_uses_the_detectors_mask_by_default(
    fake_detector, shipped_model, body
):
    """predict() without ``mask=``: the detector's mask reaches the fit
    (its silhouette terms are in the record); without a segmentation they
    are not."""
    lm = standing_landmarks()
    seg = _blob((H, W), 0.28 * W, 0.72 * W, 0.05 * H, 0.95 * H)
    fake_detector([(lm, seg), None])
    with_mask = predict(_photo(), shipped_model, body)
    assert "silhouette_inside" in with_mask.fit.terms
    assert "silhouette_cover" in with_mask.fit.terms
    clear_detector_cache()
    fake_detector([lm, None])
    without = predict(_photo(), shipped_model, body)
    assert "silhouette_inside" not in without.fit.terms


def test_mediapipe_segments_the_astronaut():
    """The real detector (the ``detect`` extra): the astronaut's mask is
    the photo's size, covers her (most of her box) and little else."""
    pytest.importorskip("mediapipe")
    from skimage import data

    img = data.astronaut()
    try:
        person = find_people(img).people[0]
    except ImportError as err:  # e.g. an unsupported protobuf release
        pytest.skip(str(err))
    mask = person.mask
    assert mask is not None and mask.shape == img.shape[:2]
    x, y, w, h = (int(v) for v in person.box)
    inside = (mask[y : y + h, x : x + w] > 0.5).mean()
    assert inside > 0.5
    assert (mask > 0.5).sum() < 0.7 * mask.size
