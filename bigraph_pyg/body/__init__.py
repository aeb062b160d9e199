"""Body models: SMPL (through smplx) and the licence-free default body."""

from bigraph_pyg.body.arrays import REQUIRED_KEYS, check_body_arrays
from bigraph_pyg.body.loading import (
    SMPL_FILE_NAMES,
    SMPL_URL,
    default_body,
    default_body_path,
    load_body,
    load_body_arrays,
    load_smpl,
    read_smpl_file,
)
from bigraph_pyg.body.model import BodyModel, BodyOutput

__all__ = [
    "REQUIRED_KEYS",
    "SMPL_FILE_NAMES",
    "SMPL_URL",
    "BodyModel",
    "BodyOutput",
    "check_body_arrays",
    "default_body",
    "default_body_path",
    "load_body",
    "load_body_arrays",
    "load_smpl",
    "read_smpl_file",
]
