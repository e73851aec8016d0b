"""``govchain login``, ``service``, ``case`` and ``enterprise`` against a real ``govchain up``
subprocess on a free loopback port.

The enterprise app's catalogue resources are registered and its registration and simplified
deregistration services are published through the commands under test (each department's admin
logs in and approves the hash); then a citizen registers a company and the market, tax and
social-insurance admins move the case to its licence. The commands run in-process (Typer's
runner: the node is the real subprocess, and one subprocess run checks the installed entry
point's piped output)."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from test_cli import ENV, GOVCHAIN, start_node
from typer.testing import CliRunner, Result

from govchain.cli.main import app
from govchain.cli.session import CLIENT_ID, session_path

APP_DIR = Path(__file__).resolve().parents[2] / "src" / "govchain" / "apps" / "enterprise"
REGISTRATION = APP_DIR / "services" / "registration" / "330100-DJ-0001.json"
DEREGISTRATION = APP_DIR / "services" / "deregistration" / "330100-ZX-0001.json"
DEPARTMENTS = {
    "market": "市场监督管理局",
    "tax": "税务局",
    "hrss": "人力资源和社会保障局",
    "customs": "海关",
    "housing": "住房和城乡建设局",
}
CITIZEN = "11010519491231002X"  # the example number of GB 11643-1999 (check digit X)
CITIZEN_PASSWORD = "Zhang-san-2026"
COMPANY = "杭州恒瑞餐饮管理有限公司"
MATERIALS = ("application", "articles", "shareholders", "appointments", "premises")
HEX64 = re.compile(r"\b[0-9a-f]{64}\b")


@dataclass
class Net:
    root: Path
    url: str
    secrets: set[str] = field(default_factory=set, repr=False)
    """Passwords and tokens that must never appear in any output."""
    outputs: list[str] = field(default_factory=list, repr=False)
    """Everything the commands printed."""

    def password(self, dept: str) -> str:
        text = (self.root / "departments" / dept / "admin.password").read_text().strip()
        self.secrets.add(text)
        return text


RUNNER = CliRunner()
CLEAN_ENV: dict[str, str | None] = {
    "COLUMNS": "200",
    "NO_COLOR": "1",
    "GOVCHAIN_LOGIN": None,
    "GOVCHAIN_PASSWORD": None,
    "GOVCHAIN_NETWORK": None,
    "GOVCHAIN_URL": None,
}


def run(net: Net, *args: str | Path, stdin: str | None = None) -> Result:
    """Run a ``govchain`` command in-process against the node (the network directory and the
    node's URL given as ``$GOVCHAIN_NETWORK`` and ``$GOVCHAIN_URL``)."""
    env = {**CLEAN_ENV, "GOVCHAIN_NETWORK": str(net.root), "GOVCHAIN_URL": net.url}
    result = RUNNER.invoke(app, list(map(str, args)), input=stdin, env=env)
    net.outputs.append(result.stdout + result.stderr)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def ok(net: Net, *args: str | Path, stdin: str | None = None) -> str:
    """Run a command that must succeed; return its standard output."""
    r = run(net, *args, stdin=stdin)
    assert r.exit_code == 0, f"{args}: {r.stdout}{r.stderr}"
    return r.stdout


def fails(net: Net, *args: str | Path) -> str:
    """Run a command that must fail with exit status 1; return its standard error."""
    r = run(net, *args)
    assert r.exit_code == 1, f"{args}: {r.stdout}{r.stderr}"
    return r.stderr


def login(net: Net, name: str, password: str) -> str:
    return ok(net, "login", name, "--password-stdin", stdin=password + "\n")


def remember_tokens(net: Net, name: str) -> None:
    doc = json.loads(session_path(net.root, name).read_text())
    net.secrets.update({doc["access_token"], doc["refresh_token"], doc["id_token"]})


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    root = tmp_path_factory.mktemp("cases") / "net"
    specs = [f"-d{k}={v}" for k, v in DEPARTMENTS.items()]
    init = subprocess.run(
        [str(GOVCHAIN), "init", str(root), *specs], capture_output=True, text=True, env=ENV
    )
    assert init.returncode == 0, init.stderr
    proc, url = start_node(root, root.parent / "up.log")
    n = Net(root, url)
    try:
        yield n
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        leaked = [s for s in n.secrets for out in n.outputs if s in out]
        assert not leaked, "a password or token was printed"


def _publish(net: Net, definition: Path, departments: list[str]) -> None:
    """Propose as the owner's admin, approve as each department's admin, publish."""
    out = ok(net, "service", "publish", definition, "--login", "market/admin")
    code = json.loads(definition.read_text())["code"]
    assert f"proposed {code} version 1 in transaction" in out
    digest = re.search(r"^hash ([0-9a-f]{64})$", out, re.M)
    assert digest is not None, out
    for dept in departments:
        assert f"--login {dept}/admin" in out
    first, *others = departments
    # One department approves the file it reviewed (the hash is computed locally), the others
    # the hash printed by the proposal: both must name the same definition.
    out = ok(
        net,
        "service",
        "approve",
        code,
        "--version",
        "1",
        "--file",
        definition,
        "--login",
        f"{first}/admin",
    )
    assert f"{first} approved {code} version 1" in out and "waiting for" in out
    early = fails(
        net, "service", "publish-version", code, "--version", "1", "--login", "market/admin"
    )
    assert "still needs the approval of" in early
    for dept in others:
        ok(
            net,
            "service",
            "approve",
            code,
            "--version",
            "1",
            "--hash",
            digest.group(1),
            "--login",
            f"{dept}/admin",
        )
    out = ok(net, "service", "proposal", code, "--version", "1")
    assert "ready to publish" in out and digest.group(1) in out
    out = ok(net, "service", "publish-version", code, "--version", "1", "--login", "market/admin")
    assert f"published {code} version 1" in out and digest.group(1) in out


@pytest.fixture(scope="module")
def published(net: Net) -> Net:
    """The enterprise app's resources and its registration and deregistration services."""
    for spec in sorted((APP_DIR / "data" / "resources").glob("*.json")):
        dept = spec.name.split(".")[0]
        if dept not in DEPARTMENTS:
            continue  # the permits' departments (health, fire …) are not in this network
        assert "committed, ok" in ok(net, "share", "register", spec, "--as", f"{dept}/admin")
    for dept in ("market", "tax", "hrss", "customs"):
        out = login(net, f"{dept}/admin", net.password(dept))
        assert f"logged in as {dept} administrator ({dept}/admin, {dept} admin)" in out
        remember_tokens(net, f"{dept}/admin")
    _publish(net, REGISTRATION, ["market", "tax", "hrss"])
    _publish(net, DEREGISTRATION, ["market", "tax", "hrss", "customs"])
    return net


@pytest.fixture(scope="module")
def citizen(published: Net) -> Net:
    """A citizen registered through the API and logged in through the CLI."""
    body = {"resident_id": CITIZEN, "name": "张三", "password": CITIZEN_PASSWORD}
    r = httpx.post(published.url + "/v1/identity/register/citizen", json=body)
    assert r.status_code == 201, r.text
    published.secrets.add(CITIZEN_PASSWORD)
    assert "logged in as 张三 (citizen/" in login(published, CITIZEN, CITIZEN_PASSWORD)
    remember_tokens(published, CITIZEN)
    return published


def _form(**changes: object) -> dict[str, object]:
    form: dict[str, object] = {
        "name": COMPANY,
        "division": "330106",
        "legal_rep_name": "张三",
        "legal_rep_id": CITIZEN,
        "industry": "6210",
        "capital_fen": 50_000_000,
        "address": "杭州市西湖区文三路100号",
        "scope": "餐饮服务；餐饮管理",
        "contact_phone": "13800000000",
        "employees": 5,
    }
    form.update(changes)
    return {k: v for k, v in form.items() if v is not None}


def _particulars() -> dict[str, object]:
    form = _form()
    return {
        "name": form["name"],
        "division": form["division"],
        "legal_rep_name": form["legal_rep_name"],
        "legal_rep_ref": "ab" * 32,
        "industry": form["industry"],
        "capital_fen": form["capital_fen"],
        "address": form["address"],
        "scope": form["scope"],
        "employees": form["employees"],
    }


def _write(path: Path, value: object) -> Path:
    path.write_text(json.dumps(value, ensure_ascii=False), encoding="utf-8")
    return path


# --- login -----------------------------------------------------------------------------------


def test_login_registers_its_client_keeps_a_private_session_refreshes_and_logs_out(
    net: Net,
) -> None:
    refused = run(net, "login", "housing/admin", "--password-stdin", stdin="wrong-password\n")
    assert refused.exit_code == 1
    assert "login refused: wrong login name, password or one-time code" in refused.stderr
    # The first login registers the command line's OIDC client in the local identity store.
    assert f"registered the OIDC client {CLIENT_ID!r}" in refused.stdout
    out = login(net, "housing/admin", net.password("housing"))
    assert "logged in as housing administrator (housing/admin, housing admin)" in out
    path = session_path(net.root, "housing/admin")
    assert path.name == "housing+admin.json" and path.stat().st_mode & 0o777 == 0o600
    doc = json.loads(path.read_text())
    remember_tokens(net, "housing/admin")

    # An expired access token is renewed with the refresh token (rotated) before the call.
    path.write_text(json.dumps({**doc, "expires_ms": 0}))
    ok(net, "case", "queue", "housing", "--login", "housing/admin", "--json")
    renewed = json.loads(path.read_text())
    assert renewed["access_token"] != doc["access_token"]
    assert renewed["refresh_token"] != doc["refresh_token"]
    assert path.stat().st_mode & 0o777 == 0o600
    remember_tokens(net, "housing/admin")

    out = ok(net, "logout", "housing/admin")
    assert "logged out housing/admin: the session is ended" in out
    assert not path.exists()
    me = httpx.get(
        net.url + "/v1/identity/me", headers={"authorization": f"Bearer {renewed['access_token']}"}
    )
    assert me.status_code == 401
    gone = fails(net, "case", "queue", "housing", "--login", "housing/admin")
    assert "housing/admin is not logged in: run 'govchain login housing/admin' first" in gone


# --- services ----------------------------------------------------------------------------------


def test_service_catalogue_guide_and_check(published: Net, tmp_path: Path) -> None:
    listed = ok(published, "service", "list")
    assert "330100-DJ-0001" in listed and "330100-ZX-0001" in listed and "2 service(s)" in listed
    found = ok(published, "service", "search", "注销")
    assert "330100-ZX-0001" in found and "330100-DJ-0001" not in found
    as_json = json.loads(ok(published, "service", "list", "--category", "registration", "--json"))
    assert [s["code"] for s in as_json["services"]] == ["330100-DJ-0001"]

    guide = ok(published, "service", "show", "330100-DJ-0001")
    assert "有限责任公司设立登记（企业开办一件事）" in guide
    assert re.search(r"^owner\s+market$", guide, re.M)
    assert re.search(r"^co-handlers\s+tax, hrss$", guide, re.M)
    assert re.search(r"^fee\s+0\.00 元$", guide, re.M)
    assert "3 working day(s) from acceptance to decision" in guide
    assert "《中华人民共和国公司法》第二十九条" in guide
    assert re.search(r"│ legal_rep_id\s+│ 法定代表人公民身份号码.*│ string\s+│ yes\s+│", guide)
    assert re.search(r"│ employees\s+│ 从业人数.*│ integer\s+│ no\s+│", guide)
    assert re.search(
        r"│ 2 │ tax_setup\s+│ 税务信息确认.*│ review │ tax\s+│ officer │ 1\s+│ review", guide
    )
    assert "approved by hrss, market, tax" in guide
    dereg = ok(published, "service", "show", "330100-ZX-0001")
    assert "check tax_arrears: tax answers “无未缴清的欠税” from tax.arrears" in dereg

    bad = json.loads(REGISTRATION.read_text())
    bad["owner"], bad["fee_fen"] = "police", -1
    bad["steps"][1]["after"] = ["nowhere"]
    path = _write(tmp_path / "bad.json", bad)
    r = run(published, "service", "check", path)
    assert r.exit_code == 1
    assert "owner: unknown department 'police'" in r.stdout
    assert "steps[1].after: unknown step 'nowhere'" in r.stdout
    assert "fee_fen: must be an integer from 0 to 10000000000" in r.stdout
    err = fails(published, "service", "publish", path, "--login", "market/admin")
    assert "error [definition_refused]" in err and "  steps[1].after: unknown step" in err


# --- a registration, from the citizen's application to the licence ----------------------------


def test_citizen_registers_a_company_and_staff_issue_its_licence(
    citizen: Net, tmp_path: Path
) -> None:
    net = citizen
    me = ["--login", CITIZEN]
    files = {}
    for mid in MATERIALS:
        files[mid] = tmp_path / f"{mid}.txt"
        files[mid].write_text(f"{mid}：{COMPANY}", encoding="utf-8")
    uploaded = ok(net, "case", "upload", files["application"], "--service", "330100-DJ-0001", *me)
    (digest,) = HEX64.findall(uploaded)
    form = _write(tmp_path / "form.json", _form())
    particulars = _write(tmp_path / "particulars.json", _particulars())
    specs = [f"application={digest}"] + [f"{m}={files[m]}" for m in MATERIALS[1:]]
    out = ok(
        net,
        "case",
        "submit",
        "--service",
        "330100-DJ-0001",
        "--form",
        form,
        "--particulars",
        particulars,
        *(x for s in specs for x in ("-m", s)),
        *me,
    )
    number = re.search(r"^case\s+(\S+)$", out, re.M)
    assert number is not None, out
    case = number.group(1)
    assert re.search(r"^status\s+submitted$", out, re.M)
    assert re.search(r"^waiting for\s+market accepts it$", out, re.M)
    assert re.search(r"^recorded in\s+transaction [0-9a-f]{64} \(block \d+\)$", out, re.M)

    # The wrong department: refused before anything is signed.
    err = fails(net, "case", "act", "market", case, "accept", "--login", "tax/admin")
    assert "error [forbidden]: staff of department 'tax' may not act for department 'market'" in err
    err = fails(net, "case", "act", "tax", case, "accept", "--login", "tax/admin")
    assert "error [wrong_actor]: this is for staff of market" in err
    err = fails(
        net,
        "case",
        "act",
        "market",
        case,
        "decide",
        "--outcome",
        "approve",
        "--login",
        "market/admin",
    )
    assert "error [illegal_transition]" in err and "submitted" in err

    queue = ok(net, "case", "queue", "market", "--login", "market/admin")
    assert re.search(rf"│ {case}\s+│ 330100-DJ-0001\s+│ submitted\s+│", queue)
    out = ok(net, "case", "act", "market", case, "accept", "--login", "market/admin")
    assert re.search(r"^status\s+accepted$", out, re.M)
    assert re.search(r"^open steps\s+review \(market officer, open, due .* CST\)$", out, re.M)
    out = ok(
        net,
        "case",
        "act",
        "market",
        case,
        "complete",
        "--step",
        "review",
        "--result",
        "pass",
        "--login",
        "market/admin",
    )
    assert "tax_setup (tax officer, open" in out and "social_insurance (hrss officer" in out
    queue = ok(net, "case", "queue", "tax", "--role", "officer", "--login", "tax/admin")
    assert re.search(rf"│ {case}\s+│ 330100-DJ-0001\s+│ tax_setup\s+│ review\s+│ officer", queue)
    ok(
        net,
        "case",
        "act",
        "tax",
        case,
        "complete",
        "--step",
        "tax_setup",
        "--result",
        "pass",
        "--login",
        "tax/admin",
    )
    ok(
        net,
        "case",
        "act",
        "hrss",
        case,
        "complete",
        "--step",
        "social_insurance",
        "--result",
        "pass",
        "--note",
        "单位社保已登记",
        "--login",
        "hrss/admin",
    )
    out = ok(
        net,
        "case",
        "act",
        "market",
        case,
        "decide",
        "--outcome",
        "approve",
        "--login",
        "market/admin",
    )
    assert re.search(r"^status\s+issued \(approved\)$", out, re.M)
    uscc = re.search(r'"kind":"enterprise.register","uscc":"([0-9A-Z]{18})"', out)
    assert uscc is not None, out
    out = ok(net, "case", "act", "market", case, "close", "--login", "market/admin")
    assert re.search(r"^status\s+closed \(approved\)$", out, re.M)

    # The applicant's view: state, steps and the timeline, each entry with its transaction.
    shown = ok(net, "case", "show", case, *me)
    for label, value in (
        ("status", "closed (approved)"),
        ("enterprise", COMPANY),
        ("material application", digest),
        ("waiting for", "nothing: it is finished"),
    ):
        assert re.search(rf"^{label}\s+{re.escape(value)}$", shown, re.M), label
    assert re.search(
        r"│ social_insurance │ 单位社会保险登记.*│ hrss\s+│ officer │ done\s+│ pass\s+│ "
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d CST │ hrss/admin\s+│ 单位社保已登记 │",
        shown,
    )
    events = re.findall(r"│ \d{4}-\d\d-\d\d \d\d:\d\d:\d\d CST │ (\w+)\s+│", shown)
    assert events == [
        "submitted",
        "accepted",
        "step_pass",
        "step_pass",
        "step_pass",
        "approved",
        "closed",
    ]
    record = json.loads(ok(net, "case", "show", case, "--json", *me))
    assert [h["tx"] for h in record["timeline"]] == HEX64.findall(shown.split("timeline")[-1])
    listed = ok(net, "case", "list", *me)
    assert re.search(rf"│ {case}\s+│ 330100-DJ-0001 v1\s+│ -\s+│ closed\s+│ approved\s+│", listed)

    # Piped out of the installed command: whole values, no ellipsis.
    piped = subprocess.run(
        [
            str(GOVCHAIN),
            "case",
            "show",
            case,
            "--login",
            CITIZEN,
            "--network",
            str(net.root),
            "--url",
            net.url,
        ],
        capture_output=True,
        text=True,
        env={**ENV, "COLUMNS": "60"},
        timeout=120,
    )
    assert piped.returncode == 0, piped.stderr
    assert "…" not in piped.stdout
    assert set(HEX64.findall(piped.stdout)) >= {h["tx"] for h in record["timeline"]}

    # The enterprise is in the registry, with its business licence.
    ent = ok(net, "enterprise", "show", uscc.group(1))
    assert ent.startswith(f"{COMPANY}  {uscc.group(1)}")
    assert re.search(r"^registered capital\s+500,000\.00 元$", ent, re.M)
    assert re.search(rf"^registered by\s+market, case {case}$", ent, re.M)
    assert re.search(
        rf"│ {uscc.group(1)} │ 营业执照 / Business licence │ market │ .* │ no end\s+│ "
        rf"active │ {case} │",
        ent,
    )
    assert uscc.group(1) in ok(net, "enterprise", "list")
    licence = ok(net, "enterprise", "licence", uscc.group(1))
    assert re.search(rf"^holder\s+{COMPANY} \({uscc.group(1)}\)$", licence, re.M)
    taken = run(net, "enterprise", "name-check", COMPANY)
    assert taken.exit_code == 1 and f"taken by {uscc.group(1)}" in taken.stdout

    # The applicant acts for the enterprise and may authorise an agent; staff of market may not.
    agent = "citizen/0123456789abcdef"
    out = ok(net, "enterprise", "agent", "add", uscc.group(1), agent, *me)
    assert f"acting for {uscc.group(1)}: {record['applicant']}, {agent} (transaction" in out
    err = fails(net, "enterprise", "agent", "remove", uscc.group(1), agent, "--login", "tax/admin")
    assert f"only a person acting for {uscc.group(1)} may change who acts for it" in err
    out = ok(net, "enterprise", "agent", "remove", uscc.group(1), agent, *me)
    assert f"acting for {uscc.group(1)}: {record['applicant']} (transaction" in out


def test_a_form_missing_required_fields_lists_each_field(citizen: Net, tmp_path: Path) -> None:
    form = _write(
        tmp_path / "form.json",
        _form(name="杭州新月科技有限公司", scope=None, legal_rep_id=None, contact_phone="123"),
    )
    err = fails(
        citizen, "case", "submit", "--service", "330100-DJ-0001", "--form", form, "--login", CITIZEN
    )
    assert "error [form_invalid]: the form has" in err
    lines = {line.strip() for line in err.splitlines()[1:]}
    assert {
        "legal_rep_id: is required",
        "scope: is required",
        "contact_phone: '123' does not match '^1[3-9][0-9]{9}$'",
    } <= lines


def test_enterprise_lookups(published: Net) -> None:
    industries = ok(published, "enterprise", "industries", "餐饮")
    assert re.search(r"│ 62\s+│ division\s+│ H\s+│ 餐饮业", industries)
    permits = ok(published, "enterprise", "permits", "--industry", "6210", "--scope", "餐饮服务")
    assert "330100-XK-0001" in permits and "食品经营许可" in permits
    nav = ok(
        published,
        "enterprise",
        "navigate",
        "restaurant",
        "-a",
        "sewer=true",
        "-a",
        "public_venue=false",
        "-a",
        "special_equipment=false",
    )
    assert "permits: 330100-XK-0001, 330100-XK-0007" in nav
    assert re.search(r"^fields to fill in\s+\d+ separately → \d+ merged$", nav, re.M)
    free = ok(published, "enterprise", "name-check", "杭州新月科技有限公司")
    assert re.search(r"^available\s+yes$", free, re.M)
    assert re.search(r"^trade name\s+新月$", free, re.M)
    refused = fails(published, "enterprise", "name-check", "中华恒瑞")
    assert "error [name_refused]" in refused


def test_supplement_resubmission_and_withdrawal(citizen: Net, tmp_path: Path) -> None:
    net, me = citizen, ["--login", CITIZEN]
    name = "杭州明远餐饮有限公司"
    specs = []
    for mid in MATERIALS:
        path = tmp_path / f"{mid}.txt"
        path.write_text(f"{mid}：{name}", encoding="utf-8")
        specs += ["-m", f"{mid}={path}"]
    form = _write(tmp_path / "form.json", _form(name=name))
    particulars = _write(tmp_path / "particulars.json", {**_particulars(), "name": name})
    out = ok(
        net,
        "case",
        "submit",
        "--service",
        "330100-DJ-0001",
        "--form",
        form,
        "--particulars",
        particulars,
        *specs,
        *me,
    )
    number = re.search(r"^case\s+(\S+)$", out, re.M)
    assert number is not None, out
    case = number.group(1)

    out = ok(
        net,
        "case",
        "act",
        "market",
        case,
        "request_supplement",
        "--item",
        "公司章程（签字页）",
        "--item",
        "住所使用证明",
        "--reason",
        "章程缺少股东签字",
        "--login",
        "market/admin",
    )
    assert re.search(r"^status\s+supplement_requested$", out, re.M)
    assert re.search(
        r"^waiting for\s+the applicant supplies it by .* CST \(case resubmit\)$", out, re.M
    )
    shown = ok(net, "case", "show", case, *me)
    assert re.search(
        r"^supplement\s+公司章程（签字页）, 住所使用证明: 章程缺少股东签字 "
        r"\(due .* CST, asked by market\)$",
        shown,
        re.M,
    )
    signed = tmp_path / "articles-signed.txt"
    signed.write_text(f"articles：{name}（全体股东签字）", encoding="utf-8")
    out = ok(net, "case", "resubmit", case, "-m", f"articles={signed}", *me)
    assert re.search(r"^status\s+submitted$", out, re.M)
    record = json.loads(ok(net, "case", "show", case, "--json", *me))
    saved = tmp_path / "read-back.txt"
    ok(
        net,
        "case",
        "material",
        "market",
        case,
        record["materials"]["articles"],
        "--out",
        saved,
        "--login",
        "market/admin",
    )
    assert saved.read_bytes() == signed.read_bytes()

    out = ok(net, "case", "withdraw", case, "--reason", "改为设立个人独资企业", *me)
    assert re.search(r"^status\s+withdrawn \(withdrawn\)$", out, re.M)
    again = fails(net, "case", "withdraw", case, *me)
    assert "error [illegal_transition]" in again and "withdrawn" in again
    events = [
        h["event"] for h in json.loads(ok(net, "case", "show", case, "--json", *me))["history"]
    ]
    assert events == ["submitted", "supplement_requested", "resubmitted", "withdrawn"]
