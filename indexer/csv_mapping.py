"""TOML column mappings for CSV legacy exports (format documented in csv_mappings/README.md).

A mapping is checked against the record model when it is loaded, so a typo in a field path
is one clear error before the first row rather than the same error on every row.
"""

from __future__ import annotations

import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, Union

from pydantic import BaseModel

from lantern.records import MODEL_FOR_TYPE, NOT_RECORDABLE, RecordType

PACKAGE_MAPPINGS = Path(__file__).parent / "csv_mappings"

_SEGMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(?:\[(\d*)\])?$")


class MappingError(ValueError):
    """The mapping file, or a CSV header, does not fit."""


# One path step: field name and list index (None: not a list step, -1: "[]" = per split part).
Segment = tuple[str, int | None]


@dataclass(frozen=True)
class Column:
    header: str
    path: str
    segments: tuple[Segment, ...]
    split: str | None = None
    format: str | None = None
    kind: str | None = None  # "date" | "datetime" when the target field is one


@dataclass
class CsvMapping:
    source: Path
    record_type: str
    source_system: str | None
    delimiter: str = ","
    encoding: str = "utf-8"
    columns: dict[str, Column] = field(default_factory=dict)
    constants: list[tuple[str, tuple[Segment, ...], Any]] = field(default_factory=list)
    ignore: frozenset[str] = frozenset()
    # Top-level fields that are "not recorded" (null) when no column filled them.
    not_recorded: tuple[str, ...] = ()

    # ----------------------------------------------------------------- loading

    @classmethod
    def load(cls, path: Path) -> CsvMapping:
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise MappingError(f"{path}: cannot read mapping: {exc}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise MappingError(f"{path}: not valid TOML: {exc}") from exc
        return cls.from_dict(raw, path)

    @classmethod
    def from_dict(cls, raw: dict[str, Any], source: Path) -> CsvMapping:
        def fail(msg: str) -> MappingError:
            return MappingError(f"{source}: {msg}")

        known = {
            "record_type",
            "source_system",
            "delimiter",
            "encoding",
            "columns",
            "constants",
            "ignore",
            "not_recorded",
        }
        unknown = sorted(set(raw) - known)
        if unknown:
            raise fail(f"unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(known))}")
        rtype = raw.get("record_type")
        types_ = [t.value for t in RecordType]
        if rtype not in types_:
            raise fail(f"record_type must be one of {', '.join(types_)}, got {rtype!r}")
        model = MODEL_FOR_TYPE[RecordType(rtype)]
        delimiter = raw.get("delimiter", ",")
        if not isinstance(delimiter, str) or len(delimiter) != 1:
            raise fail(f"delimiter must be a single character, got {delimiter!r}")
        encoding = raw.get("encoding", "utf-8")
        try:
            "".encode(encoding)
        except (LookupError, TypeError) as exc:
            raise fail(f"unknown encoding {encoding!r}") from exc
        columns: dict[str, Column] = {}
        raw_columns = raw.get("columns")
        if not isinstance(raw_columns, dict) or not raw_columns:
            raise fail("a [columns] table mapping CSV headers to field paths is required")
        for header, spec in raw_columns.items():
            if isinstance(spec, str):
                spec = {"path": spec}
            if not isinstance(spec, dict) or not isinstance(spec.get("path"), str):
                raise fail(
                    f"column {header!r}: expected a field path or {{ path = ..., split/format = ... }}"
                )
            extra = sorted(set(spec) - {"path", "split", "format"})
            if extra:
                raise fail(f"column {header!r}: unknown option(s) {', '.join(extra)}")
            segments = _parse_path(spec["path"], fail, f"column {header!r}")
            annotation = _resolve(model, segments, fail, f"column {header!r}")
            split = spec.get("split")
            if split is not None and (not isinstance(split, str) or not split):
                raise fail(f"column {header!r}: split must be a non-empty string")
            if split is not None and not any(i == -1 for _, i in segments):
                raise fail(f"column {header!r}: split needs a '[]' step in the path, e.g. vehicles[].vrm")
            if split is None and any(i == -1 for _, i in segments):
                raise fail(f"column {header!r}: a '[]' step needs split = \"...\" (one item per part)")
            kind = _kind(annotation)
            fmt = spec.get("format")
            if fmt is not None and kind is None:
                raise fail(f"column {header!r}: format is only for date/datetime fields ({spec['path']})")
            columns[header] = Column(header, spec["path"], segments, split, fmt, kind)
        constants = []
        for path_text, value in (raw.get("constants") or {}).items():
            segments = _parse_path(path_text, fail, f"constant {path_text!r}")
            if any(i == -1 for _, i in segments):
                raise fail(f"constant {path_text!r}: '[]' is not allowed in constants")
            _resolve(model, segments, fail, f"constant {path_text!r}")
            constants.append((path_text, segments, _toml_value(value)))
        ignore = raw.get("ignore") or []
        if not isinstance(ignore, list) or not all(isinstance(c, str) for c in ignore):
            raise fail("ignore must be a list of CSV headers")
        source_system = raw.get("source_system")
        maps_source = any(c.path == "source_system" for c in columns.values())
        if source_system is None and not maps_source:
            raise fail("source_system is required (a constant, or a column mapped to source_system)")
        if not any(c.path == "source_id" for c in columns.values()):
            raise fail("a column must map to source_id (it makes the document id)")
        not_recorded = raw.get("not_recorded") or []
        recordable = set(NOT_RECORDABLE[RecordType(rtype)])
        if not isinstance(not_recorded, list) or not all(isinstance(f, str) for f in not_recorded):
            raise fail("not_recorded must be a list of field names")
        wrong = sorted(set(not_recorded) - recordable)
        if wrong:
            raise fail(
                f"not_recorded: {', '.join(wrong)} cannot be 'not recorded' in a {rtype} record "
                f"(these can: {', '.join(sorted(recordable))})"
            )
        return cls(
            source,
            rtype,
            source_system,
            delimiter,
            encoding,
            columns,
            constants,
            frozenset(ignore),
            tuple(not_recorded),
        )

    # ----------------------------------------------------------------- header

    def check_header(self, header: list[str]) -> None:
        dupes = sorted({h for h in header if header.count(h) > 1})
        if dupes:
            raise MappingError(f"header repeats column(s) {', '.join(dupes)}")
        present = set(header)
        missing = [c for c in self.columns if c not in present]
        unexpected = [h for h in header if h not in self.columns and h not in self.ignore]
        if missing or unexpected:
            parts = []
            if missing:
                parts.append(f"missing column(s) {', '.join(missing)}")
            if unexpected:
                parts.append(
                    f"unexpected column(s) {', '.join(unexpected)} (map them, or list them under ignore)"
                )
            raise MappingError(f"header does not match the mapping {self.source.name}: " + "; ".join(parts))

    # ----------------------------------------------------------------- rows

    def row_to_record(
        self, row: dict[str, str]
    ) -> tuple[dict[str, Any], dict[str, str], list[dict[str, Any]]]:
        """(record dict, {field path: CSV column}, conversion errors) for one CSV row."""
        tree: dict[str, Any] = {}
        errors: list[dict[str, Any]] = []
        for header, column in self.columns.items():
            cell = row.get(header)
            if cell is None or not cell.strip():
                continue  # empty cells are omitted
            parts = [p.strip() for p in cell.split(column.split)] if column.split else [cell]
            for n, part in enumerate(parts):
                if not part:
                    continue
                value: Any = part
                if column.format:
                    try:
                        parsed = datetime.strptime(part, column.format)  # naive: the model reads it as UTC
                    except ValueError:
                        errors.append(
                            {
                                "loc": column.path,
                                "column": header,
                                "msg": f"{part!r} does not match the date format {column.format!r}",
                            }
                        )
                        continue
                    value = parsed.date().isoformat() if column.kind == "date" else parsed.isoformat()
                segments = tuple((name, n if idx == -1 else idx) for name, idx in column.segments)
                _put(tree, segments, _Cell(value, header))
        touched = _filled_items(tree)
        for _path, segments, value in self.constants:
            # A constant inside a list item (people[0].role) only applies when a column filled
            # that item: an empty optional suspect must not become {"role": "suspect"}.
            items = [segments[: k + 1] for k in range(len(segments) - 1) if segments[k][1] is not None]
            if not all(_seg_key(p) in touched for p in items):
                continue
            _put(tree, segments, _Cell(value, None))
        data, locs = _finish(tree, "")
        data = data if isinstance(data, dict) else {}
        data.setdefault("record_type", self.record_type)
        for name in self.not_recorded:
            data.setdefault(name, None)
        if self.source_system is not None and "source_system" not in data:
            data["source_system"] = self.source_system
        return data, locs, errors


# --------------------------------------------------------------------- helpers


@dataclass(frozen=True, slots=True)
class _Cell:
    value: Any
    column: str | None


def _seg_key(segments: tuple[Segment, ...]) -> str:
    return ".".join(f"{n}[{i}]" if i is not None else n for n, i in segments)


def _parse_path(text: str, fail: Any, what: str) -> tuple[Segment, ...]:
    segments: list[Segment] = []
    for part in text.split("."):
        m = _SEGMENT.match(part.strip())
        if not m:
            raise fail(f"{what}: bad path {text!r} (use e.g. people[0].surname or vehicles[].vrm)")
        name, idx = m.group(1), m.group(2)
        segments.append((name, None if idx is None else (-1 if idx == "" else int(idx))))
    return tuple(segments)


def _unwrap(annotation: Any) -> Any:
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            annotation = args[0] if len(args) == 1 else annotation
            if len(args) != 1:
                return annotation
        else:
            return annotation


def _resolve(model: type[BaseModel], segments: tuple[Segment, ...], fail: Any, what: str) -> Any:
    current: Any = model
    walked: list[str] = []
    for name, idx in segments:
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            raise fail(f"{what}: {'.'.join(walked)} has no sub-fields")
        info = current.model_fields.get(name)
        if info is None:
            known = ", ".join(sorted(current.model_fields))
            where = ".".join(walked) or current.__name__
            raise fail(f"{what}: no field {name!r} in {where} (fields: {known})")
        walked.append(name)
        annotation = _unwrap(info.annotation)
        if idx is None and typing.get_origin(annotation) is list and len(walked) < len(segments):
            raise fail(f"{what}: {'.'.join(walked)} is a list: give an item, e.g. {name}[0] or {name}[]")
        if idx is not None:
            if typing.get_origin(annotation) is not list:
                raise fail(f"{what}: {'.'.join(walked)} is not a list, so it takes no [index]")
            annotation = _unwrap(typing.get_args(annotation)[0])
        current = annotation
    return current


def _kind(annotation: Any) -> str | None:
    if annotation is datetime:
        return "datetime"
    if annotation is date:
        return "date"
    return None


def _toml_value(value: Any) -> Any:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, list):
        return [_toml_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _toml_value(v) for k, v in value.items()}
    return value


def _is_sparse_list(node: Any) -> bool:
    return isinstance(node, dict) and bool(node) and all(isinstance(k, int) for k in node)


def _put(tree: dict[str, Any], segments: tuple[Segment, ...], cell: _Cell) -> None:
    node: Any = tree
    for k, (name, idx) in enumerate(segments):
        last = k == len(segments) - 1
        key: str | int = name
        if idx is not None:
            node = node.setdefault(name, {})  # a sparse list: index -> item
            key = idx
        if last:
            node[key] = cell
            return
        child = node.get(key)
        if not isinstance(child, dict):
            child = node[key] = {}
        node = child


def _filled_items(tree: dict[str, Any]) -> set[str]:
    """Keys of list items (``people[0]``) holding at least one value from a column."""
    out: set[str] = set()

    def has_column_value(node: Any) -> bool:
        if isinstance(node, _Cell):
            return node.column is not None
        if isinstance(node, dict):
            return any(has_column_value(v) for v in node.values())
        return False

    def walk(node: dict[Any, Any], path: str) -> None:
        for key, child in node.items():
            p = f"{path}.{key}" if path else str(key)
            if _is_sparse_list(child):
                for i, item in child.items():
                    ip = f"{p}[{i}]"
                    if has_column_value(item):
                        out.add(ip)
                    if isinstance(item, dict):
                        walk(item, ip)
            elif isinstance(child, dict):
                walk(child, p)

    walk(tree, "")
    return out


def _finish(node: Any, path: str) -> tuple[Any, dict[str, str]]:
    """Sparse tree -> plain data (lists compacted in index order), and {final path: column}."""
    locs: dict[str, str] = {}
    if isinstance(node, _Cell):
        if node.column is not None:
            locs[path] = node.column
        return node.value, locs
    if _is_sparse_list(node):
        items: list[Any] = []
        for _, child in sorted(node.items()):
            value, child_locs = _finish(child, f"{path}[{len(items)}]")
            items.append(value)
            locs.update(child_locs)
        return items, locs
    out: dict[str, Any] = {}
    for key, child in node.items():
        child_path = f"{path}.{key}" if path else key
        value, child_locs = _finish(child, child_path)
        out[key] = value
        locs.update(child_locs)
    return out, locs


def column_lookup(locs: dict[str, str], mapping: CsvMapping | None = None) -> Any:
    """A ``column_for(path)`` for validation errors: the column that filled the path, else
    the columns under it, else the (empty) column the mapping sends to that path."""

    def column_for(path: str) -> str | None:
        if path in locs:
            return locs[path]
        prefix = path + "."
        under = sorted({c for p, c in locs.items() if p.startswith(prefix) or p.startswith(path + "[")})
        if under:
            return ", ".join(under)
        if mapping is not None:
            for column in mapping.columns.values():
                if column.path == path:
                    return column.header
        return None

    return column_for


def find_mapping(csv_path: Path, explicit: Path | None) -> Path | None:
    """``--mapping FILE``, else ``indexer/csv_mappings/<stem>.toml``, else ``<dir>/<stem>.toml``."""
    if explicit is not None:
        return explicit
    for candidate in (PACKAGE_MAPPINGS / f"{csv_path.stem}.toml", csv_path.with_suffix(".toml")):
        if candidate.is_file():
            return candidate
    return None
