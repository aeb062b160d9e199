"""The README's code examples run and give the shapes they claim."""

import pathlib
import re

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_examples_run():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert len(blocks) >= 3
    for block in blocks:
        namespace: dict = {}
        exec(compile(block, str(README), "exec"), namespace)
        out = namespace["out"]
        claimed = re.findall(r"out = .*# \[([\d, ]+)\]", block)
        assert claimed, block
        assert list(out.shape) == [int(v) for v in claimed[0].split(",")]
