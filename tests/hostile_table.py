"""Write ``tests/hostile_table.md``: each hostile implementation and cheat, the verdict of each of its properties, the
message, the seconds and whether anything of it was left alive (the README's isolation table).

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
    for kind, name in T.ALL:
        result = T._check(kind, name)
        doc = (T._path(kind, name).read_text().split('"""')[1].strip().split("\n\n")[0]).replace("\n", " ")
        verdicts = ", ".join(f"{pid}: {o.kind}" for pid, o in result["outcomes"].items())
        messages = [o.message.splitlines()[0] for o in result["outcomes"].values() if o.kind != "passed"]
        message = f"`{messages[0][:150]}`" if messages else ""
        rows.append(f"| `{kind}/{name}.py` | {doc[:160]} | {verdicts}<br>{message} | {result['seconds']:.1f} | "
                    f"{len(result['left'])} |")
        print(rows[-1], flush=True)
    (HERE / "hostile_table.md").write_text("\n".join(rows) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
