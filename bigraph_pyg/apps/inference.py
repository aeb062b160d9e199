r"""One photograph in, a 3D body out: :func:`predict`.

The model sees a square crop around the person
(:func:`~bigraph_pyg.apps.crop_person`) and the 12 joints in crop pixels,
and predicts two bodies in its own frame (OpenCV camera axes: ``x`` right,
``y`` down, ``z`` forward; metres; no translation) and a weak-perspective
camera ``(s, tx, ty)`` of the crop:

* the **mesh branch**: the graph network's vertices (the paper's output);
* the **SMPL branch**: rotations and shape regressed from that mesh
  (Sec. 4.3.4), posed here by the body model. Both are returned, named,
  because they differ (the regressor is an approximation).

:func:`predict` returns both in a :class:`~bigraph_pyg.apps.Prediction`,
the SMPL branch in smplx's layout (:func:`~bigraph_pyg.apps.smplx_parameters`)
with the camera turned into a full-perspective translation of the whole
photo, as SPIN's ``cam_t``
(:func:`~bigraph_pyg.apps.full_perspective_translation`).

Below the public functions, what a call does, in sections: the shipped
model and body, kept once per process; one call (its arguments checked,
the people tried, one person's prediction); the model's inputs from the
crop; the body placed by the photo's pinhole, fitted and judged; and the
checks of :func:`predict`'s arguments, made before any work. A photo,
box, focal length, crop scale, threshold, person index or device that
cannot give a meaningful body is refused with a ``ValueError`` that names
the argument, what was expected and what came; none is turned into a
prediction (a negative focal length puts the body behind the camera, a
NaN one gives a NaN translation, keypoints of another photo crop black
pixels).
"""

from __future__ import annotations

import contextlib
import math
import threading

import numpy as np
import torch

from bigraph_pyg.apps.camera import (
    MIN_DEPTH,
    crop_person,
    default_focal_length,
    perspective_translation,
)
from bigraph_pyg.apps.detection import find_people, select_person
from bigraph_pyg.apps.fitting import fit_person
from bigraph_pyg.apps.keypoints import Person
from bigraph_pyg.apps.prediction import Prediction, smplx_parameters
from bigraph_pyg.apps.quality import assess_quality, body_box

__all__ = ["clear_cache", "default_model_name", "load_default_model", "predict"]

# The shipped models and the default body, loaded once per process:
# (model name, id(body)) -> (body, model); "body" -> the default body.
_CACHE: dict = {}
_CACHE_LOCK = threading.RLock()

#: People :func:`predict` tries, best first, for its default person (the
#: first whose verdict is not ``"refused"``).
MAX_CANDIDATES: int = 3


def default_model_name(detected: bool) -> str:
    """The shipped model for a source of 2D joints.

    ``"synthetic-mediapipe"`` (trained on MediaPipe's own joints on its
    renders, ``--joint-noise detector``) when the joints come from the
    demo's detector: on the pose world's renders with MediaPipe's joints
    it is 10 mm better than ``"synthetic"`` (docs/pretrained.md, "Which
    model on which input"); ``"synthetic"`` (trained on the generic
    ``JointNoise()``) for joints the user supplies, where it is the better
    of the two.

    Args:
        detected (bool): The joints come from MediaPipe (:func:`predict`
            without ``keypoints``).

    Returns:
        str: A name of :data:`bigraph_pyg.hub.PRETRAINED`.
    """
    return "synthetic-mediapipe" if detected else "synthetic"


def load_default_model(detected: bool = True):
    """The shipped model for a source of 2D joints and the default body.

    Loaded once per process and kept (the ones :func:`predict` uses when
    given no model), so a caller that runs many photos, as the demo's
    batch mode, shares them with :func:`predict`. Do not change the model
    (its weights, device or mode): :func:`predict` leaves it as it was.

    Args:
        detected (bool): The joints come from MediaPipe
            (:func:`default_model_name`). (default: :obj:`True`)

    Returns:
        tuple: ``(model, body)``.
    """
    return _model_and_body(None, None, detected)


def clear_cache() -> None:
    """Forget the models, body and detector :func:`predict` keeps.

    The next call loads them again (the MediaPipe graph:
    :func:`~bigraph_pyg.apps.detection.clear_detector_cache`).
    """
    from bigraph_pyg.apps.detection import clear_detector_cache

    with _CACHE_LOCK:
        _CACHE.clear()
    clear_detector_cache()


@torch.no_grad()
def predict(
    image: np.ndarray,
    model=None,
    body=None,
    keypoints: Person | None = None,
    person: int | None = None,
    box=None,
    focal_length: float | None = None,
    crop_scale: float | None = None,
    threshold: float = 0.5,
    device: str | torch.device | None = None,
    source: str = "the image",
    *,
    fit: bool = True,
    mask: np.ndarray | None = None,
) -> Prediction:
    """Recover the 3D body of one person in a photograph.

    Args:
        image (np.ndarray): :math:`(H, W, 3)` uint8 RGB (e.g. from
            :func:`bigraph_pyg.utils.images.load_image`).
        model (BiGraphBody, optional): (default: the shipped model for
            the input: :func:`default_model_name`)
        body (BodyModel, optional): The body the model was trained with;
            it poses the SMPL branch. (default: the default body)
        keypoints (Person, optional): 2D joints (e.g. from
            :func:`~bigraph_pyg.apps.keypoints.read_keypoints`). (default:
            detected with MediaPipe, the ``detect`` extra)
        person (int, optional): Which detected person, best first
            (:func:`~bigraph_pyg.apps.detection.person_score`). (default:
            the first of the best ``MAX_CANDIDATES`` (3) not refused)
        box (array-like, optional): ``(x, y, w, h)`` person box, pixels:
            only a person inside it is detected, searched in a crop around
            it first (:func:`~bigraph_pyg.apps.detection.find_people`), and
            the model's crop is cut around it. (default: the keypoints' box,
            grown to the whole body's height for an upper body:
            :func:`~bigraph_pyg.apps.quality.body_box`)
        focal_length (float, optional): Photo pixels. (default: the
            photo's diagonal, a 53-degree field of view:
            :func:`~bigraph_pyg.apps.camera.default_focal_length`)
        crop_scale (float, optional): Crop side over the box's longer
            side. (default: ``1.3`` for a detector box, which includes the
            face and feet; ``1.5`` for a box of the 12 joints alone)
        threshold (float): Keypoint confidence below which a joint counts
            as missing. (default: ``0.5``)
        device (str or torch.device, optional): Where the model runs.
            (default: where ``model``'s weights are; the shipped model:
            the CPU) The model is left where it was and in the mode it
            was in.
        source (str): What the photo is (e.g. its path), named in the
            errors. (default: ``"the image"``)
        fit (bool): Fit the body model to the photo
            (:func:`~bigraph_pyg.apps.fitting.fit_body`: the landmarks,
            the person mask, the priors and the network's 3D joints), the
            default output; :obj:`False` returns the network's SMPL
            branch as the body. (default: :obj:`True`)
        mask (np.ndarray, optional): :math:`(H, W)` person mask in
            ``[0, 1]`` for the fit. (default: the detector's, if it gives
            one)

    The shipped model, the default body and the MediaPipe graph are loaded
    once per process and reused (:func:`clear_cache` forgets them); the
    model is never changed by a call.

    Returns:
        Prediction: crop, keypoints, both meshes, smplx-layout parameters,
        the full-perspective camera and the quality verdict
        (:class:`~bigraph_pyg.apps.quality.Quality`: ``"full body"``,
        ``"upper body"`` or ``"refused"``; a refused body is returned all
        the same, the caller decides).

    Raises:
        NoPersonError: no person detected, or only people refused as two
            merged (the message names ``source`` and the reasons).
        ImportError: detection needed but the ``detect`` extra missing.
        ValueError: a bad argument (e.g. a focal length of -500, a NaN
            threshold, keypoints off the photo, a box too large to crop):
            the message names it, what was expected and what came.
    """
    return _checked_run(**locals())  # every argument, by name


# -- the shipped model and body, kept once per process ------------------------


def _model_and_body(model, body, detected: bool):
    """``model`` and ``body``, the defaults where :obj:`None`, cached.

    The default body is loaded once per process, and so is each shipped
    model per body it poses (keyed by the model's name and the body), so
    that a second photo costs the model's forward pass alone (the shipped
    model's checkpoint was re-hashed and the model rebuilt on every call,
    about 2 s on a CPU).
    """
    with _CACHE_LOCK:
        if body is None:
            if "body" not in _CACHE:
                from bigraph_pyg.body import default_body

                _CACHE["body"] = default_body()
            body = _CACHE["body"]
        if model is None:
            name = default_model_name(detected)
            kept = _CACHE.get((name, id(body)))
            if kept is None or kept[0] is not body:
                from bigraph_pyg.hub import pretrained

                kept = (body, pretrained(name, body))
                _CACHE[(name, id(body))] = kept
            model = kept[1]
    return model, body


def _is_cached(model) -> bool:
    with _CACHE_LOCK:
        return any(
            isinstance(v, tuple) and v[1] is model for v in _CACHE.values()
        )


# -- one call: its checks, the people tried, one person -----------------------


def _checked_run(
    image,
    model,
    body,
    keypoints,
    person,
    box,
    focal_length,
    crop_scale,
    threshold,
    device,
    source,
    fit,
    mask,
) -> Prediction:
    """Check :func:`predict`'s arguments, then run it.

    The model runs in eval mode on ``device`` and is restored after; the
    cached model serves one call at a time.
    """
    img = check_image(image, source)
    check_options(
        person, focal_length, crop_scale, threshold, keypoints is not None
    )
    box = None if box is None else check_box(box)
    device = None if device is None else check_device(device)
    shared = model is None or _is_cached(model)
    model, body = _model_and_body(model, body, keypoints is None)
    with _CACHE_LOCK if shared else contextlib.nullcontext():
        home = next(model.parameters()).device
        device = home if device is None else device
        was_training = model.training
        model = model.to(device).eval()
        try:
            # person None: the first candidate whose verdict is not
            # refused (the first candidate if all are).
            people = _candidates(img, keypoints, person, box, threshold, source)
            options = (box, focal_length, crop_scale, threshold, device)
            first = None
            for candidate in people:
                pred = _predict_person(
                    model, img, body, candidate, *options, source, fit, mask
                )
                if pred.quality.verdict != "refused":
                    return pred
                first = first or pred
            return first
        finally:
            model.to(home).train(was_training)


def _candidates(img, keypoints, person, box, threshold, source) -> list:
    """The people to try, best first: one unless ``person`` is None.

    Detected (within ``box`` if given) unless ``keypoints`` are.
    """
    if keypoints is not None:
        return [keypoints]
    if box is not None:
        check_box_overlaps(box, img.shape[:2], source)
    found = find_people(img, box, threshold=threshold)
    first = select_person(found.people, person or 0, source, found.rejected)
    if person is not None:
        return [first]
    return found.people[:MAX_CANDIDATES]


def _person_box(img, keypoints, box, threshold, source):
    """The box the person's crop is cut around.

    ``box``, else the keypoints' box grown to the whole body's height for
    an upper body (:func:`~bigraph_pyg.apps.quality.body_box`).
    """
    kp_box = body_box(
        keypoints.joints, keypoints.confidence, keypoints.box, threshold
    )
    person_box = np.asarray(kp_box if box is None else box, np.float32)
    check_in_photo(
        person_box,
        keypoints.joints,
        np.asarray(keypoints.confidence) > threshold,
        img.shape[:2],
        source,
    )
    return person_box


def _predict_person(
    model,
    img,
    body,
    keypoints,
    box,
    focal_length,
    crop_scale,
    threshold,
    device,
    source,
    fit=True,
    mask=None,
) -> Prediction:
    """One person's prediction (its keypoints given or chosen)."""
    person_box = _person_box(img, keypoints, box, threshold, source)
    if crop_scale is None:
        crop_scale = 1.3 if keypoints.landmarks is not None else 1.5
    h, w = model.config.image_size
    crop, origin, side = crop_person(img, person_box, max(h, w), crop_scale)
    joints = None
    if model.config.use_skeleton:
        kp = (keypoints.joints, keypoints.confidence)
        joints = _model_joints(*kp, origin, side, (h, w), threshold)
        joints = torch.as_tensor(joints)[None].to(device)
    out = model(_model_image(crop, (h, w)).to(device), joints)
    cam = out.camera[0].double().cpu().numpy()
    j2d = out.mesh_joints_2d[0].double().cpu().numpy()
    j2d = (j2d + 1.0) / 2.0 * side + origin
    img_hw = img.shape[:2]
    placed = _place_and_fit(
        out,
        body,
        keypoints,
        (origin, side),
        img_hw,
        focal_length,
        fit,
        mask,
        threshold,
    )
    v_mesh = out.vertices[0].cpu().numpy()
    verdict_box = keypoints.box if box is None else person_box
    quality = _verdict(keypoints, verdict_box, j2d, placed, threshold)
    sk = out.skeleton_joints
    return Prediction(
        image_size=(int(img_hw[0]), int(img_hw[1])),
        box=person_box,
        crop_box=np.array([origin[0], origin[1], side], np.float32),
        crop=crop,
        keypoints=np.asarray(keypoints.joints, np.float32),
        keypoint_confidence=np.asarray(keypoints.confidence, np.float32),
        vertices_mesh=v_mesh,
        vertices_smpl=placed["v_smpl"],
        faces=body.faces.cpu().numpy().astype(np.int64),  # a copy: shared
        joints_3d_mesh=out.mesh_joints[0].cpu().numpy(),
        joints_3d_skeleton=None if sk is None else sk[0].cpu().numpy(),
        joints_2d_mesh=j2d.astype(np.float32),
        camera_weak=cam.astype(np.float32),
        params=placed["params"],
        body_model=str(getattr(body, "name", "body")),
        focal_length=placed["focal"],
        camera_center=placed["centre"],
        reprojection_error=quality.reprojection_error,
        branch_distance=float(
            np.linalg.norm(v_mesh - placed["v_network"], axis=-1).mean()
        ),
        quality=quality,
        params_network=placed["params_network"],
        fit=placed["fit"],
    )


# -- the model's inputs -------------------------------------------------------


def _model_joints(
    keypoints: np.ndarray,
    confidence: np.ndarray,
    origin: np.ndarray,
    side: float,
    size: tuple[int, int],
    threshold: float,
) -> np.ndarray:
    """Joints in crop pixels; unconfident ones at the confident ones' mean.

    The rule of training batches
    (:func:`~bigraph_pyg.engine.batch_transforms.fill_missing_joints`; the data
    pipeline's detector noise does the same for missed joints).
    """
    from bigraph_pyg.engine.batch_transforms import fill_missing_joints

    kp = np.asarray(keypoints, np.float64).copy()
    ok = np.asarray(confidence) > threshold
    if ok.any():
        kp[~ok] = np.nan
    h, w = size
    jc = (kp - origin) * (np.array([w, h]) / side)
    joints, _ = fill_missing_joints(torch.as_tensor(jc)[None], (h, w))
    return joints[0].numpy().astype(np.float32)


def _model_image(crop: np.ndarray, size: tuple[int, int]) -> torch.Tensor:
    """The crop as the model's input ``(1, 3, H, W)``: normalised, resized."""
    from bigraph_pyg.data.keys import normalize_image

    x = normalize_image(crop)[None]
    if size != tuple(x.shape[-2:]):
        x = torch.nn.functional.interpolate(
            x, size=size, mode="bilinear", antialias=True
        )
    return x


# -- the body placed, fitted and judged ---------------------------------------


def _place_and_fit(
    out, body, keypoints, crop, img_hw, focal_length, fit, mask, threshold
) -> dict:
    """The network's body placed by the photo's pinhole, and fitted.

    The focal length is ``focal_length`` or the photo's diagonal
    (:func:`~bigraph_pyg.apps.camera.default_focal_length`), the
    principal point its centre; the network's body stands where its joints
    project as the weak camera of the crop ``(origin, side)`` drew them
    (:func:`~bigraph_pyg.apps.camera.perspective_translation`). With
    ``fit``, the body model is fitted to the person's landmarks, ``mask``
    (or the detector's), the priors and the network's skeleton-branch 3D
    joints (its mesh joints without a skeleton branch):
    :func:`~bigraph_pyg.apps.fitting.fit_person`.

    Returns:
        dict: ``focal``, ``centre``, ``params_network``, ``v_network``
        (the SMPL branch posed), ``fit`` (:obj:`None` without), ``params``
        and ``v_smpl`` (the body: fitted, else the SMPL branch).
    """
    f = float(
        default_focal_length(img_hw) if focal_length is None else focal_length
    )
    centre = np.array([img_hw[1] / 2.0, img_hw[0] / 2.0])
    transl = perspective_translation(
        out.mesh_joints[0].double().cpu().numpy(),
        out.camera[0].double().cpu().numpy(),
        crop[0],
        crop[1],
        img_hw,
        f,
    )
    net = smplx_parameters(
        out.rotmat[0].cpu().numpy(), out.betas[0].cpu().numpy(), transl
    )
    v_network = _body_vertices(body, net)
    # The translation follows the network's joints; its SMPL body can reach
    # further towards the camera (an arm held forward in a close-up).
    net["transl"] = _in_front(net["transl"], v_network).astype(np.float32)
    placed = {"focal": f, "centre": centre, "params_network": net}
    placed["v_network"] = v_network
    placed["fit"] = placed["params"] = None
    if fit:
        if mask is not None and np.shape(mask) != tuple(img_hw):
            raise ValueError(
                f"Expected mask of the photo's size {tuple(img_hw)} (got "
                f"{np.shape(mask)})"
            )
        sk = out.skeleton_joints
        placed["fit"] = fit_person(
            body,
            net,
            keypoints,
            f,
            centre,
            joints_3d=(out.mesh_joints if sk is None else sk)[0].cpu(),
            mask=mask,
            threshold=threshold,
        )
        placed["params"] = placed["fit"].params
        placed["v_smpl"] = _body_vertices(body, placed["params"])
    else:
        placed["params"], placed["v_smpl"] = net, placed["v_network"]
    return placed


#: The nearest a placed body may come to the camera's plane, metres: twice
#: the fit's own limit (:data:`~bigraph_pyg.apps.camera.MIN_DEPTH`), so a
#: body moved back starts the fit with room to spare.
MIN_NEAR: float = 2 * MIN_DEPTH


def _in_front(transl, vertices, near: float = MIN_NEAR) -> np.ndarray:
    """A translation that keeps every vertex ``near`` in front of the camera.

    ``transl`` as it is where ``vertices`` (posed, without translation)
    plus it lie at depth ``>= near``; else the body moved back along the
    ray through its root, so its root projects where it did and its
    nearest vertex is at ``near``. The network's weak camera says where the
    body is in the photo, not how far it reaches towards the lens.
    """
    t = np.asarray(transl, np.float64)
    reach = float(np.min(np.asarray(vertices)[:, 2]))
    if t[2] + reach >= near:
        return t
    z = near - reach
    return t * (z / t[2]) if t[2] > 0 else np.array([0.0, 0.0, z])


def _body_vertices(body, params: dict) -> np.ndarray:
    """The body posed by smplx-layout parameters, without ``transl``."""
    dev = body.template_vertices.device
    dt = body.template_vertices.dtype
    with torch.no_grad():
        out = body(
            **{
                k: torch.as_tensor(params[k], device=dev, dtype=dt)[None]
                for k in ("global_orient", "body_pose", "betas")
            }
        )
    return out.vertices[0].cpu().numpy()


def _verdict(keypoints, box, j2d, placed: dict, threshold: float):
    """The quality verdict on the body written: the fitted one if any.

    The fitted body's 12 joints through the photo's pinhole, held to
    :data:`~bigraph_pyg.apps.quality.MAX_FIT_ERROR`, with the network
    mesh's ``j2d`` kept in the record; without the fit, ``j2d`` itself.
    """
    judged, network = j2d, None
    fit = placed["fit"]
    if fit is not None:
        p = fit.joints.astype(np.float64) + placed["params"]["transl"]
        judged = p[:, :2] / p[:, 2:] * placed["focal"] + placed["centre"]
        network = j2d
    return assess_quality(
        keypoints.joints,
        keypoints.confidence,
        box,
        judged,
        threshold,
        network_joints_2d=network,
    )


# -- the checks of predict's arguments, before any work -----------------------


def check_image(image: object, source: str) -> np.ndarray:
    """``image`` as an array; ``ValueError`` unless non-empty (H, W, 3) uint8.

    Args:
        image (object): The photo.
        source (str): What the photo is, for the message.

    Returns:
        np.ndarray: ``image`` as an array (not copied where it is one).

    Raises:
        ValueError: naming ``source``, the expected layout and what came.
    """
    img = np.asarray(image)
    if (
        img.ndim != 3
        or img.shape[2] != 3
        or img.dtype != np.uint8
        or 0 in img.shape
    ):
        raise ValueError(
            f"Expected a non-empty (H, W, 3) uint8 RGB image for {source} "
            f"(got {img.shape} {img.dtype})"
        )
    return img


def finite_positive(name: str, value: object, unit: str = "") -> float:
    """``value`` as a float; ``ValueError`` unless a finite number > 0.

    Args:
        name (str): The argument, for the message.
        value (object): Its value.
        unit (str): Its unit, for the message (e.g. ``"photo pixels"``).

    Returns:
        float: the number.

    Raises:
        ValueError: ``Expected `name` > 0 ... (got value)``.
    """
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if isinstance(value, bool) or not (number > 0 and math.isfinite(number)):
        unit = f" in {unit}" if unit else ""
        raise ValueError(
            f"Expected `{name}` a finite number > 0{unit} (got {value!r})"
        )
    return number


def check_options(
    person: object,
    focal_length: object,
    crop_scale: object,
    threshold: object,
    keypoints_given: bool,
) -> None:
    """Refuse a person index, focal length, crop scale or threshold.

    Args:
        person (object): :func:`predict`'s ``person``.
        focal_length (object): ``None`` or a number.
        crop_scale (object): ``None`` or a number.
        threshold (object): A confidence threshold.
        keypoints_given (bool): ``keypoints`` were passed (one person:
            ``person`` must be ``None`` or ``0``).

    Raises:
        ValueError: naming the argument, what was expected and what came.
    """
    if person is not None and (
        isinstance(person, bool) or not isinstance(person, int) or person < 0
    ):
        raise ValueError(
            "Expected `person` None (the best person not refused) or an int "
            f">= 0, the best first (got {person!r})"
        )
    if keypoints_given and person not in (None, 0):
        raise ValueError(
            "Expected `person` 0 with `keypoints` (they are one person; "
            f"`person` chooses among detected people) (got {person})"
        )
    if focal_length is not None:
        finite_positive("focal_length", focal_length, "photo pixels")
    if crop_scale is not None:
        finite_positive("crop_scale", crop_scale)
    try:
        t = float(threshold)
    except (TypeError, ValueError):
        t = math.nan
    if isinstance(threshold, bool) or not 0.0 <= t < 1.0:
        raise ValueError(
            f"Expected `threshold` a confidence in [0, 1) (got {threshold!r})"
        )


def check_device(device: object) -> torch.device:
    """``device`` as a :class:`torch.device` this machine has.

    Args:
        device (object): :func:`predict`'s ``device`` (a name or a
            :class:`torch.device`).

    Returns:
        torch.device: the device.

    Raises:
        ValueError: not a device name, or a CUDA/MPS device torch does not
            see.
    """
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(
            "Expected `device` such as 'cpu', 'cuda' or 'cuda:1' (got "
            f"{device!r})"
        ) from None
    if dev.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if (dev.index or 0) >= count:
            raise ValueError(
                f"Expected `device` a device this machine has (got {device!r};"
                f" torch sees {count} CUDA GPU(s))"
            )
    elif dev.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(
            f"Expected `device` a device this machine has (got {device!r}; "
            "torch sees no MPS device)"
        )
    return dev


def check_box(box: object) -> np.ndarray:
    """``box`` as ``(x, y, w, h)`` float32: finite, ``w, h >= 0``, not both 0.

    Args:
        box (object): :func:`predict`'s ``box``, photo pixels.

    Returns:
        np.ndarray: ``(4,)`` float32.

    Raises:
        ValueError: naming ``box``, what was expected and what came.
    """
    try:
        arr = np.asarray(box, np.float64)
    except (TypeError, ValueError):
        arr = np.full(0, np.nan)
    if (
        arr.shape != (4,)
        or not np.isfinite(arr).all()
        or (arr[2:] < 0).any()
        or not (arr[2:] > 0).any()
    ):
        raise ValueError(
            "Expected `box` (x, y, w, h): 4 finite numbers, photo pixels, "
            f"w and h >= 0 and not both 0 (got {box!r})"
        )
    return arr.astype(np.float32)


def check_box_overlaps(
    box: np.ndarray, image_size: tuple[int, int], source: str
) -> None:
    """Refuse a person box that misses the photo.

    Args:
        box (np.ndarray): ``(x, y, w, h)`` photo pixels.
        image_size (tuple[int, int]): ``(H, W)`` of the photo.
        source (str): What the photo is, for the message.

    Raises:
        ValueError: the box does not overlap the photo.
    """
    h, w = image_size
    x, y, bw, bh = (float(v) for v in box)
    if x > w or y > h or x + bw < 0 or y + bh < 0:
        raise ValueError(
            f"Expected the person box to overlap {source}, a {w}x{h} photo "
            f"(got (x, y, w, h) = ({x:g}, {y:g}, {bw:g}, {bh:g})); "
            "keypoints or a box of another photo, or of a resized copy?"
        )


def check_in_photo(
    box: np.ndarray,
    joints: np.ndarray,
    confident: np.ndarray,
    image_size: tuple[int, int],
    source: str,
) -> None:
    """Refuse a box or keypoints that miss the photo (a black crop).

    Args:
        box (np.ndarray): ``(x, y, w, h)`` of the person, photo pixels.
        joints (np.ndarray): :math:`(12, 2)` keypoints, photo pixels.
        confident (np.ndarray): :math:`(12,)` bool, the joints used.
        image_size (tuple[int, int]): ``(H, W)`` of the photo.
        source (str): What the photo is, for the message.

    Raises:
        ValueError: the box does not overlap the photo, or no confident
            keypoint lies in it (keypoints of another, or a resized,
            photo).
    """
    h, w = image_size
    check_box_overlaps(box, image_size, source)
    pts = np.asarray(joints, np.float64)
    pts = pts[confident] if confident.any() else pts
    inside = ((pts >= 0) & (pts <= np.array([w, h]))).all(axis=1)
    if not inside.any():
        raise ValueError(
            f"Expected keypoints inside {source}, a {w}x{h} photo (got "
            f"none of {len(pts)} inside: x in [{pts[:, 0].min():g}, "
            f"{pts[:, 0].max():g}], y in [{pts[:, 1].min():g}, "
            f"{pts[:, 1].max():g}]); keypoints of another photo, or of a "
            "resized copy?"
        )
