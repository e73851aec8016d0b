"""The sandbox: install-time refusal with file:line, run-time restriction, and the step budget
(an endless loop ends with the same ``budget_exhausted`` receipt on every node)."""

from __future__ import annotations

import textwrap

import pytest
from deploy import call, deploy, install, reset_nonces
from hypothesis import given, settings
from hypothesis import strategies as st
from ledger_net import make_net

from govchain.contracts import checks, sandbox
from govchain.contracts.budget import Meter
from govchain.contracts.errors import ContractRefused
from govchain.contracts.methods import parse_type

HEADER = (
    "from govchain.sdk import Contract, entry\n\n\n"
    "class C(Contract):\n    @entry\n    def run(self) -> int:\n"
)


def body(code: str) -> str:
    """A contract whose entry ``run`` executes ``code`` (line 7 is its first line)."""
    return HEADER + textwrap.indent(textwrap.dedent(code).strip() + "\n", " " * 8)


# (source, line, reason fragment): each is refused at install with the offending line.
REFUSED = [
    ("import time\n", 1, "import time: wall-clock time is not deterministic"),
    ("from time import time\n", 1, "from time import: wall-clock time"),
    ("import random\n", 1, "import random: randomness is not deterministic"),
    ("import os\n", 1, "import os: the operating system is out of reach"),
    ("import socket\n", 1, "import socket: the network is out of reach"),
    ("import threading\n", 1, "only ['__future__', 'govchain.sdk', 'typing'] may be imported"),
    ("import govchain.sdk\n", 1, "use 'from govchain.sdk import ...'"),
    ("from govchain.ledger import state\n", 1, "from govchain.ledger import"),
    ("from govchain.sdk import ContractContext\n", 1, "import ContractContext: not allowed"),
    (body("return open('/etc/passwd')"), 7, "name open: reaches outside"),
    (body("return __import__('os')"), 7, "name __import__: dunder names"),
    (body("return eval('1')"), 7, "name eval: reaches outside"),
    (body("exec('x = 1')\nreturn 1"), 7, "name exec"),
    (body("return ().__class__.__bases__[0].__subclasses__()"), 7, "attribute .__class__"),
    (body("return self.run.__globals__"), 7, "attribute .__globals__"),
    (body("return __builtins__"), 7, "name __builtins__"),
    (body("name = 'x'\nreturn getattr(self, name)"), 8, "name getattr: reaches outside"),
    (body("return '{0.__class__}'.format(self)"), 7, "attribute .format"),
    (body("g = (i for i in ())\nreturn g.gi_frame"), 8, "attribute .gi_frame"),
    (body("return self.ctx._ctx"), 7, "attribute ._ctx: private attributes only on self"),
    (body("return len({1, 2})"), 7, "set: iteration order differs"),
    (body("return len(set())"), 7, "name set: set iteration order"),
    (body("return hash('a')"), 7, "hash() of strings differs"),
    (body("try:\n    return 1\nexcept:\n    return 2"), 9, "bare except"),
    (body("try:\n    return 1\nexcept BaseException:\n    return 2"), 9, "except BaseException"),
    ("X = 1\n\n\ndef f() -> None:\n    global X\n", 5, "global: module state"),
    ("async def f() -> None:\n    pass\n", 1, "async def f"),
    (body("return type(self)"), 7, "name type"),
    ("class C:\n    def __init__(self) -> None:\n        pass\n", 2, "def __init__: contracts"),
    ("def f(:\n", 1, "syntax error"),
]


@pytest.mark.parametrize(("source", "line", "fragment"), REFUSED)
def test_static_check_names_the_line(source: str, line: int, fragment: str) -> None:
    findings = checks.check_source("contract.py", source)
    assert findings, source
    assert any(f.line == line and fragment in f.reason for f in findings), [
        str(f) for f in findings
    ]


def test_install_refuses_with_the_report() -> None:
    net = make_net("intl")
    ledger = net.ledger()
    source = "import time\n\n" + body("return int(time.time())")
    r, _ = install(net, ledger, "clock", source)
    assert r.status == "failed" and r.error is not None
    assert r.error["code"] == "contract_refused"
    assert r.error["message"].startswith("contract refused: contract.py:1: import time:")
    assert list(ledger.state.iter_range(b"sys/lifecycle/")) == []


def test_mutable_module_state_is_refused_at_load() -> None:
    source = (
        "from govchain.sdk import Contract\n\nSEEN = []\n\n\nclass C(Contract):\n    CACHE = {}\n"
    )
    with pytest.raises(ContractRefused) as info:
        sandbox.load_module("contract.py", source, Meter(10_000), "contract:c")
    reasons = [f["reason"] for f in info.value.fields["findings"]]
    assert any("module attribute SEEN is mutable (list)" in r for r in reasons)
    assert any("class attribute C.CACHE is mutable (dict)" in r for r in reasons)


def test_runtime_has_no_outside_builtins() -> None:
    """Whatever passes the static check still runs without the dangerous builtins."""
    namespace = sandbox.load_module(
        "contract.py", "from govchain.sdk import Contract\n", Meter(10_000), "contract:c"
    )
    builtins = namespace["__builtins__"]
    for name in ("open", "eval", "exec", "compile", "getattr", "globals", "type", "object"):
        assert name not in builtins
    with pytest.raises(ImportError):
        builtins["__import__"]("os", None, None, ("path",), 0)
    with pytest.raises(ImportError):
        builtins["__import__"]("govchain.sdk", None, None, (), 0)  # module object


LOOPS = [
    "while True:\n    pass",
    "n = 0\nwhile n >= 0:\n    n = n + 1",
    "return sum(range(10 ** 12))",
    "return len([x for x in range(10 ** 7)])",
    "return len(list(i for i in range(10 ** 9)))",
    "def f(n: int) -> int:\n    return f(n + 1)\nreturn f(0)",
    "try:\n    while True:\n        pass\nfinally:\n    return 1",
    "x = [0] * 10\nfor i in x:\n    x.append(i)",
]


@pytest.mark.parametrize("loop", LOOPS)
def test_endless_loop_exhausts_the_budget_identically_on_every_node(loop: str) -> None:
    net = make_net("intl")
    nodes = [net.ledger(), net.ledger()]
    receipts = []
    entries = []
    for ledger in nodes:
        reset_nonces(1)
        assert deploy(net, ledger, "spin", body(loop), budget=20_000).status == "ok"
    tx = net.tx(10_000, contract="spin", method="run", args={})
    for ledger in nodes:
        block = net.commit(ledger, [tx])
        receipts.append(block.result.receipts[0])
        entries.append(block.result.entries)
    assert receipts[0] == receipts[1]
    assert receipts[0].status == "failed" and receipts[0].error is not None
    assert receipts[0].error["code"] == "budget_exhausted"
    assert nodes[0].state.root == nodes[1].state.root
    assert entries[0] == entries[1]  # the logged transaction + receipt, byte for byte


def test_huge_allocations_are_refused() -> None:
    net = make_net("intl")
    ledger = net.ledger()
    deploy(net, ledger, "big", body("return len('x' * 10 ** 9)"))
    r = call(net, ledger, "big", "run", {})
    assert r.error is not None and "over 1000000" in r.error["message"]


def test_budget_counts_are_deterministic_and_recover() -> None:
    """After an exhausted call the next call starts with a full budget."""
    net = make_net("intl")
    ledger = net.ledger()
    source = HEADER.replace("def run(self) -> int:", "def run(self, n: int) -> int:")
    source += (
        "        total = 0\n"
        "        for i in range(n):\n"
        "            total = total + i\n"
        "        return total\n"
    )
    deploy(net, ledger, "sum", source, budget=10_000)
    exhausted = call(net, ledger, "sum", "run", {"n": 100_000})
    assert exhausted.error is not None and exhausted.error["code"] == "budget_exhausted"
    assert call(net, ledger, "sum", "run", {"n": 100}).result == 4950


# --- argument types: the checker agrees with a reference on random JSON values ---------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=10,
)


def reference(annotation: str, v: object) -> bool:
    match annotation:
        case "str":
            return type(v) is str
        case "int":
            return type(v) is int
        case "bool":
            return type(v) is bool
        case "int | None":
            return v is None or type(v) is int
        case "list[str]":
            return type(v) is list and all(type(x) is str for x in v)
        case "dict[str, int]":
            return type(v) is dict and all(type(x) is int for x in v.values())
        case "Any":
            return True
    raise AssertionError(annotation)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["str", "int", "bool", "int | None", "list[str]", "dict[str, int]", "Any"]),
    json_values,
)
def test_argument_checks_match_reference(annotation: str, value: object) -> None:
    assert parse_type(annotation)(value) == reference(annotation, value)


def test_error_texts_in_receipts_are_the_same_on_every_node() -> None:
    """Default object texts hold memory addresses; receipts must not."""
    net = make_net("intl")
    nodes = [net.ledger(), net.ledger()]
    source = body("def helper() -> int:\n    return 1\nraise ValueError(helper)")
    messages = []
    for ledger in nodes:
        reset_nonces(1)
        deploy(net, ledger, "addr", source)
        r = call(net, ledger, "addr", "run", {})
        assert r.error is not None and r.error["code"] == "contract_error"
        messages.append(r.error["message"])
    assert messages[0] == messages[1]
    assert " at 0x" not in messages[0] and "ValueError: <function" in messages[0]


def test_failure_messages_are_bounded() -> None:
    net = make_net("intl")
    ledger = net.ledger()
    source = HEADER.replace(
        "from govchain.sdk import Contract, entry",
        "from govchain.sdk import Contract, Failed, entry",
    )
    deploy(net, ledger, "loud", source + "        raise Failed('loud', 'x' * 100000)\n")
    r = call(net, ledger, "loud", "run", {})
    assert r.error is not None and r.error["code"] == "loud.loud"
    assert len(r.error["message"]) == 1000
