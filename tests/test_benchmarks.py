"""benchmarks/RESULTS.md stays what `python -m benchmarks SCRIPT` can update piecewise."""

import re

from benchmarks.__main__ import GPU_SCRIPTS, SCRIPTS, previous_results


def test_every_log_section_of_results_md_is_closed():
    """Each script's log is one fenced section: a missing closing fence (a hand edit) would make
    the next script's header part of this log, and the next run would drop or mangle it."""
    header = re.compile(rf"^## ({'|'.join(map(re.escape, SCRIPTS + GPU_SCRIPTS))}) \(exit", re.M)
    for script, (_, log) in previous_results().items():
        if log:
            assert [m.group(1) for m in header.finditer(log)] == [script], script
