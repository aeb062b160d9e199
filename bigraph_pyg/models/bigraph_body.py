r"""The bilayer-graph body model (paper Fig. 2, Secs. 4.1-4.4).

:class:`BiGraphBody` encodes the image (Sec. 4.2), builds the mesh input
(Eq. 3) and the skeleton input (Eq. 4), stacks Bilayer-Graph blocks
(Fig. 3), and regresses the coarse mesh, the 12 skeleton joints, a
weak-perspective camera and SMPL parameters. Every graph is a buffer, so
``.to()`` and ``state_dict`` carry them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from bigraph_pyg.geometry import weak_perspective_projection
from bigraph_pyg.metrics import HIP_INDICES
from bigraph_pyg.models.config import BiGraphConfig
from bigraph_pyg.nn.bilayer_block import BilayerBlock
from bigraph_pyg.nn.blocks import GraphLinear
from bigraph_pyg.nn.conv import BipartiteFusionConv
from bigraph_pyg.nn.encoders import (
    ResNetEncoder,
    joint_box_size,
    roi_joint_features,
)
from bigraph_pyg.nn.heads import (
    GraphCameraHead,
    GraphCoordinateHead,
    SMPLParamRegressor,
)
from bigraph_pyg.nn.validate import check_joints_in_image, validation_enabled
from bigraph_pyg.topology import (
    BONES,
    JOINT_NAMES,
    SMPL_TO_JOINTS,
    BodyGraphs,
)

__all__ = ["BiGraphBody", "BiGraphOutput", "pose_embedding"]


def pose_embedding(uv: Tensor, identity: Tensor) -> Tensor:
    r"""The ``"pose"`` joint embedding of the skeleton input (Eq. 4).

    .. math::
        e_i = \bigl(\mathbf{u}_i,\ (\mathbf{u}_i - \bar{\mathbf{u}})
        / \sigma,\ \mathbf{1}_i\bigr)

    the crop-normalised 2D joint :math:`\mathbf{u}_i` (the paper's
    embedding), the same pelvis-relative (:math:`\bar{\mathbf{u}}` the mean
    of the hips) and divided by the pose's spread :math:`\sigma` (the std
    of its pelvis-relative coordinates, so the body's size in the crop
    drops out), and the one-hot joint identity: with shared weights the
    nodes of the skeleton graph are otherwise told apart only by their
    position, and lifting needs to know which joint is which.

    Args:
        uv (Tensor): :math:`(B, 12, 2)` joints in ``[-1, 1]`` crop units.
        identity (Tensor): :math:`(12, 12)` identity matrix.

    Returns:
        Tensor: :math:`(B, 12, 16)`.

    Example:
        >>> uv = torch.rand(2, 12, 2) * 2 - 1
        >>> e = pose_embedding(uv, torch.eye(12))
        >>> e.shape, bool((e[..., :2] == uv).all())
        (torch.Size([2, 12, 16]), True)
    """
    return torch.cat(
        [uv, scale_free_pose(uv), identity.to(uv).expand(uv.shape[0], -1, -1)],
        -1,
    )


def scale_free_pose(uv: Tensor) -> Tensor:
    r"""The 2D pose relative to the pelvis and divided by its spread.

    :math:`(\mathbf{u}_i - \bar{\mathbf{u}}) / \sigma`, with
    :math:`\bar{\mathbf{u}}` the mean of the hips and :math:`\sigma` the std
    of the pelvis-relative coordinates (clamped at ``1e-3``).

    Args:
        uv (Tensor): :math:`(B, J, 2)`.

    Returns:
        Tensor: :math:`(B, J, 2)`.
    """
    rel = uv - uv[:, list(HIP_INDICES)].mean(1, keepdim=True)
    return rel / rel.flatten(1).std(1).clamp_min(1e-3)[:, None, None]


class PoseContext(nn.Module):
    r"""A global pose context for the skeleton nodes (Eq. 4 input).

    .. math::
        \mathbf{C} = \mathrm{reshape}_{J \times d_0}\bigl(W_o\,
        \mathrm{ResBlock}(\mathrm{ReLU}(W_i\,\mathrm{vec}(\tilde{U})))\bigr)

    with :math:`\tilde{U}` the :math:`(J, 2)` pelvis-relative, scale-free 2D
    pose of :func:`pose_embedding` and the residual block two
    Linear-LayerNorm-ReLU layers (a lifting MLP, Martinez et al. 2017,
    narrower). Row :math:`i` is added to skeleton node :math:`i`'s input
    :math:`\mathbf{F}_s^0`. The output layer starts at zero, so at
    initialisation the model is the paper's.

    Args:
        num_joints (int): :math:`J`.
        hidden_channels (int): MLP width.
        out_channels (int): :math:`d_0`.

    Shapes:
        - **input:** :math:`(B, J, 2)`
        - **output:** :math:`(B, J, d_0)`
    """

    def __init__(
        self, num_joints: int, hidden_channels: int, out_channels: int
    ) -> None:
        super().__init__()
        self.num_joints, self.out_channels = num_joints, out_channels
        self.inp = nn.Linear(2 * num_joints, hidden_channels)
        self.block = nn.Sequential(
            nn.Linear(hidden_channels, hidden_channels),
            nn.LayerNorm(hidden_channels),
            nn.ReLU(),
            nn.Linear(hidden_channels, hidden_channels),
            nn.LayerNorm(hidden_channels),
            nn.ReLU(),
        )
        self.out = nn.Linear(hidden_channels, num_joints * out_channels)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, rel: Tensor) -> Tensor:
        h = torch.relu(self.inp(rel.flatten(1)))
        h = h + self.block(h)
        return self.out(h).view(-1, self.num_joints, self.out_channels)


@dataclass
class BiGraphOutput:
    r"""Predictions of :class:`BiGraphBody` (paper Eq. 1 and Sec. 4.4).

    3D quantities are in the units of the template (metres for SMPL and the
    default body); 2D projections are in normalised crop coordinates
    ``[-1, 1]`` (GraphCMR's convention, the units of the 2D loss).

    Attributes:
        vertices (Tensor): Full-resolution mesh :math:`(B, N_0, 3)`, the
            coarse mesh upsampled with :math:`\mathbf{U}`.
        coarse_vertices (Tensor): Mesh-GCN output :math:`\hat{\mathbf{V}}_m`
            :math:`(B, N_m, 3)`.
        mesh_joints (Tensor): :math:`\hat{\mathbf{V}}^{j3d}_m`, the 12 joints
            regressed from ``vertices`` :math:`(B, 12, 3)`.
        skeleton_joints (Tensor or None): Skeleton-GCN output
            :math:`\hat{\mathbf{V}}_s` :math:`(B, 12, 3)`; :obj:`None`
            without a skeleton branch.
        camera (Tensor): Weak-perspective camera :math:`(s, t_x, t_y)`,
            :math:`(B, 3)`.
        rotmat (Tensor): SMPL rotations :math:`(B, 24, 3, 3)`.
        betas (Tensor): SMPL shape :math:`(B, 10)`.
        mesh_joints_2d (Tensor): Projection of ``mesh_joints``
            :math:`(B, 12, 2)`.
        skeleton_joints_2d (Tensor or None): Projection of
            ``skeleton_joints`` :math:`(B, 12, 2)`.
    """

    vertices: Tensor
    coarse_vertices: Tensor
    mesh_joints: Tensor
    skeleton_joints: Tensor | None
    camera: Tensor
    rotmat: Tensor
    betas: Tensor
    mesh_joints_2d: Tensor
    skeleton_joints_2d: Tensor | None


class BiGraphBody(nn.Module):
    r"""Bilayer-graph human mesh and pose recovery (paper Fig. 2).

    .. math::
        \hat{\mathbf{V}}_s, \hat{\mathbf{V}}_m =
        \mathcal{F}(\mathbf{I}, \mathbf{A}_m, \mathbf{A}_s) \quad (1)

    1. :class:`~bigraph_pyg.nn.ResNetEncoder` gives the global feature
       :math:`\mathbf{x}^g_{im}` and the stage maps (Sec. 4.2).
    2. Mesh input (Eq. 3): each template vertex ``xyz`` concatenated with
       :math:`\mathbf{x}^g_{im}`, through a shared :class:`GraphLinear`.
    3. Skeleton input (Eq. 4): the 2D joint in normalised crop coordinates
       concatenated with RoI-Align features from every stage (boxes of side
       the average 2D bone length, :func:`joint_box_size`), through a shared
       :class:`GraphLinear`. Without ``use_local_features`` (Table 4 row B)
       the global feature replaces the RoI features.
    4. ``num_blocks`` :class:`~bigraph_pyg.nn.BilayerBlock`\ s.
    5. Heads (Sec. 4.3.4): two graph linear layers per branch to ``xyz``;
       GraphCMR's camera head on the mesh features; the coarse mesh is
       upsampled to full resolution with the sampler's :math:`\mathbf{U}`;
       the body's joint regressor (rows of the 12 joints) gives
       :math:`\hat{\mathbf{V}}^{j3d}_m`; :class:`SMPLParamRegressor` gives
       SMPL rotations and shape from the coarse mesh.

    Buffers: ``mesh_edge_index``/``mesh_edge_weight`` (:math:`\mathbf{A}_m`),
    ``skeleton_edge_index``/``skeleton_edge_weight`` (:math:`\mathbf{A}_s`,
    with a skeleton), ``fusion_edge_index``/``fusion_edge_weight``
    (:math:`\mathbf{A}_{f,s}` on the union graph, joints first, with the
    graph fusion), ``template_vertices`` :math:`(N_m, 3)`,
    ``joint_regressor`` :math:`(12, N_0)` and the sampler's ``down_l`` /
    ``up_l`` (in ``sampler``).

    Args:
        config (BiGraphConfig): The architecture.
        graphs (BodyGraphs): The body's graphs; ``graphs.level`` must equal
            ``config.mesh_level``.
        body (BodyModel, optional): Provides the joint regressor; must have
            ``graphs.hierarchy.sizes[0]`` vertices and be the body the graphs
            were built from (not checkable).
            (default: :func:`bigraph_pyg.body.default_body`)
        encoder_weights (optional): ``weights`` of
            :class:`~bigraph_pyg.nn.ResNetEncoder` (default: random; a local
            state dict path or a torchvision enum name, which downloads).

    Shapes:
        - **input:** ``images`` :math:`(B, 3, H, W)` float with ``(H, W) =
          config.image_size``; ``joints_2d`` :math:`(B, 12, 2)` pixels
          ``(x, y)`` in :data:`~bigraph_pyg.topology.JOINT_NAMES` order
          (required with a skeleton branch, ignored without one).
        - **output:** :class:`BiGraphOutput`.

    Raises:
        ValueError: (construction) graphs or body that do not match the
            config; (forward) images of the wrong shape or dtype, missing or
            malformed ``joints_2d``, NaN/inf joints, joints outside the image
            (beyond ``config.max_joint_outside``). A zero bone length is not
            an error: :func:`joint_box_size` falls back to a tenth of the
            shorter image side.

    Example:
        >>> from bigraph_pyg.body import default_body
        >>> from bigraph_pyg.topology import BodyGraphs
        >>> body = default_body()
        >>> cfg = BiGraphConfig.preset("cpu", channels=16, input_channels=16,
        ...                            head_channels=8, num_blocks=1,
        ...                            smpl_hidden_channels=8, image_size=64)
        >>> graphs = BodyGraphs.from_body(body, level=cfg.mesh_level)
        >>> model = BiGraphBody(cfg, graphs, body).eval()
        >>> out = model(torch.rand(1, 3, 64, 64), torch.rand(1, 12, 2) * 64)
        >>> out.vertices.shape, out.coarse_vertices.shape, out.camera.shape
        (torch.Size([1, 6890, 3]), torch.Size([1, 431, 3]), torch.Size([1, 3]))
    """

    def __init__(
        self,
        config: BiGraphConfig,
        graphs: BodyGraphs,
        body=None,
        encoder_weights=None,
    ) -> None:
        super().__init__()
        if not isinstance(config, BiGraphConfig):
            raise ValueError(
                "Expected a BiGraphConfig for `config` "
                f"(got {type(config).__name__})"
            )
        if not isinstance(graphs, BodyGraphs):
            raise ValueError(
                "Expected a BodyGraphs for `graphs` "
                f"(got {type(graphs).__name__})"
            )
        if graphs.level != config.mesh_level:
            raise ValueError(
                f"Expected graphs at config.mesh_level={config.mesh_level} "
                f"(got graphs.level={graphs.level}; build them with "
                f"BodyGraphs.from_body(body, level={config.mesh_level}))"
            )
        num_joints = len(JOINT_NAMES)
        if graphs.num_joints != num_joints:
            raise ValueError(
                f"Expected graphs with {num_joints} joints "
                f"(got {graphs.num_joints})"
            )
        self.config = config
        self.num_joints = num_joints
        self.num_vertices = graphs.num_vertices
        self.num_full_vertices = graphs.hierarchy.sizes[0]

        if body is None:
            from bigraph_pyg.body import default_body

            body = default_body()
        if body.num_vertices != self.num_full_vertices:
            raise ValueError(
                f"Expected a body with {self.num_full_vertices} vertices, "
                f"as the graphs' finest level (got {body.num_vertices})"
            )
        graphs = graphs.to(torch.float32)

        # -- buffers: graphs, template, regressor, sampler --------------------
        self.register_buffer("mesh_edge_index", graphs.mesh_graph.edge_index)
        self.register_buffer("mesh_edge_weight", graphs.mesh_graph.edge_weight)
        if config.use_skeleton:
            self.register_buffer(
                "skeleton_edge_index", graphs.skeleton_graph.edge_index
            )
            self.register_buffer(
                "skeleton_edge_weight", graphs.skeleton_graph.edge_weight
            )
        self.uses_fusion_graph = config.use_fusion and config.fusion == "graph"
        if self.uses_fusion_graph:
            self.register_buffer(
                "fusion_edge_index", graphs.fusion_graph.edge_index
            )
            self.register_buffer(
                "fusion_edge_weight", graphs.fusion_graph.edge_weight
            )
        self.register_buffer(
            "template_vertices",
            graphs.hierarchy.vertices[config.mesh_level].clone(),
        )
        regressor = body.joint_regressor.detach()
        regressor = regressor[list(SMPL_TO_JOINTS)].to(
            device=self.template_vertices.device, dtype=torch.float32
        )
        self.register_buffer("joint_regressor", regressor)
        bones = [(JOINT_NAMES.index(a), JOINT_NAMES.index(b)) for a, b in BONES]
        self.register_buffer("bones", torch.tensor(bones), persistent=False)
        self.sampler = graphs.sampler()

        # -- encoder and inputs (Eqs. 3, 4) -----------------------------------
        self.encoder = ResNetEncoder(config.encoder, weights=encoder_weights)
        d_g = self.encoder.out_channels
        d_0 = config.input_channels
        self.mesh_input = GraphLinear(3 + d_g, d_0)
        if config.use_skeleton:
            d_s = (
                sum(self.encoder.stage_channels) * config.roi_size**2
                if config.use_local_features
                else d_g
            )
            d_e = 2
            if config.joint_embedding == "pose":
                self.register_buffer(
                    "joint_identity", torch.eye(num_joints), persistent=False
                )
                d_e = 4 + num_joints
            self.skeleton_input = GraphLinear(d_e + d_s, d_0)
        else:
            self.skeleton_input = None
        self.pose_context = (
            PoseContext(num_joints, config.pose_context_channels, d_0)
            if config.pose_context_channels
            else None
        )
        if config.image_feature_gate:
            # ReZero-style: the image features enter as far as they help.
            self.mesh_image_gate = nn.Parameter(torch.zeros(()))
            if config.use_skeleton:
                self.skeleton_image_gate = nn.Parameter(torch.zeros(()))

        # -- Bilayer-Graph blocks (Fig. 3) ------------------------------------
        fused = set(config.fusion_block_indices())
        num_fusion_edges = (
            graphs.fusion_graph.num_edges if self.uses_fusion_graph else None
        )
        self.blocks = nn.ModuleList(
            [
                BilayerBlock(
                    d_0 if i == 0 else config.channels,
                    config.channels,
                    config.block_hidden_channels,
                    use_skeleton=config.use_skeleton,
                    fusion=config.fusion if i in fused else "none",
                    num_fusion_edges=num_fusion_edges,
                    num_joints=num_joints,
                    shared_weights=config.shared_weights,
                    channels_per_group=config.channels_per_group,
                    fusion_impl=config.fusion_impl,
                )
                for i in range(config.num_blocks)
            ]
        )

        # -- heads (Sec. 4.3.4, 4.4) ------------------------------------------
        self.mesh_head = GraphCoordinateHead(
            config.channels,
            config.head_channels,
            channels_per_group=config.channels_per_group,
        )
        self.skeleton_head = (
            GraphCoordinateHead(
                config.channels,
                config.head_channels,
                channels_per_group=config.channels_per_group,
            )
            if config.use_skeleton
            else None
        )
        self.camera_head = GraphCameraHead(
            config.channels, self.num_vertices, config.channels_per_group
        )
        self.smpl_regressor = SMPLParamRegressor(
            num_vertices=self.num_vertices,
            hidden_channels=config.smpl_hidden_channels,
        )

    @classmethod
    def from_body(
        cls, config: BiGraphConfig, body=None, encoder_weights=None
    ) -> BiGraphBody:
        """Build ``body``'s graphs at ``config.mesh_level``, then the model.

        Args:
            config (BiGraphConfig): The architecture.
            body (BodyModel, optional): (default: the default body)
            encoder_weights (optional): See the class docstring.

        Returns:
            BiGraphBody: the model (graph building takes a few seconds).
        """
        if body is None:
            from bigraph_pyg.body import default_body

            body = default_body()
        graphs = BodyGraphs.from_body(body, level=config.mesh_level)
        return cls(config, graphs, body, encoder_weights)

    # -- input checks ---------------------------------------------------------

    def _check_images(self, images: object) -> Tensor:
        h, w = self.config.image_size
        if (
            not isinstance(images, Tensor)
            or images.dim() != 4
            or images.shape[1] != 3
            or tuple(images.shape[2:]) != (h, w)
            or not images.is_floating_point()
            or images.shape[0] == 0
        ):
            raise ValueError(
                f"Expected float images of shape (B, 3, {h}, {w}) for "
                "`images` (config.image_size) (got "
                f"{getattr(images, 'dtype', type(images).__name__)} "
                f"{tuple(getattr(images, 'shape', ()))})"
            )
        return images

    def _check_joints(
        self, joints_2d: object, batch: int | None, dtype: torch.dtype | None
    ) -> Tensor:
        if batch is None:  # image-free forward: the joints set the batch
            batch = getattr(joints_2d, "shape", (0,))[0]
        if joints_2d is None:
            raise ValueError(
                f"Expected `joints_2d` of shape ({batch}, {self.num_joints}, "
                "2) in pixels: this config uses the skeleton graph (got "
                "None; use the 'graphcmr' preset for a model without it)"
            )
        if (
            not isinstance(joints_2d, Tensor)
            or tuple(joints_2d.shape) != (batch, self.num_joints, 2)
            or not joints_2d.is_floating_point()
        ):
            raise ValueError(
                f"Expected float `joints_2d` of shape ({batch}, "
                f"{self.num_joints}, 2) in pixels (got "
                f"{getattr(joints_2d, 'dtype', type(joints_2d).__name__)} "
                f"{tuple(getattr(joints_2d, 'shape', ()))})"
            )
        if validation_enabled():
            h, w = self.config.image_size
            check_joints_in_image(
                joints_2d,
                h,
                w,
                self.config.max_joint_outside,
                "replace missing detections before calling the model",
            )
        return joints_2d if dtype is None else joints_2d.to(dtype)

    # -- forward --------------------------------------------------------------

    def _skeleton_input(
        self, joints_2d: Tensor, g: Tensor | None, enc
    ) -> Tensor:
        """Eq. 4: the joint embedding (+) RoI features, through F_s^0.

        ``enc`` None: image-free (zero image features). The embedding is
        the 2D joint normalised to the crop, with joint_embedding "pose"
        also pelvis-relative and scale-free, and the joint's identity.
        """
        cfg = self.config
        h, w = cfg.image_size
        uv = 2.0 * joints_2d / joints_2d.new_tensor([w, h]) - 1.0
        context = (
            None
            if self.pose_context is None
            else self.pose_context(scale_free_pose(uv))
        )
        if cfg.joint_embedding == "pose":
            uv = pose_embedding(uv, self.joint_identity)
        if enc is None:
            d_s = self.skeleton_input.in_channels - uv.shape[-1]
            feats = uv.new_zeros(*uv.shape[:-1], d_s)
        elif cfg.use_local_features:
            box = joint_box_size(joints_2d, self.bones, (h, w))
            feats = roi_joint_features(
                enc.feature_maps,
                joints_2d,
                (h, w),
                box,
                output_size=cfg.roi_size,
                strides=enc.strides,
                max_outside=cfg.max_joint_outside,
            )
        else:
            feats = g[:, None].expand(-1, self.num_joints, -1)
        if enc is not None and cfg.image_feature_gate:
            feats = feats * self.skeleton_image_gate.to(feats.dtype)
        x = self.skeleton_input(torch.cat([uv, feats], dim=-1))
        return x if context is None else x + context

    def forward(
        self, images: Tensor | None, joints_2d: Tensor | None = None
    ) -> BiGraphOutput:
        """Predict mesh, joints, camera and SMPL parameters.

        With ``images=None`` the model runs **image-free**: the global and
        the RoI features of Eqs. 3 and 4 are zeros, so only the 2D joints
        (and the template) carry information. The trainer uses it for the
        pose-only lifting samples (:attr:`TrainConfig.lift_batch_size
        <bigraph_pyg.engine.TrainConfig>`), which teach the skeleton branch
        to lift 2D to 3D from many more poses than are rendered.

        Args:
            images (Tensor or None): :math:`(B, 3, H, W)`, normalised as the
                encoder weights expect; :obj:`None` for an image-free
                forward (needs ``joints_2d`` and a skeleton branch).
            joints_2d (Tensor, optional): :math:`(B, 12, 2)` pixel ``(x,
                y)`` (e.g. HRNet detections); required with a skeleton.

        Returns:
            BiGraphOutput: the predictions.
        """
        cfg = self.config
        if images is None:
            if not cfg.use_skeleton:
                raise ValueError(
                    "Expected `images` for a model without a skeleton branch"
                    " (got None: an image-free forward needs 2D joints)"
                )
            joints_2d = self._check_joints(joints_2d, None, None)
            batch = joints_2d.shape[0]
            d_g = self.encoder.out_channels
            g = joints_2d.new_zeros(batch, d_g)
        else:
            images = self._check_images(images)
            batch = images.shape[0]
            if cfg.use_skeleton:
                joints_2d = self._check_joints(joints_2d, batch, images.dtype)
            enc = self.encoder(images)
            g = enc.global_feature

        # Eq. 3: template xyz (+) global feature -> shared linear.
        template = self.template_vertices.to(g.dtype)
        g_m = (
            g * self.mesh_image_gate.to(g.dtype)
            if cfg.image_feature_gate
            else g
        )
        x_m = self.mesh_input(
            torch.cat(
                [
                    template.expand(batch, -1, -1),
                    g_m[:, None].expand(-1, self.num_vertices, -1),
                ],
                dim=-1,
            )
        )

        x_s = (
            self._skeleton_input(joints_2d, g, None if images is None else enc)
            if cfg.use_skeleton
            else None
        )

        skel_ei = getattr(self, "skeleton_edge_index", None)
        skel_ew = getattr(self, "skeleton_edge_weight", None)
        fus_ei = getattr(self, "fusion_edge_index", None)
        fus_ew = getattr(self, "fusion_edge_weight", None)
        for block in self.blocks:
            x_s, x_m = block(
                x_s,
                x_m,
                self.mesh_edge_index,
                self.mesh_edge_weight,
                skel_ei,
                skel_ew,
                fus_ei,
                fus_ew,
            )

        coarse = self.mesh_head(x_m)
        camera = self.camera_head(x_m)
        vertices = self.sampler.upsample(coarse, start=cfg.mesh_level, end=0)
        mesh_joints = torch.einsum(
            "jn,bnc->bjc", self.joint_regressor.to(vertices.dtype), vertices
        )
        skeleton_joints = self.skeleton_head(x_s) if cfg.use_skeleton else None
        smpl = self.smpl_regressor(coarse, template=template)
        return BiGraphOutput(
            vertices=vertices,
            coarse_vertices=coarse,
            mesh_joints=mesh_joints,
            skeleton_joints=skeleton_joints,
            camera=camera,
            rotmat=smpl.rotmat,
            betas=smpl.betas,
            mesh_joints_2d=weak_perspective_projection(mesh_joints, camera),
            skeleton_joints_2d=(
                None
                if skeleton_joints is None
                else weak_perspective_projection(skeleton_joints, camera)
            ),
        )

    def lift(self, joints_2d: Tensor) -> Tensor:
        r"""The Skeleton-GCN alone, image-free: 2D joints to 3D joints.

        The skeleton input (Eq. 4) with zero image features, the skeleton
        sub-block of every Bilayer-Graph block on :math:`\mathbf{A}_s`
        without the fusion (there is no mesh to fuse with), and the skeleton
        head. It shares every weight it uses with :meth:`forward` and costs
        a few percent of an image-free :meth:`forward` (12 nodes instead of
        :math:`12 + N_m`): the trainer runs it on thousands of pose-only
        samples a step (:attr:`TrainConfig.lift_batch_size
        <bigraph_pyg.engine.TrainConfig>`), so the skeleton branch learns
        to lift from far more poses than are rendered.

        Args:
            joints_2d (Tensor): :math:`(B, 12, 2)` pixels of an image of
                ``config.image_size``.

        Returns:
            Tensor: :math:`(B, 12, 3)` skeleton joints
            (:math:`\hat{\mathbf{V}}_s`).

        Raises:
            ValueError: a model without a skeleton branch, or malformed
                ``joints_2d``.
        """
        if not self.config.use_skeleton:
            raise ValueError(
                "Expected a model with a skeleton branch for lift() (got "
                "use_skeleton=False)"
            )
        joints_2d = self._check_joints(joints_2d, None, None)
        x_s = self._skeleton_input(joints_2d, None, None)
        for block in self.blocks:
            x_s = block.skeleton(
                x_s, self.skeleton_edge_index, self.skeleton_edge_weight
            )
        return self.skeleton_head(x_s)

    # -- fusion graph (Fig. 4) ------------------------------------------------

    def fusion_block_indices(self) -> tuple[int, ...]:
        """Indices of the blocks with a learned fusion graph."""
        return tuple(
            i
            for i, b in enumerate(self.blocks)
            if isinstance(b.fusion_conv, BipartiteFusionConv)
        )

    @torch.no_grad()
    def fusion_adjacency(self, block: int | None = None) -> Tensor:
        r"""Learned :math:`\mathbf{A}_f` of one block, per edge (Fig. 4).

        :math:`\mathrm{RowNorm}(\mathbf{A}_{f,s} \odot \mathbf{W}_f)`
        (Eq. 5) in the order of the ``fusion_edge_index`` buffer (union
        graph, joints ``0..11`` then vertices).

        Args:
            block (int, optional): Block index (negative counts from the
                end). (default: the first block with a fusion graph)

        Returns:
            Tensor: :math:`(E_f,)`.

        Raises:
            ValueError: the model has no fusion graph, or ``block`` has
                none.
        """
        fused = self.fusion_block_indices()
        if not fused:
            raise ValueError(
                "Expected a model with a fusion graph (got use_fusion="
                f"{self.config.use_fusion}, fusion={self.config.fusion!r})"
            )
        n = len(self.blocks)
        if block is None:
            block = fused[0]
        if (
            isinstance(block, bool)
            or not isinstance(block, int)
            or not -n <= block < n
            or block % n not in fused
        ):
            raise ValueError(
                f"Expected `block` in {list(fused)} (the blocks "
                f"with a fusion graph) (got {block!r})"
            )
        conv = self.blocks[block % n].fusion_conv
        return conv.adjacency(self.fusion_edge_index, self.fusion_edge_weight)

    # -- loss (Eq. 6) ---------------------------------------------------------

    def extra_repr(self) -> str:
        """Show the mesh and skeleton sizes in ``repr``."""
        return (
            f"num_vertices={self.num_vertices}, "
            f"num_full_vertices={self.num_full_vertices}, "
            f"num_joints={self.num_joints}"
        )
