"""Write ``tests/hostile_table.md``: each hostile implementation and cheat, the verdict of each of its properties, the
message, the seconds and whether anything of it was left alive (the README's isolation table). The cheats that would
kill or rewrite this process or the checkout if they were not stopped (``test_hostile.CLI_ONLY``) run end to end,
through ``composed-check`` on a copy of the suite.

    python tests/hostile_table.py          # ~1 min on 2 cores; one entry at a time
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def main() -> int:
    from properties.harness.profiles import register_profiles

    register_profiles()
    import test_hostile as T

    rows = ["| implementation | what it does | verdict (per property) and message | seconds | left alive |",
            "|---|---|---|---:|---:|"]
    import test_cheats

    entries = [(kind, name, False) for kind, name in T.ALL] + [("cheats", name, True) for name in T.CLI_ONLY]
    for kind, name, end_to_end in entries:
        if end_to_end:  # through composed-check, on a copy of the suite
            result = test_cheats.cli_check(name)
            outcomes = result["outcomes"]
        else:
            result = T._check(kind, name)
            outcomes = {pid: (o.kind, o.message) for pid, o in result["outcomes"].items()}
        doc = (T._path(kind, name).read_text().split('"""')[1].strip().split("\n\n")[0]).replace("\n", " ")
        verdicts = ", ".join(f"{pid}: {kind_}" for pid, (kind_, _) in outcomes.items())
        if end_to_end:
            verdicts += f" (composed-check exit {result['returncode']})"
        messages = [m.splitlines()[0] for k, m in outcomes.values() if k != "passed" and m]
        message = f"`{messages[0][:150]}`" if messages else ""
        rows.append(f"| `{kind}/{name}.py` | {doc[:160]} | {verdicts}<br>{message} | {result['seconds']:.1f} | "
                    f"{len(result['left'])} |")
        print(rows[-1], flush=True)
    (HERE / "hostile_table.md").write_text("\n".join(rows) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
