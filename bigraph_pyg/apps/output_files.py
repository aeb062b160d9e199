"""The files written for a photo, and the rule that none is replaced unasked.

* :func:`output_stems`: one file-name stem per photo, ``a.jpg`` -> ``a``;
  photos that share a stem keep their suffix (``a_jpg``, ``a_png``); two
  photos whose stems still coincide (``a.jpg`` beside ``a_jpg.png``, or
  names that differ only in case) are refused, naming both, since their
  files would replace each other;
* :func:`prediction_paths`: the files
  :func:`~bigraph_pyg.apps.save_prediction` writes for a stem;
* :func:`check_new_files`: refuses to replace a file that exists already,
  unless ``overwrite``, and an output folder that is a regular file or
  lies below one.

``examples/demo.py`` checks every photo's files with these before it runs
the model on any of them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

__all__ = [
    "MESH_FORMATS",
    "check_new_files",
    "output_stems",
    "prediction_paths",
]

#: The mesh formats :func:`prediction_paths` names (trimesh writes both).
MESH_FORMATS: tuple[str, ...] = ("obj", "ply")


def output_stems(photos: Sequence[str | os.PathLike]) -> dict[Path, str]:
    """One output file-name stem per photo, no two alike.

    Args:
        photos (Sequence[str or PathLike]): The photos, e.g. of a folder.

    Returns:
        dict[Path, str]: per photo, its stem (``a.jpg`` -> ``a``), or its
        name with ``.`` as ``_`` where another photo has the same stem
        (``a.jpg``, ``a.png`` -> ``a_jpg``, ``a_png``).

    Raises:
        ValueError: two photos would still share a stem (compared without
            case, as a case-insensitive file system does), naming both.

    Example:
        >>> sorted(output_stems(["x/a.jpg", "x/a.png", "x/b.jpg"]).values())
        ['a_jpg', 'a_png', 'b']
    """
    paths = [Path(p) for p in photos]
    counts: dict[str, int] = {}
    for p in paths:
        counts[p.stem.casefold()] = counts.get(p.stem.casefold(), 0) + 1
    stems: dict[Path, str] = {}
    owner: dict[str, Path] = {}
    for p in paths:
        if counts[p.stem.casefold()] == 1:
            stem = p.stem
        else:
            stem = p.name.replace(".", "_")
        other = owner.setdefault(stem.casefold(), p)
        if other != p:
            raise ValueError(
                f"Expected photos whose outputs are named apart (got {other}"
                f" and {p}, both written as {stem}_*); rename one of them"
            )
        stems[p] = stem
    return stems


def prediction_paths(
    out_dir: str | os.PathLike,
    stem: str,
    mesh_formats: Iterable[str] = MESH_FORMATS,
    npz: bool = True,
    overlay: bool = True,
) -> dict[str, Path]:
    """The files :func:`~bigraph_pyg.apps.save_prediction` writes, by kind.

    Args:
        out_dir (str or PathLike): The output folder.
        stem (str): File name stem: not empty, no folder separators.
        mesh_formats (Iterable[str]): Among :data:`MESH_FORMATS`.
        npz (bool): The parameters also as ``.npz``.
        overlay (bool): The overlay PNG.

    Returns:
        dict[str, Path]: ``mesh_obj``, ``smpl_obj``, ... (``mesh_<format>``
        and ``smpl_<format>`` per format), ``params``, ``params_npz``,
        ``keypoints``, ``overlay``.

    Raises:
        ValueError: an unknown mesh format, or a stem that is empty or
            holds a folder separator.
    """
    formats = tuple(mesh_formats)
    bad = [m for m in formats if m not in MESH_FORMATS]
    if bad:
        raise ValueError(
            f"Expected mesh formats among {MESH_FORMATS} (got {bad})"
        )
    if (
        not isinstance(stem, str)
        or stem in ("", ".", "..")
        or any(sep in stem for sep in ("/", "\\", os.sep))
    ):
        raise ValueError(
            f"Expected a file name stem without folders (got {stem!r})"
        )
    out = Path(out_dir)
    paths = {
        f"{branch}_{fmt}": out / f"{stem}_{branch}.{fmt}"
        for branch in ("mesh", "smpl")
        for fmt in formats
    }
    paths["params"] = out / f"{stem}_params.json"
    if npz:
        paths["params_npz"] = out / f"{stem}_params.npz"
    paths["keypoints"] = out / f"{stem}_keypoints.json"
    if overlay:
        paths["overlay"] = out / f"{stem}_overlay.png"
    return paths


def check_new_files(
    paths: Iterable[str | os.PathLike], overwrite: bool = False
) -> None:
    """Refuse to write where a file exists, or below a regular file.

    Args:
        paths (Iterable[str or PathLike]): The files to be written.
        overwrite (bool): Let existing files be replaced. (default:
            :obj:`False`)

    Raises:
        NotADirectoryError: a folder of a path is a regular file.
        FileExistsError: without ``overwrite``, some of the files exist
            (the message names up to three and says how many).
    """
    paths = [Path(p) for p in paths]
    folders = {p.parent for p in paths}
    for folder in sorted(folders):
        for parent in (folder, *folder.parents):
            if parent.exists() and not parent.is_dir():
                raise NotADirectoryError(
                    f"Expected an output folder at {folder} (got the regular"
                    f" file {parent})"
                )
    if overwrite:
        return
    found = [p for p in paths if p.exists() or p.is_symlink()]
    if found:
        named = ", ".join(str(p) for p in found[:3])
        more = f" and {len(found) - 3} more" if len(found) > 3 else ""
        raise FileExistsError(
            f"Expected no files where the outputs go (got {named}{more}); "
            "pass overwrite=True (the demo's --overwrite) to replace them, "
            "or another output folder (--out)"
        )
