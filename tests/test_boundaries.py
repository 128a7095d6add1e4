"""The package boundaries, checked on the source itself.

* Every read of the records index goes through ``search.gateway`` (``SecuredRecords``):
  an AST scan of every package finds any other ``client.search/msearch/count/get/...``
  call whose index is, or may be, the records alias.
* The import-linter contracts in pyproject.toml hold (also run by ``make lint``/``make test``).
* Every ``lantern`` module has a place in the layers contract.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from opensearchpy import OpenSearch

from lantern.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
GATEWAY = Path("search/gateway.py")

# Client methods that read documents (or open a way to: a point in time, a scroll).
READ_METHODS = frozenset(
    {
        "search",
        "msearch",
        "count",
        "get",
        "mget",
        "get_source",
        "exists",
        "exists_source",
        "scroll",
        "create_pit",
        "search_template",
        "msearch_template",
        "explain",
        "termvectors",
        "mtermvectors",
        "knn_search",
    }
)
# ``client.indices.exists(...)`` and the like read metadata, not documents.
ADMIN_NAMESPACES = frozenset({"indices", "cluster", "tasks", "cat", "nodes", "snapshot", "ingest"})

# Reads whose index is a parameter, each with the reason it cannot be a records read as a user.
ALLOWED_UNRESOLVED = {
    ("lantern/indices.py", "_count"): "document counts of physical indices during a migration",
    ("lantern/backup.py", "_counts"): "document counts of every owned index, for a snapshot's check (CLI)",
}


def packages() -> list[Path]:
    """Every top-level package of the project (new ones are scanned without listing them)."""
    return sorted(
        p for p in ROOT.iterdir() if (p / "__init__.py").is_file() and p.name not in {"tests", "scripts"}
    )


@dataclass(frozen=True)
class Offence:
    where: str
    call: str
    why: str

    def __str__(self) -> str:
        return f"{self.where}: {self.call} ({self.why})"


def _module_aliases(tree: ast.AST) -> dict[str, str]:
    """Local name -> imported module or name (``from mappings import records as R`` -> R)."""
    out: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            for a in node.names:
                out[a.asname or a.name] = f"{node.module}.{a.name}"
        elif isinstance(node, ast.Import):
            for a in node.names:
                out[a.asname or a.name] = a.name
    return out


def _assignments(tree: ast.AST) -> dict[str, list[ast.expr]]:
    """Target text (``index``, ``self.index``) -> every value assigned to it in the module."""
    out: dict[str, list[ast.expr]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for t in node.targets:
                out.setdefault(ast.unparse(t), []).append(node.value)
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            out.setdefault(ast.unparse(node.target), []).append(node.value)
    return out


def _mentions_records(expr: ast.expr, aliases: dict[str, str]) -> bool:
    if "records" in ast.unparse(expr).lower():
        return True
    return any(isinstance(n, ast.Name) and "records" in aliases.get(n.id, "").lower() for n in ast.walk(expr))


def _index_argument(call: ast.Call) -> ast.expr | None:
    for kw in call.keywords:
        if kw.arg == "index":
            return kw.value
    return call.args[0] if call.args else None


def _enclosing_functions(tree: ast.AST) -> dict[int, str]:
    out: dict[int, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for inner in ast.walk(node):
                out.setdefault(id(inner), node.name)
    return out


def unsecured_reads(source: str, rel: str) -> list[Offence]:
    """Calls in ``source`` (file ``rel``) that read, or may read, the records index."""
    tree = ast.parse(source)
    aliases = _module_aliases(tree)
    assigned = _assignments(tree)
    functions = _enclosing_functions(tree)
    out: list[Offence] = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if node.func.attr not in READ_METHODS:
            continue
        receiver = node.func.value
        if "client" not in ast.unparse(receiver).lower():
            continue
        if isinstance(receiver, ast.Attribute) and receiver.attr in ADMIN_NAMESPACES:
            continue
        where, call = f"{rel}:{node.lineno}", ast.unparse(node)[:120]
        index = _index_argument(node)
        if index is None:
            out.append(Offence(where, call, "no index: a point in time or msearch lines can name any"))
            continue
        if _mentions_records(index, aliases):
            out.append(Offence(where, call, "reads the records index outside the gateway"))
            continue
        if isinstance(index, ast.Constant):
            continue
        if isinstance(index, ast.Name | ast.Attribute):
            values = assigned.get(ast.unparse(index))
            if values:
                if any(_mentions_records(v, aliases) for v in values):
                    out.append(Offence(where, call, "its index variable names the records index"))
                continue
            if (rel, functions.get(id(node), "")) in ALLOWED_UNRESOLVED:
                continue
            out.append(Offence(where, call, "index is a parameter: cannot tell it is not the records alias"))
    return out


def test_only_the_gateway_reads_the_records_index() -> None:
    """Structural: nothing but ``search.gateway`` sends a read to the records index (whole tree)."""
    scanned, offenders = 0, []
    for package in packages():
        for path in sorted(package.rglob("*.py")):
            rel = path.relative_to(ROOT)
            scanned += 1
            if rel == GATEWAY:
                continue
            offenders += [str(o) for o in unsecured_reads(path.read_text(encoding="utf-8"), str(rel))]
    assert {"portal", "alerts", "indexer", "search", "lantern"} <= {p.name for p in packages()}
    assert scanned > 50
    assert offenders == []


@pytest.mark.parametrize(
    ("source", "flagged"),
    [
        ('client.search(index=settings.index_name("records"), body={})', True),
        ("self.client.count(index=records_alias(settings))", True),
        ("from mappings import records as R\nclient.search(index=settings.index_name(R.NAME))", True),
        ('index = settings.index_name("records")\nself.client.mget(index=index, body={})', True),
        ('self.index = s.index_name("records")\nself.client.get(index=self.index, id="x")', True),
        ("client.msearch(body=lines)", True),
        ("client.search(body={'pit': {'id': 'x'}})", True),
        ("def f(client, index):\n    return client.search(index=index)", True),
        ('client.search(index=settings.index_name("audit"), body={})', False),
        ("self.index = s.index_name(M.NAME)\nself.client.get(index=self.index, id='x')", False),
        ("client.search(index=percolator_alias(settings), body={})", False),
        ('client.indices.exists(index=settings.index_name("records"))', False),
        ("client.index(index=write_alias, body={})", False),
    ],
)
def test_the_scan_flags_what_it_should(source: str, flagged: bool) -> None:
    assert bool(unsecured_reads(source, "x.py")) is flagged


def test_import_contracts_hold() -> None:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert exe is not None, "import-linter is a dev dependency"
    res = subprocess.run([exe], cwd=ROOT, capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stdout + res.stderr


def test_every_lantern_module_has_a_layer() -> None:
    """A new ``lantern`` module must be placed in the layers contract (else it is unchecked)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    layers = next(c for c in config["tool"]["importlinter"]["contracts"] if c["type"] == "layers")["layers"]
    named = {m.strip() for layer in layers for m in layer.replace("|", ":").split(":")}
    modules = {f"lantern.{p.stem}" for p in (ROOT / "lantern").glob("*.py") if p.stem != "__init__"}
    assert modules - named == {"lantern.cli"}  # the composition root, in no layer


def test_the_auditor_path_is_for_auditors_and_reports_engine_errors(
    client: OpenSearch, settings: Settings
) -> None:
    from lantern.errors import IndexMissing
    from lantern.principal import Principal
    from search.gateway import SecuredRecords

    auditor = Principal("aud", "Aud", frozenset({"auditor"}))
    officer = Principal("ofc", "Ofc", frozenset({"officer"}))
    nowhere = settings.model_copy(update={"index_prefix": f"{settings.index_prefix}no-such-"})
    with pytest.raises(PermissionError):
        SecuredRecords(client, nowhere, officer).auditor_record_ids({"match_all": {}})
    # "Who looked at X" must not under-report silently: a missing index is an error, not [].
    with pytest.raises(IndexMissing):
        SecuredRecords(client, nowhere, auditor).auditor_record_ids({"match_all": {}})
