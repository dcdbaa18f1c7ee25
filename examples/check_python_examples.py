"""CI check of the Python examples, which cannot run here (neither Airflow nor PySpark can be installed):
each file is byte-compiled (python3 -m py_compile) and each code cell of each Python notebook is compiled, so a
syntax error fails CI. Prints one line per file and a count; exits 1 on any failure."""

import json
import pathlib
import py_compile
import sys
import tempfile

root = pathlib.Path(__file__).resolve().parent
passed = failed = 0
for path in sorted(root.rglob("*.py")):
    try:
        with tempfile.TemporaryDirectory() as tmp:  # the .pyc goes there, not into the source tree
            py_compile.compile(str(path), cfile=f"{tmp}/x.pyc", doraise=True)
        print(f"ok   {path.relative_to(root.parent)}")
        passed += 1
    except py_compile.PyCompileError as e:
        print(f"FAIL {path.relative_to(root.parent)}: {e.msg}")
        failed += 1
for path in sorted(root.rglob("*.ipynb")):
    nb = json.loads(path.read_text(encoding="utf-8"))
    if nb["metadata"]["kernelspec"].get("language") != "python":
        continue
    bad = 0
    cells = [c for c in nb["cells"] if c["cell_type"] == "code"]
    for i, cell in enumerate(cells):
        try:
            compile("".join(cell["source"]), f"{path.name}[code cell {i + 1}]", "exec")
        except SyntaxError as e:
            print(f"FAIL {path.relative_to(root.parent)} code cell {i + 1}: {e}")
            bad += 1
    if not bad:
        print(f"ok   {path.relative_to(root.parent)} ({len(cells)} code cells)")
    passed, failed = passed + (bad == 0), failed + (bad > 0)
print(f"python examples: {passed} compiled, {failed} with errors")
sys.exit(1 if failed else 0)
