"""Utility connectors: small transformations as ``code`` components that run in the sandbox like any
user code (standard library only, no network), shipped as official so every project has them."""

from __future__ import annotations

from typing import Any

from components.connectors import Connector

DOCS = "https://docs.python.org/3/library/"
TEXT = {"type": "text"}
JSON = {"type": "json"}


def utility(name: str, title: str, icon: str, docs: str, description: str, tags: list[str], **fields: Any) -> Connector:
    return Connector(
        name=f"utility-{name}",
        title=f"Utility: {title}",
        icon=icon,
        provider="Utility",
        kind="code",
        docs=DOCS + docs,
        description=description,
        tags=["utility", *tags],
        **fields,
    )


JSON_TRANSFORM = r"""
import json, math, re

SAFE = {"len": len, "sum": sum, "min": min, "max": max, "sorted": sorted, "abs": abs, "round": round,
        "any": any, "all": all, "enumerate": enumerate, "zip": zip, "range": range, "map": map, "filter": filter,
        "list": list, "dict": dict, "set": set, "tuple": tuple, "str": str, "int": int, "float": float,
        "bool": bool, "isinstance": isinstance, "reversed": reversed}


def run(inputs, ctx):
    try:
        compiled = compile(inputs["expression"], "<expression>", "eval")
    except SyntaxError as error:
        raise ComponentError(f"expression: {error.msg} (column {error.offset})", 400)
    scope = {"__builtins__": SAFE, "data": inputs.get("data"), "json": json, "math": math, "re": re}
    try:
        result = eval(compiled, scope)
    except Exception as error:
        raise ComponentError(f"expression failed: {type(error).__name__}: {error}", 422)
    try:
        return {"result": json.loads(json.dumps(result, default=list))}
    except (TypeError, ValueError) as error:
        raise ComponentError(f"the result is not JSON: {error}", 422)
"""

CONDITION = r'''
import re

OPERATORS = ("equals", "not_equals", "greater", "greater_or_equal", "less", "less_or_equal", "contains",
             "not_contains", "starts_with", "ends_with", "matches", "in", "not_in", "is_empty", "is_not_empty")
ALIASES = {"==": "equals", "!=": "not_equals", ">": "greater", ">=": "greater_or_equal", "<": "less",
           "<=": "less_or_equal"}


def number(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def comparable(left, right):
    """Numbers with numbers (numeric text counts), text with text (ISO dates order as text)."""
    both_text = isinstance(left, str) and isinstance(right, str)
    if number(left) is not None and number(right) is not None and not both_text:
        return number(left), number(right)
    if isinstance(left, str) and isinstance(right, str):
        return left, right
    raise ComponentError(f"cannot order {type(left).__name__} and {type(right).__name__}", 400)


def fold(value, sensitive):
    if sensitive:
        return value
    if isinstance(value, str):
        return value.casefold()
    if isinstance(value, list):
        return [fold(item, sensitive) for item in value]
    return value


def run(inputs, ctx):
    operator = ALIASES.get(inputs["operator"].strip(), inputs["operator"].strip().lower())
    if operator not in OPERATORS:
        raise ComponentError(f"operator: one of {', '.join(OPERATORS)} (or == != > >= < <=)", 400)
    sensitive = inputs.get("case_sensitive", True)
    left, right = fold(inputs.get("left"), sensitive), fold(inputs.get("right"), sensitive)
    if operator in ("is_empty", "is_not_empty"):
        empty = left is None or left == "" or left == [] or left == {}
        return {"result": empty if operator == "is_empty" else not empty}
    if operator in ("equals", "not_equals"):
        same = left == right or (number(left) is not None and number(left) == number(right))
        return {"result": same if operator == "equals" else not same}
    if operator in ("greater", "greater_or_equal", "less", "less_or_equal"):
        a, b = comparable(left, right)
        results = {"greater": a > b, "greater_or_equal": a >= b, "less": a < b, "less_or_equal": a <= b}
        return {"result": results[operator]}
    if operator in ("in", "not_in"):
        if not isinstance(right, (list, str, dict)):
            raise ComponentError("right: a list, text or object to look in", 400)
        found = left in right
        return {"result": found if operator == "in" else not found}
    if not isinstance(left, (str, list, dict)):
        raise ComponentError(f"left: {operator} needs text, a list or an object", 400)
    if operator in ("contains", "not_contains"):
        found = right in left
        return {"result": found if operator == "contains" else not found}
    if not isinstance(left, str) or not isinstance(right, str):
        raise ComponentError(f"{operator} compares text with text", 400)
    if operator == "starts_with":
        return {"result": left.startswith(right)}
    if operator == "ends_with":
        return {"result": left.endswith(right)}
    try:
        return {"result": re.search(right, left, 0 if sensitive else re.IGNORECASE) is not None}
    except re.error as error:
        raise ComponentError(f"right: not a regular expression: {error}", 400)
'''

DATE = r"""
import datetime
import zoneinfo


def zone(name, field):
    if name.upper() in ("UTC", "Z"):
        return datetime.timezone.utc
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, ImportError, OSError):
        # A name not in the system database makes zoneinfo look for the tzdata package, which
        # the sandbox does not have: ImportError means "no such zone" too.
        raise ComponentError(f"{field}: {name!r} is not a time zone (an IANA name such as Europe/Paris)", 400)


def parse(value, pattern, default_zone):
    text = str(value).strip()
    if pattern:
        try:
            moment = datetime.datetime.strptime(text, pattern)
        except ValueError as error:
            raise ComponentError(f"value: {error}", 400)
    elif text.lower() == "now":
        return datetime.datetime.now(datetime.timezone.utc)
    elif text.lstrip("-").replace(".", "", 1).isdigit():
        return datetime.datetime.fromtimestamp(float(text), datetime.timezone.utc)
    else:
        try:
            moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            what = "an ISO 8601 date, a Unix timestamp or 'now' (or give input_format)"
            raise ComponentError(f"value: {text!r} is not {what}", 400)
    return moment if moment.tzinfo else moment.replace(tzinfo=default_zone)


def run(inputs, ctx):
    source = zone(inputs.get("timezone") or "UTC", "timezone")
    target = zone(inputs.get("to_timezone") or "UTC", "to_timezone")
    moment = parse(inputs["value"], inputs.get("input_format", ""), source)
    moment = (moment + datetime.timedelta(seconds=inputs.get("add_seconds", 0))).astimezone(target)
    pattern = inputs.get("output_format", "")
    offset = moment.strftime("%z")
    return {
        "iso": moment.isoformat(),
        "formatted": moment.strftime(pattern) if pattern else moment.isoformat(),
        "timestamp": moment.timestamp(),
        "date": moment.date().isoformat(),
        "weekday": moment.strftime("%A"),
        "utc_offset": f"{offset[:3]}:{offset[3:]}" if offset else "+00:00",
    }
"""

TEMPLATE = r"""
import json
import re
import urllib.parse

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][\w]*(?:\.[\w-]+)*)\s*((?:\|\s*\w+\s*)*)\}\}")
FILTERS = {
    "upper": str.upper, "lower": str.lower, "title": str.title, "trim": str.strip,
    "json": lambda value: value, "urlencode": lambda value: urllib.parse.quote(value, safe=""),
}
MISSING = object()


def lookup(values, path):
    value = values
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.lstrip("-").isdigit() and -len(value) <= int(part) < len(value):
            value = value[int(part)]
        else:
            return MISSING
    return value


def text(value, as_json):
    if as_json or isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def run(inputs, ctx):
    values, strict = inputs.get("values") or {}, inputs.get("missing", "error") != "empty"
    missing = []

    def replace(match):
        value = lookup(values, match.group(1))
        if value is MISSING:
            missing.append(match.group(1))
            return ""
        names = [name.strip() for name in match.group(2).split("|") if name.strip()]
        unknown = [name for name in names if name not in FILTERS]
        if unknown:
            raise ComponentError(f"template: unknown filter {unknown[0]} (one of {', '.join(FILTERS)})", 400)
        result = text(value, "json" in names)
        for name in names:
            result = FILTERS[name](result)
        return result

    rendered = PLACEHOLDER.sub(replace, inputs["template"])
    if missing and strict:
        raise ComponentError(f"values: no value for {', '.join(dict.fromkeys(missing))}", 400)
    return {"text": rendered}
"""

HASH = r"""
import base64
import hashlib
import hmac

ALGORITHMS = ("md5", "sha1", "sha256", "sha384", "sha512", "sha3_256", "blake2b")


def run(inputs, ctx):
    algorithm = inputs.get("algorithm", "sha256").lower().replace("-", "")
    if algorithm == "sha3256":
        algorithm = "sha3_256"
    if algorithm not in ALGORITHMS:
        raise ComponentError(f"algorithm: one of {', '.join(ALGORITHMS)}", 400)
    data = inputs["text"].encode("utf-8")
    key = inputs.get("hmac_key", "")
    digest = hmac.new(key.encode("utf-8"), data, algorithm).digest() if key else hashlib.new(algorithm, data).digest()
    return {"hex": digest.hex(), "base64": base64.b64encode(digest).decode("ascii")}
"""

BASE64 = r"""
import base64
import binascii


def run(inputs, ctx):
    mode, url_safe = inputs.get("mode", "encode").lower(), inputs.get("url_safe", False)
    if mode == "encode":
        data = inputs["text"].encode("utf-8")
        encoded = base64.urlsafe_b64encode(data) if url_safe else base64.b64encode(data)
        return {"text": encoded.decode("ascii")}
    if mode != "decode":
        raise ComponentError("mode: encode or decode", 400)
    text = "".join(inputs["text"].split())
    text += "=" * (-len(text) % 4)  # padding is often left out
    try:
        data = base64.b64decode(text, altchars=b"-_" if url_safe else None, validate=True)
    except (binascii.Error, ValueError) as error:
        raise ComponentError(f"text: not base64: {error}", 400)
    try:
        return {"text": data.decode("utf-8")}
    except UnicodeDecodeError:
        raise ComponentError("text: the decoded bytes are not UTF-8 text", 422)
"""

UUID = r"""
import uuid

NAMESPACES = {"dns": uuid.NAMESPACE_DNS, "url": uuid.NAMESPACE_URL, "oid": uuid.NAMESPACE_OID,
              "x500": uuid.NAMESPACE_X500}


def run(inputs, ctx):
    version, count = inputs.get("version", 4), inputs.get("count", 1)
    if not 1 <= count <= 1000:
        raise ComponentError("count: from 1 to 1000", 400)
    if version == 4:
        made = [str(uuid.uuid4()) for _ in range(count)]
    elif version == 5:
        name = inputs.get("name", "")
        if not name:
            raise ComponentError("name: version 5 makes the UUID of a name; give one", 400)
        space = inputs.get("namespace", "url")
        try:
            namespace = NAMESPACES.get(space.lower()) or uuid.UUID(space)
        except ValueError:
            raise ComponentError("namespace: dns, url, oid, x500 or a UUID", 400)
        made = [str(uuid.uuid5(namespace, name if count == 1 else f"{name}#{index}")) for index in range(count)]
    else:
        raise ComponentError("version: 4 (random) or 5 (from a name)", 400)
    return {"uuid": made[0], "uuids": made}
"""

CSV_PARSE = r"""
import csv
import io


def run(inputs, ctx):
    delimiter = inputs.get("delimiter", ",")
    delimiter = "\t" if delimiter in ("\\t", "tab") else delimiter
    if len(delimiter) != 1:
        raise ComponentError("delimiter: one character (or tab)", 400)
    try:
        rows = [row for row in csv.reader(io.StringIO(inputs["csv"]), delimiter=delimiter, strict=True) if row]
    except csv.Error as error:
        raise ComponentError(f"csv: {error}", 400)
    if not inputs.get("header", True):
        return {"rows": rows, "columns": [], "count": len(rows)}
    if not rows:
        return {"rows": [], "columns": [], "count": 0}
    columns, records = rows[0], []
    for number, row in enumerate(rows[1:], start=2):
        if len(row) > len(columns):
            raise ComponentError(f"csv: line {number} has {len(row)} fields, the header {len(columns)}", 400)
        records.append({column: row[index] if index < len(row) else "" for index, column in enumerate(columns)})
    return {"rows": records, "columns": columns, "count": len(records)}
"""

CSV_GENERATE = r"""
import csv
import io
import json


def cell(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return value


def run(inputs, ctx):
    rows, columns = inputs["rows"], list(inputs.get("columns") or [])
    delimiter = inputs.get("delimiter", ",")
    delimiter = "\t" if delimiter in ("\\t", "tab") else delimiter
    if len(delimiter) != 1:
        raise ComponentError("delimiter: one character (or tab)", 400)
    objects = [row for row in rows if isinstance(row, dict)]
    if objects and len(objects) != len(rows):
        raise ComponentError("rows: all objects or all lists, not both", 400)
    if objects and not columns:
        # Sorted: JSON objects have no order that survives storage (PostgreSQL's jsonb reorders keys).
        columns = sorted({key for row in objects for key in row})
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    if columns and inputs.get("header", True):
        writer.writerow(columns)
    for index, row in enumerate(rows):
        if isinstance(row, dict):
            writer.writerow([cell(row.get(column)) for column in columns])
        elif isinstance(row, list):
            writer.writerow([cell(value) for value in row])
        else:
            raise ComponentError(f"rows.{index}: an object or a list", 400)
    return {"csv": out.getvalue(), "count": len(rows)}
"""

CONNECTORS = (
    utility(
        "json-transform",
        "transform JSON",
        "🧮",
        "functions.html#eval",
        "Computes a new value from JSON data with a Python expression over `data`, e.g. "
        "[u['email'] for u in data['users'] if u['active']]. json, math and re are at hand.",
        ["json", "transform", "expression"],
        code=JSON_TRANSFORM,
        inputs=[
            {"name": "data", **JSON, "optional": True, "description": "The JSON value, as `data`"},
            {"name": "expression", **TEXT, "description": "A Python expression"},
        ],
        outputs=[{"name": "result", **JSON, "optional": True}],
    ),
    utility(
        "condition",
        "compare two values",
        "⚖️",
        "stdtypes.html#comparisons",
        "Compares two values and returns true or false: equals, not_equals, greater, less (numbers, or text "
        "such as ISO dates), contains, starts_with, ends_with, matches (a regular expression), in, is_empty.",
        ["condition", "compare", "logic"],
        code=CONDITION,
        inputs=[
            {"name": "left", **JSON, "optional": True},
            {"name": "operator", **TEXT, "description": "equals, not_equals, greater, less, contains, matches, …"},
            {"name": "right", **JSON, "optional": True},
            {"name": "case_sensitive", "type": "bool", "default": True},
        ],
        outputs=[{"name": "result", "type": "bool"}],
    ),
    utility(
        "date-format",
        "parse and format a date",
        "🗓️",
        "zoneinfo.html",
        "Reads a date (ISO 8601, a Unix timestamp, 'now' or a strptime pattern) in a time zone, moves it to "
        "another (IANA names, daylight saving included) and formats it (ISO 8601 or a strftime pattern).",
        ["date", "time", "timezone", "format"],
        code=DATE,
        inputs=[
            {"name": "value", **TEXT, "description": "ISO 8601, a Unix timestamp or now"},
            {"name": "input_format", **TEXT, "default": "", "description": "A strptime pattern, e.g. %d/%m/%Y %H:%M"},
            {"name": "timezone", **TEXT, "default": "UTC", "description": "The zone of a value that has none"},
            {"name": "to_timezone", **TEXT, "default": "UTC", "description": "The zone of the result"},
            {"name": "output_format", **TEXT, "default": "", "description": "A strftime pattern; ISO 8601 if empty"},
            {
                "name": "add_seconds",
                "type": "number",
                "default": 0,
                "description": "Seconds to add (negative: earlier)",
            },
        ],
        outputs=[
            {"name": "iso", **TEXT},
            {"name": "formatted", **TEXT},
            {"name": "timestamp", "type": "number"},
            {"name": "date", **TEXT},
            {"name": "weekday", **TEXT},
            {"name": "utc_offset", **TEXT},
        ],
    ),
    utility(
        "text-template",
        "fill a text template",
        "📝",
        "string.html",
        "Fills {{ name }} placeholders (dotted paths such as {{ order.items.0.sku }}, filters upper, lower, "
        "title, trim, json, urlencode) from a JSON object of values.",
        ["text", "template", "format"],
        code=TEMPLATE,
        inputs=[
            {"name": "template", **TEXT},
            {"name": "values", **JSON, "subtype": "object", "default": {}},
            {
                "name": "missing",
                **TEXT,
                "default": "error",
                "description": "error or empty, for a placeholder without a value",
            },
        ],
        outputs=[{"name": "text", **TEXT}],
    ),
    utility(
        "hash",
        "hash or HMAC",
        "#️⃣",
        "hmac.html",
        "Hashes text (md5, sha1, sha256, sha384, sha512, sha3_256, blake2b) or, with a key, computes its HMAC; "
        "returns hex and base64. To sign with a credential, use the signed webhook instead (code never sees "
        "credentials).",
        ["hash", "hmac", "crypto"],
        code=HASH,
        inputs=[
            {"name": "text", **TEXT},
            {"name": "algorithm", **TEXT, "default": "sha256"},
            {"name": "hmac_key", **TEXT, "default": "", "description": "A key for an HMAC (not a credential)"},
        ],
        outputs=[{"name": "hex", **TEXT}, {"name": "base64", **TEXT}],
    ),
    utility(
        "base64",
        "Base64 encode or decode",
        "🔤",
        "base64.html",
        "Encodes UTF-8 text as Base64 or decodes Base64 back to text; the URL-safe alphabet on request, "
        "missing padding tolerated.",
        ["base64", "encode", "decode"],
        code=BASE64,
        inputs=[
            {"name": "text", **TEXT},
            {"name": "mode", **TEXT, "default": "encode", "description": "encode or decode"},
            {"name": "url_safe", "type": "bool", "default": False},
        ],
        outputs=[{"name": "text", **TEXT}],
    ),
    utility(
        "uuid",
        "make UUIDs",
        "🆔",
        "uuid.html",
        "Makes random UUIDs (version 4) or the stable UUID of a name (version 5, in the dns, url, oid, x500 "
        "or a given namespace).",
        ["uuid", "id", "random"],
        code=UUID,
        inputs=[
            {"name": "version", "type": "number", "subtype": "integer", "default": 4},
            {"name": "name", **TEXT, "default": "", "description": "Version 5: the name"},
            {"name": "namespace", **TEXT, "default": "url", "description": "Version 5: dns, url, oid, x500 or a UUID"},
            {"name": "count", "type": "number", "subtype": "integer", "default": 1},
        ],
        outputs=[{"name": "uuid", **TEXT, "subtype": "uuid"}, {"name": "uuids", "type": "list", "subtype": "text"}],
    ),
    utility(
        "csv-parse",
        "parse CSV",
        "📄",
        "csv.html",
        "Parses CSV text (RFC 4180 quoting, any one-character delimiter) into rows: objects keyed by the "
        "header line, or lists without one.",
        ["csv", "parse", "table"],
        code=CSV_PARSE,
        inputs=[
            {"name": "csv", **TEXT},
            {"name": "delimiter", **TEXT, "default": ",", "description": "One character, or tab"},
            {"name": "header", "type": "bool", "default": True, "description": "The first line names the columns"},
        ],
        outputs=[
            {"name": "rows", "type": "list"},
            {"name": "columns", "type": "list", "subtype": "text"},
            {"name": "count", "type": "number", "subtype": "integer"},
        ],
    ),
    utility(
        "csv-generate",
        "make CSV",
        "🧾",
        "csv.html",
        "Writes rows (objects or lists) as CSV text with a header line, quoting as RFC 4180 says; nested "
        "values become JSON. Columns: as given, else every key of the objects in alphabetical order.",
        ["csv", "export", "table"],
        code=CSV_GENERATE,
        inputs=[
            {"name": "rows", "type": "list"},
            {"name": "columns", "type": "list", "subtype": "text", "default": [], "description": "Column order"},
            {"name": "delimiter", **TEXT, "default": ","},
            {"name": "header", "type": "bool", "default": True},
        ],
        outputs=[{"name": "csv", **TEXT}, {"name": "count", "type": "number", "subtype": "integer"}],
    ),
)
