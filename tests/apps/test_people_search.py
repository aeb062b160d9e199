"""find_people(): one MediaPipe graph, zoomed tiles, the box, merged people.

A fake MediaPipe (tests/apps/conftest.py) returns landmark sets in the
order it is called, normalised to the image it is given, as MediaPipe does;
the tests place people in photo pixels and convert.
"""

import numpy as np
import pytest
import torch

from bigraph_pyg.apps import (
    NoPersonError,
    detect_people,
    find_people,
    landmarks_to_person,
    person_score,
    predict,
    select_person,
)
from bigraph_pyg.apps.detection import (
    SMALL_PERSON,
    clear_detector_cache,
    merged_person_reason,
)
from bigraph_pyg.topology import JOINT_NAMES
from tests.apps.conftest import FakePoseModule, standing_landmarks

H, W = 240, 320


def _photo(seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 255, (H, W, 3), dtype=np.uint8)


def _pixels(x0, x1, y0, y1):
    """A standing person's 33 landmarks in photo pixels (x, y, vis)."""
    lm = standing_landmarks(x0 / W, x1 / W, y0 / H, y1 / H)
    lm[:, 0] *= W
    lm[:, 1] *= H
    return lm


def _seen_from(lm, region):
    """Landmarks in pixels as MediaPipe reports them on a crop."""
    x, y, w, h = region
    out = np.array(lm, np.float64)
    out[:, 0] = (out[:, 0] - x) / w
    out[:, 1] = (out[:, 1] - y) / h
    return out


class CountingPose(FakePoseModule):
    """The fake_detector, counting the graphs built."""

    def __init__(self, results):
        super().__init__(results)
        self.built = 0
        parent = self.Pose
        module = self

        class Pose(parent):
            def __init__(self, **kwargs):
                module.built += 1
                super().__init__(**kwargs)

        self.Pose = Pose


def test_one_graph_for_every_pass_and_call(fake_detector):
    """The MediaPipe graph is built once and reused (it was built anew for
    each of up to 4 passes of every call)."""
    big = _seen_from(_pixels(40, 200, 10, 230), (0, 0, W, H))
    module = fake_detector([big, None, big, None], CountingPose)
    assert len(detect_people(_photo())) == 1
    assert len(detect_people(_photo())) == 1
    assert module.built == 1 and len(module.images) == 4
    clear_detector_cache()
    module.results = [None] * 30
    detect_people(_photo())
    assert module.built == 2


def test_a_small_person_is_found_in_the_zoomed_tiles(fake_detector):
    """Nobody in the whole photo: the half-size crops are searched, and the
    person found in one is mapped back to photo pixels."""
    person = _pixels(30, 60, 20, 80)  # 60 px: whole in the first tile
    tile = (0, 0, W // 2, H // 2)
    module = fake_detector([None, _seen_from(person, tile), None])
    search = find_people(_photo())
    assert search.tiled
    assert module.images[0].shape == (H, W, 3)
    assert module.images[1].shape == (H // 2, W // 2, 3)  # the tile
    (found,) = search.people
    np.testing.assert_allclose(found.landmarks[:, :2], person[:, :2], atol=1e-3)
    assert found.box[3] < SMALL_PERSON * H


def test_a_large_person_needs_no_tiles(fake_detector):
    module = fake_detector(
        [_seen_from(_pixels(40, 200, 10, 230), (0, 0, W, H)), None]
    )
    search = find_people(_photo())
    assert not search.tiled and len(module.images) == 2


def test_one_person_seen_in_two_tiles_is_one_person(fake_detector):
    person = _pixels(130, 170, 60, 150)  # in the middle tiles
    tiles = [(0, 0, 160, 120), (80, 0, 160, 120), (160, 0, 160, 120)]
    tiles += [(0, 60, 160, 120), (80, 60, 160, 120)]
    results = [None]  # the whole photo
    for t in tiles:
        inside = t[0] <= 130 and 170 <= t[0] + t[2] and t[1] <= 60
        inside = inside and 150 <= t[1] + t[3]
        results += [_seen_from(person, t), None] if inside else [None]
    fake_detector(results)
    search = find_people(_photo())
    assert len(search.people) == 1


def test_two_pedestrians_merged_into_one_are_rejected(fake_detector):
    """MediaPipe fused two pedestrians into one skeleton; the zoomed crops
    find them apart inside its box: the fused one is refused, never
    chosen, and the two are returned."""
    left, right = _pixels(20, 60, 35, 95), _pixels(90, 130, 35, 95)
    merged = _pixels(20, 130, 30, 95)  # one box over both, 65 px tall
    fake_detector(
        [
            _seen_from(merged, (0, 0, W, H)),
            None,  # the whole photo: the fused one only
            _seen_from(left, (0, 0, W // 2, H // 2)),
            None,  # the first tile: the left one
            _seen_from(right, (80, 0, W // 2, H // 2)),
            None,  # the second tile: the right one (and nothing else)
        ]
    )
    search = find_people(_photo())
    assert search.tiled
    boxes = sorted(float(p.box[0]) for p in search.people)
    assert len(boxes) == 2 and boxes[0] < 40 < 80 < boxes[1]
    ((rejected, why),) = search.rejected
    assert rejected.box[2] > 100 and why.startswith("two people merged")
    # Were it the only detection: a clear error naming why, never a body.
    with pytest.raises(NoPersonError, match="refused: two people merged"):
        select_person([], 0, "p.jpg", search.rejected)


def test_limbs_that_do_not_connect_to_one_torso_are_rejected(
    fake_detector, shipped_model, body
):
    """Shoulders of one person, legs of another far to the side: a thigh
    longer than MAX_BONE_RATIO torso scales. One whole person passes."""
    whole = landmarks_to_person(_pixels(40, 200, 10, 230))
    assert merged_person_reason(whole) is None
    lm = _pixels(40, 120, 10, 230)
    legs = [25, 26, 27, 28]  # knees, ankles: another man's, 150 px right
    lm[legs, 0] += 150
    reason = merged_person_reason(landmarks_to_person(lm))
    assert reason.startswith("limbs that do not connect to one torso")
    assert "hip-knee bone" in reason
    fake_detector([lm / np.array([W, H, 1.0]), None])
    search = find_people(_photo())
    assert search.people == [] and len(search.rejected) == 1
    fake_detector([lm / np.array([W, H, 1.0]), None])
    with pytest.raises(NoPersonError, match=r"p\.jpg.*do not connect"):
        predict(_photo(), shipped_model, body, source="p.jpg")


def test_the_most_complete_person_comes_first(fake_detector):
    """A whole person before a larger one cut by the frame (legs unseen):
    visibility-weighted size, not the box (basketball2.png's case)."""
    whole = _pixels(20, 100, 40, 200)  # 160 px, all joints seen
    cut = _pixels(150, 310, 0, 230)  # 230 px, legs below the frame
    cut[23:, 2] = 0.05
    fake_detector(
        [
            _seen_from(cut, (0, 0, W, H)),
            _seen_from(whole, (0, 0, W, H)),
            None,
        ]
    )
    people = detect_people(_photo())
    assert [round(float(p.box[0])) for p in people][0] < 100
    assert person_score(people[0]) > person_score(people[1])
    assert people[1].area > people[0].area  # the larger box comes second
    legs = [JOINT_NAMES.index(n) for n in ("left_knee", "right_ankle")]
    assert (people[1].confidence[legs] < 0.5).all()


def test_box_restricts_the_search_to_its_crop(fake_detector):
    """With a box, MediaPipe sees only a square crop around it (1.5 times
    its longer side): a larger person elsewhere is never seen."""
    box = (200, 60, 60, 120)  # region: x 140-320, y 30-210
    region = (140, 30, 180, 180)
    inside = _pixels(205, 255, 65, 175)
    module = fake_detector([_seen_from(inside, region), None])
    search = find_people(_photo(), box=box)
    assert module.images[0].shape == (180, 180, 3)
    assert len(module.images) == 2  # the crop's two passes, nothing more
    assert search.region.tolist() == list(region)
    (found,) = search.people
    np.testing.assert_allclose(found.landmarks[:, :2], inside[:, :2], atol=1e-3)
    # A person mostly in the margin, outside the box, is dropped; the whole
    # photo is searched then (nobody there either, for this fake_detector).
    beside = _pixels(262, 300, 40, 200)
    module = fake_detector([_seen_from(beside, region), None])
    assert find_people(_photo(), box=box, tiles=False).people == []
    assert module.images[2].shape == (H, W, 3)  # the fallback
    with pytest.raises(ValueError, match=r"Expected `box` to overlap"):
        find_people(_photo(), box=(1000, 1000, 10, 10))


def test_box_falls_back_to_the_whole_photo_within_the_box(fake_detector):
    """MediaPipe finds nobody in the box's crop (the man cut by the frame of
    basketball2.png is found only in the whole photo): the whole photo is
    searched, and only the people inside the box are kept."""
    box = (200, 60, 60, 120)
    inside = _pixels(205, 255, 65, 175)
    outside = _pixels(20, 120, 10, 230)  # larger, more complete
    whole = (0, 0, W, H)
    module = fake_detector(
        [None]  # the crop: nobody
        + [None] * 9  # its half-size tiles: nobody
        + [None] * 25  # its third-size tiles: nobody
        + [_seen_from(outside, whole), _seen_from(inside, whole), None]
    )
    search = find_people(_photo(), box=box)
    assert module.images[0].shape == (180, 180, 3)
    assert module.images[35].shape == (H, W, 3)
    (found,) = search.people
    assert found.box[0] >= 200 and search.region.tolist() == [0, 0, W, H]


def test_predict_box_detects_within_the_box(fake_detector, shipped_model, body):
    box = (200, 60, 60, 120)
    inside = _pixels(205, 255, 65, 175)
    module = fake_detector([_seen_from(inside, (140, 30, 180, 180)), None])
    pred = predict(_photo(), shipped_model, body, box=box)
    assert module.images[0].shape == (180, 180, 3)
    np.testing.assert_allclose(
        pred.keypoints, landmarks_to_person(inside).joints, atol=1e-3
    )


def test_the_default_person_is_the_first_not_refused(monkeypatch):
    """``person=None``: a refused detection ranked first (a phantom, a
    person cut by the frame) does not hide the whole person behind it; an
    explicit index is that person, refused or not; all refused: the
    first."""
    from types import SimpleNamespace

    import bigraph_pyg.apps.inference as inference

    people = ["phantom", "whole", "third", "fourth"]
    verdicts = dict.fromkeys([*people, "given"], "full body")
    verdicts["phantom"] = "refused"
    found = SimpleNamespace(people=people, rejected=[])
    monkeypatch.setattr(inference, "find_people", lambda *a, **k: found)
    calls = []

    def one_person(model, img, body, keypoints, *rest):
        calls.append(keypoints)
        return SimpleNamespace(
            who=keypoints, quality=SimpleNamespace(verdict=verdicts[keypoints])
        )

    monkeypatch.setattr(inference, "_predict_person", one_person)
    image = np.zeros((64, 64, 3), np.uint8)
    model = torch.nn.Linear(1, 1)  # predict() only moves it and back

    def run(person, keypoints=None):
        calls.clear()
        pred = inference.predict(image, model, "body", keypoints, person)
        return pred.who

    assert run(None) == "whole" and calls == ["phantom", "whole"]
    assert run(0) == "phantom" and calls == ["phantom"]
    assert run(2) == "third" and calls == ["third"]
    assert run(None, keypoints="given") == "given"
    verdicts.update(whole="refused", third="refused")
    assert run(None) == "phantom"
    assert calls == people[: inference.MAX_CANDIDATES]
