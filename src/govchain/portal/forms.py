"""Application forms as HTML: a service's JSON Schema as form fields, and posted fields back
as typed JSON.

``fields(schema)`` lists what a page shows, in the schema's order: a string is a text input
(its ``pattern``, ``minLength`` and ``maxLength`` also as HTML attributes), an ``enum`` radios
or a select, an integer a numeric text input, a boolean a checkbox (``const: true``: a pledge
that must be ticked), ``format: date`` a date input, an array of enums checkboxes, an array of
strings or objects a fixed number of repeated rows (blank rows are left out), and a
``readOnly`` field a value shown, not edited (the enterprise register answers it).

``parse(schema, posted)`` reads the posted strings back as the JSON the schema describes and
checks what a person can fix field by field (required, type, length, pattern, range, options,
dates), each problem a ``FieldError`` with a message id of its own (translated when shown);
``from_validator`` turns the rest, found by ``casedesk.check_form`` (identity-number check
digits, conditional requirements ...), into the same records, keeping the validator's text
where no message of ours fits.
"""

from __future__ import annotations

import datetime
import gettext
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from dataclasses import field as default
from typing import Any

from govchain.portal.messages import N_

ROWS = 3
"""Rows shown for a list (shareholders, equipment) before the person adds more."""
MAX_ROWS = 50
"""Most rows a list may have on a page."""
RADIO_LIMIT = 6
"""Options up to this many are radios; more are a select."""
TEXTAREA_AT = 200
"""A string allowed to be longer than this is a text area."""

Posted = Mapping[str, Sequence[str]]
"""Posted form fields: name -> every value sent under it."""


@dataclass(frozen=True, slots=True)
class Field:
    """One input (or group of inputs) of a form page."""

    name: str
    """Posted name and error path (``name``, ``shareholders.0.name``)."""
    id: str
    """HTML id (``f-name``, ``f-shareholders-0-name``), the target of error links."""
    widget: str
    """``text``, ``textarea``, ``email``, ``date``, ``integer``, ``radios``, ``select``,
    ``checkbox``, ``pledge``, ``checkboxes``, ``list``, ``rows`` or ``readonly``."""
    title: str
    """The schema's ``title`` (Chinese in the definitions): the label."""
    description: str
    """The schema's ``description`` (English): the hint on English pages."""
    required: bool
    """Whether the schema requires it."""
    attrs: tuple[tuple[str, str], ...] = ()
    """HTML attributes of the input (``maxlength``, ``pattern``, ``inputmode`` ...)."""
    options: tuple[str, ...] = ()
    """Choices of an ``enum``."""
    columns: tuple[Field, ...] = ()
    """Fields of one row of a list of objects (names relative to the row)."""
    fen: bool = False
    """An amount in fen (分), shown with its yuan on the check page."""

    def label(self, lang: str) -> str:
        """What the field is called in a message: its English description on English pages."""
        if lang == "en" and self.description:
            return self.description
        return self.title


@dataclass(frozen=True, slots=True)
class FieldError:
    """A problem with one field, to show next to it and in the error summary."""

    field: str
    """The field's name (error path); '' for the form as a whole."""
    message: str
    """Message id (English, with ``%(label)s``-style parameters)."""
    params: Mapping[str, Any] = default(default_factory=dict)
    """Its parameters (``label`` is filled in when shown)."""


def html_id(name: str) -> str:
    """The HTML id of a field name."""
    return "f-" + re.sub(r"[^A-Za-z0-9_-]", "-", name)


def fields(schema: Mapping[str, Any]) -> list[Field]:
    """The fields of an object schema, in its order."""
    required = set(schema.get("required", []))
    return [
        _field(name, prop, name in required) for name, prop in schema.get("properties", {}).items()
    ]


def _field(name: str, prop: Mapping[str, Any], required: bool) -> Field:
    base = Field(
        name=name,
        id=html_id(name),
        widget="text",
        title=str(prop.get("title") or name),
        description=str(prop.get("description") or ""),
        required=required,
        fen=name.endswith("_fen"),
    )
    kind = prop.get("type")
    if prop.get("readOnly"):
        return replace(base, widget="readonly")
    if kind == "array":
        items = prop.get("items", {})
        if items.get("type") == "object":
            return replace(base, widget="rows", columns=tuple(_object_columns(items)))
        if "enum" in items:
            return replace(base, widget="checkboxes", options=tuple(map(str, items["enum"])))
        return replace(base, widget="list", attrs=_field("", items, False).attrs)
    if kind == "boolean":
        return replace(base, widget="pledge" if prop.get("const") is True else "checkbox")
    if "enum" in prop:
        options = tuple(map(str, prop["enum"]))
        widget = "radios" if len(options) <= RADIO_LIMIT else "select"
        return replace(base, widget=widget, options=options)
    if kind == "integer":
        low = prop.get("minimum")
        attrs = (
            ("inputmode", "numeric"),
            ("pattern", "-?[0-9]*" if low is None or low < 0 else "[0-9]*"),
        )
        return replace(base, widget="integer", attrs=attrs)
    return replace(base, widget=_string_widget(prop), attrs=_string_attrs(prop))


def _object_columns(items: Mapping[str, Any]) -> list[Field]:
    required = set(items.get("required", []))
    return [_field(key, col, key in required) for key, col in items.get("properties", {}).items()]


def _string_widget(prop: Mapping[str, Any]) -> str:
    fmt = prop.get("format")
    if fmt == "date":
        return "date"
    if fmt == "email":
        return "email"
    if prop.get("maxLength", 0) > TEXTAREA_AT:
        return "textarea"
    return "text"


def _string_attrs(prop: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    attrs: list[tuple[str, str]] = []
    if "minLength" in prop:
        attrs.append(("minlength", str(prop["minLength"])))
    if "maxLength" in prop:
        attrs.append(("maxlength", str(prop["maxLength"])))
    if "pattern" in prop and prop.get("format") != "date":
        attrs.append(("pattern", str(prop["pattern"])))
    if prop.get("format") in ("resident-id", "uscc"):
        attrs += [("autocomplete", "off"), ("spellcheck", "false")]
    return tuple(attrs)


def order_like(schema: Mapping[str, Any], authored: Mapping[str, Any] | None) -> dict[str, Any]:
    """``schema`` with its properties in the order its author wrote them. A published
    definition is stored as canonical JSON, keys sorted, so the order is taken from the
    ``authored`` schema when it is the same schema (dict equality ignores order); without it
    the required properties come first, in the order ``required`` lists them."""
    props = schema.get("properties")
    if not isinstance(props, Mapping):
        return dict(schema)
    if authored is not None and authored == schema:
        order = list(authored.get("properties", {}))
    else:
        required = [k for k in schema.get("required", []) if k in props]
        order = required + [k for k in props if k not in required]
    inner = (authored or {}).get("properties", {}) if authored == schema else {}
    out_props = {}
    for key in order:
        prop = props[key]
        items = prop.get("items") if isinstance(prop, Mapping) else None
        if isinstance(items, Mapping) and "properties" in items:
            like = inner.get(key, {}).get("items")
            prop = {**prop, "items": order_like(items, like)}
        out_props[key] = prop
    return {**schema, "properties": out_props}


# --- posted fields -> typed JSON ---------------------------------------------------------------


def parse(schema: Mapping[str, Any], posted: Posted) -> tuple[dict[str, Any], list[FieldError]]:
    """Read a form page's posted fields as the object ``schema`` describes (``readOnly``
    fields are left out: the register answers them). Returns the value and the problems found
    field by field; an empty field is left out of the value."""
    value: dict[str, Any] = {}
    errors: list[FieldError] = []
    props = schema.get("properties", {})
    for f in fields(schema):
        if f.widget == "readonly":
            continue
        found = _read(f, props[f.name], f.name, posted, errors)
        if found is not None:
            value[f.name] = found
    return value, errors


def _read(
    f: Field, prop: Mapping[str, Any], name: str, posted: Posted, errors: list[FieldError]
) -> Any:
    """One field's value (``None``: left empty), adding its problems to ``errors``."""
    if f.widget == "rows":
        return _read_rows(f, prop, name, posted, errors)
    if f.widget == "list":
        cells = [_first(posted, f"{name}.{i}") for i in range(row_count(f, posted))]
        found = []
        for i, cell in enumerate(cells):
            if cell:
                checked = _scalar(prop.get("items", {}), cell, f"{name}.{i}", errors)
                if checked is not None:
                    found.append(checked)
        return _need_items(f, prop, name, found, errors, N_("Enter at least one: %(label)s"))
    if f.widget == "checkboxes":
        chosen = [v for v in posted.get(name, []) if v]
        if any(v not in f.options for v in chosen):
            errors.append(FieldError(name, N_("Choose from the options of %(label)s")))
            return None
        ordered = [o for o in f.options if o in chosen]  # the schema's order, each once
        return _need_items(f, prop, name, ordered, errors, N_("Select at least one: %(label)s"))
    if f.widget == "checkbox":
        return "true" in posted.get(name, [])
    if f.widget == "pledge":
        if "true" in posted.get(name, []):
            return True
        if f.required:
            errors.append(FieldError(name, N_("Tick the box to confirm: %(label)s")))
        return None
    raw = _first(posted, name)
    if not raw:
        if f.required:
            message = (
                N_("Select %(label)s")
                if f.widget in ("radios", "select")
                else N_("Enter %(label)s")
            )
            errors.append(FieldError(name, message))
        return None
    return _scalar(prop, raw, name, errors)


def _need_items(
    f: Field,
    prop: Mapping[str, Any],
    name: str,
    found: list[Any],
    errors: list[FieldError],
    message: str,
) -> list[Any] | None:
    if not found:
        if f.required:
            errors.append(FieldError(name, message))
        return None
    least = int(prop.get("minItems", 0))
    if len(found) < least:
        errors.append(FieldError(name, N_("%(label)s needs at least %(n)s"), {"n": least}))
    most = prop.get("maxItems")
    if most is not None and len(found) > int(most):
        errors.append(FieldError(name, N_("%(label)s has at most %(n)s"), {"n": int(most)}))
    return found


def _read_rows(
    f: Field, prop: Mapping[str, Any], name: str, posted: Posted, errors: list[FieldError]
) -> list[Any] | None:
    columns = prop.get("items", {}).get("properties", {})
    found: list[dict[str, Any]] = []
    for i in range(row_count(f, posted)):
        if not any(_first(posted, f"{name}.{i}.{c.name}") for c in f.columns):
            continue  # a blank row is not a row
        row: dict[str, Any] = {}
        for c in f.columns:
            value = _read(c, columns[c.name], f"{name}.{i}.{c.name}", posted, errors)
            if value is not None:
                row[c.name] = value
        found.append(row)
    return _need_items(f, prop, name, found, errors, N_("Add at least one row: %(label)s"))


def tidy(schema: Mapping[str, Any], posted: Posted) -> dict[str, list[str]]:
    """The posted fields with the blank rows of every list taken out and the others numbered
    from 0 without gaps (as the value's rows, and so the validator's error paths, are)."""
    out = {k: list(v) for k, v in posted.items()}
    for f in fields(schema):
        if f.widget not in ("rows", "list"):
            continue
        count = row_count(f, posted)
        prefix = f"{f.name}."
        rows = []
        for i in range(count):
            if f.widget == "list":
                cells = {"": posted.get(f"{prefix}{i}", [])}
            else:
                cells = {"." + c.name: posted.get(f"{prefix}{i}.{c.name}", []) for c in f.columns}
            rows.append(cells)
        for k in [k for k in out if k.startswith(prefix)]:
            del out[k]
        kept = [r for r in rows if any(v and v[0].strip() for v in r.values())]
        for i, cells in enumerate(kept):
            for suffix, v in cells.items():
                out[f"{prefix}{i}{suffix}"] = list(v)
    return out


def row_count(f: Field, posted: Posted, more: str = "") -> int:
    """Rows of a list field on its page: ``ROWS``, or as many as were posted, plus one when
    the person asked for another (``more`` names the field)."""
    prefix = f"{f.name}."
    used = [
        int(k[len(prefix) :].split(".", 1)[0])
        for k in posted
        if k.startswith(prefix) and k[len(prefix) :].split(".", 1)[0].isdigit()
    ]
    count = max([ROWS, *(i + 1 for i in used)])
    if more == f.name:
        count += 1
    return min(count, MAX_ROWS)


def _first(posted: Posted, name: str) -> str:
    values = posted.get(name, [])
    return values[0].strip() if values else ""


def _scalar(prop: Mapping[str, Any], raw: str, name: str, errors: list[FieldError]) -> Any:
    """A non-empty posted string as the schema's type, or ``None`` with a problem added."""
    kind = prop.get("type")
    if "enum" in prop:
        if raw not in map(str, prop["enum"]):
            errors.append(FieldError(name, N_("Choose from the options of %(label)s")))
            return None
        return next(e for e in prop["enum"] if str(e) == raw)
    if kind == "integer":
        digits = raw.replace(",", "").replace(" ", "").replace("，", "")
        if not re.fullmatch(r"-?[0-9]{1,18}", digits):
            errors.append(FieldError(name, N_("%(label)s must be a whole number, like 100")))
            return None
        number = int(digits)
        if "minimum" in prop and number < prop["minimum"]:
            errors.append(
                FieldError(name, N_("%(label)s must be at least %(n)s"), {"n": prop["minimum"]})
            )
        elif "maximum" in prop and number > prop["maximum"]:
            errors.append(
                FieldError(name, N_("%(label)s must be at most %(n)s"), {"n": prop["maximum"]})
            )
        return number
    if prop.get("format") == "date":
        try:
            datetime.date.fromisoformat(raw)
        except ValueError:
            errors.append(FieldError(name, N_("%(label)s must be a real date, like 2026-12-07")))
            return None
        if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", raw):
            errors.append(FieldError(name, N_("%(label)s must be a real date, like 2026-12-07")))
            return None
        return raw
    if "minLength" in prop and len(raw) < prop["minLength"]:
        errors.append(
            FieldError(
                name, N_("%(label)s must be at least %(n)s characters"), {"n": prop["minLength"]}
            )
        )
    elif "maxLength" in prop and len(raw) > prop["maxLength"]:
        errors.append(
            FieldError(
                name, N_("%(label)s must be at most %(n)s characters"), {"n": prop["maxLength"]}
            )
        )
    elif "pattern" in prop and not re.search(prop["pattern"], raw):
        errors.append(FieldError(name, N_("%(label)s is not in the right format")))
    return raw


# --- typed JSON -> posted fields (to show a saved form again) --------------------------------


def posted_of(schema: Mapping[str, Any], value: Mapping[str, Any]) -> dict[str, list[str]]:
    """The posted fields that ``parse`` reads back as ``value`` (to fill a page with it)."""
    out: dict[str, list[str]] = {}
    for f in fields(schema):
        found = value.get(f.name)
        if found is None or f.widget == "readonly":
            continue
        if f.widget == "rows":
            for i, row in enumerate(found):
                for c in f.columns:
                    if c.name in row:
                        out[f"{f.name}.{i}.{c.name}"] = [_text(row[c.name])]
        elif f.widget == "list":
            for i, cell in enumerate(found):
                out[f"{f.name}.{i}"] = [_text(cell)]
        elif f.widget == "checkboxes":
            out[f.name] = [_text(v) for v in found]
        elif f.widget in ("checkbox", "pledge"):
            out[f.name] = ["true"] if found is True else []
        else:
            out[f.name] = [_text(found)]
    return out


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --- the validator's findings -------------------------------------------------------------------

_DEPENDENCY = re.compile(r"^'([^']+)' is a dependency of '([^']+)'")
_FORMAT = re.compile(r" is not a '[^']+'$")


def from_validator(
    problems: Sequence[Mapping[str, str]], known: Sequence[Field], found: Sequence[FieldError]
) -> list[FieldError]:
    """``check_form``'s ``{field, message}`` problems as field errors, each on the nearest
    field of the page, leaving out fields that already have one of ours (``found``)."""
    names = _names(known)
    taken = {e.field for e in found}
    out: list[FieldError] = []
    for p in problems:
        path, message = str(p.get("field", "")), str(p.get("message", ""))
        dependency = _DEPENDENCY.match(message)
        if not path and dependency:
            path, message = dependency.group(1), "is required"
        target = _nearest(path, names)
        if target in taken:
            continue
        taken.add(target)
        if message == "is required":
            f = names.get(target)
            widget = f.widget if f else ""
            if widget in ("radios", "select", "checkboxes"):
                out.append(FieldError(target, N_("Select %(label)s")))
            elif widget == "pledge":
                out.append(FieldError(target, N_("Tick the box to confirm: %(label)s")))
            elif widget == "readonly":
                out.append(FieldError(target, N_("The register has no %(label)s")))
            else:
                out.append(FieldError(target, N_("Enter %(label)s")))
        elif _FORMAT.search(message):
            out.append(FieldError(target, N_("%(label)s is not in the right format")))
        else:
            out.append(FieldError(target, N_("%(label)s: %(problem)s"), {"problem": message}))
    return out


def _names(known: Sequence[Field]) -> dict[str, Field]:
    out: dict[str, Field] = {}
    for f in known:
        out[f.name] = f
        for i in range(MAX_ROWS):
            for c in f.columns:
                out[f"{f.name}.{i}.{c.name}"] = replace(c, name=f"{f.name}.{i}.{c.name}")
    return out


def _nearest(path: str, names: Mapping[str, Field]) -> str:
    """The longest known field name that ``path`` is in ('' if none)."""
    parts = path.split(".") if path else []
    while parts:
        candidate = ".".join(parts)
        if candidate in names:
            return candidate
        parts.pop()
    return ""


def label_of(name: str, known: Sequence[Field], lang: str) -> str:
    """What a field (or a cell of a row, ``shareholders.1.name``) is called in a message."""
    parts = name.split(".")
    for f in known:
        if f.name != parts[0]:
            continue
        if len(parts) == 3 and f.widget == "rows":
            col = next((c for c in f.columns if c.name == parts[2]), None)
            if col is not None and parts[1].isdigit():
                return f"{f.label(lang)} {int(parts[1]) + 1}: {col.label(lang)}"
        if len(parts) == 2 and parts[1].isdigit():
            return f"{f.label(lang)} {int(parts[1]) + 1}"
        return f.label(lang)
    return name


def describe(
    errors: Sequence[FieldError], known: Sequence[Field], lang: str, tr: gettext.NullTranslations
) -> list[dict[str, str]]:
    """Errors in the page's language: ``{field, id, text}`` each, in the order of the page's
    fields (the summary lists them as they appear)."""
    order = {f.name: i for i, f in enumerate(known)}
    ranked = sorted(errors, key=lambda e: (order.get(e.field.split(".")[0], len(order)), e.field))
    out = []
    for e in ranked:
        params = {**e.params, "label": label_of(e.field, known, lang) if e.field else ""}
        out.append(
            {
                "field": e.field,
                "id": html_id(e.field or "form"),
                "text": tr.gettext(e.message) % params,
            }
        )
    return out
