"""Typed records of data sharing and their validation from JSON.

Every record has a JSON form (``to_json``) that is what the contracts store in state, and a
parser that validates outside input field by field, raising ``SchemaViolation`` (nothing changes).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Any

import orjson

from govchain.errors import SchemaViolation
from govchain.types import DeptId

ResourceId = str
"""Identifier of a catalogue resource, e.g. ``"tax.arrears"``."""
RecordId = str
"""Identifier of a record within its resource, chosen by the owner."""

RESOURCE_ID = re.compile(r"[a-z][a-z0-9_.\-]{1,63}\Z")
RECORD_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}\Z")
FIELD_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}\Z")
DATE = re.compile(r"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])\Z")
MAX_FIELDS = 64
"""Most fields a resource schema may declare."""
MAX_TEXT = 2000
"""Longest description or legal basis."""
MAX_NAME = 200
"""Longest resource name or field description."""
MAX_STRING_VALUE = 4000
"""Longest string value in a record."""


class ShareLevel(StrEnum):
    """Share level of a resource (共享类型)."""

    unconditional = "unconditional"
    """无条件共享: any member department is granted on request."""
    conditional = "conditional"
    """有条件共享: the owner approves each grant."""
    not_shared = "not_shared"
    """不予共享: records are never read by other departments."""


class Sensitivity(StrEnum):
    """Classification of a resource."""

    public = "public"
    internal = "internal"
    sensitive = "sensitive"
    secret = "secret"


class FieldType(StrEnum):
    """Value types of record fields."""

    string = "string"
    integer = "integer"
    boolean = "boolean"
    date = "date"
    """``YYYY-MM-DD``."""


class UpdateFrequency(StrEnum):
    """How often the owner updates a resource."""

    realtime = "realtime"
    daily = "daily"
    weekly = "weekly"
    monthly = "monthly"
    quarterly = "quarterly"
    yearly = "yearly"
    on_change = "on_change"


def string_field(obj: Mapping[str, Any], name: str, max_len: int, *, empty: bool = False) -> str:
    """Return ``obj[name]`` checked to be a string of at most ``max_len`` (non-empty unless
    ``empty``)."""
    value = obj.get(name)
    if type(value) is not str:
        raise SchemaViolation(f"{name} must be a string", field=name)
    if len(value) > max_len or (not empty and not value.strip()):
        raise SchemaViolation(
            f"{name} must be {'a' if empty else 'a non-empty'} string of at most {max_len} "
            "characters",
            field=name,
        )
    return value


def _enum(obj: Mapping[str, Any], name: str, enum: type[StrEnum]) -> Any:
    value = obj.get(name)
    try:
        if type(value) is not str:
            raise ValueError(value)
        return enum(value)
    except ValueError:
        raise SchemaViolation(
            f"{name} must be one of {[e.value for e in enum]}", field=name, got=str(value)[:40]
        ) from None


def int_field(obj: Mapping[str, Any], name: str) -> int:
    """Return ``obj[name]`` checked to be a non-negative integer."""
    value = obj.get(name)
    if type(value) is not int or value < 0:
        raise SchemaViolation(f"{name} must be a non-negative integer", field=name)
    return value


def only_fields(obj: Any, allowed: set[str], what: str) -> Mapping[str, Any]:
    """Check ``obj`` is an object whose keys are all in ``allowed``."""
    if type(obj) is not dict:
        raise SchemaViolation(f"{what} must be a JSON object")
    unknown = sorted(set(obj) - allowed)
    if unknown:
        raise SchemaViolation(f"{what} has unknown fields {unknown}", unknown=unknown)
    return obj


def resource_id(value: Any, name: str = "resource") -> ResourceId:
    """Validate a resource id."""
    if type(value) is not str or not RESOURCE_ID.match(value):
        raise SchemaViolation(
            f"{name} must be a resource id: lower-case letter, then 1 to 63 of [a-z0-9_.-]",
            field=name,
        )
    return value


def record_id(value: Any, name: str = "record") -> RecordId:
    """Validate a record id."""
    if type(value) is not str or not RECORD_ID.match(value):
        raise SchemaViolation(f"{name} must be 1 to 64 of [A-Za-z0-9_.-]", field=name)
    return value


def field_list(value: Any, name: str = "fields") -> tuple[str, ...]:
    """Validate a non-empty list of distinct field names."""
    if type(value) is not list or not value or len(value) > MAX_FIELDS:
        raise SchemaViolation(f"{name} must be a list of 1 to {MAX_FIELDS} field names", field=name)
    for f in value:
        if type(f) is not str or not FIELD_NAME.match(f):
            raise SchemaViolation(f"{name} holds an invalid field name", field=name)
    if len(set(value)) != len(value):
        raise SchemaViolation(f"{name} names a field twice", field=name)
    return tuple(value)


@dataclass(frozen=True, slots=True)
class Field:
    """One field of a resource's schema."""

    name: str
    """Field name (``[a-z][a-z0-9_]*``)."""
    type: FieldType
    """Value type."""
    description: str
    """What the field holds (Chinese or English)."""

    def to_json(self) -> dict[str, str]:
        """Return the JSON form."""
        return {"name": self.name, "type": self.type.value, "description": self.description}


@dataclass(frozen=True, slots=True)
class Resource:
    """A data resource in the catalogue (目录链)."""

    id: ResourceId
    """Catalogue id."""
    owner: DeptId
    """Department that holds the records."""
    name: str
    """Display name."""
    description: str
    """What the resource holds."""
    fields: tuple[Field, ...]
    """Schema of its records."""
    share_level: ShareLevel
    """Who may be granted access."""
    sensitivity: Sensitivity
    """Classification."""
    update_frequency: UpdateFrequency
    """How often the owner updates it."""
    legal_basis: str
    """Law or regulation under which the data is held and shared."""
    registered_ms: int
    """Block time of registration."""

    def field_names(self) -> tuple[str, ...]:
        """Return the schema's field names in order."""
        return tuple(f.name for f in self.fields)

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form stored on-chain."""
        return {
            "id": self.id,
            "owner": self.owner,
            "name": self.name,
            "description": self.description,
            "fields": [f.to_json() for f in self.fields],
            "share_level": self.share_level.value,
            "sensitivity": self.sensitivity.value,
            "update_frequency": self.update_frequency.value,
            "legal_basis": self.legal_basis,
            "registered_ms": self.registered_ms,
        }

    @staticmethod
    def from_json(obj: Mapping[str, Any]) -> Resource:
        """Rebuild a stored resource."""
        return Resource(
            id=obj["id"],
            owner=obj["owner"],
            name=obj["name"],
            description=obj["description"],
            fields=tuple(
                Field(f["name"], FieldType(f["type"]), f["description"]) for f in obj["fields"]
            ),
            share_level=ShareLevel(obj["share_level"]),
            sensitivity=Sensitivity(obj["sensitivity"]),
            update_frequency=UpdateFrequency(obj["update_frequency"]),
            legal_basis=obj["legal_basis"],
            registered_ms=obj["registered_ms"],
        )


RESOURCE_SPEC_FIELDS = {
    "id",
    "name",
    "description",
    "fields",
    "share_level",
    "sensitivity",
    "update_frequency",
    "legal_basis",
}
"""Fields of a registration request."""


def parse_resource(spec: Any, owner: DeptId, registered_ms: int) -> Resource:
    """Validate a registration request and apply the classification rules:
    a secret resource is never shared, a sensitive one only with the owner's approval."""
    spec = only_fields(spec, RESOURCE_SPEC_FIELDS, "resource")
    rid = resource_id(spec.get("id"), "id")
    raw_fields = spec.get("fields")
    if type(raw_fields) is not list or not 1 <= len(raw_fields) <= MAX_FIELDS:
        raise SchemaViolation(f"fields must be a list of 1 to {MAX_FIELDS} fields", field="fields")
    fields: list[Field] = []
    for f in raw_fields:
        f = only_fields(f, {"name", "type", "description"}, "a field")
        name = f.get("name")
        if type(name) is not str or not FIELD_NAME.match(name):
            raise SchemaViolation("a field name must match [a-z][a-z0-9_]{0,39}", field="fields")
        fields.append(
            Field(name, _enum(f, "type", FieldType), string_field(f, "description", MAX_NAME))
        )
    if len({f.name for f in fields}) != len(fields):
        raise SchemaViolation("fields names a field twice", field="fields")
    level = _enum(spec, "share_level", ShareLevel)
    sensitivity = _enum(spec, "sensitivity", Sensitivity)
    if sensitivity is Sensitivity.secret and level is not ShareLevel.not_shared:
        raise SchemaViolation(
            "a secret resource must have share level not_shared (answer with attestations)",
            field="share_level",
        )
    if sensitivity is Sensitivity.sensitive and level is ShareLevel.unconditional:
        raise SchemaViolation(
            "a sensitive resource can only be shared conditionally", field="share_level"
        )
    return Resource(
        id=rid,
        owner=owner,
        name=string_field(spec, "name", MAX_NAME),
        description=string_field(spec, "description", MAX_TEXT, empty=True),
        fields=tuple(fields),
        share_level=level,
        sensitivity=sensitivity,
        update_frequency=_enum(spec, "update_frequency", UpdateFrequency),
        legal_basis=string_field(spec, "legal_basis", MAX_TEXT),
        registered_ms=registered_ms,
    )


def check_record_data(resource: Resource, data: Any) -> dict[str, Any]:
    """Validate a record's data against the resource's schema: exactly the schema's fields,
    each of its declared type."""
    names = set(resource.field_names())
    data = only_fields(data, names, "record data")
    missing = sorted(names - set(data))
    if missing:
        raise SchemaViolation(f"record data lacks the fields {missing}", missing=missing)
    for f in resource.fields:
        v = data[f.name]
        ok = (
            (f.type is FieldType.string and type(v) is str and len(v) <= MAX_STRING_VALUE)
            or (f.type is FieldType.integer and type(v) is int)
            or (f.type is FieldType.boolean and type(v) is bool)
            or (f.type is FieldType.date and type(v) is str and DATE.match(v) is not None)
        )
        if not ok:
            raise SchemaViolation(
                f"record field {f.name!r} must be of type {f.type.value}", field=f.name
            )
    return dict(data)


@lru_cache(maxsize=4096)
def resource_from_bytes(raw: bytes) -> Resource:
    """Parse a stored resource (cached by its bytes: a changed resource is other bytes)."""
    return Resource.from_json(orjson.loads(raw))
