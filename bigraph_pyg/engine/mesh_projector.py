"""Part labels of a predicted mesh, rendered for the segmentation scores.

:class:`MeshProjector` renders a mesh seen through the model's
weak-perspective camera into a part-label image, which
:func:`~bigraph_pyg.engine.evaluate` compares with the LSP-style
``part_seg`` ground truth (paper Sec. 5.1).
"""

from __future__ import annotations

import numpy as np
from torch import Tensor

__all__ = ["MeshProjector"]


class MeshProjector:
    """Part labels of a mesh projected with a weak-perspective camera.

    Renders the mesh through a pinhole camera far away (depth
    ``distance`` metres, focal length chosen so the projection equals the
    weak-perspective one at the model origin) with
    :class:`bigraph_pyg.data.render.BodyRenderer` (pyrender, headless).

    Args:
        faces (Tensor or np.ndarray): :math:`(F, 3)`.
        skinning_weights (Tensor or np.ndarray): :math:`(V, 24)`; a
            vertex's part is its dominant joint's part.
        image_size (tuple[int, int]): ``(H, W)`` of the label maps.
        distance (float): Camera distance. (default: ``50``)
    """

    def __init__(
        self, faces, skinning_weights, image_size, distance: float = 50.0
    ) -> None:
        from bigraph_pyg.data.render import BodyRenderer, vertex_part_labels

        h, w = image_size
        labels = vertex_part_labels(np.asarray(skinning_weights))
        self.renderer = BodyRenderer(
            np.asarray(faces), labels, width=w, height=h
        )
        self.size = (h, w)
        self.distance = float(distance)
        self.num_vertices = len(labels)

    def part_labels(self, vertices: Tensor, camera: Tensor) -> np.ndarray:
        """Render part labels.

        Args:
            vertices (Tensor): :math:`(V, 3)` model frame, metres.
            camera (Tensor): :math:`(3,)` ``(s, t_x, t_y)``.

        Returns:
            np.ndarray: :math:`(H, W)` uint8, 0 = background.
        """
        h, w = self.size
        v = vertices.detach().double().cpu().numpy()
        s, tx, ty = (float(c) for c in camera.detach().cpu())
        s = max(abs(s), 1e-3)
        d = self.distance
        cam = v + np.array([tx, ty, d])
        K = np.array(
            [[s * w / 2 * d, 0, w / 2], [0, s * h / 2 * d, h / 2], [0, 0, 1]]
        )
        colors = np.full((len(v), 3), 0.5)
        return self.renderer.render(cam, K, colors).part_seg
