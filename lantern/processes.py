"""Helper processes: whether one still runs (pid files, refresh guards), and building the
project's small Java mains (the OpenSearch launcher, the Tika worker) with Maven."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path


def pid_alive(pid: int | None) -> bool:
    if pid is None or pid <= 0:  # kill(0 or -1) would ask about a whole process group
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, owned by someone else
    # A zombie child (started by this very process) counts as dead.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def maven_build(
    pom: Path,
    built_class: Path,
    classpath_file: Path,
    *,
    force: bool = False,
    extra_goals: Sequence[str] = (),
    extra_outputs: Sequence[Path] = (),
) -> str | None:
    """Compile a small Maven project and write its resolved classpath (jars cached in ~/.m2).

    Skipped while the compiled class and the classpath file are newer than every source and
    every extra output (e.g. a plugin zip copied by an extra goal) exists.
    Returns None on success, else what went wrong, for the caller to raise as its own error.
    """
    missing = any(not out.exists() for out in extra_outputs)
    if not force and not missing and not _maven_stale(pom, built_class, classpath_file):
        return None
    cmd = ["mvn", "-q", "-B", "-f", str(pom), "compile", "dependency:build-classpath"]
    cmd.append(f"-Dmdep.outputFile={classpath_file}")
    cmd.extend(extra_goals)
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        return "Maven (mvn) is not installed; run `make system-deps`"
    if proc.returncode != 0:
        return (proc.stdout + proc.stderr)[-4000:]
    # Maven leaves up-to-date outputs untouched; stamp them so the next check sees this build.
    for out in (classpath_file, built_class):
        os.utime(out)
    return None


def _maven_stale(pom: Path, built_class: Path, classpath_file: Path) -> bool:
    if not classpath_file.exists() or not built_class.exists():
        return True
    built = min(classpath_file.stat().st_mtime, built_class.stat().st_mtime)
    sources = [pom, *pom.parent.glob("src/**/*")]
    return any(p.is_file() and p.stat().st_mtime > built for p in sources)
