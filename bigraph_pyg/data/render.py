r"""Headless body rendering with pyrender (EGL): shaded image, mask, parts.

The renderer draws a posed body given in the **camera frame** (OpenCV
convention: metres, ``x`` right, ``y`` down, ``z`` forward) through pinhole
intrinsics ``K`` whose pixel centres sit at integer coordinates, so a point
:math:`\mathbf{X}` lands at pixel :math:`(u, v) = (f_x X / Z + c_x,
f_y Y / Z + c_y)`.

Two passes per image, both through one :class:`pyrender.OffscreenRenderer`
reused across samples (one per worker process):

1. **colour** (``FLAT | RGBA``, 4x MSAA, one draw call): per-vertex
   colours already lit by
   :func:`~bigraph_pyg.data.shading.shade_vertices` (Lambert + ambient,
   computed in numpy: Gouraud shading). pyrender's own PBR shading costs
   ~40 ms per 224² frame on the CPU (llvmpipe) against ~8 ms for this
   pass, and looks the same on matte clothing. The alpha channel
   (anti-aliased coverage) composites the body over the background.
2. **segmentation** (``SEG``, no MSAA): one node per body part (see
   :data:`PART_NAMES`), drawn with its label, so the part map is exact; the
   person mask is ``part_seg > 0``.

``PYOPENGL_PLATFORM`` is set to ``'egl'`` on first use unless already set.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

__all__ = [
    "PART_NAMES",
    "SMPL_JOINT_TO_PART",
    "BodyRenderer",
    "RenderOutput",
    "face_labels",
    "vertex_part_labels",
]

#: Part-segmentation classes (label = index): background and the six parts
#: of the LSP part-segmentation benchmark (UP-3D's six-part labelling used by
#: GraphCMR/SPIN's evaluation), named here in our own order.
PART_NAMES: tuple[str, ...] = (
    "background",
    "head",
    "torso",
    "left_arm",
    "right_arm",
    "left_leg",
    "right_leg",
)

#: Part of every SMPL joint's skinning region (``SMPL_JOINT_NAMES`` order).
#: A vertex belongs to the part of its dominant skinning joint.
SMPL_JOINT_TO_PART: dict[str, str] = {
    "pelvis": "torso",
    "left_hip": "left_leg",
    "right_hip": "right_leg",
    "spine1": "torso",
    "left_knee": "left_leg",
    "right_knee": "right_leg",
    "spine2": "torso",
    "left_ankle": "left_leg",
    "right_ankle": "right_leg",
    "spine3": "torso",
    "left_foot": "left_leg",
    "right_foot": "right_leg",
    "neck": "head",
    "left_collar": "torso",
    "right_collar": "torso",
    "head": "head",
    "left_shoulder": "left_arm",
    "right_shoulder": "right_arm",
    "left_elbow": "left_arm",
    "right_elbow": "right_arm",
    "left_wrist": "left_arm",
    "right_wrist": "right_arm",
    "left_hand": "left_arm",
    "right_hand": "right_arm",
}


def vertex_part_labels(skinning_weights: np.ndarray) -> np.ndarray:
    """Part label (index into :data:`PART_NAMES`) of every vertex.

    Args:
        skinning_weights (np.ndarray): :math:`(V, 24)` SMPL-order weights.

    Returns:
        np.ndarray: :math:`(V,)` uint8 labels in ``[1, 6]``.

    Raises:
        ValueError: weights not of shape ``(V, 24)``.
    """
    from bigraph_pyg.topology import SMPL_JOINT_NAMES

    w = np.asarray(skinning_weights)
    if w.ndim != 2 or w.shape[1] != len(SMPL_JOINT_NAMES):
        raise ValueError(
            f"Expected 'skinning_weights' of shape (V, 24) (got {w.shape})"
        )
    table = np.array(
        [PART_NAMES.index(SMPL_JOINT_TO_PART[n]) for n in SMPL_JOINT_NAMES],
        dtype=np.uint8,
    )
    return table[w.argmax(axis=1)]


def face_labels(faces: np.ndarray, vertex_labels: np.ndarray) -> np.ndarray:
    """Label of every face: the majority of its three vertices' labels.

    A face whose three vertices disagree takes its first vertex's label.

    Args:
        faces (np.ndarray): :math:`(F, 3)` vertex indices.
        vertex_labels (np.ndarray): :math:`(V,)` labels.

    Returns:
        np.ndarray: :math:`(F,)` labels, dtype of ``vertex_labels``.
    """
    lab = np.asarray(vertex_labels)[np.asarray(faces)]
    out = lab[:, 0].copy()
    bc = (lab[:, 1] == lab[:, 2]) & (lab[:, 0] != lab[:, 1])
    out[bc] = lab[bc, 1]
    return out


@dataclass(frozen=True)
class RenderOutput:
    """One rendered frame.

    Attributes:
        rgba (np.ndarray): :math:`(H, W, 4)` uint8; alpha is the
            anti-aliased body coverage.
        part_seg (np.ndarray): :math:`(H, W)` uint8 part labels
            (:data:`PART_NAMES`; 0 = background).
    """

    rgba: np.ndarray
    part_seg: np.ndarray

    @property
    def mask(self) -> np.ndarray:
        """:math:`(H, W)` uint8 person mask (``part_seg > 0``)."""
        return (self.part_seg > 0).astype(np.uint8)


_OFFSCREEN: list = []  # the process's one pyrender.OffscreenRenderer


def _offscreen_renderer(pyrender):
    """The process's shared :class:`pyrender.OffscreenRenderer`.

    One per process, never deleted before exit: pyrender's EGL backend calls
    ``eglTerminate`` on the process-wide display when any renderer is
    deleted, which breaks every other renderer of the process (e.g. a
    dataset's and an evaluator's).  Each :class:`BodyRenderer` sets the
    viewport to its own size before drawing.
    """
    if not _OFFSCREEN:
        _OFFSCREEN.append(pyrender.OffscreenRenderer(1, 1))
    return _OFFSCREEN[0]


class BodyRenderer:
    """Renders one posed body mesh per call; reuse it across samples.

    Args:
        faces (np.ndarray): :math:`(F, 3)` triangles.
        vertex_labels (np.ndarray): :math:`(V,)` part labels in
            ``[1, len(PART_NAMES))`` (see :func:`vertex_part_labels`).
        width (int): Image width in pixels. (default: ``224``)
        height (int): Image height in pixels. (default: ``224``)

    Raises:
        RuntimeError: no OpenGL context could be created (EGL missing);
            the message says what to install.
    """

    def __init__(
        self,
        faces: np.ndarray,
        vertex_labels: np.ndarray,
        width: int = 224,
        height: int = 224,
    ):
        os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
        try:
            import pyrender
        except ImportError as err:  # pragma: no cover - dependency
            raise ImportError(
                "Expected pyrender for synthetic rendering (got an "
                f"ImportError: {err}); pip install pyrender"
            ) from err
        self._pyrender = pyrender
        faces = np.asarray(faces, dtype=np.int64)
        labels = np.asarray(vertex_labels)
        flab = face_labels(faces, labels)
        self.faces = faces
        self._faces32 = faces.astype(np.uint32)
        self.num_vertices = len(labels)
        self.width, self.height = int(width), int(height)
        # Per part: the vertices it uses and its faces re-indexed into them.
        self._parts = []
        for p in range(1, len(PART_NAMES)):
            pf = faces[flab == p]
            if len(pf) == 0:
                continue
            vidx, inv = np.unique(pf.reshape(-1), return_inverse=True)
            self._parts.append((p, vidx, inv.reshape(-1, 3).astype(np.uint32)))
        try:
            self._renderer = _offscreen_renderer(pyrender)
        except Exception as err:
            raise RuntimeError(
                "Expected an OpenGL context for headless rendering (got "
                f"{type(err).__name__}: {err}); install EGL (e.g. apt "
                "libegl1 libgl1) and set PYOPENGL_PLATFORM='egl'"
            ) from err
        self._scene = pyrender.Scene(
            bg_color=[0.0, 0.0, 0.0, 0.0], ambient_light=[1.0, 1.0, 1.0]
        )
        self._cam_node = None
        self._full = None
        self._part_meshes: list = []
        self._seg_map: dict = {}

    def _add_meshes(self, v_gl: np.ndarray, col: np.ndarray) -> None:
        """First call: add the full mesh and the part meshes for good."""
        pr = self._pyrender
        self._full = pr.Mesh(
            [
                pr.Primitive(
                    positions=v_gl, indices=self._faces32, color_0=col, mode=4
                )
            ]
        )
        self._scene.add(self._full)
        for label, vidx, tri in self._parts:
            mesh = pr.Mesh(
                [pr.Primitive(positions=v_gl[vidx], indices=tri, mode=4)],
                is_visible=False,
            )
            self._part_meshes.append(mesh)
            self._seg_map[self._scene.add(mesh)] = (label, label, label)

    def _write(
        self, mesh, positions: np.ndarray, colors: np.ndarray | None = None
    ) -> None:
        """Overwrite a mesh's vertex buffer in place (no new GL objects).

        pyrender uploads a primitive once, as one interleaved float32
        buffer (positions, then colours), and offers no update; re-creating
        the primitives every frame costs more than the colour pass itself
        on a CPU renderer. The layout is pyrender 0.1.45's (its last
        release).
        """
        from OpenGL.GL import GL_ARRAY_BUFFER, glBindBuffer, glBufferSubData

        prim = mesh.primitives[0]
        prim.positions = positions  # keeps pyrender's bounds right
        mesh._bounds = None
        data = (
            positions
            if colors is None
            else np.concatenate([positions, colors], axis=1)
        )
        if colors is not None:
            prim.color_0 = colors
        if prim._vaid is None:  # not uploaded yet: uploaded at render
            return
        data = np.ascontiguousarray(data, dtype=np.float32)
        glBindBuffer(GL_ARRAY_BUFFER, prim._buffers[0])
        glBufferSubData(GL_ARRAY_BUFFER, 0, data.nbytes, data)

    def render(
        self, vertices: np.ndarray, K: np.ndarray, colors: np.ndarray
    ) -> RenderOutput:
        """Render the body.

        Args:
            vertices (np.ndarray): :math:`(V, 3)` camera-frame positions,
                metres (OpenCV axes), all in front of the camera.
            K (np.ndarray): :math:`(3, 3)` intrinsics, pixel centres at
                integers.
            colors (np.ndarray): :math:`(V, 3)` lit vertex colours in
                ``[0, 1]`` (see
                :func:`~bigraph_pyg.data.shading.shade_vertices`).

        Returns:
            RenderOutput: the RGBA frame and the part map.

        Raises:
            ValueError: ``vertices`` or ``colors`` not of shape ``(V, 3)``.
        """
        if np.shape(vertices) != (self.num_vertices, 3) or np.shape(colors) != (
            self.num_vertices,
            3,
        ):
            raise ValueError(
                f"Expected vertices and colors of shape ({self.num_vertices}"
                f", 3) (got {np.shape(vertices)} and {np.shape(colors)})"
            )
        # OpenCV camera frame -> OpenGL camera frame (y up, looking at -z).
        v_gl = np.asarray(vertices, np.float32) * np.array(
            [1.0, -1.0, -1.0], np.float32
        )
        col = np.concatenate(
            [
                np.asarray(colors, np.float32),
                np.ones((len(v_gl), 1), np.float32),
            ],
            axis=1,
        )
        self._place_camera(v_gl, K)
        self._update_meshes(v_gl, col)
        return self._draw()

    def _place_camera(self, v_gl: np.ndarray, K: np.ndarray) -> None:
        """Replace the scene's camera by one with intrinsics ``K``.

        The clipping planes bracket the body: ``znear`` half its nearest
        depth, ``zfar`` twice its farthest plus a metre.
        """
        scene = self._scene
        if self._cam_node is not None:
            scene.remove_node(self._cam_node)
        z = v_gl[:, 2]
        znear = max(float(-z.max()) * 0.5, 0.01)
        zfar = float(-z.min()) * 2.0 + 1.0
        # pyrender's principal point puts pixel centres at +0.5.
        cam = self._pyrender.IntrinsicsCamera(
            fx=float(K[0, 0]),
            fy=float(K[1, 1]),
            cx=float(K[0, 2]) + 0.5,
            cy=float(K[1, 2]) + 0.5,
            znear=znear,
            zfar=zfar,
        )
        self._cam_node = scene.add(cam)

    def _update_meshes(self, v_gl: np.ndarray, col: np.ndarray) -> None:
        """Put this frame's positions and colours into the scene's meshes."""
        if self._full is None:
            self._add_meshes(v_gl, col)
        else:
            self._write(self._full, v_gl, col)
            for mesh, (_, vidx, _) in zip(
                self._part_meshes, self._parts, strict=True
            ):
                self._write(mesh, v_gl[vidx])

    def _draw(self) -> RenderOutput:
        """Run the colour pass, then the segmentation pass."""
        scene = self._scene
        # Colour pass: the full mesh (one draw call), parts hidden. Seg
        # pass: only nodes in ``seg_map`` are drawn, i.e. the parts.
        flags = self._pyrender.RenderFlags
        self._renderer.viewport_width = self.width
        self._renderer.viewport_height = self.height
        rgba, _ = self._renderer.render(scene, flags=flags.FLAT | flags.RGBA)
        for mesh in self._part_meshes:
            mesh.is_visible = True
        try:
            seg, _ = self._renderer.render(
                scene, flags=flags.SEG, seg_node_map=self._seg_map
            )
        finally:
            for mesh in self._part_meshes:
                mesh.is_visible = False
        return RenderOutput(
            np.ascontiguousarray(rgba), np.ascontiguousarray(seg[..., 0])
        )

    def close(self) -> None:
        """Drop this renderer's reference to the process's OpenGL context.

        The context itself (:func:`_offscreen_renderer`) lives until the
        process exits: pyrender's EGL ``delete`` terminates the process-wide
        EGL display, which would invalidate every other live renderer.
        """
        self._renderer = None

    def __del__(self):  # pragma: no cover - interpreter shutdown
        try:
            self.close()
        except Exception:
            pass
