#!/usr/bin/env python3
"""Execute the project's notebooks headless with a real Jupyter and the evcxr kernel.

    scripts/notebooks.py run     # execute every notebook; fail on a cell error or a blown budget
    scripts/notebooks.py write   # the same, then save the outputs into notebooks/*.ipynb
    scripts/notebooks.py check   # no kernel: fail if a committed notebook is stale or has errors

A committed notebook carries, in its metadata, a fingerprint of its code cells and of the
crate's sources (src/, Cargo.toml, Cargo.lock) at the time it was executed. `check` recomputes
it: a different value means the outputs on GitHub no longer come from this code.

Budgets: every cell must finish within CELL_TIMEOUT seconds and each notebook within the
`budget_s` in its metadata (`autoencoders.budget_s`), which may not exceed MAX_BUDGET_S (3
minutes on 2 cores: with ten notebooks that keeps their part of CI near half an hour). The
dependency build that the first `:dep` line triggers is done once beforehand (`warm-up`) and timed separately, because it is a
one-time cost of the machine, not of a notebook.
"""
import hashlib
import json
import os
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
TESTS = sorted((ROOT / "tests" / "notebooks").glob("*.ipynb"))
CELL_TIMEOUT = int(os.environ.get("NOTEBOOK_CELL_TIMEOUT", "120"))
MAX_BUDGET_S = 180
WARMUP_TIMEOUT = 3600
KERNEL = "rust"
MAX_STREAM_LINES = 100


def fingerprint(nb) -> str:
    """Hash of the notebook's code and of everything in the crate that can change its outputs."""
    h = hashlib.sha256()
    for cell in nb.cells:
        if cell.cell_type == "code":
            h.update(cell.source.encode())
            h.update(b"\0")
    files = sorted((ROOT / "src").rglob("*.rs")) + [ROOT / "Cargo.toml", ROOT / "Cargo.lock"]
    for f in files:
        h.update(str(f.relative_to(ROOT)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def dep_cells(nb):
    """The leading cells that only hold evcxr commands (`:dep`, `:opt`…): the build set-up."""
    out = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        lines = [l for l in cell.source.splitlines() if l.strip() and not l.strip().startswith("//")]
        if lines and all(l.strip().startswith(":") for l in lines):
            out.append(cell)
        else:
            break
    return out


def pin_dependencies(cell, **_):
    """Before a `:dep` cell: puts the repository's Cargo.lock into evcxr's build folder, so the
    kernel builds the very versions `cargo test` built (and finds them compiled). It must be
    now, not before the kernel starts: evcxr's start-up build, of a crate with no dependency
    yet, prunes the lock to that bare crate, and the first `:dep` then resolved every
    dependency afresh — newer patch releases (zerocopy, clap, hyper …) than Cargo.lock, so the
    kernel compiled most of the tree a second time (warm-up 520 s against 84 s). The kernel
    answers only after that build, so this runs after it."""
    folder = os.environ.get("EVCXR_TMPDIR")
    if folder and cell.source.lstrip().startswith(":dep"):
        shutil.copyfile(ROOT / "Cargo.lock", Path(folder) / "Cargo.lock")


def execute(nb, path: Path, cell_timeout: int):
    from nbclient import NotebookClient

    client = NotebookClient(
        nb,
        timeout=cell_timeout,
        kernel_name=KERNEL,
        resources={"metadata": {"path": str(path.parent)}},
        record_timing=True,
        on_cell_execute=pin_dependencies,
    )
    start = time.monotonic()
    client.execute()
    return time.monotonic() - start


def cell_seconds(cell) -> float:
    from datetime import datetime

    t = cell.get("metadata", {}).get("execution", {})
    a, b = t.get("iopub.execute_input"), t.get("shell.execute_reply")
    if not a or not b:
        return 0.0
    f = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00"))
    return (f(b) - f(a)).total_seconds()


def errors(nb):
    """Error outputs, and evcxr's compile errors, which it prints to stderr in a stream."""
    found = []
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                found.append(f"cell {i}: {out.get('ename')}: {out.get('evalue')}")
            elif out.get("output_type") == "stream" and "panicked at" in out.get("text", ""):
                found.append(f"cell {i}: panic: {out['text'][:300]}")
            elif out.get("output_type") == "stream" and out.get("text", "").count("\n") > MAX_STREAM_LINES:
                found.append(f"cell {i} printed {out['text'].count(chr(10))} lines (progress output flooding the cell?)")
    return found


def warm_up(nb, path):
    """Builds the dependency set of `nb` once (`:dep` cells only), so later timings are the
    notebooks' own."""
    import nbformat

    cells = dep_cells(nb)
    if not cells:
        return 0.0
    warm = nbformat.v4.new_notebook(metadata=nb.metadata, cells=[nbformat.v4.new_code_cell(c.source) for c in cells])
    secs = execute(warm, path, WARMUP_TIMEOUT)
    print(f"warm-up (dependency build for {path.name}): {secs:.0f} s", flush=True)
    return secs


def run(write: bool) -> int:
    import nbformat

    report, failed = [], False
    warmed = False
    only = os.environ.get("NOTEBOOKS_ONLY", "")  # e.g. "02": run just the notebooks whose name contains it
    for path in [p for p in NOTEBOOKS + TESTS if only in p.name]:
        nb = nbformat.read(path, as_version=4)
        if not warmed:
            report.append({"notebook": "warm-up", "seconds": round(warm_up(nb, path), 1)})
            warmed = True
        budget = nb.metadata.get("autoencoders", {}).get("budget_s", MAX_BUDGET_S)
        print(f"executing {path.relative_to(ROOT)} (budget {budget} s, {CELL_TIMEOUT} s a cell)", flush=True)
        try:
            secs = execute(nb, path, CELL_TIMEOUT)
        except Exception as e:  # a cell error, a timeout or a dead kernel: all fail the run
            print(f"FAILED {path.relative_to(ROOT)}: {type(e).__name__}: {str(e)[-2000:]}", flush=True)
            kept = ROOT / "target" / "notebooks" / "failed" / path.name
            kept.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, kept)  # with every output up to the failing cell, to read
            print(f"  the executed notebook, up to the failure: {kept.relative_to(ROOT)}", flush=True)
            for p in errors(nb):
                print(f"  PROBLEM: {p}", flush=True)
            failed = True
            continue
        slowest = max((cell_seconds(c), i) for i, c in enumerate(nb.cells) if c.cell_type == "code")
        problems = errors(nb)
        if budget > MAX_BUDGET_S:
            problems.append(f"its budget_s of {budget} s is over the project's limit of {MAX_BUDGET_S} s")
        if secs > budget:
            problems.append(f"took {secs:.0f} s, over its budget of {budget} s")
        report.append(
            {"notebook": str(path.relative_to(ROOT)), "seconds": round(secs, 1),
             "slowest_cell": slowest[1], "slowest_cell_s": round(slowest[0], 1)}
        )
        print(f"  {secs:.0f} s; slowest cell #{slowest[1]}: {slowest[0]:.0f} s", flush=True)
        for p in problems:
            print(f"  PROBLEM: {p}", flush=True)
        if problems:  # kept to read, with every cell's timing in its metadata
            kept = ROOT / "target" / "notebooks" / "failed" / path.name
            kept.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, kept)
            print(f"  the executed notebook: {kept.relative_to(ROOT)}", flush=True)
        failed |= bool(problems)
        if write and not problems and path in NOTEBOOKS:
            nb.metadata.setdefault("autoencoders", {})["fingerprint"] = fingerprint(nb)
            nbformat.write(nb, path)
            print(f"  wrote {path.relative_to(ROOT)}", flush=True)
    out = ROOT / "target" / "notebooks" / "report.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1))
    print(json.dumps(report, indent=1))
    return 1 if failed else 0


def read_plain(path: Path) -> dict:
    """A notebook as plain JSON, with each cell's multi-line fields joined into one string (as
    nbformat does), so `check` runs on the standard library alone."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    for cell in nb.get("cells", []):
        if isinstance(cell.get("source"), list):
            cell["source"] = "".join(cell["source"])
        for out in cell.get("outputs", []):
            if isinstance(out.get("text"), list):
                out["text"] = "".join(out["text"])
    return Plain(nb)


class Plain(dict):
    """Attribute access (`nb.cells`, `cell.source`) over a JSON notebook, like nbformat's."""

    def __getattr__(self, name):
        try:
            value = self[name]
        except KeyError:
            raise AttributeError(name) from None
        return Plain(value) if isinstance(value, dict) else (
            [Plain(v) if isinstance(v, dict) else v for v in value] if isinstance(value, list) else value)


def check() -> int:
    """Standard library only (scripts/notebooks.sh runs it with `python3 -I -S`)."""
    bad = []
    for path in NOTEBOOKS:
        nb = read_plain(path)
        name = path.relative_to(ROOT)
        stamp = nb.get("metadata", {}).get("autoencoders", {}).get("fingerprint")
        if stamp != fingerprint(nb):
            bad.append(f"{name} is stale: its outputs were not produced by the current code "
                       f"(fingerprint {stamp} ≠ {fingerprint(nb)}); run `scripts/notebooks.sh write`")
        unrun = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.get("execution_count") is None]
        if unrun:
            bad.append(f"{name}: code cells {unrun} have not been executed")
        bad += [f"{name}: {e}" for e in errors(nb)]
    for b in bad:
        print("STALE NOTEBOOK: " + b, file=sys.stderr)
    if not bad:
        print(f"{len(NOTEBOOKS)} committed notebooks are current and error-free")
    return 1 if bad else 0


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else "run"
    sys.exit({"run": lambda: run(False), "write": lambda: run(True), "check": check}[cmd]())
