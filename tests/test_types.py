"""The types of DESIGN.md §2: declarations, coercion and the 101/102/106/107 errors."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from components.errors import RunError
from components.types import check_outputs, coerce_inputs, validate_interface


def interface(*specs: dict) -> list[dict]:  # type: ignore[type-arg]
    return validate_interface(list(specs), field="inputs")


@pytest.mark.parametrize(
    ("spec", "given", "coerced"),
    [
        ({"type": "text"}, "hello", "hello"),
        ({"type": "text"}, 42, "42"),
        ({"type": "text", "subtype": "email"}, "a@example.com", "a@example.com"),
        ({"type": "text", "subtype": "url"}, "https://example.com/x", "https://example.com/x"),
        (
            {"type": "text", "subtype": "uuid"},
            "12345678-1234-5678-1234-567812345678",
            "12345678-1234-5678-1234-567812345678",
        ),
        ({"type": "text", "subtype": "ip"}, "::1", "::1"),
        ({"type": "text", "subtype": "iso8601"}, "2026-11-27T10:00:00Z", "2026-11-27T10:00:00Z"),
        ({"type": "text", "subtype": "base64"}, "aGVsbG8=", "aGVsbG8="),
        ({"type": "text", "subtype": "alphanumeric"}, "abc123", "abc123"),
        ({"type": "text", "subtype": "creditcard"}, "4111 1111 1111 1111", "4111 1111 1111 1111"),
        ({"type": "number"}, "2.5", 2.5),
        ({"type": "number"}, 3, 3),
        ({"type": "number", "subtype": "integer"}, "42", 42),
        ({"type": "number", "subtype": "integer"}, 4.0, 4),
        ({"type": "number", "subtype": "decimal"}, "0.10", "0.10"),
        ({"type": "number", "subtype": "hexadecimal"}, "0xff", 255),
        ({"type": "bool"}, "true", True),
        ({"type": "bool"}, 0, False),
        ({"type": "date"}, "2026-11-27", "2026-11-27"),
        ({"type": "date"}, "2026-11-27T10:00:00Z", "2026-11-27T10:00:00+00:00"),
        ({"type": "json"}, {"a": [1]}, {"a": [1]}),
        ({"type": "json", "subtype": "object"}, '{"a": 1}', {"a": 1}),
        ({"type": "list", "subtype": "number"}, ["1", 2], [1, 2]),
        ({"type": "list", "subtype": "text:email"}, ["a@example.com"], ["a@example.com"]),
        ({"type": "secret"}, "STRIPE_KEY", "{{ secrets.STRIPE_KEY }}"),
    ],
)
def test_values_are_coerced(spec, given, coerced):
    specs = interface({"name": "x", **spec})
    assert coerce_inputs(specs, {"x": given}) == {"x": coerced}


@pytest.mark.parametrize(
    ("spec", "given"),
    [
        ({"type": "text"}, {"a": 1}),
        ({"type": "text", "subtype": "email"}, "not an email"),
        ({"type": "text", "subtype": "url"}, "javascript:alert(1)"),
        ({"type": "text", "subtype": "uuid"}, "nope"),
        ({"type": "text", "subtype": "creditcard"}, "4111 1111 1111 1112"),
        ({"type": "number"}, "twelve"),
        ({"type": "number"}, True),
        ({"type": "number"}, "nan"),
        ({"type": "number", "subtype": "integer"}, 2.5),
        ({"type": "bool"}, "maybe"),
        ({"type": "date"}, "yesterday"),
        ({"type": "json", "subtype": "object"}, [1]),
        ({"type": "list", "subtype": "number"}, ["x"]),
        ({"type": "secret"}, "lower_case"),
    ],
)
def test_wrong_types_are_101_naming_the_input(spec, given):
    specs = interface({"name": "x", **spec})
    with pytest.raises(RunError) as error:
        coerce_inputs(specs, {"x": given})
    assert error.value.code == 101
    assert error.value.extra["incorrect"][0]["name"] == "x"
    assert error.value.extra["incorrect"][0]["expected"].startswith(spec["type"])
    assert error.value.http_status == 400


def test_missing_inputs_are_102_and_optional_ones_take_defaults():
    specs = interface(
        {"name": "a", "type": "text"},
        {"name": "b", "type": "number", "optional": True},
        {"name": "c", "type": "number", "default": 7},
    )
    with pytest.raises(RunError) as error:
        coerce_inputs(specs, {})
    assert error.value.code == 102
    assert error.value.extra["missing"] == ["a"]
    assert coerce_inputs(specs, {"a": "x"}) == {"a": "x", "c": 7}


def test_undeclared_inputs_pass_through():
    specs = interface({"name": "a", "type": "text"})
    assert coerce_inputs(specs, {"a": "x", "extra": [1, 2]}) == {"a": "x", "extra": [1, 2]}


def test_outputs_are_required_unless_optional():
    specs = validate_interface(
        [{"name": "total", "type": "number"}, {"name": "note", "type": "text", "optional": True}], field="outputs"
    )
    assert check_outputs(specs, {"total": "3"}) == {"total": 3}
    with pytest.raises(RunError) as missing:
        check_outputs(specs, {"note": "x"})
    assert missing.value.code == 107
    with pytest.raises(RunError) as wrong:
        check_outputs(specs, {"total": "lots"})
    assert wrong.value.code == 106
    with pytest.raises(RunError) as not_an_object:
        check_outputs(specs, ["total"])
    assert not_an_object.value.code == 106


@pytest.mark.parametrize(
    ("specs", "message"),
    [
        ([{"name": "1st", "type": "text"}], "inputs[0].name"),
        ([{"name": "a", "type": "colour"}], "inputs.a.type"),
        ([{"name": "a", "type": "text", "subtype": "phone"}], "inputs.a.subtype"),
        ([{"name": "a", "type": "text"}, {"name": "a", "type": "number"}], "declared twice"),
        ([{"name": "a", "type": "number", "default": "many"}], "inputs.a.default"),
        ([{"name": "a", "type": "text", "colour": "red"}], "unknown keys colour"),
        ("not a list", "a list"),
    ],
)
def test_bad_declarations_name_the_field(specs, message):
    with pytest.raises(ValidationError) as error:
        validate_interface(specs, field="inputs")
    assert message in str(error.value.message_dict["inputs"])


@pytest.mark.parametrize("value", ["{{ secrets.STRIPE_KEY }}", {"nested": ["x {{secrets.A}}"]}])
def test_only_secret_inputs_may_name_a_credential(value):
    specs = interface({"name": "text", "type": "text"}, {"name": "key", "type": "secret"})
    with pytest.raises(RunError) as error:
        coerce_inputs(specs, {"text": "ok", "key": "STRIPE_KEY", "extra": value})
    assert error.value.code == 101
    assert [i["name"] for i in error.value.extra["incorrect"]] == ["extra"]
    with pytest.raises(RunError):
        coerce_inputs(specs, {"text": "{{ secrets.STRIPE_KEY }}", "key": "STRIPE_KEY"})
    assert coerce_inputs(specs, {"text": "ok", "key": "{{ secrets.STRIPE_KEY }}"})["key"] == "{{ secrets.STRIPE_KEY }}"


@pytest.mark.parametrize(
    ("spec", "value"),
    [
        ({"name": "payload", "type": "json", "subtype": "object"}, '{"m": "\\u007b\\u007b secrets.STRIPE_KEY }}"}'),
        ({"name": "payload", "type": "json", "subtype": "array"}, '["\\u007B{ secrets.STRIPE_KEY }}"]'),
        ({"name": "payload", "type": "list", "subtype": "text"}, '["{\\u007b secrets.STRIPE_KEY }}"]'),
    ],
)
def test_a_reference_hidden_in_json_escapes_is_refused_after_parsing(spec, value):
    """The raw string shows no ``{{ secrets.``; the parsed value does, and that is what code receives."""
    assert "{{" not in value
    with pytest.raises(RunError) as error:
        coerce_inputs(interface(spec), {"payload": value})
    assert error.value.code == 101
    assert error.value.extra["incorrect"] == [
        {"name": "payload", "expected": "a value without {{ secrets.… }}", "given": "a secret reference"}
    ]
    assert coerce_inputs(interface(spec), {"payload": value.replace("secrets", "nothing")})["payload"]


def test_a_list_of_secrets_carries_references_like_a_secret_input():
    """Checked after coercion, the references a ``list:secret`` makes of names are its own, not a caller's."""
    specs = interface({"name": "keys", "type": "list", "subtype": "secret"})
    expected = ["{{ secrets.A_KEY }}", "{{ secrets.B_KEY }}"]
    assert coerce_inputs(specs, {"keys": ["A_KEY", "{{ secrets.B_KEY }}"]})["keys"] == expected
    with pytest.raises(RunError):
        coerce_inputs(interface({"name": "keys", "type": "list", "subtype": "text"}), {"keys": expected})
