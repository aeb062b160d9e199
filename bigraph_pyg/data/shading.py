r"""Per-vertex colours for the renderer, computed in numpy.

:class:`~bigraph_pyg.data.render.BodyRenderer` draws colours already lit
(Gouraud shading): :func:`vertex_normals` (area-weighted, through the
vertex-face incidence :func:`face_incidence`, reusable across frames) and
:func:`shade_vertices` (Lambert + ambient). All arrays are in the camera
frame.
"""

from __future__ import annotations

import numpy as np

__all__ = ["face_incidence", "shade_vertices", "vertex_normals"]


def face_incidence(faces: np.ndarray, num_vertices: int):
    """Sparse vertex-face incidence :math:`(V, F)` (scipy CSR, ones).

    Args:
        faces (np.ndarray): :math:`(F, 3)` int vertex indices.
        num_vertices (int): Number of vertices ``V``.

    Returns:
        scipy.sparse.csr_matrix: :math:`(V, F)` float64, 1 where the
        vertex is a corner of the face.
    """
    import scipy.sparse as sp

    f = np.asarray(faces)
    rows = f.reshape(-1)
    cols = np.repeat(np.arange(len(f)), 3)
    return sp.csr_matrix(
        (np.ones(len(rows)), (rows, cols)), shape=(num_vertices, len(f))
    )


def vertex_normals(
    vertices: np.ndarray, faces: np.ndarray, incidence=None
) -> np.ndarray:
    """Area-weighted unit vertex normals (right-hand rule on ``faces``).

    Args:
        vertices (np.ndarray): :math:`(V, 3)`.
        faces (np.ndarray): :math:`(F, 3)` int.
        incidence (scipy.sparse matrix, optional): :func:`face_incidence`
            of ``faces``, to reuse across calls.

    Returns:
        np.ndarray: :math:`(V, 3)` float32 unit normals (zero for unused
        vertices).
    """
    v = np.asarray(vertices, dtype=np.float64)
    tri = v[faces]
    fn = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    if incidence is None:
        incidence = face_incidence(faces, len(v))
    n = incidence @ fn
    norm = np.linalg.norm(n, axis=1, keepdims=True)
    return (n / np.maximum(norm, 1e-12)).astype(np.float32)


def shade_vertices(
    colors: np.ndarray,
    normals: np.ndarray,
    light_dir: np.ndarray,
    ambient: float,
    diffuse: float,
    light_color: np.ndarray | None = None,
) -> np.ndarray:
    r"""Lambertian vertex shading.

    .. math::
        \mathbf{c}' = \mathrm{clip}\big(\mathbf{c} \odot \mathbf{l}_c
        \,(a + d \max(0, \mathbf{n} \cdot \boldsymbol{\ell})), 0, 1\big)

    Args:
        colors (np.ndarray): Albedo :math:`(V, 3)` in ``[0, 1]``.
        normals (np.ndarray): Unit normals :math:`(V, 3)`, camera frame.
        light_dir (np.ndarray): Unit vector :math:`(3,)` pointing **towards**
            the light, camera frame.
        ambient (float): Ambient term ``a``.
        diffuse (float): Diffuse term ``d``.
        light_color (np.ndarray, optional): RGB gain :math:`(3,)`.

    Returns:
        np.ndarray: :math:`(V, 3)` float32 lit colours in ``[0, 1]``.
    """
    lam = np.clip(normals @ np.asarray(light_dir, np.float32), 0.0, None)
    gain = ambient + diffuse * lam[:, None]
    out = colors * gain
    if light_color is not None:
        out = out * np.asarray(light_color, np.float32)
    return np.clip(out, 0.0, 1.0).astype(np.float32)
