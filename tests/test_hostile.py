"""Hostile input: nothing injected, nothing unbounded, nothing half-written.

Big inputs are generated here at run time, never committed. Time and memory bounds are
the ones docs/errors.md states; memory is the child's peak RSS from wait4.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import FIXTURES, ROOT, run_cli, tree_hashes

from generator import pipeline
from generator.errors import Problem, SpecError
from generator.promql import fragments as promql

HEADER = "version: promspec/v1\nservice: api\nteam: web\nrunbook_base_url: https://runbooks.example.com\n"
PAYLOAD = 'a"} or vector(1) #'
GENERATE = [sys.executable, "-m", "generator", "generate"]


def run_bounded(args: list[str], cwd: Path, timeout: float, env: dict[str, str] | None = None):
    """Run the CLI; (exit code, stderr, seconds, peak RSS in MB) of that child alone."""
    start = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "generator", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )
    deadline = start + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            pytest.fail(f"promspec {' '.join(args)} ran over {timeout}s")
        time.sleep(0.05)
    seconds = time.monotonic() - start
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, stderr, seconds, usage.ru_maxrss / 1024


def slo_spec(count: int, service: str = "big") -> str:
    lines = [HEADER.replace("service: api", f"service: {service}"), "slos:"]
    for i in range(count):
        lines.append(
            f"  - name: s{i}\n    objective: 99.9\n    indicator:\n      ratio:\n"
            f"        errors: 'e_total{{code=\"{i}\"}}'\n        total: t_total"
        )
    return "\n".join(lines) + "\n"


def compile_text(tmp: Path, text: str, **kwargs):
    spec = tmp / "api.yaml"
    spec.write_text(text)
    return pipeline.compile_specs([spec], **kwargs)


# -- injection ---------------------------------------------------------------------------


def injection_spec(value: str) -> str:
    """Every place a label value goes; JSON strings are YAML strings, whatever they hold."""
    q = promql.quote(value)
    errors = json.dumps('http_requests_total{code="500", x=' + q + "}")
    expr = json.dumps("sum(queue_depth{x=" + q + "})")
    target = json.dumps("up{x=" + q + "}")
    return (
        HEADER
        + f"selector:\n  job: {json.dumps(value)}\n"
        + f"labels:\n  env: {json.dumps(value)}\n"
        + "slos:\n  - name: availability\n    objective: 99.9\n    indicator:\n      ratio:\n"
        + f"        errors: {errors}\n        total: http_requests_total\n"
        + f"thresholds:\n  - name: queue\n    expr: {expr}\n    warning: 10\n"
        + f"absence:\n  - name: scrape\n    target: {target}\n"
    )


@pytest.mark.parametrize("value", [PAYLOAD, 'a\\"} or vector(1)', "x'} or up #\n", "`} or up"])
def test_label_values_cannot_change_promql(value: str, tmp_path: Path) -> None:
    """The rules for a hostile value are the rules for a harmless one, with the value
    quoted where the harmless one was: same expressions, same structure."""
    hostile = compile_text(tmp_path, injection_spec(value), use_promtool=True)
    assert hostile.promtool_checked
    harmless = compile_text(tmp_path, injection_spec("SAFE"), use_promtool=False)
    [text] = hostile.plain.values()  # the service's plain rule file
    [expected] = harmless.plain.values()
    escaped = promql.quote(value)
    assert escaped in text.decode() or escaped.replace('"', '\\"') in text.decode()
    for rule_hostile, rule_harmless in zip(
        _exprs(text.decode()), _exprs(expected.decode()), strict=True
    ):
        # Printed layout depends on length: compare the re-parsed, re-printed forms.
        swapped = promql.canonical(rule_hostile.replace(escaped, '"SAFE"'), rule=True)
        assert swapped == promql.canonical(rule_harmless, rule=True)


def _exprs(rules_text: str) -> list[str]:
    import yaml

    data = yaml.safe_load(rules_text)
    return [r["expr"] for g in data["groups"] for r in g["rules"]]


def test_template_delimiters_in_a_selector_stay_literal_in_alerts(tmp_path: Path) -> None:
    """promtool evaluates the absence alert: its description shows the selector verbatim
    where an unescaped one would run `{{ .Value }}` as a Prometheus template."""
    spec = HEADER + "absence:\n  - name: m\n    metric: 'foo{job=\"{{ .Value }}\"}'\n"
    (tmp_path / "api.yaml").write_text(spec)
    result = run_cli("generate", "api.yaml", "--out", "out", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    (tmp_path / "test.yml").write_text(
        """rule_files: [out/prometheus/api.rules.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series: []
    alert_rule_test:
      - eval_time: 15m
        alertname: ApiMAbsent
        exp_alerts:
          - exp_labels: {severity: critical, service: api, team: web, job: '{{ .Value }}'}
            exp_annotations:
              summary: 'api: m is missing.'
              description: >-
                m: foo{job="{{ .Value }}"} has no series for 10 minutes;
                alerts that read it cannot fire.
              runbook_url: https://runbooks.example.com/ApiMAbsent
"""
    )
    check = subprocess.run(
        ["promtool", "test", "rules", "test.yml"], cwd=tmp_path, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr


def _rules_template_problem(tmp_path: Path, template: str) -> Problem:
    """The one problem of compiling a small spec with `template` as rules.yml.j2."""
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "rules.yml.j2").write_text(template)
    with pytest.raises(SpecError) as caught:
        compile_text(
            tmp_path,
            HEADER + "absence:\n  - name: m\n    metric: foo\n",
            templates=templates,
            use_promtool=False,
        )
    [problem] = caught.value.problems
    return problem


@pytest.mark.parametrize(
    "template",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ service.__init__.__globals__ }}",
        "{{ n.__loader__ }}",
        "{{ (1).__class__.__subclasses__() }}",
    ],
)
def test_user_templates_run_in_the_sandbox(template: str, tmp_path: Path) -> None:
    problem = _rules_template_problem(tmp_path, f"groups: []\n# {template}\n")
    assert "unsafe" in problem.message and "sandbox" in problem.message
    assert problem.file.endswith("rules.yml.j2") and problem.line == 2


@pytest.mark.parametrize(
    ("template", "message"),
    [
        (
            '{% do doc.groups.append({"name": "g", "rules": [service]}) %}',
            "groups[0].rules[0] holds a Service: not a mapping, list, text or number",
        ),
        (
            "{% set rules = [] %}{% do rules.append(rules) %}"
            '{% do doc.groups.append({"name": "g", "rules": rules}) %}',
            "the data nests too deeply, or holds itself",
        ),
    ],
)
def test_user_template_data_yaml_cannot_hold_is_refused(
    template: str, message: str, tmp_path: Path
) -> None:
    problem = _rules_template_problem(tmp_path, template)
    assert problem.message == f"template produced invalid YAML: {message}"


def test_user_template_nesting_yaml_too_deep_is_refused(tmp_path: Path) -> None:
    problem = _rules_template_problem(tmp_path, "groups: " + "[" * 200_000 + "]" * 200_000)
    assert problem.message == "template produced invalid YAML: the YAML nests too deeply"


# -- resource bounds (docs/errors.md) ------------------------------------------------------


def test_alias_bomb_stops_fast(tmp_path: Path) -> None:
    levels = ["x0: &x0 [" + ", ".join(["lol"] * 10) + "]"]
    levels += [f"x{i}: &x{i} [" + ", ".join([f"*x{i - 1}"] * 10) + "]" for i in range(1, 12)]
    (tmp_path / "bomb.yaml").write_text(HEADER + "\n".join(levels) + "\n")
    code, err, seconds, mb = run_bounded(["validate", "bomb.yaml"], tmp_path, timeout=30)
    assert code == 1 and "once aliases are expanded" in err, err
    assert seconds < 15 and mb < 300, (seconds, mb)


def test_fifty_megabyte_spec_is_refused_unread(tmp_path: Path) -> None:
    with open(tmp_path / "huge.yaml", "w") as handle:
        handle.write(HEADER + "description: |\n")
        line = "  " + "x" * 98 + "\n"
        for _ in range(500_000):
            handle.write(line)
    assert (tmp_path / "huge.yaml").stat().st_size > 50_000_000
    code, err, seconds, mb = run_bounded(["validate", "huge.yaml"], tmp_path, timeout=30)
    assert code == 1 and "over the 5242880 byte limit" in err, err
    assert seconds < 10 and mb < 150, (seconds, mb)


def test_ten_thousand_slos_are_refused_quickly(tmp_path: Path) -> None:
    (tmp_path / "big.yaml").write_text(slo_spec(10_000))
    code, err, seconds, mb = run_bounded(["validate", "big.yaml"], tmp_path, timeout=60)
    assert code == 1, err
    assert err.splitlines()[0] == (
        "error: big.yaml:7:3: slos: 10000 entries, over the limit of 200 per service; "
        "split the service or use group_by"
    )
    assert seconds < 20 and mb < 400, (seconds, mb)


def test_too_many_slos_across_services_hit_the_run_limit(tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    specs.mkdir()
    for i in range(101):
        (specs / f"svc{i:02}.yaml").write_text(slo_spec(200, f"svc{i:02}"))
    code, err, seconds, mb = run_bounded(["validate", "specs"], tmp_path, timeout=90)
    assert code == 1, err
    assert "over the limit of 20000 per run" in err.splitlines()[0]
    assert seconds < 45 and mb < 400, (seconds, mb)


def test_largest_allowed_service_generates_within_bounds(tmp_path: Path) -> None:
    (tmp_path / "big.yaml").write_text(slo_spec(200))
    code, err, seconds, mb = run_bounded(["generate", "big.yaml"], tmp_path, timeout=120)
    assert code == 0, err
    assert seconds < 40 and mb < 400, (seconds, mb)


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("(" * 10_000 + "m" + ")" * 10_000, "characters, over the limit of 2000"),
        ("(" * 41 + "m" + ")" * 41, "nests 41 levels deep"),
        ("-" * 1_500 + "m", "nests 1500 levels deep"),
        ("+".join(["m"] * 400), "prints as"),
    ],
)
def test_pathological_promql_is_refused_not_crashed(expr: str, message: str, tmp_path: Path):
    # 10,000 nested parentheses used to kill the process (SIGSEGV) after 6 GB.
    spec = HEADER + f"thresholds:\n  - name: t\n    expr: '{expr}'\n    warning: 1\n"
    (tmp_path / "api.yaml").write_text(spec)
    code, err, seconds, mb = run_bounded(["validate", "api.yaml"], tmp_path, timeout=30)
    assert code == 1 and message in err, err
    assert seconds < 10 and mb < 200, (seconds, mb)


def test_deep_yaml_nesting_is_refused_not_crashed(tmp_path: Path) -> None:
    # LibYAML's composer overflows the C stack (SIGSEGV) on ~100,000 nested '['.
    (tmp_path / "api.yaml").write_text(HEADER + "labels: " + "[" * 200_000 + "]" * 200_000)
    code, err, _, _ = run_bounded(["validate", "api.yaml"], tmp_path, timeout=30)
    assert code == 1 and "YAML nests too deeply" in err, err


# -- atomic output -------------------------------------------------------------------------


def two_spec_sets(tmp_path: Path) -> tuple[Path, Path]:
    """Two spec directories whose outputs share no file content."""
    a, b = tmp_path / "a", tmp_path / "b"
    for root, names in ((a, ["alpha", "beta", "gamma"]), (b, ["delta", "beta"])):
        root.mkdir()
        shutil.copy(FIXTURES / "_defaults.yaml", root / "_defaults.yaml")
        for name in names:
            text = (FIXTURES / "checkout-api.yaml").read_text()
            text = text.replace("service: checkout-api", f"service: {name}")
            if root == b:
                text = text.replace("premium", "standard")
            (root / f"{name}.yaml").write_text(text)
    return a, b


def generated_tree(tmp_path: Path, specs: Path, name: str) -> dict[str, str]:
    out = tmp_path / name
    result = run_cli("generate", str(specs), "--out", str(out), "--no-promtool")
    assert result.returncode == 0, result.stderr
    return tree_hashes(out)


def test_killed_between_staging_and_swap_leaves_old_tree(tmp_path: Path) -> None:
    a, b = two_spec_sets(tmp_path)
    out = tmp_path / "out"
    old = generated_tree(tmp_path, a, "out")
    files = len(generated_tree(tmp_path, b, "ref-b"))  # a complete staged tree has these
    proc = subprocess.Popen(
        [*GENERATE, str(b), "--out", str(out), "--no-promtool"],
        cwd=ROOT,
        env={**os.environ, "PROMSPEC_TEST_SWAP_DELAY": "60"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    staged: list[Path] = []
    while not staged and time.monotonic() < deadline:
        staged = [
            p
            for p in tmp_path.glob(".out.promspec-new-*")
            if sum(f.is_file() for f in p.rglob("*")) == files
        ]
        time.sleep(0.05)
    assert staged, "the run never staged its tree"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert tree_hashes(out) == old


def test_killed_at_random_points_leaves_old_or_new_tree(tmp_path: Path) -> None:
    a, b = two_spec_sets(tmp_path)
    started = time.monotonic()
    trees = {"a": generated_tree(tmp_path, a, "ref-a"), "b": generated_tree(tmp_path, b, "ref-b")}
    run = (time.monotonic() - started) / 2  # how long one run takes on this machine now
    assert trees["a"] != trees["b"]
    out = tmp_path / "out"
    generated_tree(tmp_path, a, "out")
    rng = random.Random(7)
    outcomes = set()
    current = "a"
    # Eight kills, then more until both outcomes were seen: on a loaded machine a run can
    # take longer than the one timed above, and every kill would land before the swap.
    for attempt in range(16):
        if attempt >= 8 and len(outcomes) == 2:
            break
        stretch = 1 + attempt // 8  # later kills reach further past the timed run
        target = "b" if current == "a" else "a"
        proc = subprocess.Popen(
            [*GENERATE, str(tmp_path / target), "--out", str(out), "--no-promtool"],
            cwd=ROOT,
            env={**os.environ, "PROMSPEC_TEST_SWAP_DELAY": str(rng.uniform(0, 0.3))},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # Kill anywhere from start-up to past the swap, scaled to this machine's speed.
        time.sleep(rng.uniform(0.2 * run, 1.8 * run * stretch) if attempt else 0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        now = tree_hashes(out)
        assert now in (trees["a"], trees["b"]), f"mixed tree after kill {attempt}"
        current = "a" if now == trees["a"] else "b"
        outcomes.add(current == target)
    # Both outcomes seen: some kills landed before the swap, some after.
    assert outcomes == {True, False}


def test_concurrent_runs_never_interleave(tmp_path: Path) -> None:
    a, b = two_spec_sets(tmp_path)
    trees = {
        generated_tree(tmp_path, a, "ref-a").__repr__(),
        generated_tree(tmp_path, b, "ref-b").__repr__(),
    }
    out = tmp_path / "out"
    procs = [
        subprocess.Popen(
            [*GENERATE, str(specs), "--out", str(out), "--no-promtool"],
            cwd=ROOT,
            env={**os.environ, "PROMSPEC_TEST_SWAP_DELAY": "0.3"},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for specs in (a, b, a, b, a, b)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    assert repr(tree_hashes(out)) in trees
    leftovers = [p.name for p in tmp_path.iterdir() if "promspec-new" in p.name]
    assert leftovers == []


def test_out_holding_files_promspec_did_not_write_is_refused(tmp_path: Path) -> None:
    """--out is replaced as a whole: `--out docs` must never delete the docs."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "notes.md").write_text("notes\n")
    (docs / "runbook.yaml").write_text("steps: []\n")
    before = tree_hashes(docs)
    result = run_cli("generate", str(FIXTURES), "--out", str(docs), "--no-promtool", "--no-cache")
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [
        f"promspec: --out {docs} holds files promspec did not write ({docs}/notes.md and 1 "
        "more), and it replaces the whole directory: give a new or empty directory "
        "(default: out/)"
    ]
    assert tree_hashes(docs) == before
    # promspec's layout, but nothing in it carries its header or dashboard tag.
    (docs / "notes.md").unlink()
    (docs / "runbook.yaml").unlink()
    (docs / "prometheus").mkdir()
    (docs / "prometheus" / "team.rules.yml").write_text("groups: []\n")
    refused = run_cli("generate", str(FIXTURES), "--out", str(docs), "--no-promtool", "--no-cache")
    assert refused.returncode == 2
    assert f"({docs}/prometheus/team.rules.yml)" in refused.stderr
    # A home-like directory: files deeper than promspec's layout.
    home = tmp_path / "home"
    (home / "work" / "plans").mkdir(parents=True)
    (home / "work" / "plans" / "todo.txt").write_text("everything\n")
    parent = run_cli("generate", str(FIXTURES), "--out", str(home), "--no-promtool", "--no-cache")
    assert parent.returncode == 2, parent.stderr
    assert (home / "work" / "plans" / "todo.txt").read_text() == "everything\n"
    # Its own output is replaced as a whole, hand edits and stale files included.
    out = tmp_path / "out"
    generated_tree(tmp_path, FIXTURES, "out")
    (out / "prometheus" / "checkout-api.rules.yml").write_text("# hand edit\n")
    (out / "prometheus" / "gone.rules.yml").write_text("groups: []\n")
    reference = generated_tree(tmp_path, FIXTURES, "reference")
    assert generated_tree(tmp_path, FIXTURES, "out") == reference


def test_out_as_a_symlink_replaces_the_directory_it_names(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "out").symlink_to(real)
    for out in ("out", "reference"):
        args = ("generate", str(FIXTURES), "--out", out, "--no-promtool", "--no-cache")
        result = run_cli(*args, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
    reference = tree_hashes(tmp_path / "reference")
    assert (tmp_path / "out").is_symlink()
    assert tree_hashes(real) == reference
    assert not list(tmp_path.glob(".*promspec-new*"))


def test_unusual_spec_paths_are_spec_errors_not_crashes(tmp_path: Path) -> None:
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    os.mkfifo(tmp_path / "pipe.yaml")
    result = run_cli("generate", "loop", "pipe.yaml", "--out", "o", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert result.stderr.splitlines() == [
        "error: loop: no such file or directory",
        "error: pipe.yaml: not a file or directory of specs",
        "promspec: 2 problems; nothing was written",
    ]
