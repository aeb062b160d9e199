"""BodyGraphs.load checks every array at load time (issue 13, item 6)."""

import numpy as np
import pytest
import torch

from bigraph_pyg.topology import BodyGraphs


@pytest.fixture(scope="module")
def saved(graphs, tmp_path_factory):
    path = tmp_path_factory.mktemp("graphs") / "graphs.npz"
    graphs.save(path)
    with np.load(path) as z:
        return path, {k: z[k] for k in z.files}


def _edited(tmp_path, arrays, **changes):
    path = tmp_path / "edited.npz"
    out = {**arrays, **changes}
    for key in [k for k, v in changes.items() if v is None]:
        del out[key]
    np.savez(path, **out)
    return path


def test_body_graphs_round_trip_still_loads(saved, graphs):
    back = BodyGraphs.load(saved[0])
    assert back.level == graphs.level and back.num_joints == 12
    for x, y in zip(back.hierarchy.down, graphs.hierarchy.down, strict=True):
        assert torch.equal(x.to_dense(), y.to_dense())


def test_body_graphs_damaged_file_names_it(saved, tmp_path):
    data = saved[0].read_bytes()
    path = tmp_path / "cut.npz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(
        ValueError,
        match=r"BodyGraphs .npz .*at '.*cut\.npz'"
        r".*truncated or corrupted",
    ):
        BodyGraphs.load(path)
    flipped = bytearray(data)
    for i in range(len(data) // 2, len(data) // 2 + 64):
        flipped[i] ^= 0xFF
    path.write_bytes(bytes(flipped))
    with pytest.raises(ValueError, match=r"cut\.npz.*readable \.npz"):
        BodyGraphs.load(path)


@pytest.mark.parametrize(
    "change, match",
    [
        (
            lambda a: {"mesh_graph_edge_index": a["mesh_graph_edge_index"] + 1},
            r"'mesh_graph_edge_index' ids in row 0 in \[0, 1723\)",
        ),
        (
            lambda a: {"down_0_shape": np.array([1000, 6890])},
            r"'down_0_shape' = \(1723, 6890\).*got \(1000, 6890\)",
        ),
        (
            lambda a: {"vertices_2": a["vertices_2"][:100]},
            r"'faces_2' vertex ids in \[0, 100\)",
        ),
        (
            lambda a: {"faces_1": a["faces_1"] + 1722},
            r"'faces_1' vertex ids in \[0, 1723\)",
        ),
        (
            lambda a: {
                "fusion_graph_edge_weight": a["fusion_graph_edge_weight"][:-1]
            },
            r"'fusion_graph_edge_weight' of shape \(41352,\)",
        ),
        (lambda a: {"level": np.array(5)}, r"'level' in \[0, 2\].*got 5"),
        (
            lambda a: {
                "skeleton_graph_edge_weight": np.full(
                    a["skeleton_graph_edge_weight"].shape, np.nan, np.float32
                )
            },
            r"'skeleton_graph_edge_weight' to be finite",
        ),
        (lambda a: {"up_1_values": None}, r"key 'up_1_values'"),
        (
            lambda a: {
                "skeleton_graph_edge_index": a[
                    "skeleton_graph_edge_index"
                ].astype(np.float32)
            },
            r"'skeleton_graph_edge_index' to be a 2-D integer array",
        ),
        (
            lambda a: {"joints": a["joints"][:11]},
            r"'joints' of shape \(12, 3\)",
        ),
        (
            lambda a: {"fusion_graph_size": np.array([1723, 1723])},
            r"'fusion_graph_size' = \(1735, 1735\)",
        ),
        (lambda a: {"num_levels": None}, r"keys \['num_levels'"),
    ],
)
def test_body_graphs_inconsistent_arrays_fail_at_load(
    saved, tmp_path, change, match
):
    path = _edited(tmp_path, saved[1], **change(saved[1]))
    with pytest.raises(ValueError, match=match) as err:
        BodyGraphs.load(path)
    assert str(path) in str(err.value)
