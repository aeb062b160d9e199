import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from bigraph_pyg.metrics import (
    HIP_INDICES,
    JOINT_NAMES,
    mpjpe,
    mpve,
    pa_mpjpe,
    per_joint_error,
    segmentation_accuracy_f1,
    segmentation_confusion_matrix,
    segmentation_scores,
)
from bigraph_pyg.testing import with_device


def test_joint_names_and_hips():
    assert len(JOINT_NAMES) == 12
    assert HIP_INDICES == (2, 3)
    assert JOINT_NAMES[HIP_INDICES[0]] == "right_hip"
    assert JOINT_NAMES[HIP_INDICES[1]] == "left_hip"


def test_joint_names_agree_with_skeleton_topology():
    skeleton = pytest.importorskip("bigraph_pyg.topology.skeleton")
    assert tuple(skeleton.JOINT_NAMES) == JOINT_NAMES


def test_mpjpe_in_millimetres_against_loop():
    pred = torch.randn(4, 12, 3, dtype=torch.float64)
    target = torch.randn(4, 12, 3, dtype=torch.float64)
    ref = []
    for b in range(4):
        p = pred[b].numpy() - pred[b, [2, 3]].numpy().mean(0)
        t = target[b].numpy() - target[b, [2, 3]].numpy().mean(0)
        ref.append(1000 * np.linalg.norm(p - t, axis=-1).mean())
    out = mpjpe(pred, target, root=HIP_INDICES, reduction="none")
    torch.testing.assert_close(out, torch.tensor(ref))
    torch.testing.assert_close(
        mpjpe(pred, target, root=HIP_INDICES), torch.tensor(ref).mean()
    )
    # No root: raw distances; a global shift is then an error.
    shifted = target + torch.tensor([0.0, 0.0, 0.1], dtype=torch.float64)
    torch.testing.assert_close(
        mpjpe(shifted, target), torch.tensor(100.0, dtype=torch.float64)
    )
    torch.testing.assert_close(
        mpjpe(shifted, target, root=HIP_INDICES),
        torch.tensor(0.0, dtype=torch.float64),
    )


def test_mpjpe_mask():
    pred = torch.zeros(2, 4, 3)
    target = torch.zeros(2, 4, 3)
    target[0, 0] = torch.tensor([0.0, 0.0, 1.0])  # 1000 mm error, masked
    target[0, 1] = float("nan")  # masked NaN does not leak
    target[1, 2] = torch.tensor([0.0, 0.3, 0.4])  # 500 mm
    mask = torch.tensor([[0, 0, 1, 1], [1, 1, 1, 1]], dtype=torch.bool)
    out = mpjpe(pred, target, mask=mask, reduction="none")
    torch.testing.assert_close(out, torch.tensor([0.0, 125.0]))
    # A sample with no valid joint is NaN per sample, skipped by the mean.
    mask[0] = False
    out = mpjpe(pred, target, mask=mask, reduction="none")
    assert torch.isnan(out[0]) and out[1] == 125.0
    torch.testing.assert_close(mpjpe(pred, target, mask=mask), out[1])
    # Per-sample (B,) masks are accepted.
    out = mpjpe(pred, target, mask=torch.tensor([False, True]))
    torch.testing.assert_close(out, torch.tensor(125.0))


def test_pa_mpjpe_invariant_to_similarity():
    rng = np.random.default_rng(0)
    target = rng.normal(size=(5, 12, 3)) * 0.3
    pred = []
    for b in range(5):
        rot = Rotation.random(random_state=b).as_matrix()
        pred.append(
            rng.uniform(0.5, 2) * target[b] @ rot.T + rng.normal(size=3)
        )
    pred = torch.tensor(np.stack(pred))
    out = pa_mpjpe(pred, torch.tensor(target), reduction="none")
    assert out.shape == (5,)
    assert (out < 1e-6).all()
    # Mirrored prediction is not a similarity: error stays positive.
    mirrored = pred * torch.tensor([1.0, 1.0, -1.0], dtype=torch.float64)
    assert (
        pa_mpjpe(mirrored, torch.tensor(target), reduction="none") > 1
    ).all()


def test_pa_mpjpe_matches_scipy_reference():
    rng = np.random.default_rng(3)
    pred = rng.normal(size=(3, 12, 3))
    target = rng.normal(size=(3, 12, 3))
    ref = []
    for b in range(3):
        p0 = pred[b] - pred[b].mean(0)
        t0 = target[b] - target[b].mean(0)
        rot, _ = Rotation.align_vectors(t0, p0)
        r = rot.as_matrix()
        s = (t0 * (p0 @ r.T)).sum() / (p0**2).sum()
        aligned = s * p0 @ r.T + target[b].mean(0)
        ref.append(1000 * np.linalg.norm(aligned - target[b], axis=-1).mean())
    out = pa_mpjpe(torch.tensor(pred), torch.tensor(target), reduction="none")
    torch.testing.assert_close(out, torch.tensor(ref))
    # Masked joints take no part in alignment or error.
    mask = torch.ones(3, 12, dtype=torch.bool)
    mask[:, 5] = False
    changed = torch.tensor(target).clone()
    changed[:, 5] = 100.0
    torch.testing.assert_close(
        pa_mpjpe(torch.tensor(pred), changed, mask=mask),
        pa_mpjpe(torch.tensor(pred), torch.tensor(target), mask=mask),
    )


def test_mpve_and_per_joint_error():
    pred = torch.zeros(2, 10, 3)
    target = torch.zeros(2, 10, 3)
    target[0, :5, 0] = 0.02
    torch.testing.assert_close(
        mpve(pred, target, reduction="none"), torch.tensor([10.0, 0.0])
    )
    torch.testing.assert_close(mpve(pred, target), torch.tensor(5.0))
    per_joint = per_joint_error(pred, target)
    assert per_joint.shape == (10,)
    torch.testing.assert_close(per_joint[:5], torch.full((5,), 10.0))
    mask = torch.ones(2, 10, dtype=torch.bool)
    mask[1] = False
    torch.testing.assert_close(
        per_joint_error(pred, target, mask=mask)[:5], torch.full((5,), 20.0)
    )
    full = per_joint_error(pred, target, mask=mask, reduction="none")
    assert full.shape == (2, 10) and torch.isnan(full[1]).all()
    # Per-joint mean equals MPJPE when nothing is masked.
    torch.testing.assert_close(per_joint.mean(), mpjpe(pred, target))


def test_metrics_errors():
    x = torch.zeros(2, 12, 3)
    with pytest.raises(ValueError, match="same shape"):
        mpjpe(x, torch.zeros(2, 11, 3))
    with pytest.raises(ValueError, match="`reduction`"):
        mpjpe(x, x, reduction="sum")
    with pytest.raises(ValueError, match="`mask`"):
        mpjpe(x, x, mask=torch.ones(2, 5))
    with pytest.raises(ValueError, match="`root_indices`"):
        mpjpe(x, x, root=(2, 30))
    with pytest.raises(ValueError, match="`pred_vertices`"):
        mpve(torch.zeros(2, 5, 2), torch.zeros(2, 5, 2))


def _hand_scores(pred, gt, num_classes, ignore=255):
    """GraphCMR eval.py logic, written out in numpy."""
    pred, gt = np.asarray(pred), np.asarray(gt)
    tp = np.zeros(num_classes)
    fp = np.zeros(num_classes)
    fn = np.zeros(num_classes)
    for c in range(num_classes):
        cgt = gt == c
        cpred = pred == c
        cpred[gt == ignore] = False
        tp[c] += (cgt & cpred).sum()
        fp[c] += (~cgt & cpred).sum()
        fn[c] += (cgt & ~cpred).sum()
    gt0 = np.where(gt == ignore, 0, gt)
    acc = (gt0 == pred).sum() / gt.size
    with np.errstate(invalid="ignore"):
        f1 = 2 * tp / (2 * tp + fp + fn)
    return acc, np.nanmean(f1)


def test_segmentation_foreground_background_by_hand():
    gt = torch.tensor([[0, 0, 1], [1, 1, 0]])
    pred = torch.tensor([[0, 1, 1], [1, 0, 0]])
    # tp0=2 fp0=1 fn0=1 -> F1=4/6; tp1=2 fp1=1 fn1=1 -> 4/6; acc 4/6.
    acc, f1 = segmentation_accuracy_f1(pred, gt, num_classes=2)
    assert acc.dtype == torch.float64
    torch.testing.assert_close(acc.item(), 4 / 6)
    torch.testing.assert_close(f1.item(), 4 / 6)
    torch.testing.assert_close(
        (acc.item(), f1.item()), _hand_scores(pred, gt, 2)
    )
    acc, f1 = segmentation_accuracy_f1(gt, gt, num_classes=2)
    assert acc.item() == 1.0 and f1.item() == 1.0


def test_segmentation_parts_with_ignore_by_hand():
    gt = torch.tensor([[0, 1, 2, 255], [3, 255, 2, 1], [0, 0, 6, 6]])
    pred = torch.tensor([[0, 1, 1, 0], [3, 4, 2, 2], [0, 5, 6, 6]])
    acc, f1 = segmentation_accuracy_f1(pred, gt, num_classes=7)
    ref_acc, ref_f1 = _hand_scores(pred, gt, 7)
    # Ignored pixels count as background in accuracy: (0,3) predicted 0 is
    # correct, (1,1) predicted 4 is wrong -> 8 correct of 12.
    assert ref_acc == 8 / 12
    torch.testing.assert_close(acc.item(), ref_acc)
    torch.testing.assert_close(f1.item(), ref_f1)


def test_segmentation_confusion_accumulates_over_images():
    rng = np.random.default_rng(0)
    confusion = torch.zeros(8, 7, dtype=torch.long)
    preds, gts = [], []
    for size in [(5, 7), (9, 4), (6, 6)]:
        gt = rng.integers(0, 7, size=size)
        gt[rng.random(size) < 0.1] = 255
        pred = rng.integers(0, 7, size=size)
        preds.append(pred.ravel()), gts.append(gt.ravel())
        confusion += segmentation_confusion_matrix(
            torch.from_numpy(pred), torch.from_numpy(gt), 7
        )
    acc, f1 = segmentation_scores(confusion)
    ref = _hand_scores(np.concatenate(preds), np.concatenate(gts), 7)
    torch.testing.assert_close((acc.item(), f1.item()), ref)


def test_segmentation_absent_class_and_errors():
    gt = torch.tensor([0, 0, 1])
    pred = torch.tensor([0, 0, 1])
    # Class 2 absent everywhere: left out of the F1 mean (no NaN).
    acc, f1 = segmentation_accuracy_f1(pred, gt, num_classes=3)
    assert acc.item() == 1.0 and f1.item() == 1.0
    with pytest.raises(ValueError, match="`pred_labels`"):
        segmentation_accuracy_f1(torch.tensor([0, 3]), torch.tensor([0, 1]), 3)
    with pytest.raises(ValueError, match="`gt_labels`"):
        segmentation_accuracy_f1(torch.tensor([0, 1]), torch.tensor([0, 9]), 3)
    with pytest.raises(ValueError, match="`pred_labels`"):
        segmentation_accuracy_f1(torch.tensor([0.5]), torch.tensor([0]), 3)
    with pytest.raises(ValueError, match="same shape"):
        segmentation_accuracy_f1(torch.tensor([0, 1]), torch.tensor([0]), 3)
    with pytest.raises(ValueError, match="`num_classes`"):
        segmentation_accuracy_f1(gt, gt, 1)
    with pytest.raises(ValueError, match="`confusion`"):
        segmentation_scores(torch.zeros(3, 3))


@with_device
def test_metrics_on_device(device):
    pred = torch.randn(3, 12, 3, device=device)
    target = torch.randn(3, 12, 3, device=device)
    for fn in (mpjpe, pa_mpjpe, mpve):
        out = fn(pred, target)
        assert out.device.type == device and torch.isfinite(out)
    assert per_joint_error(pred, target, root=HIP_INDICES).device.type == device
    labels = torch.randint(0, 7, (2, 5, 5), device=device)
    acc, f1 = segmentation_accuracy_f1(labels, labels, 7)
    assert acc.item() == 1.0 and f1.item() == 1.0
