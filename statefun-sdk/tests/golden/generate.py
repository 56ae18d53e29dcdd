#!/usr/bin/env python3
"""Generate golden wire fixtures for the Rust StateFun SDK from the official Python SDK.

This script drives the *official* Apache Flink Stateful Functions Python SDK
(PyPI ``apache-flink-statefun==3.3.0``, with ``protobuf==3.20.3``) and records
the exact bytes it produces, so that the Rust SDK's tests can compare their own
encodings byte for byte.

It writes two files next to itself (independently of the current directory):

``types.json``
    * ``cases``: encodings of the built-in primitive types (``IntType``,
      ``LongType``, ``FloatType``, ``DoubleType``, ``BoolType``, ``StringType``)
      as produced by ``tpe.serializer().serialize(value)``.  Special float
      values (``-0.0``, ``inf``, ``-inf``) are given as JSON strings.
    * ``json_cases``: encodings produced by ``make_json_type(...)``.
    * ``spec_examples``: the two worked examples of the protocol spec (§1.8),
      asserted against their expected hex.

``wire.json``
    ``cases``: request/response pairs.  Each request is a serialized
    ``ToFunction`` built with the SDK's generated protobuf module; each response
    is what ``RequestReplyHandler(functions).handle_sync(request)`` returned for
    one "interpreter" function (typename ``golden.fns/interpreter``) that
    executes the text commands carried by its string arguments (see
    ``interpreter`` below).  When the SDK raises instead of answering, the case
    has ``"response_hex": null`` and an ``"error"`` string.

All hex strings are lower case without separators.  The output is
deterministic: cases are built in a fixed order, JSON keys are sorted and no
timestamps are recorded.

Set ``STATEFUN_GOLDEN_OUT`` to write elsewhere (CI regenerates into a
temporary directory and compares with the checked-in files).

Regenerate (from the repository root):

    pip install apache-flink-statefun==3.3.0 && python3 statefun-sdk/tests/golden/generate.py

Only the Python standard library and the ``statefun`` package (plus its
``protobuf`` dependency) are used.
"""

import json
import math
import os
import sys
from datetime import timedelta

from statefun import (
    BoolType,
    DoubleType,
    FloatType,
    IntType,
    LongType,
    RequestReplyHandler,
    StatefulFunctions,
    StringType,
    ValueSpec,
    egress_message_builder,
    kafka_egress_message,
    kinesis_egress_message,
    make_json_type,
    message_builder,
)
from statefun.request_reply_pb2 import Address, FromFunction, ToFunction, TypedValue

HERE = os.path.dirname(os.path.abspath(__file__))

EXPECTED_STATEFUN_VERSION = "3.3.0"
EXPECTED_PROTOBUF_VERSION = "3.20.3"


def _check_versions():
    """Warn (on stderr) when the installed packages differ from the pinned ones."""
    try:
        from importlib.metadata import version
    except ImportError:  # pragma: no cover - python < 3.8
        return
    for dist, expected in (("apache-flink-statefun", EXPECTED_STATEFUN_VERSION),
                           ("protobuf", EXPECTED_PROTOBUF_VERSION)):
        try:
            found = version(dist)
        except Exception:  # noqa: BLE001 - metadata may be unavailable
            found = "unknown"
        if found != expected:
            sys.stderr.write(f"warning: {dist} {found} installed, fixtures were defined with {expected}; "
                             f"bytes may differ\n")


# ---------------------------------------------------------------------------------------------------------------------
# types.json
# ---------------------------------------------------------------------------------------------------------------------

def _special_float(value):
    """Map the string spellings used in the fixture to Python floats; pass other values through."""
    if isinstance(value, str):
        return {"-0.0": -0.0, "inf": math.inf, "-inf": -math.inf}[value]
    return value


PRIMITIVE_CASES = [
    (IntType, [0, 1, 42, -1, 2147483647, -2147483648]),
    (LongType, [0, 1, -1, 9223372036854775807, -9223372036854775808, 4294967296]),
    (FloatType, [0.0, 1.5, -2.0, 0.25, 3.4028234663852886e38, "-0.0", "inf", "-inf"]),
    (DoubleType, [0.0, 1.5, -2.0, 0.1, 1e300, "-0.0", "inf", "-inf"]),
    (BoolType, [True, False]),
    (StringType, ["", "hi", "héllo wörld", "日本語", "a" * 200]),
]

JSON_TYPENAME = "golden.types/Profile"
JSON_VALUES = [
    {"name": "Kim", "visits": 3},
    {"name": "Zoë", "visits": 3},
]

SPEC_EXAMPLE_EMPTY_RESPONSE_HEX = "a20600"
SPEC_EXAMPLE_MINIMAL_REQUEST_HEX = "a2060d0a0b0a026e731202666e1a0131"


def build_types():
    cases = []
    for tpe, values in PRIMITIVE_CASES:
        serializer = tpe.serializer()
        for value in values:
            actual = _special_float(value) if tpe in (FloatType, DoubleType) else value
            encoded = serializer.serialize(actual)
            # sanity: the SDK must read its own bytes back
            decoded = serializer.deserialize(encoded)
            if tpe is FloatType:
                if not (decoded == actual or (math.isnan(decoded) and math.isnan(actual))):
                    raise AssertionError(f"float round trip failed for {value!r}: {decoded!r}")
            elif decoded != actual:
                raise AssertionError(f"round trip failed for {tpe.typename} {value!r}: {decoded!r}")
            cases.append({"typename": tpe.typename, "value": value, "hex": encoded.hex()})

    json_type = make_json_type(JSON_TYPENAME)
    json_cases = []
    for value in JSON_VALUES:
        encoded = json_type.serializer().serialize(value)
        json_cases.append({"typename": json_type.typename, "value": value, "hex": encoded.hex()})

    empty_response = FromFunction()
    empty_response.invocation_result.SetInParent()
    empty_response_hex = empty_response.SerializeToString().hex()
    assert empty_response_hex == SPEC_EXAMPLE_EMPTY_RESPONSE_HEX, empty_response_hex

    minimal_request = ToFunction()
    minimal_request.invocation.target.namespace = "ns"
    minimal_request.invocation.target.type = "fn"
    minimal_request.invocation.target.id = "1"
    minimal_request_hex = minimal_request.SerializeToString().hex()
    assert minimal_request_hex == SPEC_EXAMPLE_MINIMAL_REQUEST_HEX, minimal_request_hex

    spec_examples = [
        {"name": "empty_invocation_result", "hex": empty_response_hex},
        {"name": "minimal_to_function", "hex": minimal_request_hex},
    ]
    return {"cases": cases, "json_cases": json_cases, "spec_examples": spec_examples}


# ---------------------------------------------------------------------------------------------------------------------
# The interpreter function
# ---------------------------------------------------------------------------------------------------------------------

FN_TYPENAME = "golden.fns/interpreter"
FN_NAMESPACE, FN_TYPE = FN_TYPENAME.split("/")

SPECS = [
    ValueSpec(name="seen", type=IntType),
    ValueSpec(name="last", type=StringType, expire_after_call=timedelta(seconds=60)),
    ValueSpec(name="flag", type=BoolType, expire_after_write=timedelta(days=1)),
    ValueSpec(name="score", type=DoubleType),
    ValueSpec(name="big", type=LongType),
    ValueSpec(name="ratio", type=FloatType),
]
SPEC_TYPES = {spec.name: spec.type for spec in SPECS}

SEND_KINDS = {
    "int": ("int_value", int),
    "long": ("long_value", int),
    "str": ("str_value", str),
    "bool": ("bool_value", lambda token: token == "true"),
    "float": ("float_value", float),
    "double": ("double_value", float),
}


def interpreter(context, message):
    """Execute one command line carried as a string argument."""
    line = message.as_string()
    command, _, rest = line.partition(" ")
    storage = context.storage

    if command == "incr":
        storage.seen = (storage.seen or 0) + 1
    elif command == "last":
        storage.last = rest
    elif command == "flag":
        storage.flag = (rest == "true")
    elif command == "score":
        storage.score = float(rest)
    elif command == "ratio":
        storage.ratio = float(rest)
    elif command == "big":
        storage.big = int(rest)
    elif command == "del":
        delattr(storage, rest)
    elif command == "send":
        typename, target_id, kind, raw = rest.split(" ", 3)
        keyword, parse = SEND_KINDS[kind]
        context.send(message_builder(target_typename=typename, target_id=target_id, **{keyword: parse(raw)}))
    elif command == "delay":
        ms, typename, target_id, text = rest.split(" ", 3)
        context.send_after(timedelta(milliseconds=int(ms)),
                           message_builder(target_typename=typename, target_id=target_id, str_value=text))
    elif command == "delaytok":
        ms, typename, target_id, token, text = rest.split(" ", 4)
        context.send_after(timedelta(milliseconds=int(ms)),
                           message_builder(target_typename=typename, target_id=target_id, str_value=text),
                           cancellation_token=token)
    elif command == "cancel":
        context.cancel_delayed_message(rest)
    elif command == "kafka":
        egress, topic, key, text = rest.split(" ", 3)
        context.send_egress(kafka_egress_message(typename=egress,
                                                 topic=topic,
                                                 key=None if key == "-" else key,
                                                 value=text))
    elif command == "kinesis":
        egress, stream, partition_key, hash_key, text = rest.split(" ", 4)
        context.send_egress(kinesis_egress_message(typename=egress,
                                                   stream=stream,
                                                   partition_key=partition_key,
                                                   explicit_hash_key=None if hash_key == "-" else hash_key,
                                                   value=text))
    elif command == "egress":
        egress, text = rest.split(" ", 1)
        context.send_egress(egress_message_builder(target_typename=egress, value=text, value_type=StringType))
    elif command == "reply":
        caller = context.caller
        if caller is not None:
            context.send(message_builder(target_typename=caller.typename, target_id=caller.id, str_value=rest))
        else:
            context.send(message_builder(target_typename="golden.fns/nobody", target_id="ingress", str_value=rest))
    elif command == "self":
        context.send(message_builder(target_typename=context.address.typename,
                                     target_id=context.address.id,
                                     str_value=rest))
    else:
        raise ValueError(f"unknown command {line!r}")


def make_handler():
    functions = StatefulFunctions()
    functions.register(FN_TYPENAME, interpreter, specs=SPECS)
    return RequestReplyHandler(functions)


# ---------------------------------------------------------------------------------------------------------------------
# Request construction
# ---------------------------------------------------------------------------------------------------------------------

# Marker for a state whose PersistedValue carries a state_value with has_value=false.
HAS_VALUE_FALSE = object()
# Marker for a valueless state (PersistedValue with only state_name).
NO_VALUE = None
# Marker for a caller Address that is present on the wire but has all three fields empty.
EMPTY_CALLER = ("", "", "")

DEFAULT_STATE_VALUES = [
    ("seen", 5),
    ("last", "prev"),
    ("flag", True),
    ("score", 2.5),
    ("big", 10000000000),
    ("ratio", NO_VALUE),
]


def default_states(**overrides):
    """All six declared states in spec order with the default values; keyword overrides replace values."""
    out = []
    for name, value in DEFAULT_STATE_VALUES:
        if name in overrides:
            value = overrides[name]
        out.append((name, SPEC_TYPES[name], value))
    return out


def all_valueless_states():
    return [(spec.name, spec.type, NO_VALUE) for spec in SPECS]


def build_request(states, invocations, target_id="user-1"):
    """
    :param states: list of (state_name, Type, value) where value may be NO_VALUE or HAS_VALUE_FALSE
    :param invocations: list of (command_text, caller) where caller is None (absent) or (namespace, type, id)
    :param target_id: id of the invoked interpreter instance
    :return: serialized ToFunction bytes
    """
    to_function = ToFunction()
    batch = to_function.invocation
    batch.target.CopyFrom(Address(namespace=FN_NAMESPACE, type=FN_TYPE, id=target_id))
    for name, tpe, value in states:
        persisted = batch.state.add()
        persisted.state_name = name
        if value is NO_VALUE:
            continue
        if value is HAS_VALUE_FALSE:
            persisted.state_value.CopyFrom(TypedValue(typename=tpe.typename, has_value=False))
            continue
        persisted.state_value.CopyFrom(TypedValue(typename=tpe.typename,
                                                  has_value=True,
                                                  value=tpe.serializer().serialize(value)))
    for text, caller in invocations:
        invocation = batch.invocations.add()
        if caller is not None:
            namespace, type_, id_ = caller
            invocation.caller.CopyFrom(Address(namespace=namespace, type=type_, id=id_))
            # CopyFrom of an all-default message still marks the field present; make it explicit.
            invocation.caller.SetInParent()
        invocation.argument.CopyFrom(TypedValue(typename=StringType.typename,
                                                has_value=True,
                                                value=StringType.serializer().serialize(text)))
    return to_function.SerializeToString()


OTHER = "golden.fns", "other"


def other(id_):
    return OTHER[0], OTHER[1], id_


CASES = [
    dict(name="handshake_no_state",
         description="Request with no PersistedValue at all and one `incr`: the SDK answers with an "
                     "IncompleteInvocationContext listing all six ValueSpecs in declaration order "
                     "(with expiration specs; NONE is sent explicitly as an empty ExpirationSpec).",
         states=[],
         invocations=[("incr", None)]),
    dict(name="handshake_partial_state",
         description="Only `seen` and `score` are present: the IncompleteInvocationContext lists the "
                     "other four (last, flag, big, ratio) in declaration order; nothing is executed.",
         states=[("seen", IntType, 5), ("score", DoubleType, 2.5)],
         invocations=[("incr", None)]),
    dict(name="single_incr",
         description="All six states (seen=5, last=prev, flag=true, score=2.5, big=1e10, ratio valueless); "
                     "one `incr` from an ingress (no caller) -> MODIFY seen=6 only.",
         states=default_states(),
         invocations=[("incr", None)]),
    dict(name="valueless_states",
         description="All six states present but valueless (state_name only); `incr`, `incr` -> the second "
                     "invocation sees the first's write; MODIFY seen=2.",
         states=all_valueless_states(),
         invocations=[("incr", None), ("incr", None)]),
    dict(name="batch_in_order",
         description="Batch of four: `incr` (caller golden.fns/other/a), `last hello world` (no caller), "
                     "`incr` (caller present on the wire with all fields empty = no caller), `reply done` "
                     "(caller golden.fns/other/b). State is shared across the batch: seen 5->7, "
                     "last='hello world'; the reply goes to golden.fns/other/b.",
         states=default_states(),
         invocations=[("incr", other("a")),
                      ("last hello world", None),
                      ("incr", EMPTY_CALLER),
                      ("reply done", other("b"))]),
    dict(name="send_every_primitive",
         description="Outgoing messages to golden.fns/other/x with every primitive type: int 42, long -7, "
                     "str 'hé', bool true, float 1.5, double -0.25, and int 0 (has_value=true with empty "
                     "value bytes). No state mutations.",
         states=default_states(),
         invocations=[("send golden.fns/other x int 42", None),
                      ("send golden.fns/other x long -7", None),
                      ("send golden.fns/other x str hé", None),
                      ("send golden.fns/other x bool true", None),
                      ("send golden.fns/other x float 1.5", None),
                      ("send golden.fns/other x double -0.25", None),
                      ("send golden.fns/other x int 0", None)]),
    dict(name="delayed_and_cancel",
         description="Delayed messages: 1500 ms to golden.fns/other/x without token (empty token is omitted), "
                     "900000 ms to itself with token 'cart-expiry:user-1', a cancellation of that token "
                     "(is_cancellation_request + token only), and a 0 ms delay (delay_in_ms omitted).",
         states=default_states(),
         invocations=[("delay 1500 golden.fns/other x ping", None),
                      ("delaytok 900000 golden.fns/interpreter user-1 cart-expiry:user-1 expire", None),
                      ("cancel cart-expiry:user-1", None),
                      ("delay 0 golden.fns/other y zero", None)]),
    dict(name="egress_records",
         description="Egress messages: Kafka record with key, Kafka record without key (key omitted), "
                     "Kinesis record without explicit hash key, Kinesis record with hash key, and a generic "
                     "egress carrying a StringType value.",
         states=default_states(),
         invocations=[('kafka com.example/results add-to-cart-results user-1 {"ok":true}', None),
                      ("kafka com.example/results receipts - nokey", None),
                      ("kinesis com.example/stream events pk-1 - data", None),
                      ("kinesis com.example/stream events pk-2 12345 hashed", None),
                      ("egress com.example/log line one", None)]),
    dict(name="delete_and_zero",
         description="`del last`, `big 0`, `flag false`, `score 0.0` -> DELETE last; MODIFY flag/score/big "
                     "with has_value=true and empty value bytes (zero values); mutations in spec order.",
         states=default_states(),
         invocations=[("del last", None),
                      ("big 0", None),
                      ("flag false", None),
                      ("score 0.0", None)]),
    dict(name="set_then_delete_same_state",
         description="`last a`, `del last`, `incr`, `del seen`, `incr` -> only the final cell state is "
                     "reported: DELETE last; seen 5->6, deleted, then incr from empty -> MODIFY seen=1.",
         states=default_states(),
         invocations=[("last a", None),
                      ("del last", None),
                      ("incr", None),
                      ("del seen", None),
                      ("incr", None)]),
    dict(name="undeclared_state_ignored",
         description="All six states plus an undeclared `legacy` int state (7); `incr` -> the extra state is "
                     "ignored (no handshake, no mutation for it); MODIFY seen=6.",
         states=default_states() + [("legacy", IntType, 7)],
         invocations=[("incr", None)]),
    dict(name="caller_reply_and_self",
         description="`reply pong` with caller golden.fns/other/z -> message to the caller; `self again` "
                     "(no caller) -> message to golden.fns/interpreter/user-1.",
         states=default_states(),
         invocations=[("reply pong", other("z")),
                      ("self again", None)]),
    dict(name="empty_id",
         description="Target id is the empty string with `incr`. The Python SDK builds a Message for the "
                     "invocation whose target_id must be non-empty, so it raises instead of replying.",
         states=default_states(),
         invocations=[("incr", None)],
         target_id=""),
    dict(name="unicode_id",
         description="Target id 'ünïcødé' with `reply hi` from caller golden.fns/other/ünïcødé -> message "
                     "back to that caller (UTF-8 ids).",
         states=default_states(),
         invocations=[("reply hi", other("ünïcødé"))],
         target_id="ünïcødé"),
    dict(name="state_all_types_roundtrip",
         description="`score 3.25`, `ratio -0.5`, `big -9223372036854775808`, `flag true`, `last ünï`, `incr` "
                     "-> MODIFY for all six states in spec order (flag re-set to the same value still emits "
                     "MODIFY).",
         states=default_states(),
         invocations=[("score 3.25", None),
                      ("ratio -0.5", None),
                      ("big -9223372036854775808", None),
                      ("flag true", None),
                      ("last ünï", None),
                      ("incr", None)]),
    # ---- extra cases (beyond the required list) ----
    dict(name="reply_without_caller",
         description="`reply a` with no caller and `reply b` with an all-empty caller Address: both are "
                     "treated as 'no caller' and go to golden.fns/nobody/ingress.",
         states=default_states(),
         invocations=[("reply a", None),
                      ("reply b", EMPTY_CALLER)]),
    dict(name="delete_never_set_state",
         description="`del ratio` where ratio is valueless -> the Python SDK still emits a DELETE mutation "
                     "(deleting marks the cell dirty regardless of its previous value).",
         states=default_states(),
         invocations=[("del ratio", None)]),
    dict(name="state_value_has_value_false",
         description="`seen` arrives as state_value{typename=int, has_value=false} (instead of being absent); "
                     "the SDK treats it as empty: `incr` -> MODIFY seen=1.",
         states=default_states(seen=HAS_VALUE_FALSE),
         invocations=[("incr", None)]),
    dict(name="set_same_value",
         description="`last prev` writes the value the state already holds -> MODIFY last is still emitted.",
         states=default_states(),
         invocations=[("last prev", None)]),
    dict(name="no_side_effects",
         description="A single `send` that touches no state: the InvocationResponse has one outgoing "
                     "message and no state mutations (untouched cells emit nothing).",
         states=default_states(),
         invocations=[("send golden.fns/other x str only", None)]),
]


def build_wire():
    handler = make_handler()
    cases = []
    for case in CASES:
        request = build_request(case["states"], case["invocations"], case.get("target_id", "user-1"))
        entry = {"name": case["name"], "description": case["description"], "request_hex": request.hex()}
        try:
            response = handler.handle_sync(request)
        except Exception as e:  # noqa: BLE001 - recorded in the fixture
            entry["response_hex"] = None
            entry["error"] = f"{type(e).__name__}: {e}"
        else:
            entry["response_hex"] = bytes(response).hex()
        cases.append(entry)
    return {"cases": cases}


# ---------------------------------------------------------------------------------------------------------------------
# Sanity checks of decoded responses
# ---------------------------------------------------------------------------------------------------------------------

def _decode(tpe, typed_value):
    assert typed_value.typename == tpe.typename, (typed_value.typename, tpe.typename)
    assert typed_value.has_value
    return tpe.serializer().deserialize(typed_value.value)


def _mutations(result):
    out = {}
    for mutation in result.state_mutations:
        if mutation.mutation_type == FromFunction.PersistedValueMutation.DELETE:
            out[mutation.state_name] = "DELETE"
        else:
            out[mutation.state_name] = _decode(SPEC_TYPES[mutation.state_name], mutation.state_value)
    return out


def check_wire(wire):
    by_name = {case["name"]: case for case in wire["cases"]}

    def response(name):
        msg = FromFunction()
        msg.ParseFromString(bytes.fromhex(by_name[name]["response_hex"]))
        return msg

    r = response("handshake_no_state")
    assert r.WhichOneof("response") == "incomplete_invocation_context"
    missing = r.incomplete_invocation_context.missing_values
    assert [m.state_name for m in missing] == [s.name for s in SPECS]
    assert [m.type_typename for m in missing] == [s.type.typename for s in SPECS]
    assert [m.HasField("expiration_spec") for m in missing] == [True] * 6
    assert [(m.expiration_spec.mode, m.expiration_spec.expire_after_millis) for m in missing] == [
        (0, 0), (2, 60000), (1, 86400000), (0, 0), (0, 0), (0, 0)]

    r = response("handshake_partial_state")
    assert [m.state_name for m in r.incomplete_invocation_context.missing_values] == ["last", "flag", "big", "ratio"]

    assert _mutations(response("single_incr").invocation_result) == {"seen": 6}
    assert _mutations(response("valueless_states").invocation_result) == {"seen": 2}

    result = response("batch_in_order").invocation_result
    assert _mutations(result) == {"seen": 7, "last": "hello world"}
    assert [(m.target.type, m.target.id, _decode(StringType, m.argument)) for m in result.outgoing_messages] == [
        ("other", "b", "done")]

    result = response("send_every_primitive").invocation_result
    decoded = [(m.argument.typename.split("/")[1], m.argument.value.hex()) for m in result.outgoing_messages]
    assert decoded[-1] == ("int", ""), decoded
    assert len(result.state_mutations) == 0

    result = response("delayed_and_cancel").invocation_result
    delayed = result.delayed_invocations
    assert [(d.is_cancellation_request, d.cancellation_token, d.delay_in_ms) for d in delayed] == [
        (False, "", 1500), (False, "cart-expiry:user-1", 900000), (True, "cart-expiry:user-1", 0), (False, "", 0)]
    assert not delayed[2].HasField("target") and not delayed[2].HasField("argument")

    assert _mutations(response("delete_and_zero").invocation_result) == {
        "last": "DELETE", "flag": False, "score": 0.0, "big": 0}
    assert _mutations(response("set_then_delete_same_state").invocation_result) == {"seen": 1, "last": "DELETE"}
    assert _mutations(response("undeclared_state_ignored").invocation_result) == {"seen": 6}

    result = response("caller_reply_and_self").invocation_result
    assert [(m.target.type, m.target.id) for m in result.outgoing_messages] == [
        ("other", "z"), ("interpreter", "user-1")]

    assert by_name["empty_id"]["response_hex"] is None

    result = response("reply_without_caller").invocation_result
    assert [(m.target.type, m.target.id) for m in result.outgoing_messages] == [
        ("nobody", "ingress"), ("nobody", "ingress")]
    assert _mutations(response("delete_never_set_state").invocation_result) == {"ratio": "DELETE"}
    assert _mutations(response("state_value_has_value_false").invocation_result) == {"seen": 1}


def summarize(wire):
    for case in wire["cases"]:
        if case["response_hex"] is None:
            print(f"  {case['name']:<30} ERROR {case['error']}")
            continue
        msg = FromFunction()
        msg.ParseFromString(bytes.fromhex(case["response_hex"]))
        kind = msg.WhichOneof("response")
        if kind == "incomplete_invocation_context":
            names = [m.state_name for m in msg.incomplete_invocation_context.missing_values]
            print(f"  {case['name']:<30} missing={names}")
        else:
            result = msg.invocation_result
            print(f"  {case['name']:<30} mutations={len(result.state_mutations)} "
                  f"messages={len(result.outgoing_messages)} delayed={len(result.delayed_invocations)} "
                  f"egress={len(result.outgoing_egresses)}")


# ---------------------------------------------------------------------------------------------------------------------

def write_json(filename, obj):
    out_dir = os.environ.get("STATEFUN_GOLDEN_OUT", HERE)
    path = os.path.join(out_dir, filename)
    text = json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    return path


def main():
    _check_versions()
    types = build_types()
    wire = build_wire()
    check_wire(wire)
    print(write_json("types.json", types), f"({len(types['cases'])} cases, {len(types['json_cases'])} json cases)")
    print(write_json("wire.json", wire), f"({len(wire['cases'])} cases)")
    summarize(wire)


if __name__ == "__main__":
    main()
