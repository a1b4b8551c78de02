"""Compiled bytecode in the deployment zip, so a Lambda cold start does not compile the app.

Lambda unpacks the zip into a read-only directory: Python cannot write `__pycache__` there, so
without .pyc files in the zip every cold start compiles every module it imports. Bytecode is
shipped only for what cold start and the request paths import (decision 19): `import app`, the
request schemas with pydantic, and the up-sell's computing modules. The SDKs a process imports
on its first call of a kind only, `openai` (the first LLM call) and `stripe` (the first payment),
ship as sources: their bytecode would add about 1 MB to a zip the 10 MB target cannot hold, for a
compilation paid once per container (measured in docs/performance.md). Sources stay in the zip
for every module, for tracebacks.

The .pyc files use `unchecked-hash` invalidation: Python loads them without comparing them with
the sources' modification times, which the zip does not preserve reliably. They are written by
a Python of the runtime's version (their header names it; any other version would ignore them).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

# What the functions import at cold start (app) and on the request paths: the request schemas, and
# the up-sell's computing modules (its fallback answers without an LLM). Not `openai` nor `stripe`.
ENTRY_IMPORTS = (
    "app",
    "chalicelib.api.schemas",
    *(f"chalicelib.upsell.{name}" for name in ("candidates", "fallback", "llm", "prompt", "validation")),
)

# Every source Python compiles while importing them (failed optional imports included) is recorded
# by wrapping the import system's compile step, then written as .pyc beside its source.
_COMPILE = """
import importlib, json, py_compile, sys
import importlib._bootstrap_external as loaders
root, names = sys.argv[1], sys.argv[2:]
sources = set()
compile_source = loaders.SourceLoader.source_to_code
def recording(self, data, path, *args, **kwargs):
    sources.add(str(path))
    return compile_source(self, data, path, *args, **kwargs)
loaders.SourceLoader.source_to_code = recording
for name in names:
    importlib.import_module(name)
mode = py_compile.PycInvalidationMode.UNCHECKED_HASH
print(json.dumps([
    py_compile.compile(source, doraise=True, invalidation_mode=mode)
    for source in sorted(sources) if source.startswith(root)
]))
"""


class BytecodeError(RuntimeError):
    pass


def runtime_python(version: str) -> str:
    """An interpreter of the runtime's version: this one, else `python{version}` on PATH."""
    if f"{sys.version_info.major}.{sys.version_info.minor}" == version:
        return sys.executable
    found = shutil.which(f"python{version}")
    if found is None:
        raise BytecodeError(f"compiling for Lambda's Python {version} needs python{version} on PATH")
    return found


def add_to_zip(zip_path: Path, python_version: str, entry_imports: tuple[str, ...] = ENTRY_IMPORTS) -> int:
    """Compile the modules `entry_imports` load from the zip and add their .pyc files; returns how many."""
    with tempfile.TemporaryDirectory(prefix="cartwise-bytecode-") as unpacked:
        root = Path(unpacked)
        with zipfile.ZipFile(zip_path) as archive:
            archive.extractall(root)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "AWS_"))}
        # No bytecode written during the imports: every module is compiled from source, so recorded.
        env.update(PYTHONPATH=str(root), PYTHONDONTWRITEBYTECODE="1", AWS_DEFAULT_REGION="us-east-1")
        result = subprocess.run(
            [runtime_python(python_version), "-c", _COMPILE, str(root) + os.sep, *entry_imports],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise BytecodeError(f"compiling the package's bytecode failed:\n{result.stderr[-3000:]}")
        compiled = [Path(path) for path in json.loads(result.stdout.strip().splitlines()[-1])]
        with zipfile.ZipFile(zip_path, "a", compression=zipfile.ZIP_DEFLATED) as archive:
            present = set(archive.namelist())
            for path in compiled:
                name = path.relative_to(root).as_posix()
                if name not in present:
                    archive.write(path, name)
    return len(compiled)
