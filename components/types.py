"""The types of DESIGN.md §2: interface declarations, and validation + coercion of values.

An interface is a list of ``{name, type, subtype?, optional?, description?, default?}``. Values
are checked and coerced on every run: ``"42"`` for a ``number``/``integer`` becomes ``42``,
``"true"`` for a ``bool`` becomes ``True``; anything that cannot be coerced is an error naming it.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import decimal
import json
import re
import uuid
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, URLValidator, validate_ipv46_address

from components.errors import INCORRECT_INPUT, INCORRECT_OUTPUT, MISSING_INPUT, MISSING_OUTPUT, RunError
from synchronise.lib import jsonlimits

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
SECRET_NAME = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")


class Invalid(ValueError):
    """A value that does not fit its declared type."""


# --- text ---------------------------------------------------------------------------------


def _luhn(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        n = int(char)
        if index % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def _django(validator: Callable[[str], None]) -> Callable[[str], bool]:
    def check(value: str) -> bool:
        try:
            validator(value)
        except ValidationError:
            return False
        return True

    return check


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _is_iso8601(value: str) -> bool:
    try:
        datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _is_base64(value: str) -> bool:
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _is_creditcard(value: str) -> bool:
    digits = re.sub(r"[ -]", "", value)
    return digits.isdigit() and 12 <= len(digits) <= 19 and _luhn(digits)


TEXT_SUBTYPES: dict[str, Callable[[str], bool]] = {
    "text": lambda value: True,
    "email": _django(EmailValidator()),
    "url": _django(URLValidator(schemes=["http", "https"])),
    "uuid": _is_uuid,
    "ip": _django(validate_ipv46_address),
    "iso8601": _is_iso8601,
    "base64": _is_base64,
    "alpha": str.isalpha,
    "alphanumeric": str.isalnum,
    "ascii": str.isascii,
    "numeric": str.isdigit,
    "hexadecimal": lambda value: bool(re.fullmatch(r"(0x)?[0-9a-fA-F]+", value)),
    "creditcard": _is_creditcard,
}


def _text(value: Any, subtype: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float, decimal.Decimal)):
        raise Invalid
    text = value if isinstance(value, str) else str(value)
    if not TEXT_SUBTYPES[subtype](text):
        raise Invalid
    return text


# --- numbers ------------------------------------------------------------------------------


def _number(value: Any, subtype: str) -> int | float | str:
    if isinstance(value, bool):
        raise Invalid
    if subtype == "hexadecimal":
        if isinstance(value, int):
            return value
        if isinstance(value, str) and re.fullmatch(r"(0x)?[0-9a-fA-F]+", value.strip()):
            return int(value.strip(), 16)
        raise Invalid
    if subtype == "decimal":
        try:
            # Decimals travel as strings in JSON so no precision is lost.
            number = decimal.Decimal(str(value).strip())
        except decimal.InvalidOperation:
            raise Invalid from None
        if not number.is_finite():
            raise Invalid
        return str(number)
    if isinstance(value, str):
        try:
            value = float(value.strip()) if subtype == "float" or "." in value or "e" in value.lower() else int(value)
        except ValueError:
            raise Invalid from None
    if not isinstance(value, (int, float)) or value != value or value in (float("inf"), float("-inf")):
        raise Invalid
    if subtype == "integer":
        if isinstance(value, float) and not value.is_integer():
            raise Invalid
        return int(value)
    return value


NUMBER_SUBTYPES = ("float", "decimal", "integer", "hexadecimal")


# --- the rest -----------------------------------------------------------------------------


def _bool(value: Any, subtype: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0", "yes", "no"):
        return value.strip().lower() in ("true", "1", "yes")
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise Invalid


def _date(value: Any, subtype: str) -> str:
    """ISO 8601 dates and datetimes (kept as ISO strings), or Unix timestamps in seconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.datetime.fromtimestamp(value, tz=datetime.UTC).isoformat()
    if not isinstance(value, str):
        raise Invalid
    try:
        parsed = datetime.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise Invalid from None
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        return parsed.date().isoformat()
    return parsed.isoformat()


def _json(value: Any, subtype: str) -> Any:
    if subtype in ("object", "array") and isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise Invalid from None
    if subtype == "object" and not isinstance(value, dict):
        raise Invalid
    if subtype == "array" and not isinstance(value, list):
        raise Invalid
    return value


def _secret(value: Any, subtype: str) -> str:
    """A credential of the project, by name; code receives ``{{ secrets.NAME }}``, never the value."""
    if not isinstance(value, str):
        raise Invalid
    name = value.strip()
    match = re.fullmatch(r"\{\{\s*secrets\.([A-Z][A-Z0-9_]*)\s*\}\}", name)
    name = match.group(1) if match else name
    if not SECRET_NAME.match(name):
        raise Invalid
    return "{{ secrets.%s }}" % name  # noqa: UP031 - the braces are the template's


def _list(value: Any, subtype: str) -> list[Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise Invalid from None
    if not isinstance(value, list):
        raise Invalid
    if subtype:
        item_type, _, item_subtype = subtype.partition(":")
        coerce = TYPES[item_type][0]
        return [coerce(item, item_subtype or default_subtype(item_type)) for item in value]
    return value


TYPES: dict[str, tuple[Callable[[Any, str], Any], tuple[str, ...]]] = {
    "text": (_text, tuple(TEXT_SUBTYPES)),
    "number": (_number, NUMBER_SUBTYPES),
    "bool": (_bool, ("",)),
    "date": (_date, ("", "date", "datetime")),
    "json": (_json, ("", "object", "array")),
    "secret": (_secret, ("",)),
    "list": (_list, ()),  # subtype: an item type, e.g. "number" or "text:email"
}


def default_subtype(type_name: str) -> str:
    return {"text": "text", "number": "float"}.get(type_name, "")


def describe(spec: dict[str, Any]) -> str:
    subtype = spec.get("subtype")
    return f"{spec['type']}/{subtype}" if subtype else str(spec["type"])


# --- interfaces ---------------------------------------------------------------------------


def validate_interface(specs: Any, *, field: str) -> list[dict[str, Any]]:
    """Check declared inputs or outputs; raises ``ValidationError({field: [...]})`` naming each problem."""
    if not isinstance(specs, list):
        raise ValidationError({field: ["a list of {name, type, …}"]})
    problems: list[str] = []
    seen: set[str] = set()
    cleaned = []
    for index, spec in enumerate(specs):
        where = f"{field}[{index}]"
        if not isinstance(spec, dict):
            problems.append(f"{where}: an object with name and type")
            continue
        name, type_name = spec.get("name"), spec.get("type")
        if not isinstance(name, str) or not NAME.match(name):
            problems.append(f"{where}.name: letters, digits and underscores, not starting with a digit")
            continue
        where = f"{field}.{name}"
        if name in seen:
            problems.append(f"{where}: declared twice")
        seen.add(name)
        if type_name not in TYPES:
            problems.append(f"{where}.type: one of {', '.join(TYPES)}")
            continue
        subtype = spec.get("subtype") or default_subtype(type_name)
        if type_name == "list":
            item_type = subtype.partition(":")[0]
            if subtype and item_type not in TYPES:
                problems.append(f"{where}.subtype: an item type, one of {', '.join(TYPES)}")
                continue
        elif subtype not in TYPES[type_name][1]:
            problems.append(f"{where}.subtype: one of {', '.join(s for s in TYPES[type_name][1] if s)}")
            continue
        unknown = set(spec) - {"name", "type", "subtype", "optional", "description", "default"}
        if unknown:
            problems.append(f"{where}: unknown keys {', '.join(sorted(unknown))}")
        entry = {"name": name, "type": type_name}
        if spec.get("subtype"):
            entry["subtype"] = spec["subtype"]
        if spec.get("optional"):
            entry["optional"] = True
        if spec.get("description"):
            entry["description"] = str(spec["description"])[:500]
        if "default" in spec:
            try:
                entry["default"] = TYPES[type_name][0](spec["default"], subtype)
            except (Invalid, ValueError, TypeError, KeyError):
                problems.append(f"{where}.default: not a valid {describe(entry)}")
        cleaned.append(entry)
    if problems:
        raise ValidationError({field: problems})
    return cleaned


def coerce_value(spec: dict[str, Any], value: Any) -> Any:
    """One value coerced to its declared type; raises ``Invalid`` (or ``ValueError`` and kin)."""
    coerce = TYPES[spec["type"]][0]
    return coerce(value, spec.get("subtype") or default_subtype(spec["type"]))


def _given(value: Any) -> str:
    return type(value).__name__ if not isinstance(value, str) else f"text {value[:40]!r}"


SECRET_REFERENCE = re.compile(r"\{\{\s*secrets\.", re.IGNORECASE)


def _has_secret_reference(value: Any) -> bool:
    if isinstance(value, str):
        return bool(SECRET_REFERENCE.search(value))
    if isinstance(value, dict):
        return any(_has_secret_reference(k) or _has_secret_reference(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_secret_reference(item) for item in value)
    return False


def carries_secrets(spec: dict[str, Any]) -> bool:
    """Whether values of this input are ``{{ secrets.NAME }}`` references: ``secret``, or a list of them."""
    return spec["type"] == "secret" or (spec["type"] == "list" and (spec.get("subtype") or "").startswith("secret"))


def coerce_inputs(specs: list[dict[str, Any]], values: dict[str, Any]) -> dict[str, Any]:
    """The inputs, coerced; undeclared ones pass through. Raises ``RunError`` 101 or 102.

    Only inputs that :func:`carries_secrets` may name a credential: a ``{{ secrets.… }}`` reference
    anywhere else would let a caller make the host substitute a credential wherever that value is sent.
    """
    incorrect: list[dict[str, Any]] = []
    missing: list[str] = []
    secret_inputs = {spec["name"] for spec in specs if carries_secrets(spec)}
    result = _coerce_all(specs, values, incorrect=incorrect, missing=missing, use_defaults=True)
    wrong = {item["name"] for item in incorrect}
    for name, value in values.items():
        if name in secret_inputs or name in wrong:
            continue
        # Checked after coercion too: a json or list input parses a string, and JSON escapes
        # ("\u007b\u007b secrets.X }}") would otherwise bring a reference past the first look.
        coerced = result.get(name)
        if _has_secret_reference(coerced) or (coerced is not value and _has_secret_reference(value)):
            incorrect.append(
                {"name": name, "expected": "a value without {{ secrets.… }}", "given": "a secret reference"}
            )
    if incorrect:
        names = ", ".join(i["name"] for i in incorrect)
        raise RunError(INCORRECT_INPUT, f"inputs of the wrong type: {names}", incorrect=incorrect)
    if missing:
        raise RunError(MISSING_INPUT, f"missing required inputs: {', '.join(missing)}", missing=missing)
    return result


def require_storable(values: dict[str, Any], *, what: str = "input") -> None:
    """Raises ``RunError`` 101 naming the first input that cannot be stored and answered as UTF-8
    JSON: one carrying a lone surrogate or NUL (``"\\ud800"``), or nested deeper than
    ``jsonlimits.MAX_DEPTH`` with the object of inputs. Called before a run is recorded: such a
    row once made every list of the project's executions fail."""
    for key, value in values.items():
        name = jsonlimits.scrub(str(key)[:64])  # the name itself may be what is broken
        where = jsonlimits.unencodable({key: value})
        if where is not None:
            incorrect = [{"name": name, "expected": "text UTF-8 can encode", "given": "a lone surrogate or NUL"}]
            message = f"{what} {jsonlimits.scrub(where[:200])} is not valid Unicode text"
            raise RunError(INCORRECT_INPUT, message, incorrect=incorrect)
        if jsonlimits.too_deep(value, jsonlimits.MAX_DEPTH - 1):  # the object of inputs is one level
            limit = jsonlimits.MAX_DEPTH
            incorrect = [{"name": name, "expected": f"JSON nested at most {limit} levels", "given": "deeper"}]
            message = f"{what} {name} is nested deeper than {limit} levels"
            raise RunError(INCORRECT_INPUT, message, incorrect=incorrect, limit=limit)


def check_outputs(specs: list[dict[str, Any]], values: Any) -> dict[str, Any]:
    """The outputs, coerced to their declared types. Raises ``RunError`` 106 or 107."""
    if not isinstance(values, dict):
        raise RunError(INCORRECT_OUTPUT, "the component must return an object of outputs")
    incorrect: list[dict[str, Any]] = []
    missing: list[str] = []
    result = _coerce_all(specs, values, incorrect=incorrect, missing=missing, use_defaults=False)
    if incorrect:
        names = ", ".join(i["name"] for i in incorrect)
        raise RunError(INCORRECT_OUTPUT, f"outputs of the wrong type: {names}", incorrect=incorrect)
    if missing:
        raise RunError(MISSING_OUTPUT, f"missing outputs: {', '.join(missing)}", missing=missing)
    return result


def _coerce_all(
    specs: list[dict[str, Any]],
    values: dict[str, Any],
    *,
    incorrect: list[dict[str, Any]],
    missing: list[str],
    use_defaults: bool,
) -> dict[str, Any]:
    """``values`` with each declared one coerced; problems are appended to ``incorrect`` / ``missing``
    (a name already in ``incorrect`` is not checked again). Undeclared values pass through."""
    result = dict(values)
    for spec in specs:
        name = spec["name"]
        if name not in values or values[name] is None:
            if use_defaults and "default" in spec:
                result[name] = spec["default"]
            elif not spec.get("optional"):
                missing.append(name)
            continue
        if any(i["name"] == name for i in incorrect):
            continue
        try:
            result[name] = coerce_value(spec, values[name])
        except (Invalid, ValueError, TypeError, KeyError, OverflowError):
            incorrect.append({"name": name, "expected": describe(spec), "given": _given(values[name])})
    return result
