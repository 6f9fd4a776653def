"""The console script and the plugin's options, as a user meets them."""

from __future__ import annotations

import json
import subprocess
import sys

import yaml

from conformance.cli import main


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "conformance.cli", *args], capture_output=True, text=True, timeout=60)


def test_help_lists_every_command_and_the_exit_codes() -> None:
    proc = _cli("--help")
    assert proc.returncode == 0
    for command in ("run", "serve", "rules", "faults", "personas", "target", "diff", "validate-traffic"):
        assert command in proc.stdout
    assert "3 target unreachable" in proc.stdout.replace("\n", " ")
    run_help = _cli("run", "--help").stdout
    assert "command line > --target file > environment" in run_help and "CONFORMANCE_API_KEY" in run_help
    assert "3 target unreachable" in run_help


def test_rules_catalogue_prints_every_rule_with_its_source(capsys) -> None:
    from conformance.rules.catalogue import all_rules

    assert main(["rules", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert {r["id"] for r in printed} == {r.id for r in all_rules()}
    assert all(r["source"] and r["statement"] and r["level"] in ("violation", "warning") for r in printed)
    by_id = {r["id"]: r for r in printed}
    # The 422 parameter_not_supported contract and the integer encoding formats are Model Inference's.
    assert by_id["UNSUPPORTED-422"]["api"] == by_id["EMB-INT-FORMATS"]["api"] == "model-inference"
    assert main(["rules"]) == 0
    text = capsys.readouterr().out
    assert any(line.startswith("UNSUPPORTED-422") and "model-inference" in line for line in text.splitlines())
    assert any(line.startswith("POSITIVE-ACCEPTED") and "both APIs" in line for line in text.splitlines())


def test_target_prints_the_reference_capabilities_as_a_target_file(capsys) -> None:
    assert main(["target", "--api", "azure-openai"]) == 0
    target = yaml.safe_load(capsys.readouterr().out)
    assert target["api"] == "azure-openai" and "api_key" not in target
    assert "ChatCompletions_Create" in target["operations"] and "Create_Assistant" not in target["operations"]


def test_faults_lists_the_table_and_serve_refuses_unknown_faults(capsys) -> None:
    from conformance.reference.faults import FAULTS

    assert main(["faults"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in FAULTS)
    assert main(["serve", "--fault", "no-such-fault"]) == 2


def test_personas_lists_the_table_and_serve_and_run_refuse_unknown_personas(capsys) -> None:
    from conformance.reference.personas import PERSONAS

    assert main(["personas"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in PERSONAS)
    assert main(["serve", "--persona", "no-such-persona"]) == 2
    assert main(["run", "--persona", "no-such-persona"]) == 2
    assert "no-such-persona" in capsys.readouterr().err


def test_pytest_help_shows_the_plugin_options_namespaced() -> None:
    from conformance.runner.options import OPTIONS

    proc = subprocess.run([sys.executable, "-m", "pytest", "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    section = proc.stdout.split("Azure inference API conformance suite", 1)[1].split("\n\n", 1)[0]
    for option in OPTIONS:
        if option.pytest and not option.hidden:
            assert option.pytest_flag in section
    # Generic names belong to other plugins (pytest-profiling owns --profile): every one of ours is namespaced.
    flags = [line.split()[0].split("=")[0] for line in section.splitlines()[1:] if line.strip().startswith("--")]
    assert flags and all(flag.startswith("--conformance-") for flag in flags), flags


def test_serve_prints_its_endpoints_and_uses_the_given_key(tmp_path) -> None:
    import os
    import socket
    import time

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, CONFORMANCE_API_KEY="serve-test-key-0123456789")
    proc = subprocess.Popen([sys.executable, "-m", "conformance.cli", "serve", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        banner = "".join(proc.stdout.readline() for _ in range(6))
        assert f"http://127.0.0.1:{port}/models" in banner and f"http://127.0.0.1:{port}/openai" in banner
        assert "serve-test-key" not in banner  # a key the user chose is never echoed
        url = f"http://127.0.0.1:{port}/models/info?api-version=2025-04-01"
        for _ in range(50):
            try:
                ok = httpx.get(url, headers={"api-key": "serve-test-key-0123456789"}, timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert ok.status_code == 200 and ok.json()["model_name"]
        assert httpx.get(url, timeout=2).status_code == 401
    finally:
        proc.terminate()
        proc.wait(timeout=10)
