"""The main job (README command 1) as a user runs it: ``rapport run`` against the running stack.

Each run replays four real and synthetic sources, waits until the worker's group has
processed everything (lag 0 on every topic the worker reads), and only then prints the
analyst answers and drafted replies; running it again flows again; a drain that does not
finish in ``--drain-timeout`` is said plainly and exits 1 without answers; Ctrl-C
mid-replay exits 130 and leaves no worker behind.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from sinks.clickhouse.queries import EXAMPLES
from streams.cli.main_job_answers import SHOWN
from streams.lag import group_lag
from streams.stack.procs import port_open
from streams.topics import consumed_roles
from tests.integration.conftest import Scope

SOURCES = "bitext,banking77,telco,synthetic"
SUMMARY = re.compile(r"replayed ([\d,]+) events at .*; consumed ([\d,]+) by ingest; lost ([\d,]+)")
DRAFTING = re.compile(
    r"^drafting: ([\d,]+) reply requests drafted during the run, ([\d,]+) waiting", re.MULTILINE
)
LINK = re.compile(r"support console: http://127\.0\.0\.1:(\d+)/console/login#token=(\S+) ")
DRAINED = re.compile(r"^all ([\d,]+) events processed \(lag 0\)", re.MULTILINE)


def _env(scope: Scope) -> dict[str, str]:
    return {**os.environ, **scope.env(), "COLUMNS": "200", "PYTHONUNBUFFERED": "1"}


def rapport_run(scope: Scope, *args: str, timeout: float = 480) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "streams.cli", "run", "--source", SOURCES, "--quiet", *args]
    return subprocess.run(
        argv, env=_env(scope), capture_output=True, text=True, timeout=timeout, check=False
    )


def _number(text: str) -> int:
    return int(text.replace(",", ""))


def section_rows(out: str, header: str) -> int:
    """Rows of the table printed under ``header`` (its "N rows in" line)."""
    assert header in out, out[-3000:]
    after = out.split(header, 1)[1]
    match = re.search(r"^(\d+) rows in ", after, re.MULTILINE)
    assert match, f"no table under {header!r}:\n{after[:2000]}"
    return int(match.group(1))


def worker_pids(app_id: str) -> list[int]:
    """Live ``rapport worker`` processes with ``RAPPORT_APP_ID=app_id`` (the job's worker)."""
    needle = f"RAPPORT_APP_ID={app_id}\0".encode()
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            worker = b"streams.cli\0worker" in (proc / "cmdline").read_bytes()
            if worker and needle in (proc / "environ").read_bytes():
                pids.append(int(proc.name))
        except OSError:
            continue
    return pids


def group_lag_now(scope: Scope) -> dict[str, int]:
    """The job's group's lag per topic it reads, read from Kafka (the worker has stopped)."""
    settings = scope.settings()
    topics = [settings.topic_name(role) for role in consumed_roles(settings)]
    lags = asyncio.run(group_lag(settings, settings.app_id, topics, ages=False))
    assert {lag.topic for lag in lags} == set(topics)
    out: dict[str, int] = {}
    for lag in lags:
        out[lag.topic] = out.get(lag.topic, 0) + lag.messages
    return out


def check_run(scope: Scope, result: subprocess.CompletedProcess[str], *, kept: bool = False) -> str:
    out = result.stdout
    assert result.returncode == 0, f"{out[-3000:]}\n{result.stderr[-3000:]}"
    match = SUMMARY.search(out)
    assert match, out[-3000:]
    produced, consumed, lost = (_number(g) for g in match.groups())
    assert produced == 4 * 25  # 25 records from each of the four sources
    assert consumed == produced
    assert lost == 0
    # the answers came after the group had processed every replayed event (lag 0) ...
    drained = DRAINED.search(out)
    assert drained, out[-3000:]
    assert _number(drained.group(1)) == produced
    assert drained.start() < out.index(f"-- {EXAMPLES[SHOWN[0]][0]}")
    assert re.search(r"processed [\d,]+ / [\d,]+ records", out), out[-3000:]  # --quiet progress
    # ... and Kafka agrees: nothing is left for the group on any topic its worker reads,
    # but the reply requests drafting works through at the LLM's pace, which it reports
    lags = group_lag_now(scope)
    settings = scope.settings()
    requests = settings.topic_name("reply_requests")
    paced = {requests, settings.topic_name("drafted_replies")}
    assert {n for topic, n in lags.items() if topic not in paced} == {0}, lags
    drafting = DRAFTING.search(out)
    assert drafting, out[-3000:]
    drafted, waiting = _number(drafting.group(1)), _number(drafting.group(2))
    assert drafted + waiting >= 1  # inbound Bitext and BANKING77 messages ask for replies
    assert lags[requests] <= waiting  # the worker drafted on until it stopped
    # the live view (printed once with --quiet) tails what the engine published
    tailed = re.search(r"insights published\s*│?\s*([\d,]+)", out)
    assert tailed and int(tailed.group(1).replace(",", "")) >= 1, out[-3000:]
    for name in SHOWN:  # each example answer is printed, with its table
        section_rows(out, f"-- {EXAMPLES[name][0]}")
    assert section_rows(out, f"-- {EXAMPLES['volume_by_channel'][0]}") >= 1
    assert section_rows(out, "-- latest insights") >= 1
    assert section_rows(out, "-- latest drafted replies") >= 1
    assert "analyst answers unavailable" not in out  # the run's analyst token is accepted
    assert bool(worker_pids(f"t-{scope.name}")) == kept
    return out


def sign_in(port: int, token: str) -> tuple[int, str]:
    """POST the console's sign-in form: the status and the cookie set (no redirect)."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kw: object) -> None:
            return None

    body = urllib.parse.urlencode({"token": token, "next": "/console"}).encode()
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(f"http://127.0.0.1:{port}/console/login", body, timeout=10) as resp:
            return resp.status, resp.headers.get("Set-Cookie", "")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Set-Cookie", "")


def test_main_job_runs_twice_and_events_flow_each_time(scope: Scope) -> None:
    started = time.monotonic()
    first = check_run(scope, rapport_run(scope, "--limit", "25"))
    second = check_run(scope, rapport_run(scope, "--limit", "25", "--keep-worker"), kept=True)
    try:  # the printed sign-in link opens the console of the worker left running
        links = [LINK.search(out) for out in (first, second)]
        assert links[0] and links[1], second[-3000:]
        assert links[0].group(2) != links[1].group(2)  # a token made for each run
        port = int(links[1].group(1))
        assert sign_in(port, "not-the-token")[0] == 401
        status, cookie = sign_in(port, links[1].group(2))
        assert status == 303 and "rapport_session=" in cookie and "HttpOnly" in cookie
    finally:
        for pid in worker_pids(f"t-{scope.name}"):
            os.kill(pid, signal.SIGTERM)
    ids = [re.search(r"ids (\S+)\*", out) for out in (first, second)]
    assert ids[0] and ids[1]
    assert ids[0].group(1) != ids[1].group(1)  # a fresh id prefix: not de-duplicated
    print(f"two runs of the main job: {time.monotonic() - started:.1f}s")


def test_main_job_not_drained_in_time_says_so_and_exits_1_without_answers(scope: Scope) -> None:
    # the group is drained only once its lag stayed 0 for a few seconds: never within 0 s
    result = rapport_run(scope, "--limit", "5", "--drain-timeout", "0")
    out = result.stdout
    assert result.returncode == 1, f"{out[-3000:]}\n{result.stderr[-3000:]}"
    assert re.search(r"not drained after \d+s \(--drain-timeout 0\)", out), out[-3000:]
    assert "answers would describe part of the data, so they are not printed" in out
    assert DRAINED.search(out) is None
    assert f"-- {EXAMPLES[SHOWN[0]][0]}" not in out
    assert "-- latest insights" not in out
    assert worker_pids(f"t-{scope.name}") == []


def test_main_job_interrupted_mid_replay_exits_130_and_stops_its_worker(scope: Scope) -> None:
    port = int(scope.env()["RAPPORT_WEB_PORT"])
    env = {**_env(scope), "RAPPORT_WEB_PORT": str(port)}
    argv = [sys.executable, "-m", "streams.cli", "run", "--source", SOURCES, "--quiet"]
    proc = subprocess.Popen(
        [*argv, "--limit", "500", "--rate", "50"],  # 2,000 events: 40 s of replay
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("3/3"):
                break
        assert lines and lines[-1].startswith("3/3"), "".join(lines)
        assert worker_pids(env["RAPPORT_APP_ID"]) != []  # the worker runs while replaying
        time.sleep(3.0)  # mid-replay
        proc.send_signal(signal.SIGINT)
        rest, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert "rapport: interrupted" in err
    assert "Traceback" not in err
    assert SUMMARY.search(rest) is None  # stopped before the replay finished
    assert worker_pids(env["RAPPORT_APP_ID"]) == []
    assert not port_open("127.0.0.1", port)
