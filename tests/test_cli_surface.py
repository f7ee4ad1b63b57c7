"""The command line's own surface: --version, every command's --help, and a light start-up."""

from __future__ import annotations

import json

import i2i


def test_version_flag_and_info_json_name_the_version(cli):
    r = cli("--version")
    assert r.returncode == 0 and r.stdout.decode() == f"i2i {i2i.__version__}\n", r.stderr
    r = cli("info", "upscale-x2", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["version"] == i2i.__version__
