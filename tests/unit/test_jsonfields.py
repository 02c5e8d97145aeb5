"""The one typed JSON reader of drill results and reports: values, defaults, fields of errors."""

from __future__ import annotations

from typing import Any

import pytest

from chaosdrill.drill.jsonfields import JsonObject
from chaosdrill.errors import InvalidInputError


def _obj(data: Any) -> JsonObject:
    return JsonObject.of(data, "r.json", "drills[0]")


def _refused(o: JsonObject, read: str, key: str, *args: Any) -> InvalidInputError:
    with pytest.raises(InvalidInputError) as info:
        getattr(o, read)(key, *args)
    assert info.value.source == "r.json"
    return info.value


def test_typed_reads_keep_the_value_and_its_type() -> None:
    o = _obj({"n": 3, "x": 2.5, "s": "a", "b": False, "l": ["p", "q"], "t": ("p",), "z": None})
    assert o.integer("n") == 3 and type(o.number("n")) is int and o.number("x") == 2.5
    assert o.text("s") == "a" and o.flag("b") is False and o.choice("s", ("a", "b")) == "a"
    assert o.texts("l") == ("p", "q") and o.texts("t") == ("p",)
    assert (o.opt_text("z"), o.opt_number("z"), o.opt_integer("z"), o.opt_free("z")) == (None,) * 4
    assert (o.opt_text("absent"), o.opt_child("z"), o.opt_child("absent")) == (None, None, None)
    assert o.has("z") and not o.has("absent")


def test_a_default_stands_for_an_absent_key_and_for_a_null_list() -> None:
    o = _obj({"l": None, "s": None})
    assert o.text("absent", "d") == "d" and o.number("absent", 1.0) == 1.0
    assert o.integer("absent", 0) == 0 and o.flag("absent", True) is True
    assert o.texts("l", []) == () and o.array("l", []) == [] and o.children("l", []) == []
    assert o.free("absent", {"k": 1}) == {"k": 1}
    # a null where a string is wanted stays an error even with a default
    assert _refused(o, "text", "s", "d").field == "drills[0].s"
    assert _refused(o, "texts", "l").field == "drills[0].l"


@pytest.mark.parametrize(
    ("read", "value", "message"),
    [
        ("integer", True, "expected an integer, got True"),
        ("integer", 1.5, "expected an integer, got 1.5"),
        ("number", True, "expected a number, got True"),
        ("opt_number", "1", "expected a number or null, got '1'"),
        ("opt_integer", 2.0, "expected an integer or null, got 2.0"),
        ("flag", 1, "expected true or false, got 1"),
        ("text", 7, "expected a string, got 7"),
        ("texts", "ab", "expected a list of strings, got 'ab'"),
        ("array", {}, "expected a list, got {}"),
        ("free", [], "expected an object, got []"),
        ("child", [], "expected a JSON object, got list"),
    ],
)
def test_a_wrong_type_names_the_field_and_what_was_expected(
    read: str, value: Any, message: str
) -> None:
    err = _refused(_obj({"k": value}), read, "k")
    assert err.field == "drills[0].k" and err.detail == message


def test_a_missing_key_an_unknown_one_a_bad_item_and_a_bad_choice() -> None:
    o = _obj({"l": ["a", 2], "g": "E", "m": {"x": {}, "y": 1}})
    assert _refused(o, "number", "absent").detail == "missing"
    assert _refused(o, "texts", "l").field == "drills[0].l[1]"
    assert _refused(o, "choice", "g", ("A", "B")).detail == "expected one of A, B, got 'E'"
    with pytest.raises(InvalidInputError, match="missing") as info:
        o.need(("l", "absent"))
    assert info.value.field == "drills[0].absent"
    with pytest.raises(InvalidInputError, match="unknown field; expected one of: l, g") as info:
        o.only(("l", "g"))
    assert info.value.field == "drills[0].m"
    members = o.child("m").members()
    assert next(members)[1].path == "drills[0].m.x"
    with pytest.raises(InvalidInputError) as info:
        next(members)
    assert info.value.field == "drills[0].m.y"


def test_nested_paths_and_copies() -> None:
    detail = {"inner": {"v": [1]}}
    o = _obj({"runs": [{"steps": [{"ok": True}]}], "detail": detail, "l": [1]})
    step = o.children("runs")[0].children("steps")[0]
    assert step.path == "drills[0].runs[0].steps[0]" and step.flag("ok")
    copied = o.free("detail")
    copied["inner"]["v"].append(2)
    o.array("l").append(2)
    assert detail == {"inner": {"v": [1]}} and o.data["l"] == [1]
    assert JsonObject.of({}).at("k") == "k" and o.at(3) == "drills[0][3]"


def test_a_huge_bad_value_does_not_flood_the_message() -> None:
    err = _refused(_obj({"k": ["x" * 1000]}), "text", "k")
    assert err.detail.startswith("expected a string, got ['xxx") and len(err.detail) == 300
