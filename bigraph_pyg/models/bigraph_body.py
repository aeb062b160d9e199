r"""The bilayer-graph body model (paper Fig. 2, Secs. 4.1-4.4).

:class:`BiGraphBody` encodes the image (Sec. 4.2), builds the mesh input
(Eq. 3) and the skeleton input (Eq. 4; both in :mod:`.node_inputs`), stacks
Bilayer-Graph blocks (Fig. 3), and regresses the coarse mesh, the 12
skeleton joints, a weak-perspective camera and SMPL parameters
(:class:`~bigraph_pyg.models.BiGraphOutput`).

Below the class, what its constructor builds from the config and the
graphs:

* its **buffers** (:func:`body_buffers`, :func:`bone_index`): the graphs
  (:math:`\mathbf{A}_m`, :math:`\mathbf{A}_s`, :math:`\mathbf{A}_{f,s}`) as
  ``edge_index``/``edge_weight`` pairs, the template mesh, the joint
  regressor and the skeleton's bones, buffers as smplx keeps its
  ``faces_tensor``, so ``.to()`` and ``state_dict`` carry them;
* its **layers** (:func:`build_input_layers`, :func:`build_blocks`,
  :func:`build_heads`): the shared input layers of Eqs. 3 and 4, the
  Bilayer-Graph blocks (Fig. 3) and the heads (Sec. 4.3.4, 4.4), each
  built in the order the model has always created them, the order their
  random initialisation follows.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from bigraph_pyg.models._input_checks import (
    check_config_and_graphs,
    check_fusion_block,
    check_images,
    check_joints_2d,
    check_placement,
    check_train_batch,
    resolve_body,
)
from bigraph_pyg.models.config import BiGraphConfig
from bigraph_pyg.models.node_inputs import (
    PoseContext,
    mesh_node_input,
    skeleton_input_channels,
    skeleton_node_input,
)
from bigraph_pyg.models.output import BiGraphOutput
from bigraph_pyg.nn.bilayer_block import BilayerBlock
from bigraph_pyg.nn.blocks import GraphLinear
from bigraph_pyg.nn.conv import BipartiteFusionConv
from bigraph_pyg.nn.encoders import EncoderOutput, ResNetEncoder
from bigraph_pyg.nn.heads import (
    GraphCameraHead,
    GraphCoordinateHead,
    SMPLParamRegressor,
)
from bigraph_pyg.nn.sampling import MeshSampler
from bigraph_pyg.nn.validate import check_joints_in_image, validation_enabled
from bigraph_pyg.topology import BONES, JOINT_NAMES, SMPL_TO_JOINTS, BodyGraphs

__all__ = ["BiGraphBody"]


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
        check_config_and_graphs(config, graphs)
        self.config = config
        self.num_joints = len(JOINT_NAMES)
        self.num_vertices = graphs.num_vertices
        self.num_full_vertices = graphs.hierarchy.sizes[0]
        body = resolve_body(body, self.num_full_vertices)
        graphs = graphs.to(torch.float32)
        self.uses_fusion_graph = config.use_fusion and config.fusion == "graph"
        for name, tensor in body_buffers(config, graphs, body).items():
            self.register_buffer(name, tensor)
        self.register_buffer("bones", bone_index(), persistent=False)
        self.sampler = MeshSampler.from_hierarchy(graphs.hierarchy)
        self.encoder = ResNetEncoder(config.encoder, weights=encoder_weights)
        if config.use_skeleton and config.joint_embedding == "pose":
            self.register_buffer(
                "joint_identity", torch.eye(self.num_joints), persistent=False
            )
        self.mesh_input, self.skeleton_input, self.pose_context = (
            build_input_layers(config, self.encoder, self.num_joints)
        )
        if config.image_feature_gate:
            # ReZero-style: the image features enter as far as they help.
            self.mesh_image_gate = nn.Parameter(torch.zeros(()))
            if config.use_skeleton:
                self.skeleton_image_gate = nn.Parameter(torch.zeros(()))
        num_fusion_edges = (
            graphs.fusion_graph.num_edges if self.uses_fusion_graph else None
        )
        self.blocks = build_blocks(config, num_fusion_edges, self.num_joints)
        (
            self.mesh_head,
            self.skeleton_head,
            self.camera_head,
            self.smpl_regressor,
        ) = build_heads(config, self.num_vertices)

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
        body = resolve_body(body)
        graphs = BodyGraphs.from_body(body, level=config.mesh_level)
        return cls(config, graphs, body, encoder_weights)

    # -- input checks ---------------------------------------------------------

    def _check_joints(
        self, joints_2d: object, batch: int | None, dtype: torch.dtype | None
    ) -> Tensor:
        """Check ``joints_2d`` (values while validating); cast to ``dtype``."""
        joints_2d = check_joints_2d(joints_2d, batch, self.num_joints)
        if batch is None:  # image-free: the joints set batch, device, dtype
            check_placement("joints_2d", joints_2d, self.template_vertices)
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

    def _encode(
        self, images: Tensor | None, joints_2d: Tensor | None
    ) -> tuple[Tensor, EncoderOutput | None, Tensor | None]:
        """Check the inputs; the global feature, encoder output and joints.

        Image-free (``images`` None): zero features and no encoder output.
        """
        cfg = self.config
        if images is None:
            if not cfg.use_skeleton:
                raise ValueError(
                    "Expected `images` for a model without a skeleton branch"
                    " (got None: an image-free forward needs 2D joints)"
                )
            joints_2d = self._check_joints(joints_2d, None, None)
            d_g = self.encoder.out_channels
            return joints_2d.new_zeros(joints_2d.shape[0], d_g), None, joints_2d
        images = check_images(images, cfg.image_size, self.template_vertices)
        if cfg.use_skeleton:
            joints_2d = self._check_joints(
                joints_2d, images.shape[0], images.dtype
            )
        enc = self.encoder(images)
        return enc.global_feature, enc, joints_2d

    def _skeleton_input(
        self, joints_2d: Tensor, g: Tensor | None, enc: EncoderOutput | None
    ) -> Tensor:
        """Eq. 4 on the model's layers (:func:`.skeleton_node_input`).

        ``enc`` None: image-free (zero image features).
        """
        return skeleton_node_input(
            self.config,
            self.skeleton_input,
            joints_2d,
            g,
            enc,
            self.bones,
            joint_identity=getattr(self, "joint_identity", None),
            pose_context=self.pose_context,
            image_gate=getattr(self, "skeleton_image_gate", None),
        )

    def _run_blocks(
        self, x_s: Tensor | None, x_m: Tensor
    ) -> tuple[Tensor | None, Tensor]:
        """The Bilayer-Graph blocks on the model's graph buffers (Fig. 3)."""
        # edge_index, edge_weight of A_m, A_s and A_f (None: not in the model)
        graphs = [
            getattr(self, f"{name}_edge_{part}", None)
            for name in ("mesh", "skeleton", "fusion")
            for part in ("index", "weight")
        ]
        for block in self.blocks:
            x_s, x_m = block(x_s, x_m, *graphs)
        return x_s, x_m

    def _predict(
        self, x_s: Tensor | None, x_m: Tensor, template: Tensor
    ) -> BiGraphOutput:
        """The heads (Sec. 4.3.4, 4.4) on the last block's features."""
        coarse = self.mesh_head(x_m)
        camera = self.camera_head(x_m)
        vertices = self.sampler.upsample(
            coarse, start=self.config.mesh_level, end=0
        )
        mesh_joints = torch.einsum(
            "jn,bnc->bjc", self.joint_regressor.to(vertices.dtype), vertices
        )
        skeleton_joints = None if x_s is None else self.skeleton_head(x_s)
        return BiGraphOutput.from_3d(
            vertices=vertices,
            coarse_vertices=coarse,
            mesh_joints=mesh_joints,
            skeleton_joints=skeleton_joints,
            camera=camera,
            smpl=self.smpl_regressor(coarse, template=template),
        )

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
        g, enc, joints_2d = self._encode(images, joints_2d)
        check_train_batch(self, g.shape[0])  # BatchNorm needs B > 1
        template = self.template_vertices.to(g.dtype)
        x_m = mesh_node_input(  # Eq. 3
            self.mesh_input,
            template,
            g,
            getattr(self, "mesh_image_gate", None),
        )
        x_s = (
            self._skeleton_input(joints_2d, g, enc)
            if self.config.use_skeleton
            else None
        )
        x_s, x_m = self._run_blocks(x_s, x_m)
        return self._predict(x_s, x_m, template)

    def lift(self, joints_2d: Tensor) -> Tensor:
        r"""The Skeleton-GCN alone, image-free: 2D joints to 3D joints.

        The skeleton input (Eq. 4) with zero image features, the skeleton
        sub-block of every Bilayer-Graph block on :math:`\mathbf{A}_s`
        without the fusion (there is no mesh to fuse with), and the skeleton
        head. It shares every weight it uses with :meth:`forward` and costs
        a few percent of an image-free :meth:`forward` (12 nodes instead of
        :math:`12 + N_m`): the trainer runs it on hundreds of pose-only
        samples a step (:attr:`TrainConfig.skeleton_lift_batch_size
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
        block = check_fusion_block(
            block, self.fusion_block_indices(), len(self.blocks), self.config
        )
        conv = self.blocks[block].fusion_conv
        return conv.adjacency(self.fusion_edge_index, self.fusion_edge_weight)

    def extra_repr(self) -> str:
        """Show the mesh and skeleton sizes in ``repr``."""
        return (
            f"num_vertices={self.num_vertices}, "
            f"num_full_vertices={self.num_full_vertices}, "
            f"num_joints={self.num_joints}"
        )


# -- its buffers (the graphs, template, regressor, bones) ---------------------


def body_buffers(
    config: BiGraphConfig, graphs: BodyGraphs, body
) -> dict[str, Tensor]:
    """The persistent buffers of a model, by name, in registration order.

    ``mesh_edge_index``/``mesh_edge_weight``; with a skeleton
    ``skeleton_edge_index``/``skeleton_edge_weight``; with the graph fusion
    ``fusion_edge_index``/``fusion_edge_weight`` (the union graph, joints
    first); ``template_vertices`` :math:`(N_m, 3)` and ``joint_regressor``
    :math:`(12, N_0)` (the body's rows of the 12 joints, float32).

    Args:
        config (BiGraphConfig): The architecture.
        graphs (BodyGraphs): The body's graphs at ``config.mesh_level``.
        body (BodyModel): Provides the joint regressor.

    Returns:
        dict[str, Tensor]: the tensors (the graphs' own, not copies; the
        template is a copy).
    """
    buffers = {
        "mesh_edge_index": graphs.mesh_graph.edge_index,
        "mesh_edge_weight": graphs.mesh_graph.edge_weight,
    }
    if config.use_skeleton:
        buffers["skeleton_edge_index"] = graphs.skeleton_graph.edge_index
        buffers["skeleton_edge_weight"] = graphs.skeleton_graph.edge_weight
    if config.use_fusion and config.fusion == "graph":
        buffers["fusion_edge_index"] = graphs.fusion_graph.edge_index
        buffers["fusion_edge_weight"] = graphs.fusion_graph.edge_weight
    template = graphs.hierarchy.vertices[config.mesh_level].clone()
    buffers["template_vertices"] = template
    regressor = body.joint_regressor.detach()
    buffers["joint_regressor"] = regressor[list(SMPL_TO_JOINTS)].to(
        device=template.device, dtype=torch.float32
    )
    return buffers


def bone_index() -> Tensor:
    """The skeleton's bones as joint index pairs, :math:`(E, 2)` int64.

    In :data:`~bigraph_pyg.topology.JOINT_NAMES` order, from
    :data:`~bigraph_pyg.topology.BONES`.
    """
    bones = [(JOINT_NAMES.index(a), JOINT_NAMES.index(b)) for a, b in BONES]
    return torch.tensor(bones)


# -- its layers (config to modules, in initialisation order) ------------------


def build_input_layers(
    config: BiGraphConfig, encoder: ResNetEncoder, num_joints: int
) -> tuple[GraphLinear, GraphLinear | None, PoseContext | None]:
    r"""The shared input layers :math:`\mathbf{F}_m^0`, :math:`\mathbf{F}_s^0`.

    Args:
        config (BiGraphConfig): The architecture.
        encoder (ResNetEncoder): The image encoder (its widths).
        num_joints (int): :math:`J`.

    Returns:
        tuple: the mesh input layer (Eq. 3: ``xyz`` and the global
        feature to :math:`d_0`), the skeleton input layer (Eq. 4;
        :obj:`None` without a skeleton branch) and the
        :class:`PoseContext` (:obj:`None` for ``pose_context_channels=0``).
    """
    d_0 = config.input_channels
    mesh_input = GraphLinear(3 + encoder.out_channels, d_0)
    skeleton_input = (
        GraphLinear(skeleton_input_channels(config, encoder, num_joints), d_0)
        if config.use_skeleton
        else None
    )
    pose_context = (
        PoseContext(num_joints, config.pose_context_channels, d_0)
        if config.pose_context_channels
        else None
    )
    return mesh_input, skeleton_input, pose_context


def build_blocks(
    config: BiGraphConfig, num_fusion_edges: int | None, num_joints: int
) -> nn.ModuleList:
    """The ``num_blocks`` Bilayer-Graph blocks (Fig. 3).

    Args:
        config (BiGraphConfig): The architecture (``fusion_blocks`` says
            which blocks fuse).
        num_fusion_edges (int, optional): :math:`E_f` of the fusion graph
            (:obj:`None` without the graph fusion).
        num_joints (int): :math:`J`.

    Returns:
        nn.ModuleList: the blocks, the first from ``input_channels``.
    """
    fused = set(config.fusion_block_indices())
    return nn.ModuleList(
        [
            BilayerBlock(
                config.input_channels if i == 0 else config.channels,
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


def build_heads(
    config: BiGraphConfig, num_vertices: int
) -> tuple[
    GraphCoordinateHead,
    GraphCoordinateHead | None,
    GraphCameraHead,
    SMPLParamRegressor,
]:
    """The heads on the last block's features (Sec. 4.3.4, 4.4).

    Args:
        config (BiGraphConfig): The architecture.
        num_vertices (int): :math:`N_m`.

    Returns:
        tuple: the mesh and the skeleton coordinate heads (:obj:`None`
        without a skeleton branch), the camera head and the SMPL regressor.
    """
    mesh_head = GraphCoordinateHead(
        config.channels,
        config.head_channels,
        channels_per_group=config.channels_per_group,
    )
    skeleton_head = (
        GraphCoordinateHead(
            config.channels,
            config.head_channels,
            channels_per_group=config.channels_per_group,
        )
        if config.use_skeleton
        else None
    )
    camera_head = GraphCameraHead(
        config.channels, num_vertices, config.channels_per_group
    )
    smpl_regressor = SMPLParamRegressor(
        num_vertices=num_vertices,
        hidden_channels=config.smpl_hidden_channels,
    )
    return mesh_head, skeleton_head, camera_head, smpl_regressor
